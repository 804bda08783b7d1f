//! Bar sizes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::session::{self, SessionFilter};

/// A bar size. Intraday sizes are bucketed on the New York clock; `D1` is the New York trading day.
///
/// `Display` renders Alpaca's string (`5Min`, `1Hour`, `1Day`); [`Timeframe::short`] gives the dashboard form
/// (`5m`, `1h`, `1d`), which is also the serde form. `FromStr` accepts both and common variants
/// (`5min`, `60Min`, `1H`, `day`), case-insensitively.
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
}

/// A timeframe string that is not one of the supported sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe `{input}`: supported are 1m, 5m, 10m, 15m, 30m, 1h, 4h, 1d (or Alpaca's 1Min … 1Day)")]
pub struct TimeframeError {
    /// The rejected input.
    pub input: String,
}

impl Timeframe {
    /// All supported timeframes, finest first.
    pub const ALL: [Timeframe; 8] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M10,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
    ];

    /// Nominal length in minutes (1440 for `D1`; a trading day's real span depends on the session).
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
        }
    }

    /// Whether the timeframe is shorter than a day.
    pub const fn is_intraday(self) -> bool {
        !matches!(self, Timeframe::D1)
    }

    /// Alpaca's string: `1Min`, `5Min`, `10Min`, `15Min`, `30Min`, `1Hour`, `4Hour`, `1Day`.
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
        }
    }

    /// The dashboard's short form: `1m`, `5m`, `10m`, `15m`, `30m`, `1h`, `4h`, `1d`.
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
        }
    }

    /// Start of the bucket that contains instant `t`.
    ///
    /// Up to one hour, buckets are multiples of the size on the New York clock; since New York's UTC offset
    /// is a whole number of hours, that equals flooring the UTC epoch. `H4` buckets start at 00/04/08/12/16/20
    /// New York wall-clock time (so their UTC start moves with DST, like Alpaca's). `D1` buckets start at New
    /// York midnight of the trading day.
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
    /// [`SessionFilter::Regular`], 20:00 for [`SessionFilter::Extended`]. Early-close days are treated like full
    /// days, which can only delay — never advance — when a daily bar counts as complete.
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
            _ => start_ms + self.minutes() * 60_000,
        }
    }
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
        ] {
            assert_eq!(s.parse::<Timeframe>().unwrap(), tf, "{s}");
        }
    }

    #[test]
    fn unknown_timeframe_is_a_clear_error() {
        for s in ["7Min", "", "1Week", "abc", "99999999999999999999m", "2d"] {
            let e = s.parse::<Timeframe>().unwrap_err();
            assert!(e.to_string().contains("unknown timeframe"), "{e}");
        }
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
    }
}
