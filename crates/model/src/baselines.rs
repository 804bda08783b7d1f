//! Baselines evaluated in the same run as the model, on the same samples and features:
//! persistence (no change), the training majority class, ridge regression and multinomial logistic regression
//! on the last complete bar's normalised features of every timeframe (K·F inputs), and two volatility bands
//! ([`crate::volatility`]): `realised_vol` (trailing realised volatility of the last session) and `har_vol`
//! (a HAR-style log-linear volatility model). Those two predict the band only: their median is the standardised
//! training median, their direction probabilities the training class frequencies (climatology).
//!
//! Hyperparameters are fixed (ridge λ = 1.0, logistic L2 = 1e-3, 300 full-batch gradient steps, HAR ridge
//! λ = 1.0): nothing is tuned on evaluation data.

use crate::calibration::signal;
use crate::data::Targets;
use crate::metrics::Scored;
use crate::volatility::{Context, VolBand};

/// z for the 10 % / 90 % quantiles of a normal distribution.
const Z90: f64 = 1.281_551_565_544_600_5;

/// The last step of every timeframe: `[N][K·F]` (0 where masked).
pub fn last_step_features(x: &[f32], shape: [usize; 3], n: usize) -> Vec<Vec<f64>> {
    let [t, k, f] = shape;
    (0..n)
        .map(|i| x[i * t * k * f + (t - 1) * k * f..i * t * k * f + t * k * f].iter().map(|&v| f64::from(v)).collect())
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

fn normal_cdf(x: f64) -> f64 {
    // Abramowitz–Stegun 7.1.26 via erf; accurate to ~1e-7, enough for class probabilities.
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t + 0.254_829_592)
            * t
            * (-z * z).exp();
    0.5 * (1.0 + if z >= 0.0 { y } else { -y })
}

/// Scored predictions of every baseline, in a fixed order of names.
pub struct BaselineScores {
    /// `(name, predictions)`: persistence, majority, ridge, logistic, realised_vol, har_vol, and (with at least
    /// [`crate::gbdt::MIN_ROWS`] training rows) gbdt_quantile.
    pub by_name: Vec<(&'static str, Vec<Scored>)>,
}

/// One side (training or evaluation) of a baseline fit: rows in the same order in every field.
pub struct Rows<'a> {
    /// Last-step features ([`last_step_features`]).
    pub x: &'a [Vec<f64>],
    /// Labels (log returns).
    pub y: &'a [f64],
    /// Volatility context of each row ([`crate::volatility::contexts`]).
    pub ctx: &'a [Context],
    /// Close at each row's instant (evaluation rows; may be empty for training rows).
    pub close: &'a [f64],
    /// Symbol of each row (index into the prepared parts; may be empty for training rows).
    pub part: &'a [usize],
}

/// Fits every baseline on the `train` rows and scores the `eval` rows; `targets` from the training labels,
/// `horizon` in base bars.
pub fn run(train: &Rows<'_>, targets: &Targets, eval: &Rows<'_>, horizon: usize) -> BaselineScores {
    let (train_x, train_y, eval_x, eval_y) = (train.x, train.y, eval.x, eval.y);
    let classes: Vec<usize> = train_y.iter().map(|&r| targets.class_of(r)).collect();
    let mut freq = [0.0; 3];
    for &c in &classes {
        freq[c] += 1.0 / classes.len().max(1) as f64;
    }
    let mut sorted = train_y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (q10, q90) = (quantile(&sorted, 0.1), quantile(&sorted, 0.9));
    let majority = (0..3).max_by(|&a, &b| freq[a].total_cmp(&freq[b])).unwrap_or(1);
    let scored = |q: [f64; 3], probs: [f64; 3], i: usize| {
        let (s, conf) = signal(probs);
        let c = eval.ctx.get(i);
        Scored {
            part: eval.part.get(i).copied().unwrap_or(0),
            bucket: c.map_or(crate::volatility::NO_BUCKET, |c| c.bucket),
            trailing_vol: c.map_or(f64::NAN, |c| c.trailing[1]),
            ..Scored::plain(q, probs, s.direction() * conf, eval_y[i], targets.class_of(eval_y[i]), eval.close[i])
        }
    };
    let persistence = (0..eval_y.len()).map(|i| scored([q10, 0.0, q90], freq, i)).collect();
    let mut onehot = [0.0; 3];
    onehot[majority] = 1.0;
    let majority_scores = (0..eval_y.len()).map(|i| scored([q10, 0.0, q90], onehot, i)).collect();

    let ridge = Ridge::fit(train_x, train_y, 1.0);
    let resid: Vec<f64> = train_x.iter().zip(train_y).map(|(x, y)| y - ridge.predict(x)).collect();
    let sd = (resid.iter().map(|r| r * r).sum::<f64>() / resid.len().max(1) as f64).sqrt().max(1e-12);
    let band = targets.flat_band;
    let ridge_scores = (0..eval_y.len())
        .map(|i| {
            let m = ridge.predict(&eval_x[i]);
            let down = normal_cdf((-band - m) / sd);
            let up = 1.0 - normal_cdf((band - m) / sd);
            scored([m - Z90 * sd, m, m + Z90 * sd], [down, (1.0 - down - up).max(0.0), up], i)
        })
        .collect();

    let logistic = Logistic::fit(train_x, &classes, 1e-3, 300);
    let logistic_scores = (0..eval_y.len()).map(|i| scored([q10, 0.0, q90], logistic.probs(&eval_x[i]), i)).collect();

    let vol = |band: VolBand| -> Vec<Scored> {
        (0..eval_y.len()).map(|i| scored(band.quantiles(&eval.ctx[i]), freq, i)).collect()
    };
    let realised = vol(VolBand::trailing(train.ctx, train_y, horizon));
    let har_band = VolBand::har(train.ctx, train_y, horizon);
    let gbdt = gbdt_quantiles(train, eval, &har_band, targets.label_scale)
        .map(|q| (0..eval_y.len()).map(|i| scored(q[i], freq, i)).collect::<Vec<_>>());
    let har = vol(har_band);

    let mut by_name = vec![
        ("persistence", persistence),
        ("majority", majority_scores),
        ("ridge", ridge_scores),
        ("logistic", logistic_scores),
        ("realised_vol", realised),
        ("har_vol", har),
    ];
    if let Some(g) = gbdt {
        by_name.push(("gbdt_quantile", g));
    }
    BaselineScores { by_name }
}

/// The `gbdt_quantile` baseline's q10/q50/q90 for every evaluation row ([`crate::gbdt`]): inputs are the same
/// last-step features as ridge plus the four HAR regressors, so the trees see what the volatility baselines
/// see; labels are divided by the training label scale for fitting and multiplied back; the three predictions
/// are sorted so the quantiles never cross. `None` with too few training rows.
fn gbdt_quantiles(train: &Rows<'_>, eval: &Rows<'_>, har: &VolBand, scale: f64) -> Option<Vec<[f64; 3]>> {
    if train.x.len() < crate::gbdt::MIN_ROWS || eval.x.is_empty() {
        return None;
    }
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let rows = |r: &Rows<'_>| -> Vec<Vec<f64>> {
        r.x.iter().zip(r.ctx).map(|(x, c)| x.iter().copied().chain(har.regressors(c)).collect()).collect()
    };
    let (tx, ex) = (rows(train), rows(eval));
    let y: Vec<f64> = train.y.iter().map(|v| v / scale).collect();
    let cfg = crate::gbdt::Config::default();
    let models = [0.1, 0.5, 0.9].map(|tau| crate::gbdt::QuantileBoost::fit(&tx, &y, tau, &cfg));
    Some(
        ex.iter()
            .map(|x| {
                let mut q = [0, 1, 2].map(|k| models[k].predict(x) * scale);
                q.sort_by(f64::total_cmp);
                q
            })
            .collect(),
    )
}

/// Ridge regression with an unpenalised intercept.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ridge {
    w: Vec<f64>,
    b: f64,
}

impl Ridge {
    /// Solves `(XcᵀXc + λI) w = Xcᵀ(y − ȳ)` on centred inputs by Cholesky.
    pub fn fit(x: &[Vec<f64>], y: &[f64], lambda: f64) -> Self {
        let n = x.len();
        let d = x.first().map_or(0, Vec::len);
        if n == 0 || d == 0 {
            return Self { w: vec![0.0; d], b: y.iter().sum::<f64>() / n.max(1) as f64 };
        }
        let mx: Vec<f64> = (0..d).map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n as f64).collect();
        let my = y.iter().sum::<f64>() / n as f64;
        let mut a = vec![0.0; d * d];
        let mut rhs = vec![0.0; d];
        for (r, &yi) in x.iter().zip(y) {
            for i in 0..d {
                let xi = r[i] - mx[i];
                rhs[i] += xi * (yi - my);
                for j in 0..=i {
                    a[i * d + j] += xi * (r[j] - mx[j]);
                }
            }
        }
        for i in 0..d {
            a[i * d + i] += lambda;
        }
        // Cholesky: a = L Lᵀ (lower triangle in place).
        for j in 0..d {
            let mut s = a[j * d + j];
            for k in 0..j {
                s -= a[j * d + k] * a[j * d + k];
            }
            let l = s.max(1e-300).sqrt();
            a[j * d + j] = l;
            for i in j + 1..d {
                let mut s = a[i * d + j];
                for k in 0..j {
                    s -= a[i * d + k] * a[j * d + k];
                }
                a[i * d + j] = s / l;
            }
        }
        let mut z = rhs;
        for i in 0..d {
            for k in 0..i {
                z[i] -= a[i * d + k] * z[k];
            }
            z[i] /= a[i * d + i];
        }
        for i in (0..d).rev() {
            for k in i + 1..d {
                z[i] -= a[k * d + i] * z[k];
            }
            z[i] /= a[i * d + i];
        }
        let b = my - z.iter().zip(&mx).map(|(w, m)| w * m).sum::<f64>();
        Self { w: z, b }
    }
    /// Prediction for one row.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.b + self.w.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
}

/// Multinomial logistic regression by full-batch gradient descent.
pub struct Logistic {
    w: [Vec<f64>; 3],
    b: [f64; 3],
}

impl Logistic {
    /// Fits with L2 penalty `l2` for `iters` steps of size 0.5.
    pub fn fit(x: &[Vec<f64>], classes: &[usize], l2: f64, iters: usize) -> Self {
        let d = x.first().map_or(0, Vec::len);
        let mut m = Self { w: [vec![0.0; d], vec![0.0; d], vec![0.0; d]], b: [0.0; 3] };
        let n = x.len().max(1) as f64;
        for _ in 0..iters {
            let mut gw = [vec![0.0; d], vec![0.0; d], vec![0.0; d]];
            let mut gb = [0.0; 3];
            for (r, &c) in x.iter().zip(classes) {
                let p = m.probs(r);
                for k in 0..3 {
                    let e = p[k] - if k == c { 1.0 } else { 0.0 };
                    gb[k] += e;
                    for (g, v) in gw[k].iter_mut().zip(r) {
                        *g += e * v;
                    }
                }
            }
            for k in 0..3 {
                m.b[k] -= 0.5 * gb[k] / n;
                for (w, g) in m.w[k].iter_mut().zip(&gw[k]) {
                    *w -= 0.5 * (g / n + l2 * *w);
                }
            }
        }
        m
    }
    /// Class probabilities for one row.
    pub fn probs(&self, x: &[f64]) -> [f64; 3] {
        let logits = [0, 1, 2].map(|k| self.b[k] + self.w[k].iter().zip(x).map(|(w, v)| w * v).sum::<f64>());
        crate::calibration::probabilities(logits, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_a_linear_function() {
        let x: Vec<Vec<f64>> = (0..200).map(|i| vec![(i % 17) as f64 / 17.0, (i % 7) as f64 / 7.0]).collect();
        let y: Vec<f64> = x.iter().map(|r| 0.5 + 2.0 * r[0] - 1.0 * r[1]).collect();
        let m = Ridge::fit(&x, &y, 1e-9);
        assert!((m.predict(&[0.3, 0.6]) - (0.5 + 0.6 - 0.6)).abs() < 1e-6);
    }

    #[test]
    fn logistic_separates_classes() {
        let x: Vec<Vec<f64>> =
            (0..300).map(|i| vec![(i % 3) as f64 - 1.0 + 0.1 * ((i * 7 % 11) as f64 / 11.0)]).collect();
        let c: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let m = Logistic::fit(&x, &c, 0.0, 500);
        assert!(m.probs(&[-1.0])[0] > 0.6 && m.probs(&[1.0])[2] > 0.6);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-9);
        assert!((normal_cdf(Z90) - 0.9).abs() < 1e-6);
        assert!((normal_cdf(-1.96) - 0.025).abs() < 1e-4);
    }
}
