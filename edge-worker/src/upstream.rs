//! Alpaca upstream: authenticated GETs with retries (429/5xx honouring `Retry-After`), and the KV TTL cache
//! with stale fallback in front of them. Paths come from the `mtf-alpaca` request builders.

use serde_json::Value;
use worker::{Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response};

use crate::config::Config;
use crate::http::{Res, now_ms};
use crate::logic::{self, ApiError, CacheKind};

/// Bytes of an upstream error body kept for the message (scrubbed first; scrubbed again, then cut, where it leaves).
const UPSTREAM_BODY_KEEP: usize = 64 << 10;

/// GET an Alpaca data path with the key headers; retries 429/5xx and network errors with backoff.
pub async fn alpaca_get(cfg: &Config, path_and_query: &str) -> Result<Value, ApiError> {
    if cfg.key.is_empty() || cfg.secret.is_empty() {
        return Err(ApiError::new(
            503,
            "upstream_unconfigured",
            "APCA_API_KEY_ID / APCA_API_SECRET_KEY secrets are not set",
        ));
    }
    let url = format!("{}{}", cfg.data_url, path_and_query);
    let mut last = String::new();
    for attempt in 0..4u32 {
        let headers = Headers::new();
        headers.set("APCA-API-KEY-ID", &cfg.key)?;
        headers.set("APCA-API-SECRET-KEY", &cfg.secret)?;
        headers.set("Accept", "application/json")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init(&url, &init)?;
        let mut retry_after = None;
        match Fetch::Request(req).send().await {
            Ok(mut resp) => {
                let status = resp.status_code();
                if (200..300).contains(&status) {
                    return resp
                        .json::<Value>()
                        .await
                        .map_err(|e| ApiError::upstream(format!("Alpaca sent invalid JSON: {e}")));
                }
                // Scrubbed before it is cut: a cut through a secret would leave a part that no scrub matches.
                let mut body = cfg.scrub(&resp.text().await.unwrap_or_default());
                if body.len() > UPSTREAM_BODY_KEEP {
                    let cut = (0..=UPSTREAM_BODY_KEEP).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
                    body.truncate(cut);
                }
                last = format!("Alpaca answered {status}: {body}");
                if !logic::retryable(status) {
                    return Err(ApiError::new(
                        if status == 422 || status == 400 { 400 } else { 502 },
                        "upstream_error",
                        last,
                    ));
                }
                retry_after = resp.headers().get("Retry-After").ok().flatten();
            }
            Err(e) => last = format!("Alpaca unreachable: {e}"),
        }
        if attempt < 3 {
            Delay::from(std::time::Duration::from_millis(logic::backoff_ms(
                attempt,
                retry_after.as_deref(),
                cfg.retry_cap_ms,
            )))
            .await;
        }
    }
    Err(ApiError::upstream(last))
}

/// [`alpaca_get`] decoded into an `mtf-alpaca` wire type.
pub async fn alpaca_get_as<T: serde::de::DeserializeOwned>(cfg: &Config, path_and_query: &str) -> Result<T, ApiError> {
    let v = alpaca_get(cfg, path_and_query).await?;
    serde_json::from_value(v).map_err(|e| ApiError::upstream(format!("unexpected Alpaca response: {e}")))
}

/// Where a [`cached_body`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    /// Fresh in the cache.
    Hit,
    /// Loaded now (and cached).
    Miss,
    /// The load failed; the stale cached body instead.
    Stale,
}

/// The body under `key`: from the KV cache when fresh; otherwise from `load` (then cached), falling back to the
/// stale cached body when `load` fails with a 5xx.
///
/// # Errors
/// `load`'s error when it fails and nothing is cached (or it is a client error).
pub async fn cached_body<F, Fut>(env: &Env, key: &str, kind: CacheKind, load: F) -> Result<(String, Cached), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let kv = env.kv("CACHE")?;
    let text = kv.get(key).text().await.ok().flatten();
    let entry = text.as_deref().and_then(logic::decode_entry);
    let now = now_ms();
    if let Some((stored_at, body)) = entry
        && logic::is_fresh(stored_at, now, kind)
    {
        return Ok((body.to_string(), Cached::Hit));
    }
    match load().await {
        Ok(body) => {
            let body = body.to_string();
            if let Ok(put) = kv.put(key, logic::encode_entry(now, &body)) {
                let _ = put.expiration_ttl(logic::STALE_KEEP_SECS).execute().await;
            }
            Ok((body, Cached::Miss))
        }
        Err(err) if err.status >= 500 => match entry {
            Some((_, body)) => Ok((body.to_string(), Cached::Stale)),
            None => Err(err),
        },
        Err(err) => Err(err),
    }
}

/// Serves `key` from the KV cache when fresh; otherwise calls `load`, caches its body, and falls back to the
/// stale cached body (with `"stale": true`) when `load` fails.
pub async fn cached<F, Fut>(env: &Env, key: &str, kind: CacheKind, load: F) -> Res
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let (body, how) = cached_body(env, key, kind, load).await?;
    match how {
        Cached::Hit => respond(&body, false, "HIT"),
        Cached::Miss => respond(&body, false, "MISS"),
        Cached::Stale => respond(&body, true, "STALE"),
    }
}

/// A JSON body (already serialised) with `stale` and the `X-Cache` header.
fn respond(body: &str, stale: bool, cache: &str) -> Res {
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("X-Cache", cache);
    Ok(Response::ok(logic::with_stale(body, stale))?.with_headers(headers))
}
