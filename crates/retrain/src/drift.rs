//! Distribution shift: the population stability index of a feature between a reference sample (the model's
//! training window) and a recent one, and realised volatility for the regime check.

/// Population stability index `Σ (a − e) · ln(a / e)` over `bins` bins whose edges are the reference sample's
/// quantiles (equal-mass bins for the reference), with shares floored at 1e-4 so an empty bin stays finite.
/// Non-finite values are ignored. `None` when either sample has fewer than `bins` finite values.
///
/// Reading (the usual credit-scoring convention): < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.
#[must_use]
pub fn psi(reference: &[f64], recent: &[f64], bins: usize) -> Option<f64> {
    let mut r: Vec<f64> = reference.iter().copied().filter(|v| v.is_finite()).collect();
    let a: Vec<f64> = recent.iter().copied().filter(|v| v.is_finite()).collect();
    if bins < 2 || r.len() < bins || a.len() < bins {
        return None;
    }
    r.sort_by(f64::total_cmp);
    // Inner edges at the reference's k/bins quantiles (duplicates collapse bins of a discrete feature).
    let mut edges: Vec<f64> = (1..bins).map(|k| r[(k * r.len()) / bins]).collect();
    edges.dedup();
    let bin_of = |v: f64| edges.partition_point(|e| *e <= v);
    let shares = |xs: &[f64]| {
        let mut c = vec![0usize; edges.len() + 1];
        for &v in xs {
            c[bin_of(v)] += 1;
        }
        c.iter().map(|&n| (n as f64 / xs.len() as f64).max(1e-4)).collect::<Vec<f64>>()
    };
    let (e, a) = (shares(&r), shares(&a));
    Some(e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum())
}

/// Standard deviation of the log returns between consecutive closes within each segment (e.g. one session: a
/// return across a gap between segments is never taken). `None` with fewer than 2 returns in all or a
/// non-positive close.
#[must_use]
pub fn realised_volatility(segments: &[Vec<f64>]) -> Option<f64> {
    if segments.iter().flatten().any(|c| c.is_nan() || *c <= 0.0) {
        return None;
    }
    let r: Vec<f64> = segments.iter().flat_map(|s| s.windows(2).map(|w| (w[1] / w[0]).ln())).collect();
    if r.len() < 2 {
        return None;
    }
    let mean = r.iter().sum::<f64>() / r.len() as f64;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64;
    Some(var.sqrt())
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
    }

    #[test]
    fn volatility_of_a_constant_growth_is_zero_and_gaps_between_segments_are_not_returns() {
        let c: Vec<f64> = (0..10).map(|i| 100.0 * 1.01f64.powi(i)).collect();
        assert!(realised_volatility(std::slice::from_ref(&c)).unwrap() < 1e-12);
        // The same growth years later at another price level: no jump between the segments is counted.
        let later: Vec<f64> = c.iter().map(|x| x * 3.0).collect();
        assert!(realised_volatility(&[c, later]).unwrap() < 1e-12);
        assert_eq!(realised_volatility(&[vec![1.0, 0.0, 2.0]]), None);
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
