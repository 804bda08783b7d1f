//! `ml-predict`: `POST /api/v1/predict` (1–100 symbols) and `GET /api/v1/predict?symbol=`. Predictions are
//! computed inside the worker by the same crates as `mtf predict` and the browser (`mtf-features`,
//! `mtf-model` on burn's CPU backend), in one batched forward pass; cached per (model version, symbol,
//! horizon, base-bar bucket) for [`serving::PREDICTION_TTL_SECS`]; when the model or Alpaca fails, the last
//! valid prediction is served with `stale: true` and its age.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::join_all;
use mtf_features::frames::MultiTimeframe;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{Env, Request};

use crate::config::Config;
use crate::http::{self, Res, iso, json_response, now_ms, query};
use crate::inference::{self, Loaded};
use crate::logic::{self, ApiError};
use crate::serving::{self, PredictQuery};
use crate::wire::{EntryError, InputRange, PredictEntry, PredictResponse, ServedModel};

/// Any caller with `read` (a session token, the client or admin token); whether it is the admin.
fn authorize(req: &Request, cfg: &Config) -> Result<bool, ApiError> {
    Ok(crate::auth::require(req, cfg, crate::session::Scope::Read)?.is_admin())
}

/// `Cache-Control: no-cache` from an admin recomputes (the bars still come through their cache): how the
/// benchmark measures the computation.
fn bypass(req: &Request, admin: bool) -> bool {
    admin && req.headers().get("Cache-Control").ok().flatten().is_some_and(|v| v.contains("no-cache"))
}

pub async fn post(req: Request, env: &Env, cfg: &Config) -> Res {
    let admin = authorize(&req, cfg)?;
    let fresh = bypass(&req, admin);
    let body = http::body_json(req, cfg).await?;
    let q = serving::parse_predict_body(&body)?;
    json_response(200, &predict(env, cfg, &q, fresh).await?)
}

pub async fn get(req: &Request, env: &Env, cfg: &Config) -> Res {
    let admin = authorize(req, cfg)?;
    let q = serving::parse_predict_query(&query(req)?)?;
    json_response(200, &predict(env, cfg, &q, bypass(req, admin)).await?)
}

/// What the prediction cache holds per entry (behind [`logic::encode_entry`]'s timestamp).
#[derive(Serialize, Deserialize)]
struct CachedPrediction {
    prediction: Value,
    inputs: Vec<InputRange>,
}

fn entry_error(symbol: &str, code: &str, message: impl Into<String>) -> PredictEntry {
    PredictEntry {
        symbol: symbol.to_string(),
        prediction: None,
        error: Some(EntryError { code: code.to_string(), message: message.into() }),
        stale: false,
        age_s: None,
        cached: false,
        inputs: Vec::new(),
    }
}

async fn kv_get(env: &Env, key: &str) -> Option<(i64, CachedPrediction)> {
    let text = env.kv("CACHE").ok()?.get(key).text().await.ok().flatten()?;
    let (at, body) = logic::decode_entry(&text)?;
    Some((at, serde_json::from_str(body).ok()?))
}

async fn kv_put(env: &Env, key: &str, now: i64, body: &str, ttl: u64) {
    if let Ok(kv) = env.kv("CACHE")
        && let Ok(put) = kv.put(key, logic::encode_entry(now, body))
    {
        let _ = put.expiration_ttl(ttl).execute().await;
    }
}

/// An entry with a prediction: computed now (`age_s` `None`), from the cache, or stale.
fn with_prediction(symbol: &str, c: CachedPrediction, age_s: Option<f64>, stale: bool) -> PredictEntry {
    PredictEntry {
        symbol: symbol.to_string(),
        prediction: Some(c.prediction),
        error: None,
        stale,
        age_s,
        cached: age_s.is_some(),
        inputs: c.inputs,
    }
}

/// The last valid prediction of `symbol` (of `horizon` minutes when one was asked for) as a stale entry, or the
/// error `code` naming why there is none.
async fn stale_or(env: &Env, symbol: &str, horizon: Option<i64>, now: i64, code: &str, why: &str) -> PredictEntry {
    if let Some((stored, c)) = kv_get(env, &serving::last_valid_key(symbol, horizon)).await
        && horizon.is_none_or(|h| c.prediction["horizon"]["minutes"].as_i64() == Some(h))
    {
        return with_prediction(symbol, c, Some((now - stored) as f64 / 1000.0), true);
    }
    entry_error(symbol, code, format!("{symbol}: {why}; no earlier prediction to fall back on"))
}

/// Predictions for `q` (the route's work). `fresh` skips the prediction cache.
///
/// # Errors
/// 400 for a bad instant or horizon, 404 for an unknown model version or (`no_model_for_horizon`) a horizon no
/// active model predicts, 503 when no model is active; per-symbol
/// failures are entries, not errors.
pub async fn predict(env: &Env, cfg: &Config, q: &PredictQuery, fresh: bool) -> Result<PredictResponse, ApiError> {
    Ok(predict_with_inputs(env, cfg, q, fresh).await?.0)
}

/// [`predict`], also returning the newest-step model inputs of each symbol predicted now (not of cached or
/// stale entries): what the cron records for feature drift.
///
/// # Errors
/// As [`predict`].
pub async fn predict_with_inputs(
    env: &Env,
    cfg: &Config,
    q: &PredictQuery,
    fresh: bool,
) -> Result<(PredictResponse, BTreeMap<String, Vec<f64>>), ApiError> {
    let mut newest_inputs = BTreeMap::new();
    let now = now_ms();
    if let Some(t) = q.at
        && t.timestamp_millis() > now + 1000
    {
        return Err(ApiError::bad_request(
            "invalid_time",
            format!("`at` ({}) is in the future", iso(t.timestamp_millis())),
        ));
    }
    let wall = Utc.timestamp_millis_opt(now).single().unwrap_or_default();
    let mut entries: Vec<Option<PredictEntry>> = vec![None; q.symbols.len()];
    let mut valid: Vec<(usize, String)> = Vec::new();
    for (i, s) in q.symbols.iter().enumerate() {
        match s {
            Ok(sym) => valid.push((i, sym.clone())),
            Err((raw, e)) => entries[i] = Some(entry_error(raw, e.code, e.message.clone())),
        }
    }
    let mut warnings = Vec::new();
    let served = match inference::model(env, cfg, q.model.as_deref(), q.horizon_minutes).await {
        Ok(s) => s,
        Err(e) if e.code == "model_unavailable" => {
            // The model cannot be loaded and none was before: the last valid predictions, else errors.
            warnings.push(e.message.clone());
            for (i, sym) in &valid {
                entries[*i] = Some(stale_or(env, sym, q.horizon_minutes, now, "model_unavailable", &e.message).await);
            }
            let r = PredictResponse {
                model: None,
                at: iso(q.at.unwrap_or(wall).timestamp_millis()),
                predictions: entries.into_iter().flatten().collect(),
                warnings,
            };
            return Ok((r, newest_inputs));
        }
        Err(e) => return Err(e),
    };
    let model = served.model;
    warnings.extend(served.warning);
    let h = inference::horizon_minutes(&model);
    serving::check_horizon(q.horizon_minutes, h, &model.version)?;
    // Without `at`: the upstream's clock (its newest minute), so that a replay or a closed market is predicted at
    // the bars it has, not at the worker's wall clock.
    let at = match q.at {
        Some(t) => t,
        None if valid.is_empty() => wall,
        None => {
            let symbols: Vec<String> = valid.iter().map(|(_, s)| s.clone()).collect();
            match inference::upstream_now(env, cfg, &symbols, now).await {
                Ok(ms) => Utc.timestamp_millis_opt(ms).single().unwrap_or(wall),
                Err(e) => {
                    http::log_error("predict: upstream clock", &e, cfg);
                    warnings
                        .push(format!("the upstream's clock is unknown ({}): predicted at the worker's", e.message));
                    wall
                }
            }
        }
    };
    let base = model.predictor.header.data.base;
    let bucket = serving::bucket_ms(at.timestamp_millis(), base.minutes());
    let mut misses: Vec<(usize, String)> = Vec::new();
    // Cache lookups concurrently (KV reads are I/O; one after the other they add up over a batch).
    let looked: Vec<Option<(i64, CachedPrediction)>> = if fresh {
        valid.iter().map(|_| None).collect()
    } else {
        join_all(valid.iter().map(|(_, sym)| {
            let key = serving::prediction_key(&model.version, sym, h, bucket);
            async move { kv_get(env, &key).await }
        }))
        .await
    };
    for ((i, sym), hit) in valid.into_iter().zip(looked) {
        match hit {
            Some((stored, c)) if now - stored < serving::PREDICTION_TTL_SECS as i64 * 1000 => {
                entries[i] = Some(with_prediction(&sym, c, Some((now - stored) as f64 / 1000.0), false));
            }
            _ => misses.push((i, sym)),
        }
    }
    if !misses.is_empty() {
        let symbols: Vec<String> = misses.iter().map(|(_, s)| s.clone()).collect();
        match inference::fetch_bars(env, cfg, &model.plan, &symbols, at).await {
            Err(e) if e.status >= 500 => {
                http::log_error("predict: bars", &e, cfg);
                warnings.push(format!("Alpaca failed: {}", e.message));
                for (i, sym) in &misses {
                    entries[*i] = Some(stale_or(env, sym, Some(h), now, "upstream_unavailable", &e.message).await);
                }
            }
            Err(e) => return Err(e),
            Ok(mut bars) => {
                // The live recalibration states of this version (a D1 failure serves the model's bands).
                let states = match crate::db::d1(env) {
                    Ok(d1) => crate::recalibration::load(&d1, &model.version).await.unwrap_or_else(|e| {
                        http::log_error("predict: recalibration states", &e, cfg);
                        BTreeMap::new()
                    }),
                    Err(_) => BTreeMap::new(),
                };
                let computed = compute(&model, &misses, &mut bars, at, &states);
                let mut writes = Vec::new();
                for ((i, sym), (result, inputs_now)) in misses.iter().zip(computed) {
                    if let Some(x) = inputs_now {
                        newest_inputs.insert(sym.clone(), x);
                    }
                    let inputs = bars.get(sym).map(|b| b.inputs.clone()).unwrap_or_default();
                    entries[*i] = Some(match result {
                        Ok(prediction) => {
                            let c = CachedPrediction { prediction, inputs };
                            if let Ok(body) = serde_json::to_string(&c) {
                                let key = serving::prediction_key(&model.version, sym, h, bucket);
                                writes.push((key, serving::PREDICTION_TTL_SECS, body.clone()));
                                writes.push((
                                    serving::last_valid_key(sym, Some(h)),
                                    serving::LAST_VALID_KEEP_SECS,
                                    body.clone(),
                                ));
                                writes.push((serving::last_valid_key(sym, None), serving::LAST_VALID_KEEP_SECS, body));
                            }
                            with_prediction(sym, c, None, false)
                        }
                        Err(e) => PredictEntry { inputs, ..entry_error(sym, e.code, e.message) },
                    });
                }
                // Cache writes concurrently.
                join_all(writes.iter().map(|(key, ttl, body)| kv_put(env, key, now, body, *ttl))).await;
            }
        }
    }
    let r = PredictResponse {
        model: Some(ServedModel { version: model.version.clone(), sha256: model.sha256.clone() }),
        at: iso(at.timestamp_millis()),
        predictions: entries.into_iter().flatten().collect(),
        warnings,
    };
    Ok((r, newest_inputs))
}

/// A symbol's prediction (or error) and, when it was predicted, its newest-step inputs.
type Computed = (Result<Value, ApiError>, Option<Vec<f64>>);

/// Features and one batched forward pass for the symbols whose bars arrived; a symbol whose features or
/// window fail gets its own error (the batch is then re-run without it). With each prediction, the newest
/// window step of its inputs. A symbol's band is scaled by its live recalibration state in `states` when that
/// state has seen nothing after `at`.
fn compute(
    model: &Loaded,
    symbols: &[(usize, String)],
    bars: &mut BTreeMap<String, inference::SymbolBars>,
    at: DateTime<Utc>,
    states: &BTreeMap<String, crate::recalibration::State>,
) -> Vec<Computed> {
    let recalibrated = |sym: &str, mut pred: mtf_model::predict::Prediction| {
        if let Some(st) = states.get(sym)
            && crate::recalibration::applicable(st, at.timestamp_millis())
        {
            st.band.recalibrate(&mut pred);
        }
        inference::to_value(&pred)
    };
    let p = &model.predictor;
    let mut out: Vec<Option<Result<Value, ApiError>>> = vec![None; symbols.len()];
    let mut features: Vec<(usize, MultiTimeframe)> = Vec::new();
    for (k, (_, sym)) in symbols.iter().enumerate() {
        let Some(b) = bars.get_mut(sym) else {
            out[k] = Some(Err(ApiError::new(502, "no_data", format!("{sym}: no bars from Alpaca"))));
            continue;
        };
        if b.given.values().all(Vec::is_empty) {
            out[k] = Some(Err(ApiError::new(
                404,
                "no_data",
                format!(
                    "{sym}: Alpaca has no bars before {} (unknown symbol, or no trading)",
                    iso(at.timestamp_millis())
                ),
            )));
            continue;
        }
        match p.features_as_of(std::mem::take(&mut b.given), at) {
            Ok(m) => features.push((k, m)),
            Err(e) => out[k] = Some(Err(history_error(sym, &e))),
        }
    }
    let items: Vec<(&str, &MultiTimeframe, DateTime<Utc>)> =
        features.iter().map(|(k, m)| (symbols[*k].1.as_str(), m, at)).collect();
    // (An empty batch is no forward pass: `Predictor::predict` returns no predictions.)
    match p.predict(&items) {
        Ok(preds) => {
            for ((k, _), pred) in features.iter().zip(preds) {
                out[*k] = Some(recalibrated(symbols[*k].1.as_str(), pred));
            }
        }
        Err(_) => {
            // Find the culprits one by one; the rest still predict (rare: short or broken histories).
            for (k, m) in &features {
                let sym = symbols[*k].1.as_str();
                out[*k] = Some(match p.predict(&[(sym, m, at)]) {
                    Ok(mut v) => v.pop().map_or_else(
                        || Err(ApiError::internal(format!("{sym}: the model returned nothing"))),
                        |pred| recalibrated(sym, pred),
                    ),
                    Err(e) => Err(history_error(sym, &e)),
                });
            }
        }
    }
    let mut inputs: Vec<Option<Vec<f64>>> = vec![None; symbols.len()];
    for (k, m) in &features {
        if matches!(out[*k], Some(Ok(_))) {
            inputs[*k] = p.newest_inputs(m, at).ok();
        }
    }
    out.into_iter().zip(inputs).map(|(r, x)| (r.unwrap_or_else(|| Err(ApiError::internal("no result"))), x)).collect()
}

fn history_error(sym: &str, e: &mtf_model::predict::PredictError) -> ApiError {
    use mtf_model::predict::PredictError as P;
    let code = match e {
        P::History { .. } => "insufficient_history",
        _ => "prediction_failed",
    };
    ApiError::new(422, code, format!("{sym}: {e}"))
}
