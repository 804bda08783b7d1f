//! The retrain loop's plain data and pure decisions (no burn, no I/O), shared by `mtf retrain` and the edge
//! worker:
//!
//! - [`record`]: the retrain record (inputs, both models' holdout scores, decision) the CLI writes to its local
//!   log and to the edge (`POST /api/v1/retrains`), and its deterministic run id;
//! - [`rule`]: the promotion rule declared in the training config (`[retrain.promotion]`);
//! - [`triggers`]: when `mtf retrain --if-needed` runs (schedule, live coverage, degradation against the model's
//!   validation numbers, feature drift, volatility regime);
//! - [`drift`]: the population stability index and realised volatility;
//! - [`registry`]: a registered model version as the edge's registry describes it;
//! - [`health`]: rolling live metrics of a model version from its scored predictions
//!   (`GET /api/v1/models/{version}/health`).
//!
//! The wire types derive `ts_rs::TS`; their TypeScript is generated with the edge's other response bodies
//! (`edge-worker/src/wire.rs` → `web/packages/mtf-predict/src/generated/edge.ts`).
//!
//! Units: returns and interval scores are in log-return units (`ln(price / last_close)`), as in the model's
//! evaluation (`mtf_model::metrics::Metrics`), so live numbers compare with validation numbers directly.

pub mod drift;
pub mod health;
pub mod record;
pub mod registry;
pub mod rule;
pub mod triggers;
