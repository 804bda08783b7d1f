//! The multi-timeframe transformer.
//!
//! Shapes use named axes: B batch, T lookback steps, K timeframes, F features, P patch length, N = T / P
//! patches, D model width, H heads.
//!
//! 1. Each timeframe's window is cut into N patches of P steps (PatchTST): `[B, K, N, P·F]`, and projected by a
//!    per-timeframe linear layer to `[B, K, N, D]`, plus a learned timeframe embedding and a learned patch
//!    position embedding. Patching cuts the tokens per sample from K·T to K·N (8× fewer with P = 8), which is
//!    where the encoder's cost lives (see `shared/docs/performance-anchors.md`).
//! 2. Self-attention over time within each timeframe (pre-norm encoder layers, ReLU feed-forward), with absent
//!    patches masked.
//! 3. Attention pooling over time per timeframe (a learned query) → one summary per timeframe, and the
//!    attention over time `[B, K, T]` for display.
//! 4. Attention **across timeframes** from a learned query over the K summaries (absent timeframes masked) →
//!    the context `[B, D]` and the attention across timeframes `[B, K]`.
//! 5. Heads: three quantiles of the scaled horizon log-return, non-crossing by construction
//!    (`q10 = q50 − softplus(a)`, `q90 = q50 + softplus(b)`), and three direction logits (down, flat, up).
//!
//! A fully masked timeframe (or sample) yields finite outputs: masked attention scores are filled with a large
//! negative number, not −∞, so softmax stays defined.

use burn::module::Param;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use serde::{Deserialize, Serialize};

/// A model config that violates a shape constraint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A size is zero.
    #[error("model config: `{0}` must be > 0")]
    NotPositive(&'static str),
    /// Patches must tile the lookback.
    #[error("model config: patch_len {patch_len} must divide lookback {lookback}")]
    PatchLen {
        /// P.
        patch_len: usize,
        /// T.
        lookback: usize,
    },
    /// Heads must divide the width.
    #[error("model config: n_heads {n_heads} must divide d_model {d_model}")]
    Heads {
        /// H.
        n_heads: usize,
        /// D.
        d_model: usize,
    },
    /// Dropout outside [0, 1).
    #[error("model config: dropout {0} must be in [0, 1)")]
    Dropout(f64),
}

/// Model hyperparameters (stored in the artifact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// K: number of timeframes.
    pub timeframes: usize,
    /// T: lookback steps per timeframe.
    pub lookback: usize,
    /// F: features per step.
    pub features: usize,
    /// P: steps per patch; must divide T.
    pub patch_len: usize,
    /// D: model width.
    pub d_model: usize,
    /// H: attention heads; must divide D.
    pub n_heads: usize,
    /// Encoder layers over time.
    pub n_layers: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Dropout probability during training.
    pub dropout: f64,
}

impl ModelConfig {
    /// The shape of the default model (`models/spy-15m-h4/train.toml`): 5 timeframes × 32 steps × 20 features,
    /// patches of 8, d_model 32, 4 heads, 2 layers, FFN 64, no dropout. Benchmarks and tests use it as the
    /// reference shape.
    pub fn reference() -> Self {
        Self {
            timeframes: 5,
            lookback: 32,
            features: mtf_features::spec::N_FEATURES,
            patch_len: 8,
            d_model: 32,
            n_heads: 4,
            n_layers: 2,
            d_ff: 64,
            dropout: 0.0,
        }
    }

    /// Checks the shape constraints.
    ///
    /// # Errors
    /// [`ConfigError`] naming the violated constraint.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let pos = [
            ("timeframes", self.timeframes),
            ("lookback", self.lookback),
            ("features", self.features),
            ("patch_len", self.patch_len),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
        ];
        if let Some((name, _)) = pos.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::NotPositive(name));
        }
        if !self.lookback.is_multiple_of(self.patch_len) {
            return Err(ConfigError::PatchLen { patch_len: self.patch_len, lookback: self.lookback });
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(ConfigError::Heads { n_heads: self.n_heads, d_model: self.d_model });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::Dropout(self.dropout));
        }
        Ok(())
    }

    /// N: patches per timeframe.
    pub fn patches(&self) -> usize {
        self.lookback / self.patch_len
    }

    /// Floating-point operations of one prediction's forward pass (multiply and add counted separately;
    /// matrix products only — norms, softmax and activations add a few percent).
    pub fn flops(&self) -> u64 {
        let (k, n, d, ff) = (self.timeframes as u64, self.patches() as u64, self.d_model as u64, self.d_ff as u64);
        let tokens = k * n;
        let patch = tokens * 2 * (self.patch_len * self.features) as u64 * d;
        let attn_layer = tokens * 2 * 4 * d * d + k * 2 * 2 * n * n * d;
        let ffn_layer = tokens * 2 * 2 * d * ff;
        let encoder = self.n_layers as u64 * (attn_layer + ffn_layer);
        // Pooling: K and V over every token, Q and the output projection for one query per timeframe.
        let pool = tokens * 2 * 2 * d * d + k * 2 * 2 * d * d + k * 2 * 2 * n * d;
        let cross = k * 2 * 2 * d * d + 2 * 2 * d * d + 2 * 2 * k * d;
        let heads = 2 * 2 * d * 3;
        patch + encoder + pool + cross + heads
    }

    /// Builds the model with weights drawn from `seed`: the same seed gives the same weights, also when other
    /// threads draw random numbers (burn's generator is process-wide, so seeding and drawing hold a lock).
    ///
    /// # Errors
    /// As [`ModelConfig::validate`].
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Result<MtfModel, ConfigError> {
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        device.seed(seed);
        self.init(device)
    }

    /// Builds the model with random weights on `device` (see [`ModelConfig::init_seeded`] for reproducibility).
    ///
    /// # Errors
    /// As [`ModelConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<MtfModel, ConfigError> {
        self.validate()?;
        let d = self.d_model;
        let mha = || MultiHeadAttentionConfig::new(d, self.n_heads).with_dropout(self.dropout).init(device);
        let small = Initializer::Normal { mean: 0.0, std: 0.02 };
        Ok(MtfModel {
            patch_proj: (0..self.timeframes)
                .map(|_| LinearConfig::new(self.patch_len * self.features, d).init(device))
                .collect(),
            tf_embed: small.init([self.timeframes, d], device),
            pos_embed: small.init([self.patches(), d], device),
            layers: (0..self.n_layers)
                .map(|_| EncoderLayer {
                    norm_attn: LayerNormConfig::new(d).init(device),
                    attn: mha(),
                    norm_ff: LayerNormConfig::new(d).init(device),
                    ff_in: LinearConfig::new(d, self.d_ff).init(device),
                    ff_out: LinearConfig::new(self.d_ff, d).init(device),
                })
                .collect(),
            pool_query: small.init([1, d], device),
            pool: mha(),
            cross_query: small.init([1, d], device),
            cross: mha(),
            norm_out: LayerNormConfig::new(d).init(device),
            quantile_head: LinearConfig::new(d, 3).init(device),
            class_head: LinearConfig::new(d, 3).init(device),
            config: self.clone(),
        })
    }
}

/// One pre-norm encoder layer over time.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    norm_attn: LayerNorm,
    attn: MultiHeadAttention,
    norm_ff: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
}

impl EncoderLayer {
    /// `x`: `[B·K, N, D]`; `pad`: `[B·K, N]`, true where the patch is absent.
    fn forward(&self, x: Tensor<3>, pad: Tensor<2, Bool>) -> Tensor<3> {
        let a = self.attn.forward(MhaInput::self_attn(self.norm_attn.forward(x.clone())).mask_pad(pad)).context;
        let x = x + a;
        let f = self.ff_out.forward(relu(self.ff_in.forward(self.norm_ff.forward(x.clone()))));
        x + f
    }
}

/// The model.
#[derive(Module, Debug)]
pub struct MtfModel {
    patch_proj: Vec<Linear>,
    tf_embed: Param<Tensor<2>>,
    pos_embed: Param<Tensor<2>>,
    layers: Vec<EncoderLayer>,
    pool_query: Param<Tensor<2>>,
    pool: MultiHeadAttention,
    cross_query: Param<Tensor<2>>,
    cross: MultiHeadAttention,
    norm_out: LayerNorm,
    quantile_head: Linear,
    class_head: Linear,
    #[module(skip)]
    config: ModelConfig,
}

/// Model input.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// `[B, T, K, F]` normalised features (0 where masked).
    pub x: Tensor<4>,
    /// `[B, T, K]`, 1.0 where a complete bar with defined features is present, 0.0 otherwise.
    pub mask: Tensor<3>,
}

/// Model output.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[B, 3]`: q10, q50, q90 of the horizon log-return divided by the label scale; non-decreasing.
    pub quantiles: Tensor<2>,
    /// `[B, 3]`: logits of down, flat, up.
    pub logits: Tensor<2>,
    /// `[B, K]`: attention across timeframes, averaged over heads (sums to 1).
    pub attn_timeframes: Tensor<2>,
    /// `[B, K, T]`: attention over time within each timeframe, averaged over heads; each patch's weight is
    /// spread evenly over its P steps (each row sums to 1).
    pub attn_time: Tensor<3>,
}

impl MtfModel {
    /// The configuration the model was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Forward pass. See the module docs for the shapes.
    pub fn forward(&self, input: ModelInput) -> ModelOutput {
        let cfg = &self.config;
        let [b, t, k, f] = input.x.dims();
        let (p, d) = (cfg.patch_len, cfg.d_model);
        let n = t / p;
        // [B, T, K, F] → [B, K, T, F] → [B, K, N, P·F]
        let xk = input.x.swap_dims(1, 2).reshape([b, k, n, p * f]);
        let present = input.mask.swap_dims(1, 2).reshape([b, k, n, p]).sum_dim(3).reshape([b, k, n]);
        let patch_present = present.clone().greater_elem(0.0);
        let tokens: Vec<Tensor<3>> = self
            .patch_proj
            .iter()
            .enumerate()
            .map(|(ki, proj)| proj.forward(xk.clone().narrow(1, ki, 1).reshape([b, n, p * f])))
            .collect();
        let h: Tensor<4> = Tensor::stack(tokens, 1);
        let h = h + self.tf_embed.val().reshape([1, k, 1, d]) + self.pos_embed.val().reshape([1, 1, n, d]);
        let mut h = h.reshape([b * k, n, d]);
        let pad = patch_present.clone().bool_not().reshape([b * k, n]);
        for layer in &self.layers {
            h = layer.forward(h, pad.clone());
        }
        let q = self.pool_query.val().reshape([1, 1, d]).repeat_dim(0, b * k);
        let pooled = self.pool.forward(MhaInput::new(q, h.clone(), h).mask_pad(pad));
        let summaries = pooled.context.reshape([b, k, d]);
        let attn_time = pooled.weights.mean_dim(1).reshape([b, k, n, 1]).repeat_dim(3, p).reshape([b, k, t]) / p as f64;
        let tf_pad = present.sum_dim(2).reshape([b, k]).lower_equal_elem(0.0);
        let q = self.cross_query.val().reshape([1, 1, d]).repeat_dim(0, b);
        let cross = self.cross.forward(MhaInput::new(q, summaries.clone(), summaries).mask_pad(tf_pad));
        let attn_timeframes = cross.weights.mean_dim(1).reshape([b, k]);
        let z = self.norm_out.forward(cross.context.reshape([b, d]));
        let raw = self.quantile_head.forward(z.clone());
        let mid = raw.clone().narrow(1, 1, 1);
        let lo = mid.clone() - softplus(raw.clone().narrow(1, 0, 1), 1.0);
        let hi = mid.clone() + softplus(raw.narrow(1, 2, 1), 1.0);
        ModelOutput {
            quantiles: Tensor::cat(vec![lo, mid, hi], 1),
            logits: self.class_head.forward(z),
            attn_timeframes,
            attn_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> ModelConfig {
        ModelConfig {
            timeframes: 3,
            lookback: 16,
            features: 5,
            patch_len: 4,
            d_model: 16,
            n_heads: 2,
            n_layers: 1,
            d_ff: 32,
            dropout: 0.0,
        }
    }

    fn input(cfg: &ModelConfig, b: usize, mask: impl Fn(usize, usize, usize) -> f32, device: &Device) -> ModelInput {
        let (t, k, f) = (cfg.lookback, cfg.timeframes, cfg.features);
        let x: Vec<f32> = (0..b * t * k * f).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        let m: Vec<f32> = (0..b)
            .flat_map(|bi| (0..t).flat_map(move |ti| (0..k).map(move |ki| (bi, ti, ki))))
            .map(|(bi, ti, ki)| mask(bi, ti, ki))
            .collect();
        ModelInput {
            x: Tensor::from_data(TensorData::new(x, [b, t, k, f]), device),
            mask: Tensor::from_data(TensorData::new(m, [b, t, k]), device),
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn shapes_ordering_and_attention_sums() {
        let device = Device::flex();
        let cfg = tiny();
        let model = cfg.init_seeded(&device, 1).unwrap();
        let out = model.forward(input(&cfg, 2, |_, _, _| 1.0, &device));
        assert_eq!(out.quantiles.dims(), [2, 3]);
        assert_eq!(out.logits.dims(), [2, 3]);
        assert_eq!(out.attn_timeframes.dims(), [2, 3]);
        assert_eq!(out.attn_time.dims(), [2, 3, 16]);
        let q = values(out.quantiles);
        for s in q.chunks(3) {
            assert!(s[0] <= s[1] && s[1] <= s[2], "quantiles cross: {s:?}");
        }
        for row in values(out.attn_timeframes).chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        for row in values(out.attn_time).chunks(16) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn masked_timeframes_and_samples_stay_finite_and_get_no_attention() {
        let device = Device::flex();
        let cfg = tiny();
        let model = cfg.init_seeded(&device, 2).unwrap();
        // Sample 0: timeframe 1 fully masked and the first half of timeframe 0 masked. Sample 1: everything masked.
        let out = model.forward(input(
            &cfg,
            2,
            |b, t, k| if b == 1 || k == 1 || (k == 0 && t < 8) { 0.0 } else { 1.0 },
            &device,
        ));
        for v in values(out.quantiles.clone()).into_iter().chain(values(out.logits.clone())) {
            assert!(v.is_finite());
        }
        let a = values(out.attn_timeframes);
        assert!(a[1] < 1e-6, "a fully masked timeframe gets no attention: {a:?}");
        let time = values(out.attn_time);
        assert!(time[..8].iter().all(|&w| w < 1e-6), "masked patches get no attention: {:?}", &time[..16]);
        assert!(time.iter().all(|w| w.is_finite()));
    }

    #[test]
    fn flops_of_the_default_shape() {
        let c = ModelConfig::reference();
        // Patch projection 20 tokens · 2·160·32 = 204,800; per layer 20·2·4·1024 + 5·2·2·16·32 + 20·2·2·32·64
        // = 163,840 + 10,240 + 163,840; pooling 20·4096 + 5·4096 + 5·512; cross 5·4096 + 4096 + 640; heads 384.
        let expected =
            204_800 + 2 * (163_840 + 10_240 + 163_840) + (81_920 + 20_480 + 2_560) + (20_480 + 4_096 + 640) + 384;
        assert_eq!(c.flops(), expected);
    }

    #[test]
    fn invalid_configs_are_errors() {
        let mut c = tiny();
        c.patch_len = 5;
        assert!(c.validate().unwrap_err().to_string().contains("patch_len 5 must divide lookback 16"));
        let mut c = tiny();
        c.n_heads = 3;
        assert!(c.validate().unwrap_err().to_string().contains("n_heads"));
        let mut c = tiny();
        c.d_model = 0;
        assert!(c.validate().is_err());
    }
}
