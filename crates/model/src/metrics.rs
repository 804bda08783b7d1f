//! Evaluation metrics, computed the same way for the model and every baseline.
//!
//! Conventions: labels are horizon log returns `r = ln(P[t+h]/P[t])`; prices are `P[t]·exp(r)`. Classes are
//! 0 down, 1 flat, 2 up. The backtest trades only every `h`-th prediction so that holding periods do not
//! overlap, holds the prediction's position (the model's: what is served, [`crate::signals::position`]; a
//! baseline's: `signal × confidence`) for the horizon, and pays 1 basis point per side on every change of position.

use serde::{Deserialize, Serialize};

/// One prediction to score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Predicted q10, q50, q90 of the log return.
    pub quantiles: [f64; 3],
    /// Calibrated probabilities of down, flat, up.
    pub probs: [f64; 3],
    /// Position in [−1, 1] taken on this prediction (its sign is the signal: + buy, − sell, 0 hold).
    pub position: f64,
    /// Realised log return.
    pub label: f64,
    /// Realised class.
    pub class: usize,
    /// Price at the prediction instant.
    pub last_close: f64,
    /// Which symbol (index into the prepared data's parts; 0 for one symbol).
    pub part: usize,
    /// Time-of-day bucket of the instant ([`crate::volatility::Context::bucket`]).
    pub bucket: u8,
    /// Trailing realised variance per base bar over the last session at the instant (NaN when unknown): the key
    /// of the volatility terciles.
    pub trailing_vol: f64,
}

impl Scored {
    /// A scored prediction with no context (one symbol, no time-of-day bucket, unknown volatility).
    #[must_use]
    pub fn plain(
        quantiles: [f64; 3],
        probs: [f64; 3],
        position: f64,
        label: f64,
        class: usize,
        last_close: f64,
    ) -> Self {
        Self {
            quantiles,
            probs,
            position,
            label,
            class,
            last_close,
            part: 0,
            bucket: crate::volatility::NO_BUCKET,
            trailing_vol: f64::NAN,
        }
    }
}

/// Coverage and interval quality of one group of predictions (a time-of-day bucket or a volatility tercile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conditional {
    /// The group: `09:30`, `10:30`, … (New York start of the hour) or `low`/`mid`/`high` volatility.
    pub group: String,
    /// Predictions in the group.
    pub n: usize,
    /// Share of outcomes inside [q10, q90].
    pub coverage: f64,
    /// Mean interval score (α = 0.2).
    pub interval_score: f64,
    /// Mean band width.
    pub band_width: f64,
}

/// One bin of the reliability table of the top-class probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (probability; bins are 0.1 wide, the last includes 1).
    pub lower: f64,
    /// Predictions whose top-class probability falls in the bin.
    pub n: usize,
    /// Their mean top-class probability.
    pub mean_confidence: f64,
    /// Share of them whose top class was the realised class.
    pub accuracy: f64,
}

/// Predictions per window of [`Metrics::max_coverage_gap_100`].
pub const COVERAGE_WINDOW: usize = 100;

/// Backtest summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// Compounded strategy return over the traded periods.
    pub total_return: f64,
    /// Annualised Sharpe ratio of per-period returns (0 when they do not vary).
    pub sharpe: f64,
    /// Largest peak-to-trough fall of the equity curve, as a positive fraction.
    pub max_drawdown: f64,
    /// Share of periods with a position whose return was positive.
    pub hit_rate: f64,
    /// Mean absolute change of position per period.
    pub turnover: f64,
    /// Compounded return of holding long over the same periods.
    pub buy_and_hold_return: f64,
}

/// The miscoverage of the [q10, q90] band (α of the interval score).
pub const INTERVAL_ALPHA: f64 = 0.2;

/// Interval score of one band `[l, u]` for outcome `y` at miscoverage `alpha` (Gneiting & Raftery 2007, §6.2).
#[must_use]
pub fn interval_score(l: f64, u: f64, y: f64, alpha: f64) -> f64 {
    (u - l) + 2.0 / alpha * ((l - y).max(0.0) + (y - u).max(0.0))
}

/// Pinball loss of quantile `q` at level `tau` for outcome `y`: `tau·(y − q)` above, `(1 − tau)·(q − y)` below.
#[must_use]
pub fn pinball(q: f64, tau: f64, y: f64) -> f64 {
    let d = y - q;
    if d >= 0.0 { tau * d } else { (tau - 1.0) * d }
}

/// Cost charged per side of every position change in the backtest (fraction of the position: 1 bp).
pub const COST_PER_SIDE: f64 = 1e-4;

/// The metric set of `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Predictions scored.
    pub n_predictions: usize,
    /// Mean absolute error of the predicted price (P·exp(q50)).
    pub mae: f64,
    /// Same for persistence (price unchanged).
    pub mae_persistence: f64,
    /// `mae / mae_persistence` (< 1 beats the random walk).
    pub mae_ratio_vs_persistence: f64,
    /// RMSE of the predicted price over persistence's RMSE.
    pub rmse_ratio_vs_persistence: f64,
    /// Share of predictions whose most probable class is the realised class.
    pub directional_accuracy: f64,
    /// Share of the most frequent realised class (a hindsight constant predictor's accuracy).
    pub directional_base_rate: f64,
    /// Directional accuracy on the most confident fifth.
    pub directional_accuracy_top20: f64,
    /// Spearman rank correlation of predicted q50 and realised return.
    pub information_coefficient: f64,
    /// Multi-class Brier score (mean squared error of the probability vector).
    pub brier: f64,
    /// Expected calibration error of the top-class probability, 10 equal-width bins.
    pub ece: f64,
    /// Share of realised returns inside [q10, q90] (nominal 0.8).
    pub coverage_q10_q90: f64,
    /// Mean interval score (Winkler) of the [q10, q90] band at α = 0.2, log-return units: width plus
    /// `2/α` times the distance by which the outcome falls outside. Lower is better; it rewards sharp bands
    /// only when they also cover.
    #[serde(default)]
    pub interval_score: f64,
    /// Mean pinball (quantile) loss over q10, q50 and q90, log-return units. Lower is better.
    #[serde(default)]
    pub pinball_loss: f64,
    /// Mean width of the [q10, q90] band (sharpness), log-return units.
    #[serde(default)]
    pub band_width: f64,
    /// Coverage and interval score by time-of-day bucket of the instant (New York hours from 09:30); empty for
    /// daily bases. Conditional calibration: a band can cover 80 % overall by over-covering midday and
    /// under-covering the open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_time_of_day: Vec<Conditional>,
    /// The same by tercile of trailing realised volatility (`low`, `mid`, `high`; thresholds are the terciles of
    /// the scored predictions themselves, so every row of one report uses the same groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_volatility: Vec<Conditional>,
    /// Reliability table of the top-class probability (non-empty bins of width 0.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reliability: Vec<ReliabilityBin>,
    /// Largest |coverage − 0.8| over any [`COVERAGE_WINDOW`] consecutive predictions of one symbol (in time
    /// order); `None` when no symbol has that many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_coverage_gap_100: Option<f64>,
    /// Out-of-sample check of the buy/sell signals (the sign of each position).
    #[serde(default)]
    pub signals: SignalCheck,
    /// Backtest of the positions.
    pub backtest: Backtest,
}

/// How the buy/sell signals of a set of predictions fared: the same hit and base rate as the signal policy
/// fit on validation ([`crate::signals`]), here on the scored samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalCheck {
    /// Predictions with a buy or sell.
    pub count: usize,
    /// Share of them whose outcome's class was the one bet on (up for buy, down for sell); 0 without signals.
    pub hit_rate: f64,
    /// Mean frequency, in the scored set, of the class each signal bet on: the hit rate of a signal that knew
    /// nothing. 0 without signals.
    pub base_rate: f64,
}

/// [`SignalCheck`] of scored predictions.
#[must_use]
pub fn signal_check(s: &[Scored]) -> SignalCheck {
    let mut freq = [0.0_f64; 3];
    for p in s {
        freq[p.class.min(2)] += 1.0 / s.len() as f64;
    }
    let (mut count, mut hits, mut base) = (0usize, 0usize, 0.0);
    for p in s {
        let bet = if p.position > 0.0 {
            2
        } else if p.position < 0.0 {
            0
        } else {
            continue;
        };
        count += 1;
        hits += usize::from(p.class == bet);
        base += freq[bet];
    }
    let per = |v: f64| if count > 0 { v / count as f64 } else { 0.0 };
    SignalCheck { count, hit_rate: per(hits as f64), base_rate: per(base) }
}

fn argmax3(p: &[f64; 3]) -> usize {
    let mut best = 0;
    for c in 1..3 {
        if p[c] > p[best] {
            best = c;
        }
    }
    best
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation (0 when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 { 0.0 } else { sab / (saa * sbb).sqrt() }
}

/// Spearman rank correlation (average ranks for ties).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Backtest over the predictions, trading every `step`-th one; `periods_per_year` annualises the Sharpe.
pub fn backtest(s: &[Scored], step: usize, periods_per_year: f64) -> Backtest {
    let cost = COST_PER_SIDE;
    let mut equity: f64 = 1.0;
    let mut hold: f64 = 1.0;
    let mut peak: f64 = 1.0;
    let mut max_dd: f64 = 0.0;
    let mut prev_pos = 0.0;
    let (mut rets, mut hits, mut active, mut turnover) = (Vec::new(), 0usize, 0usize, 0.0);
    for p in s.iter().step_by(step.max(1)) {
        let simple = p.label.exp() - 1.0;
        let change = (p.position - prev_pos).abs();
        let r = p.position * simple - cost * change;
        turnover += change;
        prev_pos = p.position;
        if p.position != 0.0 {
            active += 1;
            if r > 0.0 {
                hits += 1;
            }
        }
        equity *= 1.0 + r;
        hold *= 1.0 + simple;
        peak = peak.max(equity);
        max_dd = max_dd.max(1.0 - equity / peak);
        rets.push(r);
    }
    let n = rets.len().max(1) as f64;
    let mean = rets.iter().sum::<f64>() / n;
    let sd = (rets.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n).sqrt();
    Backtest {
        total_return: equity - 1.0,
        sharpe: if sd > 0.0 { mean / sd * periods_per_year.sqrt() } else { 0.0 },
        max_drawdown: max_dd,
        hit_rate: if active > 0 { hits as f64 / active as f64 } else { 0.0 },
        turnover: turnover / n,
        buy_and_hold_return: hold - 1.0,
    }
}

/// All metrics. `step` and `periods_per_year` are passed to [`backtest`].
pub fn compute(s: &[Scored], step: usize, periods_per_year: f64) -> Metrics {
    let n = s.len();
    let nf = n.max(1) as f64;
    let (mut ae, mut ae_p, mut se, mut se_p) = (0.0, 0.0, 0.0, 0.0);
    let (mut correct, mut brier, mut covered) = (0usize, 0.0, 0usize);
    let (mut is, mut pin, mut width) = (0.0, 0.0, 0.0);
    let mut counts = [0usize; 3];
    for p in s {
        let actual = p.last_close * p.label.exp();
        let predicted = p.last_close * p.quantiles[1].exp();
        ae += (predicted - actual).abs();
        se += (predicted - actual).powi(2);
        ae_p += (p.last_close - actual).abs();
        se_p += (p.last_close - actual).powi(2);
        if argmax3(&p.probs) == p.class {
            correct += 1;
        }
        counts[p.class.min(2)] += 1;
        brier += (0..3).map(|c| (p.probs[c] - if c == p.class { 1.0 } else { 0.0 }).powi(2)).sum::<f64>();
        if p.label >= p.quantiles[0] && p.label <= p.quantiles[2] {
            covered += 1;
        }
        let [l, m, u] = p.quantiles;
        is += interval_score(l, u, p.label, INTERVAL_ALPHA);
        pin += (pinball(l, 0.1, p.label) + pinball(m, 0.5, p.label) + pinball(u, 0.9, p.label)) / 3.0;
        width += u - l;
    }
    // Most confident fifth (ties broken by order).
    let mut by_conf: Vec<&Scored> = s.iter().collect();
    by_conf.sort_by(|a, b| b.probs[argmax3(&b.probs)].total_cmp(&a.probs[argmax3(&a.probs)]));
    let top = &by_conf[..n.div_ceil(5).min(n)];
    let top_acc = top.iter().filter(|p| argmax3(&p.probs) == p.class).count() as f64 / top.len().max(1) as f64;
    // ECE over 10 bins of the top-class probability.
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for p in s {
        let c = argmax3(&p.probs);
        let conf = p.probs[c];
        let b = ((conf * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += usize::from(c == p.class);
    }
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|b| (b.2 as f64 / b.0 as f64 - b.1 / b.0 as f64).abs() * b.0 as f64)
        .sum::<f64>()
        / nf;
    let reliability = bins
        .iter()
        .enumerate()
        .filter(|(_, b)| b.0 > 0)
        .map(|(i, b)| ReliabilityBin {
            lower: i as f64 / 10.0,
            n: b.0,
            mean_confidence: b.1 / b.0 as f64,
            accuracy: b.2 as f64 / b.0 as f64,
        })
        .collect();
    let q50: Vec<f64> = s.iter().map(|p| p.quantiles[1]).collect();
    let labels: Vec<f64> = s.iter().map(|p| p.label).collect();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Metrics {
        n_predictions: n,
        mae: ae / nf,
        mae_persistence: ae_p / nf,
        mae_ratio_vs_persistence: ratio(ae, ae_p),
        rmse_ratio_vs_persistence: ratio(se.sqrt(), se_p.sqrt()),
        directional_accuracy: correct as f64 / nf,
        directional_base_rate: *counts.iter().max().unwrap_or(&0) as f64 / nf,
        directional_accuracy_top20: top_acc,
        information_coefficient: spearman(&q50, &labels),
        brier: brier / nf,
        ece,
        coverage_q10_q90: covered as f64 / nf,
        interval_score: is / nf,
        pinball_loss: pin / nf,
        band_width: width / nf,
        by_time_of_day: by_time_of_day(s),
        by_volatility: by_volatility(s),
        reliability,
        max_coverage_gap_100: max_coverage_gap(s, COVERAGE_WINDOW),
        signals: signal_check(s),
        backtest: backtest(s, step, periods_per_year),
    }
}

fn covers(p: &Scored) -> bool {
    p.label >= p.quantiles[0] && p.label <= p.quantiles[2]
}

fn conditional(group: String, members: &[&Scored]) -> Conditional {
    let n = members.len().max(1) as f64;
    Conditional {
        group,
        n: members.len(),
        coverage: members.iter().filter(|p| covers(p)).count() as f64 / n,
        interval_score: members
            .iter()
            .map(|p| interval_score(p.quantiles[0], p.quantiles[2], p.label, INTERVAL_ALPHA))
            .sum::<f64>()
            / n,
        band_width: members.iter().map(|p| p.quantiles[2] - p.quantiles[0]).sum::<f64>() / n,
    }
}

/// Groups by time-of-day bucket, in bucket order; empty when no prediction has a bucket.
pub fn by_time_of_day(s: &[Scored]) -> Vec<Conditional> {
    let mut buckets: std::collections::BTreeMap<u8, Vec<&Scored>> = std::collections::BTreeMap::new();
    for p in s.iter().filter(|p| p.bucket != crate::volatility::NO_BUCKET) {
        buckets.entry(p.bucket).or_default().push(p);
    }
    buckets.into_iter().map(|(b, m)| conditional(crate::volatility::bucket_label(b), &m)).collect()
}

/// Groups by tercile of [`Scored::trailing_vol`] (predictions without one are left out); empty when fewer
/// than three predictions have one.
pub fn by_volatility(s: &[Scored]) -> Vec<Conditional> {
    let mut vols: Vec<f64> = s.iter().map(|p| p.trailing_vol).filter(|v| v.is_finite()).collect();
    if vols.len() < 3 {
        return Vec::new();
    }
    vols.sort_by(f64::total_cmp);
    let (t1, t2) = (vols[vols.len() / 3], vols[2 * vols.len() / 3]);
    let group = |v: f64| usize::from(v >= t1) + usize::from(v >= t2);
    ["low", "mid", "high"]
        .iter()
        .enumerate()
        .map(|(g, name)| {
            let m: Vec<&Scored> =
                s.iter().filter(|p| p.trailing_vol.is_finite() && group(p.trailing_vol) == g).collect();
            conditional((*name).to_string(), &m)
        })
        .collect()
}

/// Largest |coverage − nominal| over any `window` consecutive predictions of one symbol, in the order given.
pub fn max_coverage_gap(s: &[Scored], window: usize) -> Option<f64> {
    let parts = s.iter().map(|p| p.part + 1).max().unwrap_or(0);
    let mut worst: Option<f64> = None;
    for part in 0..parts {
        let hits: Vec<u32> = s.iter().filter(|p| p.part == part).map(|p| u32::from(covers(p))).collect();
        if window == 0 || hits.len() < window {
            continue;
        }
        let mut inside: u32 = hits[..window].iter().sum();
        let mut gap = (f64::from(inside) / window as f64 - crate::calibration::INTERVAL_LEVEL).abs();
        for j in window..hits.len() {
            inside = inside + hits[j] - hits[j - window];
            gap = gap.max((f64::from(inside) / window as f64 - crate::calibration::INTERVAL_LEVEL).abs());
        }
        worst = Some(worst.map_or(gap, |w: f64| w.max(gap)));
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: [f64; 3], probs: [f64; 3], position: f64, label: f64, class: usize) -> Scored {
        Scored::plain(q, probs, position, label, class, 100.0)
    }

    #[test]
    fn hand_computed_case() {
        let ln = |x: f64| x.ln();
        let s = vec![
            // Predicts +1 %, realised +2 %: error 1 (price), persistence error 2. Up, correct.
            p([ln(0.99), ln(1.01), ln(1.03)], [0.1, 0.2, 0.7], 1.0, ln(1.02), 2),
            // Predicts 0, realised −1 %: error 1, persistence 1. Flat predicted, down realised. Outside interval.
            p([-0.005, 0.0, 0.005], [0.3, 0.4, 0.3], 0.0, ln(0.99), 0),
        ];
        let m = compute(&s, 1, 252.0);
        assert_eq!(m.n_predictions, 2);
        assert!((m.mae - 1.0).abs() < 1e-9, "{}", m.mae);
        assert!((m.mae_persistence - 1.5).abs() < 1e-9);
        assert!((m.mae_ratio_vs_persistence - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.rmse_ratio_vs_persistence - (2.0f64).sqrt() / (5.0f64).sqrt()).abs() < 1e-9);
        assert_eq!(m.directional_accuracy, 0.5);
        assert_eq!(m.directional_base_rate, 0.5);
        assert_eq!(m.directional_accuracy_top20, 1.0, "the most confident (0.7) is right");
        assert_eq!(m.coverage_q10_q90, 0.5);
        // Brier: (0.01 + 0.04 + 0.09) and (0.49 + 0.16 + 0.09) → mean 0.44.
        assert!((m.brier - 0.44).abs() < 1e-12);
        // ECE: bin 7 conf 0.7 acc 1 → 0.3; bin 4 conf 0.4 acc 0 → 0.4; weighted mean 0.35.
        assert!((m.ece - 0.35).abs() < 1e-12);
        // Interval score at α = 0.2: the first outcome is inside (score = width); the second is 0.00505 below
        // q10, so its score is the width 0.01 plus 10 × 0.00505.
        let (w1, below) = (ln(1.03) - ln(0.99), -0.005 - ln(0.99));
        assert!((m.interval_score - (w1 + (0.01 + 10.0 * below)) / 2.0).abs() < 1e-12, "{}", m.interval_score);
        assert!((m.band_width - (w1 + 0.01) / 2.0).abs() < 1e-12);
        // Pinball: sample 1 is above q10 and q50 and below q90; sample 2 is below all three.
        let y1 = ln(1.02);
        let p1 = (0.1 * (y1 - ln(0.99)) + 0.5 * (y1 - ln(1.01)) + 0.1 * (ln(1.03) - y1)) / 3.0;
        let y2 = ln(0.99);
        let p2 = (0.9 * (-0.005 - y2) + 0.5 * (0.0 - y2) + 0.1 * (0.005 - y2)) / 3.0;
        assert!((m.pinball_loss - (p1 + p2) / 2.0).abs() < 1e-12, "{} vs {}", m.pinball_loss, (p1 + p2) / 2.0);
        // Backtest: +2 % minus 1 bp entry, then flat minus 1 bp exit.
        let b = m.backtest;
        assert!((b.total_return - ((1.0 + 0.02 - 1e-4) * (1.0 - 1e-4) - 1.0)).abs() < 1e-12);
        assert!((b.buy_and_hold_return - (1.02 * 0.99 - 1.0)).abs() < 1e-12);
        assert_eq!(b.hit_rate, 1.0);
        assert_eq!(b.turnover, 1.0);
        assert!((b.max_drawdown - (1.0 - (1.0 - 1e-4))).abs() < 1e-12);
    }

    #[test]
    fn interval_score_and_pinball_on_the_textbook_cases() {
        // Inside: the width. Outside by d: width + 2d/α.
        assert_eq!(interval_score(-1.0, 1.0, 0.5, 0.2), 2.0);
        assert!((interval_score(-1.0, 1.0, 1.5, 0.2) - 7.0).abs() < 1e-12);
        assert!((interval_score(-1.0, 1.0, -3.0, 0.1) - 42.0).abs() < 1e-12);
        // Pinball: the median's loss is half the absolute error; q90 pays 0.9 above and 0.1 below.
        assert_eq!(pinball(0.0, 0.5, -2.0), 1.0);
        assert!((pinball(0.0, 0.9, 1.0) - 0.9).abs() < 1e-12);
        assert!((pinball(0.0, 0.9, -1.0) - 0.1).abs() < 1e-12);
        // A band that always covers but is twice as wide scores worse than a sharp one that covers.
        assert!(interval_score(-2.0, 2.0, 0.0, 0.2) > interval_score(-1.0, 1.0, 0.0, 0.2));
    }

    #[test]
    fn conditional_coverage_reliability_and_rolling_gap_by_hand() {
        // Six predictions, band [−1, 1]; buckets 0, 0, 1, 1, 1 and none; volatilities 1…6.
        let ys = [0.0, 2.0, 0.5, -3.0, 0.0, 0.0];
        let buckets = [0, 0, 1, 1, 1, crate::volatility::NO_BUCKET];
        let s: Vec<Scored> = (0..6)
            .map(|i| Scored {
                bucket: buckets[i],
                trailing_vol: (i + 1) as f64,
                ..p([-1.0, 0.0, 1.0], [0.05, 0.9, 0.05], 0.0, ys[i], 1)
            })
            .collect();
        let tod = by_time_of_day(&s);
        assert_eq!(tod.iter().map(|c| (c.group.as_str(), c.n)).collect::<Vec<_>>(), [("09:30", 2), ("10:30", 3)]);
        assert_eq!(tod[0].coverage, 0.5);
        assert!((tod[1].coverage - 2.0 / 3.0).abs() < 1e-12);
        // 10:30: widths 2, plus 10 × 2 for the outcome at −3 → (2 + 22 + 2) / 3.
        assert!((tod[1].interval_score - 26.0 / 3.0).abs() < 1e-12);
        // Terciles of 1…6: thresholds 3 and 5 → low {1, 2}, mid {3, 4}, high {5, 6}.
        let vol = by_volatility(&s);
        assert_eq!(vol.iter().map(|c| c.n).collect::<Vec<_>>(), [2, 2, 2]);
        assert_eq!(vol.iter().map(|c| c.coverage).collect::<Vec<_>>(), [0.5, 0.5, 1.0]);
        let m = compute(&s, 1, 252.0);
        assert_eq!(m.reliability.len(), 1);
        assert_eq!((m.reliability[0].lower, m.reliability[0].n), (0.9, 6));
        assert!((m.reliability[0].accuracy - 1.0).abs() < 1e-12, "the flat class was realised every time");
        assert_eq!(m.max_coverage_gap_100, None, "fewer than 100 predictions");
        // Rolling window of 4 over hits 1 0 1 0 1 1: coverages 0.5, 0.5, 0.75 → worst gap 0.3.
        assert!((max_coverage_gap(&s, 4).unwrap() - 0.3).abs() < 1e-12);
        // Per symbol: the other symbol's predictions do not enter a window.
        let mut two = s.clone();
        two.extend(s.iter().map(|x| Scored { part: 1, label: 0.0, ..*x }));
        assert!((max_coverage_gap(&two, 4).unwrap() - 0.3).abs() < 1e-12);
        assert!((max_coverage_gap(&two[6..], 4).unwrap() - 0.2).abs() < 1e-12, "all covered: |1 − 0.8|");
    }

    #[test]
    fn spearman_handles_ties_and_constants() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
        assert!((spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]) - 0.866_025_403_784_438_6).abs() < 1e-12);
    }

    #[test]
    fn signal_check_by_hand() {
        // Classes down, up, up, flat: frequencies 1/4, 1/4, 1/2. A buy hitting up, a sell missing (up), a hold:
        // 2 signals, 1 hit; base = (freq up + freq down) / 2 = (0.5 + 0.25) / 2.
        let s = [
            p([0.0; 3], [0.2, 0.2, 0.6], 0.0, -0.01, 0),
            p([0.0; 3], [0.2, 0.2, 0.6], 0.3, 0.01, 2),
            p([0.0; 3], [0.6, 0.2, 0.2], -0.3, 0.01, 2),
            p([0.0; 3], [0.2, 0.6, 0.2], 0.0, 0.0, 1),
        ];
        let c = signal_check(&s);
        assert_eq!(c.count, 2);
        assert!((c.hit_rate - 0.5).abs() < 1e-12);
        assert!((c.base_rate - 0.375).abs() < 1e-12);
        assert_eq!(signal_check(&[]), SignalCheck::default());
    }

    #[test]
    fn backtest_trades_every_step_only() {
        let s: Vec<Scored> = (0..4).map(|_| p([0.0; 3], [0.0, 0.0, 1.0], 1.0, 0.01f64.ln_1p(), 2)).collect();
        let b = backtest(&s, 2, 252.0);
        assert!((b.buy_and_hold_return - (1.01f64 * 1.01 - 1.0)).abs() < 1e-12, "two non-overlapping periods");
    }
}
