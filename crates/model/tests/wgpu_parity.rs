//! flex (CPU) and wgpu give the same outputs for the same weights and inputs, within 1e-4.
//!
//! Runs with `--features wgpu`. Natively on a machine without a GPU, Mesa's lavapipe (Vulkan on the CPU,
//! `apt-get install mesa-vulkan-drivers libvulkan1`) provides the adapter. Without any adapter the test says so
//! and skips, unless `MTF_REQUIRE_WGPU=1`, which makes a missing adapter a failure.
#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use burn::prelude::*;
use mtf_model::artifact::{self, WeightDtype};
use mtf_model::model::{ModelConfig, ModelInput};
use mtf_model::predict::RawOutput;

#[test]
fn flex_and_wgpu_agree() {
    let gpu = match Device::wgpu_options().init() {
        Ok(d) => d,
        Err(e) => {
            let msg = format!("no wgpu adapter ({e})");
            assert!(
                std::env::var("MTF_REQUIRE_WGPU").as_deref() != Ok("1"),
                "{msg}, and MTF_REQUIRE_WGPU=1 requires one"
            );
            eprintln!("SKIPPED: {msg}");
            return;
        }
    };
    let cfg = ModelConfig::reference();
    let cpu = Device::flex();
    let model = cfg.init_seeded(&cpu, 5).unwrap();
    // Move the same weights to the GPU through the artifact's weight format.
    let weights = artifact::weights_to_bytes(&model, WeightDtype::F32).unwrap();
    let mut on_gpu = cfg.init_seeded(&gpu, 99).unwrap();
    let mut store = burn::store::BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(weights)));
    burn::store::ModuleSnapshot::load_from(&mut on_gpu, &mut store).unwrap();

    let b = 4;
    let n = b * 32 * 5 * 20;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    // Mask one timeframe of one sample and the first patch of another.
    let mask: Vec<f32> = (0..b * 32 * 5)
        .map(
            |i| if (i / (32 * 5) == 1 && i % 5 == 3) || (i / (32 * 5) == 2 && (i % (32 * 5)) < 40) { 0.0 } else { 1.0 },
        )
        .collect();
    let run = |m: &mtf_model::model::MtfModel, d: &Device| {
        RawOutput::read(m.forward(ModelInput {
            x: Tensor::from_data(TensorData::new(x.clone(), [b, 32, 5, 20]), d),
            mask: Tensor::from_data(TensorData::new(mask.clone(), [b, 32, 5]), d),
        }))
        .unwrap()
    };
    let (a, g) = (run(&model, &cpu), run(&on_gpu, &gpu));
    let close = |name: &str, u: &[f32], v: &[f32]| {
        assert_eq!(u.len(), v.len());
        for (i, (p, q)) in u.iter().zip(v).enumerate() {
            let tol = 1e-4 * p.abs().max(q.abs()).max(1.0);
            assert!((p - q).abs() <= tol, "{name}[{i}]: flex {p} vs wgpu {q}");
        }
    };
    close("quantiles", &a.quantiles, &g.quantiles);
    close("logits", &a.logits, &g.logits);
    close("attn_timeframes", &a.attn_timeframes, &g.attn_timeframes);
    close("attn_time", &a.attn_time, &g.attn_time);
    // Two consecutive predictions on the GPU give the same numbers.
    assert_eq!(run(&on_gpu, &gpu), g);
}
