//! Bar sizes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::session::{self, SessionFilter};

/// A bar size. Intraday sizes are bucketed on the New York clock; `D1` is the New York trading day; `W1` the
/// week from Monday (New York calendar) and `MN1` the calendar month.
///
/// `Display` renders Alpaca's string (`5Min`, `1Hour`, `1Day`, `1Week`, `1Month`); [`Timeframe::short`] gives
/// the dashboard form (`5m`, `1h`, `1d`, `1w`, `1mo`), which is also the serde form. `FromStr` accepts both and
/// common variants (`5min`, `60Min`, `1H`, `day`, `week`, `month`), case-insensitively — so `1M` is one
/// minute, never a month (write `1mo` or `1Month`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Timeframe {
    /// 1 minute.
    M1,
    /// 5 minutes.
    M5,
    /// 10 minutes.
    M10,
    /// 15 minutes.
    M15,
    /// 30 minutes.
    M30,
    /// 1 hour, starting on the New York hour.
    H1,
    /// 4 hours, starting at 00/04/08/12/16/20 New York time.
    H4,
    /// One New York trading day, stamped at New York midnight (as Alpaca stamps daily bars).
    D1,
    /// One week, Monday to Friday on the New York calendar, stamped at New York midnight of its Monday.
    W1,
    /// One calendar month (New York), stamped at New York midnight of its first day.
    MN1,
}

/// A timeframe string that is not one of the supported sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown timeframe `{input}`: supported are 1m, 5m, 10m, 15m, 30m, 1h, 4h, 1d, 1w, 1mo (or Alpaca's 1Min … 1Day, 1Week, 1Month)"
)]
pub struct TimeframeError {
    /// The rejected input.
    pub input: String,
}

impl Timeframe {
    /// All supported timeframes, finest first.
    pub const ALL: [Timeframe; 10] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M10,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
        Timeframe::W1,
        Timeframe::MN1,
    ];

    /// The sizes up to a day (the ones one-minute bars are commonly resampled to), finest first.
    pub const UP_TO_DAY: &'static [Timeframe] = Timeframe::ALL.split_at(8).0;

    /// Nominal length in minutes (1440 for `D1`, 7 days for `W1`, 30 days for `MN1`; the real span of a day,
    /// week or month depends on the session and the calendar). Only a label for coarse sizes: bucketing uses
    /// [`Timeframe::bucket_start_ms`].
    pub const fn minutes(self) -> i64 {
        match self {
            Timeframe::M1 => 1,
            Timeframe::M5 => 5,
            Timeframe::M10 => 10,
            Timeframe::M15 => 15,
            Timeframe::M30 => 30,
            Timeframe::H1 => 60,
            Timeframe::H4 => 240,
            Timeframe::D1 => 1440,
            Timeframe::W1 => 7 * 1440,
            Timeframe::MN1 => 30 * 1440,
        }
    }

    /// Whether the timeframe is shorter than a day.
    pub const fn is_intraday(self) -> bool {
        !matches!(self, Timeframe::D1 | Timeframe::W1 | Timeframe::MN1)
    }

    /// Alpaca's string: `1Min`, `5Min`, `10Min`, `15Min`, `30Min`, `1Hour`, `4Hour`, `1Day`, `1Week`, `1Month`.
    pub const fn alpaca(self) -> &'static str {
        match self {
            Timeframe::M1 => "1Min",
            Timeframe::M5 => "5Min",
            Timeframe::M10 => "10Min",
            Timeframe::M15 => "15Min",
            Timeframe::M30 => "30Min",
            Timeframe::H1 => "1Hour",
            Timeframe::H4 => "4Hour",
            Timeframe::D1 => "1Day",
            Timeframe::W1 => "1Week",
            Timeframe::MN1 => "1Month",
        }
    }

    /// The dashboard's short form: `1m`, `5m`, `10m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo`.
    pub const fn short(self) -> &'static str {
        match self {
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M10 => "10m",
            Timeframe::M15 => "15m",
            Timeframe::M30 => "30m",
            Timeframe::H1 => "1h",
            Timeframe::H4 => "4h",
            Timeframe::D1 => "1d",
            Timeframe::W1 => "1w",
            Timeframe::MN1 => "1mo",
        }
    }

    /// Start of the bucket that contains instant `t`.
    ///
    /// Up to one hour, buckets are multiples of the size on the New York clock; since New York's UTC offset
    /// is a whole number of hours, that equals flooring the UTC epoch. `H4` buckets start at 00/04/08/12/16/20
    /// New York wall-clock time (so their UTC start moves with DST, like Alpaca's). `D1` buckets start at New
    /// York midnight of the trading day, `W1` at New York midnight of the week's Monday, `MN1` of the month's
    /// first day.
    pub fn bucket_start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let ms = t.timestamp_millis();
        DateTime::from_timestamp_millis(self.bucket_start_ms(ms)).unwrap_or(t)
    }

    /// [`Timeframe::bucket_start`] on milliseconds since the epoch (UTC), without calendar conversions.
    #[inline]
    pub fn bucket_start_ms(self, ms: i64) -> i64 {
        match self {
            Timeframe::H4 | Timeframe::D1 => {
                let local = session::ny_local_secs(ms.div_euclid(1000));
                let day = local - local.rem_euclid(86_400);
                // Hours 0, 4, …, 20 never fall in a DST gap or overlap (switches happen at 02:00 local).
                let hours = if self == Timeframe::H4 { (local - day) / 3600 / 4 * 4 } else { 0 };
                session::ny_utc_secs(day + hours * 3600) * 1000
            }
            Timeframe::W1 | Timeframe::MN1 => {
                let day = session::ny_local_secs(ms.div_euclid(1000)).div_euclid(86_400);
                let first = if self == Timeframe::W1 { monday_of(day) } else { first_of_month(day) };
                session::ny_utc_secs(first * 86_400) * 1000
            }
            _ => {
                let step = self.minutes() * 60_000;
                ms - ms.rem_euclid(step)
            }
        }
    }

    /// End of the bar that starts at `start` (exclusive): the instant from which the bar is complete and usable.
    ///
    /// Intraday bars end one bucket later on the New York clock (an `H4` bucket spanning a DST switch is 3 or 5
    /// real hours long). A `D1` bar ends at the close of the session the filter keeps: 16:00 New York for
    /// [`SessionFilter::Regular`], 20:00 for [`SessionFilter::Extended`]; a `W1` bar at that close on its Friday,
    /// an `MN1` bar on the month's last weekday. Early closes and holidays are treated like full trading days,
    /// which can only delay — never advance — when a bar counts as complete.
    pub fn bar_end(self, start: DateTime<Utc>, filter: SessionFilter) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.bar_end_ms(start.timestamp_millis(), filter)).unwrap_or(start)
    }

    /// [`Timeframe::bar_end`] on milliseconds since the epoch (UTC).
    #[inline]
    pub fn bar_end_ms(self, start_ms: i64, filter: SessionFilter) -> i64 {
        match self {
            Timeframe::H4 | Timeframe::D1 => {
                let local = session::ny_local_secs(start_ms.div_euclid(1000));
                let day = local - local.rem_euclid(86_400);
                let end_local = if self == Timeframe::H4 {
                    local + 4 * 3600
                } else {
                    let close = match filter {
                        SessionFilter::Regular => 16,
                        SessionFilter::Extended => 20,
                    };
                    day + close * 3600
                };
                session::ny_utc_secs(end_local) * 1000
            }
            Timeframe::W1 | Timeframe::MN1 => {
                let day = session::ny_local_secs(start_ms.div_euclid(1000)).div_euclid(86_400);
                let last = if self == Timeframe::W1 { monday_of(day) + 4 } else { last_weekday_of_month(day) };
                let close = match filter {
                    SessionFilter::Regular => 16,
                    SessionFilter::Extended => 20,
                };
                session::ny_utc_secs(last * 86_400 + close * 3600) * 1000
            }
            _ => start_ms + self.minutes() * 60_000,
        }
    }
}

/// The Monday of the week holding `day` (days since 1970-01-01, a Thursday).
const fn monday_of(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

fn date_of_day(day: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(day * 86_400, 0).map(|t| t.date_naive()).unwrap_or_default()
}

fn day_of_date(d: chrono::NaiveDate) -> i64 {
    d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp().div_euclid(86_400)
}

/// The first day of the month holding `day`.
fn first_of_month(day: i64) -> i64 {
    use chrono::Datelike;
    let d = date_of_day(day);
    day - i64::from(d.day0())
}

/// The last Monday–Friday of the month holding `day`.
fn last_weekday_of_month(day: i64) -> i64 {
    use chrono::Datelike;
    let d = date_of_day(day);
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    let next_first = chrono::NaiveDate::from_ymd_opt(y, m, 1).map_or(day + 31, day_of_date);
    let mut last = next_first - 1;
    while (last + 3).rem_euclid(7) >= 5 {
        last -= 1; // Saturday (5) or Sunday (6) → back to Friday
    }
    last
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpaca())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || TimeframeError { input: input.to_string() };
        let s = input.trim().to_ascii_lowercase();
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(digits_end);
        let n: i64 = if num.is_empty() { 1 } else { num.parse().map_err(|_| err())? };
        let unit_minutes = match unit {
            "m" | "min" | "mins" | "minute" | "minutes" | "t" => 1,
            "h" | "hr" | "hour" | "hours" => 60,
            "d" | "day" | "days" => 1440,
            "w" | "wk" | "week" | "weeks" => 7 * 1440,
            "mo" | "mon" | "month" | "months" => 30 * 1440,
            _ => return Err(err()),
        };
        let minutes = n.checked_mul(unit_minutes).ok_or_else(err)?;
        Timeframe::ALL.into_iter().find(|tf| tf.minutes() == minutes).ok_or_else(err)
    }
}

impl From<Timeframe> for String {
    fn from(tf: Timeframe) -> String {
        tf.short().to_string()
    }
}

impl TryFrom<String> for Timeframe {
    type Error = TimeframeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        for (s, tf) in [
            ("1m", Timeframe::M1),
            ("1Min", Timeframe::M1),
            ("5m", Timeframe::M5),
            ("5Min", Timeframe::M5),
            ("10min", Timeframe::M10),
            ("15Min", Timeframe::M15),
            ("30m", Timeframe::M30),
            ("60Min", Timeframe::H1),
            ("1Hour", Timeframe::H1),
            ("1h", Timeframe::H1),
            ("4Hour", Timeframe::H4),
            ("240Min", Timeframe::H4),
            ("1Day", Timeframe::D1),
            ("1d", Timeframe::D1),
            ("day", Timeframe::D1),
            ("1Week", Timeframe::W1),
            ("1w", Timeframe::W1),
            ("week", Timeframe::W1),
            ("1Month", Timeframe::MN1),
            ("1mo", Timeframe::MN1),
            ("month", Timeframe::MN1),
            ("1M", Timeframe::M1),
        ] {
            assert_eq!(s.parse::<Timeframe>().unwrap(), tf, "{s}");
        }
    }

    #[test]
    fn unknown_timeframe_is_a_clear_error() {
        for s in ["7Min", "", "2Week", "abc", "99999999999999999999m", "2d", "3mo"] {
            let e = s.parse::<Timeframe>().unwrap_err();
            assert!(e.to_string().contains("unknown timeframe"), "{e}");
        }
    }

    #[test]
    fn up_to_day_ends_with_the_day() {
        assert_eq!(Timeframe::UP_TO_DAY.last(), Some(&Timeframe::D1));
        assert!(Timeframe::UP_TO_DAY.iter().all(|t| t.minutes() <= 1440));
    }

    #[test]
    fn display_is_alpaca_and_round_trips() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
            assert_eq!(tf.short().parse::<Timeframe>().unwrap(), tf);
        }
        assert_eq!(Timeframe::H1.to_string(), "1Hour");
        assert_eq!(serde_json::to_string(&Timeframe::M15).unwrap(), "\"15m\"");
        assert_eq!(serde_json::from_str::<Timeframe>("\"15Min\"").unwrap(), Timeframe::M15);
        assert_eq!(serde_json::to_string(&Timeframe::MN1).unwrap(), "\"1mo\"");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_new_york_midnight() {
        // Wednesday 2024-03-13 15:00 New York (EDT since 03-10): the week began Monday 03-11 00:00 EDT (04:00Z).
        let t = utc("2024-03-13T19:00:00Z");
        assert_eq!(Timeframe::W1.bucket_start(t), utc("2024-03-11T04:00:00Z"));
        // The month began 03-01 00:00 EST (05:00Z): before the DST switch.
        assert_eq!(Timeframe::MN1.bucket_start(t), utc("2024-03-01T05:00:00Z"));
        // A Sunday belongs to the week of the Monday before it; New York's Sunday evening is Monday in UTC.
        assert_eq!(Timeframe::W1.bucket_start(utc("2024-03-18T02:00:00Z")), utc("2024-03-11T04:00:00Z"));
        // New Year's Eve 2023 19:30 New York is 2024 in UTC but December in New York.
        assert_eq!(Timeframe::MN1.bucket_start(utc("2024-01-01T00:30:00Z")), utc("2023-12-01T05:00:00Z"));
        // Weeks across a year boundary: Monday 2024-12-30.
        assert_eq!(Timeframe::W1.bucket_start(utc("2025-01-02T15:00:00Z")), utc("2024-12-30T05:00:00Z"));
    }

    #[test]
    fn weeks_end_at_fridays_close_and_months_at_the_last_weekdays_close() {
        let f = SessionFilter::Regular;
        assert_eq!(Timeframe::W1.bar_end(utc("2024-03-11T04:00:00Z"), f), utc("2024-03-15T20:00:00Z"));
        assert_eq!(
            Timeframe::W1.bar_end(utc("2024-03-11T04:00:00Z"), SessionFilter::Extended),
            utc("2024-03-16T00:00:00Z")
        );
        // March 2024 ends on a Sunday: the last weekday is Friday the 29th (EDT).
        assert_eq!(Timeframe::MN1.bar_end(utc("2024-03-01T05:00:00Z"), f), utc("2024-03-29T20:00:00Z"));
        // February 2024 (leap year) ends on Thursday the 29th (EST).
        assert_eq!(Timeframe::MN1.bar_end(utc("2024-02-01T05:00:00Z"), f), utc("2024-02-29T21:00:00Z"));
        // December: the next month is January of the next year.
        assert_eq!(Timeframe::MN1.bar_end(utc("2023-12-01T05:00:00Z"), f), utc("2023-12-29T21:00:00Z"));
        // Every instant of a bucket lies before its end, and the end is after the bucket's last weekday start.
        for tf in [Timeframe::W1, Timeframe::MN1] {
            for h in (0..24 * 400).step_by(7) {
                let t = utc("2023-06-01T00:00:00Z") + chrono::Duration::hours(h);
                let start = tf.bucket_start(t);
                assert!(start <= t && tf.bucket_start(start) == start, "{tf} {t}");
                let end = tf.bar_end(start, f);
                let local_day = session::trading_day(t);
                use chrono::Datelike;
                if local_day.weekday().num_days_from_monday() < 5 {
                    assert!(t < end + chrono::Duration::hours(8), "{tf} {t} ends {end}");
                }
            }
        }
    }
}
