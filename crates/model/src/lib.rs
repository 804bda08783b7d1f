//! The multi-timeframe transformer: model definition, labels and folds (training, evaluation and the artifact
//! follow).
//!
//! - [`model`]: [`model::ModelConfig`] → [`model::MtfModel`], `forward(ModelInput) -> ModelOutput` with
//!   quantiles, direction logits and attention across timeframes and over time.
//! - [`labels`]: horizon log-return labels without overlap with the inputs, and walk-forward folds with an
//!   embargo.

pub mod artifact;
pub mod baselines;
pub mod calibration;
pub mod contract;
pub mod coverage_noise;
pub mod data;
pub mod decode;
#[cfg(feature = "train")]
pub mod experiment;
pub mod gbdt;
pub mod history;
pub mod info;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod predict;
pub mod reading;
pub mod recalibration;
pub mod signals;
#[cfg(feature = "train")]
pub mod training;
pub mod volatility;

/// Number of trainable parameters of a model.
pub fn num_params(model: &model::MtfModel) -> usize {
    use burn::module::Module;
    model.num_params()
}
