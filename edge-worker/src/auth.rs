//! Who is calling: the admin token, the client token (server-side tools), or a session token the edge issued to
//! a browser ([`crate::session`]). One check per route, with the per-token rate limit.

use worker::Request;

use crate::config::Config;
use crate::http::{self, now_ms};
use crate::logic::{self, ApiError};
use crate::session::{self, Scope, SessionClaims};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The admin token (operator tools, `mtf retrain`).
    Admin,
    /// The long-lived client token: server-side tools only (never shipped in a page).
    Client,
    /// A browser's session token.
    Session(SessionClaims),
}

/// Every `source` a stored prediction can have: the edge's own scheduled ones and [`Caller::source`]'s.
pub const SOURCES: [&str; 4] = ["edge", "admin", "client", "browser"];

impl Caller {
    /// The `source` of predictions this caller writes: only the edge's own (`edge`) are trusted for
    /// monitoring; `browser` and `client` rows are kept apart.
    pub fn source(&self) -> &'static str {
        match self {
            Caller::Admin => "admin",
            Caller::Client => "client",
            Caller::Session(_) => "browser",
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::Admin)
    }
}

/// The token the request presents: `Authorization: Bearer …`, or for a WebSocket upgrade (browsers cannot set
/// headers on one) the `token` query parameter.
fn presented(req: &Request) -> Result<Option<String>, ApiError> {
    if let Some(h) = req.headers().get("Authorization").ok().flatten() {
        return Ok(h.strip_prefix("Bearer ").map(str::to_string).or(Some(String::new())));
    }
    let is_ws = req.headers().get("Upgrade").ok().flatten().is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if is_ws {
        return Ok(http::query(req)?.get("token").cloned());
    }
    Ok(None)
}

/// The caller, who must hold `scope`: 401 without a valid token, 403 for a token without the scope, 429 when a
/// session token spent its per-minute budget.
pub fn require(req: &Request, cfg: &Config, scope: Scope) -> Result<Caller, ApiError> {
    let Some(token) = presented(req)? else {
        return Err(ApiError::unauthorized(
            "this route needs a token: `Authorization: Bearer <token>` with a session token from POST /api/v1/session \
             (browsers) or the client token (server-side tools)",
        ));
    };
    let bearer = format!("Bearer {token}");
    if logic::bearer_ok(Some(&bearer), &cfg.admin_token) {
        return Ok(Caller::Admin);
    }
    if logic::bearer_ok(Some(&bearer), &cfg.client_token) {
        return Ok(Caller::Client);
    }
    if !session::is_session_token(&token) {
        return Err(ApiError::new(401, "invalid_token", "the token is neither a session token nor a known token"));
    }
    let Some(key) = cfg.session_key.as_deref() else {
        return Err(ApiError::new(401, "invalid_token", "sessions are disabled on this edge (no SESSION_SECRET)"));
    };
    let claims = session::verify(key, &token, now_ms() / 1000, &http::client_key(req), scope)?;
    http::limit_key(&format!("sid:{}", claims.sid), cfg.session_rate_per_min, "requests per minute with this session")?;
    Ok(Caller::Session(claims))
}
