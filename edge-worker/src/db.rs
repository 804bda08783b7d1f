//! D1: bound statements and typed rows. Every query reads into a struct with `results::<T>()`; numbers come
//! back from D1 as JavaScript numbers, so row structs hold `f64` and the wire types convert.

use serde::Deserialize;
use serde_json::{Value, json};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::http::urlencode;
use crate::logic::ApiError;
use crate::wire::{self, ModelVersion, StoredPrediction, TrainingRow};

/// The `DB` binding.
pub fn d1(env: &Env) -> Result<D1Database, ApiError> {
    Ok(env.d1("DB")?)
}

/// A statement with its `?N` parameters bound (JSON values: null, booleans as 0/1, numbers, text; arrays and
/// objects as JSON text).
pub fn bind(stmt: D1PreparedStatement, args: &[Value]) -> Result<D1PreparedStatement, ApiError> {
    let vals: Vec<JsValue> = args
        .iter()
        .map(|a| match a {
            Value::Null => JsValue::NULL,
            Value::Bool(b) => JsValue::from(i32::from(*b)),
            Value::Number(n) => JsValue::from(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => JsValue::from(s.as_str()),
            other => JsValue::from(other.to_string()),
        })
        .collect();
    Ok(stmt.bind(&vals)?)
}

/// Runs a query and reads its rows as `T`.
pub async fn rows<T: for<'a> Deserialize<'a>>(db: &D1Database, sql: &str, args: &[Value]) -> Result<Vec<T>, ApiError> {
    let r = bind(db.prepare(sql), args)?.all().await?;
    Ok(r.results::<T>()?)
}

/// Runs a statement; returns the number of rows it changed.
pub async fn run(db: &D1Database, sql: &str, args: &[Value]) -> Result<usize, ApiError> {
    let r = bind(db.prepare(sql), args)?.run().await?;
    Ok(r.meta()?.and_then(|m| m.changes).unwrap_or(0))
}

/// `SELECT 1 AS x …`: whether any row matches.
#[derive(Debug, Deserialize)]
pub struct Exists {
    #[allow(dead_code)] // read by serde only
    pub x: f64,
}

/// `SELECT COUNT(*) AS n …`.
#[derive(Debug, Deserialize)]
pub struct Count {
    pub n: f64,
}

/// The columns of `ml_model_versions` the API reads ([`MODEL_COLS`]).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelRow {
    pub version: String,
    pub sha256: String,
    pub size: f64,
    pub is_active: f64,
    pub created_at: String,
    pub training_start: String,
    pub training_end: String,
    pub metrics: Option<String>,
    pub config: Option<String>,
    pub model_path: String,
    /// Base-bar minutes × label horizon (migration 0009; set at registration).
    pub horizon_minutes: Option<f64>,
    /// When the version was last activated (RFC 3339 UTC).
    pub activated_at: Option<String>,
}

/// The columns of [`ModelRow`], in a `SELECT`.
pub const MODEL_COLS: &str = "version, sha256, size, is_active, created_at, training_start, training_end, metrics, config, model_path, horizon_minutes, activated_at";

impl ModelRow {
    /// The wire form.
    pub fn to_wire(&self) -> ModelVersion {
        ModelVersion {
            version: self.version.clone(),
            name: self.version.split('@').next().unwrap_or_default().to_string(),
            sha256: self.sha256.clone(),
            size: self.size.max(0.0) as u64,
            active: self.is_active != 0.0,
            created_at: self.created_at.clone(),
            training_start: self.training_start.clone(),
            training_end: self.training_end.clone(),
            metrics: wire::json_column(self.metrics.as_deref()),
            config: wire::json_column(self.config.as_deref()),
            artifact_url: format!("/api/v1/models/{}/artifact", urlencode(&self.version)),
            horizon_minutes: self.horizon_minutes.map(|h| h as i64),
            activated_at: self.activated_at.clone(),
        }
    }
}

/// The active models, one per horizon, newest activation first.
///
/// # Errors
/// D1 failing.
pub async fn active_models(db: &D1Database) -> Result<Vec<ModelRow>, ApiError> {
    rows(
        db,
        &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE is_active = 1 ORDER BY activated_at DESC, id DESC"),
        &[],
    )
    .await
}

/// The active model of `horizon` minutes, or (`None`) the newest activation: one row read (the predict route's
/// path). `Err` holds the horizons that are served when no model matches (empty: none is active).
///
/// # Errors
/// D1 failing (outer).
pub async fn active_model(db: &D1Database, horizon: Option<i64>) -> Result<Result<ModelRow, Vec<i64>>, ApiError> {
    let found: Vec<ModelRow> = match horizon {
        None => {
            let sql = format!(
                "SELECT {MODEL_COLS} FROM ml_model_versions WHERE is_active = 1 ORDER BY activated_at DESC, id DESC LIMIT 1"
            );
            rows(db, &sql, &[]).await?
        }
        Some(h) => {
            let sql = format!(
                "SELECT {MODEL_COLS} FROM ml_model_versions WHERE is_active = 1 AND horizon_minutes = ?1 LIMIT 1"
            );
            rows(db, &sql, &[json!(h)]).await?
        }
    };
    if let Some(row) = found.into_iter().next() {
        return Ok(Ok(row));
    }
    #[derive(Deserialize)]
    struct Served {
        h: f64,
    }
    let served: Vec<Served> = rows(
        db,
        "SELECT DISTINCT horizon_minutes AS h FROM ml_model_versions WHERE is_active = 1 AND horizon_minutes IS NOT NULL \
         ORDER BY h",
        &[],
    )
    .await?;
    Ok(Err(served.into_iter().map(|s| s.h as i64).collect()))
}

/// The registry row of `version`.
///
/// # Errors
/// 404 naming the version when it is not registered.
pub async fn model(db: &D1Database, version: &str) -> Result<ModelRow, ApiError> {
    let list: Vec<ModelRow> =
        rows(db, &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE version = ?1"), &[json!(version)]).await?;
    list.into_iter().next().ok_or_else(|| ApiError::not_found(format!("no model version `{version}`")))
}

/// The columns of `ml_predictions` the API returns ([`PREDICTION_COLS`]).
#[derive(Debug, Clone, Deserialize)]
pub struct PredictionDbRow {
    pub id: f64,
    pub symbol: String,
    pub model_version: String,
    pub prediction_time: String,
    pub horizon_minutes: f64,
    pub predicted_price: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub confidence: f64,
    pub signal: String,
    pub last_close: f64,
    pub realized_price: Option<f64>,
    pub realized_error: Option<f64>,
    pub hit: Option<f64>,
    pub in_interval: Option<f64>,
    pub evaluated_at: Option<String>,
    pub created_at: String,
    pub payload: Option<String>,
    pub status: String,
    pub source: String,
}

/// The columns of [`PredictionDbRow`], in a `SELECT`.
pub const PREDICTION_COLS: &str = "id, symbol, model_version, prediction_time, horizon_minutes, predicted_price, \
     interval_low, interval_high, confidence, signal, last_close, realized_price, realized_error, hit, in_interval, \
     evaluated_at, created_at, payload, status, source";

impl PredictionDbRow {
    /// The wire form (payload parsed).
    pub fn into_wire(self) -> StoredPrediction {
        StoredPrediction {
            id: self.id as i64,
            symbol: self.symbol,
            model_version: self.model_version,
            prediction_time: self.prediction_time,
            horizon_minutes: self.horizon_minutes as i64,
            predicted_price: self.predicted_price,
            interval_low: self.interval_low,
            interval_high: self.interval_high,
            confidence: self.confidence,
            signal: self.signal,
            last_close: self.last_close,
            realized_price: self.realized_price,
            realized_error: self.realized_error,
            hit: self.hit.map(|v| v as i64),
            in_interval: self.in_interval.map(|v| v as i64),
            evaluated_at: self.evaluated_at,
            created_at: self.created_at,
            payload: wire::json_column(self.payload.as_deref()),
            status: self.status,
            source: self.source,
        }
    }
}

/// A prediction waiting to be scored (what the accuracy cron reads).
#[derive(Debug, Clone, Deserialize)]
pub struct PendingRow {
    pub id: f64,
    pub symbol: String,
    pub model_version: String,
    pub target_time: String,
    pub predicted_price: f64,
    pub last_close: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub signal: String,
    /// `edge` (the cron's) or `client`.
    pub source: String,
}

/// Aggregates of scored predictions.
#[derive(Debug, Clone, Deserialize)]
pub struct PerformanceRow {
    pub evaluated: f64,
    pub hit_rate: Option<f64>,
    pub mean_abs_error: Option<f64>,
    pub interval_coverage: Option<f64>,
}

/// A row of `ml_training_data`.
#[derive(Debug, Clone, Deserialize)]
pub struct TrainingDbRow {
    pub symbol: String,
    pub timeframe: String,
    pub timestamp: String,
    pub features: Option<String>,
    pub target: Option<f64>,
}

impl TrainingDbRow {
    /// The wire form (features parsed).
    pub fn into_wire(self) -> TrainingRow {
        TrainingRow {
            symbol: self.symbol,
            timeframe: self.timeframe,
            timestamp: self.timestamp,
            features: wire::json_column(self.features.as_deref()),
            target: self.target,
        }
    }
}

/// A scored prediction as model health reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct HealthDbRow {
    pub horizon_minutes: f64,
    pub target_time: Option<String>,
    pub last_close: f64,
    pub predicted_price: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub level: Option<f64>,
    pub realized_price: f64,
    pub hit: Option<f64>,
}

impl HealthDbRow {
    /// The health input (`None` for a row without a readable target time or band level).
    pub fn into_scored(self) -> Option<mtf_retrain::health::ScoredRow> {
        let target_time = chrono::DateTime::parse_from_rfc3339(self.target_time.as_deref()?).ok()?.to_utc();
        Some(mtf_retrain::health::ScoredRow {
            horizon_minutes: self.horizon_minutes as i64,
            target_time,
            last_close: self.last_close,
            predicted_price: self.predicted_price,
            interval_low: self.interval_low,
            interval_high: self.interval_high,
            level: self.level.filter(|l| *l > 0.0 && *l < 1.0)?,
            realized_price: self.realized_price,
            hit: self.hit.map(|h| h != 0.0),
        })
    }
}

/// A stored retrain record (JSON text).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordRow {
    pub record: String,
}
