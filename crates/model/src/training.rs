//! Training: pinball loss on three quantiles plus cross-entropy on the direction classes, AdamW with linear
//! warm-up and cosine decay, gradient-norm clipping, early stopping on a validation set, seeded and
//! deterministic on the CPU (flex) backend.

use std::path::{Path, PathBuf};

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::model::{ConfigError, ModelConfig, ModelInput, ModelOutput, MtfModel};

/// Quantile levels of the three quantile outputs.
pub const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Gradient-norm clip.
    pub grad_clip: f32,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Linear warm-up epochs.
    pub warmup_epochs: usize,
    /// Weight of the cross-entropy term against the pinball term.
    pub class_weight: f64,
    /// Seed for initialisation and shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 1e-2,
            grad_clip: 1.0,
            patience: 6,
            warmup_epochs: 2,
            class_weight: 0.5,
            seed: 7,
        }
    }
}

/// Samples as flat arrays, ready to batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSet {
    /// `[N, T, K, F]` inputs.
    pub x: Vec<f32>,
    /// `[N, T, K]` mask.
    pub mask: Vec<f32>,
    /// `[N]` labels divided by the label scale.
    pub y: Vec<f32>,
    /// `[N]` direction classes (0 down, 1 flat, 2 up).
    pub class: Vec<i64>,
    /// `[T, K, F]`.
    pub shape: [usize; 3],
}

impl SampleSet {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// Model input and targets for the samples at `idx`, on `device`.
    pub fn batch(&self, idx: &[usize], device: &Device) -> (ModelInput, Tensor<1>, Tensor<2>) {
        let [t, k, f] = self.shape;
        let (xs, ms) = (t * k * f, t * k);
        let mut x = Vec::with_capacity(idx.len() * xs);
        let mut m = Vec::with_capacity(idx.len() * ms);
        let mut y = Vec::with_capacity(idx.len());
        let mut onehot = Vec::with_capacity(idx.len() * 3);
        for &i in idx {
            x.extend_from_slice(&self.x[i * xs..(i + 1) * xs]);
            m.extend_from_slice(&self.mask[i * ms..(i + 1) * ms]);
            y.push(self.y[i]);
            onehot.extend((0..3).map(|c| if self.class[i] == c { 1.0f32 } else { 0.0 }));
        }
        let b = idx.len();
        (
            ModelInput {
                x: Tensor::from_data(TensorData::new(x, [b, t, k, f]), device),
                mask: Tensor::from_data(TensorData::new(m, [b, t, k]), device),
            },
            Tensor::from_data(TensorData::new(y, [b]), device),
            Tensor::from_data(TensorData::new(onehot, [b, 3]), device),
        )
    }
}

/// Mean pinball loss over the three quantiles plus `class_weight` × mean cross-entropy. Returns `[1]`.
pub fn loss(out: &ModelOutput, y: Tensor<1>, onehot: Tensor<2>, class_weight: f64) -> Tensor<1> {
    let [b, _] = out.quantiles.dims();
    let device = out.quantiles.device();
    let q = Tensor::<1>::from_data(TensorData::new(QUANTILES.map(|v| v as f32).to_vec(), [3]), &device).reshape([1, 3]);
    let e = y.reshape([b, 1]) - out.quantiles.clone();
    let pinball = (e.clone() * q.clone()).max_pair(e * (q - 1.0)).mean();
    let ce = -(log_softmax(out.logits.clone(), 1) * onehot).sum_dim(1).mean();
    pinball + ce * class_weight
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Learning rate used.
    pub lr: f64,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every epoch.
    pub epochs: Vec<EpochReport>,
    /// Epoch of the kept (best-validation) model.
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_valid_loss: f64,
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).map_or(f64::NAN, f64::from)
}

/// Validation loss of `model` on `set` (batched, no gradients).
pub fn evaluate_loss(model: &MtfModel, set: &SampleSet, batch_size: usize, class_weight: f64, device: &Device) -> f64 {
    let mut total = 0.0;
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let (input, y, onehot) = set.batch(chunk, device);
        total += scalar(loss(&model.forward(input), y, onehot, class_weight)) * chunk.len() as f64;
    }
    total / set.len().max(1) as f64
}

fn lr_at(cfg: &TrainConfig, epoch: usize) -> f64 {
    if epoch < cfg.warmup_epochs {
        return cfg.lr * (epoch + 1) as f64 / (cfg.warmup_epochs + 1) as f64;
    }
    let span = (cfg.epochs - cfg.warmup_epochs).max(1) as f64;
    let progress = (epoch - cfg.warmup_epochs) as f64 / span;
    cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// Where to keep checkpoints, and whether to resume from one.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// Directory holding `state.json`, `model.bpk`, `best.bpk` and `optimizer.bpk`; written after every epoch.
    pub dir: PathBuf,
    /// Continue from the checkpoint in `dir` when there is one.
    pub resume: bool,
}

/// Loop state saved with a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LoopState {
    next_epoch: usize,
    rng: u64,
    order: Vec<usize>,
    best_epoch: usize,
    best_loss: f64,
    epochs: Vec<EpochReport>,
    config: TrainConfig,
}

/// Why training cannot run or a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A set is empty.
    #[error("training needs samples: {train} training, {valid} validation")]
    NoSamples {
        /// Training samples.
        train: usize,
        /// Validation samples.
        valid: usize,
    },
    /// A checkpoint file cannot be read, written or used.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn ck_err(path: &Path) -> impl Fn(&dyn std::fmt::Debug) -> TrainError + '_ {
    move |e| TrainError::Checkpoint { path: path.to_path_buf(), message: format!("{e:?}") }
}

fn save_module(m: &MtfModel, path: &Path) -> Result<(), TrainError> {
    let mut store = BurnpackStore::from_bytes(None);
    m.save_into(&mut store).map_err(|e| ck_err(path)(&e))?;
    let bytes = store.get_bytes().map_err(|e| ck_err(path)(&e))?;
    std::fs::write(path, &bytes[..]).map_err(|e| ck_err(path)(&e))
}

fn load_module(m: &mut MtfModel, path: &Path) -> Result<(), TrainError> {
    let bytes = std::fs::read(path).map_err(|e| ck_err(path)(&e))?;
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)));
    m.load_from(&mut store).map(|_| ()).map_err(|e| ck_err(path)(&e))
}

/// Trains a model from scratch on `train` (or resumes a checkpoint), early-stopping on `valid`, and returns the
/// best model (on the plain CPU device) with the run report. `on_epoch` sees every epoch (for progress bars).
/// With `checkpoint`, the state is written after every epoch; resuming continues bit-for-bit where it stopped.
///
/// # Errors
/// A message when the model config is invalid, a set is empty, or a checkpoint cannot be read or written.
pub fn train(
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    train: &SampleSet,
    valid: &SampleSet,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<(MtfModel, TrainReport), TrainError> {
    train_with_checkpoints(model_cfg, cfg, train, valid, None, on_epoch)
}

/// [`train`] with optional checkpointing.
///
/// # Errors
/// As [`train`].
pub fn train_with_checkpoints(
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    train: &SampleSet,
    valid: &SampleSet,
    checkpoint: Option<&Checkpointing>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<(MtfModel, TrainReport), TrainError> {
    if train.is_empty() || valid.is_empty() {
        return Err(TrainError::NoSamples { train: train.len(), valid: valid.len() });
    }
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let mut model = model_cfg.init_seeded(&device, cfg.seed)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.grad_clip)))
        .init();
    let mut best = (model.valid(), f64::INFINITY, 0usize);
    let mut epochs = Vec::new();
    let mut rng = cfg.seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut start = 0;
    if let Some(ck) = checkpoint.filter(|c| c.resume && c.dir.join("state.json").is_file()) {
        let state_path = ck.dir.join("state.json");
        let text = std::fs::read_to_string(&state_path).map_err(|e| ck_err(&state_path)(&e))?;
        let state: LoopState = serde_json::from_str(&text).map_err(|e| ck_err(&state_path)(&e))?;
        if state.config.epochs > cfg.epochs || state.config.seed != cfg.seed || state.order.len() != train.len() {
            return Err(TrainError::Checkpoint {
                path: state_path,
                message: "written for another training configuration or data set".into(),
            });
        }
        load_module(&mut model, &ck.dir.join("model.bpk"))?;
        let mut best_model = model_cfg.init_seeded(&plain, cfg.seed)?;
        load_module(&mut best_model, &ck.dir.join("best.bpk"))?;
        let optim_path = ck.dir.join("optimizer.bpk");
        let bytes = std::fs::read(&optim_path).map_err(|e| ck_err(&optim_path)(&e))?;
        optim = optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| ck_err(&optim_path)(&e))?;
        (rng, order, start, epochs) = (state.rng, state.order, state.next_epoch, state.epochs);
        best = (best_model, state.best_loss, state.best_epoch);
        if best.2 > 0 && start - best.2 >= cfg.patience {
            return Ok((best.0, TrainReport { epochs, best_epoch: best.2, best_valid_loss: best.1 }));
        }
    }
    for epoch in start..cfg.epochs {
        for i in (1..order.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let lr = lr_at(cfg, epoch);
        let mut sum = 0.0;
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            let (input, y, onehot) = train.batch(chunk, &device);
            let l = loss(&model.forward(input), y, onehot, cfg.class_weight);
            sum += scalar(l.clone()) * chunk.len() as f64;
            let grads = GradientsParams::from_grads(l.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let current = model.valid();
        let valid_loss = evaluate_loss(&current, valid, 256, cfg.class_weight, &plain);
        let report = EpochReport { epoch: epoch + 1, train_loss: sum / train.len() as f64, valid_loss, lr };
        on_epoch(&report);
        epochs.push(report);
        let stop = if valid_loss < best.1 {
            best = (current, valid_loss, epoch + 1);
            false
        } else {
            epoch + 1 - best.2 >= cfg.patience
        };
        if let Some(ck) = checkpoint {
            std::fs::create_dir_all(&ck.dir).map_err(|e| ck_err(&ck.dir)(&e))?;
            save_module(&model, &ck.dir.join("model.bpk"))?;
            save_module(&best.0, &ck.dir.join("best.bpk"))?;
            let optim_path = ck.dir.join("optimizer.bpk");
            let bytes = optim.into_bytes().map_err(|e| ck_err(&optim_path)(&e))?;
            std::fs::write(&optim_path, &bytes[..]).map_err(|e| ck_err(&optim_path)(&e))?;
            let state = LoopState {
                next_epoch: epoch + 1,
                rng,
                order: order.clone(),
                best_epoch: best.2,
                best_loss: best.1,
                epochs: epochs.clone(),
                config: cfg.clone(),
            };
            let state_path = ck.dir.join("state.json");
            let json = serde_json::to_string(&state).map_err(|e| ck_err(&state_path)(&e))?;
            std::fs::write(&state_path, json).map_err(|e| ck_err(&state_path)(&e))?;
        }
        if stop {
            break;
        }
    }
    Ok((best.0, TrainReport { epochs, best_epoch: best.2, best_valid_loss: best.1 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two timeframes × 8 steps × 4 features, one layer, width `d_model`.
    fn tiny_config(d_model: usize) -> ModelConfig {
        ModelConfig {
            timeframes: 2,
            lookback: 8,
            features: 4,
            patch_len: 4,
            d_model,
            n_heads: 2,
            n_layers: 1,
            d_ff: 2 * d_model,
            dropout: 0.0,
        }
    }

    fn synthetic_set(n: usize, cfg: &ModelConfig, seed: u64) -> SampleSet {
        // The label is a fixed linear function of the inputs: a model that can learn must fit it.
        let (t, k, f) = (cfg.lookback, cfg.timeframes, cfg.features);
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        };
        let mut set = SampleSet { x: vec![], mask: vec![], y: vec![], class: vec![], shape: [t, k, f] };
        for _ in 0..n {
            let x: Vec<f32> = (0..t * k * f).map(|_| next()).collect();
            let y = x[(t - 1) * k * f] * 0.8 + x[(t - 1) * k * f + 1] * 0.4;
            set.class.push(if y > 0.2 {
                2
            } else if y < -0.2 {
                0
            } else {
                1
            });
            set.x.extend(x);
            set.mask.extend(std::iter::repeat_n(1.0, t * k));
            set.y.push(y);
        }
        set
    }

    #[test]
    fn overfits_a_tiny_data_set() {
        let cfg = tiny_config(32);
        let set = synthetic_set(64, &cfg, 3);
        let tc = TrainConfig {
            epochs: 150,
            batch_size: 16,
            lr: 3e-3,
            patience: 1000,
            warmup_epochs: 1,
            ..TrainConfig::default()
        };
        let (_, report) = train(&cfg, &tc, &set, &set, &mut |_| {}).unwrap();
        let first = report.epochs[0].train_loss;
        let last = report.best_valid_loss;
        assert!(last < 0.1 * first, "loss went from {first} to {last}: less than the required 90% drop");
    }

    #[test]
    fn training_is_deterministic() {
        let cfg = tiny_config(16);
        let set = synthetic_set(32, &cfg, 5);
        let tc = TrainConfig { epochs: 3, ..TrainConfig::default() };
        let (_, a) = train(&cfg, &tc, &set, &set, &mut |_| {}).unwrap();
        let (_, b) = train(&cfg, &tc, &set, &set, &mut |_| {}).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn resuming_a_checkpoint_equals_training_straight_through() {
        let cfg = tiny_config(16);
        let set = synthetic_set(48, &cfg, 9);
        let valid = synthetic_set(16, &cfg, 10);
        let full = TrainConfig { epochs: 6, batch_size: 16, patience: 100, ..TrainConfig::default() };
        let root = std::env::temp_dir().join(format!("mtf-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (dir, snapshot) = (root.join("run"), root.join("after-3"));
        let ck = Checkpointing { dir: dir.clone(), resume: false };
        // A full run with checkpoints; when epoch 4 reports, the directory still holds the state after epoch 3:
        // keep a copy of it, as if the process had died there.
        let (m1, r1) = train_with_checkpoints(&cfg, &full, &set, &valid, Some(&ck), &mut |r| {
            if r.epoch == 4 {
                std::fs::create_dir_all(&snapshot).unwrap();
                for f in ["state.json", "model.bpk", "best.bpk", "optimizer.bpk"] {
                    std::fs::copy(dir.join(f), snapshot.join(f)).unwrap();
                }
            }
        })
        .unwrap();
        let resumed = Checkpointing { dir: snapshot, resume: true };
        let mut seen = Vec::new();
        let (m2, r2) =
            train_with_checkpoints(&cfg, &full, &set, &valid, Some(&resumed), &mut |r| seen.push(r.epoch)).unwrap();
        assert_eq!(seen, vec![4, 5, 6], "resumed after epoch 3");
        assert_eq!(r1, r2);
        let probe = set.batch(&[0, 1, 2], &Device::flex()).0;
        let out = |m: &MtfModel| crate::predict::RawOutput::read(m.forward(probe.clone())).unwrap();
        assert_eq!(out(&m1), out(&m2));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn pinball_loss_on_a_hand_computed_case() {
        let device = Device::flex();
        let out = ModelOutput {
            quantiles: Tensor::from_data(TensorData::new(vec![-1.0f32, 0.0, 1.0], [1, 3]), &device),
            logits: Tensor::from_data(TensorData::new(vec![0.0f32, 0.0, 0.0], [1, 3]), &device),
            attn_timeframes: Tensor::zeros([1, 1], &device),
            attn_time: Tensor::zeros([1, 1, 1], &device),
        };
        let y = Tensor::from_data(TensorData::new(vec![0.5f32], [1]), &device);
        let onehot = Tensor::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0], [1, 3]), &device);
        // e = 0.5 − q: [1.5, 0.5, −0.5] → 0.1·1.5, 0.5·0.5, (0.9−1)·(−0.5) = 0.15, 0.25, 0.05 → mean 0.15.
        // Cross-entropy of uniform logits = ln 3.
        let l = scalar(loss(&out, y, onehot, 1.0));
        assert!((l - (0.15 + 3f64.ln())).abs() < 1e-6, "{l}");
    }
}
