//! Labels and walk-forward folds.
//!
//! A sample is anchored at the **end** of bar `i` of the base timeframe (the prediction instant τ): its inputs
//! are the windows as of τ (only bars with end ≤ τ), its label is `ln(close[i+h] / close[i])` with `h` counted
//! in base-timeframe bars after the last input bar. The label's bars all start at or after τ.
//!
//! **Overnight policy** (documented choice): for an intraday base timeframe, a sample whose horizon would cross
//! into another trading day is dropped unless `cross_session` is set — an overnight gap is a different
//! prediction problem from an intraday move, and mixing them would blur both. Daily bases always cross days.
//!
//! **Folds**: expanding-window walk-forward. Validation blocks are consecutive, non-overlapping runs of
//! samples; each fold trains on the samples before its block whose label ends at least `embargo` base bars
//! before the block's first prediction instant (`embargo ≥ h` is enforced), so no training label overlaps any
//! validation input or label.

use chrono::{DateTime, Utc};
use mtf_market::align::Series;
use mtf_market::session::trading_day_number_ms;
use serde::{Deserialize, Serialize};

/// How labels are made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelConfig {
    /// Horizon in bars of the base timeframe.
    pub horizon: usize,
    /// Allow intraday horizons to cross into the next trading day.
    #[serde(default)]
    pub cross_session: bool,
    /// What the quantile head is trained on (`scale = "fixed"`, the default, or `"trailing_vol"`); not written
    /// when fixed, so artifacts of fixed-scale models read as before.
    #[serde(default, skip_serializing_if = "TargetScale::is_fixed")]
    pub scale: TargetScale,
}

/// The scale the quantile head's target is divided by (fit on training labels, [`crate::data::Targets`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetScale {
    /// One number: the standard deviation of the training labels.
    #[default]
    Fixed,
    /// Per sample: `z · √(h · σ²_τ)`, with σ²_τ the trailing per-bar variance at the sample's instant
    /// (the medium window of [`Sample::vol`]) and `z` the standard deviation of the standardised training labels. The model
    /// then predicts the return in units of the volatility it can see, so its band starts from a realised-volatility
    /// band and learns the corrections.
    TrailingVol,
    /// Per sample: `z · √(h · v̂_τ)`, with v̂_τ the per-bar variance the `har_vol` baseline's HAR model (fit on
    /// the training samples, stored in the artifact) predicts from the sample's [`Sample::vol`]: the band starts
    /// as the best volatility baseline's and the network learns the corrections.
    HarVol,
}

impl TargetScale {
    /// Whether it is [`TargetScale::Fixed`].
    #[must_use]
    pub fn is_fixed(&self) -> bool {
        *self == TargetScale::Fixed
    }
}

/// One supervised sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Prediction instant τ: end of base bar `base_index` (UTC).
    pub at: DateTime<Utc>,
    /// Index of the last input bar in the base series; in pooled data (several symbols), the index of that
    /// bar's end on the **common clock** (every base bar end of every symbol, sorted), so that embargoes in
    /// "base bars" hold across symbols. For one symbol the two are the same.
    pub base_index: usize,
    /// Which symbol's data (index into [`crate::data::Prepared::parts`]); 0 for one symbol.
    pub part: usize,
    /// Close of that bar (the price the prediction is relative to).
    pub last_close: f64,
    /// `ln(close[i+h] / close[i])`.
    pub label: f64,
    /// End of bar `i+h` (UTC): when the label is known.
    pub label_at: DateTime<Utc>,
    /// What a volatility model knows at τ ([`crate::volatility::vol_inputs`]: trailing variances over three
    /// windows, the bar of the day), from the bars ending by τ.
    pub vol: crate::volatility::VolInputs,
}

/// Builds every sample of `base` for `cfg`.
pub fn make_samples(base: &Series, cfg: &LabelConfig) -> Vec<Sample> {
    let bars = base.bars();
    let ends = base.ends_ms();
    let h = cfg.horizon.max(1);
    let mut out = Vec::new();
    for i in 0..bars.len().saturating_sub(h) {
        let j = i + h;
        if base.timeframe().is_intraday()
            && !cfg.cross_session
            && trading_day_number_ms(bars[i].start_ms()) != trading_day_number_ms(bars[j].start_ms())
        {
            continue;
        }
        let (Some(at), Some(label_at)) =
            (DateTime::from_timestamp_millis(ends[i]), DateTime::from_timestamp_millis(ends[j]))
        else {
            continue;
        };
        out.push(Sample {
            at,
            base_index: i,
            part: 0,
            last_close: bars[i].close(),
            label: (bars[j].close() / bars[i].close()).ln(),
            label_at,
            vol: crate::volatility::vol_inputs(bars, i, base.timeframe()),
        });
    }
    out
}

/// One walk-forward fold: indices into the sample list (sorted by time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Training sample indices (all before the validation block, embargoed).
    pub train: Vec<usize>,
    /// Validation sample indices (one consecutive block).
    pub valid: std::ops::Range<usize>,
}

/// Why folds cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// Embargo shorter than the horizon.
    #[error("embargo {embargo} bars is shorter than the horizon {horizon}: training labels would overlap validation")]
    EmbargoTooShort {
        /// Requested embargo.
        embargo: usize,
        /// Label horizon.
        horizon: usize,
    },
    /// Not enough samples.
    #[error("{samples} samples cannot make {folds} folds with at least {min_train} training samples each")]
    TooFewSamples {
        /// Samples available.
        samples: usize,
        /// Folds requested.
        folds: usize,
        /// Minimum training samples per fold.
        min_train: usize,
    },
}

/// Expanding-window walk-forward folds: the last `folds · valid_len` samples are split into `folds`
/// consecutive validation blocks; fold `f` trains on the earlier samples whose label ends ≥ `embargo` base bars
/// before its block starts **and** is known by the block's first prediction instant. The samples are in time
/// order (pooled samples of several symbols by instant, then symbol), so a block is a span of time across all
/// symbols and no symbol's future reaches another symbol's training fold.
///
/// # Errors
/// [`FoldError`] when `embargo < horizon` or a fold would have fewer than `min_train` training samples.
pub fn walk_forward(
    samples: &[Sample],
    horizon: usize,
    folds: usize,
    valid_len: usize,
    embargo: usize,
    min_train: usize,
) -> Result<Vec<Fold>, FoldError> {
    if embargo < horizon {
        return Err(FoldError::EmbargoTooShort { embargo, horizon });
    }
    let too_few = || FoldError::TooFewSamples { samples: samples.len(), folds, min_train };
    let total_valid = folds.checked_mul(valid_len).ok_or_else(too_few)?;
    let first_valid = samples.len().checked_sub(total_valid).ok_or_else(too_few)?;
    let mut out = Vec::with_capacity(folds);
    for f in 0..folds {
        let start = first_valid + f * valid_len;
        let block_start = samples[start].base_index;
        // A training label ends at base bar `base_index + horizon`; it must end `embargo` bars before the block.
        // Training sample i's label ends at base bar `base_index + horizon`; with `embargo ≥ horizon` this keeps
        // it at least `embargo − horizon` bars before the block's first input bar ends.
        let block_at = samples[start].at;
        let train: Vec<usize> = (0..start)
            .filter(|&i| samples[i].base_index + embargo <= block_start && samples[i].label_at <= block_at)
            .collect();
        if train.len() < min_train {
            return Err(too_few());
        }
        out.push(Fold { train, valid: start..start + valid_len });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use mtf_market::session::SessionFilter;
    use mtf_market::{Bar, Timeframe};

    fn series(days: i64) -> Series {
        let mut bars = Vec::new();
        for d in 0..days {
            let open = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap() + Duration::days(d);
            for q in 0..26 {
                let c = 100.0 + (d * 26 + q) as f64 * 0.1;
                bars.push(Bar::new(open + Duration::minutes(15 * q), c, c, c, c, 1.0).unwrap());
            }
        }
        Series::new(Timeframe::M15, SessionFilter::Regular, bars).unwrap()
    }

    #[test]
    fn labels_follow_the_inputs_without_overlap() {
        let s = series(2);
        let samples = make_samples(&s, &LabelConfig { horizon: 4, cross_session: false, scale: Default::default() });
        assert_eq!(samples.len(), 2 * (26 - 4), "the last 4 bars of each day have no same-day label");
        for x in &samples {
            let i = x.base_index;
            assert_eq!(x.label, (s.bars()[i + 4].close() / s.bars()[i].close()).ln());
            // Inputs: bars with end ≤ at. Label bars i+1..=i+4 all start at or after `at`.
            assert_eq!(x.at.timestamp_millis(), s.ends_ms()[i]);
            assert!(s.bars()[i + 1].start() >= x.at);
            assert!(x.label_at > x.at);
            assert_eq!(s.complete_count(x.at), i + 1, "the window as of `at` ends with bar i");
        }
        let crossing = make_samples(&s, &LabelConfig { horizon: 4, cross_session: true, scale: Default::default() });
        assert_eq!(crossing.len(), 2 * 26 - 4);
    }

    #[test]
    fn folds_do_not_overlap_and_respect_the_embargo() {
        let s = series(10);
        let h = 4;
        let samples = make_samples(&s, &LabelConfig { horizon: h, cross_session: true, scale: Default::default() });
        for embargo in [h, h + 3] {
            let folds = walk_forward(&samples, h, 3, 20, embargo, 50).unwrap();
            assert_eq!(folds.len(), 3);
            for (fi, f) in folds.iter().enumerate() {
                let first = samples[f.valid.start];
                for &i in &f.train {
                    assert!(i < f.valid.start);
                    assert!(samples[i].base_index + embargo <= first.base_index, "embargo violated");
                    assert!(samples[i].label_at <= first.at, "a training label overlaps validation inputs");
                }
                if fi > 0 {
                    assert_eq!(folds[fi - 1].valid.end, f.valid.start, "blocks are consecutive");
                }
            }
            assert_eq!(folds[2].valid.end, samples.len());
        }
        assert!(matches!(walk_forward(&samples, h, 3, 20, h - 1, 10), Err(FoldError::EmbargoTooShort { .. })));
        assert!(matches!(walk_forward(&samples, h, 30, 20, h, 10), Err(FoldError::TooFewSamples { .. })));
    }
}
