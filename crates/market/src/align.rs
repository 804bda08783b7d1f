//! As-of alignment across timeframes.
//!
//! A bar is usable at instant τ only when its **end** ≤ τ ([`Timeframe::bar_end`]); the bar still in progress is
//! never part of a window. For each timeframe, [`Series::window`] returns the last `T` complete bars as of τ,
//! right-aligned (slot `T-1` is the newest), with a mask that is `false` where history is missing (warm-up).
//!
//! Gaps are explicit, never interpolated: each bar carries a [`Gap`] saying what lies between it and the bar
//! before (nothing, `n` missing buckets inside a session, a session break overnight or over a weekend, or
//! missing trading days for daily bars).

use chrono::{DateTime, Datelike, Utc, Weekday};

use crate::session::{SessionFilter, trading_day, trading_day_number_ms};
use crate::{Bar, Timeframe};

/// What lies between a bar and the previous bar of its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// The first bar of the series: nothing is known before it.
    Start,
    /// The previous bar ends exactly where this one starts (or, for daily bars, on the previous weekday).
    None,
    /// `bars` buckets of this timeframe without trades, inside the same trading day (intraday), or `bars`
    /// weekdays without a daily bar (holidays, closures) for `1d`.
    Missing {
        /// Number of absent bars.
        bars: u32,
    },
    /// An intraday bar that opens a new trading day: overnight or weekend break.
    SessionBreak,
}

/// Why a series cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{timeframe} series: bar {index} (start {start}) is not after the previous bar")]
pub struct AlignError {
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// Index of the offending bar.
    pub index: usize,
    /// Its start, RFC 3339.
    pub start: String,
}

/// One timeframe's bars, sorted, with their end instants (ms since epoch, UTC) and gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    timeframe: Timeframe,
    filter: SessionFilter,
    bars: Vec<Bar>,
    ends_ms: Vec<i64>,
    gaps: Vec<Gap>,
}

/// The last `T` complete bars of one timeframe as of an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The timeframe.
    pub timeframe: Timeframe,
    /// Length `T`; `indices[T-1]` is the newest complete bar. `None` where history is missing.
    pub indices: Vec<Option<usize>>,
}

impl Window {
    /// `true` where a bar is present, length `T`.
    pub fn mask(&self) -> Vec<bool> {
        self.indices.iter().map(Option::is_some).collect()
    }
}

fn weekdays_between(a: chrono::NaiveDate, b: chrono::NaiveDate) -> u32 {
    let mut d = a.succ_opt().unwrap_or(a);
    let mut n = 0;
    while d < b {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            n += 1;
        }
        d = d.succ_opt().unwrap_or(b);
    }
    n
}

impl Series {
    /// Builds a series from bars of `timeframe` already restricted to `filter`'s session.
    ///
    /// # Errors
    /// [`AlignError`] when starts are not strictly increasing.
    pub fn new(timeframe: Timeframe, filter: SessionFilter, bars: Vec<Bar>) -> Result<Self, AlignError> {
        let mut ends_ms = Vec::with_capacity(bars.len());
        let mut gaps = Vec::with_capacity(bars.len());
        for (i, b) in bars.iter().enumerate() {
            let gap = if i == 0 {
                Gap::Start
            } else {
                let prev = &bars[i - 1];
                if b.start_ms() <= prev.start_ms() {
                    return Err(AlignError { timeframe, index: i, start: b.start().to_rfc3339() });
                }
                let (pd, d) = (trading_day_number_ms(prev.start_ms()), trading_day_number_ms(b.start_ms()));
                if timeframe.is_intraday() {
                    if pd != d {
                        Gap::SessionBreak
                    } else {
                        let prev_end = timeframe.bar_end_ms(prev.start_ms(), filter);
                        let missing = (b.start_ms() - prev_end) / 60_000 / timeframe.minutes();
                        if missing <= 0 {
                            Gap::None
                        } else {
                            Gap::Missing { bars: u32::try_from(missing).unwrap_or(u32::MAX) }
                        }
                    }
                } else {
                    match weekdays_between(trading_day(prev.start()), trading_day(b.start())) {
                        0 => Gap::None,
                        n => Gap::Missing { bars: n },
                    }
                }
            };
            gaps.push(gap);
            ends_ms.push(timeframe.bar_end_ms(b.start_ms(), filter));
        }
        Ok(Self { timeframe, filter, bars, ends_ms, gaps })
    }

    /// The timeframe.
    pub fn timeframe(&self) -> Timeframe {
        self.timeframe
    }
    /// The session filter the bars were built with.
    pub fn filter(&self) -> SessionFilter {
        self.filter
    }
    /// All bars, oldest first.
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }
    /// End instant of each bar, ms since the Unix epoch (UTC).
    pub fn ends_ms(&self) -> &[i64] {
        &self.ends_ms
    }
    /// Gap before each bar.
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// Number of bars complete at `tau` (end ≤ τ); bars `[0, n)` are usable.
    pub fn complete_count(&self, tau: DateTime<Utc>) -> usize {
        let t = tau.timestamp_millis();
        self.ends_ms.partition_point(|&e| e <= t)
    }

    /// The last `lookback` complete bars as of `tau`, right-aligned.
    pub fn window(&self, tau: DateTime<Utc>, lookback: usize) -> Window {
        let n = self.complete_count(tau);
        let first = n.saturating_sub(lookback);
        let mut indices = vec![None; lookback - (n - first)];
        indices.extend((first..n).map(Some));
        Window { timeframe: self.timeframe, indices }
    }
}

/// Windows of every series as of `tau`, in the order given.
pub fn align(series: &[Series], tau: DateTime<Utc>, lookback: usize) -> Vec<Window> {
    series.iter().map(|s| s.window(tau, lookback)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::resample;
    use chrono::{Duration, TimeZone};

    fn bar(t: DateTime<Utc>) -> Bar {
        Bar::new(t, 1.0, 1.0, 1.0, 1.0, 1.0).unwrap()
    }

    #[test]
    fn only_complete_bars_are_in_the_window() {
        let t0 = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap();
        let minutes: Vec<Bar> = (0..30).map(|i| bar(t0 + Duration::minutes(i))).collect();
        let fifteen = resample(&minutes, Timeframe::M1, Timeframe::M15, SessionFilter::Regular).unwrap();
        let s = Series::new(Timeframe::M15, SessionFilter::Regular, fifteen).unwrap();
        // At 09:44:59 the 09:30 bar is still in progress.
        assert_eq!(s.complete_count(t0 + Duration::seconds(15 * 60 - 1)), 0);
        assert_eq!(s.complete_count(t0 + Duration::minutes(15)), 1);
        let w = s.window(t0 + Duration::minutes(15), 3);
        assert_eq!(w.indices, vec![None, None, Some(0)]);
        assert_eq!(w.mask(), vec![false, false, true]);
    }

    #[test]
    fn gaps_are_explicit() {
        let t0 = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap(); // Monday 09:30
        let bars = vec![
            bar(t0),
            bar(t0 + Duration::minutes(1)),
            bar(t0 + Duration::minutes(5)), // 3 minutes without trades
            bar(t0 + Duration::days(1)),    // Tuesday
            bar(t0 + Duration::days(4) + Duration::minutes(389)), // Friday 15:59
            bar(t0 + Duration::days(7)),    // next Monday
        ];
        let s = Series::new(Timeframe::M1, SessionFilter::Regular, bars).unwrap();
        assert_eq!(
            s.gaps(),
            &[Gap::Start, Gap::None, Gap::Missing { bars: 3 }, Gap::SessionBreak, Gap::SessionBreak, Gap::SessionBreak]
        );
    }

    #[test]
    fn daily_gaps_skip_weekends_but_count_holidays() {
        let day = |d: u32| bar(Utc.with_ymd_and_hms(2012, 10, d, 4, 0, 0).unwrap());
        // Thu 25, Fri 26, (Hurricane Sandy: Mon 29, Tue 30 closed), Wed 31.
        let s = Series::new(Timeframe::D1, SessionFilter::Regular, vec![day(25), day(26), day(31)]).unwrap();
        assert_eq!(s.gaps(), &[Gap::Start, Gap::None, Gap::Missing { bars: 2 }]);
        // A daily bar is complete at 16:00 New York of its day.
        let close = Utc.with_ymd_and_hms(2012, 10, 26, 20, 0, 0).unwrap();
        assert_eq!(s.complete_count(close - Duration::seconds(1)), 1);
        assert_eq!(s.complete_count(close), 2);
    }

    #[test]
    fn unsorted_series_is_an_error() {
        let t0 = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap();
        let e = Series::new(Timeframe::M1, SessionFilter::Regular, vec![bar(t0), bar(t0)]).unwrap_err();
        assert!(e.to_string().contains("not after"), "{e}");
    }
}
