//! The model at the edge: the served artifact loaded once per isolate (bytes from KV, verified by sha256, then
//! loaded by `mtf-model` on burn's CPU backend), reloaded when the active version changes; and the bars a
//! prediction needs, fetched by the model's [`HistoryPlan`] through the cached Alpaca upstream (one
//! multi-symbol request per bar size).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures_util::future::join_all;
use mtf_alpaca::request::{BarsPager, BarsRequest};
use mtf_alpaca::rest::{BarsResponse, MultiBarsResponse};
use mtf_market::{Bar, Timeframe};
use mtf_model::history::{Fetch, HistoryPlan};
use mtf_model::predict::Predictor;
use serde_json::Value;
use worker::Env;

use crate::config::Config;
use crate::db::{self, ModelRow};
use crate::http::iso;
use crate::logic::{ApiError, CacheKind};
use crate::upstream::{Cached, alpaca_get, cached_body};
use crate::wire::InputRange;

/// Loaded models kept per isolate: the served ones (one per horizon) and those before them, for a rollback or a
/// failed load.
const KEEP_LOADED: usize = 4;

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

/// What a loaded model predicts: minutes ahead (base-bar minutes × label horizon).
pub fn horizon_minutes(m: &Loaded) -> i64 {
    m.predictor.header.data.horizon_minutes()
}

/// 503 `no_active_model`: nothing to serve.
pub fn no_active_model() -> ApiError {
    ApiError::new(
        503,
        "no_active_model",
        "no model is active: register one with POST /api/v1/models (admin) or activate a version",
    )
}

/// The registry row of `version`, else of the active model of `horizon` minutes, else of the newest
/// activation.
///
/// # Errors
/// 404 for an unknown version; 404 `no_model_for_horizon` naming the served horizons; 503 `no_active_model`
/// when none is active.
pub async fn model_row(env: &Env, version: Option<&str>, horizon: Option<i64>) -> Result<ModelRow, ApiError> {
    let d1 = db::d1(env)?;
    if let Some(v) = version {
        return db::model(&d1, v).await;
    }
    match db::active_model(&d1, horizon).await? {
        Ok(row) => Ok(row),
        Err(served) if served.is_empty() => Err(no_active_model()),
        Err(served) => Err(crate::serving::no_model_for_horizon(horizon.unwrap_or_default(), &served)),
    }
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

/// The model to serve: the requested version, else the active one of `horizon` (else the newest activation) —
/// loaded once per isolate and reloaded when the active version (its sha256) changes, so activation and
/// rollback take effect on the next request. When the active model cannot be loaded, a model of the same
/// horizon this isolate served before keeps serving (with a warning).
///
/// # Errors
/// As [`model_row`]; 503 `model_unavailable` when the model cannot be loaded and none was loaded before.
pub async fn model(env: &Env, cfg: &Config, version: Option<&str>, horizon: Option<i64>) -> Result<Served, ApiError> {
    let row = model_row(env, version, horizon).await?;
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
            // Only a model of the same horizon stands in for it.
            let wanted = row.horizon_minutes.map(|h| h as i64);
            let previous =
                LOADED.with(|l| l.borrow().iter().find(|m| wanted.is_none_or(|h| horizon_minutes(m) == h)).cloned());
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

/// Fetches what `plan` needs for `symbols` at `at`: per bar size one multi-symbol request (paged), through
/// the KV cache, from [`HistoryPlan::start`] (a session open), and for the symbols left short once more from
/// [`HistoryPlan::start_wide`] (rounded down to the day). The end is rounded down to the minute, so requests of
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
    // The bar sizes concurrently (each pages on its own). First from the tight start; the symbols left short
    // (a holiday, an illiquid symbol, a short history) once more from the wide one.
    let fetched = join_all(plan.fetches.iter().map(|fetch| async move {
        let start = plan.start(fetch, at);
        let mut got = fetch_size(env, cfg, fetch, symbols, start, end).await?;
        for bars in got.values_mut() {
            plan.trim(fetch, bars, at);
        }
        // Short, and its history reaches back to the start (or it has none here): worth the wider request. A
        // symbol whose bars begin well after the start has no more to give.
        let short: Vec<String> = symbols
            .iter()
            .filter(|s| match got.get(*s) {
                Some(b) if b.len() >= fetch.bars => false,
                Some(b) => b.first().is_none_or(|f| f.start() <= start + TimeDelta::days(4)),
                None => true,
            })
            .cloned()
            .collect();
        let wide = plan.start_wide(fetch, at).duration_trunc(TimeDelta::days(1)).unwrap_or(start);
        if !short.is_empty() && wide < start {
            for (sym, mut bars) in fetch_size(env, cfg, fetch, &short, wide, end).await? {
                plan.trim(fetch, &mut bars, at);
                got.insert(sym, bars);
            }
        }
        Ok::<_, ApiError>(got)
    }))
    .await;
    for (fetch, got) in plan.fetches.iter().zip(fetched) {
        let mut got = got?;
        for (sym, entry) in out.iter_mut() {
            let bars = got.remove(sym).unwrap_or_default();
            entry.inputs.push(InputRange {
                timeframe: fetch.timeframe.short().to_string(),
                bars: bars.len(),
                first: bars.first().map(|b| iso(b.start_ms())).unwrap_or_default(),
                last: bars.last().map(|b| iso(b.start_ms())).unwrap_or_default(),
            });
            entry.given.insert(fetch.timeframe, bars);
        }
    }
    Ok(out)
}

/// The instant of a prediction without `at` ([`crate::serving::upstream_instant`]): the upstream's newest minute
/// for `symbols` (cached as briefly as a quote), or `now_ms` when it has none. An upstream failure is the error
/// (the caller falls back to `now_ms` and says so).
///
/// # Errors
/// The upstream's, or a response that is not Alpaca's latest-bars shape.
pub async fn upstream_now(env: &Env, cfg: &Config, symbols: &[String], now_ms: i64) -> Result<i64, ApiError> {
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let path = mtf_alpaca::request::latest_bars_path(&refs, Some(cfg.feed))
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let key = crate::logic::kv_key("alpaca:v1:", &path);
    let (body, _) = cached_body(env, &key, CacheKind::Quote, || alpaca_get(cfg, &path)).await?;
    let latest: mtf_alpaca::rest::LatestBarsResponse =
        serde_json::from_str(&body).map_err(|e| ApiError::upstream(format!("unexpected Alpaca response: {e}")))?;
    Ok(crate::serving::upstream_instant(&latest, now_ms).unwrap_or(now_ms))
}

/// One bar size of [`fetch_bars`]: every page of one multi-symbol request.
async fn fetch_size(
    env: &Env,
    cfg: &Config,
    fetch: &Fetch,
    symbols: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<Bar>>, ApiError> {
    let request = BarsRequest::new(symbols.iter().cloned(), fetch.timeframe)
        .range(Some(start), Some(end))
        .limit(10_000)
        .feed(cfg.feed);
    let mut pager = BarsPager::new(request, MAX_PAGES);
    let mut next = Some(pager.first().clone());
    let kind = if fetch.timeframe.is_intraday() { CacheKind::IntradayBars } else { CacheKind::DailyBars };
    while let Some(r) = next {
        let path = r.path_and_query().map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
        let key = crate::logic::kv_key("alpaca:v1:", &path);
        let page = match pages::get(&key, kind) {
            Some(page) => page,
            None => {
                let (body, how) = cached_body(env, &key, kind, || alpaca_get(cfg, &path)).await?;
                let parse = |e: serde_json::Error| ApiError::upstream(format!("unexpected Alpaca response: {e}"));
                let page = if symbols.len() == 1 {
                    let p = serde_json::from_str::<BarsResponse>(&body).map_err(parse)?;
                    MultiBarsResponse { bars: BTreeMap::from([(p.symbol, p.bars)]), next_page_token: p.next_page_token }
                } else {
                    serde_json::from_str::<MultiBarsResponse>(&body).map_err(parse)?
                };
                let page = Rc::new(page);
                if how != Cached::Stale {
                    pages::put(key, kind, page.clone());
                }
                page
            }
        };
        next = pager
            .push_multi(MultiBarsResponse { bars: page.bars.clone(), next_page_token: page.next_page_token.clone() });
    }
    if pager.truncated() {
        return Err(ApiError::upstream(format!(
            "more than {MAX_PAGES} pages of {} bars: ask for fewer symbols",
            fetch.timeframe.short()
        )));
    }
    Ok(pager.finish())
}

/// Alpaca pages parsed, kept per isolate (bounded by bars, oldest out first) for as long as the KV cache would
/// call them fresh: a repeated request (the cron, dashboards polling the same symbols) reads neither KV nor JSON.
mod pages {
    use std::cell::RefCell;
    use std::collections::{HashMap, VecDeque};
    use std::rc::Rc;

    use mtf_alpaca::rest::MultiBarsResponse;

    use crate::http::now_ms;
    use crate::logic::{self, CacheKind};

    /// Most bars held (about 60 bytes each: ~25 MB of the isolate's 128 MB).
    const MAX_BARS: usize = 400_000;

    #[derive(Default)]
    struct Pages {
        map: HashMap<String, (i64, CacheKind, Rc<MultiBarsResponse>)>,
        order: VecDeque<String>,
        bars: usize,
    }

    thread_local! {
        static PAGES: RefCell<Pages> = RefCell::new(Pages::default());
    }

    fn count(p: &MultiBarsResponse) -> usize {
        p.bars.values().map(Vec::len).sum()
    }

    /// The page under `key` while fresh.
    pub fn get(key: &str, kind: CacheKind) -> Option<Rc<MultiBarsResponse>> {
        PAGES.with(|p| {
            let p = p.borrow();
            let (at, k, page) = p.map.get(key)?;
            (*k == kind && logic::is_fresh(*at, now_ms(), kind)).then(|| page.clone())
        })
    }

    /// Keeps `page` under `key`, dropping the oldest pages beyond the bound.
    pub fn put(key: String, kind: CacheKind, page: Rc<MultiBarsResponse>) {
        let n = count(&page);
        if n > MAX_BARS {
            return;
        }
        PAGES.with(|p| {
            let mut p = p.borrow_mut();
            if let Some((_, _, old)) = p.map.remove(&key) {
                p.bars -= count(&old);
                p.order.retain(|k| k != &key);
            }
            while p.bars + n > MAX_BARS {
                let Some(oldest) = p.order.pop_front() else { break };
                if let Some((_, _, old)) = p.map.remove(&oldest) {
                    p.bars -= count(&old);
                }
            }
            p.bars += n;
            p.order.push_back(key.clone());
            p.map.insert(key, (now_ms(), kind, page));
        });
    }
}

/// The JSON of a prediction (the `mtf predict` contract).
pub fn to_value<T: serde::Serialize>(p: &T) -> Result<Value, ApiError> {
    serde_json::to_value(p).map_err(|e| ApiError::internal(e.to_string()))
}
