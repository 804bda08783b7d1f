//! New York exchange sessions.
//!
//! All clock rules are in America/New_York wall-clock time (DST-correct through `chrono-tz`):
//! pre-market `[04:00, 09:30)`, regular `[09:30, 16:00)`, after-hours `[16:00, 20:00)`, closed otherwise and
//! all weekend. Intervals are half-open: a bar **starting** at 16:00 belongs to after-hours.
//!
//! There is no exchange holiday calendar here: a holiday is a weekday on which no bars exist, and early closes
//! (13:00) are treated like full days. Code that needs to know whether a day traded looks at the bars.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
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

/// UTC instants (seconds) at which New York's offset changes, 1970–2100, with the offset (seconds east of UTC)
/// in force from each one. Built once from chrono-tz, so it follows the same tz database; lookups are a binary
/// search over ~260 entries instead of chrono-tz's per-call work (a 5–8× speed-up for per-bar session logic).
fn transitions() -> &'static [(i64, i32)] {
    static TABLE: std::sync::OnceLock<Vec<(i64, i32)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        use chrono::Offset;
        let offset_at = |secs: i64| -> i32 {
            DateTime::from_timestamp(secs, 0)
                .map_or(-5 * 3600, |t| NEW_YORK.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc())
        };
        let start = 0; // 1970-01-01
        let end = 4_133_980_800; // 2101-01-01
        let mut table = vec![(i64::MIN, offset_at(start))];
        // Offsets change at most a few times a year: step by 7 days and bisect each change to the second.
        let mut t = start;
        let mut current = offset_at(start);
        while t < end {
            let next = t + 7 * 86_400;
            let off = offset_at(next);
            if off != current {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(mid) == current { lo = mid } else { hi = mid }
                }
                table.push((hi, off));
                current = off;
            }
            t = next;
        }
        table
    })
}

thread_local! {
    /// The offset interval of the last lookup: `[from, to)` → offset. Bars arrive in time order, so almost every
    /// lookup hits it.
    static LAST: std::cell::Cell<(i64, i64, i64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

/// New York's offset from UTC (seconds, negative) at a UTC instant given in seconds since the epoch.
#[inline]
pub(crate) fn ny_offset(utc_secs: i64) -> i64 {
    let (from, to, off) = LAST.with(std::cell::Cell::get);
    if from <= utc_secs && utc_secs < to {
        return off;
    }
    let table = transitions();
    let i = table.partition_point(|&(from, _)| from <= utc_secs).saturating_sub(1);
    let to = table.get(i + 1).map_or(i64::MAX, |e| e.0);
    let off = i64::from(table[i].1);
    LAST.with(|c| c.set((table[i].0, to, off)));
    off
}

/// New York wall-clock seconds since 1970-01-01 00:00 (local) of a UTC instant in seconds.
#[inline]
pub fn ny_local_secs(utc_secs: i64) -> i64 {
    utc_secs + ny_offset(utc_secs)
}

/// The UTC instant (seconds) of New York wall-clock seconds `local_secs`. Exact outside the DST gap and
/// overlap hours; inside them (never a session boundary) the earlier / pre-switch reading is taken.
#[inline]
pub fn ny_utc_secs(local_secs: i64) -> i64 {
    // Guess with the offset in force 5 hours after (the EST reading), then confirm.
    let off = ny_offset(local_secs + 5 * 3600);
    let utc = local_secs - off;
    let check = ny_offset(utc);
    if check == off { utc } else { local_secs - check }
}

/// New York local time of an instant as (days since 1970-01-01 local, seconds since local midnight).
#[inline]
pub(crate) fn ny_local(t: DateTime<Utc>) -> (i64, i64) {
    let secs = t.timestamp();
    let local = secs + ny_offset(secs);
    (local.div_euclid(86_400), local.rem_euclid(86_400))
}

fn weekday_of(days: i64) -> Weekday {
    // 1970-01-01 was a Thursday.
    match (days + 3).rem_euclid(7) {
        0 => Weekday::Mon,
        1 => Weekday::Tue,
        2 => Weekday::Wed,
        3 => Weekday::Thu,
        4 => Weekday::Fri,
        5 => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

fn date_of(days: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days + 719_163).unwrap_or(i32::MAX)).unwrap_or(NaiveDate::MIN)
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
        self.contains_ms(t.timestamp_millis())
    }

    /// [`SessionFilter::contains`] for milliseconds since the epoch (UTC).
    #[inline]
    pub fn contains_ms(self, ms: i64) -> bool {
        match (self, session_at_ms(ms)) {
            (_, Session::Closed) => false,
            (SessionFilter::Regular, s) => s == Session::Regular,
            (SessionFilter::Extended, _) => true,
        }
    }
}

/// A session filter name that is neither `regular` nor `extended`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session filter `{0}`: use `regular` or `extended`")]
pub struct UnknownSessionFilter(pub String);

impl std::str::FromStr for SessionFilter {
    type Err = UnknownSessionFilter;
    fn from_str(s: &str) -> Result<Self, UnknownSessionFilter> {
        match s.to_ascii_lowercase().as_str() {
            "regular" | "rth" => Ok(SessionFilter::Regular),
            "extended" | "eth" | "all" => Ok(SessionFilter::Extended),
            _ => Err(UnknownSessionFilter(s.to_string())),
        }
    }
}

/// The session an instant falls in, by the New York clock.
pub fn session_at(t: DateTime<Utc>) -> Session {
    session_at_ms(t.timestamp_millis())
}

/// [`session_at`] for milliseconds since the epoch (UTC).
#[inline]
pub fn session_at_ms(ms: i64) -> Session {
    let local = ny_local_secs(ms.div_euclid(1000));
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    if matches!(weekday_of(days), Weekday::Sat | Weekday::Sun) {
        return Session::Closed;
    }
    let time =
        NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(secs).unwrap_or(0), 0).unwrap_or(NaiveTime::MIN);
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
    date_of(ny_local(t).0)
}

/// The New York trading day of an instant as days since 1970-01-01 (a cheap key for grouping by session).
pub fn trading_day_number(t: DateTime<Utc>) -> i64 {
    ny_local(t).0
}

/// [`trading_day_number`] for milliseconds since the epoch (UTC).
#[inline]
pub fn trading_day_number_ms(ms: i64) -> i64 {
    ny_local_secs(ms.div_euclid(1000)).div_euclid(86_400)
}

/// Minutes since New York midnight of an instant (0..1440; 23 or 25 hours on DST days are not special-cased
/// because sessions never touch 02:00).
pub fn ny_minute_of_day(t: DateTime<Utc>) -> u32 {
    u32::try_from(ny_local(t).1 / 60).unwrap_or(0)
}

/// The UTC instant of a New York wall-clock time on `day`.
///
/// Session times (04:00–20:00) are never ambiguous or skipped; for the DST hour the earlier instant is taken,
/// and a skipped time is read as if the switch had not happened yet (EST), instead of failing.
pub fn ny_local_to_utc(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = day.and_time(time);
    // Exact except inside the DST gap/overlap hours (01:00–03:00), which are left to chrono-tz.
    if !(3600..3 * 3600).contains(&time.num_seconds_from_midnight()) {
        return DateTime::from_timestamp(ny_utc_secs(naive.and_utc().timestamp()), 0).unwrap_or_default();
    }
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The offset table agrees with chrono-tz everywhere, including around DST switches.
        #[test]
        fn fast_clock_matches_chrono_tz(secs in 0i64..4_102_444_800, near_switch in proptest::bool::ANY, jitter in -7200i64..7200) {
            use chrono::Datelike;
            let secs = if near_switch {
                // Snap to a transition and look just around it.
                let table = transitions();
                let i = usize::try_from(secs % (table.len() as i64 - 1)).unwrap() + 1;
                table[i].0 + jitter
            } else { secs };
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let local = t.with_timezone(&NEW_YORK);
            proptest::prop_assert_eq!(trading_day(t), local.date_naive());
            proptest::prop_assert_eq!(ny_minute_of_day(t), local.hour() * 60 + local.minute());
            proptest::prop_assert_eq!(weekday_of(ny_local(t).0), local.weekday());
            let time = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second()).unwrap();
            let slow = match NEW_YORK.from_local_datetime(&local.date_naive().and_time(time)) {
                chrono::LocalResult::Single(x) | chrono::LocalResult::Ambiguous(x, _) => x.with_timezone(&Utc),
                chrono::LocalResult::None => unreachable!(),
            };
            proptest::prop_assert_eq!(ny_local_to_utc(local.date_naive(), time), slow);
        }
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
