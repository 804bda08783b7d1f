//! `mtf backfill`: history from Alpaca (or `mtf replay`) into the bar store, with a progress bar and a summary.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use mtf_alpaca::request::{Adjustment, Feed};
use mtf_backfill::limits::{RetryPolicy, SystemClock};
use mtf_backfill::{Config, Event, Summary};
use mtf_market::Timeframe;
use mtf_store::Store;

/// The flags of `mtf backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// Comma-separated symbols, e.g. SPY,AAPL.
    #[arg(long, value_delimiter = ',', required = true)]
    symbols: Vec<String>,
    /// Bar size: 1Min, 5Min, 15Min, 30Min, 1Hour, 1Day, …
    #[arg(long)]
    timeframe: Timeframe,
    /// First day (YYYY-MM-DD, midnight UTC) or instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    start: DateTime<Utc>,
    /// Last bar start wanted, inclusive (YYYY-MM-DD means the end of that day UTC; default: now).
    #[arg(long, value_parser = parse_end)]
    end: Option<DateTime<Utc>>,
    /// Data feed (the free plan has IEX; SIP's last 15 minutes need a paid plan).
    #[arg(long, default_value = "iex")]
    feed: Feed,
    /// Corporate-action adjustment.
    #[arg(long, default_value = "raw")]
    adjustment: Adjustment,
    /// Re-fetch this many days before each symbol's last stored bar (late corrections replace stored bars).
    #[arg(long)]
    refresh_days: Option<u32>,
    /// Store directory (created on first write).
    #[arg(long)]
    store: PathBuf,
    /// Data API base URL (point it at `mtf replay`, e.g. http://127.0.0.1:8788).
    #[arg(long, default_value = "https://data.alpaca.markets")]
    data_url: String,
    /// Client-side request budget per minute (Alpaca's free plan allows 200).
    #[arg(long, default_value_t = 200)]
    rate_limit: u32,
    /// Retries per page after 429, 5xx or a dropped connection.
    #[arg(long, default_value_t = 6)]
    max_retries: u32,
    /// First retry wait in ms (doubles each retry, at most 60 s; a Retry-After header takes its place).
    #[arg(long, default_value_t = 500)]
    retry_base_ms: u64,
    /// Bars per page (1–10000).
    #[arg(long, default_value_t = 10_000)]
    page_limit: u32,
    /// Write a snapshot whenever this many fetched bars are pending (a kill loses at most these).
    #[arg(long, default_value_t = 200_000)]
    checkpoint_bars: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("`{s}` is neither YYYY-MM-DD nor RFC 3339 (2024-01-02T14:30:00Z)"))
}

fn parse_end(s: &str) -> Result<DateTime<Utc>, String> {
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => {
            Ok(d.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(1) - chrono::Duration::seconds(1))
        }
        Err(_) => parse_instant(s),
    }
}

/// Runs `mtf backfill`.
pub fn backfill(a: BackfillArgs) -> anyhow::Result<()> {
    let key = std::env::var("APCA_API_KEY_ID").context("APCA_API_KEY_ID is not set (your Alpaca key id)")?;
    let secret = std::env::var("APCA_API_SECRET_KEY").context("APCA_API_SECRET_KEY is not set (your Alpaca secret)")?;
    if let Some(end) = a.end
        && end < a.start
    {
        bail!("--end {end} is before --start {}", a.start);
    }
    let cfg = Config {
        symbols: a.symbols,
        timeframe: a.timeframe,
        start: a.start,
        end: a.end,
        feed: a.feed,
        adjustment: a.adjustment,
        refresh_days: a.refresh_days,
        data_url: a.data_url,
        key,
        secret,
        requests_per_minute: a.rate_limit,
        retry: RetryPolicy {
            max_retries: a.max_retries,
            base: Duration::from_millis(a.retry_base_ms),
            max_wait: Duration::from_secs(60),
        },
        page_limit: a.page_limit,
        checkpoint_bars: a.checkpoint_bars,
    };
    let store = Store::open(&a.store);
    let bar = indicatif::ProgressBar::new(10_000).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed_precise}, ETA {eta}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // `suspend` + eprintln rather than `println`: a hidden bar (stderr not a terminal) drops `println` lines.
    let say = |msg: String| bar.suspend(|| eprintln!("{msg}"));
    let started = std::time::Instant::now();
    let mut on = |e: &Event| match e {
        Event::Plan { starts, .. } => {
            say(format!("backfill {} symbol(s) {} into {}", starts.len(), cfg.timeframe.alpaca(), a.store.display()));
            for (sym, from) in starts {
                say(format!("  {sym:<6} from {}", from.to_rfc3339()));
            }
        }
        Event::Page { symbols, page, total_bars, fraction, .. } => {
            bar.set_position((fraction * 10_000.0) as u64);
            let rate = *total_bars as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{total_bars} bars, {rate:.0} bars/s, {} page {page}", symbols.join(",")));
        }
        Event::Waiting { reason, wait } => {
            if reason != "rate limit" {
                say(format!("  retry in {wait:.1?}: {reason}"));
            }
            bar.set_message(format!("waiting {wait:.1?}: {reason}"));
        }
        Event::Written(w) if w.changed => {
            say(format!(
                "  checkpoint: snapshot {} (+{} bars, {} replaced)",
                &w.snapshot[..12],
                w.bars_added,
                w.bars_replaced
            ));
        }
        Event::Written(_) => {}
    };
    let clock = SystemClock::default();
    let http = mtf_backfill::http::UreqHttp::new(Duration::from_secs(120));
    let result = mtf_backfill::backfill(&cfg, &store, &http, &clock, &mut on);
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    match result {
        Ok(s) => {
            print_summary(&s, elapsed, a.json)?;
            if !s.failed.is_empty() {
                let names: Vec<String> = s.failed.iter().map(|(sym, why)| format!("{sym} ({why})")).collect();
                bail!("{} symbol(s) refused: {}; the others are stored", s.failed.len(), names.join("; "));
            }
            Ok(())
        }
        Err(f) => {
            let f = *f;
            print_summary(&f.summary, elapsed, a.json)?;
            Err(anyhow::Error::new(f.error).context(
                "backfill stopped; what was fetched before is stored (run the same command again to continue)",
            ))
        }
    }
}

fn print_summary(s: &Summary, elapsed: Duration, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(s)?)?;
        return Ok(());
    }
    for (sym, x) in &s.symbols {
        let range = match (x.first, x.last) {
            (Some(f), Some(l)) => format!("{} → {}", f.to_rfc3339(), l.to_rfc3339()),
            _ => "no new bars".into(),
        };
        writeln!(out, "{sym:<6} {:>9} bars  {range}", x.bars)?;
    }
    for sym in &s.up_to_date {
        writeln!(out, "{sym:<6} up to date (nothing requested)")?;
    }
    for (sym, why) in &s.failed {
        writeln!(out, "{sym:<6} REFUSED: {why}")?;
    }
    let total: usize = s.symbols.values().map(|x| x.bars).sum();
    writeln!(
        out,
        "{total} bars in {:.1} s ({:.0} bars/s): {} pages, {} requests, {} retries, {:.1} s waiting on the rate limit",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(1e-3),
        s.pages,
        s.requests,
        s.retries,
        s.rate_limited_ms as f64 / 1000.0
    )?;
    writeln!(
        out,
        "store: {} bars added, {} replaced, {} snapshot(s) written; current snapshot {}",
        s.bars_added,
        s.bars_replaced,
        s.snapshots_written,
        s.snapshot.as_deref().unwrap_or("(empty store)")
    )?;
    Ok(())
}
