//! The model artifact: one self-contained file (`models/<name>/model.mtf`), loadable from bytes natively, in the
//! browser and in the worker.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `MTFMODEL` |
//! | 8..12 | format version (`u32`, currently 1) |
//! | 12..16 | header length `H` (`u32`) |
//! | 16..16+H | header, UTF-8 JSON ([`ArtifactHeader`]) |
//! | 16+H.. | weights: a Burnpack blob of `weights_len` bytes, f32 or f16 storage |
//!
//! Loading checks the magic, the version, every length, the sha256 of the weights, and that the feature-spec
//! identifier and the normalisation statistics match this build, and fails with [`ArtifactError`] naming what
//! is wrong.

use burn::prelude::*;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleSnapshot};
use chrono::{DateTime, Utc};
use mtf_features::normalize::NormStats;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibration::Calibration;
use crate::data::{DataSpec, Targets};
use crate::model::{ModelConfig, MtfModel};

const MAGIC: &[u8; 8] = b"MTFMODEL";
/// Current artifact format version.
pub const FORMAT_VERSION: u32 = 1;

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
}

/// An artifact that cannot be written or loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    /// Wrong magic bytes.
    #[error("not an mtf model artifact (expected the bytes `MTFMODEL` at the start)")]
    NotAnArtifact,
    /// A newer or unknown format.
    #[error("artifact format version {0} is not supported by this build (supports {FORMAT_VERSION})")]
    Version(u32),
    /// Fewer bytes than the lengths promise.
    #[error("artifact is truncated: {0}")]
    Truncated(String),
    /// The header is not valid JSON of the expected shape.
    #[error("artifact header is invalid: {0}")]
    Header(String),
    /// The weights do not hash to the recorded value.
    #[error("artifact weights are corrupt: sha256 {actual} does not match the recorded {expected}")]
    HashMismatch {
        /// Recorded hash.
        expected: String,
        /// Hash of the bytes present.
        actual: String,
    },
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

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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
    let len = u32::try_from(json.len()).map_err(|_| ArtifactError::Header("header larger than 4 GiB".into()))?;
    let mut out = Vec::with_capacity(16 + json.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&weights);
    Ok(out)
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, ArtifactError> {
    let b: [u8; 4] = bytes
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| ArtifactError::Truncated(format!("{} bytes, the fixed header needs 16", bytes.len())))?;
    Ok(u32::from_le_bytes(b))
}

/// Parses and verifies an artifact without building the model: header and weights slice.
///
/// # Errors
/// [`ArtifactError`] for wrong magic, version, lengths, hash or feature spec.
pub fn parse(bytes: &[u8]) -> Result<(ArtifactHeader, &[u8]), ArtifactError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(ArtifactError::NotAnArtifact);
    }
    let version = u32_at(bytes, 8)?;
    if version != FORMAT_VERSION {
        return Err(ArtifactError::Version(version));
    }
    let h = u32_at(bytes, 12)? as usize;
    let json = bytes.get(16..16 + h).ok_or_else(|| {
        ArtifactError::Truncated(format!("header of {h} bytes announced, {} present", bytes.len() - 16))
    })?;
    let header: ArtifactHeader = serde_json::from_slice(json).map_err(|e| ArtifactError::Header(e.to_string()))?;
    let weights = &bytes[16 + h..];
    if weights.len() != header.weights_len {
        return Err(ArtifactError::Truncated(format!(
            "weights of {} bytes announced, {} present",
            header.weights_len,
            weights.len()
        )));
    }
    let actual = sha256_hex(weights);
    if actual != header.weights_sha256 {
        return Err(ArtifactError::HashMismatch { expected: header.weights_sha256.clone(), actual });
    }
    let current = mtf_features::spec::spec_id();
    if header.feature_spec != current || header.norm.spec_id != current {
        return Err(ArtifactError::FeatureSpec { artifact: header.feature_spec.clone(), current });
    }
    header.norm.check(&header.data.timeframes).map_err(|e| ArtifactError::Header(e.to_string()))?;
    header.model.validate().map_err(ArtifactError::Header)?;
    Ok((header, weights))
}

/// Parses, verifies and builds the model on `device`.
///
/// # Errors
/// [`ArtifactError`].
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<(ArtifactHeader, MtfModel), ArtifactError> {
    let (header, weights) = parse(bytes)?;
    let mut model = header.model.init_seeded(device, 0).map_err(ArtifactError::Header)?;
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
