//! Supervised data: windows as of each sample's prediction instant, labels, and the train-only target
//! statistics (label scale and the flat band of the direction classes).

use mtf_features::frames::{FeatureError, MultiTimeframe};
use mtf_features::normalize::{NormError, NormStats};
use mtf_features::window::{Windows, build_windows};
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};
use serde::{Deserialize, Serialize};

use crate::labels::{LabelConfig, Sample, TargetScale, make_samples};
use crate::volatility::{Context, VolBand, VolInputs};

/// What the model sees and predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// Input timeframes, in window order.
    pub timeframes: Vec<Timeframe>,
    /// T: steps per timeframe.
    pub lookback: usize,
    /// The timeframe whose bar ends are prediction instants and whose bars count the horizon.
    pub base: Timeframe,
    /// Horizon and overnight policy.
    pub labels: LabelConfig,
    /// Session filter for intraday bars.
    #[serde(default)]
    pub session: SessionFilter,
}

impl DataSpec {
    /// What the model predicts: minutes ahead, base-bar minutes × label horizon ([`Timeframe::minutes`]: a day
    /// counts 1440). The edge keeps one active model per value.
    #[must_use]
    pub fn horizon_minutes(&self) -> i64 {
        self.base.minutes() * self.labels.horizon as i64
    }
}

/// Why data cannot be prepared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// Feature computation failed.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Normalisation failed.
    #[error(transparent)]
    Norm(#[from] NormError),
    /// The base timeframe is not among the inputs.
    #[error("base timeframe {0} must be one of the input timeframes")]
    BaseNotInput(Timeframe),
    /// One symbol's bars cannot make the requested timeframes.
    #[error("{symbol}: {message}")]
    Symbol {
        /// The symbol.
        symbol: String,
        /// What is wrong.
        message: String,
    },
    /// No samples.
    #[error("no labelled samples: the data is too short for the horizon (or every horizon crosses a session)")]
    NoSamples,
}

/// One symbol's features.
#[derive(Debug, Clone)]
pub struct Part {
    /// The symbol (empty when the data came without one, e.g. a single CSV file).
    pub symbol: String,
    /// Features per timeframe.
    pub mtf: MultiTimeframe,
}

/// Features of every timeframe plus the labelled samples, of one symbol or pooled over several.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The spec.
    pub spec: DataSpec,
    /// Per symbol (one for single-symbol data).
    pub parts: Vec<Part>,
    /// Samples in time order (by prediction instant, then part); `part` says whose.
    pub samples: Vec<Sample>,
}

impl Prepared {
    /// Computes features and samples from 1-minute bars (and optional daily bars for `1d`).
    ///
    /// # Errors
    /// [`DataError`].
    pub fn new(minutes: &[Bar], daily: Option<&[Bar]>, spec: &DataSpec) -> Result<Self, DataError> {
        let mtf = MultiTimeframe::from_minutes(minutes, daily, &spec.timeframes, spec.session)?;
        Self::from_parts(vec![Part { symbol: String::new(), mtf }], spec)
    }

    /// Pools symbols: each symbol's bars keyed by timeframe (any bar size; missing timeframes are resampled
    /// from the finest given, [`MultiTimeframe::from_bars`]). Samples of all symbols are merged in time order
    /// and their `base_index` is put on the common clock, so walk-forward folds split by time across symbols.
    ///
    /// # Errors
    /// [`DataError`], naming the symbol when its features cannot be computed.
    pub fn pooled(
        symbols: &[(String, std::collections::BTreeMap<Timeframe, Vec<Bar>>)],
        spec: &DataSpec,
    ) -> Result<Self, DataError> {
        let mut parts = Vec::with_capacity(symbols.len());
        for (symbol, given) in symbols {
            let mtf = MultiTimeframe::from_bars(given, &spec.timeframes, spec.session)
                .map_err(|e| DataError::Symbol { symbol: symbol.clone(), message: e.to_string() })?;
            parts.push(Part { symbol: symbol.clone(), mtf });
        }
        Self::from_parts(parts, spec)
    }

    fn from_parts(parts: Vec<Part>, spec: &DataSpec) -> Result<Self, DataError> {
        let k = spec.timeframes.iter().position(|&t| t == spec.base).ok_or(DataError::BaseNotInput(spec.base))?;
        // The common clock: every base bar end of every part.
        let mut clock: Vec<i64> = parts.iter().flat_map(|p| p.mtf.frames[k].series.ends_ms().iter().copied()).collect();
        clock.sort_unstable();
        clock.dedup();
        let mut samples = Vec::new();
        for (pi, p) in parts.iter().enumerate() {
            let series = &p.mtf.frames[k].series;
            let ends = series.ends_ms();
            for mut s in make_samples(series, &spec.labels) {
                s.part = pi;
                s.base_index = clock.partition_point(|&t| t < ends[s.base_index]);
                samples.push(s);
            }
        }
        samples.sort_by_key(|s| (s.at, s.part));
        if samples.is_empty() {
            return Err(DataError::NoSamples);
        }
        Ok(Self { spec: spec.clone(), parts, samples })
    }

    /// The symbols, in part order.
    pub fn symbols(&self) -> Vec<String> {
        self.parts.iter().map(|p| p.symbol.clone()).collect()
    }

    /// Normalised windows for the samples at `idx` (in that order), each from its own symbol's features.
    ///
    /// # Errors
    /// [`NormError::Mismatch`] when `norm` belongs to other timeframes or another feature spec.
    pub fn windows(&self, idx: &[usize], norm: &NormStats) -> Result<Windows, NormError> {
        if let [only] = self.parts.as_slice() {
            let instants: Vec<_> = idx.iter().map(|&i| self.samples[i].at).collect();
            return build_windows(&only.mtf, &instants, self.spec.lookback, Some(norm));
        }
        let mut out: Option<Windows> = None;
        for (pi, part) in self.parts.iter().enumerate() {
            let at: Vec<usize> = (0..idx.len()).filter(|&j| self.samples[idx[j]].part == pi).collect();
            if at.is_empty() {
                continue;
            }
            let instants: Vec<_> = at.iter().map(|&j| self.samples[idx[j]].at).collect();
            let w = build_windows(&part.mtf, &instants, self.spec.lookback, Some(norm))?;
            let o = out.get_or_insert_with(|| Windows {
                batch: idx.len(),
                lookback: w.lookback,
                timeframes: w.timeframes,
                features: w.features,
                values: vec![0.0; idx.len() * w.lookback * w.timeframes * w.features],
                mask: vec![0; idx.len() * w.lookback * w.timeframes],
            });
            let (vs, ms) = (w.lookback * w.timeframes * w.features, w.lookback * w.timeframes);
            for (r, &j) in at.iter().enumerate() {
                o.values[j * vs..(j + 1) * vs].copy_from_slice(&w.values[r * vs..(r + 1) * vs]);
                o.mask[j * ms..(j + 1) * ms].copy_from_slice(&w.mask[r * ms..(r + 1) * ms]);
            }
        }
        match out {
            Some(w) => Ok(w),
            None => build_windows(&self.parts[0].mtf, &[], self.spec.lookback, Some(norm)),
        }
    }

    /// Normalisation statistics from the rows of every symbol complete by `train_end` (train-only statistics).
    ///
    /// # Errors
    /// As [`NormStats::fit`].
    pub fn fit_norm(&self, train_end: chrono::DateTime<chrono::Utc>, clip: f64) -> Result<NormStats, NormError> {
        let all: Vec<usize> = (0..self.parts.len()).collect();
        self.fit_norm_parts(&all, train_end, clip)
    }

    /// [`Prepared::fit_norm`] over some parts only (held-out symbols stay out of the statistics).
    ///
    /// # Errors
    /// As [`NormStats::fit`].
    pub fn fit_norm_parts(
        &self,
        parts: &[usize],
        train_end: chrono::DateTime<chrono::Utc>,
        clip: f64,
    ) -> Result<NormStats, NormError> {
        let mtfs: Vec<&MultiTimeframe> = parts.iter().filter_map(|&k| self.parts.get(k)).map(|p| &p.mtf).collect();
        NormStats::fit_pooled(&mtfs, train_end, clip)
    }
}

/// Target statistics fit on training labels only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Population standard deviation of the training labels (log-return units); with a fixed target scale the
    /// model predicts label / scale.
    pub label_scale: f64,
    /// Half-width of the flat class (log-return units): the 1/3 quantile of |label| in training, so a third of
    /// training samples are flat.
    pub flat_band: f64,
    /// The volatility-scaled target ([`TargetScale::TrailingVol`], [`TargetScale::HarVol`]): the model predicts
    /// label / [`VolTarget::scale_of`] its sample's volatility inputs. Absent: a fixed scale (artifacts from before
    /// it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vol: Option<VolTarget>,
}

/// How a volatility-scaled target is scaled, fit on training samples only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolTarget {
    /// Horizon `h` in base bars.
    pub horizon: usize,
    /// `z`: population standard deviation of the standardised training labels `label / √(h·σ²)`.
    pub z: f64,
    /// Median per-bar variance σ² of the training samples: stands in where a sample has none.
    pub typical_var: f64,
    /// Floor of the variance, `typical_var / 20`: a flat window does not collapse the band.
    pub var_floor: f64,
    /// The HAR model whose predicted variance is σ² ([`TargetScale::HarVol`]); absent: σ² is the trailing variance
    /// over the medium window ([`TargetScale::TrailingVol`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub har: Option<VolBand>,
}

impl VolTarget {
    /// σ² of a sample before the floor: the HAR prediction, or the medium window's trailing variance.
    fn raw_variance(&self, v: &VolInputs) -> Option<f64> {
        match &self.har {
            Some(band) => Some(band.variance(&v.context())),
            None => v.trailing[1],
        }
        .filter(|x| x.is_finite())
    }

    /// `√(h·σ²)` of a sample (σ² floored; `typical_var` when it has none).
    #[must_use]
    pub fn sigma(&self, v: &VolInputs) -> f64 {
        let var = self.raw_variance(v).map_or(self.typical_var, |x| x.max(self.var_floor));
        (self.horizon.max(1) as f64 * var).sqrt()
    }

    /// The scale of a sample's target: `z · √(h·σ²)` (log-return units).
    #[must_use]
    pub fn scale_of(&self, v: &VolInputs) -> f64 {
        self.z * self.sigma(v)
    }
}

fn population_std(xs: &[f64]) -> f64 {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    if var > 0.0 && var.is_finite() { var.sqrt() } else { 1.0 }
}

impl Targets {
    /// Fits on training labels, with a fixed target scale.
    pub fn fit(labels: &[f64]) -> Self {
        let mut abs: Vec<f64> = labels.iter().map(|x| x.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let flat_band = abs.get(abs.len() / 3).copied().unwrap_or(0.0);
        Self { label_scale: population_std(labels), flat_band, vol: None }
    }

    /// Fits on training samples with the target scale of `cfg`; `ctx` holds the samples' [`Context`]s in the
    /// same order (the HAR model is fit on them, as the `har_vol` baseline is).
    pub fn fit_samples(samples: &[&Sample], ctx: &[Context], cfg: &LabelConfig) -> Self {
        let labels: Vec<f64> = samples.iter().map(|s| s.label).collect();
        let mut t = Self::fit(&labels);
        let har = match cfg.scale {
            TargetScale::Fixed => return t,
            TargetScale::TrailingVol => None,
            TargetScale::HarVol => Some(VolBand::har(ctx, &labels, cfg.horizon)),
        };
        let mut v = VolTarget { horizon: cfg.horizon, z: 1.0, typical_var: 0.0, var_floor: 0.0, har };
        let mut vars: Vec<f64> = samples.iter().filter_map(|s| v.raw_variance(&s.vol)).filter(|x| *x > 0.0).collect();
        vars.sort_by(f64::total_cmp);
        v.typical_var = vars.get(vars.len() / 2).copied().unwrap_or(t.label_scale * t.label_scale);
        v.var_floor = v.typical_var / 20.0;
        let z: Vec<f64> = samples.iter().map(|s| s.label / v.sigma(&s.vol)).collect();
        v.z = population_std(&z);
        t.vol = Some(v);
        t
    }

    /// What a sample's quantile target is divided by (and its decoded quantiles multiplied by): `label_scale`
    /// with a fixed scale, [`VolTarget::scale_of`] its volatility inputs with a volatility-scaled one.
    #[must_use]
    pub fn scale_of(&self, v: &VolInputs) -> f64 {
        self.vol.as_ref().map_or(self.label_scale, |t| t.scale_of(v))
    }

    /// Direction class of a log return: 0 down (< −band), 1 flat, 2 up (> band).
    pub fn class_of(&self, r: f64) -> usize {
        if r > self.flat_band {
            2
        } else if r < -self.flat_band {
            0
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_family = "wasm"))]
    mod pooled {
        use std::collections::BTreeMap;

        use chrono::NaiveDate;
        use mtf_market::resample::resample;
        use proptest::prelude::*;

        use super::*;
        use crate::labels::{LabelConfig, walk_forward};

        fn spec(horizon: usize) -> DataSpec {
            DataSpec {
                timeframes: vec![Timeframe::M15],
                lookback: 4,
                base: Timeframe::M15,
                labels: LabelConfig { horizon, cross_session: false, scale: Default::default() },
                session: SessionFilter::Regular,
            }
        }

        /// 15-minute bars of a random walk from `first_day`, with every `drop`-th bar missing (a thin name).
        fn symbol(first_day: u32, sessions: usize, seed: u64, drop: usize) -> BTreeMap<Timeframe, Vec<Bar>> {
            let day = NaiveDate::from_ymd_opt(2024, 1, first_day).unwrap();
            let m = mtf_market::synthetic::random_walk_minutes(day, sessions, 100.0, seed);
            let mut b = resample(&m, Timeframe::M1, Timeframe::M15, SessionFilter::Regular).unwrap();
            if drop > 1 {
                b = b.into_iter().enumerate().filter(|(i, _)| i % drop != 1).map(|(_, x)| x).collect();
            }
            BTreeMap::from([(Timeframe::M15, b)])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(16))]
            /// Pooled walk-forward folds split by time across symbols: every training label is known before the
            /// first prediction instant of its fold's block, whichever symbols either belongs to, and the block
            /// starts `embargo` steps of the common clock after the training inputs.
            #[test]
            fn pooled_folds_never_let_one_symbols_future_into_anothers_training(
                starts in proptest::collection::vec((2u32..9, 8usize..14, 0usize..6), 2..4),
                horizon in 1usize..4,
                extra_embargo in 0usize..3,
                seed in 0u64..1000,
            ) {
                let symbols: Vec<(String, BTreeMap<Timeframe, Vec<Bar>>)> = starts
                    .iter()
                    .enumerate()
                    .map(|(i, &(d, n, drop))| (format!("S{i}"), symbol(d, n, seed + i as u64, drop)))
                    .collect();
                let p = Prepared::pooled(&symbols, &spec(horizon)).unwrap();
                prop_assert!(p.samples.windows(2).all(|w| (w[0].at, w[0].part) <= (w[1].at, w[1].part)));
                let embargo = horizon + extra_embargo;
                let folds = match walk_forward(&p.samples, horizon, 3, 20, embargo, 10) {
                    Ok(f) => f,
                    Err(_) => return Ok(()), // too little data for these folds
                };
                for f in &folds {
                    let block = &p.samples[f.valid.clone()];
                    let first_at = block.iter().map(|s| s.at).min().unwrap();
                    let first_step = block[0].base_index;
                    for &i in &f.train {
                        let s = &p.samples[i];
                        prop_assert!(s.label_at <= first_at, "{} label at {} after block {}", p.parts[s.part].symbol, s.label_at, first_at);
                        prop_assert!(s.base_index + embargo <= first_step);
                    }
                }
                // Windows come from each sample's own symbol: the same as building that symbol alone.
                let idx: Vec<usize> = (0..p.samples.len()).step_by(7).collect();
                let norm = p.fit_norm(p.samples[p.samples.len() - 1].at, 5.0).unwrap();
                let w = p.windows(&idx, &norm).unwrap();
                let per = w.lookback * w.timeframes * w.features;
                for (j, &i) in idx.iter().enumerate() {
                    let s = p.samples[i];
                    let alone = build_windows(&p.parts[s.part].mtf, &[s.at], 4, Some(&norm)).unwrap();
                    let same = w.values[j * per..(j + 1) * per].iter().zip(&alone.values).all(|(a, b)| a.to_bits() == b.to_bits());
                    prop_assert!(same, "sample {} of {}", i, p.parts[s.part].symbol);
                }
            }
        }

        #[test]
        fn one_symbol_pooled_is_the_single_symbol_preparation() {
            let given = symbol(2, 10, 3, 0);
            let alone = Prepared::pooled(&[("X".into(), given.clone())], &spec(2)).unwrap();
            let mtf = MultiTimeframe::from_bars(&given, &spec(2).timeframes, SessionFilter::Regular).unwrap();
            let samples = make_samples(&mtf.frames[0].series, &spec(2).labels);
            assert_eq!(alone.samples, samples, "base_index on the common clock of one symbol is its bar index");
            let at = samples[samples.len() - 1].at;
            assert_eq!(alone.fit_norm(at, 5.0).unwrap(), NormStats::fit(&mtf, at, 5.0).unwrap());
        }
    }

    #[test]
    fn targets_split_a_third_flat_and_scale_by_std() {
        let labels: Vec<f64> = (0..300).map(|i| (i as f64 - 150.0) * 1e-4).collect();
        let t = Targets::fit(&labels);
        let flat = labels.iter().filter(|&&r| t.class_of(r) == 1).count();
        assert!((95..=105).contains(&flat), "{flat}");
        assert!((t.label_scale - 0.00866).abs() < 1e-4, "{}", t.label_scale);
        assert_eq!(t.class_of(1.0), 2);
        assert_eq!(t.class_of(-1.0), 0);
        assert_eq!(Targets::fit(&[0.0, 0.0]).label_scale, 1.0, "zero spread does not divide by zero");
    }
}
