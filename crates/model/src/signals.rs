//! Signals that earn their confidence: the policy that turns direction probabilities into buy / sell / hold,
//! fit on the validation set, and the position size served with every prediction.
//!
//! **Policy** ([`fit`]). A candidate signal is the margin rule of [`crate::calibration::signal`] with the margin
//! `m` taken from [`MARGINS`]: buy when up is the most probable class and `p(up) − p(down) ≥ m`, sell
//! symmetrically. A buy *hits* when the outcome's class is up, a sell when it is down. For each margin the
//! validation samples give the hit rate `h` of its signals, its one-sided Wilson lower bound `l` at
//! [`CONFIDENCE`] — Bonferroni-corrected for the `|MARGINS|` margins tried, so that choosing the best margin does not
//! inflate the bound — and the **base rate** `b`: the mean, over the same signals, of the validation frequency of
//! the class each signal bets on (what a signal that knew nothing would hit). A margin qualifies when it gives at
//! least [`MIN_SIGNALS`] signals and `l > b`; the policy keeps the qualifying margin with the largest `l − b`
//! (the smallest margin on a tie). When none qualifies the policy is **hold only**: the model showed no skill
//! at calling direction, and it says so instead of signalling.
//!
//! **Validated edge** `e = (l − b) / (1 − b)` ∈ [0, 1): how far the lower bound of the hit rate lies from the base
//! rate toward certainty (0 for a hold-only policy).
//!
//! **Position** ([`position`]): `direction × e × min(1, RISK_PER_TRADE ÷ σ)`, a signed fraction of equity, where
//! `σ` is the predicted standard deviation of the horizon log return read off the served q10–q90 band
//! (`(q90 − q10) / (2 · 1.2816)`). Volatility targeting sizes by risk; the edge factor scales it by what
//! validation showed, so a model without validated skill never suggests a position and one with a thin edge
//! suggests a small one.

use serde::{Deserialize, Serialize};

use crate::calibration::Signal;

/// Margins `p(up) − p(down)` (or the reverse) tried by [`fit`]: 0, 0.025, …, 0.5.
pub const MARGINS: [f64; 21] = {
    let mut m = [0.0; 21];
    let mut i = 0;
    while i < 21 {
        m[i] = i as f64 * 0.025;
        i += 1;
    }
    m
};

/// Confidence of the one-sided lower bound on the hit rate (before the Bonferroni correction over [`MARGINS`]).
pub const CONFIDENCE: f64 = 0.95;

/// Fewest validation signals a margin needs to qualify.
pub const MIN_SIGNALS: usize = 30;

/// Fraction of equity risked per trade by the volatility-targeting rule (one predicted σ of the horizon).
pub const RISK_PER_TRADE: f64 = 0.005;

/// z of the 90th percentile of the standard normal: the q10–q90 band spans ±1.2816 σ.
const Z90: f64 = 1.281_551_565_544_600_4;

/// The signal policy fit on validation (see the module docs). Stored in the artifact's calibration and shown
/// in the model's info.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SignalPolicy {
    /// The margin a buy or sell needs; null (`None`): no margin showed skill on validation, every signal is hold.
    pub margin: Option<f64>,
    /// Hit rate of the validation signals at `margin` (of the best-scoring margin when `margin` is null).
    pub hit_rate: f64,
    /// One-sided lower confidence bound of `hit_rate` (Wilson, [`CONFIDENCE`], Bonferroni over the margins).
    pub hit_rate_lower: f64,
    /// What the same signals would hit by chance: mean validation frequency of the class each one bets on.
    pub base_rate: f64,
    /// Validation signals at that margin.
    pub signals: usize,
    /// Validation samples the policy was fit on.
    pub samples: usize,
    /// Validated edge `(hit_rate_lower − base_rate) / (1 − base_rate)`, in [0, 1); 0 when `margin` is `None`.
    pub edge: f64,
}

impl SignalPolicy {
    /// The policy of an artifact that carries none (written before policies existed): hold only.
    pub const UNVALIDATED: SignalPolicy = SignalPolicy {
        margin: None,
        hit_rate: 0.0,
        hit_rate_lower: 0.0,
        base_rate: 0.0,
        signals: 0,
        samples: 0,
        edge: 0.0,
    };

    /// The signal for calibrated probabilities `[down, flat, up]`, and its confidence (the probability of the
    /// most probable class, as before).
    #[must_use]
    pub fn signal(&self, p: [f64; 3]) -> (Signal, f64) {
        let (_, confidence) = crate::calibration::signal(p);
        match self.margin {
            Some(m) => (candidate(p, m), confidence),
            None => (Signal::Hold, confidence),
        }
    }
}

/// The margin rule at margin `m`: buy / sell / hold.
fn candidate(p: [f64; 3], m: f64) -> Signal {
    let up_top = p[2] >= p[1] && p[2] >= p[0];
    let down_top = !up_top && p[0] >= p[1];
    if up_top && p[2] - p[0] >= m {
        Signal::Buy
    } else if down_top && p[0] - p[2] >= m {
        Signal::Sell
    } else {
        Signal::Hold
    }
}

/// Fits the policy on validation probabilities `[down, flat, up]` and outcome classes (0 down, 1 flat, 2 up).
#[must_use]
pub fn fit(probs: &[[f64; 3]], classes: &[usize]) -> SignalPolicy {
    let n = probs.len().min(classes.len());
    let mut freq = [0.0_f64; 3];
    for &c in &classes[..n] {
        freq[c.min(2)] += 1.0;
    }
    if n > 0 {
        freq = freq.map(|f| f / n as f64);
    }
    let z = normal_quantile(1.0 - (1.0 - CONFIDENCE) / MARGINS.len() as f64);
    let mut best: Option<SignalPolicy> = None;
    let mut best_any: Option<SignalPolicy> = None;
    for &m in &MARGINS {
        let (mut signals, mut hits, mut base) = (0usize, 0usize, 0.0);
        for (p, &c) in probs[..n].iter().zip(&classes[..n]) {
            let bet = match candidate(*p, m) {
                Signal::Buy => 2,
                Signal::Sell => 0,
                Signal::Hold => continue,
            };
            signals += 1;
            hits += usize::from(c == bet);
            base += freq[bet];
        }
        if signals == 0 {
            continue;
        }
        let hit_rate = hits as f64 / signals as f64;
        let base_rate = base / signals as f64;
        let lower = wilson_lower(hits, signals, z);
        let p = SignalPolicy {
            margin: Some(m),
            hit_rate,
            hit_rate_lower: lower,
            base_rate,
            signals,
            samples: n,
            edge: ((lower - base_rate) / (1.0 - base_rate)).clamp(0.0, 1.0),
        };
        let excess = lower - base_rate;
        if best_any.is_none_or(|b| excess > b.hit_rate_lower - b.base_rate) {
            best_any = Some(p);
        }
        if signals >= MIN_SIGNALS && excess > 0.0 && best.is_none_or(|b| excess > b.hit_rate_lower - b.base_rate) {
            best = Some(p);
        }
    }
    best.unwrap_or(match best_any {
        // Hold only; the numbers say how close the best margin came.
        Some(p) => SignalPolicy { margin: None, edge: 0.0, ..p },
        None => SignalPolicy { samples: n, ..SignalPolicy::UNVALIDATED },
    })
}

/// Suggested position, a signed fraction of equity (+ long, − short): `direction × edge × min(1, RISK_PER_TRADE
/// ÷ σ)` with `σ` from the q10–q90 band `q` of the horizon log return (module docs). 0 on hold, on a degenerate
/// band, and for an edge of 0.
#[must_use]
pub fn position(signal: Signal, edge: f64, q: [f64; 3]) -> f64 {
    // NaN edges give no position either.
    if edge.is_nan() || edge <= 0.0 {
        return 0.0;
    }
    signal.direction() * edge.min(1.0) * risk_factor(q)
}

/// The volatility-targeting factor `min(1, RISK_PER_TRADE ÷ σ)` of a band `q` (0 for a degenerate band).
fn risk_factor(q: [f64; 3]) -> f64 {
    let sigma = (q[2] - q[0]) / (2.0 * Z90);
    if sigma > 0.0 && sigma.is_finite() { (RISK_PER_TRADE / sigma).min(1.0) } else { 0.0 }
}

/// A `position` sized on band `from`, re-sized for band `to` (the same signal and edge): what the live
/// recalibration does when it widens or narrows the served band.
#[must_use]
pub fn resize(position: f64, from: [f64; 3], to: [f64; 3]) -> f64 {
    let f = risk_factor(from);
    if f > 0.0 { position / f * risk_factor(to) } else { 0.0 }
}

/// One-sided Wilson score lower bound of a proportion `k / n` at normal quantile `z`.
#[must_use]
pub fn wilson_lower(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    ((p + z2 / (2.0 * n) - z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n)).max(0.0)
}

/// Quantile function of the standard normal (Acklam's rational approximation, relative error < 1.2e-9),
/// for `p` in (0, 1).
#[must_use]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_python() {
        // Oracle: Python's statistics.NormalDist().inv_cdf(1 - a) for a = 0.05, 0.05/21, 0.025, 0.001.
        for (p, want) in [
            (0.95, 1.644_853_626_951_471_5),
            (1.0 - 0.05 / 21.0, 2.822_713_881_428_936),
            (0.975, 1.959_963_984_540_053_6),
            (0.999, 3.090_232_306_167_813),
        ] {
            let got = normal_quantile(p);
            assert!((got - want).abs() < 1e-8 * want, "{p}: {got} vs {want}");
            assert!((normal_quantile(1.0 - p) + want).abs() < 1e-8 * want);
        }
        assert_eq!(normal_quantile(0.5), 0.0);
    }

    #[test]
    fn wilson_by_hand() {
        // 60 of 100 at z = 1.6449: (0.6 + z²/200 − z·√(0.0024 + z²/40000)) / (1 + z²/100) = 0.517810 (computed
        // in Python from the formula).
        let l = wilson_lower(60, 100, 1.644_853_626_951_472_2);
        assert!((l - 0.517_809_506_434_331_7).abs() < 1e-12, "{l}");
        assert_eq!(wilson_lower(0, 0, 2.0), 0.0);
        assert!(wilson_lower(10, 10, 1.64) < 1.0);
    }

    /// Validation samples where the model is right on `right` of every `of` confident calls.
    fn sample(n: usize, right: usize, of: usize) -> (Vec<[f64; 3]>, Vec<usize>) {
        let (mut p, mut c) = (Vec::new(), Vec::new());
        for i in 0..n {
            // Confident up calls (margin 0.3) alternating with near-flat ones (margin 0.01).
            if i % 2 == 0 {
                p.push([0.2, 0.3, 0.5]);
                c.push(if (i / 2) % of < right { 2 } else { 0 });
            } else {
                p.push([0.33, 0.33, 0.34]);
                c.push([0, 1, 2][i % 3]);
            }
        }
        (p, c)
    }

    #[test]
    fn skill_is_required_and_the_margin_found() {
        // Confident calls right 4 times in 5: the policy trades them and not the near-flat ones.
        let (p, c) = sample(400, 4, 5);
        let pol = fit(&p, &c);
        let m = pol.margin.unwrap();
        assert!(m > 0.01 && m <= 0.3, "{m}");
        assert_eq!(pol.signals, 200);
        assert!((pol.hit_rate - 0.8).abs() < 1e-12);
        assert!(pol.hit_rate_lower > pol.base_rate && pol.edge > 0.0 && pol.edge < 1.0, "{pol:?}");
        assert_eq!(pol.signal([0.2, 0.3, 0.5]).0, Signal::Buy);
        assert_eq!(pol.signal([0.33, 0.33, 0.34]).0, Signal::Hold);
        // Right only as often as the base rate (2 in 4 of the confident calls; up is half of those outcomes):
        // hold only, with the numbers of the best try kept.
        let (p, c) = sample(400, 1, 2);
        let pol = fit(&p, &c);
        assert_eq!(pol.margin, None, "{pol:?}");
        assert_eq!(pol.edge, 0.0);
        assert!(pol.signals > 0 && pol.hit_rate_lower <= pol.base_rate);
        assert_eq!(pol.signal([0.0, 0.0, 1.0]).0, Signal::Hold);
        // Too few signals: hold, however right they were.
        let (p, c) = sample(2 * (MIN_SIGNALS - 1), 1, 1);
        let few: Vec<[f64; 3]> = p.iter().map(|q| if q[2] == 0.34 { [0.3, 0.4, 0.3] } else { *q }).collect();
        assert_eq!(fit(&few, &c).margin, None);
        assert_eq!(fit(&[], &[]).margin, None);
    }

    #[test]
    fn position_scales_with_edge_and_risk() {
        // σ = 0.01 (band ±1.2816 %): volatility targeting gives 0.5 of equity; an edge of 0.2 gives 0.1.
        let q = [-0.01 * Z90, 0.0, 0.01 * Z90];
        assert!((position(Signal::Buy, 0.2, q) - 0.1).abs() < 1e-12);
        assert!((position(Signal::Sell, 0.2, q) + 0.1).abs() < 1e-12);
        assert_eq!(position(Signal::Hold, 0.2, q), 0.0);
        assert_eq!(position(Signal::Buy, 0.0, q), 0.0, "no validated edge, no position");
        assert_eq!(position(Signal::Buy, 0.5, [0.0, 0.0, 0.0]), 0.0, "degenerate band");
        // A tiny σ caps the risk part at a full position; the edge still scales it.
        assert!((position(Signal::Buy, 0.3, [-1e-6, 0.0, 1e-6]) - 0.3).abs() < 1e-12);
        // Twice the band, half the risk factor (below the cap).
        let wide = q.map(|v| 2.0 * v);
        assert!((resize(position(Signal::Buy, 0.2, q), q, wide) - 0.05).abs() < 1e-12);
        // Never a full position from a policy: the edge of any fit is below 1.
        let (p, c) = sample(400, 5, 5);
        assert!(fit(&p, &c).edge < 1.0);
    }
}
