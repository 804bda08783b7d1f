//! Regime change: realised volatility for the volatility trigger. (Feature drift — the population stability
//! index against a model's training distribution — lives with the features, in `mtf_features::reference`.)

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
    use super::*;

    #[test]
    fn volatility_of_a_constant_growth_is_zero_and_gaps_between_segments_are_not_returns() {
        let c: Vec<f64> = (0..10).map(|i| 100.0 * 1.01f64.powi(i)).collect();
        assert!(realised_volatility(std::slice::from_ref(&c)).unwrap() < 1e-12);
        // The same growth years later at another price level: no jump between the segments is counted.
        let later: Vec<f64> = c.iter().map(|x| x * 3.0).collect();
        assert!(realised_volatility(&[c, later]).unwrap() < 1e-12);
        assert_eq!(realised_volatility(&[vec![1.0, 0.0, 2.0]]), None);
    }
}
