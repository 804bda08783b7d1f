//! The native side of the browser parity test: the request fixture through the same conversion path equals
//! `mtf predict` on the same rows (tests/fixtures, made by scripts/make_parity_fixture.py) within 1e-4.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[test]
fn request_path_equals_cli_prediction() {
    let model = include_bytes!("../../../models/spy-15m-h4/model.mtf");
    let p = mtf_model::predict::Predictor::from_bytes(model, burn::tensor::Device::flex()).unwrap();
    let request: serde_json::Value = serde_json::from_str(include_str!("fixtures/parity_request.json")).unwrap();
    let expected: serde_json::Value = serde_json::from_str(include_str!("fixtures/parity_expected.json")).unwrap();
    let got = mtf_wasm::predict_json(&p, &request).unwrap();
    mtf_wasm::compare_json(&got, &expected, 1e-4, "prediction").unwrap();
    // The comparison is not vacuous: a different instant gives a different prediction.
    let mut other = request.clone();
    other["at"] = serde_json::json!("2011-01-31T19:00:00Z");
    assert!(mtf_wasm::compare_json(&mtf_wasm::predict_json(&p, &other).unwrap(), &expected, 1e-4, "p").is_err());
}
