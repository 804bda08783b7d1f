//! The edge's response bodies, one Rust definition each: serialised with serde, and declared for the TypeScript
//! client by `ts_rs` in `web/packages/mtf-predict/src/generated/edge.ts` (a test fails when that file is out of
//! date; regenerate with `MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire`).
//! Pure data: built from typed D1 rows in `db`, tested natively.

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
    /// Whether this version is the one served.
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

/// A stored prediction with its outcome once scored (`GET /api/v1/predictions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoredPrediction {
    #[ts(type = "number")]
    pub id: i64,
    pub symbol: String,
    pub model_version: String,
    /// Instant the prediction is for (RFC 3339 UTC).
    pub prediction_time: String,
    #[ts(type = "number")]
    pub horizon_minutes: i64,
    pub predicted_price: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub confidence: f64,
    pub signal: String,
    pub last_close: f64,
    /// Close at the horizon, once scored.
    pub realized_price: Option<f64>,
    /// predicted − realized, once scored.
    pub realized_error: Option<f64>,
    /// 1 when the direction was right, once scored.
    #[ts(type = "number | null")]
    pub hit: Option<i64>,
    /// 1 when the realised price lay in the interval, once scored.
    #[ts(type = "number | null")]
    pub in_interval: Option<i64>,
    pub evaluated_at: Option<String>,
    pub created_at: String,
    /// The whole prediction JSON as it was posted.
    #[ts(type = "Prediction")]
    pub payload: Value,
}

/// `GET /api/v1/predictions?symbol=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PredictionsResponse {
    pub symbol: String,
    /// Newest first.
    pub predictions: Vec<StoredPrediction>,
    /// The newest (the last valid prediction), or null.
    pub latest: Option<StoredPrediction>,
}

/// `POST /api/v1/predictions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoredCount {
    pub stored: usize,
}

/// `GET /api/v1/models/{version}/performance`: live accuracy from the cron's scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Performance {
    pub version: String,
    /// Predictions scored.
    #[ts(type = "number")]
    pub evaluated: i64,
    /// Predictions waiting for their horizon.
    #[ts(type = "number")]
    pub pending: i64,
    /// Share of scored predictions whose direction was right (null before any).
    pub hit_rate: Option<f64>,
    /// Mean |predicted − realized| price (null before any).
    pub mean_abs_error: Option<f64>,
    /// Share of realised prices inside the interval (null before any).
    pub interval_coverage: Option<f64>,
}

/// One training-data row (`GET /api/v1/training-data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainingRow {
    pub symbol: String,
    pub timeframe: String,
    pub timestamp: String,
    #[ts(type = "Record<string, unknown> | unknown[]")]
    pub features: Value,
    pub target: Option<f64>,
}

/// `GET /api/v1/training-data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainingRows {
    pub rows: Vec<TrainingRow>,
}

/// `POST /api/v1/training-data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Upserted {
    pub upserted: usize,
}

/// Parses a JSON text column; text that does not parse is returned as a JSON string (never lost).
#[must_use]
pub fn json_column(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
    }
}

/// Where the npm package keeps the generated declarations, relative to the repository root.
pub const EDGE_TS_PATH: &str = "web/packages/mtf-predict/src/generated/edge.ts";

fn decl<T: TS>() -> String {
    // `docs()` is the type's doc comment as a JSDoc block.
    let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    // JSON numbers are numbers: 64-bit integers are declared `number`, not `bigint`.
    let cfg = ts_rs::Config::new().with_large_int("number");
    format!("{docs}export {}\n", T::decl(&cfg))
}

/// The generated TypeScript module: every response body of the edge API.
#[must_use]
pub fn typescript() -> String {
    let mut s = String::from(
        "// Generated from edge-worker/src/wire.rs by ts-rs — do not edit.\n\
         // Regenerate: MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire\n\n\
         import type { Prediction } from \"./contract.js\";\n\n",
    );
    for d in [
        decl::<ModelVersion>(),
        decl::<ModelsResponse>(),
        decl::<ModelResponse>(),
        decl::<StoredPrediction>(),
        decl::<PredictionsResponse>(),
        decl::<StoredCount>(),
        decl::<Performance>(),
        decl::<TrainingRow>(),
        decl::<TrainingRows>(),
        decl::<Upserted>(),
    ] {
        s.push_str(&d);
        s.push('\n');
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_typescript_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(EDGE_TS_PATH);
        let want = typescript();
        if std::env::var("MTF_UPDATE_GENERATED").as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date with edge-worker/src/wire.rs: run `MTF_UPDATE_GENERATED=1 cargo test --manifest-path \
             edge-worker/Cargo.toml --lib wire` and commit the result",
            path.display()
        );
        assert!(!want.contains("bigint"), "JSON numbers are numbers");
    }

    #[test]
    fn json_columns_parse_or_stay_text() {
        assert_eq!(json_column(Some(r#"{"a":[1,2]}"#)), serde_json::json!({"a": [1, 2]}));
        assert_eq!(json_column(Some("not json")), Value::String("not json".into()));
        assert_eq!(json_column(None), Value::Null);
    }

    #[test]
    fn optional_fields_serialise_as_null() {
        let p = Performance {
            version: "m@1".into(),
            evaluated: 0,
            pending: 2,
            hit_rate: None,
            mean_abs_error: None,
            interval_coverage: None,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["hit_rate"], Value::Null);
        assert_eq!(v["pending"], 2);
    }
}
