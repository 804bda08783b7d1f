//! What the evaluation reports is what is served: for the default model on the real SPY minutes, the
//! evaluation path's decoded prediction at a sample ([`experiment::decode_samples`]: training windows, batched
//! forward pass, the one decoder) equals `Predictor::predict` at that sample's instant from the bars as a caller
//! passes them (the CLI's and the browser's path), within f32 rounding.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::prelude::*;
use mtf_market::Timeframe;
use mtf_market::io::{ReadOptions, read_bars_csv};
use mtf_model::data::Prepared;
use mtf_model::experiment;
use mtf_model::predict::Predictor;

fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("MTF_DATA_DIR").map_or(root.join("../shared/data"), |d| root.join(d));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("MTF_REQUIRE_DATA").as_deref() != Ok("1"),
        "{} missing and MTF_REQUIRE_DATA=1",
        dir.display()
    );
    eprintln!("SKIPPED: real-data test: {} not found (set MTF_DATA_DIR)", dir.display());
    None
}

#[test]
fn an_empty_batch_is_no_prediction_and_no_panic() {
    // burn panics on a zero-sized batch (a wasm panic kills the module, e.g. the edge's isolate).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/spy-15m-h4/model.mtf")).unwrap();
    let predictor = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    assert!(predictor.predict(&[]).unwrap().is_empty());
}

#[test]
fn evaluation_decodes_what_predict_serves() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/spy-15m-h4/model.mtf")).unwrap();
    check_serving_equals_evaluation(Predictor::from_bytes(&bytes, Device::flex()).unwrap(), |_, _| {});
}

#[test]
fn a_volatility_scaled_target_is_decoded_the_same_way_served_and_evaluated() {
    // The same weights read as a model with a volatility-scaled target (`[data.labels] scale = "trailing_vol"`):
    // each sample's scale comes from its trailing variance, computed from the training series in evaluation and
    // from the bars a caller passes in serving; the two must agree.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/spy-15m-h4/model.mtf")).unwrap();
    let predictor = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    check_serving_equals_evaluation(predictor, |predictor, _| {
        predictor.header.data.labels.scale = mtf_model::labels::TargetScale::TrailingVol;
        predictor.header.targets.vol =
            Some(mtf_model::data::VolTarget { horizon: 4, z: 0.9, typical_var: 1e-6, var_floor: 5e-8, har: None });
    });
}

#[test]
fn a_har_scaled_target_is_decoded_the_same_way_served_and_evaluated() {
    // As above with the HAR model of the har_vol baseline (fit here on the first half of the samples) as the
    // variance: the three trailing windows and the bar of the day at each instant, served and evaluated.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/spy-15m-h4/model.mtf")).unwrap();
    let predictor = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    check_serving_equals_evaluation(predictor, |predictor, p| {
        let ctx = mtf_model::volatility::contexts(p);
        let half = p.samples.len() / 2;
        let labels: Vec<f64> = p.samples[..half].iter().map(|s| s.label).collect();
        let band = mtf_model::volatility::VolBand::har(&ctx[..half], &labels, 4);
        predictor.header.data.labels.scale = mtf_model::labels::TargetScale::HarVol;
        predictor.header.targets.vol = Some(mtf_model::data::VolTarget {
            horizon: 4,
            z: 0.9,
            typical_var: 1e-6,
            var_floor: 5e-8,
            har: Some(band),
        });
    });
}

#[test]
fn a_blended_time_of_day_conformal_band_is_decoded_the_same_way_served_and_evaluated() {
    // One interval adjustment per New York hour (`[eval] conformal = "time_of_day"`), each far from the others
    // and from the pooled one: serving must pick the hour of the instant's base bar as evaluation does.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/spy-15m-h4/model.mtf")).unwrap();
    let predictor = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    check_serving_equals_evaluation(predictor, |predictor, p| {
        predictor.header.calibration.interval_delta = -0.2;
        predictor.header.calibration.interval_delta_by_bucket = Some([0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8]);
        // And a band blend, applied before the correction on both paths.
        predictor.header.calibration.band_blend =
            Some(mtf_model::calibration::BandBlend { weight: 0.3, anchor: [-1.5, 0.1, 1.2] });
        let n = p.samples.len();
        let buckets: std::collections::BTreeSet<u8> = [n / 10, n / 3, n / 2, n - 1]
            .iter()
            .map(|&i| mtf_model::volatility::time_of_day_bucket(p.samples[i].at.timestamp_millis(), true))
            .collect();
        assert!(buckets.len() >= 2, "the checked samples span several hours: {buckets:?}");
    });
}

fn check_serving_equals_evaluation(mut predictor: Predictor, adjust: impl FnOnce(&mut Predictor, &Prepared)) {
    let Some(dir) = data_dir() else { return };
    let opts = ReadOptions { repair: true };
    let minutes = read_bars_csv(&dir.join("spy_1min_2011-01.csv"), opts).unwrap().bars;
    let daily = read_bars_csv(&dir.join("spy_1d_2007-12-31_2017-12-29.csv"), opts).unwrap().bars;
    let p = Prepared::new(&minutes, Some(&daily), &predictor.header.data).unwrap();
    adjust(&mut predictor, &p);
    let n = p.samples.len();
    assert!(n > 100, "{n} samples");
    let idx: Vec<usize> = [n / 10, n / 3, n / 2, n - 1].to_vec();
    let decoded = experiment::decode_samples(&predictor, &p, &idx).unwrap();
    for (&i, d) in idx.iter().zip(&decoded) {
        let at = p.samples[i].at;
        let given = BTreeMap::from([(Timeframe::M1, minutes.clone()), (Timeframe::D1, daily.clone())]);
        let mtf = predictor.features_as_of(given, at).unwrap();
        let served = predictor.predict(&[("SPY", &mtf, at)]).unwrap().remove(0);
        let close = |a: f64, b: f64, what: &str| {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-3), "sample {i} at {at}: {what} {a} vs {b}")
        };
        close(served.predicted_log_return, d.quantiles[1], "q50");
        close((served.interval.low / served.last_close).ln(), d.quantiles[0], "q10");
        close((served.interval.high / served.last_close).ln(), d.quantiles[2], "q90");
        close(served.probabilities.up, d.probs[2], "p(up)");
        assert_eq!(served.signal, d.signal, "sample {i}: signal");
        close(served.last_close, p.samples[i].last_close, "last close");
    }
}
