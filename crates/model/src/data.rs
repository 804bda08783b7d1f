//! Supervised data: windows as of each sample's prediction instant, labels, and the train-only target
//! statistics (label scale and the flat band of the direction classes).

use mtf_features::frames::{FeatureError, MultiTimeframe};
use mtf_features::normalize::{NormError, NormStats};
use mtf_features::window::{Windows, build_windows};
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};
use serde::{Deserialize, Serialize};

use crate::labels::{LabelConfig, Sample, make_samples};

/// What the model sees and predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// Input timeframes, in window order.
    pub timeframes: Vec<Timeframe>,
    /// T: steps per timeframe.
    pub lookback: usize,
    /// The timeframe whose bar ends are prediction instants and whose bars count the horizon.
    pub base: Timeframe,
    /// Horizon and overnight policy.
    pub labels: LabelConfig,
    /// Session filter for intraday bars.
    #[serde(default)]
    pub session: SessionFilter,
}

/// Why data cannot be prepared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// Feature computation failed.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Normalisation failed.
    #[error(transparent)]
    Norm(#[from] NormError),
    /// The base timeframe is not among the inputs.
    #[error("base timeframe {0} must be one of the input timeframes")]
    BaseNotInput(Timeframe),
    /// No samples.
    #[error("no labelled samples: the data is too short for the horizon (or every horizon crosses a session)")]
    NoSamples,
}

/// Features of every timeframe plus the labelled samples.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The spec.
    pub spec: DataSpec,
    /// Features per timeframe.
    pub mtf: MultiTimeframe,
    /// Samples in time order.
    pub samples: Vec<Sample>,
}

impl Prepared {
    /// Computes features and samples from 1-minute bars (and optional daily bars for `1d`).
    ///
    /// # Errors
    /// [`DataError`].
    pub fn new(minutes: &[Bar], daily: Option<&[Bar]>, spec: &DataSpec) -> Result<Self, DataError> {
        let mtf = MultiTimeframe::from_minutes(minutes, daily, &spec.timeframes, spec.session)?;
        let k = spec.timeframes.iter().position(|&t| t == spec.base).ok_or(DataError::BaseNotInput(spec.base))?;
        let samples = make_samples(&mtf.frames[k].series, &spec.labels);
        if samples.is_empty() {
            return Err(DataError::NoSamples);
        }
        Ok(Self { spec: spec.clone(), mtf, samples })
    }

    /// Normalised windows for the samples at `idx`.
    ///
    /// # Errors
    /// [`NormError::Mismatch`] when `norm` belongs to other timeframes or another feature spec.
    pub fn windows(&self, idx: &[usize], norm: &NormStats) -> Result<Windows, NormError> {
        let instants: Vec<_> = idx.iter().map(|&i| self.samples[i].at).collect();
        build_windows(&self.mtf, &instants, self.spec.lookback, Some(norm))
    }
}

/// Target statistics fit on training labels only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Population standard deviation of the training labels (log-return units); the model predicts
    /// label / scale.
    pub label_scale: f64,
    /// Half-width of the flat class (log-return units): the 1/3 quantile of |label| in training, so a third of
    /// training samples are flat.
    pub flat_band: f64,
}

impl Targets {
    /// Fits on training labels.
    pub fn fit(labels: &[f64]) -> Self {
        let n = labels.len().max(1) as f64;
        let mean = labels.iter().sum::<f64>() / n;
        let var = labels.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let mut abs: Vec<f64> = labels.iter().map(|x| x.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let flat_band = abs.get(abs.len() / 3).copied().unwrap_or(0.0);
        Self { label_scale: if var > 0.0 { var.sqrt() } else { 1.0 }, flat_band }
    }

    /// Direction class of a log return: 0 down (< −band), 1 flat, 2 up (> band).
    pub fn class_of(&self, r: f64) -> usize {
        if r > self.flat_band {
            2
        } else if r < -self.flat_band {
            0
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_a_third_flat_and_scale_by_std() {
        let labels: Vec<f64> = (0..300).map(|i| (i as f64 - 150.0) * 1e-4).collect();
        let t = Targets::fit(&labels);
        let flat = labels.iter().filter(|&&r| t.class_of(r) == 1).count();
        assert!((95..=105).contains(&flat), "{flat}");
        assert!((t.label_scale - 0.00866).abs() < 1e-4, "{}", t.label_scale);
        assert_eq!(t.class_of(1.0), 2);
        assert_eq!(t.class_of(-1.0), 0);
        assert_eq!(Targets::fit(&[0.0, 0.0]).label_scale, 1.0, "zero spread does not divide by zero");
    }
}
