//! Reference distributions of the model's inputs, for drift: equal-mass bins of each feature's training values,
//! kept in the artifact so a later sample (the edge's own predictions, a retrain's recent days) can be compared
//! with training without the training data, by the population stability index.
//!
//! Values are the **normalised** inputs of a window's newest step (one row of `K × F` per sample); the
//! normalisation is a monotone map per feature, which equal-mass bins do not see, so PSI on normalised values
//! equals PSI on raw ones.

use serde::{Deserialize, Serialize};

use mtf_market::Timeframe;

/// Equal-mass bins of a reference sample: inner edges at its `k/bins` quantiles and its share in each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    /// Inner bin edges, ascending (duplicates collapsed: a discrete feature has fewer bins); a value `v` falls in
    /// bin `#{e ≤ v}`.
    pub edges: Vec<f64>,
    /// The reference's share in each bin (`edges.len() + 1` of them), floored at [`MIN_SHARE`].
    pub shares: Vec<f64>,
}

/// Floor of a bin's share, so an empty bin keeps PSI finite.
pub const MIN_SHARE: f64 = 1e-4;

/// Bins the reference drift is measured with.
pub const DRIFT_BINS: usize = 10;

impl Bins {
    /// Bins of `reference` (non-finite values ignored); `None` with fewer than `bins` finite values.
    #[must_use]
    pub fn of(reference: &[f64], bins: usize) -> Option<Bins> {
        let mut r: Vec<f64> = reference.iter().copied().filter(|v| v.is_finite()).collect();
        if bins < 2 || r.len() < bins {
            return None;
        }
        r.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..bins).map(|k| r[(k * r.len()) / bins]).collect();
        edges.dedup();
        let shares = Self::count(&edges, &r);
        Some(Bins { edges, shares })
    }

    fn count(edges: &[f64], xs: &[f64]) -> Vec<f64> {
        let mut c = vec![0usize; edges.len() + 1];
        for &v in xs {
            c[edges.partition_point(|e| *e <= v)] += 1;
        }
        c.iter().map(|&n| (n as f64 / xs.len() as f64).max(MIN_SHARE)).collect()
    }

    /// Population stability index `Σ (a − e) · ln(a / e)` of `recent` against these bins (non-finite values
    /// ignored); `None` with fewer finite values than bins.
    ///
    /// Reading (the usual credit-scoring convention): < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.
    #[must_use]
    pub fn psi(&self, recent: &[f64]) -> Option<f64> {
        let a: Vec<f64> = recent.iter().copied().filter(|v| v.is_finite()).collect();
        if a.len() < self.shares.len() {
            return None;
        }
        let a = Self::count(&self.edges, &a);
        Some(self.shares.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum())
    }
}

/// PSI of `recent` against `bins` equal-mass bins of `reference`; `None` when either has fewer than `bins`
/// finite values.
#[must_use]
pub fn psi(reference: &[f64], recent: &[f64], bins: usize) -> Option<f64> {
    let b = Bins::of(reference, bins)?;
    if recent.iter().filter(|v| v.is_finite()).count() < bins {
        return None;
    }
    b.psi(recent)
}

/// The training distribution of every input: bins per timeframe and feature of the newest window step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReference {
    /// Timeframes, in window order.
    pub timeframes: Vec<Timeframe>,
    /// `[K][F]` bins (`None` where the feature had too few finite training values).
    pub bins: Vec<Vec<Option<Bins>>>,
    /// Training samples the bins were taken from.
    pub samples: usize,
}

impl FeatureReference {
    /// Fits on `rows` (each `K × F` values, timeframe-major, as a window's newest step).
    #[must_use]
    pub fn fit(rows: &[Vec<f64>], timeframes: &[Timeframe], features: usize, bins: usize) -> FeatureReference {
        let k = timeframes.len();
        let bins = (0..k)
            .map(|tf| {
                (0..features)
                    .map(|j| {
                        let col: Vec<f64> = rows.iter().filter_map(|r| r.get(tf * features + j).copied()).collect();
                        Bins::of(&col, bins)
                    })
                    .collect()
            })
            .collect();
        FeatureReference { timeframes: timeframes.to_vec(), bins, samples: rows.len() }
    }

    /// Per timeframe, the largest PSI over its features of `rows` (shaped as in [`Self::fit`]); a timeframe is
    /// left out when no feature has enough values.
    #[must_use]
    pub fn psi_by_timeframe(&self, rows: &[Vec<f64>]) -> Vec<(Timeframe, f64)> {
        let mut out = Vec::new();
        for (tf, (t, feats)) in self.timeframes.iter().zip(&self.bins).enumerate() {
            let f = feats.len();
            let worst = feats
                .iter()
                .enumerate()
                .filter_map(|(j, b)| {
                    let col: Vec<f64> = rows.iter().filter_map(|r| r.get(tf * f + j).copied()).collect();
                    b.as_ref()?.psi(&col)
                })
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            if let Some(w) = worst {
                out.push((*t, w));
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn identical_samples_have_zero_psi_and_a_shift_is_large() {
        let r: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        assert!(psi(&r, &r, 10).unwrap().abs() < 1e-12);
        let shifted: Vec<f64> = r.iter().map(|x| x + 0.5).collect();
        assert!(psi(&r, &shifted, 10).unwrap() > 1.0);
        assert_eq!(psi(&r[..5], &r, 10), None);
        assert_eq!(psi(&r, &r[..5], 10), None);
    }

    #[test]
    fn psi_matches_a_hand_computation() {
        // Reference 0..100 in 4 bins (edges 25, 50, 75): shares 0.25 each. Recent: 50 values in bin 0, 50 in
        // bin 3 → shares 0.5, 1e-4, 1e-4, 0.5.
        let r: Vec<f64> = (0..100).map(f64::from).collect();
        let a: Vec<f64> = (0..50).map(|_| 1.0).chain((0..50).map(|_| 99.0)).collect();
        let e = 0.25f64;
        let want = 2.0 * (0.5 - e) * (0.5 / e).ln() + 2.0 * (1e-4 - e) * (1e-4 / e).ln();
        assert!((psi(&r, &a, 4).unwrap() - want).abs() < 1e-12);
        let b = Bins::of(&r, 4).unwrap();
        assert_eq!(b.edges, vec![25.0, 50.0, 75.0]);
        assert!((b.psi(&a).unwrap() - want).abs() < 1e-12, "stored bins give the same number");
    }

    #[test]
    fn a_reference_survives_serialisation_and_measures_per_timeframe() {
        let tfs = [Timeframe::M15, Timeframe::H1];
        // Two timeframes × two features; the second timeframe's first feature shifts in the recent rows.
        let row = |i: f64, shift: f64| vec![i, -i, i + shift, 2.0 * i];
        let train: Vec<Vec<f64>> = (0..500).map(|i| row(f64::from(i) / 500.0, 0.0)).collect();
        let recent: Vec<Vec<f64>> = (0..200).map(|i| row(f64::from(i) / 200.0, 0.7)).collect();
        let r = FeatureReference::fit(&train, &tfs, 2, DRIFT_BINS);
        let back: FeatureReference = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let by_tf = back.psi_by_timeframe(&recent);
        assert_eq!(by_tf.len(), 2);
        assert!(by_tf[0].1 < 0.05, "{by_tf:?}");
        assert!(by_tf[1].1 > 1.0, "{by_tf:?}");
        assert!(back.psi_by_timeframe(&recent[..3]).is_empty(), "too few values: not measured");
    }

    proptest! {
        #[test]
        fn psi_is_finite_and_non_negative(r in prop::collection::vec(-1e6f64..1e6, 20..200),
                                          a in prop::collection::vec(-1e6f64..1e6, 20..200)) {
            let v = psi(&r, &a, 10).unwrap();
            prop_assert!(v.is_finite() && v >= -1e-12, "{v}");
        }
    }
}
