//! Live health of a model version: rolling metrics of its scored predictions per horizon, next to its own
//! validation numbers (`GET /api/v1/models/{version}/health`; `mtf retrain --if-needed` reads it).
//!
//! Windows end at the newest scored target time of the version (not the wall clock, so a replayed month reads as
//! it would have live): the last day, the last 7 days and the last 100 predictions. All numbers are in
//! log-return units of the prediction's last close, as in the model's evaluation.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One scored prediction, as the edge stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRow {
    /// Horizon in minutes.
    pub horizon_minutes: i64,
    /// When the outcome was known (prediction time + horizon).
    pub target_time: DateTime<Utc>,
    /// The close the prediction was made from.
    pub last_close: f64,
    /// Predicted price (the median).
    pub predicted_price: f64,
    /// Band.
    pub interval_low: f64,
    /// Band.
    pub interval_high: f64,
    /// The band's nominal level (from the prediction, 0.8).
    pub level: f64,
    /// The realised price at the target time.
    pub realized_price: f64,
    /// Whether the predicted direction was right.
    pub hit: Option<bool>,
}

/// Rolling metrics over one window (`None` where nothing was scored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WindowMetrics {
    /// Scored predictions in the window.
    #[ts(type = "number")]
    pub n: usize,
    /// Share of outcomes inside the band.
    pub coverage: Option<f64>,
    /// Mean interval score (Winkler) of the band; lower is better.
    pub interval_score: Option<f64>,
    /// Share of right directions (rows with a direction only).
    pub hit_rate: Option<f64>,
    /// Mean of `ln(predicted / realised)` (bias; > 0: too high).
    pub mean_error: Option<f64>,
    /// Mean of `|ln(predicted / realised)|`.
    pub mean_abs_error: Option<f64>,
}

/// One UTC day of scored predictions (by target time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DailyPoint {
    /// UTC day (YYYY-MM-DD) of the target times.
    pub day: String,
    /// The day's metrics.
    pub metrics: WindowMetrics,
}

/// A horizon's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HorizonHealth {
    /// Horizon in minutes.
    #[ts(type = "number")]
    pub horizon_minutes: i64,
    /// Nominal band level of its predictions.
    pub level: f64,
    /// Target times within a day of the newest.
    pub last_day: WindowMetrics,
    /// Within 7 days of the newest.
    pub last_week: WindowMetrics,
    /// The newest 100.
    pub last_100: WindowMetrics,
    /// Per day, oldest first (for plots).
    pub daily: Vec<DailyPoint>,
}

/// The model's own validation numbers (walk-forward, from its artifact), the reference for live numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Validation {
    /// Band coverage.
    pub coverage: Option<f64>,
    /// Interval score.
    pub interval_score: Option<f64>,
    /// Directional accuracy.
    pub directional_accuracy: Option<f64>,
}

impl Validation {
    /// From a model's registered metrics (`report.json`: the model's `coverage_q10_q90`, `interval_score`,
    /// `directional_accuracy` at the top level, next to `baselines`).
    #[must_use]
    pub fn from_metrics(m: &serde_json::Value) -> Self {
        Self {
            coverage: m["coverage_q10_q90"].as_f64(),
            interval_score: m["interval_score"].as_f64(),
            directional_accuracy: m["directional_accuracy"].as_f64(),
        }
    }
}

/// `GET /api/v1/models/{version}/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelHealth {
    /// `name@version`.
    pub version: String,
    /// Newest scored target time (RFC 3339 UTC); the windows end here.
    pub as_of: Option<String>,
    /// Scored predictions read.
    #[ts(type = "number")]
    pub scored: usize,
    /// Per horizon, shortest first.
    pub horizons: Vec<HorizonHealth>,
    /// The version's validation numbers.
    pub validation: Validation,
    /// When these numbers were computed (RFC 3339 UTC); `None` until the edge stamps them.
    #[serde(default)]
    pub computed_at: Option<String>,
    /// Whether they were computed by the edge's monitoring run after scoring (`true`) or on request.
    #[serde(default)]
    pub precomputed: bool,
    /// Feature drift of the edge's own (server-side) predictions: per timeframe, the largest population
    /// stability index over its inputs of the newest 7 days of observations against the artifact's training
    /// reference (< 0.1 stable, > 0.25 large). Empty when not measured.
    #[serde(default)]
    pub drift: BTreeMap<String, f64>,
    /// Observations (edge predictions with their inputs) the drift was measured on.
    #[serde(default)]
    #[ts(type = "number")]
    pub drift_observations: usize,
    /// Whether the version's artifact carries a training reference (older artifacts do not: no drift).
    #[serde(default)]
    pub drift_reference: bool,
}

/// Winkler interval score at level `level` in log-return units: width plus `2 / (1 − level)` times the
/// distance by which the outcome falls outside.
#[must_use]
pub fn interval_score(low: f64, high: f64, outcome: f64, level: f64) -> f64 {
    let alpha = (1.0 - level).max(1e-9);
    let penalty = if outcome < low {
        low - outcome
    } else if outcome > high {
        outcome - high
    } else {
        0.0
    };
    (high - low) + 2.0 / alpha * penalty
}

/// Metrics of `rows` (rows with non-positive prices are skipped).
#[must_use]
pub fn window(rows: &[&ScoredRow]) -> WindowMetrics {
    let (mut n, mut cov, mut is, mut err, mut abs) = (0usize, 0.0, 0.0, 0.0, 0.0);
    let (mut hits, mut with_dir) = (0usize, 0usize);
    for r in rows {
        let p = r.last_close;
        if [p, r.interval_low, r.interval_high, r.realized_price].iter().any(|v| v.is_nan() || *v <= 0.0) {
            continue;
        }
        let (lo, hi, y) = ((r.interval_low / p).ln(), (r.interval_high / p).ln(), (r.realized_price / p).ln());
        n += 1;
        cov += f64::from(u8::from(lo <= y && y <= hi));
        is += interval_score(lo, hi, y, r.level);
        let e = (r.predicted_price.max(f64::MIN_POSITIVE) / r.realized_price).ln();
        err += e;
        abs += e.abs();
        if let Some(h) = r.hit {
            with_dir += 1;
            hits += usize::from(h);
        }
    }
    let mean = |s: f64| (n > 0).then(|| s / n as f64);
    WindowMetrics {
        n,
        coverage: mean(cov),
        interval_score: mean(is),
        hit_rate: (with_dir > 0).then(|| hits as f64 / with_dir as f64),
        mean_error: mean(err),
        mean_abs_error: mean(abs),
    }
}

/// The health of `version` from its scored rows (any order).
#[must_use]
pub fn summarise(version: &str, rows: &[ScoredRow], validation: Validation) -> ModelHealth {
    let mut by_h: BTreeMap<i64, Vec<&ScoredRow>> = BTreeMap::new();
    for r in rows {
        by_h.entry(r.horizon_minutes).or_default().push(r);
    }
    let as_of = rows.iter().map(|r| r.target_time).max();
    let horizons = by_h
        .into_iter()
        .map(|(h, mut rs)| {
            rs.sort_by_key(|r| r.target_time);
            let newest = rs.last().map_or(DateTime::<Utc>::MIN_UTC, |r| r.target_time);
            let since = |d: Duration| rs.iter().copied().filter(|r| r.target_time > newest - d).collect::<Vec<_>>();
            let mut days: BTreeMap<String, Vec<&ScoredRow>> = BTreeMap::new();
            for r in &rs {
                days.entry(r.target_time.format("%Y-%m-%d").to_string()).or_default().push(r);
            }
            HorizonHealth {
                horizon_minutes: h,
                level: rs.last().map_or(0.0, |r| r.level),
                last_day: window(&since(Duration::days(1))),
                last_week: window(&since(Duration::days(7))),
                last_100: window(&rs[rs.len().saturating_sub(100)..]),
                daily: days.into_iter().map(|(day, v)| DailyPoint { day, metrics: window(&v) }).collect(),
            }
        })
        .collect();
    ModelHealth {
        version: version.to_string(),
        as_of: as_of.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        scored: rows.len(),
        horizons,
        validation,
        computed_at: None,
        precomputed: false,
        drift: BTreeMap::new(),
        drift_observations: 0,
        drift_reference: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(minutes_after: i64, realized: f64, hit: bool) -> ScoredRow {
        ScoredRow {
            horizon_minutes: 60,
            target_time: DateTime::parse_from_rfc3339("2011-01-03T15:00:00Z").unwrap().with_timezone(&Utc)
                + Duration::minutes(minutes_after),
            last_close: 100.0,
            predicted_price: 100.5,
            interval_low: 99.0,
            interval_high: 101.0,
            level: 0.8,
            realized_price: realized,
            hit: Some(hit),
        }
    }

    #[test]
    fn interval_score_is_width_inside_and_penalised_outside() {
        assert!((interval_score(-0.01, 0.01, 0.0, 0.8) - 0.02).abs() < 1e-15);
        // 0.005 outside at α = 0.2: 0.02 + 10 · 0.005.
        assert!((interval_score(-0.01, 0.01, 0.015, 0.8) - 0.07).abs() < 1e-15);
    }

    #[test]
    fn windows_end_at_the_newest_target_and_count_what_they_hold() {
        // 150 rows 30 minutes apart (~3 days): 120 inside the band, 30 outside.
        let rows: Vec<ScoredRow> =
            (0..150).map(|i| row(30 * i, if i % 5 == 0 { 102.0 } else { 100.2 }, i % 2 == 0)).collect();
        let h = summarise(
            "m@1",
            &rows,
            Validation { coverage: Some(0.8), interval_score: None, directional_accuracy: None },
        );
        assert_eq!(h.scored, 150);
        let hz = &h.horizons[0];
        assert_eq!(hz.last_100.n, 100);
        assert_eq!(hz.last_week.n, 150);
        assert_eq!(hz.last_day.n, 48, "target times within 24 h of the newest (exclusive)");
        assert!((hz.last_week.coverage.unwrap() - 0.8).abs() < 1e-12);
        assert!((hz.last_week.hit_rate.unwrap() - 0.5).abs() < 1e-12);
        let lo = (0.99f64).ln();
        let hi = (1.01f64).ln();
        let want = (120.0 * (hi - lo) + 30.0 * interval_score(lo, hi, 1.02f64.ln(), 0.8)) / 150.0;
        assert!((hz.last_week.interval_score.unwrap() - want).abs() < 1e-12);
        assert_eq!(hz.daily.iter().map(|d| d.metrics.n).sum::<usize>(), 150);
        assert_eq!(h.as_of.as_deref(), Some("2011-01-06T17:30:00Z"));
    }

    #[test]
    fn nothing_scored_is_none_not_zero() {
        let h = summarise("m@1", &[], Validation::from_metrics(&serde_json::json!({})));
        assert!(h.horizons.is_empty() && h.as_of.is_none());
        let w = window(&[]);
        assert_eq!((w.n, w.coverage, w.hit_rate), (0, None, None));
    }

    #[test]
    fn validation_reads_the_registered_report() {
        // report.json as `mtf train` writes it: the model's metrics flattened beside the baselines.
        let v = Validation::from_metrics(&serde_json::json!({
            "coverage_q10_q90": 0.79, "interval_score": 0.012, "directional_accuracy": 0.51, "baselines": {}
        }));
        assert_eq!((v.coverage, v.interval_score, v.directional_accuracy), (Some(0.79), Some(0.012), Some(0.51)));
    }
}
