//! `POST|GET /api/v1/training-data` (admin): feature rows upserted by (symbol, timeframe, timestamp).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use worker::{Env, Request};

use crate::config::Config;
use crate::db::{self, TrainingDbRow};
use crate::http::{self, Res, json_response, query};
use crate::logic::{self, ApiError};
use crate::wire::{TrainingRows, Upserted};

pub async fn post(req: Request, env: &Env, cfg: &Config) -> Res {
    http::require(&req, &cfg.admin_token, "admin token")?;
    let received = http::iso_millis(http::now_ms());
    let body = http::body_json(req, cfg).await?;
    let items = body
        .get("rows")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::new(422, "invalid_rows", "body must be { \"rows\": [...] }"))?;
    if items.is_empty() || items.len() > 1000 {
        return Err(ApiError::new(422, "invalid_rows", format!("1–1000 rows per request, got {}", items.len())));
    }
    let db = db::d1(env)?;
    let mut stmts = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        let bad = |m: &str| ApiError::new(422, "invalid_row", format!("rows[{i}].{m}"));
        let symbol = logic::parse_symbol(r.get("symbol").and_then(Value::as_str))
            .map_err(|e| bad(&format!("symbol: {}", e.message)))?;
        let tf = logic::parse_timeframe(r.get("timeframe").and_then(Value::as_str))
            .map_err(|e| bad(&format!("timeframe: {}", e.message)))?;
        let ts = logic::parse_time(r.get("timestamp").and_then(Value::as_str), "timestamp")
            .ok()
            .flatten()
            .ok_or_else(|| bad("timestamp: must be RFC 3339"))?;
        // Whole seconds are stored as before; sub-second instants keep their fraction (never truncated into
        // another row's key).
        let timestamp = ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let as_of = match r.get("as_of") {
            None | Some(Value::Null) => received.clone(),
            Some(v) => logic::parse_time(v.as_str(), "as_of")
                .ok()
                .flatten()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .ok_or_else(|| bad("as_of: must be RFC 3339"))?,
        };
        let features = r
            .get("features")
            .filter(|f| f.is_object() || f.is_array())
            .ok_or_else(|| bad("features: must be an object or array"))?;
        let target = match r.get("target") {
            None | Some(Value::Null) => Value::Null,
            Some(t) => json!(
                t.as_f64().filter(|x| x.is_finite()).ok_or_else(|| bad("target: must be a finite number or null"))?
            ),
        };
        stmts.push(db::bind(
            db.prepare(
                "INSERT INTO ml_training_data (symbol, timeframe, timestamp, features, target, as_of) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (symbol, timeframe, timestamp) DO UPDATE SET \
                 features = excluded.features, target = excluded.target, as_of = excluded.as_of \
                 WHERE excluded.as_of >= ml_training_data.as_of",
            ),
            &[json!(symbol), json!(tf.short()), json!(timestamp), json!(features.to_string()), target, json!(as_of)],
        )?);
    }
    // One transaction; each statement's `changes` says whether it wrote (0: a newer row was kept).
    let results = db.batch(stmts).await?;
    let written = results.iter().filter(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) > 0).count();
    json_response(200, &Upserted { upserted: written, kept_newer: items.len() - written })
}

/// The export is public, as documented in `openapi.yaml` (only writes need the admin token).
pub async fn get(req: &Request, env: &Env) -> Res {
    let q = query(req)?;
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let tf = logic::parse_timeframe(q.get("timeframe").map(String::as_str))?;
    // Timestamps are stored whole-second (`…:00Z`) or with their fraction (`…:00.250Z`), which do not sort as text
    // within one second ('.' < 'Z'): the range is pre-filtered on the text (index-friendly, never too narrow) and
    // decided and ordered by the instant.
    let fmt = |t: Option<DateTime<Utc>>, d: &str| {
        t.map_or(d.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let start = fmt(logic::parse_time(q.get("start").map(String::as_str), "start")?, "0000-01-01T00:00:00Z");
    let end = fmt(logic::parse_time(q.get("end").map(String::as_str), "end")?, "9999-12-31T23:59:59Z");
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 1000, 5000)?;
    let db = db::d1(env)?;
    let list: Vec<TrainingDbRow> = db::rows(
        &db,
        "SELECT symbol, timeframe, timestamp, features, target FROM ml_training_data WHERE symbol = ?1 AND timeframe = ?2 \
         AND timestamp >= substr(?3, 1, 19) AND timestamp < substr(?4, 1, 19) || '~' \
         AND julianday(timestamp) BETWEEN julianday(?3) AND julianday(?4) \
         ORDER BY julianday(timestamp), timestamp LIMIT ?5",
        &[json!(symbol), json!(tf.short()), json!(start), json!(end), json!(limit)],
    )
    .await?;
    json_response(200, &TrainingRows { rows: list.into_iter().map(TrainingDbRow::into_wire).collect() })
}
