//! Accuracy tracking (run by [`crate::cron`]): scores stored predictions once their horizon has passed.

use chrono::{DateTime, TimeZone, Utc};
use mtf_alpaca::request::{BarsRequest, Sort};
use mtf_alpaca::rest::BarsResponse;
use mtf_market::Timeframe;
use serde_json::json;
use worker::Env;

use crate::config::Config;
use crate::db::{self, PendingRow};
use crate::http::{iso, log_error, now_ms};
use crate::logic::{self, ApiError};
use crate::routes::predictions::bump_generation;
use crate::upstream::alpaca_get_as;

/// Scores stored predictions whose horizon has passed: the realised price is the close of the 1-minute bar
/// that ends at the horizon (or the latest one ending within 15 minutes before it, for illiquid minutes).
/// Predictions whose bar is not available yet (e.g. a replay clock behind) wait for the next run.
pub async fn track_accuracy(env: &Env, cfg: &Config) -> Result<usize, ApiError> {
    let db = db::d1(env)?;
    let pending: Vec<PendingRow> = db::rows(
        &db,
        "SELECT id, symbol, prediction_time, horizon_minutes, predicted_price, last_close, interval_low, interval_high, signal \
         FROM ml_predictions WHERE realized_price IS NULL ORDER BY prediction_time ASC LIMIT 200",
        &[],
    )
    .await?;
    let now = now_ms();
    let mut scored = 0;
    for p in pending {
        let Ok(t0) = DateTime::parse_from_rfc3339(&p.prediction_time) else { continue };
        let target = t0.timestamp_millis() + p.horizon_minutes as i64 * 60_000;
        if target > now {
            continue;
        }
        let from = Utc.timestamp_millis_opt(target - 15 * 60_000).single();
        let to = Utc.timestamp_millis_opt(target - 60_000).single();
        let request = BarsRequest::new([p.symbol.clone()], Timeframe::M1)
            .range(from, to)
            .limit(20)
            .sort(Sort::Desc)
            .feed(cfg.feed);
        let Ok(path) = request.path_and_query() else { continue };
        let page: BarsResponse = match alpaca_get_as(cfg, &path).await {
            Ok(page) => page,
            Err(e) => {
                log_error(&format!("accuracy: {}", p.symbol), &e, cfg);
                continue;
            }
        };
        let Some(bar) = page.bars.iter().filter(|b| b.start_ms() + 60_000 <= target).max_by_key(|b| b.start_ms())
        else {
            continue;
        };
        let o = logic::score(p.predicted_price, p.last_close, p.interval_low, p.interval_high, &p.signal, bar.close());
        db::run(
            &db,
            "UPDATE ml_predictions SET realized_price = ?1, realized_error = ?2, hit = ?3, in_interval = ?4, \
             evaluated_at = ?5 WHERE id = ?6",
            &[
                json!(o.realized_price),
                json!(o.error),
                json!(o.hit),
                json!(o.in_interval),
                json!(iso(now)),
                json!(p.id),
            ],
        )
        .await?;
        scored += 1;
        bump_generation(env, &p.symbol).await;
    }
    Ok(scored)
}
