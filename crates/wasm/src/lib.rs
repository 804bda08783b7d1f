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
//!
//! Every failure rejects (or throws) a JS `Error` with a message; the module keeps working afterwards
//! (a panic hook is installed, and input errors never reach a panic).

mod convert;
mod gpu;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtf_features::frames::MultiTimeframe;
use mtf_market::{Bar, Timeframe};
use mtf_model::predict::Prediction;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

pub use convert::{bars_from_js, parse_timeframe};

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
fn js_json(value: &JsValue, what: &str) -> Result<String, JsError> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| JsError::new(&format!("{what} is not JSON-serialisable")))
}

/// A loaded model.
#[wasm_bindgen]
pub struct Predictor {
    inner: std::rc::Rc<mtf_model::predict::Predictor>,
    backend: String,
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// One prediction from a request given as JSON, synchronously: the native twin of `Predictor.predict`, for
/// parity tests (same conversion path, same model code).
///
/// # Errors
/// A message, as the JS API would reject with.
pub fn predict_json(
    p: &mtf_model::predict::Predictor,
    request: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let r: Request = serde_json::from_str(&request.to_string()).map_err(|e| format!("invalid request: {e}"))?;
    let (mtf, at) = prepare_request(p, &r)?;
    let out = p.predict(&[(&r.symbol, &mtf, at)]).map_err(|e| e.to_string())?;
    serde_json::to_value(&out[0]).map_err(|e| e.to_string())
}

/// Compares two JSON documents: same structure and strings, numbers within `rel` relative (1e-12 absolute floor).
///
/// # Errors
/// The path of the first difference.
pub fn compare_json(a: &serde_json::Value, b: &serde_json::Value, rel: f64, path: &str) -> Result<(), String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() <= rel * x.abs().max(y.abs()) || (x - y).abs() <= 1e-12 {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().try_for_each(|(i, (u, v))| compare_json(u, v, rel, &format!("{path}[{i}]")))
        }
        (V::Object(x), V::Object(y)) if x.len() == y.len() => x.iter().try_for_each(|(k, u)| {
            y.get(k)
                .ok_or_else(|| format!("{path}.{k} missing"))
                .and_then(|v| compare_json(u, v, rel, &format!("{path}.{k}")))
        }),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

/// Bars per timeframe and the prediction instant of one request; only bars complete at `at` are kept.
fn prepare_request(p: &mtf_model::predict::Predictor, r: &Request) -> Result<(MultiTimeframe, DateTime<Utc>), String> {
    let session = p.header.data.session;
    let mut given: BTreeMap<Timeframe, Vec<Bar>> = BTreeMap::new();
    for (key, value) in &r.bars {
        let tf = parse_timeframe(key)?;
        let label = format!("bars[\"{key}\"]");
        given.insert(tf, mtf_market::io::parse_alpaca_bars_json(value.get(), &label).map_err(|e| e.to_string())?);
    }
    if given.is_empty() {
        return Err("request has no bars: pass { bars: { \"1m\": [...] } }".into());
    }
    let at = match &r.at {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("`at` is not an RFC 3339 instant: {e}"))?
            .with_timezone(&Utc),
        None => given
            .iter()
            .filter_map(|(tf, bars)| bars.last().map(|b| tf.bar_end(b.start(), session)))
            .max()
            .ok_or("request has no bars")?,
    };
    let mtf = p.features_as_of(given, at).map_err(|e| e.to_string())?;
    Ok((mtf, at))
}

#[wasm_bindgen]
impl Predictor {
    /// Loads and verifies a model artifact (`.mtf` bytes). Rejects with the reason on a bad artifact.
    #[wasm_bindgen(js_name = fromBytes)]
    pub async fn from_bytes(bytes: Vec<u8>, options: JsValue) -> Result<Predictor, JsError> {
        let opts: LoadOptions = if options.is_undefined() || options.is_null() {
            LoadOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(js_err)?
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
                Err(why) => return Err(JsError::new(&format!("WebGPU requested but unavailable: {why}"))),
            },
            other => return Err(JsError::new(&format!("unknown backend `{other}`: use `auto`, `webgpu` or `cpu`"))),
        };
        let inner = mtf_model::predict::Predictor::from_bytes(&bytes, device).map_err(js_err)?;
        Ok(Predictor { inner: std::rc::Rc::new(inner), backend })
    }

    /// Which backend runs (`cpu`, `webgpu`), with the reason after a fallback.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// The artifact header as a JS object (name, version, timeframes, horizon, metrics, …).
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.header)
    }

    /// One prediction.
    pub async fn predict(&self, request: JsValue) -> Result<JsValue, JsError> {
        let r: Request = serde_json::from_str(&js_json(&request, "request")?)
            .map_err(|e| JsError::new(&format!("invalid request: {e}")))?;
        let (mtf, at) = prepare_request(&self.inner, &r).map_err(|e| JsError::new(&e))?;
        let p = self.inner.predict_async(&[(&r.symbol, &mtf, at)]).await.map_err(js_err)?;
        to_js(&p[0])
    }

    /// A live session for one symbol, seeded with history `{ "1m": [...], "1d": [...] }` (Alpaca bars).
    #[wasm_bindgen(js_name = liveSession)]
    pub fn live_session(&self, symbol: String, seed: JsValue) -> Result<LiveSession, JsError> {
        let seed: BTreeMap<String, serde_json::Value> = serde_wasm_bindgen::from_value(seed).map_err(js_err)?;
        let bars = |k: &str| seed.get(k).map(|v| bars_from_js(v, &format!("seed[\"{k}\"]"))).transpose();
        let minutes = bars("1m").map_err(|e| JsError::new(&e))?.unwrap_or_default();
        let daily = bars("1d").map_err(|e| JsError::new(&e))?;
        let d = &self.inner.header.data;
        let live = mtf_market::live::LiveBars::new(&[d.base], d.session, 10_000);
        Ok(LiveSession { predictor: self.inner.clone(), symbol, seed: minutes, daily, live, latency_ms: f64::NAN })
    }

    /// Several predictions in one batched forward pass.
    #[wasm_bindgen(js_name = predictBatch)]
    pub async fn predict_batch(&self, requests: JsValue) -> Result<JsValue, JsError> {
        let rs: Vec<Request> = serde_json::from_str(&js_json(&requests, "requests")?)
            .map_err(|e| JsError::new(&format!("invalid requests: {e}")))?;
        let prepared = rs
            .iter()
            .map(|r| prepare_request(&self.inner, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JsError::new(&e))?;
        let items: Vec<(&str, &MultiTimeframe, DateTime<Utc>)> =
            rs.iter().zip(&prepared).map(|(r, (m, at))| (r.symbol.as_str(), m, *at)).collect();
        let ps: Vec<Prediction> = self.inner.predict_async(&items).await.map_err(js_err)?;
        to_js(&ps)
    }
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
}

/// Standard indicators of an array of Alpaca bars: `{ name: number[] }` (NaN as `null` during warm-up).
/// `names` selects columns (`sma_50`, `rsi_14`, …); an empty or missing list returns all.
#[wasm_bindgen]
pub fn indicators(bars: JsValue, names: JsValue) -> Result<JsValue, JsError> {
    let value: serde_json::Value = serde_wasm_bindgen::from_value(bars).map_err(js_err)?;
    let names: Vec<String> = if names.is_undefined() || names.is_null() {
        Vec::new()
    } else {
        serde_wasm_bindgen::from_value(names).map_err(js_err)?
    };
    let out = convert::indicators(&value, &names).map_err(|e| JsError::new(&e))?;
    to_js(&out)
}

/// The 20 model features of every bar of one timeframe's Alpaca bars: `{ names: string[], rows: (number|null)[][] }`.
#[wasm_bindgen]
pub fn features(bars: JsValue, timeframe: String) -> Result<JsValue, JsError> {
    let value: serde_json::Value = serde_wasm_bindgen::from_value(bars).map_err(js_err)?;
    let out = convert::features(&value, &timeframe).map_err(|e| JsError::new(&e))?;
    to_js(&out)
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
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[wasm_bindgen]
impl LiveSession {
    /// Applies a frame of stream messages (an array, as the Alpaca stream sends them). Resolves to the new
    /// prediction when a base-timeframe bar closed, otherwise `null`.
    pub async fn push(&mut self, messages: JsValue) -> Result<JsValue, JsError> {
        use mtf_alpaca::stream::ServerMessage;
        let started = now_ms();
        let value: serde_json::Value = serde_wasm_bindgen::from_value(messages).map_err(js_err)?;
        let frame: Vec<ServerMessage> =
            serde_json::from_value(value).map_err(|e| JsError::new(&format!("invalid stream frame: {e}")))?;
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
            .map_err(js_err)?;
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
        let mtf = self.predictor.features(&minutes, self.daily.as_deref()).map_err(js_err)?;
        let p = self.predictor.predict_async(&[(&self.symbol, &mtf, at)]).await.map_err(js_err)?;
        self.latency_ms = now_ms() - started;
        to_js(&p[0])
    }

    /// Milliseconds from receiving the frame that closed the last base bar to its prediction (NaN before any).
    #[wasm_bindgen(getter, js_name = latencyMs)]
    pub fn latency_ms(&self) -> f64 {
        self.latency_ms
    }
}
