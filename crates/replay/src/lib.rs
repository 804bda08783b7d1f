//! `mtf replay`: a local stand-in for Alpaca Market Data v2 (REST + stream) serving real bars from CSV files,
//! optionally on a replay clock. Tests and the demo point the edge worker at it; nothing else changes.

pub mod data;
pub mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Key pair used when `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY` are not set.
pub const DEFAULT_KEY: (&str, &str) = ("mtf-local-key", "mtf-local-secret");

/// Runs the stand-in until Ctrl-C.
///
/// # Errors
/// Bad data files, a bad `--start-at`, or a port in use.
pub fn run(data: Option<&Path>, host: &str, port: u16, start_at: Option<&str>, speed: f64) -> anyhow::Result<()> {
    let store = data::Store::load(data)?;
    if store.synthetic {
        eprintln!(
            "mtf replay: no <symbol>_<1min|1d>_*.csv files in {} — serving SYNTHETIC bars (a random walk) as symbol {}",
            data.map_or("<none>".into(), |d| d.display().to_string()),
            data::SYNTHETIC_SYMBOL
        );
    } else {
        eprintln!("mtf replay: real bars from {} file(s): {}", store.files.len(), store.files.join(", "));
        for (sym, d) in &store.symbols {
            eprintln!("  {sym}: {} minute bars, {} daily bars", d.minutes.len(), d.daily.len());
        }
    }
    anyhow::ensure!(speed.is_finite() && speed > 0.0, "--speed must be a positive number, got {speed}");
    let clock = match start_at {
        None => None,
        Some("first") => Some(data::Clock::new(
            store.first_minute().ok_or_else(|| anyhow::anyhow!("no minute bars to start at"))?,
            speed,
        )),
        Some(t) => {
            let t: DateTime<Utc> = DateTime::parse_from_rfc3339(t)
                .map_err(|e| anyhow::anyhow!("--start-at `{t}` is not RFC 3339 (e.g. 2011-01-31T15:00:00Z): {e}"))?
                .with_timezone(&Utc);
            Some(data::Clock::new(t, speed))
        }
    };
    match &clock {
        Some(_) => eprintln!("mtf replay: replay clock from {} at {speed}× real time", start_at.unwrap_or_default()),
        None => eprintln!("mtf replay: no clock — every bar is history (the stream sends nothing)"),
    }
    let key = std::env::var("APCA_API_KEY_ID").unwrap_or_else(|_| DEFAULT_KEY.0.into());
    let secret = std::env::var("APCA_API_SECRET_KEY").unwrap_or_else(|_| DEFAULT_KEY.1.into());
    if std::env::var("APCA_API_KEY_ID").is_err() {
        eprintln!(
            "mtf replay: APCA_API_KEY_ID/APCA_API_SECRET_KEY not set; accepting the local pair {}/…",
            DEFAULT_KEY.0
        );
    }
    let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|e| anyhow::anyhow!("bad --host/--port: {e}"))?;
    let state = Arc::new(server::Standin::new(store, clock, key, secret));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(server::serve(state, addr))
}
