//! WebAssembly bindings for mtf. This crate only converts between JavaScript values and the Rust crates; all
//! logic lives in `mtf-market`, `mtf-features` and `mtf-model`, so the browser computes exactly what training
//! and the CLI compute.
//!
//! JavaScript API (camelCase):
//! - `await Predictor.fromBytes(bytes, { backend: "cpu" })` → a loaded, verified model. `predictor.backend`
//!   names what runs.
//! - `await predictor.predict({ symbol, bars: { "1m": [{t,o,h,l,c,v,n?,vw?}], "1d": [...] }, at? })` → the same
//!   prediction JSON as `mtf predict`. Timeframes the model needs but the caller did not give are resampled
//!   from the finest given. `at` (RFC 3339) defaults to the end of the latest given bar; bars after `at` are
//!   ignored.
//! - `await predictor.predictBatch([request, ...])` → one batched forward pass.
//! - `predictor.liveSession(symbol, seed)` → `await session.push(frame)`: feeds Alpaca stream messages and resolves
//!   to a new prediction when a base-timeframe bar closes (`session.latencyMs` is frame-to-prediction time).
//! - `indicators(bars, names)` and `features(bars, timeframe)` for charts.
//! - `new LiveBars(symbol, timeframes, session?, history?)`: live bars of any timeframes from the stream
//!   (trades, minute bars and corrections, `mtf_market::live`), seeded from REST history.
//!
//! Every failure rejects (or throws) a JS `Error` whose message names what was wrong ([`WasmError`]); the module
//! keeps working afterwards (a panic hook is installed, and input errors never reach a panic).
//!
//! The TypeScript declarations of the arguments and results (`Prediction`, `ModelInfo`, `Bar`, …) are generated
//! from the Rust types (`mtf_model::contract::declarations` plus [`WASM_DECLARATIONS`]) into `src/api.d.ts` and
//! embedded in the module's `.d.ts`; a native test fails when that file is out of date.

mod convert;
mod error;
mod gpu;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtf_features::frames::MultiTimeframe;
use mtf_market::{Bar, Timeframe};
use mtf_model::info::ModelInfo;
use mtf_model::predict::Prediction;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

pub use convert::{bars_from_js, parse_timeframe};
pub use error::WasmError;

/// Declarations of the types this crate defines at the boundary (the request, the load options, the stream
/// message and the live-bars update), appended to the generated model contract in `src/api.d.ts`.
pub const WASM_DECLARATIONS: &str = r#"/** One prediction request (`mtf_wasm::Request`). */
export type PredictRequest = {
/** Symbol, echoed in the prediction. */
symbol: string,
/** Alpaca bars per timeframe; timeframes the model needs but absent here are resampled from the finest given. */
bars: Partial<Record<Timeframe, Bar[]>>,
/** Prediction instant (RFC 3339); defaults to the end of the latest bar given. Later bars are ignored. */
at?: string, };

/** Options of `Predictor.fromBytes`: `auto` (default), `webgpu` or `cpu`. */
export type LoadOptions = { backend?: "auto" | "webgpu" | "cpu" };

/** A message of the Alpaca stream as the edge relays it (`T` = "t" trade, "b" bar, "u" updated bar, …). */
export type StreamMessage = { T: string, S?: string, [k: string]: unknown };

/** The 20 model features of every bar (`null` while warming up). */
export type FeatureTable = { names: string[], rows: (number | null)[][] };

/** What a frame changed in `LiveBars`: the timeframes with a newly closed bar, and those with a corrected one. */
export type LiveBarsUpdate = { closed: Timeframe[], corrected: Timeframe[] };
"#;

/// The module's TypeScript declarations (generated: see the crate docs).
#[wasm_bindgen(typescript_custom_section)]
const API_DECLARATIONS: &str = include_str!("api.d.ts");

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Options of `Predictor.fromBytes`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoadOptions {
    /// `auto`, `webgpu` or `cpu`.
    backend: Option<String>,
}

/// One prediction request. Bars stay raw JSON until `mtf_market::io` parses them (one pass, no `Value`).
#[derive(Debug, Deserialize)]
struct Request {
    symbol: String,
    bars: BTreeMap<String, Box<serde_json::value::RawValue>>,
    #[serde(default)]
    at: Option<String>,
}

/// A JS value as JSON text (`JSON.stringify`, native speed), so requests cross into wasm as one string.
fn js_json(value: &JsValue, what: &'static str) -> Result<String, WasmError> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or(WasmError::Shape { what, message: "not JSON-serialisable".into() })
}

/// A loaded model.
#[wasm_bindgen]
pub struct Predictor {
    inner: std::rc::Rc<mtf_model::predict::Predictor>,
    backend: String,
    /// [`ModelInfo`] as a JS object, built once at load.
    info: JsValue,
}

/// A JS value deserialised into `T` (`what` names the argument in the error).
fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &'static str) -> Result<T, WasmError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| WasmError::shape(what, e))
}

/// One prediction from a request given as JSON, synchronously: the native twin of `Predictor.predict`, for
/// parity tests (same conversion path, same model code).
///
/// # Errors
/// [`WasmError`], as the JS API would reject with.
pub fn predict_json(
    p: &mtf_model::predict::Predictor,
    request: &serde_json::Value,
) -> Result<serde_json::Value, WasmError> {
    let r: Request = serde_json::from_str(&request.to_string()).map_err(|e| WasmError::shape("request", e))?;
    let (mtf, at) = prepare_request(p, &r)?;
    let out = p.predict(&[(&r.symbol, &mtf, at)])?;
    serde_json::to_value(&out[0]).map_err(|e| WasmError::ToJs(e.to_string()))
}

/// Where two JSON documents differ (the path and both values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonMismatch(pub String);

/// Compares two JSON documents: same structure and strings, numbers within `rel` relative (1e-12 absolute floor).
///
/// # Errors
/// [`JsonMismatch`]: the path of the first difference.
pub fn compare_json(a: &serde_json::Value, b: &serde_json::Value, rel: f64, path: &str) -> Result<(), JsonMismatch> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() <= rel * x.abs().max(y.abs()) || (x - y).abs() <= 1e-12 {
                Ok(())
            } else {
                Err(JsonMismatch(format!("{path}: {x} vs {y}")))
            }
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().try_for_each(|(i, (u, v))| compare_json(u, v, rel, &format!("{path}[{i}]")))
        }
        (V::Object(x), V::Object(y)) if x.len() == y.len() => x.iter().try_for_each(|(k, u)| {
            y.get(k)
                .ok_or_else(|| JsonMismatch(format!("{path}.{k} missing")))
                .and_then(|v| compare_json(u, v, rel, &format!("{path}.{k}")))
        }),
        _ if a == b => Ok(()),
        _ => Err(JsonMismatch(format!("{path}: {a} vs {b}"))),
    }
}

/// Bars per timeframe and the prediction instant of one request; only bars complete at `at` are kept.
fn prepare_request(
    p: &mtf_model::predict::Predictor,
    r: &Request,
) -> Result<(MultiTimeframe, DateTime<Utc>), WasmError> {
    let session = p.header.data.session;
    let mut given: BTreeMap<Timeframe, Vec<Bar>> = BTreeMap::new();
    for (key, value) in &r.bars {
        let tf = parse_timeframe(key)?;
        let label = format!("bars[\"{key}\"]");
        given.insert(tf, mtf_market::io::parse_alpaca_bars_json(value.get(), &label)?);
    }
    let at = match &r.at {
        Some(s) => DateTime::parse_from_rfc3339(s).map_err(WasmError::At)?.with_timezone(&Utc),
        None => given
            .iter()
            .filter_map(|(tf, bars)| bars.last().map(|b| tf.bar_end(b.start(), session)))
            .max()
            .ok_or(WasmError::NoBars)?,
    };
    if given.is_empty() {
        return Err(WasmError::NoBars);
    }
    let mtf = p.features_as_of(given, at)?;
    Ok((mtf, at))
}

#[wasm_bindgen]
impl Predictor {
    /// Loads and verifies a model artifact (`.mtf` bytes). Rejects with the reason on a bad artifact.
    #[wasm_bindgen(js_name = fromBytes)]
    pub async fn from_bytes(
        bytes: Vec<u8>,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions | undefined")] options: JsValue,
    ) -> Result<Predictor, JsError> {
        let opts: LoadOptions = if options.is_undefined() || options.is_null() {
            LoadOptions::default()
        } else {
            from_js(options, "options")?
        };
        let requested = opts.backend.unwrap_or_else(|| "auto".into());
        let (device, backend) = match requested.as_str() {
            "cpu" => (burn::tensor::Device::flex(), "cpu".to_string()),
            "auto" => match gpu::device().await {
                Ok(d) => (d, "webgpu".to_string()),
                Err(why) => (burn::tensor::Device::flex(), format!("cpu (WebGPU unavailable: {why})")),
            },
            "webgpu" => match gpu::device().await {
                Ok(d) => (d, "webgpu".to_string()),
                Err(why) => return Err(WasmError::WebGpu(why).into()),
            },
            other => return Err(WasmError::Backend(other.to_string()).into()),
        };
        let inner = mtf_model::predict::Predictor::from_bytes(&bytes, device).map_err(WasmError::from)?;
        let info = to_js(&ModelInfo::from(&inner.header))?;
        Ok(Predictor { inner: std::rc::Rc::new(inner), backend, info })
    }

    /// Which backend runs (`cpu`, `webgpu`), with the reason after a fallback.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// What a client reads about the model ([`ModelInfo`]: name, version, timeframes, horizon in minutes,
    /// warm-up, interval level, metrics), built once when the model was loaded.
    #[wasm_bindgen(getter, unchecked_return_type = "ModelInfo")]
    pub fn info(&self) -> JsValue {
        self.info.clone()
    }

    /// One prediction.
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub async fn predict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PredictRequest")] request: JsValue,
    ) -> Result<JsValue, JsError> {
        let r: Request =
            serde_json::from_str(&js_json(&request, "request")?).map_err(|e| WasmError::shape("request", e))?;
        let (mtf, at) = prepare_request(&self.inner, &r)?;
        let p = self.inner.predict_async(&[(&r.symbol, &mtf, at)]).await.map_err(WasmError::from)?;
        Ok(to_js(&p[0])?)
    }

    /// A live session for one symbol, seeded with history `{ "1m": [...], "1d": [...] }` (Alpaca bars).
    #[wasm_bindgen(js_name = liveSession)]
    pub fn live_session(
        &self,
        symbol: String,
        #[wasm_bindgen(unchecked_param_type = "Partial<Record<Timeframe, Bar[]>>")] seed: JsValue,
    ) -> Result<LiveSession, JsError> {
        let seed: BTreeMap<String, serde_json::Value> = from_js(seed, "seed")?;
        let bars = |k: &str| seed.get(k).map(|v| bars_from_js(v, &format!("seed[\"{k}\"]"))).transpose();
        let minutes = bars("1m")?.unwrap_or_default();
        let daily = bars("1d")?;
        let d = &self.inner.header.data;
        let live = mtf_market::live::LiveBars::new(&[d.base], d.session, 10_000);
        Ok(LiveSession {
            predictor: self.inner.clone(),
            symbol,
            seed: minutes,
            daily,
            live,
            latency_ms: f64::NAN,
            recalibration: mtf_model::recalibration::LiveRecalibration::default(),
        })
    }

    /// Several predictions in one batched forward pass.
    #[wasm_bindgen(js_name = predictBatch, unchecked_return_type = "Prediction[]")]
    pub async fn predict_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PredictRequest[]")] requests: JsValue,
    ) -> Result<JsValue, JsError> {
        let rs: Vec<Request> =
            serde_json::from_str(&js_json(&requests, "requests")?).map_err(|e| WasmError::shape("requests", e))?;
        let prepared = rs.iter().map(|r| prepare_request(&self.inner, r)).collect::<Result<Vec<_>, _>>()?;
        let items: Vec<(&str, &MultiTimeframe, DateTime<Utc>)> =
            rs.iter().zip(&prepared).map(|(r, (m, at))| (r.symbol.as_str(), m, *at)).collect();
        let ps: Vec<Prediction> = self.inner.predict_async(&items).await.map_err(WasmError::from)?;
        Ok(to_js(&ps)?)
    }
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, WasmError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| WasmError::ToJs(e.to_string()))
}

/// Standard indicators of an array of Alpaca bars: `{ name: number[] }` (NaN as `null` during warm-up).
/// `names` selects columns (`sma_50`, `rsi_14`, …); an empty or missing list returns all.
#[wasm_bindgen(unchecked_return_type = "Record<string, (number | null)[]>")]
pub fn indicators(
    #[wasm_bindgen(unchecked_param_type = "Bar[]")] bars: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[] | undefined")] names: JsValue,
) -> Result<JsValue, JsError> {
    let value: serde_json::Value = from_js(bars, "bars")?;
    let names: Vec<String> =
        if names.is_undefined() || names.is_null() { Vec::new() } else { from_js(names, "names")? };
    Ok(to_js(&convert::indicators(&value, &names)?)?)
}

/// The 20 model features of every bar of one timeframe's Alpaca bars: `{ names: string[], rows: (number|null)[][] }`.
#[wasm_bindgen(unchecked_return_type = "FeatureTable")]
pub fn features(
    #[wasm_bindgen(unchecked_param_type = "Bar[]")] bars: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Timeframe")] timeframe: String,
) -> Result<JsValue, JsError> {
    let value: serde_json::Value = from_js(bars, "bars")?;
    Ok(to_js(&convert::features(&value, &timeframe)?)?)
}

/// The bars of one timeframe that are complete at `at` (an RFC 3339 instant): the same rule the model uses (a bar
/// counts from its end; days end at the session close, early closes included). Bars are returned unchanged.
#[wasm_bindgen(js_name = completeBars, unchecked_return_type = "Bar[]")]
pub fn complete_bars(
    #[wasm_bindgen(unchecked_param_type = "Bar[]")] bars: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Timeframe")] timeframe: String,
    at: String,
    #[wasm_bindgen(unchecked_param_type = "\"regular\" | \"extended\" | undefined")] session: Option<String>,
) -> Result<JsValue, JsError> {
    let value: serde_json::Value = from_js(bars, "bars")?;
    Ok(to_js(&convert::complete_bars(&value, &timeframe, &at, session_filter(session.as_deref())?)?)?)
}

fn session_filter(session: Option<&str>) -> Result<mtf_market::session::SessionFilter, WasmError> {
    match session {
        None | Some("regular") => Ok(mtf_market::session::SessionFilter::Regular),
        Some("extended") => Ok(mtf_market::session::SessionFilter::Extended),
        Some(other) => Err(WasmError::shape("session", format!("`{other}`: use `regular` or `extended`"))),
    }
}

/// Streaming: feed it the edge stream's messages; it keeps the bars current and re-predicts when a bar of the
/// model's base timeframe closes. Trades (`t`), minute bars (`b`) and corrected bars (`u`) are used (see
/// `mtf_market::live` for the ordering and correction policies); daily bars come from the seed.
#[wasm_bindgen]
pub struct LiveSession {
    predictor: std::rc::Rc<mtf_model::predict::Predictor>,
    symbol: String,
    seed: Vec<Bar>,
    daily: Option<Vec<Bar>>,
    live: mtf_market::live::LiveBars,
    latency_ms: f64,
    /// Adaptive conformal inference on this session's bands (`Prediction.recalibration` says what it did).
    recalibration: mtf_model::recalibration::LiveRecalibration,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[wasm_bindgen]
impl LiveSession {
    /// Applies a frame of stream messages (an array, as the Alpaca stream sends them). Resolves to the new
    /// prediction when a base-timeframe bar closed, otherwise `null`. The prediction's band is recalibrated live
    /// from the outcomes of this session's earlier predictions (adaptive conformal inference; `recalibration`).
    #[wasm_bindgen(unchecked_return_type = "Prediction | null")]
    pub async fn push(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "StreamMessage[]")] messages: JsValue,
    ) -> Result<JsValue, JsError> {
        use mtf_alpaca::stream::ServerMessage;
        let started = now_ms();
        let frame = stream_frame(messages)?;
        let base = self.predictor.header.data.base;
        let mut closed_at = None;
        for m in frame {
            let events = match m {
                ServerMessage::Trade(t) if t.symbol == self.symbol => self.live.on_trade(mtf_market::live::Trade {
                    time: t.trade.t,
                    price: t.trade.p,
                    size: t.trade.s as f64,
                }),
                ServerMessage::Bar(b) | ServerMessage::UpdatedBar(b) if b.symbol == self.symbol => {
                    self.live.on_minute_bar(&b.bar)
                }
                _ => continue,
            }
            .map_err(WasmError::from)?;
            for e in events {
                if let mtf_market::live::LiveEvent::Closed { timeframe, bar } = e
                    && timeframe == base
                {
                    closed_at = Some(base.bar_end(bar.start(), self.predictor.header.data.session));
                }
            }
        }
        let Some(at) = closed_at else { return Ok(JsValue::NULL) };
        let live = self.live.completed(Timeframe::M1);
        let first_live = live.first().map_or(i64::MAX, Bar::start_ms);
        let mut minutes: Vec<Bar> = self.seed.iter().filter(|b| b.start_ms() < first_live).copied().collect();
        minutes.extend_from_slice(live);
        let mtf = self.predictor.features(&minutes, self.daily.as_deref()).map_err(WasmError::from)?;
        let mut p = self.predictor.predict_async(&[(&self.symbol, &mtf, at)]).await.map_err(WasmError::from)?;
        // Live recalibration: the outcomes of earlier bands whose horizon has passed by `at` (the close of the
        // last minute of the base bar ending at each target), then this band scaled by the state.
        let base_ms = base.minutes() * 60_000;
        self.recalibration.resolve(at.timestamp_millis(), |t| {
            minutes.iter().rev().find(|b| b.start_ms() < t && b.start_ms() >= t - base_ms).map(Bar::close)
        });
        let Some(mut first) = p.pop() else { return Ok(JsValue::NULL) };
        self.recalibration.apply(&mut first);
        self.latency_ms = now_ms() - started;
        Ok(to_js(&first)?)
    }

    /// Milliseconds from receiving the frame that closed the last base bar to its prediction (NaN before any).
    #[wasm_bindgen(getter, js_name = latencyMs)]
    pub fn latency_ms(&self) -> f64 {
        self.latency_ms
    }
}

/// A stream frame (an array of Alpaca stream messages) from JS.
fn stream_frame(messages: JsValue) -> Result<Vec<mtf_alpaca::stream::ServerMessage>, WasmError> {
    let value: serde_json::Value = from_js(messages, "stream frame")?;
    serde_json::from_value(value).map_err(|e| WasmError::shape("stream frame", e))
}

/// Live bars of one symbol in any timeframes, kept current from the edge's stream: trades (`t`), minute bars
/// (`b`) and updated bars (`u`, Alpaca's corrections) are folded by `mtf_market::live::LiveBars`, on the same New
/// York buckets as training. Seed it from REST history first: `seed(tf, bars)` for complete bars of a
/// timeframe, then `seedMinutes(minutes)` for the recent minutes so the bucket in progress is built from them.
#[wasm_bindgen(js_name = LiveBars)]
pub struct JsLiveBars {
    symbol: String,
    inner: mtf_market::live::LiveBars,
}

#[wasm_bindgen(js_class = LiveBars)]
impl JsLiveBars {
    /// A builder for `symbol` and `timeframes` (1m is always built), keeping `history` complete bars per
    /// timeframe (default 2,000). `session`: `regular` (default) or `extended`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        symbol: String,
        #[wasm_bindgen(unchecked_param_type = "Timeframe[]")] timeframes: JsValue,
        #[wasm_bindgen(unchecked_param_type = "\"regular\" | \"extended\" | undefined")] session: Option<String>,
        history: Option<usize>,
    ) -> Result<JsLiveBars, JsError> {
        let names: Vec<String> = from_js(timeframes, "timeframes")?;
        let tfs = names.iter().map(|n| parse_timeframe(n)).collect::<Result<Vec<_>, _>>()?;
        let filter = session_filter(session.as_deref())?;
        Ok(JsLiveBars { symbol, inner: mtf_market::live::LiveBars::new(&tfs, filter, history.unwrap_or(2000)) })
    }

    /// Replaces the complete history of one timeframe with REST bars (oldest first).
    pub fn seed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Timeframe")] timeframe: String,
        #[wasm_bindgen(unchecked_param_type = "Bar[]")] bars: JsValue,
    ) -> Result<(), JsError> {
        let tf = self.built(&timeframe)?;
        let value: serde_json::Value = from_js(bars, "bars")?;
        self.inner.seed(tf, &bars_from_js(&value, "bars")?);
        Ok(())
    }

    /// Replays recent REST minutes (oldest first) as stream minute bars (see `LiveBars::seed_minutes`).
    #[wasm_bindgen(js_name = seedMinutes)]
    pub fn seed_minutes(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Bar[]")] minutes: JsValue,
    ) -> Result<(), JsError> {
        let value: serde_json::Value = from_js(minutes, "minutes")?;
        self.inner.seed_minutes(&bars_from_js(&value, "minutes")?).map_err(WasmError::from)?;
        Ok(())
    }

    /// Applies one stream frame; messages of other symbols are ignored. A message that cannot be applied (too
    /// late for the retained history) rejects the frame with the reason, after the messages before it.
    #[wasm_bindgen(unchecked_return_type = "LiveBarsUpdate")]
    pub fn push(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "StreamMessage[]")] messages: JsValue,
    ) -> Result<JsValue, JsError> {
        use mtf_alpaca::stream::ServerMessage;
        use mtf_market::live::LiveEvent;
        let mut closed: Vec<&'static str> = Vec::new();
        let mut corrected: Vec<&'static str> = Vec::new();
        for m in stream_frame(messages)? {
            let events = match m {
                ServerMessage::Trade(t) if t.symbol == self.symbol => self.inner.on_trade(mtf_market::live::Trade {
                    time: t.trade.t,
                    price: t.trade.p,
                    size: t.trade.s as f64,
                }),
                ServerMessage::Bar(b) | ServerMessage::UpdatedBar(b) if b.symbol == self.symbol => {
                    self.inner.on_minute_bar(&b.bar)
                }
                _ => continue,
            }
            .map_err(WasmError::from)?;
            for e in events {
                let (list, tf) = match e {
                    LiveEvent::Closed { timeframe, .. } => (&mut closed, timeframe),
                    LiveEvent::Corrected { timeframe, .. } => (&mut corrected, timeframe),
                };
                if !list.contains(&tf.short()) {
                    list.push(tf.short());
                }
            }
        }
        Ok(to_js(&serde_json::json!({ "closed": closed, "corrected": corrected }))?)
    }

    /// The complete bars of a timeframe, oldest first, followed by the bar in progress when `current` is true
    /// (never use that one as a closed bar).
    #[wasm_bindgen(unchecked_return_type = "Bar[]")]
    pub fn bars(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Timeframe")] timeframe: String,
        current: Option<bool>,
    ) -> Result<JsValue, JsError> {
        let tf = self.built(&timeframe)?;
        let mut out: Vec<Bar> = self.inner.completed(tf).to_vec();
        if current.unwrap_or(true)
            && let Some(b) = self.inner.current(tf)
        {
            out.push(b);
        }
        Ok(to_js(&out)?)
    }
}

impl JsLiveBars {
    fn built(&self, timeframe: &str) -> Result<Timeframe, WasmError> {
        let tf = parse_timeframe(timeframe)?;
        if self.inner.timeframes().contains(&tf) { Ok(tf) } else { Err(WasmError::NotBuilt(tf.short())) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    /// The module's TypeScript declarations: the model contract plus this crate's boundary types.
    fn api_declarations() -> String {
        format!(
            "// Generated by crates/wasm/src/lib.rs (tests::api_declarations_are_current) — do not edit.\n\
             // The wasm module's .d.ts embeds this file; regenerate: MTF_UPDATE_GENERATED=1 cargo test -p mtf-wasm --lib\n\n\
             {}{}",
            mtf_model::contract::declarations(),
            super::WASM_DECLARATIONS
        )
    }

    #[test]
    fn api_declarations_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api.d.ts");
        let want = api_declarations();
        if std::env::var("MTF_UPDATE_GENERATED").as_deref() == Ok("1") {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date: run `MTF_UPDATE_GENERATED=1 cargo test -p mtf-wasm --lib` and commit it",
            path.display()
        );
    }
}
