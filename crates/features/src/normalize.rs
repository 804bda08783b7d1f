//! Normalisation statistics: fit on a training slice only, applied identically at inference.
//!
//! For each timeframe k and feature f: `z = clamp((x − mean[k][f]) / std[k][f], −clip, clip)`, with `std` the
//! population standard deviation over the **training rows only** (bars whose end ≤ the training cut-off and
//! whose features are all defined). A feature with zero spread maps to 0.

use chrono::{DateTime, Utc};
use mtf_market::Timeframe;
use serde::{Deserialize, Serialize};

use crate::frames::MultiTimeframe;
use crate::spec::{N_FEATURES, spec_id};

/// Why statistics cannot be fit or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormError {
    /// No valid training rows for a timeframe.
    #[error("no complete feature rows of {0} end by the training cut-off: cannot fit normalisation")]
    NoTrainingRows(Timeframe),
    /// Statistics were fit for other timeframes or another feature spec.
    #[error("normalisation statistics do not match: {0}")]
    Mismatch(String),
    /// Clip must be positive.
    #[error("clip must be a positive finite number (got {0})")]
    BadClip(f64),
}

/// Serialisable normalisation statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormStats {
    /// Feature-spec identifier the statistics belong to.
    pub spec_id: String,
    /// Timeframes, in window order.
    pub timeframes: Vec<Timeframe>,
    /// `[K][N_FEATURES]` means.
    pub mean: Vec<Vec<f64>>,
    /// `[K][N_FEATURES]` population standard deviations.
    pub std: Vec<Vec<f64>>,
    /// Symmetric clip applied after standardising.
    pub clip: f64,
    /// Last bar end (UTC) included in the fit.
    pub fit_until: DateTime<Utc>,
    /// Training rows used per timeframe.
    pub rows: Vec<usize>,
}

impl NormStats {
    /// Fits on the rows of `mtf` whose bar **end** ≤ `train_end` (and whose features are all defined).
    ///
    /// # Errors
    /// [`NormError::NoTrainingRows`] when a timeframe has no such row; [`NormError::BadClip`].
    pub fn fit(mtf: &MultiTimeframe, train_end: DateTime<Utc>, clip: f64) -> Result<Self, NormError> {
        Self::fit_pooled(&[mtf], train_end, clip)
    }

    /// [`NormStats::fit`] over the rows of several symbols' features at once (pooled training): one mean and
    /// standard deviation per timeframe and feature, from every row of every `mtfs` complete by `train_end`.
    /// All must have the same timeframes; with one it is exactly [`NormStats::fit`].
    ///
    /// # Errors
    /// As [`NormStats::fit`]; [`NormError::Mismatch`] when the timeframes differ or `mtfs` is empty.
    pub fn fit_pooled(mtfs: &[&MultiTimeframe], train_end: DateTime<Utc>, clip: f64) -> Result<Self, NormError> {
        if !(clip.is_finite() && clip > 0.0) {
            return Err(NormError::BadClip(clip));
        }
        let first = mtfs.first().ok_or_else(|| NormError::Mismatch("no features to fit on".into()))?;
        let timeframes = first.timeframes();
        if let Some(other) = mtfs.iter().find(|m| m.timeframes() != timeframes) {
            return Err(NormError::Mismatch(format!("timeframes {:?} and {:?}", timeframes, other.timeframes())));
        }
        let (mut mean, mut std, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for (k, tf) in timeframes.iter().enumerate() {
            let valid: Vec<(&MultiTimeframe, usize)> = mtfs
                .iter()
                .flat_map(|m| {
                    let frame = &m.frames[k];
                    let n = frame.series.complete_count(train_end);
                    (0..n).filter(|&i| frame.row_valid(i)).map(move |i| (*m, i))
                })
                .collect();
            if valid.is_empty() {
                return Err(NormError::NoTrainingRows(*tf));
            }
            let count = valid.len() as f64;
            let mut m = vec![0.0; N_FEATURES];
            for &(mtf, i) in &valid {
                for (a, x) in m.iter_mut().zip(mtf.frames[k].row(i)) {
                    *a += x;
                }
            }
            m.iter_mut().for_each(|a| *a /= count);
            let mut s = vec![0.0; N_FEATURES];
            for &(mtf, i) in &valid {
                for ((a, x), mu) in s.iter_mut().zip(mtf.frames[k].row(i)).zip(&m) {
                    *a += (x - mu) * (x - mu);
                }
            }
            s.iter_mut().for_each(|a| *a = (*a / count).sqrt());
            mean.push(m);
            std.push(s);
            rows.push(valid.len());
        }
        Ok(Self { spec_id: spec_id(), timeframes, mean, std, clip, fit_until: train_end, rows })
    }

    /// Checks that these statistics belong to the current feature spec and to `timeframes`.
    ///
    /// # Errors
    /// [`NormError::Mismatch`] naming what differs.
    pub fn check(&self, timeframes: &[Timeframe]) -> Result<(), NormError> {
        if self.spec_id != spec_id() {
            return Err(NormError::Mismatch(format!(
                "fit for feature spec {}, this build computes {}",
                self.spec_id,
                spec_id()
            )));
        }
        if self.timeframes != timeframes {
            return Err(NormError::Mismatch(format!(
                "fit for timeframes {:?}, asked for {timeframes:?}",
                self.timeframes
            )));
        }
        Ok(())
    }

    /// Standardises and clips one feature value of timeframe index `k`.
    #[inline]
    pub fn apply(&self, k: usize, f: usize, x: f64) -> f64 {
        let sd = self.std[k][f];
        if sd > 0.0 { ((x - self.mean[k][f]) / sd).clamp(-self.clip, self.clip) } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::MultiTimeframe;
    use chrono::{Duration, TimeZone};
    use mtf_market::Bar;
    use mtf_market::session::SessionFilter;

    fn minutes(days: i64, scale_after: Option<(usize, f64)>) -> Vec<Bar> {
        let mut out = Vec::new();
        let mut p = 50.0;
        for d in 0..days {
            let open = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap() + Duration::days(d);
            if matches!(d % 7, 5 | 6) {
                continue;
            }
            for m in 0..390 {
                let i = out.len();
                let wiggle = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                p *= 1.0 + wiggle * 0.002;
                let k = match scale_after {
                    Some((cut, s)) if i >= cut => s,
                    _ => 1.0,
                };
                let c = p * k;
                out.push(
                    Bar::new(open + Duration::minutes(m), c, c * 1.001, c * 0.999, c, 100.0 + (i % 17) as f64).unwrap(),
                );
            }
        }
        out
    }

    #[test]
    fn fit_uses_only_training_rows_and_round_trips() {
        let tfs = [Timeframe::M1, Timeframe::M15];
        let base = minutes(10, None);
        let cut = base.len() / 2;
        let train_end = base[cut].start();
        let a = MultiTimeframe::from_minutes(&base, None, &tfs, SessionFilter::Regular).unwrap();
        // Make the data after the cut-off wildly different: the statistics must not move.
        let b_bars = minutes(10, Some((cut, 3.0)));
        let b = MultiTimeframe::from_minutes(&b_bars, None, &tfs, SessionFilter::Regular).unwrap();
        let sa = NormStats::fit(&a, train_end, 5.0).unwrap();
        let sb = NormStats::fit(&b, train_end, 5.0).unwrap();
        assert_eq!(sa, sb);
        assert!(sa.rows[0] > 100);
        let json = serde_json::to_string(&sa).unwrap();
        assert_eq!(serde_json::from_str::<NormStats>(&json).unwrap(), sa);
        // Clipping.
        assert_eq!(sa.apply(0, 0, 1e9), 5.0);
        assert_eq!(sa.apply(0, 0, -1e9), -5.0);
    }

    #[test]
    fn mismatches_and_bad_input_are_errors() {
        let bars = minutes(5, None);
        let mtf = MultiTimeframe::from_minutes(&bars, None, &[Timeframe::M5], SessionFilter::Regular).unwrap();
        let early = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(NormStats::fit(&mtf, early, 5.0), Err(NormError::NoTrainingRows(Timeframe::M5))));
        assert!(matches!(NormStats::fit(&mtf, bars[1000].start(), 0.0), Err(NormError::BadClip(_))));
        let mut s = NormStats::fit(&mtf, bars[1000].start(), 5.0).unwrap();
        assert!(s.check(&[Timeframe::M5]).is_ok());
        let e = s.check(&[Timeframe::M1]).unwrap_err();
        assert!(e.to_string().contains("timeframes"), "{e}");
        s.spec_id = "mtf-fs0-0000".into();
        assert!(s.check(&[Timeframe::M5]).unwrap_err().to_string().contains("feature spec"));
    }
}
