//! The multi-timeframe transformer: model definition, labels and folds (training, evaluation and the artifact
//! follow).
//!
//! - [`model`]: [`model::ModelConfig`] → [`model::MtfModel`], `forward(ModelInput) -> ModelOutput` with
//!   quantiles, direction logits and attention across timeframes and over time.
//! - [`labels`]: horizon log-return labels without overlap with the inputs, and walk-forward folds with an
//!   embargo.

pub mod baselines;
pub mod calibration;
pub mod data;
pub mod labels;
pub mod metrics;
pub mod model;
#[cfg(feature = "train")]
pub mod training;
