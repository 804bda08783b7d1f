//! Calibration fit on a validation set (never on the evaluation data), the signal rule, and the interval
//! adjustment.
//!
//! - **Temperature scaling**: direction probabilities are `softmax(logits / T)`, with `T` chosen on the
//!   validation set from a grid over [0.25, 10] to minimise the negative log-likelihood.
//! - **Conformal interval**: with scores `sᵢ = max(q10ᵢ − yᵢ, yᵢ − q90ᵢ)` on the validation set, the interval is
//!   widened (or narrowed) by `δ` = the ⌈0.8·(n+1)⌉-th smallest score, so about 80 % of new outcomes fall inside.
//!   With [`Conformal::TimeOfDay`] (Mondrian conformal prediction, Vovk et al. 2005) one `δ_b` is fit on the
//!   validation samples of each time-of-day bucket `b` (New York hours from 09:30,
//!   [`crate::volatility::time_of_day_bucket`]), so the band covers about 80 % in every hour, not only on
//!   average; a bucket with fewer than [`MIN_BUCKET_SAMPLES`] validation samples, and every instant outside the
//!   regular session, keeps the pooled `δ`.
//! - **Band blend** (forecast combination): before the conformal correction the network's quantiles are
//!   blended with the training targets' own quantiles, `w·q + (1 − w)·a` ([`BandBlend`]). In the units the
//!   network predicts in (label ÷ target scale) `a` is a fixed band, so with a volatility-scaled target it is the
//!   band of the volatility baseline the scale comes from (`har_vol` or `realised_vol`) and with a fixed scale
//!   the constant band; `w` is chosen on the validation set from [`BLEND_WEIGHTS`] (1 keeps the network's band).
//! - **Signal**: the margin rule — `buy` when up is the most probable class and `p(up) − p(down)` reaches a
//!   margin, `sell` symmetrically, otherwise `hold` — with the margin chosen on validation by the signal policy
//!   ([`crate::signals`]; hold only when no margin showed skill). [`signal`] is the rule at the fixed
//!   [`SIGNAL_MARGIN`] the baselines use. **Confidence** is the calibrated probability of the most probable class.

use serde::{Deserialize, Serialize};

use crate::signals::SignalPolicy;

/// Coverage the q10–q90 band is trained and calibrated for (the conformal correction targets it).
pub const INTERVAL_LEVEL: f64 = 0.8;

/// Margin of `p(up) − p(down)` (or the reverse) required for a buy (sell).
pub const SIGNAL_MARGIN: f64 = 0.10;

/// Time-of-day buckets of the regular session (New York hours from 09:30; the last, 15:30–16:00, is half an hour).
pub const TIME_OF_DAY_BUCKETS: usize = 7;

/// Fewest validation samples a time-of-day bucket needs for its own `δ_b` ([`Conformal::TimeOfDay`]); below
/// it the ⌈0.8·(n+1)⌉-th score of so few is too noisy and the bucket keeps the pooled `δ`.
pub const MIN_BUCKET_SAMPLES: usize = 40;

/// How the conformal correction of the band is fit on the validation set (`[eval] conformal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conformal {
    /// One `δ` for every instant.
    #[default]
    Pooled,
    /// One `δ_b` per time-of-day bucket (intraday bases; daily bases have no bucket and keep the pooled `δ`).
    TimeOfDay,
}

impl Conformal {
    /// Whether this is the default (configs leave it out).
    #[must_use]
    pub fn is_pooled(&self) -> bool {
        *self == Self::Pooled
    }
}

/// Weights of the network's band tried on validation ([`BandBlend::weight`]), from the volatility band alone to the
/// network alone.
pub const BLEND_WEIGHTS: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The network's quantiles blended with a fixed band in the same units (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandBlend {
    /// Weight of the network's quantiles, in [0, 1]; the anchor gets `1 − weight`.
    pub weight: f64,
    /// q10, q50, q90 of the training targets (label ÷ target scale) of the part the network trained on.
    pub anchor: [f64; 3],
}

impl BandBlend {
    /// `weight·q + (1 − weight)·anchor`, per quantile (ordered quantiles stay ordered).
    #[must_use]
    pub fn apply(&self, q: [f64; 3]) -> [f64; 3] {
        let w = self.weight.clamp(0.0, 1.0);
        [0, 1, 2].map(|k| w * q[k] + (1.0 - w) * self.anchor[k])
    }
}

/// Calibration parameters stored in the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Softmax temperature.
    pub temperature: f64,
    /// Interval adjustment δ in label-scale units (added to q90, subtracted from q10).
    pub interval_delta: f64,
    /// Per time-of-day bucket `δ_b` (same units; index = bucket), replacing [`Calibration::interval_delta`] at
    /// instants in that bucket ([`Conformal::TimeOfDay`]); absent for a pooled correction and in artifacts
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_delta_by_bucket: Option<[f64; TIME_OF_DAY_BUCKETS]>,
    /// The band blend applied to the network's quantiles before the interval adjustment; absent in artifacts
    /// written before it existed (the network's band as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_blend: Option<BandBlend>,
    /// The signal policy fit on the same validation set ([`crate::signals`]); absent in artifacts written before
    /// policies existed, which signal hold only ([`SignalPolicy::UNVALIDATED`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalPolicy>,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { temperature: 1.0, interval_delta: 0.0, interval_delta_by_bucket: None, band_blend: None, signal: None }
    }
}

impl Calibration {
    /// The network's label-scale quantiles after the band blend (unchanged without one).
    #[must_use]
    pub fn blended(&self, q: [f64; 3]) -> [f64; 3] {
        self.band_blend.map_or(q, |b| b.apply(q))
    }

    /// The interval adjustment at an instant of time-of-day bucket `bucket`
    /// ([`crate::volatility::time_of_day_bucket`]; [`crate::volatility::NO_BUCKET`] outside the regular session).
    #[must_use]
    pub fn interval_delta_at(&self, bucket: u8) -> f64 {
        self.interval_delta_by_bucket
            .and_then(|d| d.get(usize::from(bucket)).copied())
            .filter(|d| d.is_finite())
            .unwrap_or(self.interval_delta)
    }
}

/// The trading signal of the prediction contract (`mtf-prediction`).
pub use mtf_prediction::Signal;

/// Softmax of `logits / temperature`.
pub fn probabilities(logits: [f64; 3], temperature: f64) -> [f64; 3] {
    let t = if temperature > 0.0 { temperature } else { 1.0 };
    let m = logits.iter().fold(f64::MIN, |a, &b| a.max(b));
    let e = logits.map(|l| ((l - m) / t).exp());
    let s: f64 = e.iter().sum();
    e.map(|v| v / s)
}

/// Signal and confidence from calibrated probabilities (see the module docs).
pub fn signal(p: [f64; 3]) -> (Signal, f64) {
    let top = if p[2] >= p[1] && p[2] >= p[0] {
        2
    } else if p[0] >= p[1] {
        0
    } else {
        1
    };
    let s = match top {
        2 if p[2] - p[0] >= SIGNAL_MARGIN => Signal::Buy,
        0 if p[0] - p[2] >= SIGNAL_MARGIN => Signal::Sell,
        _ => Signal::Hold,
    };
    (s, p[top])
}

/// Fits the temperature on validation logits and classes.
pub fn fit_temperature(logits: &[[f64; 3]], classes: &[usize]) -> f64 {
    let nll = |t: f64| -> f64 {
        logits.iter().zip(classes).map(|(l, &c)| -probabilities(*l, t)[c.min(2)].max(1e-12).ln()).sum::<f64>()
    };
    let mut best = (1.0, nll(1.0));
    let mut t = 0.25;
    while t <= 10.0 {
        let v = nll(t);
        if v < best.1 {
            best = (t, v);
        }
        t += 0.05;
    }
    best.0
}

/// Conformal δ for an 80 % interval from validation quantiles `[q10, q50, q90]` and outcomes (same units).
pub fn fit_interval_delta(quantiles: &[[f64; 3]], y: &[f64]) -> f64 {
    let mut scores: Vec<f64> = quantiles.iter().zip(y).map(|(q, &y)| (q[0] - y).max(y - q[2])).collect();
    if scores.is_empty() {
        return 0.0;
    }
    scores.sort_by(f64::total_cmp);
    let k = ((INTERVAL_LEVEL * (scores.len() + 1) as f64).ceil() as usize).clamp(1, scores.len());
    scores[k - 1]
}

/// Per time-of-day bucket conformal `δ_b` from validation quantiles, outcomes and each sample's bucket: the
/// pooled rule on each bucket's samples, `pooled` for buckets with fewer than [`MIN_BUCKET_SAMPLES`]. `None`
/// when no sample has a bucket (daily bases).
#[must_use]
pub fn fit_interval_delta_by_bucket(
    quantiles: &[[f64; 3]],
    y: &[f64],
    buckets: &[u8],
    pooled: f64,
) -> Option<[f64; TIME_OF_DAY_BUCKETS]> {
    if !buckets.iter().any(|&b| usize::from(b) < TIME_OF_DAY_BUCKETS) {
        return None;
    }
    Some(std::array::from_fn(|b| {
        let (q, v): (Vec<[f64; 3]>, Vec<f64>) = quantiles
            .iter()
            .zip(y)
            .zip(buckets)
            .filter(|(_, k)| usize::from(**k) == b)
            .map(|((q, &y), _)| (*q, y))
            .unzip();
        if v.len() < MIN_BUCKET_SAMPLES { pooled } else { fit_interval_delta(&q, &v) }
    }))
}

/// Applies δ, keeping `q10 ≤ q50 ≤ q90`.
pub fn adjust_interval(q: [f64; 3], delta: f64) -> [f64; 3] {
    [(q[0] - delta).min(q[1]), q[1], (q[2] + delta).max(q[1])]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signal_rule() {
        assert_eq!(signal([0.2, 0.3, 0.5]), (Signal::Buy, 0.5));
        assert_eq!(signal([0.45, 0.2, 0.35]), (Signal::Sell, 0.45));
        assert_eq!(signal([0.3, 0.32, 0.38]).0, Signal::Hold, "margin 0.08 < 0.10");
        assert_eq!(signal([0.25, 0.35, 0.40]).0, Signal::Buy);
        assert_eq!(signal([0.33, 0.3, 0.37]).0, Signal::Hold, "margin 0.04 < 0.10");
        assert_eq!(signal([0.2, 0.6, 0.2]), (Signal::Hold, 0.6));
    }

    #[test]
    fn temperature_softens_overconfident_logits() {
        // Logits always say "up" with high confidence but are right only half the time.
        let logits: Vec<[f64; 3]> = (0..100).map(|_| [0.0, 0.0, 4.0]).collect();
        let classes: Vec<usize> = (0..100).map(|i| if i % 2 == 0 { 2 } else { 0 }).collect();
        let t = fit_temperature(&logits, &classes);
        assert!(t > 2.0, "{t}");
        let p = probabilities([0.0, 0.0, 4.0], t);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[2] < 0.8);
    }

    #[test]
    fn conformal_delta_reaches_nominal_coverage() {
        let q: Vec<[f64; 3]> = (0..99).map(|_| [-1.0, 0.0, 1.0]).collect();
        let y: Vec<f64> = (0..99).map(|i| (i as f64 - 49.0) / 20.0).collect();
        let d = fit_interval_delta(&q, &y);
        let covered = y.iter().filter(|&&v| v >= -1.0 - d && v <= 1.0 + d).count();
        assert!((79..=81).contains(&covered), "{covered} of 99 with δ {d}");
        assert_eq!(adjust_interval([-1.0, 0.0, 1.0], -5.0), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn time_of_day_deltas_by_hand() {
        // Bucket 0: 49 outcomes at distance 0.1·k outside a [-1, 1] band (k = 1..=49): the ⌈0.8·50⌉ = 40th score
        // is 4.0. Bucket 1: 49 outcomes inside, scores -(1 - |y|) = -0.02·k: the 40th smallest is -0.02·10 = -0.2.
        // Bucket 2: 10 samples (< MIN_BUCKET_SAMPLES): the pooled δ. No sample elsewhere: the pooled δ.
        let mut q = Vec::new();
        let mut y = Vec::new();
        let mut b = Vec::new();
        for k in 1..=49 {
            q.push([-1.0, 0.0, 1.0]);
            y.push(1.0 + 0.1 * f64::from(k));
            b.push(0);
            q.push([-1.0, 0.0, 1.0]);
            y.push(1.0 - 0.02 * f64::from(50 - k));
            b.push(1);
        }
        for _ in 0..10 {
            q.push([-1.0, 0.0, 1.0]);
            y.push(50.0);
            b.push(2);
        }
        q.push([-1.0, 0.0, 1.0]);
        y.push(0.0);
        b.push(crate::volatility::NO_BUCKET);
        let d = fit_interval_delta_by_bucket(&q, &y, &b, 0.25).unwrap();
        assert!((d[0] - 4.0).abs() < 1e-12, "{}", d[0]);
        assert!((d[1] + 0.2).abs() < 1e-12, "{}", d[1]);
        assert_eq!(d[2..], [0.25; 5]);
        let cal = Calibration { interval_delta: 0.25, interval_delta_by_bucket: Some(d), ..Calibration::default() };
        assert_eq!(cal.interval_delta_at(0), d[0]);
        assert_eq!(cal.interval_delta_at(crate::volatility::NO_BUCKET), 0.25, "outside the session: pooled");
        assert_eq!(Calibration { interval_delta: 0.3, ..Calibration::default() }.interval_delta_at(1), 0.3);
        // Daily bases: no bucket at all.
        assert_eq!(fit_interval_delta_by_bucket(&q[..1], &y[..1], &[crate::volatility::NO_BUCKET], 0.1), None);
    }

    #[test]
    fn band_blend_by_hand() {
        let b = BandBlend { weight: 0.25, anchor: [-1.0, 0.0, 1.0] };
        // 0.25·(−2, 0.4, 3) + 0.75·(−1, 0, 1) = (−1.25, 0.1, 1.5).
        let q = b.apply([-2.0, 0.4, 3.0]);
        for (a, e) in q.iter().zip([-1.25, 0.1, 1.5]) {
            assert!((a - e).abs() < 1e-12, "{q:?}");
        }
        assert_eq!(BandBlend { weight: 1.0, ..b }.apply([-2.0, 0.4, 3.0]), [-2.0, 0.4, 3.0]);
        assert_eq!(BandBlend { weight: 0.0, ..b }.apply([-2.0, 0.4, 3.0]), [-1.0, 0.0, 1.0]);
        let cal = Calibration { band_blend: Some(b), ..Calibration::default() };
        assert_eq!(cal.blended([-2.0, 0.4, 3.0]), q);
        assert_eq!(Calibration::default().blended([-2.0, 0.4, 3.0]), [-2.0, 0.4, 3.0]);
        let back: Calibration = serde_json::from_str(&serde_json::to_string(&cal).unwrap()).unwrap();
        assert_eq!(back, cal);
    }

    #[test]
    fn time_of_day_deltas_survive_json() {
        let cal = Calibration {
            interval_delta_by_bucket: Some([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]),
            ..Calibration::default()
        };
        let back: Calibration = serde_json::from_str(&serde_json::to_string(&cal).unwrap()).unwrap();
        assert_eq!(back, cal);
        let old: Calibration = serde_json::from_str(r#"{"temperature":1.0,"interval_delta":0.2}"#).unwrap();
        assert_eq!(old.interval_delta_by_bucket, None, "artifacts from before it read as pooled");
    }
}
