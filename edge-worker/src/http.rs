//! HTTP plumbing: the one conversion from runtime errors, the one place messages leave the worker (scrubbed,
//! then truncated), query and body reading with limits, auth, CORS and the rate limit.

use std::cell::RefCell;

use chrono::{TimeZone, Utc};
use serde::Serialize;
use worker::{Date, Headers, Request, Response};

use crate::config::Config;
use crate::logic::{self, ApiError};

thread_local! {
    static RATE: RefCell<logic::RateLimiter> = RefCell::new(logic::RateLimiter::default());
}

/// What every handler returns.
pub type Res = Result<Response, ApiError>;

/// Longest message a client sees (after scrubbing: a cut never splits a secret that scrubbing missed).
pub const MAX_CLIENT_MESSAGE: usize = 500;

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// Milliseconds since the epoch, from the runtime's clock.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// RFC 3339 (seconds, `Z`) of an epoch-milliseconds instant.
pub fn iso(ms: i64) -> String {
    rfc3339(ms, chrono::SecondsFormat::Secs)
}

/// RFC 3339 (milliseconds, `Z`) of an epoch-milliseconds instant.
pub fn iso_millis(ms: i64) -> String {
    rfc3339(ms, chrono::SecondsFormat::Millis)
}

fn rfc3339(ms: i64, f: chrono::SecondsFormat) -> String {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.to_rfc3339_opts(f, true)).unwrap_or_default()
}

/// A JSON response with `status`.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> Res {
    Ok(Response::from_json(body)?.with_status(status))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The error as it leaves the worker: the message scrubbed of every secret, then truncated.
pub fn error_response(e: &ApiError, cfg: &Config) -> Response {
    let scrubbed = cfg.scrub(&e.message);
    let body = ApiError { message: truncate(&scrubbed, MAX_CLIENT_MESSAGE).to_string(), ..e.clone() }.body();
    Response::from_json(&body)
        .map(|mut r| {
            if let Some(s) = e.retry_after {
                let _ = r.headers_mut().set("Retry-After", &s.to_string());
            }
            r.with_status(e.status)
        })
        .or_else(|_| Response::empty().map(|r| r.with_status(500)))
        .unwrap_or_else(|_| Response::builder().empty())
}

/// Logs an error (scrubbed) to the worker's console.
pub fn log_error(what: &str, e: &ApiError, cfg: &Config) {
    worker::console_error!("{what}: {} {}", e.code, truncate(&cfg.scrub(&e.message), 4 * MAX_CLIENT_MESSAGE));
}

/// The query string as a map. A repeated name is refused (400 `duplicate_parameter`): otherwise what is
/// validated (one value) and what is used downstream (another) can differ, as `?symbols=*&symbols=SPY` did
/// between the route and the stream's Durable Object.
pub fn query(req: &Request) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let url = req.url().map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    logic::query_map(url.query_pairs().into_owned())
}

/// A percent-decoded path segment.
pub fn decode_segment(s: &str) -> String {
    worker::js_sys::decode_uri_component(s).ok().and_then(|v| v.as_string()).unwrap_or_else(|| s.to_string())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The client's address key (`CF-Connecting-IP`; IPv6 by its /64): what the rate limit and session tokens are
/// bound to.
pub fn client_key(req: &Request) -> String {
    let ip = req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_else(|| "local".into());
    logic::client_key(&ip)
}

/// The binding of the edge-wide limit (`[[ratelimits]]` in wrangler.toml).
pub const RATE_LIMITER: &str = "RATE_LIMITER";

/// The rate limit of every API route, keyed by client address (IPv6 by /64): first this isolate's own counter
/// (`RATE_LIMIT_PER_MIN`, no round trip), then Cloudflare's Rate Limiting binding [`RATE_LIMITER`], which counts
/// across every isolate of a Cloudflare location (its limit and 60 s period are in wrangler.toml). The binding
/// was chosen over a Durable Object counter: a counter object is one global instance every request of every
/// client would wait on (latency and a single hot spot), while the binding answers from the location's cache.
/// Without the binding (an older config) the isolate counter alone applies; when the binding itself fails, the
/// request passes (failing open, logged) rather than taking the API down with it.
pub async fn rate_limit(req: &Request, env: &worker::Env, cfg: &Config) -> Result<(), ApiError> {
    let key = client_key(req);
    limit_key(&key, cfg.rate_per_min, "requests per minute from this address")?;
    let Ok(limiter) = env.rate_limiter(RATE_LIMITER) else { return Ok(()) };
    match limiter.limit(key).await {
        Ok(o) if !o.success => Err(ApiError {
            retry_after: Some(60),
            ..ApiError::new(
                429,
                "rate_limited",
                "over the edge-wide limit of requests per minute from this address; retry in 60 s",
            )
        }),
        Ok(_) => Ok(()),
        Err(e) => {
            worker::console_warn!("rate limiter binding failed (request allowed): {e}");
            Ok(())
        }
    }
}

/// Counts one use of the budget `key` (`limit` per minute); 429 with `Retry-After` when spent.
pub fn limit_key(key: &str, limit: u32, what: &str) -> Result<(), ApiError> {
    RATE.with(|r| r.borrow_mut().check(key, now_ms(), limit, 60_000)).map_err(|retry| ApiError {
        retry_after: Some(retry),
        ..ApiError::new(429, "rate_limited", format!("more than {limit} {what}; retry in {retry} s"))
    })
}

/// `Authorization: Bearer <token>`, compared in constant time.
pub fn require(req: &Request, token: &str, what: &str) -> Result<(), ApiError> {
    let h = req.headers().get("Authorization").ok().flatten();
    if logic::bearer_ok(h.as_deref(), token) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(format!("this route needs `Authorization: Bearer <{what}>`")))
    }
}

/// Whether the request carries `token` as its bearer token.
pub fn has_bearer(req: &Request, token: &str) -> bool {
    logic::bearer_ok(req.headers().get("Authorization").ok().flatten().as_deref(), token)
}

/// The body, at most `max` bytes.
pub async fn body_bytes(mut req: Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared
        && n > max
    {
        // A moderately oversized body is read and dropped first: answering before the client has sent it
        // makes many clients see a reset connection instead of the 413.
        if n <= max.saturating_mul(4) {
            let _ = req.bytes().await;
        }
        return Err(ApiError::new(413, "body_too_large", format!("request body over {max} bytes")));
    }
    // Read as a stream and stopped past `max`: a chunked body (no Content-Length) is never buffered whole.
    let mut out = Vec::new();
    let Ok(mut stream) = req.stream() else { return Ok(out) };
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk?;
        if out.len() + chunk.len() > max {
            return Err(ApiError::new(413, "body_too_large", format!("request body over {max} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The body as JSON, at most `cfg.max_body` bytes.
pub async fn body_json(req: Request, cfg: &Config) -> Result<serde_json::Value, ApiError> {
    let b = body_bytes(req, cfg.max_body).await?;
    serde_json::from_slice(&b).map_err(|e| ApiError::bad_request("invalid_json", format!("body is not JSON: {e}")))
}

/// The request's id: Cloudflare's `CF-Ray` when present, else a random one (what a client quotes to the operator).
pub fn request_id(req: &Request) -> String {
    req.headers().get("CF-Ray").ok().flatten().filter(|r| !r.is_empty()).unwrap_or_else(|| {
        let r = worker::js_sys::Math::random();
        format!("local-{:012x}", (r * 281_474_976_710_656.0) as u64)
    })
}

/// `nosniff` and the request id on every response; `no-store` on authenticated responses that set no caching of
/// their own (a shared cache must not keep what a token unlocked).
pub fn add_security_headers(h: &mut Headers, authenticated: bool, request_id: &str) {
    let _ = h.set("X-Content-Type-Options", "nosniff");
    let _ = h.set("X-Request-Id", request_id);
    if authenticated && !h.has("Cache-Control").unwrap_or(false) {
        let _ = h.set("Cache-Control", "no-store");
    }
}

/// CORS headers for an allowed origin (and the preflight's). `Vary: Origin` always: a response differs by origin
/// whether or not this one was allowed.
pub fn add_cors(h: &mut Headers, origin: Option<&str>, preflight: bool) {
    let _ = h.set("Vary", "Origin");
    if let Some(o) = origin {
        let _ = h.set("Access-Control-Allow-Origin", o);
        if preflight {
            let _ = h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            let _ = h.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            let _ = h.set("Access-Control-Max-Age", "600");
        }
    }
}
