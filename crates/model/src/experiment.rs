//! Walk-forward experiments: `mtf train` and `mtf evaluate`.
//!
//! **Training** ([`train_walk_forward`]): samples are split into expanding-window folds with an embargo
//! ([`crate::labels::walk_forward`]). In each fold, the training part is split again in time: the last
//! `inner_valid_frac` (after an embargo) is the *validation* set used for early stopping, temperature scaling
//! and the conformal interval; normalisation and target statistics are fit on the training part only. The
//! fold's *evaluation* block is then scored once, together with the baselines fit on the same training part.
//! Nothing is tuned on an evaluation block. The exported model is the last fold's (trained on everything before
//! the last block), so its own metrics on that block are out of sample.
//!
//! **Evaluation** ([`evaluate`]): a trained model on new data, without refitting it: only samples after the
//! model's training range (plus the embargo) are scored; baselines are refit walk-forward on the samples before
//! each block.

use chrono::{DateTime, Utc};
use mtf_features::normalize::NormStats;
use mtf_features::reference::{DRIFT_BINS, FeatureReference};
use serde::{Deserialize, Serialize};

use crate::artifact::{ArtifactHeader, WeightDtype};
use crate::baselines::{self, Rows, last_step_features};
use crate::calibration::{
    BLEND_WEIGHTS, BandBlend, Calibration, Conformal, TIME_OF_DAY_BUCKETS, fit_interval_delta,
    fit_interval_delta_by_bucket, fit_temperature, probabilities,
};
use crate::coverage_noise::{GapReference, ideal_gap};
use crate::data::{DataError, DataSpec, Prepared, Targets};
use crate::decode::decode;
use crate::labels::{Fold, FoldError, walk_forward};
use crate::metrics::{Metrics, Scored, compute, interval_score};
use crate::model::{ModelConfig, MtfModel};
use crate::predict::{PredictError, Predictor, RawOutput};
use crate::recalibration::{self, Timing};
use crate::training::{Checkpointing, EpochReport, SampleSet, TrainConfig, TrainReport, train_with_checkpoints};
use crate::volatility::{self, Context};

/// The model's shape; inputs (K, T, F) come from the data spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Steps per patch.
    pub patch_len: usize,
    /// Width.
    pub d_model: usize,
    /// Heads.
    pub n_heads: usize,
    /// Encoder layers.
    pub n_layers: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Dropout.
    pub dropout: f64,
}

/// Walk-forward settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Number of evaluation blocks.
    pub folds: usize,
    /// Samples per evaluation block.
    pub valid_len: usize,
    /// Embargo in base bars (≥ horizon).
    pub embargo: usize,
    /// Share of each training part held out (at its end) for early stopping and calibration.
    pub inner_valid_frac: f64,
    /// Minimum training samples per fold.
    pub min_train: usize,
    /// Clip of normalised features.
    pub clip: f64,
    /// Symbols held out of training altogether (pooled data): never trained on, not in the normalisation
    /// statistics, scored on every evaluation block as [`Report::holdout`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holdout_symbols: Vec<String>,
    /// How the band's conformal correction is fit on the validation set: `pooled` (one δ, the default) or
    /// `time_of_day` (one δ per New York hour of the regular session, [`Conformal::TimeOfDay`]).
    #[serde(default, skip_serializing_if = "Conformal::is_pooled")]
    pub conformal: Conformal,
}

/// A training run (`mtf train --config FILE.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Inputs, base timeframe, horizon.
    pub data: DataSpec,
    /// Model shape.
    pub model: ModelShape,
    /// Optimisation.
    pub train: TrainConfig,
    /// Walk-forward.
    pub eval: EvalConfig,
    /// Weight storage.
    #[serde(default = "default_dtype")]
    pub weights_dtype: WeightDtype,
}

fn default_dtype() -> WeightDtype {
    WeightDtype::F32
}

impl ExperimentConfig {
    /// The full model config.
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            timeframes: self.data.timeframes.len(),
            lookback: self.data.lookback,
            features: mtf_features::spec::N_FEATURES,
            patch_len: self.model.patch_len,
            d_model: self.model.d_model,
            n_heads: self.model.n_heads,
            n_layers: self.model.n_layers,
            d_ff: self.model.d_ff,
            dropout: self.model.dropout,
        }
    }
}

/// Why an experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Data preparation.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Folds.
    #[error(transparent)]
    Folds(#[from] FoldError),
    /// Normalisation.
    #[error(transparent)]
    Norm(#[from] mtf_features::normalize::NormError),
    /// Model outputs could not be read or decoded.
    #[error(transparent)]
    Predict(#[from] PredictError),
    /// Decoding.
    #[error(transparent)]
    Decode(#[from] crate::decode::DecodeError),
    /// Training.
    #[error(transparent)]
    Train(#[from] crate::training::TrainError),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// One fold's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    /// Fold number from 1.
    pub fold: usize,
    /// Training samples (early-stopping part included).
    pub train_samples: usize,
    /// Early-stopping / calibration samples.
    pub inner_valid_samples: usize,
    /// First and last evaluation instant.
    pub eval_range: [DateTime<Utc>; 2],
    /// Epoch kept by early stopping.
    pub best_epoch: usize,
    /// Fitted temperature.
    pub temperature: f64,
    /// Interval score (log-return units, α = 0.2) of the calibrated band on the early-stopping part,
    /// cross-fitted (each half scored with the interval correction fit on the other half): a validation number
    /// in the labels' units whatever the target scale or conformal rule, so configurations that differ in them
    /// (`[data.labels] scale`, `[eval] conformal`) are compared on validation data, never on the evaluation
    /// block. Reports from before 2026-12-07's time-of-day correction scored the correction on the samples it
    /// was fit on; absent in reports from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_interval_score: Option<f64>,
    /// Weight of the network's band in the band blend chosen on the fold's validation part
    /// ([`crate::calibration::BandBlend`]; 1 = the network's band as is). Absent in reports from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend_weight: Option<f64>,
    /// The model's metrics on this block.
    pub metrics: Metrics,
}

/// `report.json`: the model's pooled walk-forward metrics (all blocks), baselines on the same predictions, and
/// each fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The model.
    #[serde(flatten)]
    pub model: Metrics,
    /// Horizon in base bars.
    pub horizon: usize,
    /// Base timeframe.
    pub base_timeframe: String,
    /// Baselines in the same run, same samples.
    pub baselines: std::collections::BTreeMap<String, Metrics>,
    /// Per fold (training only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<FoldReport>,
    /// Samples scored out of all samples.
    pub samples_total: usize,
    /// The held-out symbols' samples in the same evaluation blocks (pooled training with
    /// `holdout_symbols`): the model and the baselines, both fit without those symbols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<HoldoutReport>,
    /// The model's predictions with the band recalibrated live ([`crate::recalibration`], γ =
    /// [`recalibration::DEFAULT_GAMMA`]), each from the outcomes known at its instant: what a live session shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<Metrics>,
    /// The same numbers per symbol (pooled data with more than one symbol).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_symbol: std::collections::BTreeMap<String, SymbolReport>,
    /// Attention across timeframes on the model's scored predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionSummary>,
    /// The worst 100-window coverage gap an ideal band would show on the same per-symbol prediction counts
    /// ([`crate::coverage_noise`]): what `max_coverage_gap_100` is read against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ideal_gap_100: Option<GapReference>,
}

/// How the model spread its attention across timeframes on the scored predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionSummary {
    /// Mean over predictions of the across-timeframe attention's entropy divided by `ln K`: 1 is uniform (every
    /// timeframe weighted equally, no preference to read), 0 all weight on one timeframe.
    pub mean_normalised_entropy: f64,
    /// Mean weight of each timeframe, in input order (sums to 1).
    pub mean_weights: Vec<(String, f64)>,
}

// The threshold lives with the client view of the model (the dashboard reads it from `ModelInfo`).
pub use crate::info::NEAR_UNIFORM_ENTROPY;

impl AttentionSummary {
    /// From `[N·K]` attention weights (rows of `K = timeframes.len()`); `None` without rows or with one timeframe.
    #[must_use]
    pub fn of(attn: &[f32], timeframes: &[mtf_market::Timeframe]) -> Option<Self> {
        let k = timeframes.len();
        if k < 2 || attn.len() < k {
            return None;
        }
        let rows = attn.len() / k;
        let mut mean = vec![0.0; k];
        let mut entropy = 0.0;
        for row in attn.chunks_exact(k) {
            let total: f64 = row.iter().map(|&w| f64::from(w).max(0.0)).sum();
            let mut h = 0.0;
            for (m, &w) in mean.iter_mut().zip(row) {
                let q = if total > 0.0 { f64::from(w).max(0.0) / total } else { 1.0 / k as f64 };
                *m += q / rows as f64;
                if q > 0.0 {
                    h -= q * q.ln();
                }
            }
            entropy += h / (k as f64).ln() / rows as f64;
        }
        Some(Self {
            mean_normalised_entropy: entropy,
            mean_weights: timeframes.iter().map(|t| t.short().to_string()).zip(mean).collect(),
        })
    }
}

/// One symbol's share of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolReport {
    /// The model on the symbol's samples.
    #[serde(flatten)]
    pub model: Metrics,
    /// With live recalibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<Metrics>,
    /// Baselines on the same samples.
    pub baselines: std::collections::BTreeMap<String, Metrics>,
}

/// Metrics on symbols the model never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutReport {
    /// The held-out symbols.
    pub symbols: Vec<String>,
    /// The model on their samples.
    #[serde(flatten)]
    pub model: Metrics,
    /// Baselines on the same samples.
    pub baselines: std::collections::BTreeMap<String, Metrics>,
    /// With live recalibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<Metrics>,
    /// Per held-out symbol.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_symbol: std::collections::BTreeMap<String, SymbolReport>,
    /// As [`Report::ideal_gap_100`], on the held-out symbols' counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ideal_gap_100: Option<GapReference>,
}

/// Progress events for the CLI.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A fold starts.
    Fold {
        /// Fold from 1.
        fold: usize,
        /// Folds in total.
        of: usize,
        /// Training samples.
        train: usize,
    },
    /// An epoch finished.
    Epoch(EpochReport),
}

fn sample_set(p: &Prepared, idx: &[usize], norm: &NormStats, targets: &Targets) -> Result<SampleSet, ExperimentError> {
    let w = p.windows(idx, norm)?;
    Ok(SampleSet {
        x: w.values,
        mask: w.mask.iter().map(|&m| f32::from(m)).collect(),
        y: idx.iter().map(|&i| (p.samples[i].label / targets.scale_of(&p.samples[i].vol)) as f32).collect(),
        class: idx.iter().map(|&i| targets.class_of(p.samples[i].label) as i64).collect(),
        shape: [w.lookback, w.timeframes, w.features],
    })
}

fn raw_outputs(model: &MtfModel, set: &SampleSet) -> Result<RawOutput, ExperimentError> {
    let device = burn::tensor::Device::flex();
    let mut all = RawOutput { quantiles: vec![], logits: vec![], attn_timeframes: vec![], attn_time: vec![] };
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(256) {
        let (input, _, _) = set.batch(chunk, &device);
        let r = RawOutput::read(model.forward(input))?;
        all.quantiles.extend(r.quantiles);
        all.logits.extend(r.logits);
        all.attn_timeframes.extend(r.attn_timeframes);
    }
    Ok(all)
}

/// Scores samples `idx` through the serving decoder ([`crate::decode::decode`]): what the evaluation reports
/// is what `predict` would have shown at each sample's instant.
fn score(
    p: &Prepared,
    ctx: &[Context],
    idx: &[usize],
    raw: &RawOutput,
    targets: &Targets,
    cal: &Calibration,
) -> Result<Vec<Scored>, ExperimentError> {
    idx.iter()
        .enumerate()
        .map(|(j, &i)| {
            let s = &p.samples[i];
            let d = decode(raw, j, targets.scale_of(&s.vol), ctx[i].bucket, cal)?;
            Ok(Scored {
                part: s.part,
                bucket: ctx[i].bucket,
                trailing_vol: ctx[i].trailing[1],
                ..Scored::plain(d.quantiles, d.probs, d.position, s.label, targets.class_of(s.label), s.last_close)
            })
        })
        .collect()
}

/// The baselines fit on samples `train` (features `train_x`) and scored on `eval` (features `eval_x`).
#[allow(clippy::too_many_arguments)]
fn run_baselines(
    p: &Prepared,
    ctx: &[Context],
    train: &[usize],
    train_x: &[Vec<f64>],
    targets: &Targets,
    eval: &[usize],
    eval_x: &[Vec<f64>],
) -> Vec<(&'static str, Vec<Scored>)> {
    let pick = |idx: &[usize]| -> (Vec<f64>, Vec<Context>, Vec<f64>, Vec<usize>) {
        (
            idx.iter().map(|&i| p.samples[i].label).collect(),
            idx.iter().map(|&i| ctx[i]).collect(),
            idx.iter().map(|&i| p.samples[i].last_close).collect(),
            idx.iter().map(|&i| p.samples[i].part).collect(),
        )
    };
    let (ty, tc, tclose, tpart) = pick(train);
    let (ey, ec, eclose, epart) = pick(eval);
    let train_rows = Rows { x: train_x, y: &ty, ctx: &tc, close: &tclose, part: &tpart };
    let eval_rows = Rows { x: eval_x, y: &ey, ctx: &ec, close: &eclose, part: &epart };
    baselines::run(&train_rows, targets, &eval_rows, p.spec.labels.horizon).by_name
}

/// Everything scored for one set of samples: the model (sample indices `idx`), the baselines on the same
/// samples, pooled and per symbol, and the model with live recalibration.
struct Scores {
    idx: Vec<usize>,
    model: Vec<Scored>,
    baselines: Vec<(&'static str, Vec<Scored>)>,
}

impl Scores {
    fn new() -> Self {
        Self { idx: Vec::new(), model: Vec::new(), baselines: Vec::new() }
    }

    fn extend(&mut self, idx: &[usize], model: Vec<Scored>, baselines: Vec<(&'static str, Vec<Scored>)>) {
        self.idx.extend_from_slice(idx);
        self.model.extend(model);
        merge_scores(&mut self.baselines, baselines);
    }

    /// The ideal band's worst-window reference on these per-symbol counts.
    fn ideal_gap(&self) -> Option<GapReference> {
        let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        for s in &self.model {
            *counts.entry(s.part).or_default() += 1;
        }
        ideal_gap(&counts.into_values().collect::<Vec<_>>(), crate::metrics::COVERAGE_WINDOW)
    }

    /// (model, baselines, adaptive, by symbol).
    fn summarise(
        &self,
        p: &Prepared,
        step: usize,
        ppy: f64,
    ) -> (
        Metrics,
        std::collections::BTreeMap<String, Metrics>,
        Option<Metrics>,
        std::collections::BTreeMap<String, SymbolReport>,
    ) {
        let timing: Vec<Timing> = self
            .idx
            .iter()
            .map(|&i| Timing {
                at_ms: p.samples[i].at.timestamp_millis(),
                label_at_ms: p.samples[i].label_at.timestamp_millis(),
            })
            .collect();
        let adaptive = recalibration::replay(&self.model, &timing, recalibration::DEFAULT_GAMMA);
        let table = |keep: &dyn Fn(&Scored) -> bool| {
            let sub = |v: &[Scored]| -> Vec<Scored> { v.iter().filter(|s| keep(s)).copied().collect() };
            let base = self.baselines.iter().map(|(n, s)| (n.to_string(), compute(&sub(s), step, ppy))).collect();
            (compute(&sub(&self.model), step, ppy), base, compute(&sub(&adaptive), step, ppy))
        };
        let (model, baselines, adaptive_metrics) = table(&|_| true);
        let mut parts: Vec<usize> = self.model.iter().map(|s| s.part).collect();
        parts.sort_unstable();
        parts.dedup();
        let by_symbol = if p.parts.len() > 1 {
            parts
                .iter()
                .map(|&k| {
                    let (model, baselines, adaptive) = table(&|s: &Scored| s.part == k);
                    (p.parts[k].symbol.clone(), SymbolReport { model, adaptive: Some(adaptive), baselines })
                })
                .collect()
        } else {
            std::collections::BTreeMap::new()
        };
        (model, baselines, (!self.model.is_empty()).then_some(adaptive_metrics), by_symbol)
    }
}

fn periods_per_year(spec: &DataSpec) -> (usize, f64) {
    let h = spec.labels.horizon.max(1);
    let per_day = if spec.base.is_intraday() { 390.0 / spec.base.minutes() as f64 } else { 1.0 };
    (h, 252.0 * per_day / h as f64)
}

/// The network's label-scale quantiles after the band blend `blend`, and the scaled targets, of a sample set:
/// what the interval correction is fit on.
fn raw_quantiles(raw: &RawOutput, set: &SampleSet, blend: Option<BandBlend>) -> (Vec<[f64; 3]>, Vec<f64>) {
    let quantiles = (0..set.len())
        .map(|j| {
            let q = [0, 1, 2].map(|c| f64::from(raw.quantiles[j * 3 + c]));
            blend.map_or(q, |b| b.apply(q))
        })
        .collect();
    (quantiles, set.y.iter().map(|&v| f64::from(v)).collect())
}

/// The band the network's is blended with: q10, q50, q90 of the targets (label ÷ target scale) of the samples
/// `idx` the network trains on.
fn training_band(p: &Prepared, idx: &[usize], targets: &Targets) -> [f64; 3] {
    let labels: Vec<f64> = idx.iter().map(|&i| p.samples[i].label).collect();
    let scales: Vec<f64> = idx.iter().map(|&i| targets.scale_of(&p.samples[i].vol)).collect();
    volatility::standardised_quantiles(&labels, &scales)
}

/// A fold's validation (early-stopping) part with the network's outputs on it: what the band's blend and
/// interval correction are chosen and scored on.
struct ValidationPart<'a> {
    p: &'a Prepared,
    ctx: &'a [Context],
    /// Sample indices of the part, in time order.
    idx: &'a [usize],
    /// The network's outputs on `set`.
    raw: &'a RawOutput,
    set: &'a SampleSet,
    targets: &'a Targets,
}

impl ValidationPart<'_> {
    /// The band blend with the lowest cross-fitted interval score over [`BLEND_WEIGHTS`] (ties go to the larger
    /// weight, the network's band), and that score.
    fn choose_blend(
        &self,
        cal: &Calibration,
        anchor: [f64; 3],
        mode: Conformal,
    ) -> Result<(BandBlend, f64), ExperimentError> {
        let mut best: Option<(BandBlend, f64)> = None;
        for &weight in BLEND_WEIGHTS.iter().rev() {
            let blend = BandBlend { weight, anchor };
            let score = self.cross_fitted_interval_score(&Calibration { band_blend: Some(blend), ..*cal }, mode)?;
            if best.is_none_or(|(_, s)| score < s) {
                best = Some((blend, score));
            }
        }
        best.ok_or_else(|| ExperimentError::Other("no blend weight to try".into()))
    }

    /// The interval score of the calibrated band (with `cal`'s band blend), **cross-fitted**: the part is cut in
    /// two halves in time and each half is scored with the interval correction fit on the other, so a correction
    /// with more parameters (one δ per hour) gains nothing from fitting the samples it is scored on and
    /// configurations compare out of sample. Log-return units.
    fn cross_fitted_interval_score(&self, cal: &Calibration, mode: Conformal) -> Result<f64, ExperimentError> {
        let (q, y) = raw_quantiles(self.raw, self.set, cal.band_blend);
        let buckets: Vec<u8> = self.idx.iter().map(|&i| self.ctx[i].bucket).collect();
        let (n, half) = (self.idx.len(), self.idx.len() / 2);
        let mut scored = Vec::with_capacity(n);
        for (score_on, fit_on) in [(0..half, half..n), (half..n, 0..half)] {
            let (interval_delta, interval_delta_by_bucket) =
                fit_interval(&q[fit_on.clone()], &y[fit_on.clone()], &buckets[fit_on], mode);
            let other = Calibration { interval_delta, interval_delta_by_bucket, ..*cal };
            let all = score(self.p, self.ctx, self.idx, self.raw, self.targets, &other)?;
            scored.extend_from_slice(&all[score_on]);
        }
        let total: f64 = scored
            .iter()
            .map(|s| interval_score(s.quantiles[0], s.quantiles[2], s.label, crate::metrics::INTERVAL_ALPHA))
            .sum();
        Ok(total / scored.len().max(1) as f64)
    }
}

/// The pooled δ and, for [`Conformal::TimeOfDay`], the per-bucket δ_b, from label-scale quantiles, targets and
/// each sample's time-of-day bucket.
fn fit_interval(
    q: &[[f64; 3]],
    y: &[f64],
    buckets: &[u8],
    mode: Conformal,
) -> (f64, Option<[f64; TIME_OF_DAY_BUCKETS]>) {
    let pooled = fit_interval_delta(q, y);
    let by_bucket = match mode {
        Conformal::Pooled => None,
        Conformal::TimeOfDay => fit_interval_delta_by_bucket(q, y, buckets, pooled),
    };
    (pooled, by_bucket)
}

/// Temperature, interval correction (of the network's band, unblended) and signal policy on a validation set
/// (`buckets`: each sample's time-of-day bucket). The band blend and its interval correction are fit after it.
fn calibrate(raw: &RawOutput, set: &SampleSet, buckets: &[u8], mode: Conformal) -> Calibration {
    let n = set.len();
    let logits: Vec<[f64; 3]> = (0..n).map(|j| [0, 1, 2].map(|c| f64::from(raw.logits[j * 3 + c]))).collect();
    let (quantiles, y) = raw_quantiles(raw, set, None);
    let classes: Vec<usize> = set.class.iter().map(|&c| c as usize).collect();
    let temperature = fit_temperature(&logits, &classes);
    let probs: Vec<[f64; 3]> = logits.iter().map(|l| probabilities(*l, temperature)).collect();
    let (interval_delta, interval_delta_by_bucket) = fit_interval(&quantiles, &y, buckets, mode);
    Calibration {
        temperature,
        interval_delta,
        interval_delta_by_bucket,
        band_blend: None,
        signal: Some(crate::signals::fit(&probs, &classes)),
    }
}

/// Appends each baseline's scores to its pooled list.
fn merge_scores(into: &mut Vec<(&'static str, Vec<Scored>)>, by_name: Vec<(&'static str, Vec<Scored>)>) {
    for (name, s) in by_name {
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.extend(s),
            None => into.push((name, s)),
        }
    }
}

/// Everything a training run produces.
pub struct TrainOutcome {
    /// The report.
    pub report: Report,
    /// The exported model (last fold).
    pub model: MtfModel,
    /// Its artifact header (weights fields are filled when written).
    pub header: ArtifactHeader,
    /// Per-fold training curves.
    pub curves: Vec<TrainReport>,
}

fn inner_split(p: &Prepared, fold: &Fold, frac: f64, embargo: usize) -> (Vec<usize>, Vec<usize>) {
    let n = fold.train.len();
    let cut = ((n as f64) * (1.0 - frac)).round() as usize;
    let valid: Vec<usize> = fold.train[cut.min(n)..].to_vec();
    let first = valid.first().map_or(usize::MAX, |&i| p.samples[i].base_index);
    let first_at = valid.first().map(|&i| p.samples[i].at);
    let train = fold.train[..cut.min(n)]
        .iter()
        .copied()
        .filter(|&i| p.samples[i].base_index + embargo <= first && first_at.is_none_or(|a| p.samples[i].label_at <= a))
        .collect();
    (train, valid)
}

/// Walk-forward training with baselines (see the module docs); `created_at` is recorded in the artifact. With
/// `checkpoints`, each fold checkpoints into `dir/fold-N` after every epoch (and resumes from there).
///
/// # Errors
/// [`ExperimentError`] for too little data, invalid configs, or failed training.
pub fn train_walk_forward(
    p: &Prepared,
    cfg: &ExperimentConfig,
    created_at: DateTime<Utc>,
    checkpoints: Option<&Checkpointing>,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainOutcome, ExperimentError> {
    let h = cfg.data.labels.horizon;
    let e = &cfg.eval;
    let held: Vec<usize> = e
        .holdout_symbols
        .iter()
        .map(|s| {
            p.parts.iter().position(|x| x.symbol.eq_ignore_ascii_case(s)).ok_or_else(|| {
                ExperimentError::Other(format!("holdout symbol {s} is not in the data ({:?})", p.symbols()))
            })
        })
        .collect::<Result<_, _>>()?;
    if !held.is_empty() && held.len() == p.parts.len() {
        return Err(ExperimentError::Other("every symbol is held out: nothing is left to train on".into()));
    }
    let is_held = |i: &usize| held.contains(&p.samples[*i].part);
    let train_parts: Vec<usize> = (0..p.parts.len()).filter(|k| !held.contains(k)).collect();
    let folds = walk_forward(&p.samples, h, e.folds, e.valid_len, e.embargo, e.min_train)?;
    let model_cfg = cfg.model_config();
    let (step, ppy) = periods_per_year(&cfg.data);
    let ctx = volatility::contexts(p);
    let mut attention: Vec<f32> = Vec::new();
    let mut pooled = Scores::new();
    let mut held_out = Scores::new();
    let mut fold_reports = Vec::new();
    let mut curves = Vec::new();
    let mut last = None;
    for (fi, fold) in folds.iter().enumerate() {
        let fold =
            &Fold { train: fold.train.iter().copied().filter(|i| !is_held(i)).collect(), valid: fold.valid.clone() };
        progress(Progress::Fold { fold: fi + 1, of: folds.len(), train: fold.train.len() });
        let (inner_train, inner_valid) = inner_split(p, fold, e.inner_valid_frac, e.embargo);
        if inner_train.is_empty() || inner_valid.is_empty() {
            return Err(ExperimentError::Other(format!(
                "fold {}: too few samples for an inner validation split",
                fi + 1
            )));
        }
        let last_train = *fold.train.last().unwrap_or(&0);
        let norm = p.fit_norm_parts(&train_parts, p.samples[last_train].at, e.clip)?;
        // The targets (label scale, flat band, the volatility scale and its HAR model) are fit on the part the
        // network trains on, not on the early-stopping part: that part's validation interval score is what target
        // scales are compared on, so none of them may have seen it.
        let train_samples: Vec<&crate::labels::Sample> = inner_train.iter().map(|&i| &p.samples[i]).collect();
        let train_ctx: Vec<Context> = inner_train.iter().map(|&i| ctx[i]).collect();
        let targets = Targets::fit_samples(&train_samples, &train_ctx, &p.spec.labels);
        let tr = sample_set(p, &inner_train, &norm, &targets)?;
        let va = sample_set(p, &inner_valid, &norm, &targets)?;
        let fold_ck =
            checkpoints.map(|c| Checkpointing { dir: c.dir.join(format!("fold-{}", fi + 1)), resume: c.resume });
        let (model, curve) = train_with_checkpoints(&model_cfg, &cfg.train, &tr, &va, fold_ck.as_ref(), &mut |r| {
            progress(Progress::Epoch(*r))
        })?;
        let va_raw = raw_outputs(&model, &va)?;
        let va_buckets: Vec<u8> = inner_valid.iter().map(|&i| ctx[i].bucket).collect();
        // Temperature and signal policy, then the band blend chosen on the cross-fitted interval score, then the
        // interval correction of the blended band on the whole validation part.
        let unblended = calibrate(&va_raw, &va, &va_buckets, e.conformal);
        let anchor = training_band(p, &inner_train, &targets);
        let part = ValidationPart { p, ctx: &ctx, idx: &inner_valid, raw: &va_raw, set: &va, targets: &targets };
        let (blend, valid_interval_score) = part.choose_blend(&unblended, anchor, e.conformal)?;
        let (q, y) = raw_quantiles(&va_raw, &va, Some(blend));
        let (interval_delta, interval_delta_by_bucket) = fit_interval(&q, &y, &va_buckets, e.conformal);
        let cal = Calibration { interval_delta, interval_delta_by_bucket, band_blend: Some(blend), ..unblended };
        let (held_idx, eval_idx): (Vec<usize>, Vec<usize>) = fold.valid.clone().partition(is_held);
        let ev = sample_set(p, &eval_idx, &norm, &targets)?;
        let raw = raw_outputs(&model, &ev)?;
        attention.extend_from_slice(&raw.attn_timeframes);
        let scored = score(p, &ctx, &eval_idx, &raw, &targets, &cal)?;
        // Baselines on the same training part and evaluation block.
        let full_train = sample_set(p, &fold.train, &norm, &targets)?;
        let bx = last_step_features(&full_train.x, full_train.shape, full_train.len());
        let ex = last_step_features(&ev.x, ev.shape, ev.len());
        let base = run_baselines(p, &ctx, &fold.train, &bx, &targets, &eval_idx, &ex);
        if !held_idx.is_empty() {
            let hs = sample_set(p, &held_idx, &norm, &targets)?;
            let held_scored = score(p, &ctx, &held_idx, &raw_outputs(&model, &hs)?, &targets, &cal)?;
            let hx = last_step_features(&hs.x, hs.shape, hs.len());
            held_out.extend(&held_idx, held_scored, run_baselines(p, &ctx, &fold.train, &bx, &targets, &held_idx, &hx));
        }
        fold_reports.push(FoldReport {
            fold: fi + 1,
            train_samples: fold.train.len(),
            inner_valid_samples: inner_valid.len(),
            eval_range: [p.samples[fold.valid.start].at, p.samples[fold.valid.end - 1].at],
            // (the range spans the held-out symbols' samples too; the metrics are the training symbols')
            best_epoch: curve.best_epoch,
            temperature: cal.temperature,
            valid_interval_score: Some(valid_interval_score),
            blend_weight: Some(blend.weight),
            metrics: compute(&scored, step, ppy),
        });
        pooled.extend(&eval_idx, scored, base);
        curves.push(curve);
        let range = [p.samples[fold.train[0]].at, p.samples[last_train].at];
        let reference = FeatureReference::fit(&bx, &cfg.data.timeframes, full_train.shape[2], DRIFT_BINS);
        last = Some((model, norm, targets, cal, range, reference));
    }
    let (model, norm, targets, calibration, training_range, drift_reference) =
        last.ok_or_else(|| ExperimentError::Other("no folds were run".into()))?;
    let (model_metrics, baseline_metrics, adaptive, by_symbol) = pooled.summarise(p, step, ppy);
    let report = Report {
        model: model_metrics,
        horizon: h,
        base_timeframe: cfg.data.base.short().to_string(),
        baselines: baseline_metrics,
        folds: fold_reports,
        samples_total: p.samples.len(),
        holdout: (!held.is_empty()).then(|| {
            let (model, baselines, adaptive, by_symbol) = held_out.summarise(p, step, ppy);
            HoldoutReport {
                symbols: held.iter().map(|&k| p.parts[k].symbol.clone()).collect(),
                model,
                baselines,
                adaptive,
                by_symbol,
                ideal_gap_100: held_out.ideal_gap(),
            }
        }),
        adaptive,
        by_symbol,
        attention: AttentionSummary::of(&attention, &cfg.data.timeframes),
        ideal_gap_100: pooled.ideal_gap(),
    };
    let header = ArtifactHeader {
        name: cfg.name.clone(),
        version: cfg.version.clone(),
        created_at,
        feature_spec: mtf_features::spec::spec_id(),
        data: cfg.data.clone(),
        model: model_cfg,
        norm,
        targets,
        calibration,
        training_range,
        parameters: 0,
        metrics: serde_json::to_value(&report).unwrap_or_default(),
        weights_dtype: cfg.weights_dtype,
        weights_len: 0,
        weights_sha256: String::new(),
        training_data: None,
        drift_reference: Some(drift_reference),
    };
    Ok(TrainOutcome { report, model, header, curves })
}

/// Evaluates a trained model on prepared data without refitting it (see the module docs).
///
/// # Errors
/// [`ExperimentError`] when no sample lies after the model's training range, or folds cannot be built.
pub fn evaluate(predictor: &Predictor, p: &Prepared, eval: &EvalConfig) -> Result<Report, ExperimentError> {
    evaluate_on(predictor, p, eval, &|_| true)
}

/// [`evaluate`] restricted to the samples `keep` accepts (e.g. one holdout window shared by two models); the
/// embargo after the model's training range still applies, and baselines are still fit on every earlier sample.
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_on(
    predictor: &Predictor,
    p: &Prepared,
    eval: &EvalConfig,
    keep: &dyn Fn(&crate::labels::Sample) -> bool,
) -> Result<Report, ExperimentError> {
    let h = &predictor.header;
    let horizon = h.data.labels.horizon;
    let cutoff = h.training_range[1];
    // First scorable sample: its inputs start after the training labels ended (embargo in base bars).
    let last_train_index = p.samples.iter().filter(|s| s.at <= cutoff).map(|s| s.base_index).max();
    let scorable: Vec<usize> = (0..p.samples.len())
        .filter(|&i| last_train_index.is_none_or(|li| p.samples[i].base_index >= li + eval.embargo.max(horizon)))
        .filter(|&i| keep(&p.samples[i]))
        .collect();
    if scorable.is_empty() {
        return Err(ExperimentError::Other(format!(
            "no sample lies after the model's training range (ends {cutoff}) plus the embargo: evaluate on later data"
        )));
    }
    let (step, ppy) = periods_per_year(&h.data);
    let all: Vec<usize> = (0..p.samples.len()).collect();
    let set = sample_set(p, &all, &h.norm, &h.targets)?;
    let raw = raw_outputs(predictor.model(), &set)?;
    let ctx = volatility::contexts(p);
    let scored_all = score(p, &ctx, &all, &raw, &h.targets, &h.calibration)?;
    let features = last_step_features(&set.x, set.shape, set.len());
    let mut scores = Scores::new();
    // Blocks of `valid_len` over the scorable samples; baselines fit on everything before each block (embargoed).
    for block in scorable.chunks(eval.valid_len.max(1)) {
        let first = p.samples[block[0]].base_index;
        let train: Vec<usize> =
            all.iter().copied().filter(|&i| p.samples[i].base_index + eval.embargo.max(horizon) <= first).collect();
        if train.len() < eval.min_train {
            continue;
        }
        let tx: Vec<Vec<f64>> = train.iter().map(|&i| features[i].clone()).collect();
        let ty: Vec<f64> = train.iter().map(|&i| p.samples[i].label).collect();
        let ex: Vec<Vec<f64>> = block.iter().map(|&i| features[i].clone()).collect();
        let targets = Targets::fit(&ty);
        let base = run_baselines(p, &ctx, &train, &tx, &targets, block, &ex);
        scores.extend(block, block.iter().map(|&i| scored_all[i]).collect(), base);
    }
    if scores.model.is_empty() {
        return Err(ExperimentError::Other(format!(
            "every evaluation block has fewer than {} earlier samples to fit the baselines on",
            eval.min_train
        )));
    }
    let (model, baselines, adaptive, by_symbol) = scores.summarise(p, step, ppy);
    let k = h.data.timeframes.len();
    let attn: Vec<f32> = scores
        .idx
        .iter()
        .flat_map(|&i| raw.attn_timeframes.get(i * k..(i + 1) * k).unwrap_or(&[]).iter().copied())
        .collect();
    Ok(Report {
        model,
        horizon,
        base_timeframe: h.data.base.short().to_string(),
        baselines,
        folds: Vec::new(),
        samples_total: p.samples.len(),
        holdout: None,
        adaptive,
        by_symbol,
        attention: AttentionSummary::of(&attn, &h.data.timeframes),
        ideal_gap_100: scores.ideal_gap(),
    })
}

/// What the evaluation scores for samples `idx` of `p`: the same windows, forward pass and decoder as
/// [`evaluate`], per sample. A test checks each against `Predictor::predict` at the sample's instant.
///
/// # Errors
/// [`ExperimentError`] when windows cannot be built or outputs read.
pub fn decode_samples(
    predictor: &Predictor,
    p: &Prepared,
    idx: &[usize],
) -> Result<Vec<crate::decode::Decoded>, ExperimentError> {
    let h = &predictor.header;
    let set = sample_set(p, idx, &h.norm, &h.targets)?;
    let raw = raw_outputs(predictor.model(), &set)?;
    let intraday = h.data.base.is_intraday();
    (0..idx.len())
        .map(|j| {
            let s = &p.samples[idx[j]];
            let bucket = volatility::time_of_day_bucket(s.at.timestamp_millis(), intraday);
            Ok(decode(&raw, j, h.targets.scale_of(&s.vol), bucket, &h.calibration)?)
        })
        .collect()
}

#[cfg(test)]
mod attention_tests {
    use mtf_market::Timeframe;

    use super::*;

    #[test]
    fn uniform_attention_has_entropy_one_and_one_hot_zero() {
        let tfs = [Timeframe::M15, Timeframe::H1];
        let u = AttentionSummary::of(&[0.5, 0.5, 0.5, 0.5], &tfs).unwrap();
        assert!((u.mean_normalised_entropy - 1.0).abs() < 1e-12);
        assert_eq!(u.mean_weights, vec![("15m".to_string(), 0.5), ("1h".to_string(), 0.5)]);
        let one = AttentionSummary::of(&[1.0, 0.0, 0.0, 1.0], &tfs).unwrap();
        assert!(one.mean_normalised_entropy.abs() < 1e-12);
        // [0.9, 0.1]: −(0.9 ln 0.9 + 0.1 ln 0.1) / ln 2 = 0.468996.
        let skew = AttentionSummary::of(&[0.9, 0.1], &tfs).unwrap();
        assert!((skew.mean_normalised_entropy - 0.468_995_593_589_281_1).abs() < 1e-6);
        assert!(AttentionSummary::of(&[], &tfs).is_none());
    }
}

/// Markdown tables of a report: the model (and with live recalibration) next to each baseline; coverage by
/// time of day and by volatility tercile; the reliability of the direction probabilities; per symbol.
pub fn markdown(report: &Report) -> String {
    let mut rows = vec![("model".to_string(), &report.model)];
    if let Some(a) = &report.adaptive {
        rows.push(("model + live recalibration".to_string(), a));
    }
    rows.extend(report.baselines.iter().map(|(n, m)| (n.clone(), m)));
    let mut s = format!(
        "Horizon: {} × {} bars; {} predictions scored (of {} samples).\n\n",
        report.horizon, report.base_timeframe, report.model.n_predictions, report.samples_total
    );
    s.push_str("| | MAE / persistence | RMSE / persistence | dir. acc. | base rate | acc. top 20 % | IC | Brier | ECE | q10–q90 coverage | worst 100-run gap | interval score (α 0.2) | pinball | band width | backtest return | Sharpe | max DD | buy & hold |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (name, m) in &rows {
        s.push_str(&format!(
            "| {name} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {:+.3} | {:.3} | {:.3} | {:.3} | {} | {:.5} | {:.5} | {:.5} | {:+.2} % | {:.2} | {:.2} % | {:+.2} % |\n",
            m.mae_ratio_vs_persistence,
            m.rmse_ratio_vs_persistence,
            m.directional_accuracy,
            m.directional_base_rate,
            m.directional_accuracy_top20,
            m.information_coefficient,
            m.brier,
            m.ece,
            m.coverage_q10_q90,
            m.max_coverage_gap_100.map_or("–".to_string(), |g| format!("{g:.3}")),
            m.interval_score,
            m.pinball_loss,
            m.band_width,
            m.backtest.total_return * 100.0,
            m.backtest.sharpe,
            m.backtest.max_drawdown * 100.0,
            m.backtest.buy_and_hold_return * 100.0,
        ));
    }
    if let Some(g) = &report.ideal_gap_100 {
        s.push_str(&format!(
            "\nSampling noise of the worst 100-run gap: an ideal band (exactly 80 % coverage, independent hits) on the \
             same per-symbol counts shows a worst gap of {:.3} (median) to {:.3} (95th percentile) over {} seeded \
             draws, and stays within ±{:.0} points in {:.1} % of them. Overlapping horizons make real hits \
             correlated, so the real noise is larger still.\n",
            g.median,
            g.p95,
            g.draws,
            crate::coverage_noise::GAP_GOAL * 100.0,
            g.share_within_goal * 100.0
        ));
    }
    // Conditional coverage: the model, recalibrated, and the band baselines.
    let band_rows: Vec<&(String, &Metrics)> =
        rows.iter().filter(|(n, _)| !matches!(n.as_str(), "majority" | "logistic" | "persistence")).collect();
    for (title, pick) in [
        (
            "time of day (New York, hour starting)",
            (|m: &Metrics| &m.by_time_of_day) as fn(&Metrics) -> &Vec<crate::metrics::Conditional>,
        ),
        ("trailing realised volatility (terciles)", |m: &Metrics| &m.by_volatility),
    ] {
        let groups = pick(&report.model);
        if groups.is_empty() {
            continue;
        }
        s.push_str(&format!("\nq10–q90 coverage (interval score) by {title}:\n\n|"));
        for g in groups {
            s.push_str(&format!(" | {} (n {})", g.group, g.n));
        }
        s.push_str(" |\n|---|");
        s.push_str(&"---:|".repeat(groups.len()));
        s.push('\n');
        for (name, m) in &band_rows {
            s.push_str(&format!("| {name}"));
            for g in pick(m) {
                let mark = if crate::coverage_noise::consistent_with_nominal(g.coverage, g.n) { "" } else { " †" };
                s.push_str(&format!(" | {:.3}{mark} ({:.5})", g.coverage, g.interval_score));
            }
            s.push_str(" |\n");
        }
        s.push_str(
            "\n† 0.80 lies outside the 95 % Wilson interval of that coverage: off nominal beyond sampling noise.\n",
        );
    }
    if !report.model.reliability.is_empty() {
        s.push_str("\nReliability of the model's top-class probability:\n\n| probability | predictions | mean probability | realised accuracy |\n|---|---:|---:|---:|\n");
        for b in &report.model.reliability {
            s.push_str(&format!(
                "| {:.1}–{:.1} | {} | {:.3} | {:.3} |\n",
                b.lower,
                b.lower + 0.1,
                b.n,
                b.mean_confidence,
                b.accuracy
            ));
        }
    }
    if !report.by_symbol.is_empty() {
        s.push_str("\nPer symbol (the best band baseline by interval score on that symbol's samples):\n\n| symbol | predictions | coverage | recalibrated coverage | interval score | best baseline | its interval score | pinball | its pinball | dir. acc. | base rate |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
        for (sym, r) in &report.by_symbol {
            let best = r.baselines.iter().min_by(|a, b| a.1.interval_score.total_cmp(&b.1.interval_score));
            s.push_str(&format!(
                "| {sym} | {} | {:.3} | {} | {:.5} | {} | {} | {:.5} | {} | {:.3} | {:.3} |\n",
                r.model.n_predictions,
                r.model.coverage_q10_q90,
                r.adaptive.as_ref().map_or("–".to_string(), |a| format!("{:.3}", a.coverage_q10_q90)),
                r.model.interval_score,
                best.map_or("–", |b| b.0.as_str()),
                best.map_or("–".to_string(), |b| format!("{:.5}", b.1.interval_score)),
                r.model.pinball_loss,
                best.map_or("–".to_string(), |b| format!("{:.5}", b.1.pinball_loss)),
                r.model.directional_accuracy,
                r.model.directional_base_rate,
            ));
        }
    }
    s
}

/// One hyperparameter-search trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Trial number from 1.
    pub trial: usize,
    /// The sampled model shape.
    pub model: ModelShape,
    /// The sampled learning rate.
    pub lr: f64,
    /// Trainable parameters of the sampled shape.
    pub parameters: usize,
    /// Forward cost per prediction (matrix products), in FLOP.
    pub flops: u64,
    /// Mean best validation loss over the folds: the **only** selection criterion (validation sets lie inside
    /// the training parts; evaluation blocks are never used to choose).
    pub mean_valid_loss: f64,
    /// Walk-forward metrics of the trial, reported for information.
    pub report: Report,
}

/// Random search: `trials` configurations sampled around `base` (seeded): width, heads, layers, patch length,
/// dropout and learning rate; the loss weights stay fixed so validation losses compare. Each trial trains
/// walk-forward; returns the trials sorted by mean validation loss (best first).
///
/// # Errors
/// [`ExperimentError`] from a trial.
pub fn search(
    p: &Prepared,
    base: &ExperimentConfig,
    trials: usize,
    seed: u64,
    created_at: DateTime<Utc>,
    on_trial: &mut dyn FnMut(&Trial),
) -> Result<Vec<Trial>, ExperimentError> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(trials);
    for t in 0..trials {
        let pick = |r: f64, xs: &[usize]| xs[((r * xs.len() as f64) as usize).min(xs.len() - 1)];
        let d_model = pick(next(), &[16, 32, 64]);
        let patch_divisors: Vec<usize> =
            [4, 8, 16].into_iter().filter(|&p| base.data.lookback.is_multiple_of(p)).collect();
        let model = ModelShape {
            patch_len: if patch_divisors.is_empty() { base.model.patch_len } else { pick(next(), &patch_divisors) },
            d_model,
            n_heads: pick(next(), &[2, 4]),
            n_layers: pick(next(), &[1, 2, 3]),
            d_ff: d_model * 2,
            dropout: if next() < 0.5 { 0.0 } else { 0.1 },
        };
        let lr = 10f64.powf(-3.5 + next() * 1.5);
        // The loss weights stay as configured: validation losses are only comparable under the same loss.
        let mut cfg = base.clone();
        cfg.model = model.clone();
        cfg.train.lr = lr;
        let outcome = train_walk_forward(p, &cfg, created_at, None, &mut |_| {})?;
        let mean_valid_loss =
            outcome.curves.iter().map(|c| c.best_valid_loss).sum::<f64>() / outcome.curves.len().max(1) as f64;
        let mc = cfg.model_config();
        let trial = Trial {
            trial: t + 1,
            model,
            lr,
            parameters: burn::module::Module::num_params(&outcome.model),
            flops: mc.flops(),
            mean_valid_loss,
            report: outcome.report,
        };
        on_trial(&trial);
        out.push(trial);
    }
    out.sort_by(|a, b| a.mean_valid_loss.total_cmp(&b.mean_valid_loss));
    Ok(out)
}

/// Markdown leaderboard of search trials.
pub fn leaderboard(trials: &[Trial]) -> String {
    let mut s = String::from(
        "Ranked by mean validation loss (validation sets lie inside the training parts). The walk-forward columns are \
         for information only and were not used to rank.\n\n\
         | rank | trial | d_model | heads | layers | patch | dropout | lr | params | MFLOP | valid loss | dir. acc. | MAE / persistence | coverage |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, t) in trials.iter().enumerate() {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2e} | {} | {:.2} | {:.4} | {:.3} | {:.4} | {:.3} |\n",
            i + 1,
            t.trial,
            t.model.d_model,
            t.model.n_heads,
            t.model.n_layers,
            t.model.patch_len,
            t.model.dropout,
            t.lr,
            t.parameters,
            t.flops as f64 / 1e6,
            t.mean_valid_loss,
            t.report.model.directional_accuracy,
            t.report.model.mae_ratio_vs_persistence,
            t.report.model.coverage_q10_q90
        ));
    }
    s
}
