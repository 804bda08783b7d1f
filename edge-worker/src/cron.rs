//! The cron (every 5 minutes, `wrangler.toml`): scheduled predictions of the `WATCHLIST` at the newest base-bar
//! close, stored once per (model, symbol, horizon, instant) with their inputs (for feature drift), then accuracy
//! tracking of what is stored and the monitoring step (model health) — so the model panel, the performance and
//! health routes have data with no browser open.

use chrono::{DateTime, TimeZone, Utc};
use mtf_market::Timeframe;
use mtf_market::session::{SessionFilter, regular_close, trading_day};
use serde_json::json;
use worker::{Env, ScheduleContext, ScheduledEvent, event};

use crate::accuracy::track_accuracy;
use crate::config::Config;
use crate::db;
use crate::http::{iso, log_error, now_ms};
use crate::inference;
use crate::logic::{self, ApiError};
use crate::routes::predict::predict_with_inputs;
use crate::routes::predictions::bump_generation;
use crate::serving::{self, PredictQuery};
use crate::wire::{ScheduledModelRun, ScheduledRun};

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = Config::from_env(&env);
    match predict_watchlist(&env, &cfg, None).await {
        Ok(r) => worker::console_log!(
            "scheduled predictions at {}: {} stored, {} failed{}",
            r.at,
            r.stored,
            r.failed.len(),
            r.skipped.map(|s| format!(" (skipped: {s})")).unwrap_or_default()
        ),
        Err(e) => log_error("scheduled predictions failed", &e, &cfg),
    }
    match track_accuracy(&env, &cfg).await {
        Ok(r) => worker::console_log!(
            "accuracy tracking: {} scored, {} unscorable, {} expired, {} waiting",
            r.scored,
            r.unscorable,
            r.expired,
            r.waiting
        ),
        Err(e) => log_error("accuracy tracking failed", &e, &cfg),
    }
}

/// The base-bar close to predict at for a run at `now`: intraday, the newest bucket boundary whose bar started
/// in the session; daily, today's 16:00 New York close once it has passed. `None` outside the session.
pub fn scheduled_instant(now: DateTime<Utc>, base: Timeframe, session: SessionFilter) -> Option<DateTime<Utc>> {
    if base.is_intraday() {
        let ms = serving::bucket_ms(now.timestamp_millis(), base.minutes());
        let bar_start = ms - base.minutes() * 60_000;
        session.contains_ms(bar_start).then(|| Utc.timestamp_millis_opt(ms).single()).flatten()
    } else {
        let close = regular_close(trading_day(now));
        (now >= close).then_some(close)
    }
}

/// Predicts the watchlist with every active model (one per horizon) at its newest base-bar close before `at`
/// (default now) and stores the predictions whose newest base bar closed at that instant (none on holidays),
/// idempotently: a second run for the same instant stores nothing (`INSERT OR IGNORE` on the unique index of
/// migration 0002). A model that fails is reported in its run; the others still run.
///
/// # Errors
/// No active model (503), or D1 failing.
pub async fn predict_watchlist(env: &Env, cfg: &Config, at: Option<DateTime<Utc>>) -> Result<ScheduledRun, ApiError> {
    let (symbols, bad) = serving::parse_watchlist(&cfg.watchlist);
    if !bad.is_empty() {
        worker::console_warn!("WATCHLIST: skipped invalid symbol(s) {}", bad.join(", "));
    }
    if symbols.is_empty() {
        return Ok(ScheduledRun {
            models: vec![],
            at: String::new(),
            stored: 0,
            predicted: 0,
            failed: vec![],
            skipped: Some("WATCHLIST is empty".into()),
        });
    }
    let active = db::active_models(&db::d1(env)?).await?;
    if active.is_empty() {
        return Err(inference::no_active_model());
    }
    let mut runs = Vec::new();
    for row in &active {
        match predict_watchlist_with(env, cfg, at, &symbols, &row.version).await {
            Ok(r) => runs.push(r),
            Err(e) => {
                log_error(&format!("scheduled predictions of {}", row.version), &e, cfg);
                let horizon = row.horizon_minutes.map_or(0, |h| h as i64);
                runs.push(ScheduledModelRun::skipped(&row.version, horizon, format!("{}: {}", e.code, e.message)));
            }
        }
    }
    Ok(summarise(runs))
}

/// The sums of the models' runs (`at` and `skipped` of the first, the newest activation).
fn summarise(runs: Vec<ScheduledModelRun>) -> ScheduledRun {
    let first = runs.first();
    ScheduledRun {
        at: first.map(|r| r.at.clone()).unwrap_or_default(),
        skipped: first.and_then(|r| r.skipped.clone()),
        stored: runs.iter().map(|r| r.stored).sum(),
        predicted: runs.iter().map(|r| r.predicted).sum(),
        failed: runs.iter().flat_map(|r| r.failed.iter().cloned()).collect(),
        models: runs,
    }
}

/// [`predict_watchlist`] for one model version.
async fn predict_watchlist_with(
    env: &Env,
    cfg: &Config,
    at: Option<DateTime<Utc>>,
    symbols: &[String],
    version: &str,
) -> Result<ScheduledModelRun, ApiError> {
    let served = inference::model(env, cfg, Some(version), None).await?;
    let horizon_minutes = inference::horizon_minutes(&served.model);
    let skip = |why: String| ScheduledModelRun::skipped(version, horizon_minutes, why);
    let data = &served.model.predictor.header.data;
    let (base, session) = (data.base, data.session);
    let now = at.unwrap_or_else(|| Utc.timestamp_millis_opt(now_ms()).single().unwrap_or_default());
    let Some(instant) = scheduled_instant(now, base, session) else {
        return Ok(skip(format!("{} is outside the session", iso(now.timestamp_millis()))));
    };
    let q = PredictQuery {
        symbols: symbols.iter().cloned().map(Ok).collect(),
        horizon_minutes: None,
        at: Some(instant),
        model: Some(version.to_string()),
    };
    // Fresh (not from the prediction cache): each stored prediction comes with its inputs, recorded for drift.
    let (r, inputs) = predict_with_inputs(env, cfg, &q, true).await?;
    let d1 = db::d1(env)?;
    let (mut stored, mut predicted, mut failed) = (0, 0, Vec::new());
    for e in r.predictions {
        let Some(p) = e.prediction.as_ref().filter(|_| !e.stale) else {
            failed.push(e);
            continue;
        };
        predicted += 1;
        // Only a bar that closed at the instant makes it a scheduled prediction (not on a holiday).
        let last = p.get("lastBarStart").and_then(|v| v.as_str()).and_then(|s| s.parse::<DateTime<Utc>>().ok());
        if last.map(|t| base.bar_end(t, session)) != Some(instant) {
            continue;
        }
        let row = logic::validate_prediction(p, &e.symbol, now_ms())?;
        let changes = db::run(
            &d1,
            "INSERT OR IGNORE INTO ml_predictions (symbol, model_version, prediction_time, horizon_minutes, predicted_price, \
             interval_low, interval_high, confidence, signal, last_close, attention_weights, payload, target_time, source) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'edge')",
            &[
                json!(row.symbol),
                json!(row.model_version),
                json!(iso(instant.timestamp_millis())),
                json!(row.horizon_minutes),
                json!(row.predicted_price),
                json!(row.interval_low),
                json!(row.interval_high),
                json!(row.confidence),
                json!(row.signal),
                json!(row.last_close),
                json!(row.attention_weights),
                json!(row.payload),
                json!(row.target_time),
            ],
        )
        .await?;
        if changes > 0 {
            stored += changes;
            bump_generation(env, &row.symbol).await;
            if let Some(x) = inputs.get(&e.symbol)
                && let Ok(text) = serde_json::to_string(x)
            {
                db::run(
                    &d1,
                    "INSERT OR IGNORE INTO ml_feature_obs (model_version, symbol, at, inputs) VALUES (?1, ?2, ?3, ?4)",
                    &[json!(row.model_version), json!(row.symbol), json!(iso(instant.timestamp_millis())), json!(text)],
                )
                .await?;
            }
        }
    }
    Ok(ScheduledModelRun {
        model: version.to_string(),
        horizon_minutes,
        at: iso(instant.timestamp_millis()),
        stored,
        predicted,
        failed,
        skipped: None,
    })
}
