//! The model artifact: one self-contained file (`models/<name>/model.mtf`), loadable from bytes natively, in the
//! browser and in the worker.
//!
//! The framing (magic `MTFMODEL`, format version, lengths, JSON header, weights sha256) is the burn-free
//! [`mtf_envelope`] crate, which the edge worker uses too; the header is an [`ArtifactHeader`] and the weights a
//! Burnpack blob, f32 or f16 storage.
//!
//! Loading checks the envelope, that the feature-spec identifier and the normalisation statistics match this
//! build, and that the model's shape agrees with the data spec (the shape appears in both), and fails with
//! [`ArtifactError`] naming what is wrong.

use burn::prelude::*;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleSnapshot};
use chrono::{DateTime, Utc};
use mtf_envelope::{EnvelopeError, sha256_hex};
use mtf_features::normalize::NormStats;
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::data::{DataSpec, Targets};
use crate::model::{ModelConfig, MtfModel};

pub use mtf_envelope::FORMAT_VERSION;

/// Weight storage precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightDtype {
    /// 32-bit floats.
    F32,
    /// 16-bit floats (half the size; loaded back as f32).
    F16,
}

/// Everything inference needs besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactHeader {
    /// Model name, e.g. `spy-15m-h4`.
    pub name: String,
    /// Model version, e.g. `0.1.0`.
    pub version: String,
    /// When the artifact was written (UTC).
    pub created_at: DateTime<Utc>,
    /// Feature-spec identifier the model was trained with.
    pub feature_spec: String,
    /// Inputs, base timeframe, horizon.
    pub data: DataSpec,
    /// Model hyperparameters.
    pub model: ModelConfig,
    /// Normalisation statistics (fit on the training fold).
    pub norm: NormStats,
    /// Label scale and flat band (fit on the training fold).
    pub targets: Targets,
    /// Temperature and interval adjustment (fit on the validation fold).
    pub calibration: Calibration,
    /// First and last prediction instant used for training (UTC).
    pub training_range: [DateTime<Utc>; 2],
    /// Trainable parameters.
    pub parameters: usize,
    /// Walk-forward metrics next to the baselines (the training report).
    pub metrics: serde_json::Value,
    /// Weight storage precision.
    pub weights_dtype: WeightDtype,
    /// Length of the weights blob in bytes.
    pub weights_len: usize,
    /// Lower-case hex sha256 of the weights blob.
    pub weights_sha256: String,
    /// Where the training bars came from, when that was a bar store (absent for CSV inputs and older artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<TrainingData>,
    /// The training distribution of the inputs (equal-mass bins of the newest window step per timeframe and
    /// feature, last fold's training samples) that live drift is measured against; absent in older artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_reference: Option<mtf_features::reference::FeatureReference>,
}

/// The store snapshot and symbols a model was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingData {
    /// The store snapshot id (sha256 of its manifest).
    pub snapshot: String,
    /// The symbols pooled into the training set.
    pub symbols: Vec<String>,
    /// Symbols of the data held out of training (scored only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holdout_symbols: Vec<String>,
}

/// An artifact that cannot be written or loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    /// The framing is wrong: magic, version, lengths, identifiers or the weights' sha256 ([`EnvelopeError`]).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The header is not valid JSON of the expected shape, or is inconsistent.
    #[error("artifact header is invalid: {0}")]
    Header(String),
    /// Trained with another feature spec.
    #[error(
        "artifact was trained with feature spec {artifact}, but this build computes {current}; retrain or use a matching build"
    )]
    FeatureSpec {
        /// The artifact's spec id.
        artifact: String,
        /// This build's spec id.
        current: String,
    },
    /// The model config or the weights are inconsistent.
    #[error("artifact weights cannot be loaded: {0}")]
    Weights(String),
}

/// Serialises the model's weights (Burnpack, f32 or f16 storage).
///
/// # Errors
/// [`ArtifactError::Weights`] when burn-store fails.
pub fn weights_to_bytes(model: &MtfModel, dtype: WeightDtype) -> Result<Vec<u8>, ArtifactError> {
    let mut store = BurnpackStore::from_bytes(None);
    if dtype == WeightDtype::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    model.save_into(&mut store).map_err(|e| ArtifactError::Weights(e.to_string()))?;
    Ok(store.get_bytes().map_err(|e| ArtifactError::Weights(e.to_string()))?.to_vec())
}

/// Writes an artifact. `header.weights_len`, `weights_sha256`, `weights_dtype` and `parameters` are filled in.
///
/// # Errors
/// [`ArtifactError`] when the weights cannot be serialised.
pub fn to_bytes(model: &MtfModel, mut header: ArtifactHeader, dtype: WeightDtype) -> Result<Vec<u8>, ArtifactError> {
    let weights = weights_to_bytes(model, dtype)?;
    header.weights_dtype = dtype;
    header.weights_len = weights.len();
    header.weights_sha256 = sha256_hex(&weights);
    header.parameters = model.num_params();
    let json = serde_json::to_vec(&header).map_err(|e| ArtifactError::Header(e.to_string()))?;
    Ok(mtf_envelope::write(&json, &weights)?)
}

/// Parses and verifies an artifact without building the model: header and weights slice.
///
/// # Errors
/// [`ArtifactError`] for wrong magic, version, lengths, hash or feature spec.
pub fn parse(bytes: &[u8]) -> Result<(ArtifactHeader, &[u8]), ArtifactError> {
    let envelope = mtf_envelope::parse(bytes)?;
    let header: ArtifactHeader =
        serde_json::from_slice(envelope.header_json).map_err(|e| ArtifactError::Header(e.to_string()))?;
    let current = mtf_features::spec::spec_id();
    if header.feature_spec != current || header.norm.spec_id != current {
        return Err(ArtifactError::FeatureSpec { artifact: header.feature_spec.clone(), current });
    }
    header.norm.check(&header.data.timeframes).map_err(|e| ArtifactError::Header(e.to_string()))?;
    header.model.validate().map_err(|e| ArtifactError::Header(e.to_string()))?;
    check_shape(&header)?;
    Ok((header, envelope.weights))
}

/// The model's input shape appears in the model config and in the data spec; they must agree.
fn check_shape(h: &ArtifactHeader) -> Result<(), ArtifactError> {
    let pairs = [
        ("timeframes", h.model.timeframes, h.data.timeframes.len()),
        ("lookback", h.model.lookback, h.data.lookback),
        ("features", h.model.features, mtf_features::spec::N_FEATURES),
    ];
    for (what, model, data) in pairs {
        if model != data {
            return Err(ArtifactError::Header(format!(
                "model config has {what} = {model} but the data spec gives {data}; the header is inconsistent"
            )));
        }
    }
    Ok(())
}

/// Parses, verifies and builds the model on `device`.
///
/// # Errors
/// [`ArtifactError`].
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<(ArtifactHeader, MtfModel), ArtifactError> {
    let (header, weights) = parse(bytes)?;
    let mut model = header.model.init_seeded(device, 0).map_err(|e| ArtifactError::Header(e.to_string()))?;
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(weights.to_vec())));
    if header.weights_dtype == WeightDtype::F16 {
        store = store.with_from_adapter(HalfPrecisionAdapter::new());
    }
    model.load_from(&mut store).map_err(|e| ArtifactError::Weights(e.to_string()))?;
    Ok((header, model))
}

/// Reads an artifact file; `path` may be the file or its directory (then `model.mtf` inside it).
///
/// # Errors
/// A message naming the path when it cannot be read, or the [`ArtifactError`].
pub fn read_path(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let file = if path.is_dir() { path.join("model.mtf") } else { path.to_path_buf() };
    std::fs::read(&file).map_err(|e| format!("{}: cannot read model artifact: {e}", file.display()))
}
