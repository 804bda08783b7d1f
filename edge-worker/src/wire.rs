//! The edge's response bodies, one Rust definition each: serialised with serde, and declared for the TypeScript
//! client by `ts_rs` in `web/packages/mtf-predict/src/generated/edge.ts` (with the retrain records and model
//! health defined in `crates/retrain`) (a test fails when that file is out of
//! date; regenerate with `MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire`).
//! Pure data: built from typed D1 rows in `db`, tested natively.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// The registry's wire types, defined with the retrain loop's (`mtf retrain` reads them too).
pub use mtf_retrain::registry::{ModelResponse, ModelVersion, ModelsResponse};

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
    /// `pending`, then one terminal state: `scored`, `unscorable` (no bar near the target once later bars show
    /// it final) or `expired` (undecided after a day of cron runs).
    #[ts(type = "\"pending\" | \"scored\" | \"unscorable\" | \"expired\"")]
    pub status: String,
    /// `edge` (computed by the worker: the trusted source for monitoring), `browser` (posted with a session
    /// token), `client` or `admin` (posted by a server-side tool with that token).
    #[ts(type = "\"edge\" | \"client\"")]
    pub source: String,
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
    /// Rows inserted or replaced.
    pub upserted: usize,
    /// Rows not replaced because the stored row's `as_of` is newer.
    pub kept_newer: usize,
}

/// One run of accuracy tracking (`POST /api/v1/admin/track-accuracy`, and the cron).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AccuracyRun {
    /// Predictions scored by this run.
    pub scored: usize,
    /// Predictions marked unscorable (no bar near the target once the bars are final).
    pub unscorable: usize,
    /// Pending predictions given up after a day of runs without a decision.
    pub expired: usize,
    /// Due predictions left pending (bars not final yet, or Alpaca failed), tried again after the others.
    pub waiting: usize,
    /// Model versions whose health (`/models/{v}/health`) the monitoring step recomputed after this run.
    pub monitored: usize,
    /// Outcomes of the edge's own predictions fed into the live recalibration states by this run.
    pub recalibrated: usize,
}

/// The model that served a `/api/v1/predict` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServedModel {
    /// `name@version`.
    pub version: String,
    /// sha256 of the artifact file (hex) the predictions were computed with.
    pub sha256: String,
}

/// Why one symbol of a `/api/v1/predict` batch has no prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EntryError {
    /// Machine-readable: `invalid_symbol`, `no_data`, `insufficient_history`, `upstream_unavailable`,
    /// `model_unavailable`, `prediction_failed`.
    pub code: String,
    /// What is wrong, naming the symbol.
    pub message: String,
}

/// The bars one input of a prediction was computed from (what a caller fetches to reproduce it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct InputRange {
    /// Bar size fetched from Alpaca (`1m`, `15m`, `30m`, `1d`, …).
    #[ts(type = "Timeframe")]
    pub timeframe: String,
    /// Bars used (complete at the prediction instant, in the model's session).
    pub bars: usize,
    /// Start of the oldest bar used (RFC 3339 UTC); empty when none.
    pub first: String,
    /// Start of the newest bar used (RFC 3339 UTC); empty when none.
    pub last: String,
}

/// One symbol of a `/api/v1/predict` answer: a prediction or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PredictEntry {
    /// The symbol as requested (upper case).
    pub symbol: String,
    /// The prediction (`mtf predict`'s JSON), or `null` with `error` set.
    #[ts(type = "Prediction | null")]
    pub prediction: Option<Value>,
    /// Why there is no prediction (`null` when there is one).
    pub error: Option<EntryError>,
    /// `true` when the model or Alpaca failed and this is the last valid prediction instead.
    pub stale: bool,
    /// Seconds since the prediction was computed, when it comes from the cache or is stale.
    pub age_s: Option<f64>,
    /// `true` when served from the prediction cache.
    pub cached: bool,
    /// The bars the prediction was computed from.
    pub inputs: Vec<InputRange>,
}

/// `POST|GET /api/v1/predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PredictResponse {
    /// The model that served (`null` when none could be loaded and every entry is stale or an error).
    pub model: Option<ServedModel>,
    /// The prediction instant (RFC 3339 UTC).
    pub at: String,
    /// One entry per distinct requested symbol, in request order.
    pub predictions: Vec<PredictEntry>,
    /// Conditions the caller should know of (e.g. the active model failed to load and the previous one served).
    pub warnings: Vec<String>,
}

/// `POST /api/v1/admin/predict-watchlist` and the cron's scheduled predictions: one run per active model (one
/// per horizon); the top-level numbers are their sums, `at` and `skipped` those of the newest activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ScheduledRun {
    /// Each active model's run, newest activation first.
    #[serde(default)]
    pub models: Vec<ScheduledModelRun>,
    /// The instant predicted (the newest base-bar close), RFC 3339 UTC; empty when skipped.
    pub at: String,
    /// Predictions stored by this run (a second run for the same instant stores none).
    pub stored: usize,
    /// Symbols predicted.
    pub predicted: usize,
    /// Symbols that got no prediction, with why.
    pub failed: Vec<PredictEntry>,
    /// Why the run did nothing, when it did nothing (outside the session, no watchlist, …).
    pub skipped: Option<String>,
}

/// One active model's part of a [`ScheduledRun`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ScheduledModelRun {
    /// `name@version`.
    pub model: String,
    /// Minutes ahead.
    #[ts(type = "number")]
    pub horizon_minutes: i64,
    /// The instant predicted (the newest base-bar close), RFC 3339 UTC; empty when skipped.
    pub at: String,
    /// Predictions stored by this run (a second run for the same instant stores none).
    pub stored: usize,
    /// Symbols predicted.
    pub predicted: usize,
    /// Symbols that got no prediction, with why.
    pub failed: Vec<PredictEntry>,
    /// Why the run did nothing, when it did nothing (outside the session, no watchlist, …).
    pub skipped: Option<String>,
}

impl ScheduledModelRun {
    /// A run of `model` that predicted nothing, and why.
    #[must_use]
    pub fn skipped(model: &str, horizon_minutes: i64, why: String) -> Self {
        ScheduledModelRun {
            model: model.to_string(),
            horizon_minutes,
            at: String::new(),
            stored: 0,
            predicted: 0,
            failed: vec![],
            skipped: Some(why),
        }
    }
}

/// Parses a JSON text column; text that does not parse is returned as a JSON string (never lost).
#[must_use]
pub fn json_column(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
    }
}

/// `POST /api/v1/session`: a short-lived token for a browser (`Authorization: Bearer <token>` on the data routes,
/// `ml-predict` and prediction writes; `?token=` on the stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionResponse {
    /// The signed token (`mtf1.…`).
    pub token: String,
    /// When it stops working (RFC 3339 UTC); ask for a new one before.
    pub expires_at: String,
    /// Its lifetime in seconds.
    #[ts(type = "number")]
    pub ttl_s: i64,
    /// What it grants: `read` (data, ml-predict, stream) and `write` (storing predictions).
    pub scopes: Vec<String>,
}

/// The state of the edge's upstream (Alpaca) stream connection, as the shared stream tells its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    /// Connecting or authenticating.
    Connecting,
    /// Authenticated and subscribed: market data flows.
    Live,
    /// The connection ended; the edge reconnects after `retry_in_ms`.
    Reconnecting,
    /// Alpaca refused the edge (bad keys, plan): retried after `retry_in_ms`; the operator must act.
    Unavailable,
}

/// The first frame of `GET /api/v1/stream` (an element of a JSON array, as Alpaca's messages are): the
/// symbols, the flow-control window and the upstream's state. The client acknowledges with
/// `{"action":"ack","frames":N}` (N: frames processed on this connection, this one included) at least every
/// `ack_every` frames; one more than `max_unacked` frames behind is disconnected (close code 1008).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StreamHello {
    /// Always `success`.
    #[serde(rename = "T")]
    #[ts(type = "\"success\"")]
    pub kind: String,
    /// Always `connected`.
    #[ts(type = "\"connected\"")]
    pub msg: String,
    /// The symbols of this connection.
    pub symbols: Vec<String>,
    /// Acknowledge at least every this many frames.
    #[ts(type = "number")]
    pub ack_every: u64,
    /// Frames the edge sends ahead of the last acknowledgement before it disconnects the client.
    #[ts(type = "number")]
    pub max_unacked: u64,
    /// The upstream's state now.
    pub upstream: UpstreamState,
}

/// `{"T":"status", …}`: sent to every stream client when the upstream's state changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StreamStatusMessage {
    /// Always `status`.
    #[serde(rename = "T")]
    #[ts(type = "\"status\"")]
    pub kind: String,
    /// The new state.
    pub upstream: UpstreamState,
    /// When the edge tries again (milliseconds from now), for `reconnecting` and `unavailable`.
    #[ts(type = "number | null")]
    pub retry_in_ms: Option<u64>,
    /// Why (the upstream's close or error, secrets scrubbed).
    pub reason: Option<String>,
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
        "// Generated from edge-worker/src/wire.rs (and crates/retrain) by ts-rs — do not edit.\n\
         // Regenerate: MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire\n\n\
         import type { Prediction, Timeframe } from \"./contract.js\";\n\n",
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
        decl::<AccuracyRun>(),
        decl::<ServedModel>(),
        decl::<EntryError>(),
        decl::<InputRange>(),
        decl::<PredictEntry>(),
        decl::<PredictResponse>(),
        decl::<ScheduledRun>(),
        decl::<ScheduledModelRun>(),
        decl::<SessionResponse>(),
        decl::<UpstreamState>(),
        decl::<StreamHello>(),
        decl::<StreamStatusMessage>(),
        // Retrain records and model health (`/api/v1/retrains`, `/models/{v}/health`), defined in crates/retrain.
        decl::<mtf_retrain::record::Decision>(),
        decl::<mtf_retrain::record::SymbolScore>(),
        decl::<mtf_retrain::record::Score>(),
        decl::<mtf_retrain::record::Candidate>(),
        decl::<mtf_retrain::record::RetrainInputs>(),
        decl::<mtf_retrain::record::SearchTrial>(),
        decl::<mtf_retrain::record::RetrainRecord>(),
        decl::<mtf_retrain::record::RetrainsResponse>(),
        decl::<mtf_retrain::triggers::Check>(),
        decl::<mtf_retrain::health::Validation>(),
        decl::<mtf_retrain::health::WindowMetrics>(),
        decl::<mtf_retrain::health::DailyPoint>(),
        decl::<mtf_retrain::health::HorizonHealth>(),
        decl::<mtf_retrain::health::ModelHealth>(),
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
