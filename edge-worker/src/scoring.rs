//! The pure rules of accuracy tracking: every stored prediction ends in a terminal state — `scored` (the
//! realised price is known), `unscorable` (bars well after its target have arrived, so the minutes before it are
//! final, and none ends near it: e.g. an illiquid minute) or `expired` (undecided after [`MAX_ATTEMPTS`] runs:
//! Alpaca failing for a day, a symbol it does not know, a horizon past the close of a symbol without later bars) —
//! so no row can hold the queue. Every rule reads the upstream's bars, never the wall clock, so replayed history
//! (`mtf replay` behind real time) is scored as live data is. Rows are selected by target time (fewest attempts
//! first), fetched once per symbol and window, updated conditionally. Tested natively; the cron's I/O is in
//! `accuracy` (wasm32).

use chrono::{DateTime, Duration, Utc};
use mtf_market::Bar;

use crate::logic::{self, Outcome};

/// A bar starting this many minutes after a target shows the minutes before the target are final (Alpaca's
/// bars settle within minutes; free plans see SIP 15 minutes late).
pub const FINAL_AFTER_MINUTES: i64 = 30;

/// How far past the last target of a window its request reaches: far enough to see the next session's first
/// bars when a target lies after the close.
pub const AFTER_MINUTES: i64 = 24 * 60;

/// Runs after which a prediction still undecided is given up (`expired`): a day of five-minute cron runs.
pub const MAX_ATTEMPTS: i64 = 288;

/// Pending rows read per run.
pub const ROWS_PER_RUN: usize = 500;

/// Alpaca requests per run (each symbol window is one): well inside the Workers subrequest limit (50 on the free
/// plan, with D1 and KV besides) and the 5-minute cron period.
pub const REQUESTS_PER_RUN: usize = 30;

/// Windows (requests) one symbol may take per run, so one symbol's backlog cannot starve the others.
pub const WINDOWS_PER_SYMBOL: usize = 3;

/// Longest span of targets one bars request covers (with the day after, 1-minute bars of extended hours stay
/// under Alpaca's 10,000 a page).
pub const WINDOW_MINUTES: i64 = 2 * 24 * 60;

/// The minutes before a target in which a 1-minute bar may end and still give the realised price (illiquid
/// minutes have no bar).
pub const LOOKBACK_MINUTES: i64 = 15;

/// RFC 3339 (seconds, `Z`) of `prediction_time + horizon_minutes`, or `None` when the time does not parse.
pub fn target_time(prediction_time: &str, horizon_minutes: i64) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(prediction_time).ok()?.with_timezone(&Utc);
    Some((t + Duration::minutes(horizon_minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// What a run decides for one pending prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The realised price is known.
    Scored(Outcome),
    /// No bar ends near the target and the bars are final.
    Unscorable,
    /// Not decidable yet (bars not final, or Alpaca failed): tried again next run, after the others.
    Wait,
}

/// A pending prediction as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub target_ms: i64,
    pub predicted_price: f64,
    pub last_close: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub signal: String,
}

/// The close of the 1-minute bar ending at the target, or of the latest one ending within
/// [`LOOKBACK_MINUTES`] before it (never a bar ending after the target).
pub fn realized(bars: &[Bar], target_ms: i64) -> Option<f64> {
    bars.iter()
        .filter(|b| {
            let end = b.start_ms() + 60_000;
            end <= target_ms && end > target_ms - LOOKBACK_MINUTES * 60_000
        })
        .max_by_key(|b| b.start_ms())
        .map(Bar::close)
}

/// The verdict for `p` given the bars fetched for its window (`None` when the fetch failed).
pub fn verdict(p: &Pending, bars: Option<&[Bar]>) -> Verdict {
    let Some(bars) = bars else { return Verdict::Wait };
    let settled = bars.iter().any(|b| b.start_ms() >= p.target_ms + FINAL_AFTER_MINUTES * 60_000);
    match realized(bars, p.target_ms) {
        Some(price) => Verdict::Scored(logic::score(
            p.predicted_price,
            p.last_close,
            p.interval_low,
            p.interval_high,
            &p.signal,
            price,
        )),
        None if settled => Verdict::Unscorable,
        None => Verdict::Wait,
    }
}

/// Groups one symbol's targets (any order) into request windows `(start_ms, end_ms, indices)`: each window spans
/// at most [`WINDOW_MINUTES`] of targets, plus the lookback before the first and [`AFTER_MINUTES`] after the last.
pub fn windows(targets: &[i64]) -> Vec<(i64, i64, Vec<usize>)> {
    let mut idx: Vec<usize> = (0..targets.len()).collect();
    idx.sort_by_key(|&i| targets[i]);
    let mut out: Vec<(i64, i64, Vec<usize>)> = Vec::new();
    for i in idx {
        let t = targets[i];
        match out.last_mut() {
            Some((start, end, members)) if t - (*start + LOOKBACK_MINUTES * 60_000) <= WINDOW_MINUTES * 60_000 => {
                *end = t + AFTER_MINUTES * 60_000;
                members.push(i);
            }
            _ => out.push((t - LOOKBACK_MINUTES * 60_000, t + AFTER_MINUTES * 60_000, vec![i])),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bar(start: &str, close: f64) -> Bar {
        Bar::new(start.parse::<DateTime<Utc>>().unwrap(), close, close, close, close, 1.0).unwrap()
    }
    fn ms(s: &str) -> i64 {
        s.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
    }
    fn pending(target: &str) -> Pending {
        Pending {
            target_ms: ms(target),
            predicted_price: 101.0,
            last_close: 100.0,
            interval_low: 99.0,
            interval_high: 103.0,
            signal: "buy".into(),
        }
    }

    #[test]
    fn the_target_is_the_prediction_time_plus_the_horizon() {
        assert_eq!(target_time("2011-01-14T15:00:00Z", 60).unwrap(), "2011-01-14T16:00:00Z");
        assert_eq!(target_time("2011-01-14T10:00:00-05:00", 30).unwrap(), "2011-01-14T15:30:00Z");
        assert_eq!(target_time("soon", 60), None);
    }

    #[test]
    fn the_realised_price_is_the_bar_ending_at_the_target_or_just_before_never_after() {
        let bars =
            [bar("2011-01-14T15:50:00Z", 1.0), bar("2011-01-14T15:58:00Z", 2.0), bar("2011-01-14T16:00:00Z", 9.0)];
        assert_eq!(realized(&bars, ms("2011-01-14T16:00:00Z")), Some(2.0), "15:58 ends 15:59; 16:00 ends after");
        assert_eq!(realized(&bars, ms("2011-01-14T16:20:00Z")), None, "nothing within 15 minutes");
    }

    #[test]
    fn every_prediction_reaches_a_terminal_state() {
        let p = pending("2011-01-14T16:00:00Z");
        let bars = [bar("2011-01-14T15:59:00Z", 102.0)];
        let Verdict::Scored(o) = verdict(&p, Some(&bars)) else { panic!("scored") };
        assert_eq!(o.realized_price, 102.0);
        assert!(o.hit && o.in_interval);
        // No bar near the target: wait while nothing later has arrived (a replay clock behind, the newest
        // minutes), unscorable once bars well after the target show the minutes before it are final.
        assert_eq!(verdict(&p, Some(&[])), Verdict::Wait);
        assert_eq!(verdict(&p, Some(&[bar("2011-01-14T16:10:00Z", 1.0)])), Verdict::Wait);
        assert_eq!(verdict(&p, Some(&[bar("2011-01-14T16:30:00Z", 1.0)])), Verdict::Unscorable);
        // Alpaca failed: wait (and after MAX_ATTEMPTS runs the row expires, in SQL).
        assert_eq!(verdict(&p, None), Verdict::Wait);
    }

    #[test]
    fn targets_are_grouped_into_bounded_windows() {
        let t = [
            ms("2011-01-14T16:00:00Z"),
            ms("2011-01-10T16:00:00Z"),
            ms("2011-01-14T17:00:00Z"),
            ms("2011-01-11T16:00:00Z"),
        ];
        let w = windows(&t);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].2, vec![1, 3]);
        assert_eq!(w[0].0, t[1] - LOOKBACK_MINUTES * 60_000);
        assert_eq!(w[1].2, vec![0, 2]);
        assert_eq!(w[1].1, t[2] + AFTER_MINUTES * 60_000);
        for (s, e, _) in &w {
            assert!(e - s <= (WINDOW_MINUTES + LOOKBACK_MINUTES + AFTER_MINUTES) * 60_000);
        }
    }
}
