//! The edge's model registry as it answers (`GET /api/v1/models`, `/models/active`, `POST /models`,
//! `/models/{version}/activate`): one definition, serialised by the edge worker and read by `mtf retrain`, with
//! its TypeScript generated among the edge's response bodies (`edge-worker/src/wire.rs` →
//! `web/packages/mtf-predict/src/generated/edge.ts`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// A registered model version (`GET /api/v1/models`, `/models/active`, `POST /models`, `/activate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelVersion {
    /// `name@version`.
    pub version: String,
    /// The artifact's model name.
    pub name: String,
    /// sha256 of the artifact file (hex): its ETag and what browsers verify.
    pub sha256: String,
    /// Artifact size in bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// Whether this version is the one served for its horizon.
    pub active: bool,
    /// Registration time (RFC 3339 UTC).
    pub created_at: String,
    /// First training sample (RFC 3339 UTC).
    pub training_start: String,
    /// Last training sample (RFC 3339 UTC).
    pub training_end: String,
    /// Walk-forward metrics and baselines from the artifact (`report.json`).
    #[ts(type = "Record<string, unknown>")]
    pub metrics: Value,
    /// Data and model configuration from the artifact header.
    #[ts(type = "Record<string, unknown>")]
    pub config: Value,
    /// Where to download the artifact.
    pub artifact_url: String,
    /// What it predicts: minutes ahead (base-bar minutes × label horizon; 1d = 1440). The registry holds one
    /// active model per horizon.
    #[ts(type = "number | null")]
    pub horizon_minutes: Option<i64>,
    /// When it was last activated (RFC 3339 UTC); `null` if never.
    pub activated_at: Option<String>,
}

/// `GET /api/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelsResponse {
    /// Newest first.
    pub models: Vec<ModelVersion>,
}

/// One model (`/models/active`, registration, activation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelResponse {
    /// The model.
    pub model: ModelVersion,
}
