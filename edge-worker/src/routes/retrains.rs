//! `POST /api/v1/retrains` (admin: `mtf retrain`'s records, upserted by run id), `GET /api/v1/retrains`
//! (newest first) and `GET /api/v1/models/{version}/health` (rolling live metrics of a version's scored
//! predictions next to its validation numbers, computed by `mtf_retrain::health`, and the feature drift of the
//! edge's own predictions against the artifact's training reference, `mtf_features::reference`). The monitoring
//! step ([`refresh`], after each accuracy run that scored something) stores each version's health; the route
//! serves the stored numbers while nothing newer was scored, else computes them.

use serde_json::json;
use worker::{Env, Request};

use crate::config::Config;
use crate::db::{self, HealthDbRow, RecordRow};
use crate::http::{self, Res, json_response, query};
use crate::logic::{self, ApiError};
use mtf_retrain::health::{self, ModelHealth, Validation};
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

pub async fn health(req: &Request, version: &str, env: &Env, cfg: &Config) -> Res {
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
    // The monitoring run's numbers, while nothing of this version was scored after they were computed.
    let cached: Vec<HealthCacheRow> = db::rows(
        &db,
        "SELECT h.body, julianday((SELECT MAX(evaluated_at) FROM ml_predictions \
         WHERE model_version = ?1 AND status = 'scored')) > julianday(h.computed_at) AS outdated \
         FROM ml_model_health h WHERE h.version = ?1 AND h.source = ?2",
        &[json!(version), json!(source.unwrap_or(ALL_SOURCES))],
    )
    .await?;
    if let Some(c) = cached.into_iter().next()
        && c.outdated.is_none_or(|o| o == 0.0)
        && let Ok(h) = serde_json::from_str::<ModelHealth>(&c.body)
    {
        return json_response(200, &h);
    }
    let mut h = compute(env, cfg, &db, &model, source, None).await?;
    h.computed_at = Some(http::iso_millis(http::now_ms()));
    json_response(200, &h)
}

/// The `source` key of the health of every source together.
const ALL_SOURCES: &str = "all";

/// A stored health and the newest scoring of its version.
#[derive(serde::Deserialize)]
struct HealthCacheRow {
    body: String,
    /// 1 when a prediction of the version was scored after the row was computed (NULL: none scored).
    outdated: Option<f64>,
}

/// The health of `model` from its newest [`HEALTH_ROWS`] scored predictions (of `source`, or all), with the
/// feature drift of the edge's own predictions (`drift`, when the caller has computed it already; else here).
async fn compute(
    env: &Env,
    cfg: &Config,
    db: &worker::D1Database,
    model: &db::ModelRow,
    source: Option<&str>,
    drift: Option<&Drift>,
) -> Result<ModelHealth, ApiError> {
    let version = model.version.as_str();
    let rows: Vec<HealthDbRow> = db::rows(
        db,
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
    let mut h = health::summarise(version, &scored, validation);
    // Drift is best effort: health without it is still worth serving.
    match drift {
        Some(d) => d.fill(&mut h),
        None => match drift_of(env, cfg, db, version).await {
            Ok(d) => d.fill(&mut h),
            Err(e) => http::log_error("health: drift", &e, cfg),
        },
    }
    Ok(h)
}

/// Observations read for drift: the newest [`DRIFT_DAYS`] days, at most this many.
const DRIFT_ROWS: usize = 2000;
/// The drift window, days before the newest observation.
const DRIFT_DAYS: i64 = 7;
/// Observations kept per version, days before the newest (older ones are deleted by the monitoring step).
const OBS_KEEP_DAYS: i64 = 30;

#[derive(serde::Deserialize)]
struct ObsRow {
    inputs: String,
}

/// A version's feature drift: PSI per timeframe, the observations behind it, whether the artifact has a
/// reference.
struct Drift {
    by_timeframe: std::collections::BTreeMap<String, f64>,
    observations: usize,
    reference: bool,
}

impl Drift {
    fn fill(&self, h: &mut ModelHealth) {
        h.drift.clone_from(&self.by_timeframe);
        h.drift_observations = self.observations;
        h.drift_reference = self.reference;
    }
}

/// The edge's recorded inputs of `version` over the newest [`DRIFT_DAYS`] days against the artifact's training
/// reference (loaded through the isolate's model cache).
async fn drift_of(env: &Env, cfg: &Config, db: &worker::D1Database, version: &str) -> Result<Drift, ApiError> {
    let rows: Vec<ObsRow> = db::rows(
        db,
        &format!(
            "SELECT inputs FROM ml_feature_obs WHERE model_version = ?1 AND julianday(at) > \
             (SELECT julianday(MAX(at)) FROM ml_feature_obs WHERE model_version = ?1) - {DRIFT_DAYS} \
             ORDER BY at DESC LIMIT {DRIFT_ROWS}"
        ),
        &[json!(version)],
    )
    .await?;
    let obs: Vec<Vec<f64>> = rows.iter().filter_map(|r| serde_json::from_str(&r.inputs).ok()).collect();
    let mut d = Drift { by_timeframe: Default::default(), observations: obs.len(), reference: false };
    let served = crate::inference::model(env, cfg, Some(version), None).await?;
    if let Some(reference) = served.model.predictor.header.drift_reference.as_ref() {
        d.reference = true;
        d.by_timeframe =
            reference.psi_by_timeframe(&obs).into_iter().map(|(tf, v)| (tf.short().to_string(), v)).collect();
    }
    Ok(d)
}

/// The monitoring step (after an accuracy run scored predictions): recomputes and stores the health of each of
/// `versions`, for all sources together and for the edge's own (trusted) predictions. Returns how many versions
/// were refreshed.
///
/// # Errors
/// D1 failing.
pub async fn refresh(env: &Env, cfg: &Config, db: &worker::D1Database, versions: &[String]) -> Result<usize, ApiError> {
    let mut done = 0;
    for v in versions {
        db::run(
            db,
            &format!(
                "DELETE FROM ml_feature_obs WHERE model_version = ?1 AND julianday(at) < \
                 (SELECT julianday(MAX(at)) FROM ml_feature_obs WHERE model_version = ?1) - {OBS_KEEP_DAYS}"
            ),
            &[json!(v)],
        )
        .await?;
        let model = match db::model(db, v).await {
            Ok(m) => m,
            Err(e) if e.status == 404 => continue, // pruned since
            Err(e) => return Err(e),
        };
        // Drift depends only on the version (the edge's own inputs): computed once for both sources.
        let drift = drift_of(env, cfg, db, v).await.map_err(|e| http::log_error("monitoring: drift", &e, cfg)).ok();
        for source in [None, Some("edge")] {
            // Stamped before the read: a prediction scored meanwhile is newer and bypasses this row.
            let at = http::iso_millis(http::now_ms());
            let mut h = compute(env, cfg, db, &model, source, drift.as_ref()).await?;
            h.computed_at = Some(at.clone());
            h.precomputed = true;
            let body = serde_json::to_string(&h).map_err(|e| ApiError::internal(e.to_string()))?;
            db::run(
                db,
                "INSERT INTO ml_model_health (version, source, computed_at, body) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (version, source) DO UPDATE SET computed_at = excluded.computed_at, body = excluded.body",
                &[json!(v), json!(source.unwrap_or(ALL_SOURCES)), json!(at), json!(body)],
            )
            .await?;
        }
        done += 1;
    }
    Ok(done)
}
