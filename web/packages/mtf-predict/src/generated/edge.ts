// Generated from edge-worker/src/wire.rs by ts-rs — do not edit.
// Regenerate: MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire

import type { Prediction } from "./contract.js";

/**
 * A registered model version (`GET /api/v1/models`, `/models/active`, `POST /models`, `/activate`).
 */
export type ModelVersion = { 
/**
 * `name@version`.
 */
version: string, 
/**
 * The artifact's model name.
 */
name: string, 
/**
 * sha256 of the artifact file (hex): its ETag and what browsers verify.
 */
sha256: string, 
/**
 * Artifact size in bytes.
 */
size: number, 
/**
 * Whether this version is the one served.
 */
active: boolean, 
/**
 * Registration time (RFC 3339 UTC).
 */
created_at: string, 
/**
 * First training sample (RFC 3339 UTC).
 */
training_start: string, 
/**
 * Last training sample (RFC 3339 UTC).
 */
training_end: string, 
/**
 * Walk-forward metrics and baselines from the artifact (`report.json`).
 */
metrics: Record<string, unknown>, 
/**
 * Data and model configuration from the artifact header.
 */
config: Record<string, unknown>, 
/**
 * Where to download the artifact.
 */
artifact_url: string, };

/**
 * `GET /api/v1/models`.
 */
export type ModelsResponse = { 
/**
 * Newest first.
 */
models: Array<ModelVersion>, };

/**
 * One model (`/models/active`, registration, activation).
 */
export type ModelResponse = { 
/**
 * The model.
 */
model: ModelVersion, };

/**
 * A stored prediction with its outcome once scored (`GET /api/v1/predictions`).
 */
export type StoredPrediction = { id: number, symbol: string, model_version: string, 
/**
 * Instant the prediction is for (RFC 3339 UTC).
 */
prediction_time: string, horizon_minutes: number, predicted_price: number, interval_low: number, interval_high: number, confidence: number, signal: string, last_close: number, 
/**
 * Close at the horizon, once scored.
 */
realized_price: number | null, 
/**
 * predicted − realized, once scored.
 */
realized_error: number | null, 
/**
 * 1 when the direction was right, once scored.
 */
hit: number | null, 
/**
 * 1 when the realised price lay in the interval, once scored.
 */
in_interval: number | null, evaluated_at: string | null, created_at: string, 
/**
 * The whole prediction JSON as it was posted.
 */
payload: Prediction, };

/**
 * `GET /api/v1/predictions?symbol=`.
 */
export type PredictionsResponse = { symbol: string, 
/**
 * Newest first.
 */
predictions: Array<StoredPrediction>, 
/**
 * The newest (the last valid prediction), or null.
 */
latest: StoredPrediction | null, };

/**
 * `POST /api/v1/predictions`.
 */
export type StoredCount = { stored: number, };

/**
 * `GET /api/v1/models/{version}/performance`: live accuracy from the cron's scoring.
 */
export type Performance = { version: string, 
/**
 * Predictions scored.
 */
evaluated: number, 
/**
 * Predictions waiting for their horizon.
 */
pending: number, 
/**
 * Share of scored predictions whose direction was right (null before any).
 */
hit_rate: number | null, 
/**
 * Mean |predicted − realized| price (null before any).
 */
mean_abs_error: number | null, 
/**
 * Share of realised prices inside the interval (null before any).
 */
interval_coverage: number | null, };

/**
 * One training-data row (`GET /api/v1/training-data`).
 */
export type TrainingRow = { symbol: string, timeframe: string, timestamp: string, features: Record<string, unknown> | unknown[], target: number | null, };

/**
 * `GET /api/v1/training-data`.
 */
export type TrainingRows = { rows: Array<TrainingRow>, };

/**
 * `POST /api/v1/training-data`.
 */
export type Upserted = { upserted: number, };

