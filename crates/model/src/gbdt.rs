//! Gradient-boosted regression trees with quantile (pinball) loss: the `gbdt_quantile` baseline.
//!
//! Friedman's gradient boosting ("Greedy function approximation", Ann. Statist. 2001, §4.6 for quantile
//! regression), the algorithm of scikit-learn's `GradientBoostingRegressor(loss="quantile")`: start from the
//! τ-quantile of the labels; each round fits a depth-limited tree to the negative gradient of the pinball loss
//! (`τ` where the label is above the current prediction, `τ − 1` below) by least squares, then sets each leaf
//! to the τ-quantile of the residuals of its rows, and adds it shrunk by the learning rate. Split candidates are
//! the per-feature quantile bin edges of the training rows (histogram boosting as in LightGBM), which keeps a
//! round O(rows × features).
//!
//! Written here because the maintained Rust GBM with a quantile objective (`perpetual`) needs a nightly
//! compiler; the hyperparameters are fixed ([`Config::default`]) and never tuned on evaluation data.
//! Deterministic: no sampling, ties broken by feature and bin order.

/// Fewer training rows than this and the baseline is not fit.
pub const MIN_ROWS: usize = 60;

/// Boosting settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Boosting rounds.
    pub rounds: usize,
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Tree depth (2^depth leaves at most).
    pub depth: usize,
    /// Minimum rows in a leaf.
    pub min_leaf: usize,
    /// Candidate split points per feature.
    pub bins: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { rounds: 100, learning_rate: 0.1, depth: 3, min_leaf: 20, bins: 32 }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(f64),
    Split { feature: usize, threshold: f64, left: Box<Node>, right: Box<Node> },
}

impl Node {
    fn eval(&self, x: &[f64]) -> f64 {
        match self {
            Node::Leaf(v) => *v,
            Node::Split { feature, threshold, left, right } => {
                if x.get(*feature).copied().unwrap_or(0.0) <= *threshold { left.eval(x) } else { right.eval(x) }
            }
        }
    }
}

/// A fitted quantile booster.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileBoost {
    base: f64,
    learning_rate: f64,
    trees: Vec<Node>,
}

/// τ-quantile of `v` (sorted in place), interpolating linearly; 0 for an empty slice.
fn quantile(v: &mut [f64], tau: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let pos = tau * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

impl QuantileBoost {
    /// Fits rows `x` (each of the same length; non-finite values read as 0) to labels `y` at quantile `tau`.
    #[must_use]
    #[allow(clippy::needless_range_loop)] // column-wise passes over row-major data read clearer with indices
    pub fn fit(x: &[Vec<f64>], y: &[f64], tau: f64, cfg: &Config) -> Self {
        let n = x.len().min(y.len());
        let d = x.first().map_or(0, Vec::len);
        let clean = |v: f64| if v.is_finite() { v } else { 0.0 };
        // Binned features: per feature the candidate thresholds, and each row's bin (value ≤ edge[b]).
        let mut edges: Vec<Vec<f64>> = Vec::with_capacity(d);
        let mut binned: Vec<Vec<u8>> = Vec::with_capacity(d);
        for j in 0..d {
            let mut col: Vec<f64> = (0..n).map(|i| clean(x[i][j])).collect();
            col.sort_by(f64::total_cmp);
            let mut e: Vec<f64> =
                (1..cfg.bins.max(2)).map(|b| col[(b * n / cfg.bins.max(2)).min(n.saturating_sub(1))]).collect();
            e.dedup();
            let bins: Vec<u8> =
                (0..n).map(|i| u8::try_from(e.partition_point(|&t| t < clean(x[i][j]))).unwrap_or(u8::MAX)).collect();
            edges.push(e);
            binned.push(bins);
        }
        let mut pred = vec![quantile(&mut y[..n].to_vec(), tau); n];
        let base = pred.first().copied().unwrap_or(0.0);
        let mut trees = Vec::with_capacity(cfg.rounds);
        let rows: Vec<usize> = (0..n).collect();
        for _ in 0..cfg.rounds {
            let grad: Vec<f64> = (0..n).map(|i| if y[i] > pred[i] { tau } else { tau - 1.0 }).collect();
            let resid: Vec<f64> = (0..n).map(|i| y[i] - pred[i]).collect();
            let tree = grow(&rows, &grad, &resid, &binned, &edges, tau, cfg, cfg.depth);
            for i in 0..n {
                pred[i] += cfg.learning_rate * tree.eval_binned(i, &binned);
            }
            trees.push(tree.node);
        }
        Self { base, learning_rate: cfg.learning_rate, trees }
    }

    /// The predicted τ-quantile for one row.
    #[must_use]
    pub fn predict(&self, x: &[f64]) -> f64 {
        let clean: Vec<f64> = x.iter().map(|&v| if v.is_finite() { v } else { 0.0 }).collect();
        self.base + self.learning_rate * self.trees.iter().map(|t| t.eval(&clean)).sum::<f64>()
    }
}

/// A tree while boosting: the node and, for the training rows, the same structure on bins.
struct Grown {
    node: Node,
    binned: BinnedNode,
}

enum BinnedNode {
    Leaf(f64),
    Split { feature: usize, bin: u8, left: Box<BinnedNode>, right: Box<BinnedNode> },
}

impl Grown {
    fn eval_binned(&self, i: usize, binned: &[Vec<u8>]) -> f64 {
        let mut n = &self.binned;
        loop {
            match n {
                BinnedNode::Leaf(v) => return *v,
                BinnedNode::Split { feature, bin, left, right } => {
                    n = if binned[*feature][i] <= *bin { left } else { right };
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn grow(
    rows: &[usize],
    grad: &[f64],
    resid: &[f64],
    binned: &[Vec<u8>],
    edges: &[Vec<f64>],
    tau: f64,
    cfg: &Config,
    depth: usize,
) -> Grown {
    let leaf = || {
        let v = quantile(&mut rows.iter().map(|&i| resid[i]).collect::<Vec<_>>(), tau);
        Grown { node: Node::Leaf(v), binned: BinnedNode::Leaf(v) }
    };
    if depth == 0 || rows.len() < 2 * cfg.min_leaf.max(1) {
        return leaf();
    }
    let total: f64 = rows.iter().map(|&i| grad[i]).sum();
    let n = rows.len() as f64;
    // Best least-squares split of the gradient: maximise sum_L²/n_L + sum_R²/n_R.
    let mut best: Option<(f64, usize, u8)> = None;
    let parent = total * total / n;
    for (j, e) in edges.iter().enumerate() {
        let nb = e.len() + 1;
        let (mut sum, mut cnt) = (vec![0.0; nb], vec![0usize; nb]);
        for &i in rows {
            let b = usize::from(binned[j][i]).min(nb - 1);
            sum[b] += grad[i];
            cnt[b] += 1;
        }
        let (mut sl, mut cl) = (0.0, 0usize);
        for b in 0..nb - 1 {
            sl += sum[b];
            cl += cnt[b];
            let cr = rows.len() - cl;
            if cl < cfg.min_leaf || cr < cfg.min_leaf {
                continue;
            }
            let sr = total - sl;
            let gain = sl * sl / cl as f64 + sr * sr / cr as f64 - parent;
            if gain > 1e-12 && best.is_none_or(|(g, _, _)| gain > g) {
                best = Some((gain, j, u8::try_from(b).unwrap_or(u8::MAX)));
            }
        }
    }
    let Some((_, feature, bin)) = best else { return leaf() };
    let (l, r): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| binned[feature][i] <= bin);
    let (gl, gr) = (
        grow(&l, grad, resid, binned, edges, tau, cfg, depth - 1),
        grow(&r, grad, resid, binned, edges, tau, cfg, depth - 1),
    );
    Grown {
        node: Node::Split {
            feature,
            threshold: edges[feature][usize::from(bin)],
            left: Box::new(gl.node),
            right: Box::new(gr.node),
        },
        binned: BinnedNode::Split { feature, bin, left: Box::new(gl.binned), right: Box::new(gr.binned) },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metrics::pinball;

    /// Heteroscedastic data: y = x0 + |x1|·e with e a deterministic spread in [−1, 1]; x2 is noise.
    fn data(n: usize, offset: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let frac = |i: usize, a: f64| ((i + offset) as f64 * a).fract();
        let x: Vec<Vec<f64>> =
            (0..n).map(|i| vec![frac(i, 0.754_877_666), frac(i, 0.569_840_29) * 4.0 - 2.0, frac(i, 0.3)]).collect();
        let y =
            x.iter().enumerate().map(|(i, r)| r[0] + r[1].abs() * (frac(i, 0.618_033_988_75) * 2.0 - 1.0)).collect();
        (x, y)
    }

    #[test]
    fn quantiles_follow_the_spread_and_beat_constant_quantiles_out_of_sample() {
        let (x, y) = data(2000, 0);
        let (xt, yt) = data(1000, 5000);
        for tau in [0.1, 0.5, 0.9] {
            let m = QuantileBoost::fit(&x, &y, tau, &Config::default());
            let below = xt.iter().zip(&yt).filter(|(r, v)| **v <= m.predict(r)).count() as f64 / yt.len() as f64;
            assert!((below - tau).abs() < 0.06, "τ {tau}: {below} of new outcomes below the predicted quantile");
            let constant = quantile(&mut y.clone(), tau);
            let loss = |f: &dyn Fn(&[f64]) -> f64| {
                xt.iter().zip(&yt).map(|(r, v)| pinball(f(r), tau, *v)).sum::<f64>() / yt.len() as f64
            };
            // The true τ-quantile: x0 + |x1|·(2τ − 1). The booster closes most of the gap from the constant to it.
            let truth = loss(&|r| r[0] + r[1].abs() * (2.0 * tau - 1.0));
            let (lm, lc) = (loss(&|r| m.predict(r)), loss(&|_| constant));
            assert!(lm - truth < 0.5 * (lc - truth), "τ {tau}: pinball {lm}, constant {lc}, true quantile {truth}");
        }
        // The q90 − q10 spread grows with |x1|.
        let q10 = QuantileBoost::fit(&x, &y, 0.1, &Config::default());
        let q90 = QuantileBoost::fit(&x, &y, 0.9, &Config::default());
        let width = |x1: f64| q90.predict(&[0.5, x1, 0.5]) - q10.predict(&[0.5, x1, 0.5]);
        assert!(width(1.8) > 2.0 * width(0.2), "{} vs {}", width(1.8), width(0.2));
    }

    #[test]
    fn fits_are_deterministic_and_tolerate_nan() {
        let (mut x, y) = data(300, 1);
        x[3][1] = f64::NAN;
        let a = QuantileBoost::fit(&x, &y, 0.9, &Config::default());
        let b = QuantileBoost::fit(&x, &y, 0.9, &Config::default());
        assert_eq!(a, b);
        assert!(a.predict(&[f64::NAN, 0.0, 0.0]).is_finite());
        // Too few rows for any split: the constant quantile.
        let c = QuantileBoost::fit(&x[..10], &y[..10], 0.5, &Config::default());
        assert!((c.predict(&[0.0, 0.0, 0.0]) - quantile(&mut y[..10].to_vec(), 0.5)).abs() < 1e-12);
    }
}
