//! Browser tests (wasm-bindgen-test in headless Chromium): the JS API on the CPU backend (and, built with
//! `--features webgpu`, on WebGPU/SwiftShader), parity with the
//! native CLI, two consecutive predictions, and the module staying usable after errors.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use mtf_wasm::{Predictor, compare_json};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MODEL: &[u8] = include_bytes!("../../../models/spy-15m-h4/model.mtf");

/// A plain JS object/array, as a caller would pass (not a `Map`).
fn js(v: &serde_json::Value) -> JsValue {
    use serde::Serialize;
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
}

fn cpu() -> JsValue {
    js(&serde_json::json!({"backend": "cpu"}))
}

fn request() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/parity_request.json")).unwrap()
}

fn to_json(v: JsValue) -> serde_json::Value {
    serde_wasm_bindgen::from_value(v).unwrap()
}

#[wasm_bindgen_test]
async fn predicts_like_the_native_cli_twice() {
    let p = Predictor::from_bytes(MODEL.to_vec(), cpu()).await.map_err(JsValue::from).unwrap();
    assert!(p.backend().starts_with("cpu"));
    let expected: serde_json::Value = serde_json::from_str(include_str!("fixtures/parity_expected.json")).unwrap();
    let first = to_json(p.predict(js(&request())).await.map_err(JsValue::from).unwrap());
    compare_json(&first, &expected, 1e-4, "prediction").unwrap();
    let second = to_json(p.predict(js(&request())).await.map_err(JsValue::from).unwrap());
    assert_eq!(first, second, "two consecutive predictions differ");
}

#[wasm_bindgen_test]
async fn batch_of_two_equals_singles() {
    let p = Predictor::from_bytes(MODEL.to_vec(), cpu()).await.map_err(JsValue::from).unwrap();
    let mut other = request();
    other["symbol"] = serde_json::json!("SPY2");
    let batch =
        to_json(p.predict_batch(js(&serde_json::json!([request(), other]))).await.map_err(JsValue::from).unwrap());
    let single = to_json(p.predict(js(&request())).await.map_err(JsValue::from).unwrap());
    compare_json(&batch[0], &single, 1e-5, "batch[0]").unwrap();
    assert_eq!(batch[1]["symbol"], "SPY2");
}

#[wasm_bindgen_test]
async fn errors_reject_and_the_module_keeps_working() {
    // A bad artifact is rejected with the reason.
    let mut bad = MODEL.to_vec();
    let n = bad.len();
    bad[n - 3] ^= 0x40;
    let e = Predictor::from_bytes(bad, cpu()).await.err().map(JsValue::from).unwrap();
    let msg = js_sys::Error::from(e).message().as_string().unwrap();
    assert!(msg.contains("sha256"), "{msg}");
    // Bad bars are rejected with the bar and field named.
    let p = Predictor::from_bytes(MODEL.to_vec(), cpu()).await.map_err(JsValue::from).unwrap();
    let mut broken = request();
    broken["bars"]["1m"][5]["h"] = serde_json::json!(-1.0);
    let e = p.predict(js(&broken)).await.err().map(JsValue::from).unwrap();
    let msg = js_sys::Error::from(e).message().as_string().unwrap();
    assert!(msg.contains("bars[\"1m\"]") && msg.contains("bars[5]"), "{msg}");
    // Too little history.
    let e =
        p.predict(js(&serde_json::json!({"symbol": "X", "bars": {"1m": []}}))).await.err().map(JsValue::from).unwrap();
    assert!(!js_sys::Error::from(e).message().as_string().unwrap().is_empty());
    // Unknown backend.
    assert!(Predictor::from_bytes(MODEL.to_vec(), js(&serde_json::json!({"backend": "tpu"}))).await.is_err());
    // Still works.
    let ok = p.predict(js(&request())).await;
    assert!(ok.is_ok(), "the module stopped working after errors");
}

#[wasm_bindgen_test]
fn indicators_and_features_from_js() {
    let r = request();
    let bars = js(&r["bars"]["1d"]);
    let ind =
        to_json(mtf_wasm::indicators(bars.clone(), js(&serde_json::json!(["rsi_14"]))).map_err(JsValue::from).unwrap());
    assert_eq!(ind["rsi_14"].as_array().unwrap().len(), 105);
    assert!(ind["rsi_14"][13].is_null() && ind["rsi_14"][14].is_number());
    let f = to_json(mtf_wasm::features(bars, "1d".into()).map_err(JsValue::from).unwrap());
    assert_eq!(f["names"].as_array().unwrap().len(), 20);
    assert!(mtf_wasm::indicators(js(&serde_json::json!([{"t": "x"}])), JsValue::UNDEFINED).is_err());
}

/// With the `webgpu` feature, in Chromium with `--enable-unsafe-webgpu` (SwiftShader on a CPU-only machine):
/// the same prediction within 1e-4, twice, and the backend says `webgpu`.
#[cfg(feature = "webgpu")]
#[wasm_bindgen_test]
async fn webgpu_predicts_like_the_cpu() {
    let p = Predictor::from_bytes(MODEL.to_vec(), js(&serde_json::json!({"backend": "webgpu"})))
        .await
        .map_err(JsValue::from)
        .unwrap();
    assert_eq!(p.backend(), "webgpu");
    let expected: serde_json::Value = serde_json::from_str(include_str!("fixtures/parity_expected.json")).unwrap();
    let first = to_json(p.predict(js(&request())).await.map_err(JsValue::from).unwrap());
    compare_json(&first, &expected, 1e-4, "webgpu prediction").unwrap();
    let second = to_json(p.predict(js(&request())).await.map_err(JsValue::from).unwrap());
    compare_json(&second, &first, 1e-6, "second webgpu prediction").unwrap();
    // `auto` picks the same device (initialised once per page).
    let auto = Predictor::from_bytes(MODEL.to_vec(), JsValue::UNDEFINED).await.map_err(JsValue::from).unwrap();
    assert_eq!(auto.backend(), "webgpu");
}

/// Without the `webgpu` feature, `auto` falls back to the CPU and says why.
#[cfg(not(feature = "webgpu"))]
#[wasm_bindgen_test]
async fn auto_falls_back_to_cpu_with_a_reason() {
    let p = Predictor::from_bytes(MODEL.to_vec(), JsValue::UNDEFINED).await.map_err(JsValue::from).unwrap();
    assert!(p.backend().starts_with("cpu (WebGPU unavailable:"), "{}", p.backend());
    assert!(Predictor::from_bytes(MODEL.to_vec(), js(&serde_json::json!({"backend": "webgpu"}))).await.is_err());
}

/// Live: seeded with all but the last 15 minutes, then streamed those minutes as `b` messages, the session
/// predicts when the 15-minute bar closes — and equals the batch prediction on the full data.
#[wasm_bindgen_test]
async fn live_session_matches_batch_prediction() {
    let p = Predictor::from_bytes(MODEL.to_vec(), cpu()).await.map_err(JsValue::from).unwrap();
    let r = request();
    let minutes = r["bars"]["1m"].as_array().unwrap().clone();
    let cut = minutes.iter().position(|b| b["t"].as_str().unwrap() >= "2011-01-31T19:45:00Z").unwrap();
    let seed = serde_json::json!({"1m": minutes[..cut].to_vec(), "1d": r["bars"]["1d"]});
    let mut session = p.live_session("SPY".into(), js(&seed)).map_err(JsValue::from).unwrap();
    let mut prediction = JsValue::NULL;
    for b in &minutes[cut..] {
        if b["t"].as_str().unwrap() >= "2011-01-31T20:00:00Z" {
            break;
        }
        let mut msg = b.clone();
        msg["T"] = serde_json::json!("b");
        msg["S"] = serde_json::json!("SPY");
        let out = session.push(js(&serde_json::json!([msg]))).await.map_err(JsValue::from).unwrap();
        if !out.is_null() {
            prediction = out;
        }
    }
    assert!(!prediction.is_null(), "no prediction when the 15-minute bar closed");
    let expected: serde_json::Value = serde_json::from_str(include_str!("fixtures/parity_expected.json")).unwrap();
    // The session's first band: live recalibration (ACI) has seen no outcome yet, so it is the model's band.
    let mut live = to_json(prediction);
    let recal = live
        .as_object_mut()
        .and_then(|o| o.remove("recalibration"))
        .expect("the live prediction says its recalibration");
    assert_eq!(
        (recal["method"].as_str(), recal["scale"].as_f64(), recal["observed"].as_u64()),
        (Some("aci"), Some(1.0), Some(0))
    );
    compare_json(&live, &expected, 1e-4, "live prediction").unwrap();
    assert!(session.latency_ms() >= 0.0);
    // A malformed frame is an error, and the session keeps working.
    assert!(session.push(js(&serde_json::json!([{"T": "b", "S": "SPY", "o": 1}]))).await.is_err());
}
