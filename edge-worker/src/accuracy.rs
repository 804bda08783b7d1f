//! Accuracy tracking (run by [`crate::cron`]): scores stored predictions once their target has passed, and
//! gives every one a terminal state (the rules are in [`crate::scoring`]). One run: pending rows undecided after
//! [`scoring::MAX_ATTEMPTS`] runs expire; the due ones (fewest failed attempts, then oldest target first) are fetched once per
//! symbol and window; all updates go in one D1 batch, each conditional on the row still being pending, and what
//! changed is counted from D1's `meta.changes` — so overlapping runs never score a row twice. Then the monitoring
//! step: the health of every version it scored is recomputed and stored (`ml_model_health`), and the outcomes of
//! the edge's own predictions update the live recalibration state ([`crate::recalibration`]).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use mtf_alpaca::request::BarsRequest;
use mtf_alpaca::rest::BarsResponse;
use mtf_market::{Bar, Timeframe};
use serde_json::json;
use worker::Env;

use crate::config::Config;
use crate::db::{self, PendingRow};
use crate::http::{iso, log_error, now_ms};
use crate::logic::ApiError;
use crate::routes::predictions::bump_generation;
use crate::scoring::{self, Pending, Verdict};
use crate::upstream::alpaca_get_as;
use crate::wire::AccuracyRun;

/// Bars of one symbol over `[start_ms, end_ms)` (1-minute, one page), or `None` when Alpaca fails.
async fn minute_bars(cfg: &Config, symbol: &str, start_ms: i64, end_ms: i64) -> Option<Vec<Bar>> {
    let t = |ms: i64| Utc.timestamp_millis_opt(ms).single();
    let request = BarsRequest::new([symbol.to_string()], Timeframe::M1)
        .range(t(start_ms), t(end_ms - 60_000))
        .limit(10_000)
        .feed(cfg.feed);
    let path = request.path_and_query().ok()?;
    match alpaca_get_as::<BarsResponse>(cfg, &path).await {
        Ok(page) => Some(page.bars),
        Err(e) => {
            log_error(&format!("accuracy: {symbol}"), &e, cfg);
            None
        }
    }
}

/// One run of accuracy tracking.
///
/// # Errors
/// D1 failing.
pub async fn track_accuracy(env: &Env, cfg: &Config) -> Result<AccuracyRun, ApiError> {
    let d1 = db::d1(env)?;
    let now = now_ms();
    let expired = db::run(
        &d1,
        "UPDATE ml_predictions SET status = 'expired', evaluated_at = ?1 WHERE status = 'pending' AND score_attempts >= ?2",
        &[json!(iso(now)), json!(scoring::MAX_ATTEMPTS)],
    )
    .await?;
    let due: Vec<PendingRow> = db::rows(
        &d1,
        &format!(
            "SELECT id, symbol, model_version, target_time, predicted_price, last_close, interval_low, interval_high, signal, \
             source FROM ml_predictions WHERE status = 'pending' AND target_time <= ?1 \
             ORDER BY score_attempts ASC, target_time ASC LIMIT {}",
            scoring::ROWS_PER_RUN
        ),
        &[json!(iso(now))],
    )
    .await?;
    let mut by_symbol: BTreeMap<String, Vec<(i64, Pending)>> = BTreeMap::new();
    let version_of: BTreeMap<i64, String> = due.iter().map(|r| (r.id as i64, r.model_version.clone())).collect();
    let from_edge: std::collections::BTreeSet<i64> =
        due.iter().filter(|r| r.source == crate::auth::SOURCES[0]).map(|r| r.id as i64).collect();
    // The scored outcomes of the edge's own predictions, for live recalibration (kept until the batch says which
    // rows this run actually scored).
    let mut outcomes: BTreeMap<i64, (String, crate::recalibration::Outcome)> = BTreeMap::new();
    for r in due {
        let Some(target_ms) = chrono::DateTime::parse_from_rfc3339(&r.target_time).ok().map(|t| t.timestamp_millis())
        else {
            continue;
        };
        by_symbol.entry(r.symbol.clone()).or_default().push((
            r.id as i64,
            Pending {
                target_ms,
                predicted_price: r.predicted_price,
                last_close: r.last_close,
                interval_low: r.interval_low,
                interval_high: r.interval_high,
                signal: r.signal,
            },
        ));
    }
    let mut requests = 0;
    let mut stmts = Vec::new();
    let mut kinds = Vec::new(); // what each statement is, to count its changes
    let mut touched: Vec<String> = Vec::new();
    let mut scored_versions: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    'symbols: for (symbol, rows) in &by_symbol {
        let targets: Vec<i64> = rows.iter().map(|(_, p)| p.target_ms).collect();
        for (start, end, members) in scoring::windows(&targets).into_iter().take(scoring::WINDOWS_PER_SYMBOL) {
            if requests >= scoring::REQUESTS_PER_RUN {
                break 'symbols;
            }
            requests += 1;
            let bars = minute_bars(cfg, symbol, start, end).await;
            for i in members {
                let (id, p) = &rows[i];
                let verdict = scoring::verdict(p, bars.as_deref());
                if let Verdict::Scored(o) = &verdict
                    && from_edge.contains(id)
                {
                    let outcome = crate::recalibration::Outcome {
                        target_ms: p.target_ms,
                        last_close: p.last_close,
                        low: p.interval_low,
                        predicted: p.predicted_price,
                        high: p.interval_high,
                        realised: o.realized_price,
                    };
                    outcomes.insert(*id, (symbol.clone(), outcome));
                }
                let (sql, args, kind) = match verdict {
                    Verdict::Scored(o) => (
                        "UPDATE ml_predictions SET realized_price = ?1, realized_error = ?2, hit = ?3, in_interval = ?4, \
                         evaluated_at = ?5, status = 'scored' WHERE id = ?6 AND status = 'pending'",
                        vec![
                            json!(o.realized_price),
                            json!(o.error),
                            json!(o.hit),
                            json!(o.in_interval),
                            json!(iso(now)),
                            json!(id),
                        ],
                        "scored",
                    ),
                    Verdict::Unscorable => (
                        "UPDATE ml_predictions SET status = 'unscorable', evaluated_at = ?1 WHERE id = ?2 AND status = 'pending'",
                        vec![json!(iso(now)), json!(id)],
                        "unscorable",
                    ),
                    Verdict::Wait => (
                        "UPDATE ml_predictions SET score_attempts = score_attempts + 1 WHERE id = ?1 AND status = 'pending'",
                        vec![json!(id)],
                        "waiting",
                    ),
                };
                stmts.push(db::bind(d1.prepare(sql), &args)?);
                kinds.push((kind, symbol.clone(), *id));
            }
        }
    }
    let mut run = AccuracyRun { scored: 0, unscorable: 0, expired, waiting: 0, monitored: 0, recalibrated: 0 };
    let mut recal: BTreeMap<String, BTreeMap<String, Vec<crate::recalibration::Outcome>>> = BTreeMap::new();
    if !stmts.is_empty() {
        let results = d1.batch(stmts).await?;
        for (r, (kind, symbol, id)) in results.iter().zip(&kinds) {
            let changed = r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0);
            match *kind {
                "scored" => {
                    run.scored += changed;
                    if changed > 0
                        && let Some(v) = version_of.get(id)
                    {
                        scored_versions.insert(v.clone());
                        if let Some((sym, o)) = outcomes.get(id) {
                            recal.entry(v.clone()).or_default().entry(sym.clone()).or_default().push(*o);
                        }
                    }
                }
                "unscorable" => run.unscorable += changed,
                _ => run.waiting += changed,
            }
            if changed > 0 && *kind != "waiting" && !touched.contains(symbol) {
                touched.push(symbol.clone());
            }
        }
    }
    for s in &touched {
        bump_generation(env, s).await;
    }
    // Live recalibration: the outcomes of the edge's own predictions move their (version, symbol) state.
    for (version, by_symbol) in &recal {
        match crate::recalibration::update(&d1, version, by_symbol).await {
            Ok(n) => run.recalibrated += n,
            // Not fatal: the bands stay as they were until the next run.
            Err(e) => log_error("recalibration: update", &e, cfg),
        }
    }
    // Monitoring: the health of every version this run scored, recomputed once here instead of on each request.
    if !scored_versions.is_empty() {
        let versions: Vec<String> = scored_versions.into_iter().collect();
        match crate::routes::retrains::refresh(env, cfg, &d1, &versions).await {
            Ok(n) => run.monitored = n,
            // Not fatal: the health route computes on request while its stored numbers are outdated.
            Err(e) => log_error("monitoring: health refresh", &e, cfg),
        }
    }
    Ok(run)
}
