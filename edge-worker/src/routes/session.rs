//! `POST /api/v1/session`: a short-lived session token ([`crate::session`]) for a page of an allowed origin
//! (`CORS_ORIGINS`; the fetch handler refuses other origins) or for a holder of the client or admin token.

use worker::Request;

use crate::config::Config;
use crate::http::{self, Res, iso, json_response, now_ms};
use crate::logic::{self, ApiError};
use crate::session::{self, Scope, SessionClaims};
use crate::wire::SessionResponse;

pub async fn post(req: &Request, cfg: &Config) -> Res {
    let trusted = http::has_bearer(req, &cfg.admin_token) || http::has_bearer(req, &cfg.client_token);
    let origin = req.headers().get("Origin").ok().flatten();
    if !trusted && logic::cors_origin(origin.as_deref(), &cfg.cors).is_none() {
        return Err(ApiError::new(
            403,
            "origin_required",
            "session tokens are issued to pages of an allowed origin (CORS_ORIGINS) or to holders of the client token",
        ));
    }
    let client = http::client_key(req);
    http::limit_key(
        &format!("session:{client}"),
        cfg.session_issue_per_min,
        "session tokens per minute from this address",
    )?;
    let Some(key) = cfg.session_key.as_deref() else {
        return Err(ApiError::new(503, "sessions_disabled", "this edge has no SESSION_SECRET (nor an ADMIN_TOKEN)"));
    };
    let mut sid = [0u8; 16];
    getrandom::fill(&mut sid).map_err(|e| ApiError::internal(format!("no randomness for a session id: {e}")))?;
    let now_s = now_ms() / 1000;
    let claims = SessionClaims {
        sid: sid.iter().map(|b| format!("{b:02x}")).collect(),
        sub: client,
        scope: vec![Scope::Read, Scope::Write],
        iat: now_s,
        exp: now_s + cfg.session_ttl_s,
    };
    json_response(
        200,
        &SessionResponse {
            token: session::issue(key, &claims),
            expires_at: iso(claims.exp * 1000),
            ttl_s: cfg.session_ttl_s,
            scopes: claims.scope.iter().map(|s| s.name().to_string()).collect(),
        },
    )
}
