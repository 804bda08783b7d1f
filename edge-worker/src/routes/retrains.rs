//! `POST /api/v1/retrains` (admin: `mtf retrain`'s records, upserted by run id), `GET /api/v1/retrains`
//! (newest first) and `GET /api/v1/models/{version}/health` (rolling live metrics of a version's scored
//! predictions next to its validation numbers, computed by `mtf_retrain::health`).

use serde_json::json;
use worker::{Env, Request};

use crate::config::Config;
use crate::db::{self, HealthDbRow, RecordRow};
use crate::http::{self, Res, json_response, query};
use crate::logic::{self, ApiError};
use mtf_retrain::health::{self, Validation};
use mtf_retrain::record::{RetrainRecord, RetrainsResponse};

/// Scored rows read per health request (newest first): more than a week of 15-minute predictions of 100 symbols
/// would be, and bounded so one request stays within D1's limits.
const HEALTH_ROWS: usize = 5000;

pub async fn post(req: Request, env: &Env, cfg: &Config) -> Res {
    http::require(&req, &cfg.admin_token, "admin token")?;
    let body = http::body_json(req, cfg).await?;
    let r: RetrainRecord = serde_json::from_value(body)
        .map_err(|e| ApiError::new(422, "invalid_record", format!("not a retrain record: {e}")))?;
    logic::check_retrain_record(&r)?;
    let text = serde_json::to_string(&r).map_err(|e| ApiError::internal(e.to_string()))?;
    let db = db::d1(env)?;
    db::run(
        &db,
        "INSERT INTO ml_retrains (id, finished_at, decision, champion, challenger, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, decision = excluded.decision, \
         champion = excluded.champion, challenger = excluded.challenger, record = excluded.record",
        &[
            json!(r.id),
            json!(r.finished_at),
            json!(r.decision.as_str()),
            json!(r.champion.as_ref().map(|c| c.version.clone())),
            json!(r.challenger.as_ref().map(|c| c.version.clone())),
            json!(text),
        ],
    )
    .await?;
    json_response(201, &json!({ "id": r.id }))
}

pub async fn list(req: &Request, env: &Env) -> Res {
    let q = query(req)?;
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 20, 100)?;
    let db = db::d1(env)?;
    let rows: Vec<RecordRow> =
        db::rows(&db, "SELECT record FROM ml_retrains ORDER BY finished_at DESC, id LIMIT ?1", &[json!(limit)]).await?;
    let retrains = rows.iter().filter_map(|r| serde_json::from_str::<RetrainRecord>(&r.record).ok()).collect();
    json_response(200, &RetrainsResponse { retrains })
}

pub async fn health(req: &Request, version: &str, env: &Env) -> Res {
    let q = query(req)?;
    let source = q.get("source").map(String::as_str);
    if let Some(s) = source
        && !crate::auth::SOURCES.contains(&s)
    {
        return Err(ApiError::bad_request(
            "invalid_source",
            format!("source: one of {}", crate::auth::SOURCES.join(", ")),
        ));
    }
    let db = db::d1(env)?;
    let model = db::model(&db, version).await?;
    let rows: Vec<HealthDbRow> = db::rows(
        &db,
        &format!(
            "SELECT horizon_minutes, target_time, last_close, predicted_price, interval_low, interval_high, \
             json_extract(payload, '$.interval.level') AS level, realized_price, hit FROM ml_predictions \
             WHERE model_version = ?1 AND status = 'scored' AND realized_price IS NOT NULL{} \
             ORDER BY target_time DESC LIMIT {HEALTH_ROWS}",
            if source.is_some() { " AND source = ?2" } else { "" }
        ),
        &if let Some(s) = source { vec![json!(version), json!(s)] } else { vec![json!(version)] },
    )
    .await?;
    let scored: Vec<_> = rows.into_iter().filter_map(HealthDbRow::into_scored).collect();
    let validation = Validation::from_metrics(&crate::wire::json_column(model.metrics.as_deref()));
    json_response(200, &health::summarise(version, &scored, validation))
}
