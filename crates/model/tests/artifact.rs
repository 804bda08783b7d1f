//! Artifact round trip and rejection of bad artifacts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use burn::prelude::*;
use chrono::{NaiveDate, TimeZone, Utc};
use mtf_envelope::EnvelopeError;
use mtf_features::frames::MultiTimeframe;
use mtf_features::normalize::NormStats;
use mtf_market::session::SessionFilter;
use mtf_market::{Timeframe, synthetic};
use mtf_model::artifact::{self, ArtifactError, ArtifactHeader, WeightDtype};
use mtf_model::calibration::Calibration;
use mtf_model::data::{DataSpec, Targets};
use mtf_model::labels::LabelConfig;
use mtf_model::model::ModelConfig;
use mtf_model::predict::{Predictor, RawOutput};

fn fixture() -> (MultiTimeframe, ArtifactHeader, mtf_model::model::MtfModel) {
    let minutes = synthetic::random_walk_minutes(NaiveDate::from_ymd_opt(2019, 1, 2).unwrap(), 6, 100.0, 3);
    let tfs = vec![Timeframe::M1, Timeframe::M5, Timeframe::M15];
    let mtf = MultiTimeframe::from_minutes(&minutes, None, &tfs, SessionFilter::Regular).unwrap();
    let norm = NormStats::fit(&mtf, minutes[1500].start(), 5.0).unwrap();
    let model_cfg = ModelConfig {
        timeframes: 3,
        lookback: 16,
        features: mtf_features::spec::N_FEATURES,
        patch_len: 4,
        d_model: 16,
        n_heads: 2,
        n_layers: 1,
        d_ff: 32,
        dropout: 0.0,
    };
    let model = model_cfg.init_seeded(&Device::flex(), 11).unwrap();
    let t0 = Utc.with_ymd_and_hms(2019, 1, 2, 15, 0, 0).unwrap();
    let header = ArtifactHeader {
        name: "test".into(),
        version: "0.0.1".into(),
        created_at: t0,
        feature_spec: mtf_features::spec::spec_id(),
        data: DataSpec {
            timeframes: tfs,
            lookback: 16,
            base: Timeframe::M15,
            labels: LabelConfig { horizon: 2, cross_session: false, scale: Default::default() },
            session: SessionFilter::Regular,
        },
        model: model_cfg,
        norm,
        targets: Targets { label_scale: 0.002, flat_band: 0.0005, vol: None },
        calibration: Calibration { temperature: 1.3, interval_delta: 0.1, ..Calibration::default() },
        training_range: [t0, t0],
        parameters: 0,
        metrics: serde_json::json!({"note": "test"}),
        weights_dtype: WeightDtype::F32,
        weights_len: 0,
        weights_sha256: String::new(),
        training_data: None,
        drift_reference: None,
    };
    (mtf, header, model)
}

fn outputs(p: &Predictor, mtf: &MultiTimeframe) -> RawOutput {
    let at = Utc.with_ymd_and_hms(2019, 1, 9, 20, 0, 0).unwrap();
    let (input, _) = p.prepare(&[("X", mtf, at)]).unwrap();
    RawOutput::read(p.model().forward(input)).unwrap()
}

#[test]
fn round_trip_gives_bit_identical_outputs() {
    let (mtf, header, model) = fixture();
    let bytes = artifact::to_bytes(&model, header.clone(), WeightDtype::F32).unwrap();
    let a = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    let b = Predictor::from_bytes(&bytes, Device::flex()).unwrap();
    assert_eq!(a.header.weights_len + 16 + serde_json::to_vec(&a.header).unwrap().len(), bytes.len());
    assert!(a.header.parameters > 1000);
    // The loaded model equals the written one, bit for bit.
    let original = {
        let at = Utc.with_ymd_and_hms(2019, 1, 9, 20, 0, 0).unwrap();
        let (input, _) = a.prepare(&[("X", &mtf, at)]).unwrap();
        RawOutput::read(model.forward(input)).unwrap()
    };
    let (oa, ob) = (outputs(&a, &mtf), outputs(&b, &mtf));
    assert_eq!(oa, ob);
    assert_eq!(oa, original);
    // Writing the loaded model again gives the same weights.
    let again = artifact::to_bytes(a.model(), a.header.clone(), WeightDtype::F32).unwrap();
    assert_eq!(artifact::parse(&again).unwrap().1, artifact::parse(&bytes).unwrap().1);
}

#[test]
fn f16_storage_halves_the_weights_and_stays_close() {
    let (mtf, header, model) = fixture();
    let f32_bytes = artifact::to_bytes(&model, header.clone(), WeightDtype::F32).unwrap();
    let f16_bytes = artifact::to_bytes(&model, header, WeightDtype::F16).unwrap();
    let (h32, h16) = (artifact::parse(&f32_bytes).unwrap().0, artifact::parse(&f16_bytes).unwrap().0);
    // Linear and LayerNorm weights are stored as f16; the learned embeddings/queries and the container stay f32.
    assert!(h16.weights_len < h32.weights_len * 7 / 10, "{} vs {}", h16.weights_len, h32.weights_len);
    let (a, b) = (
        Predictor::from_bytes(&f32_bytes, Device::flex()).unwrap(),
        Predictor::from_bytes(&f16_bytes, Device::flex()).unwrap(),
    );
    let (oa, ob) = (outputs(&a, &mtf), outputs(&b, &mtf));
    for (x, y) in oa.quantiles.iter().zip(&ob.quantiles).chain(oa.logits.iter().zip(&ob.logits)) {
        assert!((x - y).abs() < 2e-2, "{x} vs {y}");
    }
}

fn rebuild(header: &ArtifactHeader, weights: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap();
    let mut out = b"MTFMODEL".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(weights);
    out
}

#[test]
fn bad_artifacts_are_rejected_with_clear_errors() {
    let (_, header, model) = fixture();
    let bytes = artifact::to_bytes(&model, header, WeightDtype::F32).unwrap();
    let err = |b: &[u8]| Predictor::from_bytes(b, Device::flex()).unwrap_err();

    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 10;
    corrupt[last] ^= 0xff;
    let e = err(&corrupt);
    assert!(matches!(e, ArtifactError::Envelope(EnvelopeError::HashMismatch { .. })), "{e}");
    assert!(e.to_string().contains("corrupt"), "{e}");

    let e = err(&bytes[..bytes.len() - 100]);
    assert!(matches!(e, ArtifactError::Envelope(EnvelopeError::Truncated(_))), "{e}");
    assert!(matches!(err(&bytes[..12]), ArtifactError::Envelope(EnvelopeError::Truncated(_))));
    assert!(matches!(err(b"PK\x03\x04 not a model"), ArtifactError::Envelope(EnvelopeError::NotAnArtifact)));
    assert!(matches!(err(b""), ArtifactError::Envelope(EnvelopeError::NotAnArtifact)));

    let (mut h, w) = artifact::parse(&bytes).map(|(h, w)| (h, w.to_vec())).unwrap();
    h.feature_spec = "mtf-fs0-0123456789abcdef".into();
    let e = err(&rebuild(&h, &w));
    assert!(matches!(e, ArtifactError::FeatureSpec { .. }), "{e}");
    assert!(e.to_string().contains("mtf-fs0-0123456789abcdef"), "{e}");

    let mut v = bytes.clone();
    v[8] = 9;
    assert!(matches!(err(&v), ArtifactError::Envelope(EnvelopeError::Version(9))));

    let mut bad_header = bytes.clone();
    bad_header[16] = b'x';
    assert!(matches!(err(&bad_header), ArtifactError::Envelope(EnvelopeError::Header(_))));
}
