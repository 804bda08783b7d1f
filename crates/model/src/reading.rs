//! Plain-language readings of a model's metrics, computed from the numbers they describe: whether it beats
//! persistence on price error, whether its direction accuracy is distinguishable from the base rate, whether
//! its band covers what it claims. The model card prints these sentences; nothing in them is fixed text that
//! could contradict the table above it.

use std::collections::BTreeMap;

use crate::calibration::INTERVAL_LEVEL;
use crate::metrics::Metrics;

/// Standard errors beyond which a difference from a reference rate is called out as real (≈ 95 %).
pub const Z_CALL: f64 = 2.0;

/// Readings of `m` (the model) next to `baselines` (same samples), one sentence each.
#[must_use]
pub fn reading(m: &Metrics, baselines: &BTreeMap<String, Metrics>) -> Vec<String> {
    let n = m.n_predictions.max(1) as f64;
    let mut out = Vec::new();
    let r = m.mae_ratio_vs_persistence;
    out.push(if r < 0.99 {
        format!(
            "It beats persistence on price error: its MAE is {r:.3}× persistence's ({:.1} % lower).",
            (1.0 - r) * 100.0
        )
    } else if r > 1.01 {
        format!("It does not beat persistence on price error: its MAE is {r:.3}× persistence's.")
    } else {
        format!(
            "It matches persistence on price error (MAE {r:.3}× persistence's, within 1 %): no gain over \"no change\"."
        )
    });
    let (acc, base) = (m.directional_accuracy, m.directional_base_rate);
    let z = (acc - base) / (base * (1.0 - base) / n).sqrt().max(1e-12);
    out.push(if z >= Z_CALL {
        format!(
            "Its direction accuracy {:.1} % is above the {:.1} % base rate by {z:.1} standard errors over {} predictions.",
            acc * 100.0,
            base * 100.0,
            m.n_predictions
        )
    } else if z <= -Z_CALL {
        format!(
            "Its direction accuracy {:.1} % is below the {:.1} % base rate by {:.1} standard errors: do not use its direction.",
            acc * 100.0,
            base * 100.0,
            -z
        )
    } else {
        format!(
            "Its direction accuracy {:.1} % is within {:.1} standard errors of the {:.1} % base rate ({} predictions): \
             no evidence of directional skill.",
            acc * 100.0,
            z.abs(),
            base * 100.0,
            m.n_predictions
        )
    });
    let c = m.coverage_q10_q90;
    let zc = (c - INTERVAL_LEVEL) / (INTERVAL_LEVEL * (1.0 - INTERVAL_LEVEL) / n).sqrt();
    out.push(format!(
        "Its q10–q90 band covered {:.1} % of outcomes against a nominal {:.0} %: {}.",
        c * 100.0,
        INTERVAL_LEVEL * 100.0,
        if zc.abs() < Z_CALL {
            "within two standard errors of nominal".to_string()
        } else if zc < 0.0 {
            format!("too narrow by {:.1} standard errors", -zc)
        } else {
            format!("too wide by {zc:.1} standard errors")
        }
    ));
    if let Some((name, b)) =
        baselines.iter().min_by(|a, b| a.1.mae_ratio_vs_persistence.total_cmp(&b.1.mae_ratio_vs_persistence))
        && b.mae_ratio_vs_persistence < r
    {
        out.push(format!(
            "The {name} baseline has lower price error than the model ({:.3}× vs {r:.3}× persistence).",
            b.mae_ratio_vs_persistence
        ));
    }
    out.extend(band_reading(m, baselines));
    out
}

/// Interval ratio below which the band is called clearly better than a baseline's (the goal of issue 13).
pub const INTERVAL_GOAL: f64 = 0.90;

/// Readings of the band: interval score against the best baseline band, pinball against every baseline, and
/// the spread of coverage over the time of day.
fn band_reading(m: &Metrics, baselines: &BTreeMap<String, Metrics>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((name, b)) = baselines
        .iter()
        .filter(|(_, b)| b.interval_score > 0.0)
        .min_by(|a, b| a.1.interval_score.total_cmp(&b.1.interval_score))
        && m.interval_score > 0.0
    {
        let ratio = m.interval_score / b.interval_score;
        out.push(format!(
            "Its band's interval score is {ratio:.3}× the best baseline band's ({name}, {:.5} vs {:.5}): {}.",
            m.interval_score,
            b.interval_score,
            if ratio <= INTERVAL_GOAL {
                format!("better by {:.1} %, meeting the ≤ {INTERVAL_GOAL:.2}× goal", (1.0 - ratio) * 100.0)
            } else if ratio < 1.0 {
                format!("better by {:.1} %, short of the ≤ {INTERVAL_GOAL:.2}× goal", (1.0 - ratio) * 100.0)
            } else {
                format!("worse by {:.1} %: the {name} band is the better one to show", (ratio - 1.0) * 100.0)
            }
        ));
    }
    let lower: Vec<&str> = baselines
        .iter()
        .filter(|(_, b)| b.pinball_loss > 0.0 && b.pinball_loss <= m.pinball_loss)
        .map(|(n, _)| n.as_str())
        .collect();
    if m.pinball_loss > 0.0 && baselines.values().any(|b| b.pinball_loss > 0.0) {
        out.push(if lower.is_empty() {
            format!("Its pinball loss {:.5} is below every baseline's.", m.pinball_loss)
        } else {
            format!("Its pinball loss {:.5} is not below {}'s.", m.pinball_loss, lower.join(", "))
        });
    }
    let tod = &m.by_time_of_day;
    if let (Some(lo), Some(hi)) = (
        tod.iter().min_by(|a, b| a.coverage.total_cmp(&b.coverage)),
        tod.iter().max_by(|a, b| a.coverage.total_cmp(&b.coverage)),
    ) {
        let off: Vec<String> = tod
            .iter()
            .filter(|g| !crate::coverage_noise::consistent_with_nominal(g.coverage, g.n))
            .map(|g| format!("{} ({:.1} %)", g.group, g.coverage * 100.0))
            .collect();
        out.push(format!(
            "By time of day its coverage runs from {:.1} % ({}, {} predictions) to {:.1} % ({}, {}); {}.",
            lo.coverage * 100.0,
            lo.group,
            lo.n,
            hi.coverage * 100.0,
            hi.group,
            hi.n,
            if off.is_empty() {
                format!("every hour is within sampling noise of {:.0} % (95 % Wilson interval)", INTERVAL_LEVEL * 100.0)
            } else {
                format!(
                    "{} of {} hours are off {:.0} % beyond sampling noise (95 % Wilson interval): {}",
                    off.len(),
                    tod.len(),
                    INTERVAL_LEVEL * 100.0,
                    off.join(", ")
                )
            }
        ));
    }
    out
}

/// The worst 100-run coverage gap of the model and of the model with live recalibration, read against what an
/// ideal band shows on the same counts (`reference`, [`crate::coverage_noise::ideal_gap`]); `None` without
/// a gap or a reference.
#[must_use]
pub fn gap_reading(
    model: &Metrics,
    adaptive: Option<&Metrics>,
    reference: Option<&crate::coverage_noise::GapReference>,
) -> Option<String> {
    let r = reference?;
    let gap = model.max_coverage_gap_100?;
    let recal = adaptive.and_then(|a| a.max_coverage_gap_100);
    let judge = |g: f64| {
        if crate::coverage_noise::within_goal(g) {
            "within the ±3-point goal"
        } else if g <= r.p95 {
            "outside ±3 points but within the ideal band's 95th percentile"
        } else {
            "beyond the ideal band's 95th percentile: real drift"
        }
    };
    Some(format!(
        "Over any {} consecutive predictions of one symbol its coverage strays at most {:.1} points from {:.0} % \
         ({}){}. An ideal band on the same counts strays {:.1} points (median; 95th percentile {:.1}) and meets \
         ±{:.0} points in {:.1} % of draws.",
        r.window,
        gap * 100.0,
        INTERVAL_LEVEL * 100.0,
        judge(gap),
        recal.map_or(String::new(), |g| format!(", {:.1} points with live recalibration ({})", g * 100.0, judge(g))),
        r.median * 100.0,
        r.p95 * 100.0,
        crate::coverage_noise::GAP_GOAL * 100.0,
        r.share_within_goal * 100.0
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metrics::Backtest;

    fn metrics(n: usize, mae_ratio: f64, acc: f64, base: f64, cov: f64) -> Metrics {
        Metrics {
            n_predictions: n,
            mae: 1.0,
            mae_persistence: 1.0,
            mae_ratio_vs_persistence: mae_ratio,
            rmse_ratio_vs_persistence: 1.0,
            directional_accuracy: acc,
            directional_base_rate: base,
            directional_accuracy_top20: acc,
            information_coefficient: 0.0,
            brier: 0.6,
            ece: 0.0,
            coverage_q10_q90: cov,
            interval_score: 0.0,
            pinball_loss: 0.0,
            band_width: 0.0,
            by_time_of_day: Vec::new(),
            by_volatility: Vec::new(),
            reliability: Vec::new(),
            max_coverage_gap_100: None,
            signals: crate::metrics::SignalCheck::default(),
            backtest: Backtest {
                total_return: 0.0,
                sharpe: 0.0,
                max_drawdown: 0.0,
                hit_rate: 0.0,
                turnover: 0.0,
                buy_and_hold_return: 0.0,
            },
        }
    }

    #[test]
    fn readings_follow_the_numbers() {
        // The default model's numbers: MAE 1.03× persistence, 40 % vs a 39 % base rate over 180 predictions.
        let r = reading(&metrics(180, 1.03, 0.40, 0.39, 0.76), &BTreeMap::new());
        assert!(r[0].contains("does not beat persistence"), "{}", r[0]);
        // se = sqrt(.39 × .61 / 180) = 0.03636; z = 0.01 / 0.03636 = 0.28.
        assert!(r[1].contains("within 0.3 standard errors") && r[1].contains("no evidence"), "{}", r[1]);
        // se = sqrt(.16 / 180) = 0.02981; z = −0.04 / 0.02981 = −1.34: within two.
        assert!(r[2].contains("76.0 %") && r[2].contains("within two"), "{}", r[2]);
        // A model with skill reads differently: 60 % vs 40 % over 400 → z = 0.2 / 0.0245 = 8.2.
        let r = reading(&metrics(400, 0.95, 0.60, 0.40, 0.60), &BTreeMap::new());
        assert!(r[0].contains("beats persistence") && r[0].contains("5.0 % lower"), "{}", r[0]);
        assert!(r[1].contains("above") && r[1].contains("8.2 standard errors"), "{}", r[1]);
        // 60 % coverage over 400: z = −0.2 / 0.02 = −10.
        assert!(r[2].contains("too narrow by 10.0"), "{}", r[2]);
        let mut b = BTreeMap::new();
        b.insert("ridge".to_string(), metrics(400, 0.9, 0.5, 0.4, 0.8));
        let r = reading(&metrics(400, 0.95, 0.60, 0.40, 0.80), &b);
        assert!(r[3].contains("ridge baseline has lower price error"), "{}", r[3]);
    }

    #[test]
    fn band_readings_follow_the_numbers() {
        let mut m = metrics(500, 1.0, 0.4, 0.4, 0.8);
        (m.interval_score, m.pinball_loss) = (0.0085, 0.0011);
        let mut vol = metrics(500, 1.0, 0.4, 0.4, 0.8);
        (vol.interval_score, vol.pinball_loss) = (0.0100, 0.0012);
        let mut cst = metrics(500, 1.0, 0.4, 0.4, 0.8);
        (cst.interval_score, cst.pinball_loss) = (0.0120, 0.0010);
        let b = BTreeMap::from([("har_vol".to_string(), vol), ("persistence".to_string(), cst)]);
        let r = band_reading(&m, &b);
        assert!(r[0].contains("0.850× the best baseline band's (har_vol") && r[0].contains("meeting"), "{}", r[0]);
        assert!(r[1].contains("is not below persistence's"), "{}", r[1]);
        m.interval_score = 0.0110;
        m.by_time_of_day = vec![
            crate::metrics::Conditional {
                group: "09:30".into(),
                n: 70,
                coverage: 0.7,
                interval_score: 0.0,
                band_width: 0.0,
            },
            crate::metrics::Conditional {
                group: "12:30".into(),
                n: 71,
                coverage: 0.86,
                interval_score: 0.0,
                band_width: 0.0,
            },
        ];
        let r = band_reading(&m, &b);
        assert!(r[0].contains("1.100×") && r[0].contains("worse by 10.0 %"), "{}", r[0]);
        assert!(r[2].contains("from 70.0 % (09:30, 70 predictions) to 86.0 % (12:30, 71)"), "{}", r[2]);
        // 49 of 70: Wilson [0.585, 0.795] excludes 0.80; 61 of 71: [0.760, 0.922] does not.
        assert!(r[2].contains("1 of 2 hours are off 80 % beyond sampling noise") && r[2].ends_with("09:30 (70.0 %)."));
        m.by_time_of_day[0].coverage = 0.75;
        assert!(band_reading(&m, &b)[2].contains("every hour is within sampling noise"));
    }

    #[test]
    fn gap_reading_against_the_ideal_band() {
        let reference = crate::coverage_noise::GapReference {
            window: 100,
            draws: 1000,
            median: 0.09,
            p95: 0.12,
            share_within_goal: 0.002,
        };
        let mut m = metrics(500, 1.0, 0.4, 0.4, 0.8);
        assert_eq!(gap_reading(&m, None, Some(&reference)), None, "no gap: nothing to read");
        m.max_coverage_gap_100 = Some(0.25);
        assert_eq!(gap_reading(&m, None, None), None, "no reference");
        let mut a = m.clone();
        a.max_coverage_gap_100 = Some(0.10);
        let r = gap_reading(&m, Some(&a), Some(&reference)).unwrap();
        assert!(
            r.contains("at most 25.0 points from 80 % (beyond the ideal band's 95th percentile: real drift)"),
            "{r}"
        );
        assert!(r.contains("10.0 points with live recalibration (outside ±3 points but within the ideal"), "{r}");
        assert!(r.contains("strays 9.0 points (median; 95th percentile 12.0) and meets ±3 points in 0.2 % of draws"));
        a.max_coverage_gap_100 = Some(0.03);
        assert!(
            gap_reading(&m, Some(&a), Some(&reference))
                .unwrap()
                .contains("3.0 points with live recalibration (within the ±3-point goal)")
        );
    }
}
