//! Calibration fit on a validation set (never on the evaluation data), the signal rule, and the interval
//! adjustment.
//!
//! - **Temperature scaling**: direction probabilities are `softmax(logits / T)`, with `T` chosen on the
//!   validation set from a grid over [0.25, 10] to minimise the negative log-likelihood.
//! - **Conformal interval**: with scores `sᵢ = max(q10ᵢ − yᵢ, yᵢ − q90ᵢ)` on the validation set, the interval is
//!   widened (or narrowed) by `δ` = the ⌈0.8·(n+1)⌉-th smallest score, so about 80 % of new outcomes fall inside.
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

/// Calibration parameters stored in the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Softmax temperature.
    pub temperature: f64,
    /// Interval adjustment δ in label-scale units (added to q90, subtracted from q10).
    pub interval_delta: f64,
    /// The signal policy fit on the same validation set ([`crate::signals`]); absent in artifacts written before
    /// policies existed, which signal hold only ([`SignalPolicy::UNVALIDATED`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalPolicy>,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { temperature: 1.0, interval_delta: 0.0, signal: None }
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

/// Applies δ, keeping `q10 ≤ q50 ≤ q90`.
pub fn adjust_interval(q: [f64; 3], delta: f64) -> [f64; 3] {
    [(q[0] - delta).min(q[1]), q[1], (q[2] + delta).max(q[1])]
}

#[cfg(test)]
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
}
