//! `POST|GET /api/v1/predictions`: validated predictions stored in D1 (a batch is one transaction) and read
//! back newest first through the KV cache (keyed by the symbol's write generation).

use serde_json::json;
use worker::{Env, Request};

use crate::auth::Caller;
use crate::config::Config;
use crate::db::{self, PREDICTION_COLS, PredictionDbRow};
use crate::http::{self, Res, json_response, now_ms, query};
use crate::logic::{self, ApiError, CacheKind};
use crate::session::Scope;
use crate::upstream::cached;
use crate::wire::{PredictionsResponse, StoredCount};

pub async fn post(req: Request, env: &Env, cfg: &Config) -> Res {
    let caller = crate::auth::require(&req, cfg, Scope::Write)?;
    let body = http::body_json(req, cfg).await?;
    let now = now_ms();
    let rows_in = logic::validate_predictions(&body, 100, now)?;
    let db = db::d1(env)?;
    if let Caller::Session(claims) = &caller {
        // A browser stores one prediction per base bar and symbol: a small write budget per token bounds what one
        // session can put into D1 and the KV write quota.
        http::limit_key(
            &format!("write:{}", claims.sid),
            cfg.session_writes_per_min,
            "writes per minute with this session",
        )?;
        // Browser writes are untrusted: recent (a backdated row would forge a model's live record) and made by a
        // registered model version.
        if cfg.prediction_max_age_s > 0 {
            logic::check_recent(&rows_in, now, cfg.prediction_max_age_s * 1000)?;
        }
        let versions: std::collections::BTreeSet<&str> = rows_in.iter().map(|r| r.model_version.as_str()).collect();
        for v in versions {
            let known: Vec<db::Exists> =
                db::rows(&db, "SELECT 1 AS x FROM ml_model_versions WHERE version = ?1", &[json!(v)]).await?;
            if known.is_empty() {
                return Err(ApiError::new(
                    422,
                    "unknown_model_version",
                    format!("modelVersion `{v}` is not a registered model version (GET /api/v1/models)"),
                ));
            }
        }
    }
    let mut stmts = Vec::with_capacity(rows_in.len());
    for r in &rows_in {
        stmts.push(db::bind(
            db.prepare(
                "INSERT INTO ml_predictions (symbol, model_version, prediction_time, horizon_minutes, predicted_price, \
                 interval_low, interval_high, confidence, signal, last_close, attention_weights, payload, target_time, \
                 source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            ),
            &[
                json!(r.symbol),
                json!(r.model_version),
                json!(r.prediction_time),
                json!(r.horizon_minutes),
                json!(r.predicted_price),
                json!(r.interval_low),
                json!(r.interval_high),
                json!(r.confidence),
                json!(r.signal),
                json!(r.last_close),
                json!(r.attention_weights),
                json!(r.payload),
                json!(r.target_time),
                json!(caller.source()),
            ],
        )?);
    }
    // A D1 batch is one transaction: a failure stores nothing.
    db.batch(stmts).await?;
    let symbols: std::collections::BTreeSet<&String> = rows_in.iter().map(|r| &r.symbol).collect();
    for s in symbols {
        bump_generation(env, s).await;
    }
    json_response(201, &StoredCount { stored: rows_in.len() })
}

/// Invalidates the cached prediction lists of `symbol` (their key carries this generation).
pub async fn bump_generation(env: &Env, symbol: &str) {
    if let Ok(kv) = env.kv("CACHE")
        && let Ok(p) = kv.put(&format!("preds:gen:{symbol}"), now_ms().to_string())
    {
        let _ = p.execute().await;
    }
}

pub async fn get(req: &Request, env: &Env) -> Res {
    let q = query(req)?;
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 50, 500)?;
    // The cache key carries the symbol's write generation, so a new prediction is visible at once.
    let kv = env.kv("CACHE")?;
    let generation = kv.get(&format!("preds:gen:{symbol}")).text().await.ok().flatten().unwrap_or_default();
    let key = format!("preds:v1:{symbol}:{limit}:{generation}");
    cached(env, &key, CacheKind::Predictions, || async {
        let db = db::d1(env)?;
        let list: Vec<PredictionDbRow> = db::rows(
            &db,
            &format!(
                "SELECT {PREDICTION_COLS} FROM ml_predictions WHERE symbol = ?1 \
                 ORDER BY prediction_time DESC, id DESC LIMIT ?2"
            ),
            &[json!(symbol), json!(limit)],
        )
        .await?;
        let predictions: Vec<_> = list.into_iter().map(PredictionDbRow::into_wire).collect();
        // Only validated predictions are stored, so the newest row is the last valid prediction.
        let latest = predictions.first().cloned();
        serde_json::to_value(PredictionsResponse { symbol: symbol.clone(), predictions, latest })
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}
