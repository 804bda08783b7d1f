//! The pure rules of `ml-predict` (`/api/v1/predict` and the scheduled watchlist predictions): request parsing,
//! the prediction cache's keys and lifetime, the scheduled instants. Tested natively; the handler is
//! `routes::predict` and the model and bar plumbing `inference` (wasm32).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::logic::{ApiError, parse_symbol};

/// Most symbols in one `POST /api/v1/predict`.
pub const MAX_SYMBOLS: usize = 100;

/// Seconds a computed prediction is served from the cache (also its KV expiry; KV's minimum is 60). The key
/// carries the base-bar boundary, so a new bar is a new key whatever this is; the lifetime bounds how long a late
/// correction of the newest bars by Alpaca goes unseen (the issue allows 1–5 minutes).
pub const PREDICTION_TTL_SECS: u64 = 120;

/// Seconds the last valid prediction of a symbol is kept as the stale fallback.
pub const LAST_VALID_KEEP_SECS: u64 = 7 * 24 * 3600;

/// A requested symbol: valid (upper case), or as given with why it is not.
pub type RequestedSymbol = Result<String, (String, ApiError)>;

/// A parsed `/api/v1/predict` request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictQuery {
    /// Symbols in request order, de-duplicated; each is valid (upper case) or carries why it is not (reported
    /// on its own entry: one bad symbol does not fail the batch).
    pub symbols: Vec<RequestedSymbol>,
    /// Requested horizon in minutes (`None`: the model's).
    pub horizon_minutes: Option<i64>,
    /// Prediction instant (`None`: now).
    pub at: Option<DateTime<Utc>>,
    /// Requested model version (`None`: the active one).
    pub model: Option<String>,
}

fn bad(code: &'static str, m: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, m)
}

/// Parses the JSON body `{ symbols: [...], horizon?, at?, model? }` of `POST /api/v1/predict`.
///
/// # Errors
/// 400 naming the field: `symbols` missing, empty, over [`MAX_SYMBOLS`] or not strings; `horizon` not a whole
/// number of minutes ≥ 1; `at` not RFC 3339; `model` not a string.
pub fn parse_predict_body(body: &Value) -> Result<PredictQuery, ApiError> {
    let obj = body.as_object().ok_or_else(|| bad("invalid_request", "body must be a JSON object"))?;
    for k in obj.keys() {
        if !["symbols", "horizon", "at", "model"].contains(&k.as_str()) {
            return Err(bad("invalid_request", format!("unknown field `{k}` (symbols, horizon, at, model)")));
        }
    }
    let list = obj
        .get("symbols")
        .ok_or_else(|| bad("missing_symbol", "`symbols` is required: an array of 1–100 symbols"))?
        .as_array()
        .ok_or_else(|| bad("invalid_symbol", "`symbols` must be an array of strings"))?;
    let mut raw = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        raw.push(s.as_str().ok_or_else(|| bad("invalid_symbol", format!("`symbols[{i}]` must be a string")))?);
    }
    let horizon = match obj.get("horizon") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_horizon(v)?),
    };
    let at = match obj.get("at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_at(s)?),
        Some(_) => return Err(bad("invalid_time", "`at` must be an RFC 3339 string")),
    };
    let model = match obj.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => Some(s.clone()),
        Some(_) => return Err(bad("invalid_model", "`model` must be a version string (`name@version`)")),
    };
    Ok(PredictQuery { symbols: symbols(&raw)?, horizon_minutes: horizon, at, model })
}

/// The query of `GET /api/v1/predict?symbol=&horizon=&at=&model=` (one symbol; a bad one is a 400).
///
/// # Errors
/// As [`parse_predict_body`].
pub fn parse_predict_query(q: &std::collections::HashMap<String, String>) -> Result<PredictQuery, ApiError> {
    let symbol = parse_symbol(q.get("symbol").map(String::as_str))?;
    let horizon = q.get("horizon").map(|h| parse_horizon(&Value::String(h.clone()))).transpose()?;
    let at = q.get("at").map(|s| parse_at(s)).transpose()?;
    let model = q.get("model").filter(|m| !m.is_empty()).cloned();
    Ok(PredictQuery { symbols: vec![Ok(symbol)], horizon_minutes: horizon, at, model })
}

fn symbols(raw: &[&str]) -> Result<Vec<RequestedSymbol>, ApiError> {
    if raw.is_empty() || raw.len() > MAX_SYMBOLS {
        return Err(bad("invalid_batch", format!("`symbols` holds 1–{MAX_SYMBOLS} symbols, got {}", raw.len())));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for s in raw {
        let key = s.trim().to_ascii_uppercase();
        if !seen.insert(key.clone()) {
            continue;
        }
        out.push(parse_symbol(Some(s.trim())).map_err(|e| (key, e)));
    }
    Ok(out)
}

/// A horizon in whole minutes (a JSON number or a numeric string), 1 to a year.
///
/// # Errors
/// 400 `invalid_horizon`.
pub fn parse_horizon(v: &Value) -> Result<i64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|n| *n >= 1.0 && n.fract() == 0.0 && *n <= 525_600.0)
        .map(|n| n as i64)
        .ok_or_else(|| bad("invalid_horizon", "`horizon` must be a whole number of minutes ≥ 1"))
}

fn parse_at(s: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad("invalid_time", format!("`at` must be RFC 3339 (e.g. 2024-03-08T20:00:00Z), got `{s}`")))
}

/// The instant a prediction without `at` is made at: the upstream's clock, read off the newest 1-minute bar it
/// has for any of the symbols (the end of that bar, `GET /v2/stocks/bars/latest`), never later than the worker's
/// `now_ms`; `None` when it has no minute bar for any of them (the caller then uses `now_ms`). Against Alpaca this
/// is "now" while the symbols trade and the end of their last traded minute (after-hours included) when they do
/// not; against a replay it is the replay clock, not the wall.
#[must_use]
pub fn upstream_instant(latest: &mtf_alpaca::rest::LatestBarsResponse, now_ms: i64) -> Option<i64> {
    latest.bars.values().map(|b| b.start_ms() + 60_000).max().map(|end| end.min(now_ms))
}

/// The start (epoch ms) of the base-bar bucket holding `at_ms`: predictions at instants of one bucket use the
/// same complete bars, so they share a cache entry. Buckets are aligned to the epoch, which for the sizes that
/// divide 30 minutes is also aligned to the 09:30 New York open (every UTC offset of New York is whole hours).
pub fn bucket_ms(at_ms: i64, base_minutes: i64) -> i64 {
    let size = base_minutes.max(1) * 60_000;
    at_ms.div_euclid(size) * size
}

/// KV key of a computed prediction: (model version, symbol, horizon, base-bar bucket).
pub fn prediction_key(version: &str, symbol: &str, horizon_minutes: i64, bucket_ms: i64) -> String {
    format!("predict:v1:{version}:{symbol}:{horizon_minutes}:{bucket_ms}")
}

/// KV key of the last valid prediction of a symbol: the stale fallback. `None`: of any model and horizon (found
/// even when the model that made it cannot be loaded to say its horizon); `Some(h)`: of horizon `h` minutes
/// (each horizon has its own active model, so each keeps its own fallback).
pub fn last_valid_key(symbol: &str, horizon_minutes: Option<i64>) -> String {
    match horizon_minutes {
        None => format!("predict:last:{symbol}"),
        Some(h) => format!("predict:last:{symbol}:{h}"),
    }
}

/// The error when no active model predicts `requested` minutes ahead: names the horizons that are served.
pub fn no_model_for_horizon(requested: i64, served: &[i64]) -> ApiError {
    let served = if served.is_empty() {
        "no model is active".to_string()
    } else {
        let list: Vec<String> = served.iter().map(|h| format!("{h}")).collect();
        format!("active models predict {} minutes ahead", list.join(", "))
    };
    ApiError::new(
        404,
        "no_model_for_horizon",
        format!(
            "no active model predicts {requested} minutes ahead ({served}); register and activate one for that horizon"
        ),
    )
}

/// Whether the requested horizon is the model's (each model predicts one horizon).
///
/// # Errors
/// 400 `unsupported_horizon` naming the model's horizon.
pub fn check_horizon(requested: Option<i64>, model_minutes: i64, model: &str) -> Result<(), ApiError> {
    match requested {
        Some(h) if h != model_minutes => Err(bad(
            "unsupported_horizon",
            format!("model `{model}` predicts {model_minutes} minutes ahead; `horizon` was {h}"),
        )),
        _ => Ok(()),
    }
}

/// The watchlist: `WATCHLIST` as comma-separated symbols; invalid ones are skipped and named.
pub fn parse_watchlist(s: &str) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match parse_symbol(Some(part)) {
            Ok(sym) if !ok.contains(&sym) => ok.push(sym),
            Ok(_) => {}
            Err(_) => bad.push(part.to_string()),
        }
    }
    ok.truncate(MAX_SYMBOLS);
    (ok, bad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_symbol_is_its_own_entry_and_duplicates_go() {
        let q = parse_predict_body(&json!({ "symbols": ["spy", "SPY", "B@D", "qqq"], "horizon": 60 })).unwrap();
        assert_eq!(q.symbols.len(), 3);
        assert_eq!(q.symbols[0].as_ref().unwrap(), "SPY");
        let (name, e) = q.symbols[1].as_ref().unwrap_err();
        assert_eq!((name.as_str(), e.code), ("B@D", "invalid_symbol"));
        assert_eq!(q.symbols[2].as_ref().unwrap(), "QQQ");
        assert_eq!(q.horizon_minutes, Some(60));
    }

    #[test]
    fn request_errors_name_the_field() {
        for (body, code) in [
            (json!([]), "invalid_request"),
            (json!({}), "missing_symbol"),
            (json!({ "symbols": [] }), "invalid_batch"),
            (json!({ "symbols": vec!["A"; 101] }), "invalid_batch"),
            (json!({ "symbols": [1] }), "invalid_symbol"),
            (json!({ "symbols": ["A"], "horizon": 1.5 }), "invalid_horizon"),
            (json!({ "symbols": ["A"], "horizon": 0 }), "invalid_horizon"),
            (json!({ "symbols": ["A"], "at": "yesterday" }), "invalid_time"),
            (json!({ "symbols": ["A"], "model": 3 }), "invalid_model"),
            (json!({ "symbols": ["A"], "extra": 3 }), "invalid_request"),
        ] {
            assert_eq!(parse_predict_body(&body).unwrap_err().code, code, "{body}");
        }
        let ok = parse_predict_body(&json!({ "symbols": ["A"], "at": "2011-01-31T20:00:00Z" })).unwrap();
        assert_eq!(ok.at.unwrap().to_rfc3339(), "2011-01-31T20:00:00+00:00");
    }

    #[test]
    fn a_prediction_without_at_is_made_at_the_upstreams_newest_minute_never_later_than_now() {
        let latest: mtf_alpaca::rest::LatestBarsResponse = serde_json::from_value(json!({ "bars": {
            "SPY": { "t": "2011-01-31T19:59:00Z", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1 },
            "QQQ": { "t": "2011-01-31T19:42:00Z", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1 },
        } }))
        .unwrap();
        let end = chrono::DateTime::parse_from_rfc3339("2011-01-31T20:00:00Z").unwrap().timestamp_millis();
        assert_eq!(upstream_instant(&latest, i64::MAX), Some(end), "the newest symbol's bar end");
        assert_eq!(upstream_instant(&latest, end - 5), Some(end - 5), "never after the worker's clock");
        assert_eq!(upstream_instant(&Default::default(), end), None);
    }

    #[test]
    fn the_query_form_takes_one_symbol() {
        let q: std::collections::HashMap<String, String> =
            [("symbol".to_string(), "msft".to_string()), ("horizon".to_string(), "60".to_string())].into();
        let p = parse_predict_query(&q).unwrap();
        assert_eq!(p.symbols, vec![Ok("MSFT".to_string())]);
        assert_eq!(p.horizon_minutes, Some(60));
        assert_eq!(parse_predict_query(&Default::default()).unwrap_err().code, "missing_symbol");
    }

    #[test]
    fn instants_of_one_base_bar_share_a_key() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap().timestamp_millis();
        // 15-minute buckets: 14:30:00–14:44:59 New York share one, 14:45 starts the next.
        let a = bucket_ms(t("2011-01-31T19:30:00Z"), 15);
        assert_eq!(a, bucket_ms(t("2011-01-31T19:44:59Z"), 15));
        assert_ne!(a, bucket_ms(t("2011-01-31T19:45:00Z"), 15));
        assert_eq!(a, t("2011-01-31T19:30:00Z"));
        assert_ne!(prediction_key("m@1", "SPY", 60, a), prediction_key("m@2", "SPY", 60, a));
    }

    #[test]
    fn only_the_models_horizon_is_served() {
        assert!(check_horizon(None, 60, "m@1").is_ok());
        assert!(check_horizon(Some(60), 60, "m@1").is_ok());
        let e = check_horizon(Some(30), 60, "m@1").unwrap_err();
        assert_eq!(e.code, "unsupported_horizon");
        assert!(e.message.contains("60 minutes"));
    }

    #[test]
    fn no_model_for_a_horizon_names_the_served_ones() {
        let e = no_model_for_horizon(30, &[60, 1440]);
        assert_eq!((e.status, e.code), (404, "no_model_for_horizon"));
        assert!(e.message.contains("30 minutes") && e.message.contains("60, 1440 minutes"), "{}", e.message);
        assert!(no_model_for_horizon(30, &[]).message.contains("no model is active"));
        assert_ne!(last_valid_key("SPY", None), last_valid_key("SPY", Some(60)));
        assert_ne!(last_valid_key("SPY", Some(60)), last_valid_key("SPY", Some(1440)));
    }

    #[test]
    fn the_watchlist_skips_and_names_bad_symbols() {
        let (ok, bad) = parse_watchlist(" spy, QQQ ,,b@d, spy");
        assert_eq!(ok, vec!["SPY", "QQQ"]);
        assert_eq!(bad, vec!["b@d"]);
    }
}
