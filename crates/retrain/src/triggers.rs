//! When `mtf retrain --if-needed` runs (`[retrain.triggers]` in the training config). Every check is reported,
//! fired or not, with the numbers that decided it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::health::{Validation, WindowMetrics};

/// Thresholds. Defaults: weekly; live coverage outside 0.70–0.90 over the newest 100 scored predictions (at least
/// 50 needed); hit rate 5 points under validation; interval score 25 % over validation; PSI over 0.25 for any
/// feature; realised volatility 1.5× (or 1/1.5×) the training window's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Triggers {
    /// Retrain when the last run is older than this many days (`None`: no schedule).
    pub every_days: Option<f64>,
    /// Live coverage band.
    pub coverage: [f64; 2],
    /// Fewest scored predictions for the live checks to judge.
    pub min_live: usize,
    /// Fire when the live hit rate is this much under the validation directional accuracy (absolute).
    pub hit_rate_drop: f64,
    /// Fire when the live interval score exceeds validation by this share.
    pub interval_score_rise: f64,
    /// Fire when any feature's PSI exceeds this.
    pub psi: f64,
    /// Fire when recent / training realised volatility is above this or below its inverse.
    pub volatility_ratio: f64,
}

impl Default for Triggers {
    fn default() -> Self {
        Self {
            every_days: Some(7.0),
            coverage: [0.70, 0.90],
            min_live: 50,
            hit_rate_drop: 0.05,
            interval_score_rise: 0.25,
            psi: 0.25,
            volatility_ratio: 1.5,
        }
    }
}

/// What the checks read; `None` where it is not known (a check without its input does not fire and says why).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Now.
    pub now: Option<DateTime<Utc>>,
    /// End of the last retrain run (any decision).
    pub last_retrain: Option<DateTime<Utc>>,
    /// Whether a model is active at the edge.
    pub champion: bool,
    /// The champion's live metrics over its newest scored predictions.
    pub live: Option<WindowMetrics>,
    /// The champion's validation numbers.
    pub validation: Option<Validation>,
    /// PSI per feature (name, value), recent window vs the champion's training window.
    pub psi: Vec<(String, f64)>,
    /// Realised volatility (per base bar) of the training window and of the recent window.
    pub volatility: Option<(f64, f64)>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Check {
    /// `schedule`, `no_champion`, `coverage`, `hit_rate`, `interval_score`, `drift`, `volatility`.
    pub trigger: String,
    /// Whether it fired.
    pub fired: bool,
    /// The numbers behind it.
    pub why: String,
}

/// Runs every check.
#[must_use]
pub fn evaluate(t: &Triggers, o: &Observed) -> Vec<Check> {
    let mut out = Vec::new();
    let mut push = |trigger: &str, fired: bool, why: String| out.push(Check { trigger: trigger.into(), fired, why });
    push(
        "no_champion",
        !o.champion,
        if o.champion { "a model is active".into() } else { "no model is active at the edge".into() },
    );
    match (t.every_days, o.now, o.last_retrain) {
        (None, ..) => push("schedule", false, "no schedule configured".into()),
        (Some(d), _, None) => push("schedule", true, format!("no earlier retrain on record (every {d} days)")),
        (Some(d), Some(now), Some(last)) => {
            let age = (now - last).num_seconds() as f64 / 86_400.0;
            push("schedule", age >= d, format!("last retrain {age:.1} days ago (every {d} days)"));
        }
        (Some(_), None, Some(_)) => push("schedule", false, "the time is unknown".into()),
    }
    let live = o.live.as_ref().filter(|l| l.n >= t.min_live);
    match live {
        None => {
            let n = o.live.as_ref().map_or(0, |l| l.n);
            let why = format!("{n} scored live predictions (at least {} needed to judge)", t.min_live);
            for name in ["coverage", "hit_rate", "interval_score"] {
                push(name, false, why.clone());
            }
        }
        Some(l) => {
            let [lo, hi] = t.coverage;
            match l.coverage {
                Some(c) => push(
                    "coverage",
                    !(lo..=hi).contains(&c),
                    format!("live coverage {c:.3} over {} predictions (band {lo:.2}–{hi:.2})", l.n),
                ),
                None => push("coverage", false, "no live coverage".into()),
            }
            let v = o.validation.as_ref();
            match (l.hit_rate, v.and_then(|v| v.directional_accuracy)) {
                (Some(h), Some(va)) => push(
                    "hit_rate",
                    h < va - t.hit_rate_drop,
                    format!(
                        "live hit rate {h:.3} vs validation {va:.3} (fires {:.0} points under)",
                        t.hit_rate_drop * 100.0
                    ),
                ),
                _ => push("hit_rate", false, "no live hit rate or validation accuracy".into()),
            }
            match (l.interval_score, v.and_then(|v| v.interval_score)) {
                (Some(s), Some(vs)) if vs > 0.0 => push(
                    "interval_score",
                    s > vs * (1.0 + t.interval_score_rise),
                    format!(
                        "live interval score {s:.5} vs validation {vs:.5} ({:+.0} %; fires above +{:.0} %)",
                        (s / vs - 1.0) * 100.0,
                        t.interval_score_rise * 100.0
                    ),
                ),
                _ => push("interval_score", false, "no live or validation interval score".into()),
            }
        }
    }
    match o.psi.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        None => push("drift", false, "no feature drift measured".into()),
        Some((name, v)) => {
            let over = o.psi.iter().filter(|(_, p)| *p > t.psi).count();
            push(
                "drift",
                *v > t.psi,
                format!("largest PSI {v:.3} ({name}); {over} of {} features above {:.2}", o.psi.len(), t.psi),
            );
        }
    }
    match o.volatility {
        Some((train, recent)) if train > 0.0 => {
            let r = recent / train;
            push(
                "volatility",
                r > t.volatility_ratio || r < 1.0 / t.volatility_ratio,
                format!(
                    "recent volatility {recent:.5} vs training {train:.5} per bar: ×{r:.2} (fires beyond ×{:.2} or ×{:.2})",
                    t.volatility_ratio,
                    1.0 / t.volatility_ratio
                ),
            );
        }
        _ => push("volatility", false, "volatility not measured".into()),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn live(n: usize, coverage: f64, hit: f64, is: f64) -> WindowMetrics {
        WindowMetrics {
            n,
            coverage: Some(coverage),
            interval_score: Some(is),
            hit_rate: Some(hit),
            mean_error: Some(0.0),
            mean_abs_error: Some(0.001),
        }
    }

    fn stable() -> Observed {
        Observed {
            now: Some(t("2011-02-01T00:00:00Z")),
            last_retrain: Some(t("2011-01-30T00:00:00Z")),
            champion: true,
            live: Some(live(100, 0.80, 0.52, 0.010)),
            validation: Some(Validation {
                coverage: Some(0.8),
                interval_score: Some(0.010),
                directional_accuracy: Some(0.52),
            }),
            psi: vec![("15m rsi_14".into(), 0.03), ("1d atr_14".into(), 0.08)],
            volatility: Some((0.001, 0.0011)),
        }
    }

    fn fired(o: &Observed) -> Vec<String> {
        evaluate(&Triggers::default(), o).into_iter().filter(|c| c.fired).map(|c| c.trigger).collect()
    }

    #[test]
    fn stable_data_fires_nothing_and_every_check_reports() {
        let checks = evaluate(&Triggers::default(), &stable());
        assert_eq!(checks.len(), 7);
        assert!(checks.iter().all(|c| !c.fired), "{checks:?}");
        assert!(checks.iter().any(|c| c.why.contains("last retrain 2.0 days ago")), "{checks:?}");
    }

    #[test]
    fn each_trigger_fires_on_its_constructed_case() {
        let mut o = stable();
        o.last_retrain = Some(t("2011-01-20T00:00:00Z"));
        assert_eq!(fired(&o), ["schedule"]);
        let mut o = stable();
        o.live = Some(live(100, 0.62, 0.52, 0.010));
        assert_eq!(fired(&o), ["coverage"]);
        let mut o = stable();
        o.live = Some(live(100, 0.80, 0.44, 0.010));
        assert_eq!(fired(&o), ["hit_rate"]);
        let mut o = stable();
        o.live = Some(live(100, 0.80, 0.52, 0.014));
        assert_eq!(fired(&o), ["interval_score"]);
        let mut o = stable();
        o.psi.push(("1h obv".into(), 0.6));
        assert_eq!(fired(&o), ["drift"]);
        let mut o = stable();
        o.volatility = Some((0.001, 0.0025));
        assert_eq!(fired(&o), ["volatility"]);
        let mut o = stable();
        o.volatility = Some((0.001, 0.0005));
        assert_eq!(fired(&o), ["volatility"], "a calmer regime is a change too");
        let mut o = stable();
        o.champion = false;
        assert_eq!(fired(&o), ["no_champion"]);
    }

    #[test]
    fn too_few_live_predictions_never_fire_the_live_checks() {
        let mut o = stable();
        o.live = Some(live(10, 0.1, 0.1, 1.0));
        assert!(fired(&o).is_empty());
        let c = evaluate(&Triggers::default(), &o);
        assert!(c.iter().any(|c| c.trigger == "coverage" && c.why.contains("10 scored live predictions")));
    }
}
