//! Pure logic of the edge API: errors, validation, cache and retry policies, auth and CORS checks, the model
//! artifact header, prediction rows. No I/O: everything here is tested natively (`cargo test --lib`).

use chrono::{DateTime, Utc};
use mtf_market::Timeframe;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// An API error: HTTP status, stable code and a message naming what is wrong. Rendered as
/// `{ "error": { "code", "message" } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429s).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(502, "upstream_error", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }
    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

/// Removes every occurrence of the secrets from a message (errors from upstream or the runtime may echo a
/// request; nothing the worker returns or logs may contain a key).
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        // The secret as it is, percent-encoded (an echoed URL or form) and JSON-escaped (an echoed body).
        let encoded: String = s
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let escaped = serde_json::to_string(s).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        for form in [s, encoded.as_str(), escaped] {
            if !form.is_empty() {
                out = out.replace(form, "[redacted]");
            }
        }
    }
    out
}

/// Query pairs as a map; a name given twice is refused.
pub fn query_map(pairs: impl IntoIterator<Item = (String, String)>) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if out.contains_key(&k) {
            return Err(ApiError::bad_request("duplicate_parameter", format!("query parameter `{k}` is given twice")));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// A validated, upper-case symbol (Alpaca's alphabet: letters, digits, `.`, `/`, `-`; ≤ 20 characters).
pub fn parse_symbol(s: Option<&str>) -> Result<String, ApiError> {
    let s = s
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_symbol", "query parameter `symbol` is required"))?;
    mtf_alpaca::request::validate_symbol(s)
        .map(|x| x.to_ascii_uppercase())
        .map_err(|e| ApiError::bad_request("invalid_symbol", e.to_string()))
}

/// Comma-separated symbols, 1..=`max`.
pub fn parse_symbols(s: Option<&str>, max: usize) -> Result<Vec<String>, ApiError> {
    let s = s
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_symbols", "query parameter `symbols` is required"))?;
    let out = s.split(',').map(|x| parse_symbol(Some(x.trim()))).collect::<Result<Vec<_>, _>>()?;
    if out.len() > max {
        return Err(ApiError::bad_request("too_many_symbols", format!("at most {max} symbols, got {}", out.len())));
    }
    Ok(out)
}

/// A timeframe (`1m`, `5m`, `15m`, `1h`, `4h`, `1d` or Alpaca's `1Min`, `1Hour`, `1Day`, …).
pub fn parse_timeframe(s: Option<&str>) -> Result<Timeframe, ApiError> {
    let s = s.ok_or_else(|| ApiError::bad_request("missing_timeframe", "query parameter `timeframe` is required"))?;
    s.parse().map_err(|e: mtf_market::TimeframeError| ApiError::bad_request("invalid_timeframe", e.to_string()))
}

/// An integer in `1..=max`, `default` when absent.
pub fn parse_limit(s: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match s {
        None | Some("") => Ok(default),
        Some(v) => v.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            ApiError::bad_request("invalid_limit", format!("`limit` must be an integer in 1..={max}, got `{v}`"))
        }),
    }
}

/// An RFC 3339 instant (or a `YYYY-MM-DD` date = midnight UTC).
pub fn parse_time(s: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(s) = s.filter(|s| !s.is_empty()) else { return Ok(None) };
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map(Some)
        .map_err(|_| ApiError::bad_request("invalid_time", format!("`{name}` is not an RFC 3339 instant: `{s}`")))
}

/// `t` rounded up to the whole minute.
pub fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    let up = ms.div_euclid(60_000) * 60_000 + if ms.rem_euclid(60_000) > 0 { 60_000 } else { 0 };
    DateTime::from_timestamp_millis(up).unwrap_or(t)
}

/// `t` rounded down to the whole minute.
pub fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis().div_euclid(60_000) * 60_000).unwrap_or(t)
}

/// The bar count fetched (and cached) for a requested `limit`: the next of a few sizes.
pub fn limit_bucket(limit: u32) -> u32 {
    [100, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000].into_iter().find(|&b| b >= limit).unwrap_or(limit)
}

/// What is cached, for the TTL policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    IntradayBars,
    DailyBars,
    Quote,
    News,
    Predictions,
}

/// Freshness in seconds: intraday bars 45 s, daily bars 6 h, quotes 15 s, news 5 min, stored predictions 60 s.
pub fn ttl_secs(kind: CacheKind) -> u64 {
    match kind {
        CacheKind::IntradayBars => 45,
        CacheKind::DailyBars => 6 * 3600,
        CacheKind::Quote => 15,
        CacheKind::News => 300,
        CacheKind::Predictions => 60,
    }
}

/// How long a cached value is kept for stale fallback after it stops being fresh (KV's minimum TTL is 60 s).
pub const STALE_KEEP_SECS: u64 = 7 * 24 * 3600;

/// A KV cache entry, as text: `<stored_at ms>\n<JSON body>` (served without re-parsing the body).
pub fn encode_entry(stored_at_ms: i64, body: &str) -> String {
    format!("{stored_at_ms}\n{body}")
}

/// `(stored_at ms, JSON body)` of an entry written by [`encode_entry`].
pub fn decode_entry(text: &str) -> Option<(i64, &str)> {
    let (t, body) = text.split_once('\n')?;
    Some((t.parse().ok()?, body))
}

/// Whether an entry stored at `stored_at_ms` is still fresh at `now_ms`.
/// Longest KV key (Cloudflare's limit is 512 bytes; a margin for the prefix).
pub const MAX_KV_KEY: usize = 480;

/// A KV key for `what` under `prefix`: as is when short enough, else the sha256 of `what` (a multi-symbol
/// Alpaca path for 100 symbols is longer than KV allows, and a failed write would silently disable the cache).
pub fn kv_key(prefix: &str, what: &str) -> String {
    if prefix.len() + what.len() <= MAX_KV_KEY {
        format!("{prefix}{what}")
    } else {
        format!("{prefix}sha256:{}", mtf_envelope::sha256_hex(what.as_bytes()))
    }
}

pub fn is_fresh(stored_at_ms: i64, now_ms: i64, kind: CacheKind) -> bool {
    now_ms - stored_at_ms < ttl_secs(kind) as i64 * 1000
}

/// A JSON object body with `"stale": <stale>` as its first member.
pub fn with_stale(body: &str, stale: bool) -> String {
    match body.strip_prefix('{') {
        Some(rest) if rest.trim_start().starts_with('}') => format!("{{\"stale\":{stale}}}"),
        Some(rest) => format!("{{\"stale\":{stale},{rest}"),
        None => body.to_string(),
    }
}

/// Upstream statuses worth retrying: 429 and 5xx.
pub fn retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Delay before retry `attempt` (0-based): `Retry-After` seconds when given (capped at `cap_ms`), else
/// exponential 200 ms · 2^attempt, capped.
pub fn backoff_ms(attempt: u32, retry_after: Option<&str>, cap_ms: u64) -> u64 {
    if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0) {
        return ((secs * 1000.0) as u64).min(cap_ms);
    }
    (200u64 << attempt.min(10)).min(cap_ms)
}

/// Constant-time comparison of an `Authorization: Bearer …` header with the expected token. An empty
/// expected token never matches (an unset secret locks writes instead of opening them).
pub fn bearer_ok(header: Option<&str>, expected: &str) -> bool {
    let Some(got) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    if expected.is_empty() || got.len() != expected.len() {
        return false;
    }
    got.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The origin to echo in `Access-Control-Allow-Origin`, if the allowlist (comma-separated, `*` = any) has it.
pub fn cors_origin(origin: Option<&str>, allowlist: &str) -> Option<String> {
    let origin = origin?;
    allowlist.split(',').map(str::trim).any(|a| a == "*" || a.eq_ignore_ascii_case(origin)).then(|| origin.to_string())
}

/// The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's prefix: otherwise every
/// address of it is a fresh budget).
pub fn client_key(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(a) => a.to_string(),
        Err(_) => ip.trim().to_string(),
    }
}

/// A fixed-window rate limiter (per isolate): `limit` requests per `window_ms` per key, at most
/// [`RateLimiter::MAX_KEYS`] keys.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: std::collections::HashMap<String, (i64, u32)>,
}

impl RateLimiter {
    /// Most keys held.
    pub const MAX_KEYS: usize = 10_000;

    /// Counts a request; `Err(retry_after_secs)` when over the limit.
    pub fn check(&mut self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> Result<(), u64> {
        if self.windows.len() >= Self::MAX_KEYS && !self.windows.contains_key(key) {
            self.windows.retain(|_, (start, _)| now_ms - *start < window_ms);
            if self.windows.len() >= Self::MAX_KEYS {
                // Still full within one window (many addresses at once): the oldest windows go. Bounded memory
                // over exactness; a global limit belongs in front of the worker (README, "Security model").
                let mut starts: Vec<i64> = self.windows.values().map(|w| w.0).collect();
                starts.sort_unstable();
                let cut = starts[starts.len() / 2];
                self.windows.retain(|_, (start, _)| *start > cut);
            }
        }
        let w = self.windows.entry(key.to_string()).or_insert((now_ms, 0));
        if now_ms - w.0 >= window_ms {
            *w = (now_ms, 0);
        }
        w.1 += 1;
        if w.1 > limit { Err((((w.0 + window_ms - now_ms).max(0) + 999) / 1000) as u64) } else { Ok(()) }
    }
}

/// A retrain record is stored only when its id is the 16 hex digits of a run id and its times are RFC 3339
/// (422 `invalid_record` naming the field otherwise).
///
/// # Errors
/// [`ApiError`] 422.
pub fn check_retrain_record(r: &mtf_retrain::record::RetrainRecord) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::new(422, "invalid_record", m);
    if r.id.len() != 16 || !r.id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad(format!("id: `{}` is not a run id (16 lower-case hex digits)", r.id.escape_debug())));
    }
    for (name, v) in [("started_at", &r.started_at), ("finished_at", &r.finished_at)] {
        if DateTime::parse_from_rfc3339(v).is_err() {
            return Err(bad(format!("{name}: `{}` is not RFC 3339", v.escape_debug())));
        }
    }
    if !r.duration_s.is_finite() || r.duration_s < 0.0 {
        return Err(bad("duration_s: must be a non-negative number".into()));
    }
    Ok(())
}

/// Refuses rows whose `prediction_time` is more than `max_age_ms` before `now_ms` (422 `prediction_too_old`,
/// naming the first such row).
pub fn check_recent(rows: &[PredictionRow], now_ms: i64, max_age_ms: i64) -> Result<(), ApiError> {
    for (i, r) in rows.iter().enumerate() {
        let t = DateTime::parse_from_rfc3339(&r.prediction_time).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
        if t < now_ms - max_age_ms {
            return Err(ApiError::new(
                422,
                "prediction_too_old",
                format!(
                    "[{i}].predictionTime {} is more than {} s before now: browsers store live predictions only",
                    r.prediction_time,
                    max_age_ms / 1000
                ),
            ));
        }
    }
    Ok(())
}

/// What the stream hub does with an error message from Alpaca's stream (`{"T":"error","code":…}`), by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorAction {
    /// Keep the connection (the message concerns one request: 400 invalid syntax, 403 already authenticated,
    /// 405 symbol limit exceeded, 410 invalid subscribe action).
    Continue,
    /// Close and reconnect after at least `min_delay_ms` (404 auth timeout, 407 slow client, 500 internal error:
    /// the usual backoff; 406 connection limit exceeded: another connection holds the key, so a minute).
    Reconnect { min_delay_ms: u64 },
    /// Close; retrying soon cannot help (401 not authenticated, 402 auth failed, 409 insufficient subscription:
    /// the keys or the plan are wrong), so the next attempt waits five minutes.
    Fatal { retry_ms: u64 },
}

/// The action for an Alpaca stream error code (unknown codes reconnect with the usual backoff).
pub fn stream_error_action(code: u16) -> StreamErrorAction {
    match code {
        400 | 403 | 405 | 410 => StreamErrorAction::Continue,
        401 | 402 | 409 => StreamErrorAction::Fatal { retry_ms: 300_000 },
        406 => StreamErrorAction::Reconnect { min_delay_ms: 60_000 },
        _ => StreamErrorAction::Reconnect { min_delay_ms: 0 },
    }
}

/// The upstream reconnect delay after a connection ended: after a connection that stayed authenticated for 30 s
/// the backoff restarts at 1 s, otherwise `previous_ms` stands (the caller doubles it after each wait, to 30 s);
/// never below the error's minimum.
pub fn next_stream_delay(previous_ms: u64, authenticated_for_ms: Option<u64>, min_delay_ms: u64) -> u64 {
    const HEALTHY_AFTER_MS: u64 = 30_000;
    let base = if authenticated_for_ms.is_some_and(|d| d >= HEALTHY_AFTER_MS) { 1000 } else { previous_ms };
    base.max(min_delay_ms)
}

/// The symbols to unsubscribe upstream when clients leave: subscribed but wanted by no remaining client.
pub fn unwanted(
    subscribed: &std::collections::BTreeSet<String>,
    wanted: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    subscribed.difference(wanted).cloned().collect()
}

/// A stored prediction row, validated from the prediction JSON the browser produces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionRow {
    pub symbol: String,
    pub model_version: String,
    pub prediction_time: String,
    pub horizon_minutes: i64,
    pub predicted_price: f64,
    pub interval_low: f64,
    pub interval_high: f64,
    pub confidence: f64,
    pub signal: String,
    pub last_close: f64,
    pub attention_weights: String,
    pub payload: String,
    /// `prediction_time + horizon` (RFC 3339, seconds): when it can be scored.
    pub target_time: String,
}

/// How far in the future a stored prediction's `predictionTime` may lie (clock skew): later ones are refused, so
/// no row can pin `latest` with a far-future time.
pub const MAX_FUTURE_MS: i64 = 5 * 60_000;

/// Largest stored payload (the prediction JSON of the default model is about 4.5 KB).
pub const MAX_PAYLOAD_BYTES: usize = 32 << 10;

/// The prediction read as its contract type ([`mtf_prediction::Prediction`], the one the model crate produces),
/// so nothing but the contract is stored: unknown keys are dropped at every level, and a field of the wrong type or
/// a missing one is refused with its path (`$.attention.overTime[0][1]: invalid type: string "a", expected f64`).
pub fn contract_prediction(v: &Value, at: &str) -> Result<mtf_prediction::Prediction, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { at.to_string() } else { format!("{at}.{path}") };
        ApiError::new(422, "invalid_prediction", format!("{at}: {}", e.inner()))
    })
}

/// Validates one prediction (the JSON of `mtf predict` / `predictor.predict`). The message names the field.
pub fn validate_prediction(v: &Value, at: &str, now_ms: i64) -> Result<PredictionRow, ApiError> {
    let bad = |field: &str, what: &str| ApiError::new(422, "invalid_prediction", format!("{at}.{field}: {what}"));
    let num = |path: &[&str]| -> Result<f64, ApiError> {
        let mut x = v;
        for p in path {
            x = x.get(*p).ok_or_else(|| bad(&path.join("."), "missing"))?;
        }
        x.as_f64().filter(|f| f.is_finite()).ok_or_else(|| bad(&path.join("."), "must be a finite number"))
    };
    let text = |field: &str| -> Result<String, ApiError> {
        v.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| bad(field, "must be a string"))
    };
    let symbol = parse_symbol(Some(&text("symbol")?)).map_err(|e| bad("symbol", &e.message))?;
    let model_version = text("modelVersion")?;
    if model_version.is_empty() || model_version.len() > 100 {
        return Err(bad("modelVersion", "must be 1–100 characters"));
    }
    let prediction_time = text("predictionTime")?;
    let t = DateTime::parse_from_rfc3339(&prediction_time).map_err(|_| bad("predictionTime", "must be RFC 3339"))?;
    if t.timestamp_millis() > now_ms + MAX_FUTURE_MS {
        return Err(bad("predictionTime", "is in the future"));
    }
    let horizon = num(&["horizon", "minutes"])?;
    if horizon < 1.0 || horizon.fract() != 0.0 || horizon > 525_600.0 {
        return Err(bad("horizon.minutes", "must be a whole number of minutes ≥ 1"));
    }
    let price = num(&["predictedPrice"])?;
    let (low, high) = (num(&["interval", "low"])?, num(&["interval", "high"])?);
    let last_close = num(&["lastClose"])?;
    if price <= 0.0 || last_close <= 0.0 || low <= 0.0 {
        return Err(bad("predictedPrice", "prices must be > 0"));
    }
    if low > high {
        return Err(bad("interval", "low must be ≤ high"));
    }
    let confidence = num(&["confidence"])?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(bad("confidence", "must be in [0, 1]"));
    }
    let signal = text("signal")?;
    if !["buy", "sell", "hold"].contains(&signal.as_str()) {
        return Err(bad("signal", "must be buy, sell or hold"));
    }
    // Optional (absent in predictions made before it existed): a fraction of equity.
    if v.get("position").is_some() && !(-1.0..=1.0).contains(&num(&["position"])?) {
        return Err(bad("position", "must be in [−1, 1]"));
    }
    let target_time = crate::scoring::target_time(&prediction_time, horizon as i64)
        .ok_or_else(|| bad("predictionTime", "must be RFC 3339"))?;
    let typed = contract_prediction(v, at)?;
    let payload = serde_json::to_string(&typed).map_err(|e| bad("attention", &e.to_string()))?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(bad("attention", &format!("the prediction is over {MAX_PAYLOAD_BYTES} bytes")));
    }
    Ok(PredictionRow {
        symbol,
        model_version,
        prediction_time,
        horizon_minutes: horizon as i64,
        predicted_price: price,
        interval_low: low,
        interval_high: high,
        confidence,
        signal,
        last_close,
        attention_weights: serde_json::to_string(&typed.attention).map_err(|e| bad("attention", &e.to_string()))?,
        payload,
        target_time,
    })
}

/// One or a batch (array, ≤ `max`) of predictions; all are validated before anything is stored.
pub fn validate_predictions(body: &Value, max: usize, now_ms: i64) -> Result<Vec<PredictionRow>, ApiError> {
    match body {
        Value::Array(items) => {
            if items.is_empty() || items.len() > max {
                return Err(ApiError::new(
                    422,
                    "invalid_batch",
                    format!("a batch holds 1–{max} predictions, got {}", items.len()),
                ));
            }
            items.iter().enumerate().map(|(i, v)| validate_prediction(v, &format!("[{i}]"), now_ms)).collect()
        }
        Value::Object(_) => Ok(vec![validate_prediction(body, "$", now_ms)?]),
        _ => Err(ApiError::new(422, "invalid_prediction", "body must be a prediction object or an array of them")),
    }
}

/// What the worker reads from a `.mtf` artifact: the header JSON, after [`mtf_envelope::parse`] checked magic,
/// version, lengths, the name and version identifiers and the weights' sha256 (the same code `mtf-model` loads
/// artifacts with).
#[derive(Debug, Clone)]
pub struct ArtifactInfo {
    pub name: String,
    pub version: String,
    /// `name@version`.
    pub id: String,
    pub header: Value,
    /// sha256 of the whole file (hex): the ETag and what browsers verify.
    pub sha256: String,
}

/// Parses and verifies an artifact's envelope.
pub fn parse_artifact(bytes: &[u8]) -> Result<ArtifactInfo, ApiError> {
    let bad = |m: String| ApiError::new(422, "invalid_artifact", m);
    let envelope = mtf_envelope::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let header: Value =
        serde_json::from_slice(envelope.header_json).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let fields = envelope.fields;
    Ok(ArtifactInfo {
        id: fields.id(),
        name: fields.name,
        version: fields.version,
        header,
        sha256: mtf_envelope::sha256_hex(bytes),
    })
}

/// Outcome of a prediction once its horizon has passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub realized_price: f64,
    /// predicted − realized.
    pub error: f64,
    /// Direction right (up/down relative to the last close; a flat realised move counts for a `hold`).
    pub hit: bool,
    pub in_interval: bool,
}

/// Scores a prediction against the realised price.
pub fn score(predicted: f64, last_close: f64, low: f64, high: f64, signal: &str, realized: f64) -> Outcome {
    let moved = realized - last_close;
    let hit = match signal {
        "buy" => moved > 0.0,
        "sell" => moved < 0.0,
        _ => (predicted - last_close).signum() == moved.signum() || moved == 0.0,
    };
    Outcome {
        realized_price: realized,
        error: predicted - realized,
        hit,
        in_interval: (low..=high).contains(&realized),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bar_cache_keys_are_normalised_without_changing_what_is_selected() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(ceil_minute(t("2011-01-03T14:30:00.001Z")), t("2011-01-03T14:31:00Z"));
        assert_eq!(ceil_minute(t("2011-01-03T14:30:00Z")), t("2011-01-03T14:30:00Z"));
        assert_eq!(floor_minute(t("2011-01-03T14:30:59Z")), t("2011-01-03T14:30:00Z"));
        assert_eq!(
            (limit_bucket(1), limit_bucket(500), limit_bucket(501), limit_bucket(50_000)),
            (100, 500, 1_000, 50_000)
        );
    }

    #[test]
    fn a_repeated_query_parameter_is_refused() {
        let q = |p: &[(&str, &str)]| query_map(p.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(q(&[("symbols", "SPY"), ("limit", "5")]).unwrap()["symbols"], "SPY");
        assert_eq!(q(&[("symbols", "*"), ("symbols", "SPY")]).unwrap_err().code, "duplicate_parameter");
    }

    #[test]
    fn long_kv_keys_are_hashed_and_stay_distinct() {
        assert_eq!(kv_key("a:", "/v2/x"), "a:/v2/x");
        let syms: Vec<String> = (0..100).map(|i| format!("S{i:03}")).collect();
        let long = format!("/v2/stocks/bars?symbols={}&timeframe=1Min", syms.join(","));
        let k = kv_key("alpaca:v1:", &long);
        assert!(k.len() <= 512 && k.starts_with("alpaca:v1:sha256:"), "{k}");
        assert_ne!(k, kv_key("alpaca:v1:", &long.replace("1Min", "5Min")));
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(parse_symbol(Some("brk.b")).unwrap(), "BRK.B");
        assert_eq!(parse_symbol(Some("SPY'; DROP TABLE x;--")).unwrap_err().code, "invalid_symbol");
        assert_eq!(parse_symbol(None).unwrap_err().code, "missing_symbol");
        assert_eq!(parse_timeframe(Some("15m")).unwrap(), Timeframe::M15);
        assert!(parse_timeframe(Some("7m")).unwrap_err().message.contains("7m"));
        assert_eq!(parse_limit(Some("0"), 10, 100).unwrap_err().code, "invalid_limit");
        assert_eq!(parse_limit(None, 10, 100).unwrap(), 10);
        assert!(parse_time(Some("yesterday"), "start").unwrap_err().message.contains("start"));
        assert_eq!(parse_symbols(Some("A,B,C"), 2).unwrap_err().code, "too_many_symbols");
    }

    #[test]
    fn backoff_honours_retry_after_and_caps() {
        assert_eq!(backoff_ms(0, Some("2"), 10_000), 2000);
        assert_eq!(backoff_ms(0, Some("120"), 5000), 5000);
        assert_eq!(backoff_ms(0, None, 10_000), 200);
        assert_eq!(backoff_ms(3, None, 10_000), 1600);
        assert_eq!(backoff_ms(30, None, 10_000), 10_000);
        assert!(retryable(429) && retryable(503) && !retryable(404) && !retryable(422));
    }

    #[test]
    fn bearer_and_cors() {
        assert!(bearer_ok(Some("Bearer abc"), "abc"));
        assert!(!bearer_ok(Some("Bearer abd"), "abc"));
        assert!(!bearer_ok(Some("abc"), "abc"));
        assert!(!bearer_ok(Some("Bearer "), ""), "an unset token locks writes");
        assert_eq!(cors_origin(Some("http://a"), "http://b, http://a").as_deref(), Some("http://a"));
        assert_eq!(cors_origin(Some("http://c"), "http://b"), None);
        assert_eq!(cors_origin(Some("http://c"), "*").as_deref(), Some("http://c"));
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_prefix_and_the_key_map_is_bounded() {
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), client_key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("203.0.113.9"), "203.0.113.9");
        let mut r = RateLimiter::default();
        for i in 0..(RateLimiter::MAX_KEYS * 2) {
            let _ = r.check(&format!("k{i}"), i as i64, 5, 60_000_000);
        }
        assert!(r.windows.len() <= RateLimiter::MAX_KEYS);
    }

    #[test]
    fn rate_limiter_windows() {
        let mut r = RateLimiter::default();
        for _ in 0..3 {
            assert!(r.check("ip", 0, 3, 60_000).is_ok());
        }
        assert_eq!(r.check("ip", 30_000, 3, 60_000), Err(30));
        assert!(r.check("other", 30_000, 3, 60_000).is_ok());
        assert!(r.check("ip", 60_000, 3, 60_000).is_ok());
    }

    #[test]
    fn cache_entries_round_trip_and_mark_staleness() {
        let e = encode_entry(42, r#"{"a":[1,2]}"#);
        assert_eq!(decode_entry(&e), Some((42, r#"{"a":[1,2]}"#)));
        assert_eq!(decode_entry("garbage"), None);
        let v: Value = serde_json::from_str(&with_stale(r#"{"a":1}"#, true)).unwrap();
        assert_eq!(v, json!({"a": 1, "stale": true}));
        assert_eq!(with_stale("{}", false), r#"{"stale":false}"#);
        assert!(is_fresh(0, 44_999, CacheKind::IntradayBars) && !is_fresh(0, 45_000, CacheKind::IntradayBars));
    }

    #[test]
    fn scrub_removes_secrets() {
        assert_eq!(scrub("key=SECRET123 failed", &["SECRET123", ""]), "key=[redacted] failed");
        // Encoded forms too: percent-encoded (an echoed URL) and JSON-escaped (an echoed body).
        assert_eq!(scrub("u?k=s%2Fk%2Bx", &["s/k+x"]), "u?k=[redacted]");
        assert_eq!(scrub(r#"{"k":"a\"b\\c"}"#, &[r#"a"b\c"#]), r#"{"k":"[redacted]"}"#);
    }

    fn prediction() -> Value {
        serde_json::from_str(include_str!("../../crates/wasm/tests/fixtures/parity_expected.json")).unwrap()
    }

    /// 2026-01-01T00:00:00Z: "now" for the validation tests.
    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn predictions_validate_and_batches_are_all_or_nothing() {
        let p = prediction();
        let row = validate_prediction(&p, "$", NOW).unwrap();
        assert_eq!(row.symbol, "SPY");
        assert_eq!(row.horizon_minutes, 60);
        assert_eq!(row.target_time, "2011-01-31T21:00:00Z");
        let mut bad = p.clone();
        bad["confidence"] = json!(1.5);
        let err = validate_predictions(&json!([p, bad]), 100, NOW).unwrap_err();
        assert_eq!(err.status, 422);
        assert!(err.message.starts_with("[1].confidence"), "{}", err.message);
        assert_eq!(validate_predictions(&json!([]), 100, NOW).unwrap_err().code, "invalid_batch");
        assert_eq!(validate_predictions(&Value::Array(vec![p; 101]), 100, NOW).unwrap_err().code, "invalid_batch");
    }

    #[test]
    fn stream_errors_are_handled_by_code() {
        assert_eq!(stream_error_action(405), StreamErrorAction::Continue, "symbol limit: keep the others");
        assert_eq!(stream_error_action(402), StreamErrorAction::Fatal { retry_ms: 300_000 });
        assert_eq!(stream_error_action(406), StreamErrorAction::Reconnect { min_delay_ms: 60_000 });
        assert_eq!(stream_error_action(407), StreamErrorAction::Reconnect { min_delay_ms: 0 });
        assert_eq!(stream_error_action(500), StreamErrorAction::Reconnect { min_delay_ms: 0 });
        // Backoff: reset after a healthy session, kept after a short one, never under the error's minimum.
        assert_eq!(next_stream_delay(16_000, Some(45_000), 0), 1000);
        assert_eq!(next_stream_delay(16_000, Some(2_000), 0), 16_000);
        assert_eq!(next_stream_delay(4_000, None, 0), 4_000);
        assert_eq!(next_stream_delay(1000, Some(60_000), 60_000), 60_000);
        let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(unwanted(&set(&["AAPL", "SPY", "QQQ"]), &set(&["SPY"])), vec!["AAPL", "QQQ"]);
        assert!(unwanted(&set(&["SPY"]), &set(&["SPY", "IWM"])).is_empty());
    }

    #[test]
    fn browser_writes_must_be_recent() {
        let mut p = prediction();
        p["predictionTime"] = json!("2025-12-31T23:30:00Z");
        let recent = validate_predictions(&p, 100, NOW).unwrap();
        assert!(check_recent(&recent, NOW, 3_600_000).is_ok());
        let mut old = prediction();
        old["predictionTime"] = json!("2025-12-31T22:59:59Z");
        let rows = validate_predictions(&json!([p, old]), 100, NOW).unwrap();
        let e = check_recent(&rows, NOW, 3_600_000).unwrap_err();
        assert_eq!((e.status, e.code), (422, "prediction_too_old"));
        assert!(e.message.starts_with("[1].predictionTime 2025-12-31T22:59:59Z"), "{}", e.message);
    }

    #[test]
    fn a_future_prediction_time_is_refused_and_only_schema_fields_are_stored() {
        let mut p = prediction();
        p["predictionTime"] = json!("9999-12-31T00:00:00Z");
        let e = validate_prediction(&p, "$", NOW).unwrap_err();
        assert!(e.message.starts_with("$.predictionTime: is in the future"), "{}", e.message);
        // Within the clock-skew allowance it is accepted.
        p["predictionTime"] = json!("2026-01-01T00:04:00Z");
        assert!(validate_prediction(&p, "$", NOW).is_ok());
        // Unknown keys, at the top and inside, are not stored; the contract's fields are, unchanged.
        let mut q = prediction();
        q["evil"] = json!({ "html": "<script>" });
        q["interval"]["note"] = json!("x");
        q["attention"]["note"] = json!([1, 2]);
        let stored: Value = serde_json::from_str(&validate_prediction(&q, "$", NOW).unwrap().payload).unwrap();
        assert!(stored.get("evil").is_none() && stored["interval"].get("note").is_none());
        assert!(stored["attention"].get("note").is_none());
        // A contract field of the wrong type, or missing, is refused with its path (it was stored filtered).
        let mut r = prediction();
        r["attention"]["overTime"][0] = json!(["a", 0.5]);
        let e = validate_prediction(&r, "$", NOW).unwrap_err();
        assert_eq!((e.status, e.code), (422, "invalid_prediction"));
        assert!(e.message.starts_with("$.attention.overTime[0][0]: invalid type: string"), "{}", e.message);
        let mut r = prediction();
        r.as_object_mut().unwrap().remove("lastBarStart");
        let e = validate_prediction(&r, "$", NOW).unwrap_err();
        assert!(e.message.starts_with("$: missing field `lastBarStart`"), "{}", e.message);
        let clean = prediction();
        let kept: Value = serde_json::from_str(&validate_prediction(&clean, "$", NOW).unwrap().payload).unwrap();
        assert_eq!(kept, clean, "a well-formed prediction is stored whole");
        // A live session's recalibration is kept (its fields only); a position outside [−1, 1] is refused.
        let mut live = prediction();
        live["recalibration"] = json!({ "method": "aci", "gamma": 0.05, "scale": 1.2, "observed": 7,
            "realisedCoverage": 0.71, "window": 7, "x": "y" });
        let kept: Value = serde_json::from_str(&validate_prediction(&live, "$", NOW).unwrap().payload).unwrap();
        live["recalibration"].as_object_mut().unwrap().remove("x");
        assert_eq!(kept, live);
        live["position"] = json!(1.5);
        let e = validate_prediction(&live, "$", NOW).unwrap_err();
        assert!(e.message.starts_with("$.position:"), "{}", e.message);
    }

    #[test]
    fn artifacts_are_verified() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/spy-15m-h4/model.mtf")).unwrap();
        let info = parse_artifact(&bytes).unwrap();
        assert_eq!(info.id, "spy-15m-h4@0.1.0");
        assert_eq!(info.sha256, mtf_envelope::sha256_hex(&bytes));
        assert_eq!(info.header["model"]["timeframes"], 5);
        let mut corrupt = bytes.clone();
        let n = corrupt.len() - 5;
        corrupt[n] ^= 1;
        assert!(parse_artifact(&corrupt).unwrap_err().message.contains("sha256"));
        assert!(parse_artifact(b"hello world, not a model").is_err());
        // A name the registry could not use in a URL is refused (issue 15: names made only of dots).
        let h = br#"{"name":"..","version":"1","weights_len":0,"weights_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;
        let mut dots = b"MTFMODEL".to_vec();
        dots.extend_from_slice(&1u32.to_le_bytes());
        dots.extend_from_slice(&(h.len() as u32).to_le_bytes());
        dots.extend_from_slice(h);
        assert!(parse_artifact(&dots).unwrap_err().message.contains("only dots"));
    }

    #[test]
    fn scoring() {
        let o = score(101.0, 100.0, 99.0, 102.0, "buy", 100.5);
        assert!(o.hit && o.in_interval);
        assert!((o.error - 0.5).abs() < 1e-12);
        assert!(!score(101.0, 100.0, 99.0, 102.0, "sell", 100.5).hit);
        assert!(!score(101.0, 100.0, 100.8, 102.0, "hold", 100.5).in_interval);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod retrain_record_tests {
    use mtf_retrain::record::{Decision, RetrainInputs, RetrainRecord};

    fn record() -> RetrainRecord {
        let inputs = RetrainInputs {
            snapshot: "s".into(),
            config_sha256: "c".into(),
            seed: 1,
            champion: None,
            search_trials: 0,
        };
        RetrainRecord {
            id: inputs.run_id(),
            started_at: "2011-02-01T00:00:00Z".into(),
            finished_at: "2011-02-01T00:01:00Z".into(),
            duration_s: 60.0,
            triggers: vec!["manual".into()],
            inputs,
            holdout: None,
            champion: None,
            challenger: None,
            baselines: Default::default(),
            decision: Decision::Skipped,
            reasons: vec![],
            activated: false,
            search: vec![],
            checks: vec![],
            drift: Default::default(),
        }
    }

    #[test]
    fn records_need_a_run_id_and_times() {
        assert!(super::check_retrain_record(&record()).is_ok());
        let mut r = record();
        r.id = "../../etc".into();
        assert_eq!(super::check_retrain_record(&r).unwrap_err().code, "invalid_record");
        let mut r = record();
        r.finished_at = "yesterday".into();
        assert!(super::check_retrain_record(&r).unwrap_err().message.contains("finished_at"));
        let mut r = record();
        r.duration_s = f64::NAN;
        assert!(super::check_retrain_record(&r).is_err());
    }
}
