//! Inference: from bars to the prediction JSON that the CLI, the browser and the edge all produce.
//!
//! The tensor read-back is separated from the assembly of the prediction ([`Predictor::prepare`] →
//! forward → [`RawOutput`] → [`Predictor::finish`]) so that the browser can read tensors asynchronously.

use burn::prelude::*;
use chrono::{DateTime, Utc};
use mtf_features::frames::MultiTimeframe;
use mtf_features::window::build_windows;
use mtf_market::Bar;

use crate::artifact::{self, ArtifactError, ArtifactHeader};
use crate::model::{ModelInput, ModelOutput, MtfModel};
/// The prediction contract, defined without burn in `mtf-prediction` (the edge worker stores the same type).
pub use mtf_prediction::{Attention, Horizon, Interval, Prediction, Probabilities};

/// Why a prediction cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// Bad artifact.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// Features cannot be computed.
    #[error(transparent)]
    Features(#[from] mtf_features::frames::FeatureError),
    /// Not enough complete bars.
    #[error("too little history at {at}: {what}")]
    History {
        /// Prediction instant, RFC 3339.
        at: String,
        /// What is missing.
        what: String,
    },
    /// Normalisation mismatch.
    #[error(transparent)]
    Norm(#[from] mtf_features::normalize::NormError),
    /// The backend failed to return the outputs.
    #[error("reading the model outputs back failed: {0}")]
    ReadBack(String),
    /// The outputs do not cover the batch.
    #[error(transparent)]
    Decode(#[from] crate::decode::DecodeError),
}

/// Tensor outputs read back as plain numbers, for one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOutput {
    /// `[B·3]`.
    pub quantiles: Vec<f32>,
    /// `[B·3]`.
    pub logits: Vec<f32>,
    /// `[B·K]`.
    pub attn_timeframes: Vec<f32>,
    /// `[B·K·T]`.
    pub attn_time: Vec<f32>,
}

impl RawOutput {
    /// Reads a forward pass's outputs without blocking: required in the browser, where a synchronous read
    /// panics on WebGPU; works on every backend.
    ///
    /// # Errors
    /// The backend's read-back error, as text.
    pub async fn read_async(out: ModelOutput) -> Result<Self, PredictError> {
        async fn v<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, PredictError> {
            let data = t.into_data_async().await.map_err(|e| PredictError::ReadBack(format!("{e:?}")))?;
            data.try_to_vec::<f32>().map_err(|e| PredictError::ReadBack(format!("{e:?}")))
        }
        Ok(Self {
            quantiles: v(out.quantiles).await?,
            logits: v(out.logits).await?,
            attn_timeframes: v(out.attn_timeframes).await?,
            attn_time: v(out.attn_time).await?,
        })
    }

    /// Reads a forward pass's outputs synchronously (native; the browser uses [`RawOutput::read_async`]).
    ///
    /// # Errors
    /// [`PredictError::ReadBack`] when the backend fails (never a panic).
    pub fn read(out: ModelOutput) -> Result<Self, PredictError> {
        fn v<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, PredictError> {
            let data = t.try_into_data().map_err(|e| PredictError::ReadBack(format!("{e:?}")))?;
            data.try_to_vec::<f32>().map_err(|e| PredictError::ReadBack(format!("{e:?}")))
        }
        Ok(Self {
            quantiles: v(out.quantiles)?,
            logits: v(out.logits)?,
            attn_timeframes: v(out.attn_timeframes)?,
            attn_time: v(out.attn_time)?,
        })
    }
}

/// What [`Predictor::finish`] needs besides the outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// Symbol.
    pub symbol: String,
    /// Prediction instant.
    pub at: DateTime<Utc>,
    /// Latest complete base bar.
    pub last_bar: Bar,
    /// The target scale at `at` ([`crate::data::Targets::scale_of`] the volatility inputs of the base bars
    /// complete by then, computed as in training).
    pub scale: f64,
    /// Time-of-day bucket of the latest base bar's end ([`crate::volatility::time_of_day_bucket`]), which picks
    /// the band's conformal adjustment as the evaluation's samples do.
    pub bucket: u8,
}

/// A loaded model.
#[derive(Debug)]
pub struct Predictor {
    /// The artifact header.
    pub header: ArtifactHeader,
    model: MtfModel,
    device: Device,
}

impl Predictor {
    /// Loads and verifies an artifact on `device`.
    ///
    /// # Errors
    /// [`ArtifactError`].
    pub fn from_bytes(bytes: &[u8], device: Device) -> Result<Self, ArtifactError> {
        let (header, model) = artifact::from_bytes(bytes, &device)?;
        Ok(Self { header, model, device })
    }

    /// The model.
    pub fn model(&self) -> &MtfModel {
        &self.model
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Features for this model's timeframes from 1-minute bars (and daily bars for `1d`).
    ///
    /// # Errors
    /// [`PredictError::Features`].
    pub fn features(&self, minutes: &[Bar], daily: Option<&[Bar]>) -> Result<MultiTimeframe, PredictError> {
        Ok(MultiTimeframe::from_minutes(minutes, daily, &self.header.data.timeframes, self.header.data.session)?)
    }

    /// Features as of `at` from the bars the caller has, keyed by timeframe: bars not complete at `at` are
    /// dropped first (they are never inputs), then missing timeframes are resampled from the coarsest given that can produce them
    /// ([`MultiTimeframe::from_bars`]). The one path from caller bars to model features, for the CLI and the
    /// browser alike.
    ///
    /// # Errors
    /// [`PredictError::Features`].
    pub fn features_as_of(
        &self,
        mut given: std::collections::BTreeMap<mtf_market::Timeframe, Vec<Bar>>,
        at: DateTime<Utc>,
    ) -> Result<MultiTimeframe, PredictError> {
        let session = self.header.data.session;
        for (tf, bars) in given.iter_mut() {
            bars.retain(|b| tf.bar_end(b.start(), session) <= at);
        }
        Ok(MultiTimeframe::from_bars(&given, &self.header.data.timeframes, session)?)
    }

    /// The normalised inputs of the newest window step at `at` (`K × F`, timeframe-major; a timeframe without a
    /// valid bar there is zeros, as in training): what live drift compares with the artifact's
    /// [`drift_reference`](crate::artifact::ArtifactHeader::drift_reference).
    ///
    /// # Errors
    /// [`PredictError::Norm`] when the window cannot be built.
    pub fn newest_inputs(&self, mtf: &MultiTimeframe, at: DateTime<Utc>) -> Result<Vec<f64>, PredictError> {
        let d = &self.header.data;
        let w = build_windows(mtf, &[at], d.lookback, Some(&self.header.norm))?;
        let row = w.timeframes * w.features;
        let newest = w.values.get((w.lookback - 1) * row..w.lookback * row).unwrap_or(&[]);
        Ok(newest.iter().map(|&v| f64::from(v)).collect())
    }

    /// Model input and context for predictions at `ats` (one per symbol/instant pair).
    ///
    /// # Errors
    /// [`PredictError::History`] when the base timeframe has no complete bar, or nothing of the window is valid.
    pub fn prepare(
        &self,
        items: &[(&str, &MultiTimeframe, DateTime<Utc>)],
    ) -> Result<(ModelInput, Vec<Context>), PredictError> {
        let d = &self.header.data;
        let base_k = d.timeframes.iter().position(|&t| t == d.base).unwrap_or(0);
        let (t, k, f) = (d.lookback, d.timeframes.len(), mtf_features::spec::N_FEATURES);
        let mut x = Vec::with_capacity(items.len() * t * k * f);
        let mut mask = Vec::with_capacity(items.len() * t * k);
        let mut contexts = Vec::with_capacity(items.len());
        for &(symbol, mtf, at) in items {
            let base = &mtf.frames[base_k].series;
            let n = base.complete_count(at);
            let last_bar = *n.checked_sub(1).and_then(|i| base.bars().get(i)).ok_or_else(|| PredictError::History {
                at: at.to_rfc3339(),
                what: format!("no complete {} bar", d.base.short()),
            })?;
            let w = build_windows(mtf, &[at], t, Some(&self.header.norm))?;
            if !w.mask.contains(&1) {
                return Err(PredictError::History {
                    at: at.to_rfc3339(),
                    what: format!(
                        "no timeframe has a bar past its {}-bar warm-up",
                        mtf_features::spec::WARMUP_BARS + 1
                    ),
                });
            }
            x.extend(w.values);
            mask.extend(w.mask.iter().map(|&m| f32::from(m)));
            let vol = crate::volatility::vol_inputs(&base.bars()[..n], n - 1, d.base);
            contexts.push(Context {
                symbol: symbol.to_string(),
                at,
                last_bar,
                scale: self.header.targets.scale_of(&vol),
                bucket: crate::volatility::time_of_day_bucket(
                    d.base.bar_end(last_bar.start(), d.session).timestamp_millis(),
                    d.base.is_intraday(),
                ),
            });
        }
        let b = items.len();
        let input = ModelInput {
            x: Tensor::from_data(TensorData::new(x, [b, t, k, f]), &self.device),
            mask: Tensor::from_data(TensorData::new(mask, [b, t, k]), &self.device),
        };
        Ok((input, contexts))
    }

    /// Turns read-back outputs into predictions, through the one decoder ([`crate::decode::decode`]) that
    /// evaluation scores with.
    ///
    /// # Errors
    /// [`PredictError::Decode`] when the outputs do not cover `contexts`.
    pub fn finish(&self, contexts: &[Context], raw: &RawOutput) -> Result<Vec<Prediction>, PredictError> {
        let h = &self.header;
        let (k, t) = (h.data.timeframes.len(), h.data.lookback);
        let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let short = |what: &'static str, index: usize, len: usize| crate::decode::DecodeError { what, index, len };
        contexts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let d = crate::decode::decode(raw, i, c.scale, c.bucket, &h.calibration)?;
                let q = d.quantiles;
                let across = raw
                    .attn_timeframes
                    .get(i * k..(i + 1) * k)
                    .ok_or_else(|| short("attention across timeframes", i, raw.attn_timeframes.len() / k.max(1)))?;
                let over = raw
                    .attn_time
                    .get(i * k * t..(i + 1) * k * t)
                    .ok_or_else(|| short("attention over time", i, raw.attn_time.len() / (k * t).max(1)))?;
                let close = c.last_bar.close();
                Ok(Prediction {
                    symbol: c.symbol.clone(),
                    model_version: format!("{}@{}", h.name, h.version),
                    prediction_time: c.at,
                    horizon: Horizon {
                        timeframe: h.data.base.short().to_string(),
                        bars: h.data.labels.horizon,
                        minutes: h.data.horizon_minutes(),
                    },
                    last_close: close,
                    last_bar_start: c.last_bar.start(),
                    predicted_price: close * q[1].exp(),
                    predicted_log_return: q[1],
                    interval: Interval {
                        low: close * q[0].exp(),
                        high: close * q[2].exp(),
                        level: crate::decode::INTERVAL_LEVEL,
                    },
                    probabilities: Probabilities { down: d.probs[0], flat: d.probs[1], up: d.probs[2] },
                    signal: d.signal,
                    confidence: d.confidence,
                    position: d.position,
                    attention: Attention {
                        timeframes: h.data.timeframes.iter().map(|tf| tf.short().to_string()).collect(),
                        across_timeframes: f64s(across),
                        over_time: over.chunks(t.max(1)).map(f64s).collect(),
                    },
                    recalibration: None,
                })
            })
            .collect()
    }

    /// [`Predictor::predict`] with asynchronous read-back (the browser path).
    ///
    /// # Errors
    /// As [`Predictor::prepare`], or a read-back failure.
    pub async fn predict_async(
        &self,
        items: &[(&str, &MultiTimeframe, DateTime<Utc>)],
    ) -> Result<Vec<Prediction>, PredictError> {
        if items.is_empty() {
            // An empty batch is no forward pass (burn panics on zero-sized reshapes, which kills a wasm module).
            return Ok(Vec::new());
        }
        let (input, contexts) = self.prepare(items)?;
        let raw = RawOutput::read_async(self.model.forward(input)).await?;
        self.finish(&contexts, &raw)
    }

    /// Predictions for several (symbol, features, instant) items in one batched forward pass (native).
    ///
    /// # Errors
    /// As [`Predictor::prepare`].
    pub fn predict(&self, items: &[(&str, &MultiTimeframe, DateTime<Utc>)]) -> Result<Vec<Prediction>, PredictError> {
        if items.is_empty() {
            // An empty batch is no forward pass (burn panics on zero-sized reshapes, which kills a wasm module).
            return Ok(Vec::new());
        }
        let (input, contexts) = self.prepare(items)?;
        let raw = RawOutput::read(self.model.forward(input))?;
        self.finish(&contexts, &raw)
    }
}
