//! The history a prediction needs, as bar requests: which bar sizes to fetch, how many bars of each, and from
//! which instant, so that a server (the edge) fetches the model's lookback and the indicators' warm-up and no
//! more — instead of one long run of minutes resampled to every timeframe.
//!
//! Every input timeframe needs `lookback + WARMUP_BARS + CONVERGENCE_BARS` complete bars: the window, the
//! indicators' warm-up, and the bars exponentially smoothed indicators need to forget their seed as they had in
//! training. Each timeframe is served by the coarsest bar size Alpaca aggregates the way the model code does:
//!
//! - intraday sizes whose buckets are unions of session buckets are fetched as they are. In the regular session
//!   (09:30–16:00 New York) those are the sizes that divide 30 minutes; `1h` and `4h` are resampled from `30m`,
//!   because Alpaca's 09:00 hourly bar holds pre-market trades that the model's hour (09:30–09:59) does not;
//!   in the extended session (04:00–20:00) sizes up to `1h` are fetched as they are and `4h` comes from `1h`;
//! - `1d` is fetched as days; `1w` and `1mo` are resampled from days (as in training).
//!
//! The fetched bars, keyed by fetched size, go to [`crate::predict::Predictor::features_as_of`] unchanged: it
//! resamples every model timeframe that was not fetched from the coarsest fetched size that can produce it, which
//! is the source chosen here.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

/// Bars beyond the warm-up so exponentially smoothed indicators (EMA, Wilder) forget their seed.
pub const CONVERGENCE_BARS: usize = 100;

/// One bar request of a plan: the newest `bars` complete bars of `timeframe` (in the model's session) before
/// the prediction instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// Bar size to request.
    pub timeframe: Timeframe,
    /// Bars to keep (complete, in the session).
    pub bars: usize,
}

/// The bar requests of one model, finest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPlan {
    /// Requests, one per bar size, finest first.
    pub fetches: Vec<Fetch>,
    /// The model's session filter.
    pub session: SessionFilter,
}

/// The bar size that serves model timeframe `tf` in `session`, and how many of its bars make one bar of `tf`.
pub fn source(tf: Timeframe, session: SessionFilter) -> (Timeframe, usize) {
    match tf {
        Timeframe::W1 => (Timeframe::D1, 5),
        Timeframe::MN1 => (Timeframe::D1, 23),
        Timeframe::D1 => (Timeframe::D1, 1),
        _ => {
            // The session opens at 09:30 (regular) or 04:00 (extended): a size is served as is when the open
            // is one of its bucket boundaries.
            let align = match session {
                SessionFilter::Regular => 30,
                SessionFilter::Extended => 60,
            };
            let m = tf.minutes();
            if m <= align && align % m == 0 {
                (tf, 1)
            } else {
                let from = if align == 30 { Timeframe::M30 } else { Timeframe::H1 };
                (from, (m / from.minutes()) as usize)
            }
        }
    }
}

impl HistoryPlan {
    /// The plan for a model's inputs.
    pub fn for_model(data: &DataSpec) -> Self {
        let need = data.lookback + mtf_features::spec::WARMUP_BARS + CONVERGENCE_BARS;
        let mut by_size: BTreeMap<Timeframe, usize> = BTreeMap::new();
        for &tf in &data.timeframes {
            let (from, per) = source(tf, data.session);
            let n = by_size.entry(from).or_default();
            *n = (*n).max(need * per);
        }
        Self {
            fetches: by_size.into_iter().map(|(timeframe, bars)| Fetch { timeframe, bars }).collect(),
            session: data.session,
        }
    }

    /// Where to request `fetch`'s bars from first: walking back from `at` through the session minutes of
    /// weekdays, the minute (aligned to the bar size) from which `fetch.bars` bars fit with a tenth to spare
    /// (for minutes without trades); for days, `fetch.bars` weekdays back. Tight — a holiday, an illiquid symbol or
    /// a short history leaves a symbol short, and the caller asks again from [`HistoryPlan::start_wide`] for
    /// the symbols that are (the edge does).
    pub fn start(&self, fetch: &Fetch, at: DateTime<Utc>) -> DateTime<Utc> {
        let (open, close) = match self.session {
            SessionFilter::Regular => (570, 960),
            SessionFilter::Extended => (240, 1200),
        };
        let local = mtf_market::session::ny_local_secs(at.timestamp());
        let mut day = local.div_euclid(86_400);
        let weekday = |d: i64| (d + 3).rem_euclid(7) < 5; // 1970-01-01 was a Thursday
        // (day, minute of day) New York of the start.
        let (start_day, start_minute) = if fetch.timeframe.is_intraday() {
            let need = (fetch.bars as i64 * fetch.timeframe.minutes() * 11).div_euclid(10).max(1);
            let mut minute_of_day = local.rem_euclid(86_400) / 60;
            let mut acc = 0;
            let mut start_minute = open;
            // At most ten years of weekdays: the loop always ends.
            for _ in 0..3660 {
                if weekday(day) {
                    let upto = minute_of_day.min(close);
                    let here = (upto - open).max(0);
                    if acc + here >= need {
                        // Within this session: as many minutes before `upto` as are still needed, aligned
                        // down to the bar size (so the first bar is whole).
                        let m = fetch.timeframe.minutes();
                        let from = (upto - (need - acc)).max(open);
                        start_minute = open + (from - open).div_euclid(m) * m;
                        break;
                    }
                    acc += here;
                }
                day -= 1;
                minute_of_day = 1440;
            }
            (day, start_minute)
        } else {
            let mut left = fetch.bars;
            while left > 0 {
                day -= 1;
                if weekday(day) {
                    left -= 1;
                }
            }
            (day, open)
        };
        let utc = mtf_market::session::ny_utc_secs(start_day * 86_400 + start_minute * 60);
        DateTime::from_timestamp(utc, 0).unwrap_or(at).min(at)
    }

    /// A generous start for `fetch`: room for the bars with weekends, up to ten holidays a year, a quarter more
    /// for minutes without trades and days of margin. What [`HistoryPlan::start`] falls back to.
    pub fn start_wide(&self, fetch: &Fetch, at: DateTime<Utc>) -> DateTime<Utc> {
        let trading_days = if fetch.timeframe.is_intraday() {
            let per_day = match self.session {
                SessionFilter::Regular => 390,
                SessionFilter::Extended => 960,
            };
            let minutes = fetch.bars as i64 * fetch.timeframe.minutes();
            // A quarter more for minutes without trades, then a day for the current one.
            (minutes * 5 / 4 + per_day - 1) / per_day + 1
        } else {
            fetch.bars as i64
        };
        // Five trading days a week, plus up to ten holidays a year and two days of margin.
        let calendar = trading_days * 7 / 5 + trading_days / 25 + 3;
        at - Duration::days(calendar)
    }

    /// The newest `fetch.bars` bars of `bars` (sorted by start) that are complete at `at` and, intraday, start
    /// in the session: what the prediction uses of the fetched bars.
    pub fn trim(&self, fetch: &Fetch, bars: &mut Vec<Bar>, at: DateTime<Utc>) {
        let tf = fetch.timeframe;
        let at_ms = at.timestamp_millis();
        bars.retain(|b| tf.bar_end_ms(b.start_ms(), self.session) <= at_ms);
        if tf.is_intraday() {
            bars.retain(|b| self.session.contains_ms(b.start_ms()));
        }
        if bars.len() > fetch.bars {
            bars.drain(..bars.len() - fetch.bars);
        }
    }

    /// Total bars the plan keeps per symbol.
    pub fn bars_per_symbol(&self) -> usize {
        self.fetches.iter().map(|f| f.bars).sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use super::*;
    use crate::labels::LabelConfig;
    use mtf_features::frames::MultiTimeframe;

    fn spec(tfs: &[Timeframe], session: SessionFilter) -> DataSpec {
        DataSpec {
            timeframes: tfs.to_vec(),
            lookback: 32,
            base: tfs[0],
            labels: LabelConfig { horizon: 4, cross_session: false, scale: Default::default() },
            session,
        }
    }

    #[test]
    fn sizes_that_align_with_the_open_are_fetched_as_they_are() {
        use Timeframe::*;
        let need = 32 + mtf_features::spec::WARMUP_BARS + CONVERGENCE_BARS;
        let p = HistoryPlan::for_model(&spec(&[M1, M5, M15, H1, D1], SessionFilter::Regular));
        assert_eq!(
            p.fetches,
            vec![
                Fetch { timeframe: M1, bars: need },
                Fetch { timeframe: M5, bars: need },
                Fetch { timeframe: M15, bars: need },
                Fetch { timeframe: M30, bars: 2 * need },
                Fetch { timeframe: D1, bars: need },
            ]
        );
        // Weeks and months from days: the coarsest sets the count.
        let p = HistoryPlan::for_model(&spec(&[D1, W1, MN1], SessionFilter::Regular));
        assert_eq!(p.fetches, vec![Fetch { timeframe: D1, bars: 23 * need }]);
        // Extended session: hours as they are, 4h from hours.
        let p = HistoryPlan::for_model(&spec(&[M15, H1, H4], SessionFilter::Extended));
        assert_eq!(p.fetches, vec![Fetch { timeframe: M15, bars: need }, Fetch { timeframe: H1, bars: 4 * need }]);
        assert_eq!(source(M10, SessionFilter::Regular), (M10, 1));
        assert_eq!(source(H4, SessionFilter::Regular), (M30, 8));
    }

    #[test]
    fn the_start_leaves_room_for_the_bars_and_trim_keeps_the_newest_complete_ones() {
        let p = HistoryPlan::for_model(&spec(&[Timeframe::M15], SessionFilter::Regular));
        let f = p.fetches[0];
        let at = "2024-03-08T20:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let start = p.start(&f, at);
        // 181 bars of 15 minutes and a tenth are 2,986 minutes, 7.7 regular sessions: 15:00 back to the open
        // on Friday (330), then six whole weekdays (2,340) and the last 316 minutes of Wednesday 2024-02-28,
        // from 10:44 New York, aligned down to the 15-minute bar: 10:30.
        assert_eq!(start.to_rfc3339(), "2024-02-28T15:30:00+00:00");
        let wide = p.start_wide(&f, at);
        assert!(wide < start && (at - wide).num_days() <= 20, "{wide}");
        // Days: 181 weekdays back; one minute bar on Monday 09:45 New York reaches back to the open.
        let d = Fetch { timeframe: Timeframe::D1, bars: 181 };
        assert_eq!(p.start(&d, at).to_rfc3339(), "2023-06-29T13:30:00+00:00");
        let m = Fetch { timeframe: Timeframe::M1, bars: 10 };
        let monday = "2024-03-11T13:45:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(p.start(&m, monday).to_rfc3339(), "2024-03-11T13:34:00+00:00");
        // 30 one-minute bars at 09:45 need the last 18 minutes of Friday's session too (15:42 New York, EST).
        let m = Fetch { timeframe: Timeframe::M1, bars: 30 };
        assert_eq!(p.start(&m, monday).to_rfc3339(), "2024-03-08T20:42:00+00:00");
        // Every 15 minutes over three weeks, around the clock: trim keeps complete session bars only.
        let mut bars: Vec<Bar> = (0..(21 * 96))
            .map(|i| {
                let t = at - Duration::days(21) + Duration::minutes(15 * i);
                Bar::new(t, 1.0, 1.0, 1.0, 1.0, 1.0).unwrap()
            })
            .collect();
        p.trim(&f, &mut bars, at - Duration::minutes(7));
        assert_eq!(bars.len(), f.bars);
        let last = bars.last().unwrap();
        // 14:30 New York (EST) starts the last bar complete at 19:53 UTC.
        assert_eq!(last.start().to_rfc3339(), "2024-03-08T19:30:00+00:00");
        assert!(bars.iter().all(|b| SessionFilter::Regular.contains_ms(b.start_ms())));
    }

    #[test]
    fn hours_come_from_thirty_minute_bars_not_from_a_short_run_of_minutes() {
        // 30-minute bars over 20 sessions and one session of minutes: the hourly series is resampled from the
        // 30-minute bars (the coarsest fetched size), so it reaches back 20 sessions.
        let day0 = "2024-03-11T13:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut thirty = Vec::new();
        for d in 0..20 {
            let open = day0 + Duration::days(d);
            if SessionFilter::Regular.contains(open) {
                for k in 0..13 {
                    thirty.push(Bar::new(open + Duration::minutes(30 * k), 1.0, 1.0, 1.0, 1.0, 1.0).unwrap());
                }
            }
        }
        let last_open = thirty.last().unwrap().start() - Duration::minutes(360);
        let minutes: Vec<Bar> =
            (0..390).map(|k| Bar::new(last_open + Duration::minutes(k), 1.0, 1.0, 1.0, 1.0, 1.0).unwrap()).collect();
        let given = BTreeMap::from([(Timeframe::M1, minutes), (Timeframe::M30, thirty.clone())]);
        let m = MultiTimeframe::from_bars(&given, &[Timeframe::M1, Timeframe::H1], SessionFilter::Regular).unwrap();
        let hours = m.frames[1].series.bars();
        assert_eq!(hours.first().unwrap().start(), day0 - Duration::minutes(30), "09:00 bucket of the first day");
        assert_eq!(hours.len(), thirty.len() / 13 * 7);
    }
}
