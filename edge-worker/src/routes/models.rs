//! The model registry: `GET /api/v1/models`, `/models/active[?horizon=]`, `/models/{v}/artifact` (ETag =
//! sha256), `POST /models` (admin; verified with the shared artifact envelope), `/models/{v}/activate`
//! (rollback) and `/models/{v}/performance`. One model is active per horizon (minutes ahead): activating a
//! version deactivates only the other versions of its horizon, and a registration becomes active when its
//! horizon has none. Registration and activation load the artifact as the predict route will and refuse (422
//! `artifact_invalid`) one that does not load. Artifacts live in KV; the newest 5 versions and every active one
//! are kept.

use serde_json::{Value, json};
use worker::{D1Database, Env, Headers, Request, Response};

use crate::config::Config;
use crate::db::{self, Count, Exists, MODEL_COLS, ModelRow, PerformanceRow};
use crate::http::{self, Res, json_response, query};
use crate::logic::{self, ApiError};
use crate::wire::{ModelResponse, ModelsResponse, Performance};

/// Versions kept besides the active one.
pub const KEEP_VERSIONS: usize = 5;

pub async fn list(env: &Env) -> Res {
    let db = db::d1(env)?;
    let list: Vec<ModelRow> =
        db::rows(&db, &format!("SELECT {MODEL_COLS} FROM ml_model_versions ORDER BY id DESC"), &[]).await?;
    json_response(200, &ModelsResponse { models: list.iter().map(ModelRow::to_wire).collect() })
}

/// `GET /models/active?horizon=N`: the active model predicting N minutes ahead; without `horizon`, the newest
/// activation.
pub async fn active(req: &Request, env: &Env) -> Res {
    let horizon =
        query(req)?.get("horizon").map(|h| crate::serving::parse_horizon(&Value::String(h.clone()))).transpose()?;
    let db = db::d1(env)?;
    let m = match db::active_model(&db, horizon).await? {
        Ok(m) => m,
        Err(served) if served.is_empty() => {
            return Err(ApiError::not_found("no active model: register one with POST /api/v1/models"));
        }
        Err(served) => return Err(crate::serving::no_model_for_horizon(horizon.unwrap_or_default(), &served)),
    };
    let mut r = json_response(200, &ModelResponse { model: m.to_wire() })?;
    let _ = r.headers_mut().set("Cache-Control", "no-cache");
    Ok(r)
}

pub async fn artifact(req: &Request, version: &str, env: &Env) -> Res {
    let db = db::d1(env)?;
    let m = db::model(&db, version).await?;
    let etag = format!("\"{}\"", m.sha256);
    let headers = Headers::new();
    let _ = headers.set("ETag", &etag);
    let _ = headers.set("Cache-Control", "public, max-age=31536000, immutable");
    if req.headers().get("If-None-Match").ok().flatten().as_deref() == Some(etag.as_str()) {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    let bytes = env.kv("MODELS")?.get(&m.model_path).bytes().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let bytes =
        bytes.ok_or_else(|| ApiError::internal(format!("artifact bytes of `{version}` are missing from storage")))?;
    let _ = headers.set("Content-Type", "application/octet-stream");
    Ok(Response::from_bytes(bytes)?.with_headers(headers))
}

pub async fn register(req: Request, env: &Env, cfg: &Config) -> Res {
    http::require(&req, &cfg.admin_token, "admin token")?;
    let activate_now = query(&req)?.get("activate").is_some_and(|v| v == "true" || v == "1");
    let bytes = http::body_bytes(req, 25 << 20).await?;
    let info = logic::parse_artifact(&bytes)?;
    // The edge serves what it registers: an artifact `mtf-model` cannot load is refused here.
    let horizon = crate::inference::horizon_minutes(&crate::inference::load(&bytes, &info.sha256, &info.id)?);
    let db = db::d1(env)?;
    match db::model(&db, &info.id).await {
        Ok(existing) if existing.sha256 == info.sha256 => return model_response(&db, &info.id, 200).await,
        Ok(_) => {
            return Err(ApiError::new(
                409,
                "version_exists",
                format!("`{}` is registered with different bytes; bump the version", info.id),
            ));
        }
        Err(e) if e.status == 404 => {}
        Err(e) => return Err(e),
    }
    // A version name is never re-used for different bytes, even after it was pruned: its artifact URL is served
    // as immutable, so browsers and CDNs may hold the old bytes under it for a year.
    #[derive(serde::Deserialize)]
    struct Seen {
        sha256: String,
    }
    let seen: Vec<Seen> =
        db::rows(&db, "SELECT sha256 FROM ml_model_history WHERE version = ?1", &[json!(info.id)]).await?;
    if seen.first().is_some_and(|s| s.sha256 != info.sha256) {
        return Err(ApiError::new(
            409,
            "version_exists",
            format!("`{}` was registered before with different bytes; bump the version", info.id),
        ));
    }
    let path = format!("artifact:{}:{}", info.id, &info.sha256[..16]);
    env.kv("MODELS")?
        .put_bytes(&path, &bytes)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .execute()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let range = info.header.get("training_range").and_then(Value::as_array).cloned().unwrap_or_default();
    let config = json!({ "data": info.header.get("data"), "model": info.header.get("model"), "feature_spec": info.header.get("feature_spec"), "parameters": info.header.get("parameters") });
    let none_active = db::rows::<Exists>(
        &db,
        "SELECT 1 AS x FROM ml_model_versions WHERE is_active = 1 AND horizon_minutes = ?1",
        &[json!(horizon)],
    )
    .await?
    .is_empty();
    let active_now = activate_now || none_active;
    let mut stmts = Vec::new();
    if activate_now {
        stmts.push(db::bind(
            db.prepare("UPDATE ml_model_versions SET is_active = 0 WHERE horizon_minutes = ?1"),
            &[json!(horizon)],
        )?);
    }
    stmts.push(db::bind(
        db.prepare(
            "INSERT INTO ml_model_versions (version, model_path, sha256, size, training_start, training_end, metrics, config, is_active, horizon_minutes, activated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, CASE WHEN ?9 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END)",
        ),
        &[
            json!(info.id),
            json!(path),
            json!(info.sha256),
            json!(bytes.len()),
            range.first().cloned().unwrap_or(json!("")),
            range.get(1).cloned().unwrap_or(json!("")),
            json!(info.header.get("metrics").cloned().unwrap_or(json!({})).to_string()),
            json!(config.to_string()),
            json!(active_now),
            json!(horizon),
        ],
    )?);
    stmts.push(db::bind(
        db.prepare("INSERT OR IGNORE INTO ml_model_history (version, sha256) VALUES (?1, ?2)"),
        &[json!(info.id), json!(info.sha256)],
    )?);
    if let Err(e) = db.batch(stmts).await {
        // A concurrent registration of the same version won the UNIQUE constraint: answer as if it came first.
        return match db::model(&db, &info.id).await {
            Ok(existing) if existing.sha256 == info.sha256 => model_response(&db, &info.id, 200).await,
            Ok(_) => {
                // Our bytes lost: they are nobody's artifact.
                let _ = env.kv("MODELS")?.delete(&path).await;
                Err(ApiError::new(
                    409,
                    "version_exists",
                    format!("`{}` is registered with different bytes; bump the version", info.id),
                ))
            }
            Err(_) => Err(ApiError::internal(e.to_string())),
        };
    }
    prune(&db, env).await?;
    model_response(&db, &info.id, 201).await
}

/// Keeps the newest [`KEEP_VERSIONS`] versions (and always the active ones, one per horizon); deletes the rest
/// and their artifacts.
async fn prune(db: &D1Database, env: &Env) -> Result<(), ApiError> {
    #[derive(serde::Deserialize)]
    struct Old {
        version: String,
        model_path: String,
    }
    let old: Vec<Old> = db::rows(
        db,
        &format!(
            "SELECT version, model_path FROM ml_model_versions WHERE is_active = 0 AND id NOT IN \
             (SELECT id FROM ml_model_versions ORDER BY id DESC LIMIT {KEEP_VERSIONS})"
        ),
        &[],
    )
    .await?;
    let kv = env.kv("MODELS")?;
    for r in old {
        // Conditional: a version activated since the SELECT is kept (and so are its bytes).
        let deleted =
            db::run(db, "DELETE FROM ml_model_versions WHERE version = ?1 AND is_active = 0", &[json!(r.version)])
                .await?;
        if deleted > 0 {
            let _ = kv.delete(&r.model_path).await;
            let _ = db::run(db, "DELETE FROM ml_model_health WHERE version = ?1", &[json!(r.version)]).await;
            let _ = db::run(db, "DELETE FROM ml_feature_obs WHERE model_version = ?1", &[json!(r.version)]).await;
            let _ = db::run(db, "DELETE FROM ml_recalibration WHERE model_version = ?1", &[json!(r.version)]).await;
        }
    }
    Ok(())
}

async fn model_response(db: &D1Database, version: &str, status: u16) -> Res {
    json_response(status, &ModelResponse { model: db::model(db, version).await?.to_wire() })
}

pub async fn activate(req: &Request, version: &str, env: &Env, cfg: &Config) -> Res {
    http::require(req, &cfg.admin_token, "admin token")?;
    let db = db::d1(env)?;
    let row = db::model(&db, version).await?;
    // Activating (or rolling back to) bytes that no longer load is refused: the served model stays.
    crate::inference::load_row(env, &row).await?;
    // One transaction, and the reset only if the version still exists (a concurrent prune must not leave its
    // horizon with no model active); only the versions of its horizon are reset.
    db.batch(vec![
        db::bind(
            db.prepare(
                "UPDATE ml_model_versions SET is_active = 0 WHERE horizon_minutes = \
                 (SELECT horizon_minutes FROM ml_model_versions WHERE version = ?1)",
            ),
            &[json!(version)],
        )?,
        db::bind(
            db.prepare(
                "UPDATE ml_model_versions SET is_active = 1, activated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                 WHERE version = ?1",
            ),
            &[json!(version)],
        )?,
    ])
    .await?;
    model_response(&db, version, 200).await
}

pub async fn performance(version: &str, env: &Env) -> Res {
    let db = db::d1(env)?;
    let r: Vec<PerformanceRow> = db::rows(
        &db,
        "SELECT COUNT(*) AS evaluated, AVG(hit) AS hit_rate, AVG(ABS(realized_error)) AS mean_abs_error, \
         AVG(in_interval) AS interval_coverage FROM ml_predictions WHERE model_version = ?1 AND realized_price IS NOT NULL",
        &[json!(version)],
    )
    .await?;
    let pending: Vec<Count> = db::rows(
        &db,
        "SELECT COUNT(*) AS n FROM ml_predictions WHERE model_version = ?1 AND status = 'pending'",
        &[json!(version)],
    )
    .await?;
    let r = r.into_iter().next();
    json_response(
        200,
        &Performance {
            version: version.to_string(),
            evaluated: r.as_ref().map_or(0, |r| r.evaluated as i64),
            pending: pending.first().map_or(0, |p| p.n as i64),
            hit_rate: r.as_ref().and_then(|r| r.hit_rate),
            mean_abs_error: r.as_ref().and_then(|r| r.mean_abs_error),
            interval_coverage: r.as_ref().and_then(|r| r.interval_coverage),
        },
    )
}
