//! Model input windows: `[B, T, K, F]` values and a `[B, T, K]` mask as of prediction instants.
//!
//! For instant τ and timeframe k, slot `T−1` holds the newest bar whose end ≤ τ, slot `T−2` the one before,
//! and so on. A slot is masked (`0`, values 0) when the bar does not exist (history too short) or its
//! features are still warming up. Gaps between bars stay gaps: see the `time_since_prev` feature and
//! [`mtf_market::align::Gap`].

use chrono::{DateTime, Utc};

use crate::frames::MultiTimeframe;
use crate::normalize::{NormError, NormStats};
use crate::spec::N_FEATURES;

/// Windows for a batch of instants.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// Batch size B (number of instants).
    pub batch: usize,
    /// Lookback T.
    pub lookback: usize,
    /// Timeframes K.
    pub timeframes: usize,
    /// Features F.
    pub features: usize,
    /// Row-major `[B, T, K, F]`.
    pub values: Vec<f32>,
    /// Row-major `[B, T, K]`, 1 where the slot holds a complete bar with defined features.
    pub mask: Vec<u8>,
}

impl Windows {
    /// Flat index of `(b, t, k, 0)` in `values`.
    pub fn offset(&self, b: usize, t: usize, k: usize) -> usize {
        ((b * self.lookback + t) * self.timeframes + k) * self.features
    }
}

/// Builds windows of `lookback` steps for every instant. With `norm`, values are standardised and clipped
/// with training statistics; without, raw feature values are returned.
///
/// # Errors
/// [`NormError::Mismatch`] when `norm` was fit for another spec or other timeframes.
pub fn build_windows(
    mtf: &MultiTimeframe,
    instants: &[DateTime<Utc>],
    lookback: usize,
    norm: Option<&NormStats>,
) -> Result<Windows, NormError> {
    if let Some(n) = norm {
        n.check(&mtf.timeframes())?;
    }
    let k_count = mtf.frames.len();
    let mut w = Windows {
        batch: instants.len(),
        lookback,
        timeframes: k_count,
        features: N_FEATURES,
        values: vec![0.0; instants.len() * lookback * k_count * N_FEATURES],
        mask: vec![0; instants.len() * lookback * k_count],
    };
    for (b, &tau) in instants.iter().enumerate() {
        for (k, frame) in mtf.frames.iter().enumerate() {
            let window = frame.series.window(tau, lookback);
            for (t, idx) in window.indices.iter().enumerate() {
                let Some(i) = *idx else { continue };
                if !frame.row_valid(i) {
                    continue;
                }
                w.mask[(b * lookback + t) * k_count + k] = 1;
                let off = w.offset(b, t, k);
                for (f, &x) in frame.row(i).iter().enumerate() {
                    let v = norm.map_or(x, |n| n.apply(k, f, x));
                    w.values[off + f] = v as f32;
                }
            }
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use mtf_market::session::SessionFilter;
    use mtf_market::{Bar, Timeframe};

    #[test]
    fn shape_alignment_and_warmup_mask() {
        let open = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap();
        let bars: Vec<Bar> = (0..390)
            .map(|m| {
                let c = 100.0 + (m as f64 * 0.37).sin();
                Bar::new(open + Duration::minutes(m), c, c + 0.1, c - 0.1, c, 1000.0).unwrap()
            })
            .collect();
        let mtf =
            MultiTimeframe::from_minutes(&bars, None, &[Timeframe::M1, Timeframe::M5], SessionFilter::Regular).unwrap();
        let tau = open + Duration::minutes(100);
        let w = build_windows(&mtf, &[tau, open], 64, None).unwrap();
        assert_eq!((w.batch, w.lookback, w.timeframes, w.features), (2, 64, 2, N_FEATURES));
        assert_eq!(w.values.len(), 2 * 64 * 2 * N_FEATURES);
        assert_eq!(w.mask.len(), 2 * 64 * 2);
        let m = |b: usize, t: usize, k: usize| w.mask[(b * 64 + t) * 2 + k];
        // 1m at τ = 09:30+100: bars 0..=99 complete; features valid from bar 49 → slots for bars 49..=99.
        let valid_1m: usize = (0..64).map(|t| usize::from(m(0, t, 0))).sum();
        assert_eq!(valid_1m, 51);
        assert_eq!(m(0, 63, 0), 1);
        // Newest 1m slot holds bar 99's close return.
        let off = w.offset(0, 63, 0);
        let expected = (bars[99].close() / bars[98].close()).ln() as f32;
        assert_eq!(w.values[off], expected);
        // 5m: 20 complete bars, all still warming up (< 50).
        assert_eq!((0..64).map(|t| usize::from(m(0, t, 1))).sum::<usize>(), 0);
        // At the open nothing is complete.
        assert!((0..64).all(|t| m(1, t, 0) == 0 && m(1, t, 1) == 0));
        // Masked slots are zero.
        assert!(w.values[w.offset(1, 0, 0)..w.offset(1, 0, 0) + N_FEATURES].iter().all(|&x| x == 0.0));
    }
}
