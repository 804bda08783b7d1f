//! What a perfectly calibrated band would show on the same number of predictions: the sampling noise a
//! coverage number is read against.
//!
//! A band that covers exactly 80 % of outcomes, with hits independent from one prediction to the next, still
//! shows coverage that wanders: over 100 predictions its coverage has a standard deviation of 4 points, and the
//! worst of several hundred overlapping 100-prediction windows is further out still. Two readings follow:
//!
//! - **Coverage of a group** (a time-of-day bucket, a volatility tercile): the two-sided 95 % Wilson interval
//!   of `k` hits in `n` ([`wilson_interval`]); a group whose interval excludes 0.80 differs from nominal beyond
//!   sampling noise.
//! - **Worst gap over any 100 consecutive predictions** ([`crate::metrics::max_coverage_gap`]): its distribution
//!   for an ideal band on the same per-symbol lengths, by a seeded Monte Carlo ([`ideal_gap`]; deterministic).
//!
//! Both assume independent hits. Predictions whose horizons overlap (every base bar, horizon of several bars)
//! and volatility clustering make real hits positively correlated, which widens the real noise: these are
//! lower bounds of it, so a number outside them is not excused by noise, and one inside them is no evidence of
//! miscalibration.

use serde::{Deserialize, Serialize};

use crate::calibration::INTERVAL_LEVEL;

/// Normal quantile of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Monte Carlo draws of [`ideal_gap`].
pub const DRAWS: usize = 1000;

/// Seed of [`ideal_gap`]'s generator (fixed: the reference is the same on every run).
pub const SEED: u64 = 0x6d74_665f_6761_7073;

/// Tolerance of the live-recalibration goal: coverage within ±3 points over any 100 consecutive predictions.
pub const GAP_GOAL: f64 = 0.03;

/// Two-sided Wilson score interval `[lower, upper]` of a proportion `k / n` at normal quantile `z`
/// (`[0, 1]` when `n` is 0).
#[must_use]
pub fn wilson_interval(k: usize, n: usize, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let k = k.min(n);
    // The Wilson interval is symmetric under k → n − k: the upper bound of p is 1 − the lower bound of 1 − p.
    (crate::signals::wilson_lower(k, n, z), 1.0 - crate::signals::wilson_lower(n - k, n, z))
}

/// Whether `coverage` of `n` predictions is consistent with nominal [`INTERVAL_LEVEL`] (0.80 inside its 95 %
/// Wilson interval).
#[must_use]
pub fn consistent_with_nominal(coverage: f64, n: usize) -> bool {
    let k = (coverage * n as f64).round() as usize;
    let (lo, hi) = wilson_interval(k, n, Z95);
    (lo..=hi).contains(&INTERVAL_LEVEL)
}

/// The worst 100-window coverage gap of an ideal band (exactly [`INTERVAL_LEVEL`] coverage, independent hits)
/// on the same per-symbol prediction counts, over [`DRAWS`] seeded draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GapReference {
    /// Window length (predictions).
    pub window: usize,
    /// Draws.
    pub draws: usize,
    /// Median of the worst gap over the draws.
    pub median: f64,
    /// 95th percentile: a real band's gap above it is beyond sampling noise.
    pub p95: f64,
    /// Share of draws whose worst gap is within [`GAP_GOAL`]: how often an ideal band would meet the ±3-point
    /// goal on these counts.
    pub share_within_goal: f64,
}

/// [`GapReference`] for symbols with `lengths` predictions each (in time order, windows never span two
/// symbols, as in [`crate::metrics::max_coverage_gap`]); `None` when no symbol has `window` predictions.
#[must_use]
pub fn ideal_gap(lengths: &[usize], window: usize) -> Option<GapReference> {
    if window == 0 || !lengths.iter().any(|&l| l >= window) {
        return None;
    }
    let mut rng = SplitMix64(SEED);
    let mut worst: Vec<f64> = (0..DRAWS)
        .map(|_| {
            let mut gap: f64 = 0.0;
            let mut hits: Vec<u32> = Vec::new();
            for &len in lengths {
                // Every symbol draws its hits (so the draws do not depend on which symbols are long enough).
                hits.clear();
                hits.extend((0..len).map(|_| u32::from(rng.unit() < INTERVAL_LEVEL)));
                if len < window {
                    continue;
                }
                let mut inside: u32 = hits[..window].iter().sum();
                gap = gap.max((f64::from(inside) / window as f64 - INTERVAL_LEVEL).abs());
                for j in window..len {
                    inside = inside + hits[j] - hits[j - window];
                    gap = gap.max((f64::from(inside) / window as f64 - INTERVAL_LEVEL).abs());
                }
            }
            gap
        })
        .collect();
    worst.sort_by(f64::total_cmp);
    let at = |q: f64| worst[((q * DRAWS as f64) as usize).min(DRAWS - 1)];
    Some(GapReference {
        window,
        draws: DRAWS,
        median: at(0.5),
        p95: at(0.95),
        share_within_goal: worst.iter().filter(|&&g| within_goal(g)).count() as f64 / DRAWS as f64,
    })
}

/// Whether a gap meets [`GAP_GOAL`] (a hair of tolerance: 0.83 − 0.80 is 0.030000000000000027 in f64).
#[must_use]
pub fn within_goal(gap: f64) -> bool {
    gap <= GAP_GOAL + 1e-9
}

/// SplitMix64 (Steele, Lea & Flood 2014): small, fast, and the same stream on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wilson_by_hand() {
        // 80 of 100 at z 1.959964: centre (0.8 + z²/200)/(1 + z²/100) = 0.788902, half-width
        // z/(1 + z²/100)·√(0.0016 + z²/40000) = 0.077731 → [0.711171, 0.866633] (the textbook [0.7112, 0.8666]).
        let (lo, hi) = wilson_interval(80, 100, Z95);
        assert!((lo - 0.711_171).abs() < 1e-6, "{lo}");
        assert!((hi - 0.866_633).abs() < 1e-6, "{hi}");
        assert_eq!(wilson_interval(0, 0, Z95), (0.0, 1.0));
        let (lo, hi) = wilson_interval(10, 10, Z95);
        assert!(lo > 0.69 && lo < 0.73 && (hi - 1.0).abs() < 1e-12, "{lo} {hi}");
        assert!(consistent_with_nominal(0.75, 100));
        assert!(!consistent_with_nominal(0.769, 1171), "the panel's 10:30 bucket of 2026-12-07");
        assert!(!consistent_with_nominal(0.868, 924));
        assert!(consistent_with_nominal(0.733, 60));
    }

    #[test]
    fn one_window_matches_the_exact_binomial() {
        // One symbol of exactly 100 predictions: the worst gap is |K/100 − 0.8| with K ~ Binomial(100, 0.8), and
        // P(77 ≤ K ≤ 83) = 0.618575 (summed exactly); 1000 draws put the Monte Carlo share within ±0.05 of it
        // (standard error 0.015).
        let r = ideal_gap(&[100], 100).unwrap();
        assert!((r.share_within_goal - 0.618_575).abs() < 0.05, "{}", r.share_within_goal);
        // The median of |K − 80| is 3 (P(|K − 80| ≤ 2) = 0.47, ≤ 3 = 0.62) → 0.03.
        assert!((r.median - 0.03).abs() < 1e-9, "{}", r.median);
        assert!(r.p95 > 0.06 && r.p95 < 0.10, "{}", r.p95);
        assert_eq!(ideal_gap(&[100], 100), Some(r), "seeded: the same every run");
    }

    #[test]
    fn windows_of_one_and_short_symbols() {
        // Window 1: a hit is 0.2 from nominal, a miss 0.8; over 50 predictions a miss is all but certain.
        let r = ideal_gap(&[50], 1).unwrap();
        assert!((r.median - 0.8).abs() < 1e-12 && r.share_within_goal == 0.0);
        assert_eq!(ideal_gap(&[99, 20], 100), None, "no symbol has a full window");
        // More windows, a worse worst gap: 600 predictions sit further out than 100.
        let long = ideal_gap(&[600], 100).unwrap();
        let short = ideal_gap(&[100], 100).unwrap();
        assert!(long.median > short.median && long.share_within_goal < short.share_within_goal);
    }
}
