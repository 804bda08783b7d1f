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
                "INSERT INTO ml_training_data (symbol, timeframe, timestamp, features, target) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (symbol, timeframe, timestamp) DO UPDATE SET features = excluded.features, target = excluded.target",
            ),
            &[
                json!(symbol),
                json!(tf.short()),
                json!(ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                json!(features.to_string()),
                target,
            ],
        )?);
    }
    db.batch(stmts).await?;
    json_response(200, &Upserted { upserted: items.len() })
}

/// The export is public, as documented in `openapi.yaml` (only writes need the admin token).
pub async fn get(req: &Request, env: &Env) -> Res {
    let q = query(req)?;
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let tf = logic::parse_timeframe(q.get("timeframe").map(String::as_str))?;
    let fmt = |t: Option<DateTime<Utc>>, d: &str| {
        t.map_or(d.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let start = fmt(logic::parse_time(q.get("start").map(String::as_str), "start")?, "0000");
    let end = fmt(logic::parse_time(q.get("end").map(String::as_str), "end")?, "9999");
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 1000, 5000)?;
    let db = db::d1(env)?;
    let list: Vec<TrainingDbRow> = db::rows(
        &db,
        "SELECT symbol, timeframe, timestamp, features, target FROM ml_training_data WHERE symbol = ?1 AND timeframe = ?2 \
         AND timestamp >= ?3 AND timestamp <= ?4 ORDER BY timestamp ASC LIMIT ?5",
        &[json!(symbol), json!(tf.short()), json!(start), json!(end), json!(limit)],
    )
    .await?;
    json_response(200, &TrainingRows { rows: list.into_iter().map(TrainingDbRow::into_wire).collect() })
}
