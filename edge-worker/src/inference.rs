//! The model at the edge: the served artifact loaded once per isolate (bytes from KV, verified by sha256, then
//! loaded by `mtf-model` on burn's CPU backend), reloaded when the active version changes; and the bars a
//! prediction needs, fetched by the model's [`HistoryPlan`] through the cached Alpaca upstream (one
//! multi-symbol request per bar size).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use mtf_alpaca::request::{BarsPager, BarsRequest};
use mtf_alpaca::rest::{BarsResponse, MultiBarsResponse};
use mtf_market::{Bar, Timeframe};
use mtf_model::history::HistoryPlan;
use mtf_model::predict::Predictor;
use serde_json::{Value, json};
use worker::Env;

use crate::config::Config;
use crate::db::{self, MODEL_COLS, ModelRow};
use crate::logic::{ApiError, CacheKind};
use crate::upstream::{alpaca_get, cached_body};
use crate::wire::InputRange;

/// Loaded models kept per isolate (the served one and the one before it, for a rollback or a failed load).
const KEEP_LOADED: usize = 2;

/// Most Alpaca pages one bar size of one request may take (a batch of 100 symbols of 1-minute bars over a
/// week of extended hours is about 30).
const MAX_PAGES: usize = 200;

/// A loaded model.
pub struct Loaded {
    /// `name@version`.
    pub version: String,
    /// sha256 of the artifact file.
    pub sha256: String,
    /// The model.
    pub predictor: Predictor,
    /// The bars it needs.
    pub plan: HistoryPlan,
}

thread_local! {
    static LOADED: RefCell<Vec<Rc<Loaded>>> = const { RefCell::new(Vec::new()) };
}

/// The model serving a request, and a warning when it is not the one asked for.
pub struct Served {
    pub model: Rc<Loaded>,
    pub warning: Option<String>,
}

/// Loads artifact bytes: the sha256 must be `sha256` (what was registered) and `mtf-model` must load them
/// (envelope, header, shapes, weights) as the version `version`.
///
/// # Errors
/// 422 `artifact_invalid` naming what is wrong.
pub fn load(bytes: &[u8], sha256: &str, version: &str) -> Result<Loaded, ApiError> {
    let bad = |m: String| ApiError::new(422, "artifact_invalid", format!("model `{version}`: {m}"));
    let have = mtf_envelope::sha256_hex(bytes);
    if have != sha256 {
        return Err(bad(format!("stored bytes have sha256 {have}, registered {sha256}")));
    }
    let predictor = Predictor::from_bytes(bytes, burn::tensor::Device::flex()).map_err(|e| bad(e.to_string()))?;
    let id = format!("{}@{}", predictor.header.name, predictor.header.version);
    if id != version {
        return Err(bad(format!("the artifact is `{id}`")));
    }
    let plan = HistoryPlan::for_model(&predictor.header.data);
    Ok(Loaded { version: version.to_string(), sha256: sha256.to_string(), predictor, plan })
}

/// The registry row of `version`, or of the active model.
///
/// # Errors
/// 404 for an unknown version; 503 `no_active_model` when none is active.
pub async fn model_row(env: &Env, version: Option<&str>) -> Result<ModelRow, ApiError> {
    let d1 = db::d1(env)?;
    let rows: Vec<ModelRow> = match version {
        Some(v) => {
            db::rows(&d1, &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE version = ?1"), &[json!(v)])
                .await?
        }
        None => {
            db::rows(&d1, &format!("SELECT {MODEL_COLS} FROM ml_model_versions WHERE is_active = 1 LIMIT 1"), &[])
                .await?
        }
    };
    rows.into_iter().next().ok_or_else(|| match version {
        Some(v) => ApiError::not_found(format!("no model version `{v}`")),
        None => ApiError::new(
            503,
            "no_active_model",
            "no model is active: register one with POST /api/v1/models (admin) or activate a version",
        ),
    })
}

/// Reads and loads the artifact of `row` from KV.
///
/// # Errors
/// 422 `artifact_invalid` (bytes missing, altered or not loadable).
pub async fn load_row(env: &Env, row: &ModelRow) -> Result<Loaded, ApiError> {
    let bytes = env.kv("MODELS")?.get(&row.model_path).bytes().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let bytes = bytes.ok_or_else(|| {
        ApiError::new(
            422,
            "artifact_invalid",
            format!("model `{}`: artifact bytes are missing from storage", row.version),
        )
    })?;
    load(&bytes, &row.sha256, &row.version)
}

/// The model to serve: the requested version, else the active one — loaded once per isolate and reloaded when
/// the active version (its sha256) changes, so activation and rollback take effect on the next request. When
/// the active model cannot be loaded, the model this isolate served before keeps serving (with a warning).
///
/// # Errors
/// As [`model_row`]; 503 `model_unavailable` when the model cannot be loaded and none was loaded before.
pub async fn model(env: &Env, cfg: &Config, version: Option<&str>) -> Result<Served, ApiError> {
    let row = model_row(env, version).await?;
    let hit = LOADED.with(|l| l.borrow().iter().find(|m| m.sha256 == row.sha256 && m.version == row.version).cloned());
    if let Some(model) = hit {
        LOADED.with(|l| {
            let mut l = l.borrow_mut();
            l.retain(|m| !Rc::ptr_eq(m, &model));
            l.insert(0, model.clone());
        });
        return Ok(Served { model, warning: None });
    }
    match load_row(env, &row).await {
        Ok(loaded) => {
            let model = Rc::new(loaded);
            LOADED.with(|l| {
                let mut l = l.borrow_mut();
                l.insert(0, model.clone());
                l.truncate(KEEP_LOADED);
            });
            Ok(Served { model, warning: None })
        }
        Err(e) => {
            crate::http::log_error("model load failed", &e, cfg);
            let previous = LOADED.with(|l| l.borrow().first().cloned());
            match previous {
                Some(model) if version.is_none() => Ok(Served {
                    warning: Some(format!(
                        "the active model `{}` cannot be loaded ({}); `{}` served instead",
                        row.version, e.message, model.version
                    )),
                    model,
                }),
                _ => Err(ApiError::new(503, "model_unavailable", e.message)),
            }
        }
    }
}

/// Bars of each symbol, keyed by the fetched bar size, and what was used of each size.
pub struct SymbolBars {
    pub given: BTreeMap<Timeframe, Vec<Bar>>,
    pub inputs: Vec<InputRange>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Fetches what `plan` needs for `symbols` at `at`: per bar size one multi-symbol request (paged), through
/// the KV cache. The range's start is rounded down to the day and its end to the minute so that requests of
/// one minute share cache entries; [`HistoryPlan::trim`] then keeps the complete session bars before `at`.
///
/// # Errors
/// The upstream's error (after its retries) when a page cannot be fetched.
pub async fn fetch_bars(
    env: &Env,
    cfg: &Config,
    plan: &HistoryPlan,
    symbols: &[String],
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, SymbolBars>, ApiError> {
    let mut out: BTreeMap<String, SymbolBars> =
        symbols.iter().map(|s| (s.clone(), SymbolBars { given: BTreeMap::new(), inputs: Vec::new() })).collect();
    if symbols.is_empty() {
        return Ok(out);
    }
    let end = at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at);
    for fetch in &plan.fetches {
        let start = plan.start(fetch, at).duration_trunc(TimeDelta::days(1)).unwrap_or(at);
        let request = BarsRequest::new(symbols.iter().cloned(), fetch.timeframe)
            .range(Some(start), Some(end))
            .limit(10_000)
            .feed(cfg.feed);
        let mut pager = BarsPager::new(request, MAX_PAGES);
        let mut next = Some(pager.first().clone());
        let kind = if fetch.timeframe.is_intraday() { CacheKind::IntradayBars } else { CacheKind::DailyBars };
        while let Some(r) = next {
            let path = r.path_and_query().map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
            let (body, _) = cached_body(env, &format!("alpaca:v1:{path}"), kind, || alpaca_get(cfg, &path)).await?;
            let parse = |e: serde_json::Error| ApiError::upstream(format!("unexpected Alpaca response: {e}"));
            next = if symbols.len() == 1 {
                pager.push_single(serde_json::from_str::<BarsResponse>(&body).map_err(parse)?)
            } else {
                pager.push_multi(serde_json::from_str::<MultiBarsResponse>(&body).map_err(parse)?)
            };
        }
        if pager.truncated() {
            return Err(ApiError::upstream(format!(
                "more than {MAX_PAGES} pages of {} bars: ask for fewer symbols",
                fetch.timeframe.short()
            )));
        }
        let mut got = pager.finish();
        for (sym, entry) in out.iter_mut() {
            let mut bars = got.remove(sym).unwrap_or_default();
            plan.trim(fetch, &mut bars, at);
            entry.inputs.push(InputRange {
                timeframe: fetch.timeframe.short().to_string(),
                bars: bars.len(),
                first: bars.first().map(|b| rfc3339(b.start())).unwrap_or_default(),
                last: bars.last().map(|b| rfc3339(b.start())).unwrap_or_default(),
            });
            entry.given.insert(fetch.timeframe, bars);
        }
    }
    Ok(out)
}

/// The JSON of a prediction (the `mtf predict` contract).
pub fn to_value<T: serde::Serialize>(p: &T) -> Result<Value, ApiError> {
    serde_json::to_value(p).map_err(|e| ApiError::internal(e.to_string()))
}
