//! `mtf replay`: a local stand-in for Alpaca Market Data v2 (REST + stream) serving real bars from CSV files,
//! optionally on a replay clock. Tests and the demo point the edge worker at it; nothing else changes.
//!
//! A crate of its own (the `mtf` binary runs it as `mtf replay`): the stand-in is a test and demo component
//! for the CLI, the worker and the browser tests alike, speaking Alpaca through the `mtf-alpaca` wire types.

pub mod data;
pub mod msgpack;
pub mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Key pair used when `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY` are not set.
pub const DEFAULT_KEY: (&str, &str) = ("mtf-local-key", "mtf-local-secret");

/// Why the stand-in cannot start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A data file is malformed (the message names file, line and field).
    #[error(transparent)]
    Data(#[from] mtf_market::io::ReadError),
    /// A file system or network operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A bad option (speed, start, address).
    #[error("{0}")]
    Option(String),
    /// A malformed `page_token` in a bars request.
    #[error("invalid page_token `{0}`")]
    PageToken(String),
}

/// Runs the stand-in until Ctrl-C.
///
/// # Errors
/// Bad data files, a bad `--start-at`, or a port in use.
pub fn run(data: Option<&Path>, host: &str, port: u16, start_at: Option<&str>, speed: f64) -> Result<(), ReplayError> {
    let store = data::Store::load(data)?;
    if store.synthetic {
        eprintln!(
            "mtf replay: no <symbol>_<bar size>_*.csv files under {} — serving SYNTHETIC bars (a random walk) as symbol {}",
            data.map_or("<none>".into(), |d| d.display().to_string()),
            data::SYNTHETIC_SYMBOL
        );
    } else {
        eprintln!(
            "mtf replay: real bars from {} file(s) under {}",
            store.files.len(),
            data.map_or("?".into(), |d| d.display().to_string())
        );
        for sym in store.symbols.keys() {
            let sizes: Vec<String> =
                store.sizes(sym).iter().map(|(tf, n)| format!("{n} {} bars", tf.alpaca())).collect();
            eprintln!("  {sym}: {}", sizes.join(", "));
        }
        eprintln!(
            "mtf replay: the files carry no trade count or VWAP; bars are served with SYNTHESISED n (volume / 100) and \
             vw (typical price), as Alpaca always sends both"
        );
    }
    if !(speed.is_finite() && speed > 0.0) {
        return Err(ReplayError::Option(format!("--speed must be a positive number, got {speed}")));
    }
    let clock = match start_at {
        None => None,
        Some("first") => Some(data::Clock::new(
            store.first_minute().ok_or_else(|| ReplayError::Option("no minute bars to start at".into()))?,
            speed,
        )),
        Some(t) => {
            let t: DateTime<Utc> = DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    ReplayError::Option(format!("--start-at `{t}` is not RFC 3339 (e.g. 2011-01-31T15:00:00Z): {e}"))
                })?
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
    let addr: SocketAddr =
        format!("{host}:{port}").parse().map_err(|e| ReplayError::Option(format!("bad --host/--port: {e}")))?;
    let state = Arc::new(server::Standin::new(store, clock, key, secret));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ReplayError::Io { what: "starting the runtime".into(), source: e })?
        .block_on(server::serve(state, addr))
}
