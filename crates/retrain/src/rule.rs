//! The promotion rule (`[retrain.promotion]` in the training config): when a challenger replaces the champion.
//! Both are scored on the same holdout; the rule reads only those scores, so equal scores give equal decisions.

use serde::{Deserialize, Serialize};

use crate::record::{Decision, Score};

/// The rule's thresholds. Defaults: interval score better by ≥ 2 %, coverage within 0.77–0.83, no symbol's
/// interval score worse by more than 5 %, at least 100 holdout predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Promotion {
    /// Required relative improvement of the interval score over the champion's, e.g. 0.02 = 2 % lower.
    pub min_interval_score_gain: f64,
    /// The challenger's holdout coverage must lie in this band (inclusive).
    pub coverage: [f64; 2],
    /// Largest relative worsening of one symbol's interval score allowed (symbols with ≥ `min_symbol_n`
    /// predictions in both scores).
    pub max_symbol_regression: f64,
    /// Symbols with fewer holdout predictions are not judged on their own.
    pub min_symbol_n: usize,
    /// Fewer holdout predictions than this: no decision can be honest, the challenger is rejected.
    pub min_holdout: usize,
}

impl Default for Promotion {
    fn default() -> Self {
        Self {
            min_interval_score_gain: 0.02,
            coverage: [0.77, 0.83],
            max_symbol_regression: 0.05,
            min_symbol_n: 20,
            min_holdout: 100,
        }
    }
}

/// Applies the rule: the decision and one sentence per check (passed or failed), computed from the scores.
#[must_use]
pub fn decide(rule: &Promotion, champion: Option<&Score>, challenger: &Score) -> (Decision, Vec<String>) {
    let mut reasons = Vec::new();
    let mut ok = true;
    let mut check = |pass: bool, text: String| {
        ok &= pass;
        reasons.push(format!("{}: {text}", if pass { "pass" } else { "fail" }));
    };
    check(
        challenger.n >= rule.min_holdout,
        format!("{} holdout predictions (at least {} required)", challenger.n, rule.min_holdout),
    );
    let [lo, hi] = rule.coverage;
    check(
        (lo..=hi).contains(&challenger.coverage),
        format!("challenger coverage {:.3} (band {lo:.2}–{hi:.2})", challenger.coverage),
    );
    match champion {
        None => check(true, "no champion to beat".to_string()),
        Some(champ) => {
            let gain = relative_gain(champ.interval_score, challenger.interval_score);
            check(
                gain >= rule.min_interval_score_gain,
                format!(
                    "interval score {:.5} vs champion {:.5}: {:+.1} % (≥ {:.1} % better required)",
                    challenger.interval_score,
                    champ.interval_score,
                    gain * 100.0,
                    rule.min_interval_score_gain * 100.0
                ),
            );
            let mut worst: Option<(String, f64)> = None;
            for (sym, c) in &challenger.by_symbol {
                let Some(b) = champ.by_symbol.get(sym) else { continue };
                if c.n < rule.min_symbol_n || b.n < rule.min_symbol_n {
                    continue;
                }
                let worse = -relative_gain(b.interval_score, c.interval_score);
                if worst.as_ref().is_none_or(|(_, w)| worse > *w) {
                    worst = Some((sym.clone(), worse));
                }
            }
            if let Some((sym, worse)) = worst {
                check(
                    worse <= rule.max_symbol_regression,
                    format!(
                        "largest per-symbol change: {sym} interval score {:+.1} % (at most +{:.1} % allowed)",
                        worse * 100.0,
                        rule.max_symbol_regression * 100.0
                    ),
                );
            }
        }
    }
    (if ok { Decision::Promoted } else { Decision::Rejected }, reasons)
}

/// `(before − after) / before`: the share by which `after` is lower (better) than `before`; 0 when `before` is 0.
#[must_use]
pub fn relative_gain(before: f64, after: f64) -> f64 {
    if before.abs() < f64::EPSILON { 0.0 } else { (before - after) / before }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::SymbolScore;

    fn score(is: f64, coverage: f64, syms: &[(&str, f64)]) -> Score {
        Score {
            n: 200,
            interval_score: is,
            coverage,
            band_width: 0.01,
            directional_accuracy: 0.5,
            mae_ratio_vs_persistence: 1.0,
            by_symbol: syms
                .iter()
                .map(|(s, v)| (s.to_string(), SymbolScore { n: 100, interval_score: *v, coverage }))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_sharper_covering_challenger_is_promoted() {
        let champ = score(0.0100, 0.80, &[("SPY", 0.0100), ("QQQ", 0.0100)]);
        let chall = score(0.0095, 0.79, &[("SPY", 0.0094), ("QQQ", 0.0096)]);
        let (d, why) = decide(&Promotion::default(), Some(&champ), &chall);
        assert_eq!(d, Decision::Promoted, "{why:?}");
        assert!(why.iter().all(|r| r.starts_with("pass")), "{why:?}");
        assert!(why.iter().any(|r| r.contains("+5.0 %")), "{why:?}");
    }

    #[test]
    fn each_failed_check_rejects_and_says_which() {
        let champ = score(0.0100, 0.80, &[("SPY", 0.0100), ("QQQ", 0.0100)]);
        let rule = Promotion::default();
        // Too small a gain (1 %).
        let (d, why) = decide(&rule, Some(&champ), &score(0.0099, 0.80, &[]));
        assert_eq!(d, Decision::Rejected);
        assert!(why.iter().any(|r| r.starts_with("fail: interval score")), "{why:?}");
        // Sharp but under-covering (a narrow band that misses).
        let (d, why) = decide(&rule, Some(&champ), &score(0.0080, 0.70, &[]));
        assert_eq!(d, Decision::Rejected);
        assert!(why.iter().any(|r| r.starts_with("fail: challenger coverage 0.700")), "{why:?}");
        // Better overall, but QQQ 10 % worse.
        let (d, why) = decide(&rule, Some(&champ), &score(0.0090, 0.80, &[("SPY", 0.0080), ("QQQ", 0.0110)]));
        assert_eq!(d, Decision::Rejected);
        assert!(why.iter().any(|r| r.starts_with("fail: largest per-symbol change: QQQ")), "{why:?}");
        // Too few holdout predictions.
        let mut small = score(0.0050, 0.80, &[]);
        small.n = 10;
        assert_eq!(decide(&rule, Some(&champ), &small).0, Decision::Rejected);
    }

    #[test]
    fn without_a_champion_the_absolute_checks_decide() {
        let rule = Promotion::default();
        assert_eq!(decide(&rule, None, &score(0.02, 0.8, &[])).0, Decision::Promoted);
        assert_eq!(decide(&rule, None, &score(0.02, 0.9, &[])).0, Decision::Rejected);
    }

    #[test]
    fn the_rule_deserialises_with_defaults_and_refuses_unknown_keys() {
        let r: Promotion = serde_json::from_str(r#"{"min_interval_score_gain": 0.05}"#).unwrap();
        assert_eq!(r.min_interval_score_gain, 0.05);
        assert_eq!(r.coverage, [0.77, 0.83]);
        assert!(serde_json::from_str::<Promotion>(r#"{"min_gain": 1}"#).is_err(), "unknown keys are refused");
    }
}
