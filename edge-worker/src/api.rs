//! The fetch handler and the route table (wasm32 only). Handlers live in [`crate::routes`]; the pure logic
//! they use is in [`crate::logic`].

use serde_json::json;
use worker::{Context, Env, Method, Request, Response, event};

use crate::accuracy::track_accuracy;
use crate::auth;
use crate::config::Config;
use crate::http::{self, Res, decode_segment as seg, json_response, log_error};
use crate::logic::{self, ApiError};
use crate::routes::{market, models, predict, predictions, retrains, session, training};
use crate::session::Scope;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let cfg = Config::from_env(&env);
    let origin = req.headers().get("Origin").ok().flatten();
    let allowed = logic::cors_origin(origin.as_deref(), &cfg.cors);
    if req.method() == Method::Options {
        let mut r = Response::empty()?.with_status(if allowed.is_some() { 204 } else { 403 });
        http::add_cors(r.headers_mut(), allowed.as_deref(), true);
        return Ok(r);
    }
    let is_ws = req.headers().get("Upgrade").ok().flatten().is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    // Writes and WebSocket upgrades (a GET a foreign page can open: cross-site WebSocket hijacking) from an origin
    // outside the allowlist are refused.
    if origin.is_some() && allowed.is_none() && (req.method() != Method::Get || is_ws) {
        return Ok(http::error_response(
            &ApiError::new(403, "origin_not_allowed", "this origin is not in CORS_ORIGINS"),
            &cfg,
        ));
    }
    let authenticated = req.headers().get("Authorization").ok().flatten().is_some();
    let request_id = http::request_id(&req);
    let mut resp = match route(req, &env, &cfg).await {
        Ok(r) => r,
        Err(e) => {
            if e.status >= 500 {
                log_error(&format!("request {request_id} failed"), &e, &cfg);
            }
            // Internal failures (D1, KV, the runtime) reach the client as one generic message with the request
            // id; the detail is in the log line above. Designed errors (4xx, upstream, no model) keep theirs.
            let shown = if e.code == "internal" {
                ApiError::internal(format!("internal error (request {request_id}); the operator's log has the detail"))
            } else {
                e
            };
            http::error_response(&shown, &cfg)
        }
    };
    if !is_ws {
        http::add_cors(resp.headers_mut(), allowed.as_deref(), false);
        http::add_security_headers(resp.headers_mut(), authenticated, &request_id);
    }
    Ok(resp)
}

async fn route(req: Request, env: &Env, cfg: &Config) -> Res {
    let path = req.path();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method();
    // One limiter for every API route (per client address, per isolate and edge-wide; health checks excepted).
    if segs.first() == Some(&"api") && segs.get(2) != Some(&"health") {
        http::rate_limit(&req, env, cfg).await?;
    }
    match (m.clone(), segs.as_slice()) {
        (Method::Get, ["api", "v1", "health"]) => json_response(200, &json!({ "ok": true })),
        (Method::Post, ["api", "v1", "session"]) => session::post(&req, cfg).await,
        (Method::Get, ["api", "v1", "bars"]) => {
            auth::require(&req, cfg, Scope::Read)?;
            market::bars(&req, env, cfg).await
        }
        (Method::Get, ["api", "v1", "quote"]) => {
            auth::require(&req, cfg, Scope::Read)?;
            market::quote(&req, env, cfg).await
        }
        (Method::Get, ["api", "v1", "news"]) => {
            auth::require(&req, cfg, Scope::Read)?;
            market::news(&req, env, cfg).await
        }
        (Method::Post, ["api", "v1", "predict"]) => predict::post(req, env, cfg).await,
        (Method::Get, ["api", "v1", "predict"]) => predict::get(&req, env, cfg).await,
        (Method::Post, ["api", "v1", "predictions"]) => predictions::post(req, env, cfg).await,
        (Method::Get, ["api", "v1", "predictions"]) => predictions::get(&req, env).await,
        (Method::Get, ["api", "v1", "models"]) => models::list(env).await,
        (Method::Post, ["api", "v1", "models"]) => models::register(req, env, cfg).await,
        (Method::Get, ["api", "v1", "models", "active"]) => models::active(&req, env).await,
        (Method::Get, ["api", "v1", "models", v, "artifact"]) => models::artifact(&req, &seg(v), env).await,
        (Method::Post, ["api", "v1", "models", v, "activate"]) => models::activate(&req, &seg(v), env, cfg).await,
        (Method::Get, ["api", "v1", "models", v, "performance"]) => models::performance(&seg(v), env).await,
        (Method::Get, ["api", "v1", "models", v, "health"]) => retrains::health(&req, &seg(v), env, cfg).await,
        (Method::Post, ["api", "v1", "retrains"]) => retrains::post(req, env, cfg).await,
        (Method::Get, ["api", "v1", "retrains"]) => retrains::list(&req, env).await,
        (Method::Post, ["api", "v1", "training-data"]) => training::post(req, env, cfg).await,
        (Method::Get, ["api", "v1", "training-data"]) => training::get(&req, env).await,
        (Method::Post, ["api", "v1", "admin", "track-accuracy"]) => {
            // The cron's job on demand (admin): `wrangler dev` does not fire cron triggers by itself.
            http::require(&req, &cfg.admin_token, "admin token")?;
            json_response(200, &track_accuracy(env, cfg).await?)
        }
        (Method::Post, ["api", "v1", "admin", "predict-watchlist"]) => {
            // The cron's scheduled predictions on demand (admin), optionally `?at=` (a replay clock).
            http::require(&req, &cfg.admin_token, "admin token")?;
            let at = logic::parse_time(http::query(&req)?.get("at").map(String::as_str), "at")?;
            json_response(200, &crate::cron::predict_watchlist(env, cfg, at).await?)
        }
        (Method::Get, ["api", "v1", "stream"]) | (Method::Get, ["api", "v1", "stream", "status"]) => {
            if segs.len() == 3 {
                auth::require(&req, cfg, Scope::Read)?;
                logic::parse_symbols(http::query(&req)?.get("symbols").map(String::as_str), 30)?;
            }
            let stub = env.durable_object("STREAM")?.id_from_name("alpaca")?.get_stub()?;
            Ok(stub.fetch_with_request(req).await?)
        }
        (_, ["api", ..]) => Err(ApiError::not_found(format!("no route {m:?} {path}"))),
        _ => match env.assets("ASSETS") {
            Ok(assets) => Ok(assets.fetch_request(req).await?),
            Err(_) => Err(ApiError::not_found(format!("no route {path}"))),
        },
    }
}
