//! New York exchange sessions.
//!
//! All clock rules are in America/New_York wall-clock time (DST-correct through `chrono-tz`):
//! pre-market `[04:00, 09:30)`, regular `[09:30, 16:00)`, after-hours `[16:00, 20:00)`, closed otherwise and
//! all weekend. Intervals are half-open: a bar **starting** at 16:00 belongs to after-hours.
//!
//! There is no exchange holiday calendar here: a holiday is a weekday on which no bars exist, and early closes
//! (13:00) are treated like full days. Code that needs to know whether a day traded looks at the bars.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The exchange time zone.
pub const NEW_YORK: Tz = chrono_tz::America::New_York;

/// Pre-market opens, New York time.
pub const PRE_MARKET_OPEN: NaiveTime = hm(4, 0);
/// Regular session opens, New York time.
pub const REGULAR_OPEN: NaiveTime = hm(9, 30);
/// Regular session closes (exclusive), New York time.
pub const REGULAR_CLOSE: NaiveTime = hm(16, 0);
/// After-hours close (exclusive), New York time.
pub const AFTER_HOURS_CLOSE: NaiveTime = hm(20, 0);

/// Minutes in a full regular session.
pub const REGULAR_MINUTES: u32 = 390;

const fn hm(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

/// Which part of the trading day an instant falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    /// `[04:00, 09:30)` New York, weekdays.
    PreMarket,
    /// `[09:30, 16:00)` New York, weekdays.
    Regular,
    /// `[16:00, 20:00)` New York, weekdays.
    AfterHours,
    /// Any other time, and weekends.
    Closed,
}

/// Which bars to keep when resampling and aligning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionFilter {
    /// Regular session only, `[09:30, 16:00)` New York (the default).
    #[default]
    Regular,
    /// Pre-market, regular and after-hours, `[04:00, 20:00)` New York.
    Extended,
}

impl SessionFilter {
    /// Whether an instant (normally a 1-minute bar's start) is kept by this filter.
    pub fn contains(self, t: DateTime<Utc>) -> bool {
        match (self, session_at(t)) {
            (_, Session::Closed) => false,
            (SessionFilter::Regular, s) => s == Session::Regular,
            (SessionFilter::Extended, _) => true,
        }
    }
}

impl std::str::FromStr for SessionFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "regular" | "rth" => Ok(SessionFilter::Regular),
            "extended" | "eth" | "all" => Ok(SessionFilter::Extended),
            _ => Err(format!("unknown session filter `{s}`: use `regular` or `extended`")),
        }
    }
}

/// The session an instant falls in, by the New York clock.
pub fn session_at(t: DateTime<Utc>) -> Session {
    let local = t.with_timezone(&NEW_YORK);
    if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
        return Session::Closed;
    }
    let time = local.time();
    if time < PRE_MARKET_OPEN {
        Session::Closed
    } else if time < REGULAR_OPEN {
        Session::PreMarket
    } else if time < REGULAR_CLOSE {
        Session::Regular
    } else if time < AFTER_HOURS_CLOSE {
        Session::AfterHours
    } else {
        Session::Closed
    }
}

/// The New York calendar date of an instant: the trading day a bar starting at `t` belongs to.
pub fn trading_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&NEW_YORK).date_naive()
}

/// Minutes since New York midnight of an instant (0..1440; 23 or 25 hours on DST days are not special-cased
/// because sessions never touch 02:00).
pub fn ny_minute_of_day(t: DateTime<Utc>) -> u32 {
    let local = t.with_timezone(&NEW_YORK);
    local.hour() * 60 + local.minute()
}

/// The UTC instant of a New York wall-clock time on `day`.
///
/// Session times (04:00–20:00) are never ambiguous or skipped; for the DST hour the earlier instant is taken,
/// and a skipped time is read as if the switch had not happened yet (EST), instead of failing.
pub fn ny_local_to_utc(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = day.and_time(time);
    match NEW_YORK.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => Utc.from_utc_datetime(&(naive + chrono::Duration::hours(5))),
    }
}

/// Regular-session open (09:30 New York) of a day, in UTC.
pub fn regular_open(day: NaiveDate) -> DateTime<Utc> {
    ny_local_to_utc(day, REGULAR_OPEN)
}

/// Regular-session close (16:00 New York) of a day, in UTC.
pub fn regular_close(day: NaiveDate) -> DateTime<Utc> {
    ny_local_to_utc(day, REGULAR_CLOSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn regular_session_is_half_open_in_winter() {
        // 2011-01-03 is EST (UTC-5): regular = 14:30..21:00 UTC.
        assert_eq!(session_at(utc(2011, 1, 3, 14, 29)), Session::PreMarket);
        assert_eq!(session_at(utc(2011, 1, 3, 14, 30)), Session::Regular);
        assert_eq!(session_at(utc(2011, 1, 3, 20, 59)), Session::Regular);
        assert_eq!(session_at(utc(2011, 1, 3, 21, 0)), Session::AfterHours);
        assert_eq!(session_at(utc(2011, 1, 4, 1, 0)), Session::Closed);
        assert_eq!(session_at(utc(2011, 1, 3, 8, 59)), Session::Closed);
        assert_eq!(session_at(utc(2011, 1, 3, 9, 0)), Session::PreMarket);
    }

    #[test]
    fn dst_march_switch_moves_the_open_in_utc() {
        // Friday 2011-03-11 is EST; Monday 2011-03-14 is EDT (switch on Sunday 2011-03-13 02:00).
        assert_eq!(regular_open(NaiveDate::from_ymd_opt(2011, 3, 11).unwrap()), utc(2011, 3, 11, 14, 30));
        assert_eq!(regular_open(NaiveDate::from_ymd_opt(2011, 3, 14).unwrap()), utc(2011, 3, 14, 13, 30));
        assert_eq!(session_at(utc(2011, 3, 14, 13, 30)), Session::Regular);
        assert_eq!(session_at(utc(2011, 3, 11, 13, 30)), Session::PreMarket);
        assert_eq!(session_at(utc(2011, 3, 13, 15, 0)), Session::Closed, "Sunday");
    }

    #[test]
    fn dst_november_switch_moves_the_close_in_utc() {
        // Friday 2011-11-04 is EDT; Monday 2011-11-07 is EST (switch on Sunday 2011-11-06 02:00).
        assert_eq!(regular_close(NaiveDate::from_ymd_opt(2011, 11, 4).unwrap()), utc(2011, 11, 4, 20, 0));
        assert_eq!(regular_close(NaiveDate::from_ymd_opt(2011, 11, 7).unwrap()), utc(2011, 11, 7, 21, 0));
        assert_eq!(session_at(utc(2011, 11, 7, 20, 30)), Session::Regular);
        assert_eq!(session_at(utc(2011, 11, 4, 20, 30)), Session::AfterHours);
    }

    #[test]
    fn trading_day_uses_new_york_date() {
        // 2011-01-04 01:00 UTC is 2011-01-03 20:00 New York.
        assert_eq!(trading_day(utc(2011, 1, 4, 1, 0)), NaiveDate::from_ymd_opt(2011, 1, 3).unwrap());
        assert_eq!(trading_day(utc(2011, 1, 4, 5, 0)), NaiveDate::from_ymd_opt(2011, 1, 4).unwrap());
    }

    #[test]
    fn filter_contains() {
        assert!(SessionFilter::Regular.contains(utc(2011, 1, 3, 14, 30)));
        assert!(!SessionFilter::Regular.contains(utc(2011, 1, 3, 21, 0)));
        assert!(SessionFilter::Extended.contains(utc(2011, 1, 3, 21, 0)));
        assert!(!SessionFilter::Extended.contains(utc(2011, 1, 4, 1, 0)));
        assert!("weird".parse::<SessionFilter>().is_err());
    }
}
