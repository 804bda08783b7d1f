//! Live recalibration of the q10–q90 band from realised outcomes: adaptive conformal inference (Gibbs & Candès,
//! "Adaptive conformal inference under distribution shift", NeurIPS 2021) in its multiplicative
//! quantile-tracking form (Angelopoulos, Candès & Tibshirani, "Conformal PID control", 2023, §2).
//!
//! The band shown is `[q50 − s·(q50 − q10), q50 + s·(q90 − q50)]` with `s = exp(θ)`. After each outcome `y` of a
//! band that was shown, `θ ← θ + γ·(miss − α)` where `miss` is 1 when `y` fell outside the band shown and
//! `α = 1 − 0.8`: a miss widens the next band by `γ·0.8`, a hit narrows it by `γ·0.2`, so over any long run the
//! miss rate tracks α whatever the model or the market does (the long-run bound is `|mean miss − α| ≤
//! (max θ − min θ)/(γ·T)`). `γ` is fixed ([`DEFAULT_GAMMA`]), chosen before any evaluation and never tuned on it.
//!
//! **No look-ahead**: an outcome updates the state only once its label's instant has passed; [`replay`]
//! applies an outcome to a prediction at τ only if its label was known at τ (label instant ≤ τ), and a test
//! corrupts every later label to show nothing else moves.
//!
//! One state per symbol: volatility regimes are per symbol, and so is the live session that holds it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::calibration::INTERVAL_LEVEL;
use crate::metrics::Scored;

/// Step size γ of the log-scale update: a miss widens the next band by 4 %, a hit narrows it by 1 %, so the
/// band reacts within a few dozen predictions (a session of 15-minute bars).
pub const DEFAULT_GAMMA: f64 = 0.05;

/// Outcomes kept for [`AdaptiveBand::realised_coverage`].
pub const DEFAULT_WINDOW: usize = 100;

/// Bound of `|θ|`: the band is never scaled by more than e^±3 (×20 or ÷20), so a data error cannot blow it up.
const MAX_LOG_SCALE: f64 = 3.0;

/// The recalibration state of one symbol's band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveBand {
    /// `θ`: the band's log scale (0 = as the model predicts).
    pub log_scale: f64,
    /// Step size γ.
    pub gamma: f64,
    /// Whether each of the last outcomes fell inside its band (oldest first), at most `window`.
    recent: VecDeque<bool>,
    window: usize,
    /// Outcomes observed in all.
    pub observed: u64,
}

impl Default for AdaptiveBand {
    fn default() -> Self {
        Self::new(DEFAULT_GAMMA, DEFAULT_WINDOW)
    }
}

impl AdaptiveBand {
    /// A fresh state (scale 1) with step `gamma` and a realised-coverage window of `window` outcomes.
    #[must_use]
    pub fn new(gamma: f64, window: usize) -> Self {
        Self { log_scale: 0.0, gamma, recent: VecDeque::with_capacity(window), window: window.max(1), observed: 0 }
    }

    /// The scale `s = exp(θ)` applied to the band's half-widths.
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.log_scale.exp()
    }

    /// The band to show for the model's `[q10, q50, q90]`: the median kept, each side scaled by [`Self::scale`].
    #[must_use]
    pub fn apply(&self, q: [f64; 3]) -> [f64; 3] {
        let s = self.scale();
        [q[1] - s * (q[1] - q[0]), q[1], q[1] + s * (q[2] - q[1])]
    }

    /// Records the outcome `y` of a band `shown` (as returned by [`Self::apply`] when it was shown). A
    /// non-finite outcome is ignored.
    pub fn observe(&mut self, shown: [f64; 3], y: f64) {
        if !y.is_finite() {
            return;
        }
        let inside = y >= shown[0] && y <= shown[2];
        let miss = if inside { 0.0 } else { 1.0 };
        self.log_scale =
            (self.log_scale + self.gamma * (miss - (1.0 - INTERVAL_LEVEL))).clamp(-MAX_LOG_SCALE, MAX_LOG_SCALE);
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(inside);
        self.observed += 1;
    }

    /// Share of the last (up to `window`) observed outcomes inside their band, and how many; `None` before any.
    #[must_use]
    pub fn realised_coverage(&self) -> Option<(f64, usize)> {
        let n = self.recent.len();
        (n > 0).then(|| (self.recent.iter().filter(|&&x| x).count() as f64 / n as f64, n))
    }
}

/// What a recalibration did to a prediction's band, as the prediction contract (`mtf-prediction`) carries it.
pub use mtf_prediction::Recalibration;

/// A band shown live and waiting for its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Shown {
    /// When the outcome is known: the end of the horizon's last base bar (ms since the epoch).
    target_ms: i64,
    /// The close the prediction was made from.
    last_close: f64,
    /// The log-return quantiles shown.
    quantiles: [f64; 3],
}

/// Live recalibration of one symbol's predictions, as a live session runs it: each new prediction's band is
/// scaled by the [`AdaptiveBand`] state, and the band shown waits until its target instant has passed; its outcome
/// (the close then) updates the state only then — the same rule as [`replay`], so a live session and the
/// evaluation's "model + live recalibration" row compute the same bands from the same outcomes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LiveRecalibration {
    band: AdaptiveBand,
    pending: Vec<Shown>,
}

/// Shown bands kept waiting at most (older ones, e.g. a horizon past the close that never resolves, are dropped).
const MAX_PENDING: usize = 256;

impl LiveRecalibration {
    /// Resolves every band whose target instant is at or before `now_ms` with `close_at(target_ms)` (the close of
    /// the bar ending then; `None` drops that band: its outcome cannot be known, e.g. a holiday). Returns how many
    /// outcomes were observed.
    pub fn resolve(&mut self, now_ms: i64, close_at: impl Fn(i64) -> Option<f64>) -> usize {
        let mut observed = 0;
        let mut keep = Vec::with_capacity(self.pending.len());
        let mut due: Vec<Shown> = Vec::new();
        for s in self.pending.drain(..) {
            if s.target_ms <= now_ms { due.push(s) } else { keep.push(s) }
        }
        due.sort_by_key(|s| s.target_ms);
        for s in due {
            if let Some(c) = close_at(s.target_ms).filter(|c| *c > 0.0 && s.last_close > 0.0) {
                self.band.observe(s.quantiles, (c / s.last_close).ln());
                observed += 1;
            }
        }
        self.pending = keep;
        observed
    }

    /// Scales `p`'s band by the current state (median kept), records it as shown until its horizon has passed,
    /// and says so in `p.recalibration`.
    pub fn apply(&mut self, p: &mut crate::predict::Prediction) {
        let Some(shown) = self.band.recalibrate(p) else { return };
        let target_ms = p.prediction_time.timestamp_millis() + p.horizon.minutes * 60_000;
        if self.pending.len() == MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(Shown { target_ms, last_close: p.last_close, quantiles: shown });
    }
}

impl AdaptiveBand {
    /// Scales a served prediction's band by this state (median kept; the suggested position re-sized for the new
    /// band) and says so in `p.recalibration`. Returns the log-return quantiles shown, or `None` (nothing
    /// changed) when the prediction's prices are not positive.
    pub fn recalibrate(&self, p: &mut crate::predict::Prediction) -> Option<[f64; 3]> {
        let last = p.last_close;
        if !(last > 0.0 && p.interval.low > 0.0 && p.interval.high > 0.0) {
            return None;
        }
        let q = [(p.interval.low / last).ln(), p.predicted_log_return, (p.interval.high / last).ln()];
        let shown = self.apply(q);
        p.interval.low = last * shown[0].exp();
        p.interval.high = last * shown[2].exp();
        p.position = crate::signals::resize(p.position, q, shown);
        let (realised_coverage, window) = self.realised_coverage().map_or((None, 0), |(c, n)| (Some(c), n));
        p.recalibration = Some(Recalibration {
            method: "aci".into(),
            gamma: self.gamma,
            scale: self.scale(),
            observed: self.observed,
            realised_coverage,
            window,
        });
        Some(shown)
    }

    /// Records the outcome of a served prediction: the band it showed, `[low, high]` as prices around
    /// `predicted`, from `last_close`, and the realised price. Prices that are not positive are ignored.
    pub fn observe_prices(&mut self, last_close: f64, low: f64, predicted: f64, high: f64, realised: f64) {
        if last_close > 0.0 && low > 0.0 && predicted > 0.0 && high > 0.0 && realised > 0.0 {
            let l = |x: f64| (x / last_close).ln();
            self.observe([l(low), l(predicted), l(high)], l(realised));
        }
    }
}

/// One scored prediction in time: when it was made and when its outcome became known (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The prediction instant τ.
    pub at_ms: i64,
    /// The label's instant (end of its last bar).
    pub label_at_ms: i64,
}

/// The evaluation's live replay: `scored` (any order) with their `timing`, each band recalibrated by its
/// symbol's [`AdaptiveBand`] from the outcomes known at its instant, in time order. Returns the predictions as
/// they would have been shown (only `quantiles` change), in the order given.
#[must_use]
pub fn replay(scored: &[Scored], timing: &[Timing], gamma: f64) -> Vec<Scored> {
    let mut out = scored.to_vec();
    let mut order: Vec<usize> = (0..scored.len().min(timing.len())).collect();
    order.sort_by_key(|&i| (timing[i].at_ms, scored[i].part));
    let mut states: BTreeMap<usize, AdaptiveBand> = BTreeMap::new();
    let mut pending: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    for &i in &order {
        while let Some(&Reverse((known_at, j))) = pending.peek() {
            if known_at > timing[i].at_ms {
                break;
            }
            pending.pop();
            let state = states.entry(out[j].part).or_insert_with(|| AdaptiveBand::new(gamma, DEFAULT_WINDOW));
            state.observe(out[j].quantiles, out[j].label);
        }
        let state = states.entry(out[i].part).or_insert_with(|| AdaptiveBand::new(gamma, DEFAULT_WINDOW));
        out[i].quantiles = state.apply(scored[i].quantiles);
        pending.push(Reverse((timing[i].label_at_ms, i)));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pred(part: usize, half: f64, y: f64) -> Scored {
        Scored { part, ..Scored::plain([-half, 0.0, half], [0.3, 0.4, 0.3], 0.0, y, 1, 100.0) }
    }

    #[test]
    fn one_miss_widens_by_gamma_times_level_and_one_hit_narrows_by_gamma_times_alpha() {
        let mut b = AdaptiveBand::new(0.05, 3);
        assert_eq!(b.apply([-1.0, 0.5, 2.0]), [-1.0, 0.5, 2.0]);
        b.observe([-1.0, 0.0, 1.0], 3.0);
        assert!((b.log_scale - 0.05 * 0.8).abs() < 1e-12);
        b.observe([-1.0, 0.0, 1.0], 0.0);
        assert!((b.log_scale - 0.05 * 0.6).abs() < 1e-12);
        let s = 0.03f64.exp();
        let q = b.apply([-1.0, 0.5, 2.0]);
        assert!((q[0] - (0.5 - 1.5 * s)).abs() < 1e-12 && q[1] == 0.5 && (q[2] - (0.5 + 1.5 * s)).abs() < 1e-12);
        b.observe([-1.0, 0.0, 1.0], 0.0);
        b.observe([-1.0, 0.0, 1.0], 0.0);
        assert_eq!(b.realised_coverage(), Some((1.0, 3)), "the window keeps the last three");
        b.observe([-1.0, 0.0, 1.0], f64::NAN);
        assert_eq!(b.observed, 4);
    }

    #[test]
    fn a_band_too_narrow_is_widened_until_it_covers_about_80_percent() {
        // Outcomes uniform on [−1, 1] (a deterministic low-discrepancy sequence); the model's band is ±0.1.
        let ys: Vec<f64> = (0..2000).map(|i| ((i as f64 * 0.618_033_988_75).fract() * 2.0) - 1.0).collect();
        let mut b = AdaptiveBand::default();
        let mut hits = Vec::new();
        for &y in &ys {
            let shown = b.apply([-0.1, 0.0, 0.1]);
            hits.push(y >= shown[0] && y <= shown[2]);
            b.observe(shown, y);
        }
        let late = &hits[1000..];
        let cov = late.iter().filter(|&&h| h).count() as f64 / late.len() as f64;
        assert!((cov - 0.8).abs() < 0.02, "{cov}");
        assert!((b.scale() * 0.1 - 0.8).abs() < 0.15, "the band's half-width approaches 0.8: {}", b.scale() * 0.1);
    }

    #[test]
    fn replay_uses_only_outcomes_known_at_each_instant_and_keeps_symbols_apart() {
        // Symbol 0 predicts every minute with a 3-minute horizon; symbol 1 interleaved. Every band misses.
        let mut scored = Vec::new();
        let mut timing = Vec::new();
        for i in 0..40i64 {
            scored.push(pred((i % 2) as usize, 0.1, 5.0));
            timing.push(Timing { at_ms: i * 60_000, label_at_ms: (i + 6) * 60_000 });
        }
        let shown = replay(&scored, &timing, 0.05);
        // The first six predictions (three per symbol) have no known outcome: unchanged.
        for s in &shown[..6] {
            assert_eq!(s.quantiles, [-0.1, 0.0, 0.1]);
        }
        // At minute 6 the outcome of minute 0 (symbol 0) is known: one miss for symbol 0 only.
        assert!((shown[6].quantiles[2] - 0.1 * (0.04f64).exp()).abs() < 1e-12);
        assert!((shown[7].quantiles[2] - 0.1 * (0.04f64).exp()).abs() < 1e-12, "symbol 1's minute-1 outcome");
        assert!((shown[8].quantiles[2] - 0.1 * (0.08f64).exp()).abs() < 1e-12);
        // Corrupt every outcome not yet known at minute 20: bands shown up to minute 20 are bit-for-bit equal.
        let mut corrupt = scored.clone();
        for (s, t) in corrupt.iter_mut().zip(&timing) {
            if t.label_at_ms > 20 * 60_000 {
                s.label = 0.0; // a hit where every real outcome missed
            }
        }
        let again = replay(&corrupt, &timing, 0.05);
        for i in 0..=20 {
            assert_eq!(shown[i].quantiles.map(f64::to_bits), again[i].quantiles.map(f64::to_bits), "prediction {i}");
        }
        assert_ne!(shown[30].quantiles, again[30].quantiles, "later bands do depend on those outcomes");
    }

    fn prediction(at_ms: i64, close: f64, half: f64) -> crate::predict::Prediction {
        use chrono::TimeZone;
        let t = chrono::Utc.timestamp_millis_opt(at_ms).single().unwrap();
        crate::predict::Prediction {
            symbol: "SPY".into(),
            model_version: "m@1".into(),
            prediction_time: t,
            horizon: crate::predict::Horizon { timeframe: "15m".into(), bars: 4, minutes: 60 },
            last_close: close,
            last_bar_start: t,
            predicted_price: close,
            predicted_log_return: 0.0,
            interval: crate::predict::Interval { low: close * (-half).exp(), high: close * half.exp(), level: 0.8 },
            probabilities: crate::predict::Probabilities { down: 0.3, flat: 0.4, up: 0.3 },
            signal: crate::calibration::Signal::Hold,
            confidence: 0.4,
            position: 0.0,
            attention: crate::predict::Attention { timeframes: vec![], across_timeframes: vec![], over_time: vec![] },
            recalibration: None,
        }
    }

    #[test]
    fn live_recalibration_uses_an_outcome_only_after_its_target_and_widens_after_misses() {
        let hour = 3_600_000;
        let mut live = LiveRecalibration::default();
        let mut p = prediction(0, 100.0, 0.001);
        live.apply(&mut p);
        let r = p.recalibration.clone().unwrap();
        assert_eq!((r.method.as_str(), r.scale, r.observed, r.realised_coverage), ("aci", 1.0, 0, None));
        // Before the target instant nothing is observed, whatever the close would be.
        assert_eq!(live.resolve(hour - 1, |_| panic!("an outcome was read before its target")), 0);
        // At the target: a close far outside the band is a miss and widens the next band by γ·0.8.
        assert_eq!(live.resolve(hour, |t| (t == hour).then_some(105.0)), 1);
        let mut q = prediction(hour, 100.0, 0.001);
        live.apply(&mut q);
        let r = q.recalibration.clone().unwrap();
        assert!((r.scale - (DEFAULT_GAMMA * 0.8).exp()).abs() < 1e-12, "{r:?}");
        assert_eq!((r.observed, r.realised_coverage, r.window), (1, Some(0.0), 1));
        assert!(q.interval.high - q.predicted_price > p.interval.high - p.predicted_price, "wider after a miss");
        assert!((q.predicted_price - 100.0).abs() < 1e-12, "the median is kept");
        // An outcome that cannot be known is dropped, not counted.
        assert_eq!(live.resolve(2 * hour, |_| None), 0);
        assert_eq!(live.pending.len(), 0);
    }

    #[test]
    fn the_live_state_tracks_the_evaluation_replay() {
        // The same sequence of predictions and outcomes through `replay` and through a live session give the same
        // bands (outcomes known one horizon after each prediction; one prediction per horizon step).
        let hour = 3_600_000i64;
        let ys: Vec<f64> = (0..60).map(|i| (((i as f64) * 0.618_033_988_75).fract() - 0.5) * 0.01).collect();
        let scored: Vec<Scored> = ys.iter().map(|&y| pred(0, 0.001, y)).collect();
        let timing: Vec<Timing> =
            (0..ys.len() as i64).map(|i| Timing { at_ms: i * hour, label_at_ms: (i + 1) * hour }).collect();
        let replayed = replay(&scored, &timing, DEFAULT_GAMMA);
        let mut live = LiveRecalibration::default();
        for (i, r) in replayed.iter().enumerate() {
            let now = i as i64 * hour;
            live.resolve(now, |t| {
                let k = (t / hour - 1) as usize;
                Some(100.0 * ys[k].exp())
            });
            let mut p = prediction(now, 100.0, 0.001);
            live.apply(&mut p);
            let low = (p.interval.low / 100.0).ln();
            assert!((low - r.quantiles[0]).abs() < 1e-9, "step {i}: {low} vs {}", r.quantiles[0]);
        }
    }
}
