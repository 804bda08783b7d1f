//! Native inference latency (batch 1 and 100) and training throughput of the default model's shape, on the
//! flex CPU backend, single process. Run: `cargo bench -p mtf-model --bench model`.
//!
//! Shape: K = 5 timeframes × T = 32 steps × F = 20 features, patch 8 (4 patches per timeframe, 20 tokens),
//! d_model 32, 4 heads, 2 layers, FFN 64 — `models/spy-15m-h4/train.toml`. Inputs are random (values do not
//! change the cost); "inference" includes building the input tensors and reading the outputs back.
#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use mtf_model::model::{ModelConfig, ModelInput};
use mtf_model::predict::RawOutput;
use mtf_model::training::{SampleSet, TrainConfig, train};

fn data(b: usize, cfg: &ModelConfig) -> (Vec<f32>, Vec<f32>) {
    let n = b * cfg.lookback * cfg.timeframes * cfg.features;
    ((0..n).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect(), vec![1.0; b * cfg.lookback * cfg.timeframes])
}

fn bench(c: &mut Criterion) {
    let cfg = ModelConfig::reference();
    let device = Device::flex();
    let model = cfg.init_seeded(&device, 1).unwrap();
    let mut g = c.benchmark_group("model");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    for b in [1usize, 100] {
        let (x, m) = data(b, &cfg);
        g.bench_function(format!("inference_batch_{b}"), |bench| {
            bench.iter(|| {
                let input = ModelInput {
                    x: Tensor::from_data(
                        TensorData::new(x.clone(), [b, cfg.lookback, cfg.timeframes, cfg.features]),
                        &device,
                    ),
                    mask: Tensor::from_data(TensorData::new(m.clone(), [b, cfg.lookback, cfg.timeframes]), &device),
                };
                black_box(RawOutput::read(model.forward(input)))
            })
        });
    }
    // Training throughput: 5 epochs over 256 samples, batch 64 (forward + backward + AdamW); criterion reports the
    // time for all 5 (model and optimiser setup included once), BENCHMARKS.md divides by 5.
    let (x, m) = data(256, &cfg);
    let set = SampleSet {
        x,
        mask: m,
        y: (0..256).map(|i| ((i % 7) as f32 - 3.0) / 3.0).collect(),
        class: (0..256).map(|i| (i % 3) as i64).collect(),
        shape: [cfg.lookback, cfg.timeframes, cfg.features],
    };
    let tc = TrainConfig { epochs: 5, batch_size: 64, patience: 10, ..TrainConfig::default() };
    g.sample_size(10);
    g.bench_function("train_5_epochs_256_samples_batch_64", |bench| {
        bench.iter(|| {
            black_box(
                train(
                    &cfg,
                    &tc,
                    &set,
                    &SampleSet {
                        x: set.x[..cfg.lookback * cfg.timeframes * cfg.features].to_vec(),
                        mask: set.mask[..cfg.lookback * cfg.timeframes].to_vec(),
                        y: vec![0.0],
                        class: vec![1],
                        shape: set.shape,
                    },
                    &mut |_| {},
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
