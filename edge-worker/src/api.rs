//! Routes and handlers (wasm32 only; the logic they use is in `logic`).

use std::cell::RefCell;

use chrono::{DateTime, TimeZone, Utc};
use mtf_alpaca::request::{BarsPager, BarsRequest, Feed, Sort};
use mtf_alpaca::rest::BarsResponse;
use mtf_market::Timeframe;
use serde_json::{Value, json};
use worker::{
    Context, D1Database, Date, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response, ScheduleContext,
    ScheduledEvent, event,
};

use crate::logic::{self, ApiError, CacheKind};

thread_local! {
    static RATE: RefCell<logic::RateLimiter> = RefCell::new(logic::RateLimiter::default());
}

/// Configuration from vars and secrets.
pub struct Config {
    pub data_url: String,
    pub stream_url: String,
    pub feed: Feed,
    pub key: String,
    pub secret: String,
    pub client_token: String,
    pub admin_token: String,
    pub cors: String,
    pub rate_per_min: u32,
    pub max_body: usize,
    pub retry_cap_ms: u64,
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        let num = |n: &str, d: u64| text(env, n).and_then(|v| v.parse().ok()).unwrap_or(d);
        Config {
            data_url: text(env, "ALPACA_DATA_URL")
                .unwrap_or_else(|| "https://data.alpaca.markets".into())
                .trim_end_matches('/')
                .into(),
            stream_url: text(env, "ALPACA_STREAM_URL")
                .unwrap_or_else(|| "wss://stream.data.alpaca.markets/v2/iex".into()),
            feed: if text(env, "ALPACA_FEED").as_deref() == Some("sip") { Feed::Sip } else { Feed::Iex },
            key: text(env, "APCA_API_KEY_ID").unwrap_or_default(),
            secret: text(env, "APCA_API_SECRET_KEY").unwrap_or_default(),
            client_token: text(env, "CLIENT_TOKEN").unwrap_or_default(),
            admin_token: text(env, "ADMIN_TOKEN").unwrap_or_default(),
            cors: text(env, "CORS_ORIGINS").unwrap_or_default(),
            rate_per_min: num("RATE_LIMIT_PER_MIN", 300) as u32,
            max_body: num("MAX_BODY_BYTES", 1 << 20) as usize,
            retry_cap_ms: num("RETRY_CAP_MS", 5000),
        }
    }

    /// Scrubs the Alpaca keys and tokens out of a message.
    pub fn scrub(&self, m: &str) -> String {
        logic::scrub(m, &[&self.key, &self.secret, &self.client_token, &self.admin_token])
    }
}

fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

type Res = Result<Response, ApiError>;

fn wx(cfg: &Config) -> impl Fn(worker::Error) -> ApiError + '_ {
    move |e| ApiError::internal(cfg.scrub(&e.to_string()))
}

fn json_response(status: u16, body: &Value) -> Result<Response, worker::Error> {
    Ok(Response::from_json(body)?.with_status(status))
}

fn error_response(e: &ApiError, cfg: &Config) -> Response {
    let body = ApiError { message: cfg.scrub(&e.message), ..e.clone() }.body();
    json_response(e.status, &body).unwrap_or_else(|_| {
        Response::empty().map(|r| r.with_status(500)).unwrap_or_else(|_| Response::builder().empty())
    })
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let cfg = Config::from_env(&env);
    let origin = req.headers().get("Origin").ok().flatten();
    let allowed = logic::cors_origin(origin.as_deref(), &cfg.cors);
    if req.method() == Method::Options {
        let mut r = Response::empty()?.with_status(if allowed.is_some() { 204 } else { 403 });
        add_cors(r.headers_mut(), allowed.as_deref(), true);
        return Ok(r);
    }
    if origin.is_some() && allowed.is_none() && req.method() != Method::Get {
        return Ok(error_response(
            &ApiError::new(403, "origin_not_allowed", "this origin is not in CORS_ORIGINS"),
            &cfg,
        ));
    }
    let is_ws = req.headers().get("Upgrade").ok().flatten().is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let mut resp = match route(req, &env, &cfg).await {
        Ok(r) => r,
        Err(e) => {
            if e.status >= 500 {
                worker::console_error!("{} {}", e.code, cfg.scrub(&e.message));
            }
            error_response(&e, &cfg)
        }
    };
    if !is_ws {
        add_cors(resp.headers_mut(), allowed.as_deref(), false);
    }
    Ok(resp)
}

fn add_cors(h: &mut Headers, origin: Option<&str>, preflight: bool) {
    if let Some(o) = origin {
        let _ = h.set("Access-Control-Allow-Origin", o);
        let _ = h.set("Vary", "Origin");
        if preflight {
            let _ = h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            let _ = h.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            let _ = h.set("Access-Control-Max-Age", "600");
        }
    }
}

fn query(req: &Request) -> std::collections::HashMap<String, String> {
    req.url().map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

async fn route(req: Request, env: &Env, cfg: &Config) -> Res {
    let path = req.path();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method();
    match (m.clone(), segs.as_slice()) {
        (Method::Get, ["api", "v1", "health"]) => Ok(json_response(200, &json!({ "ok": true })).map_err(wx(cfg))?),
        (Method::Get, ["api", "v1", "bars"]) => {
            rate_limit(&req, cfg)?;
            bars(&req, env, cfg).await
        }
        (Method::Get, ["api", "v1", "quote"]) => {
            rate_limit(&req, cfg)?;
            quote(&req, env, cfg).await
        }
        (Method::Get, ["api", "v1", "news"]) => {
            rate_limit(&req, cfg)?;
            news(&req, env, cfg).await
        }
        (Method::Post, ["api", "v1", "predictions"]) => post_predictions(req, env, cfg).await,
        (Method::Get, ["api", "v1", "predictions"]) => get_predictions(&req, env, cfg).await,
        (Method::Get, ["api", "v1", "models"]) => list_models(env, cfg).await,
        (Method::Post, ["api", "v1", "models"]) => register_model(req, env, cfg).await,
        (Method::Get, ["api", "v1", "models", "active"]) => active_model(env, cfg).await,
        (Method::Get, ["api", "v1", "models", v, "artifact"]) => artifact(&req, &decode(v), env, cfg).await,
        (Method::Post, ["api", "v1", "models", v, "activate"]) => activate(&req, &decode(v), env, cfg).await,
        (Method::Get, ["api", "v1", "models", v, "performance"]) => performance(&decode(v), env, cfg).await,
        (Method::Post, ["api", "v1", "training-data"]) => post_training(req, env, cfg).await,
        (Method::Post, ["api", "v1", "admin", "track-accuracy"]) => {
            // The cron's job on demand (admin): `wrangler dev` does not fire cron triggers by itself.
            require(&req, &cfg.admin_token, "admin token")?;
            let scored = track_accuracy(env, cfg).await?;
            json_response(200, &json!({ "scored": scored })).map_err(wx(cfg))
        }
        (Method::Get, ["api", "v1", "training-data"]) => get_training(&req, env, cfg).await,
        (Method::Get, ["api", "v1", "stream"]) | (Method::Get, ["api", "v1", "stream", "status"]) => {
            let q = query(&req);
            if segs.len() == 3 {
                logic::parse_symbols(q.get("symbols").map(String::as_str), 30)?;
            }
            let ns = env.durable_object("STREAM").map_err(wx(cfg))?;
            let stub = ns.id_from_name("alpaca").and_then(|id| id.get_stub()).map_err(wx(cfg))?;
            stub.fetch_with_request(req).await.map_err(wx(cfg))
        }
        (_, ["api", ..]) => Err(ApiError::not_found(format!("no route {m:?} {path}"))),
        _ => match env.assets("ASSETS") {
            Ok(assets) => assets.fetch_request(req).await.map_err(wx(cfg)),
            Err(_) => Err(ApiError::not_found(format!("no route {path}"))),
        },
    }
}

fn decode(s: &str) -> String {
    worker::js_sys::decode_uri_component(s).ok().and_then(|v| v.as_string()).unwrap_or_else(|| s.to_string())
}

fn rate_limit(req: &Request, cfg: &Config) -> Result<(), ApiError> {
    let ip = req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_else(|| "local".into());
    RATE.with(|r| r.borrow_mut().check(&ip, now_ms(), cfg.rate_per_min, 60_000)).map_err(|retry| {
        ApiError::new(
            429,
            "rate_limited",
            format!("more than {} requests per minute; retry in {retry} s", cfg.rate_per_min),
        )
    })
}

fn require(req: &Request, token: &str, what: &str) -> Result<(), ApiError> {
    let h = req.headers().get("Authorization").ok().flatten();
    if logic::bearer_ok(h.as_deref(), token) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(format!("this route needs `Authorization: Bearer <{what}>`")))
    }
}

async fn body_bytes(mut req: Request, cfg: &Config, max: usize) -> Result<Vec<u8>, ApiError> {
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
    let b = req.bytes().await.map_err(wx(cfg))?;
    if b.len() > max {
        return Err(ApiError::new(413, "body_too_large", format!("request body over {max} bytes")));
    }
    Ok(b)
}

async fn body_json(req: Request, cfg: &Config) -> Result<Value, ApiError> {
    let b = body_bytes(req, cfg, cfg.max_body).await?;
    serde_json::from_slice(&b).map_err(|e| ApiError::bad_request("invalid_json", format!("body is not JSON: {e}")))
}

// ---------------------------------------------------------------------------------------------------------
// Alpaca upstream

/// GET an Alpaca data path with the key headers; retries 429/5xx and network errors with backoff.
async fn alpaca_get(cfg: &Config, path_and_query: &str) -> Result<Value, ApiError> {
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
        headers.set("APCA-API-KEY-ID", &cfg.key).map_err(wx(cfg))?;
        headers.set("APCA-API-SECRET-KEY", &cfg.secret).map_err(wx(cfg))?;
        headers.set("Accept", "application/json").map_err(wx(cfg))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init(&url, &init).map_err(wx(cfg))?;
        let mut retry_after = None;
        match Fetch::Request(req).send().await {
            Ok(mut resp) => {
                let status = resp.status_code();
                if (200..300).contains(&status) {
                    return resp
                        .json::<Value>()
                        .await
                        .map_err(|e| ApiError::upstream(cfg.scrub(&format!("Alpaca sent invalid JSON: {e}"))));
                }
                let body = resp.text().await.unwrap_or_default();
                last = format!("Alpaca answered {status}: {}", body.chars().take(200).collect::<String>());
                if !logic::retryable(status) {
                    return Err(ApiError::new(
                        if status == 422 || status == 400 { 400 } else { 502 },
                        "upstream_error",
                        cfg.scrub(&last),
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
    Err(ApiError::upstream(cfg.scrub(&last)))
}

/// Serves `key` from the KV cache when fresh; otherwise calls `load`, caches its body, and falls back to the
/// stale cached body (with `"stale": true`) when `load` fails.
async fn cached<F, Fut>(env: &Env, cfg: &Config, key: &str, kind: CacheKind, load: F) -> Res
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let kv = env.kv("CACHE").map_err(wx(cfg))?;
    let text = kv.get(key).text().await.ok().flatten();
    let entry = text.as_deref().and_then(logic::decode_entry);
    let now = now_ms();
    if let Some((stored_at, body)) = entry
        && logic::is_fresh(stored_at, now, kind)
    {
        return respond(body, false, "HIT", cfg);
    }
    match load().await {
        Ok(body) => {
            let body = body.to_string();
            if let Ok(put) = kv.put(key, logic::encode_entry(now, &body)) {
                let _ = put.expiration_ttl(logic::STALE_KEEP_SECS).execute().await;
            }
            respond(&body, false, "MISS", cfg)
        }
        Err(err) if err.status >= 500 => match entry {
            Some((_, body)) => respond(body, true, "STALE", cfg),
            None => Err(err),
        },
        Err(err) => Err(err),
    }
}

/// A JSON body (already serialised) with `stale` and the `X-Cache` header.
fn respond(body: &str, stale: bool, cache: &str, cfg: &Config) -> Res {
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("X-Cache", cache);
    Ok(Response::ok(logic::with_stale(body, stale)).map_err(wx(cfg))?.with_headers(headers))
}

async fn bars(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req);
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let tf = logic::parse_timeframe(q.get("timeframe").map(String::as_str))?;
    let start = logic::parse_time(q.get("start").map(String::as_str), "start")?;
    let end = logic::parse_time(q.get("end").map(String::as_str), "end")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::bad_request("invalid_range", "`start` is after `end`"));
    }
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 1000, 50_000)?;
    let kind = if tf == Timeframe::D1 { CacheKind::DailyBars } else { CacheKind::IntradayBars };
    let t = |x: Option<DateTime<Utc>>| x.map_or("-".to_string(), |t| t.timestamp().to_string());
    let key = format!("bars:v1:{symbol}:{}:{}:{}:{limit}", tf.short(), t(start), t(end));
    cached(env, cfg, &key, kind, || async {
        // Newest first, then reversed: when `limit` cuts, it is the oldest bars that are dropped.
        let from = start.or_else(|| Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single());
        let per_page = limit.min(10_000);
        let request =
            BarsRequest::new([symbol.clone()], tf).range(from, end).limit(per_page).sort(Sort::Desc).feed(cfg.feed);
        let mut pager = BarsPager::new(request, limit.div_ceil(10_000) as usize);
        let mut next = Some(pager.first().clone());
        while let Some(r) = next {
            let path = r.path_and_query().map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
            let page: BarsResponse = serde_json::from_value(alpaca_get(cfg, &path).await?)
                .map_err(|e| ApiError::upstream(format!("unexpected bars response: {e}")))?;
            next = pager.push_single(page);
        }
        let mut bars = pager.finish().remove(&symbol).unwrap_or_default();
        if bars.len() > limit as usize {
            bars.drain(..bars.len() - limit as usize);
        }
        Ok(json!({ "symbol": symbol, "timeframe": tf.short(), "bars": bars }))
    })
    .await
}

async fn quote(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req);
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let feed = if matches!(cfg.feed, Feed::Sip) { "sip" } else { "iex" };
    cached(env, cfg, &format!("quote:v1:{symbol}"), CacheKind::Quote, || async {
        let quote = alpaca_get(cfg, &format!("/v2/stocks/{symbol}/quotes/latest?feed={feed}")).await?;
        let trade = alpaca_get(cfg, &format!("/v2/stocks/{symbol}/trades/latest?feed={feed}")).await?;
        Ok(json!({ "symbol": symbol, "quote": quote.get("quote"), "trade": trade.get("trade") }))
    })
    .await
}

async fn news(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req);
    let symbols = logic::parse_symbols(q.get("symbols").map(String::as_str), 50)?;
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 10, 50)?;
    let joined = symbols.join(",");
    cached(env, cfg, &format!("news:v1:{joined}:{limit}"), CacheKind::News, || async {
        let v = alpaca_get(cfg, &format!("/v1beta1/news?symbols={joined}&limit={limit}&sort=desc")).await?;
        Ok(json!({ "news": v.get("news").cloned().unwrap_or(json!([])) }))
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Predictions

fn d1(env: &Env, cfg: &Config) -> Result<D1Database, ApiError> {
    env.d1("DB").map_err(wx(cfg))
}

fn bind(
    stmt: worker::D1PreparedStatement,
    args: &[Value],
    cfg: &Config,
) -> Result<worker::D1PreparedStatement, ApiError> {
    let vals: Vec<worker::wasm_bindgen::JsValue> = args
        .iter()
        .map(|a| match a {
            Value::Null => worker::wasm_bindgen::JsValue::NULL,
            Value::Bool(b) => worker::wasm_bindgen::JsValue::from(i32::from(*b)),
            Value::Number(n) => worker::wasm_bindgen::JsValue::from(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => worker::wasm_bindgen::JsValue::from(s.as_str()),
            other => worker::wasm_bindgen::JsValue::from(other.to_string()),
        })
        .collect();
    stmt.bind(&vals).map_err(wx(cfg))
}

async fn rows(db: &D1Database, sql: &str, args: &[Value], cfg: &Config) -> Result<Vec<Value>, ApiError> {
    let r = bind(db.prepare(sql), args, cfg)?.all().await.map_err(wx(cfg))?;
    r.results::<Value>().map_err(wx(cfg))
}

async fn post_predictions(req: Request, env: &Env, cfg: &Config) -> Res {
    if !logic::bearer_ok(req.headers().get("Authorization").ok().flatten().as_deref(), &cfg.admin_token) {
        require(&req, &cfg.client_token, "client token")?;
    }
    let body = body_json(req, cfg).await?;
    let rows_in = logic::validate_predictions(&body, 100)?;
    let db = d1(env, cfg)?;
    let mut stmts = Vec::with_capacity(rows_in.len());
    for r in &rows_in {
        stmts.push(bind(
            db.prepare(
                "INSERT INTO ml_predictions (symbol, model_version, prediction_time, horizon_minutes, predicted_price, \
                 interval_low, interval_high, confidence, signal, last_close, attention_weights, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
            ],
            cfg,
        )?);
    }
    // A D1 batch is one transaction: a failure stores nothing.
    db.batch(stmts).await.map_err(wx(cfg))?;
    let kv = env.kv("CACHE").map_err(wx(cfg))?;
    let symbols: std::collections::BTreeSet<&String> = rows_in.iter().map(|r| &r.symbol).collect();
    for s in symbols {
        if let Ok(p) = kv.put(&format!("preds:gen:{s}"), now_ms().to_string()) {
            let _ = p.execute().await;
        }
    }
    json_response(201, &json!({ "stored": rows_in.len() })).map_err(wx(cfg))
}

async fn get_predictions(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req);
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 50, 500)?;
    // The cache key carries the symbol's write generation, so a new prediction is visible at once.
    let kv = env.kv("CACHE").map_err(wx(cfg))?;
    let generation = kv.get(&format!("preds:gen:{symbol}")).text().await.ok().flatten().unwrap_or_default();
    let key = format!("preds:v1:{symbol}:{limit}:{generation}");
    cached(env, cfg, &key, CacheKind::Predictions, || async {
        let db = d1(env, cfg)?;
        let list = rows(
            &db,
            "SELECT id, symbol, model_version, prediction_time, horizon_minutes, predicted_price, interval_low, \
             interval_high, confidence, signal, last_close, realized_price, realized_error, hit, in_interval, \
             evaluated_at, created_at, payload FROM ml_predictions WHERE symbol = ?1 \
             ORDER BY prediction_time DESC, id DESC LIMIT ?2",
            &[json!(symbol), json!(limit)],
            cfg,
        )
        .await?;
        let list: Vec<Value> = list
            .into_iter()
            .map(|mut r| {
                logic::expand_json_column(&mut r, "payload");
                r
            })
            .collect();
        // Only validated predictions are stored, so the newest row is the last valid prediction.
        let latest = list.first().cloned().unwrap_or(Value::Null);
        Ok(json!({ "symbol": symbol, "predictions": list, "latest": latest }))
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Models

fn model_json(r: &Value) -> Value {
    let version = r.get("version").and_then(Value::as_str).unwrap_or_default();
    let parse = |k: &str| {
        r.get(k).and_then(Value::as_str).and_then(|s| serde_json::from_str::<Value>(s).ok()).unwrap_or(Value::Null)
    };
    json!({
        "version": version,
        "name": version.split('@').next().unwrap_or_default(),
        "sha256": r.get("sha256"),
        "size": r.get("size"),
        "active": r.get("is_active").and_then(Value::as_f64).unwrap_or(0.0) != 0.0,
        "created_at": r.get("created_at"),
        "training_start": r.get("training_start"),
        "training_end": r.get("training_end"),
        "metrics": parse("metrics"),
        "config": parse("config"),
        "artifact_url": format!("/api/v1/models/{}/artifact", urlencode(version)),
    })
}

fn urlencode(s: &str) -> String {
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

const MODEL_COLS: &str =
    "version, sha256, size, is_active, created_at, training_start, training_end, metrics, config, model_path";

async fn list_models(env: &Env, cfg: &Config) -> Res {
    let db = d1(env, cfg)?;
    let list = rows(&db, &format!("SELECT {MODEL_COLS} FROM ml_model_versions ORDER BY id DESC"), &[], cfg).await?;
    json_response(200, &json!({ "models": list.iter().map(model_json).collect::<Vec<_>>() })).map_err(wx(cfg))
}

async fn active_model(env: &Env, cfg: &Config) -> Res {
    let db = d1(env, cfg)?;
    let list =
        rows(&db, &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE is_active = 1 LIMIT 1"), &[], cfg).await?;
    let m =
        list.first().ok_or_else(|| ApiError::not_found("no active model: register one with POST /api/v1/models"))?;
    let mut r = json_response(200, &json!({ "model": model_json(m) })).map_err(wx(cfg))?;
    let _ = r.headers_mut().set("Cache-Control", "no-cache");
    Ok(r)
}

async fn artifact(req: &Request, version: &str, env: &Env, cfg: &Config) -> Res {
    let db = d1(env, cfg)?;
    let list = rows(&db, "SELECT sha256, model_path FROM ml_model_versions WHERE version = ?1", &[json!(version)], cfg)
        .await?;
    let m = list.first().ok_or_else(|| ApiError::not_found(format!("no model version `{version}`")))?;
    let sha = m.get("sha256").and_then(Value::as_str).unwrap_or_default().to_string();
    let etag = format!("\"{sha}\"");
    let headers = Headers::new();
    let _ = headers.set("ETag", &etag);
    let _ = headers.set("Cache-Control", "public, max-age=31536000, immutable");
    if req.headers().get("If-None-Match").ok().flatten().as_deref() == Some(etag.as_str()) {
        return Ok(Response::empty().map_err(wx(cfg))?.with_status(304).with_headers(headers));
    }
    let path = m.get("model_path").and_then(Value::as_str).unwrap_or_default();
    let bytes =
        env.kv("MODELS").map_err(wx(cfg))?.get(path).bytes().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let bytes =
        bytes.ok_or_else(|| ApiError::internal(format!("artifact bytes of `{version}` are missing from storage")))?;
    let _ = headers.set("Content-Type", "application/octet-stream");
    Ok(Response::from_bytes(bytes).map_err(wx(cfg))?.with_headers(headers))
}

async fn register_model(req: Request, env: &Env, cfg: &Config) -> Res {
    require(&req, &cfg.admin_token, "admin token")?;
    let activate_now = query(&req).get("activate").is_some_and(|v| v == "true" || v == "1");
    let bytes = body_bytes(req, cfg, 25 << 20).await?;
    let info = logic::parse_artifact(&bytes)?;
    let db = d1(env, cfg)?;
    let existing = rows(&db, "SELECT sha256 FROM ml_model_versions WHERE version = ?1", &[json!(info.id)], cfg).await?;
    if let Some(e) = existing.first() {
        if e.get("sha256").and_then(Value::as_str) == Some(info.sha256.as_str()) {
            return model_response(&db, &info.id, 200, cfg).await;
        }
        return Err(ApiError::new(
            409,
            "version_exists",
            format!("`{}` is registered with different bytes; bump the version", info.id),
        ));
    }
    let path = format!("artifact:{}:{}", info.id, &info.sha256[..16]);
    env.kv("MODELS")
        .map_err(wx(cfg))?
        .put_bytes(&path, &bytes)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .execute()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let range = info.header.get("training_range").and_then(Value::as_array).cloned().unwrap_or_default();
    let config = json!({ "data": info.header.get("data"), "model": info.header.get("model"), "feature_spec": info.header.get("feature_spec"), "parameters": info.header.get("parameters") });
    let none_active = rows(&db, "SELECT 1 AS x FROM ml_model_versions WHERE is_active = 1", &[], cfg).await?.is_empty();
    let mut stmts = Vec::new();
    if activate_now {
        stmts.push(db.prepare("UPDATE ml_model_versions SET is_active = 0"));
    }
    stmts.push(bind(
        db.prepare(
            "INSERT INTO ml_model_versions (version, model_path, sha256, size, training_start, training_end, metrics, config, is_active) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        ),
        &[
            json!(info.id), json!(path), json!(info.sha256), json!(bytes.len()),
            range.first().cloned().unwrap_or(json!("")), range.get(1).cloned().unwrap_or(json!("")),
            json!(info.header.get("metrics").cloned().unwrap_or(json!({})).to_string()), json!(config.to_string()),
            json!(activate_now || none_active),
        ],
        cfg,
    )?);
    db.batch(stmts).await.map_err(wx(cfg))?;
    prune(&db, env, cfg).await?;
    model_response(&db, &info.id, 201, cfg).await
}

/// Keeps the newest 5 versions (and always the active one); deletes the rest and their artifacts.
async fn prune(db: &D1Database, env: &Env, cfg: &Config) -> Result<(), ApiError> {
    let old = rows(
        db,
        "SELECT version, model_path FROM ml_model_versions WHERE is_active = 0 AND id NOT IN \
                        (SELECT id FROM ml_model_versions ORDER BY id DESC LIMIT 5)",
        &[],
        cfg,
    )
    .await?;
    let kv = env.kv("MODELS").map_err(wx(cfg))?;
    for r in old {
        let v = r.get("version").cloned().unwrap_or(Value::Null);
        bind(db.prepare("DELETE FROM ml_model_versions WHERE version = ?1"), &[v], cfg)?
            .run()
            .await
            .map_err(wx(cfg))?;
        if let Some(p) = r.get("model_path").and_then(Value::as_str) {
            let _ = kv.delete(p).await;
        }
    }
    Ok(())
}

async fn model_response(db: &D1Database, version: &str, status: u16, cfg: &Config) -> Res {
    let list =
        rows(db, &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE version = ?1"), &[json!(version)], cfg)
            .await?;
    let m = list.first().ok_or_else(|| ApiError::not_found(format!("no model version `{version}`")))?;
    json_response(status, &json!({ "model": model_json(m) })).map_err(wx(cfg))
}

async fn activate(req: &Request, version: &str, env: &Env, cfg: &Config) -> Res {
    require(req, &cfg.admin_token, "admin token")?;
    let db = d1(env, cfg)?;
    if rows(&db, "SELECT 1 AS x FROM ml_model_versions WHERE version = ?1", &[json!(version)], cfg).await?.is_empty() {
        return Err(ApiError::not_found(format!("no model version `{version}`")));
    }
    db.batch(vec![
        db.prepare("UPDATE ml_model_versions SET is_active = 0"),
        bind(db.prepare("UPDATE ml_model_versions SET is_active = 1 WHERE version = ?1"), &[json!(version)], cfg)?,
    ])
    .await
    .map_err(wx(cfg))?;
    model_response(&db, version, 200, cfg).await
}

async fn performance(version: &str, env: &Env, cfg: &Config) -> Res {
    let db = d1(env, cfg)?;
    let r = rows(
        &db,
        "SELECT COUNT(*) AS evaluated, AVG(hit) AS hit_rate, AVG(ABS(realized_error)) AS mean_abs_error, \
         AVG(in_interval) AS interval_coverage FROM ml_predictions WHERE model_version = ?1 AND realized_price IS NOT NULL",
        &[json!(version)],
        cfg,
    )
    .await?;
    let pending = rows(
        &db,
        "SELECT COUNT(*) AS n FROM ml_predictions WHERE model_version = ?1 AND realized_price IS NULL",
        &[json!(version)],
        cfg,
    )
    .await?;
    let r = r.into_iter().next().unwrap_or(json!({}));
    json_response(
        200,
        &json!({
            "version": version,
            "evaluated": r.get("evaluated"),
            "pending": pending.first().and_then(|p| p.get("n")),
            "hit_rate": r.get("hit_rate"),
            "mean_abs_error": r.get("mean_abs_error"),
            "interval_coverage": r.get("interval_coverage"),
        }),
    )
    .map_err(wx(cfg))
}

// ---------------------------------------------------------------------------------------------------------
// Training data

async fn post_training(req: Request, env: &Env, cfg: &Config) -> Res {
    require(&req, &cfg.admin_token, "admin token")?;
    let body = body_json(req, cfg).await?;
    let items = body
        .get("rows")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::new(422, "invalid_rows", "body must be { \"rows\": [...] }"))?;
    if items.is_empty() || items.len() > 1000 {
        return Err(ApiError::new(422, "invalid_rows", format!("1–1000 rows per request, got {}", items.len())));
    }
    let db = d1(env, cfg)?;
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
        stmts.push(bind(
            db.prepare(
                "INSERT INTO ml_training_data (symbol, timeframe, timestamp, features, target) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (symbol, timeframe, timestamp) DO UPDATE SET features = excluded.features, target = excluded.target",
            ),
            &[json!(symbol), json!(tf.short()), json!(ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)), json!(features.to_string()), target],
            cfg,
        )?);
    }
    db.batch(stmts).await.map_err(wx(cfg))?;
    json_response(200, &json!({ "upserted": items.len() })).map_err(wx(cfg))
}

async fn get_training(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req);
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let tf = logic::parse_timeframe(q.get("timeframe").map(String::as_str))?;
    let fmt = |t: Option<DateTime<Utc>>, d: &str| {
        t.map_or(d.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let start = fmt(logic::parse_time(q.get("start").map(String::as_str), "start")?, "0000");
    let end = fmt(logic::parse_time(q.get("end").map(String::as_str), "end")?, "9999");
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 1000, 5000)?;
    let db = d1(env, cfg)?;
    let list = rows(
        &db,
        "SELECT symbol, timeframe, timestamp, features, target FROM ml_training_data WHERE symbol = ?1 AND timeframe = ?2 \
         AND timestamp >= ?3 AND timestamp <= ?4 ORDER BY timestamp ASC LIMIT ?5",
        &[json!(symbol), json!(tf.short()), json!(start), json!(end), json!(limit)],
        cfg,
    )
    .await?;
    let list: Vec<Value> = list
        .into_iter()
        .map(|mut r| {
            logic::expand_json_column(&mut r, "features");
            r
        })
        .collect();
    json_response(200, &json!({ "rows": list })).map_err(wx(cfg))
}

// ---------------------------------------------------------------------------------------------------------
// Cron: accuracy tracking

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = Config::from_env(&env);
    match track_accuracy(&env, &cfg).await {
        Ok(n) => worker::console_log!("accuracy tracking: {n} prediction(s) scored"),
        Err(e) => worker::console_error!("accuracy tracking failed: {} {}", e.code, cfg.scrub(&e.message)),
    }
}

/// Scores stored predictions whose horizon has passed: the realised price is the close of the 1-minute bar
/// that ends at the horizon (or the latest one ending within 15 minutes before it, for illiquid minutes).
/// Predictions whose bar is not available yet (e.g. a replay clock behind) wait for the next run.
pub async fn track_accuracy(env: &Env, cfg: &Config) -> Result<usize, ApiError> {
    let db = d1(env, cfg)?;
    let pending = rows(
        &db,
        "SELECT id, symbol, prediction_time, horizon_minutes, predicted_price, last_close, interval_low, interval_high, signal \
         FROM ml_predictions WHERE realized_price IS NULL ORDER BY prediction_time ASC LIMIT 200",
        &[],
        cfg,
    )
    .await?;
    let now = now_ms();
    let mut scored = 0;
    for p in pending {
        let f = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let Ok(t0) = DateTime::parse_from_rfc3339(&s("prediction_time")) else { continue };
        let target = t0.timestamp_millis() + f("horizon_minutes") as i64 * 60_000;
        if target > now {
            continue;
        }
        let symbol = s("symbol");
        let from = Utc.timestamp_millis_opt(target - 15 * 60_000).single();
        let to = Utc.timestamp_millis_opt(target - 60_000).single();
        let request =
            BarsRequest::new([symbol.clone()], Timeframe::M1).range(from, to).limit(20).sort(Sort::Desc).feed(cfg.feed);
        let Ok(path) = request.path_and_query() else { continue };
        let page: BarsResponse = match alpaca_get(cfg, &path)
            .await
            .and_then(|v| serde_json::from_value(v).map_err(|e| ApiError::upstream(e.to_string())))
        {
            Ok(p) => p,
            Err(e) => {
                worker::console_warn!("accuracy: {symbol}: {}", cfg.scrub(&e.message));
                continue;
            }
        };
        let Some(bar) = page.bars.iter().filter(|b| b.start_ms() + 60_000 <= target).max_by_key(|b| b.start_ms())
        else {
            continue;
        };
        let o = logic::score(
            f("predicted_price"),
            f("last_close"),
            f("interval_low"),
            f("interval_high"),
            &s("signal"),
            bar.close(),
        );
        bind(
            db.prepare("UPDATE ml_predictions SET realized_price = ?1, realized_error = ?2, hit = ?3, in_interval = ?4, evaluated_at = ?5 WHERE id = ?6"),
            &[json!(o.realized_price), json!(o.error), json!(o.hit), json!(o.in_interval), json!(iso(now)), p.get("id").cloned().unwrap_or(Value::Null)],
            cfg,
        )?
        .run()
        .await
        .map_err(wx(cfg))?;
        scored += 1;
        if let Ok(kv) = env.kv("CACHE")
            && let Ok(put) = kv.put(&format!("preds:gen:{symbol}"), now_ms().to_string())
        {
            let _ = put.execute().await;
        }
    }
    Ok(scored)
}
