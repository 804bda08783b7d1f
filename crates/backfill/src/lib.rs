//! `mtf backfill`: historical bars from Alpaca Market Data v2 (or `mtf replay`, or any server speaking it) into
//! the bar store ([`mtf_store`]).
//!
//! - **Requests** are multi-symbol bars requests built with [`mtf_alpaca::request::BarsRequest`], 10,000 bars a
//!   page, following `next_page_token`. Symbols that share a start share requests.
//! - **Rate limit**: at most [`Config::requests_per_minute`] requests in any 60 s window (Alpaca's free plan
//!   allows 200), enforced client-side before each request ([`limits::RateLimiter`]).
//! - **Retries**: 429 waits for `Retry-After` (or the backoff when absent), 5xx and transport errors (refused,
//!   reset, a body cut off mid-way) back off exponentially; both bounded by [`limits::RetryPolicy`].
//! - **Incremental**: each symbol starts after its last stored bar (or `refresh_days` before it, to pick up late
//!   corrections, which replace stored bars by timestamp in a new snapshot).
//! - **Nothing fetched is lost**: bars are written to the store every [`Config::checkpoint_bars`] bars, when a
//!   request group ends, and before an error is returned. Each write is a snapshot (atomic, manifest last); a kill
//!   mid-run leaves the last one readable and the next run continues after it, with no gap and no duplicate.
//! - **Errors name the symbol and the page**: bad keys (401/403) stop at once; a 422 (Alpaca's answer to a symbol
//!   it rejects) on a multi-symbol request is retried one symbol at a time, so the good symbols are stored and
//!   the bad one is named ([`Summary::failed`]); an upstream that stays down ends the run after the retries.
//!
//! I/O is behind [`http::Http`] (real: [`http::UreqHttp`]) and [`limits::Clock`], so the loop is tested without
//! sockets or sleeping; the integration tests run the `mtf` binary against `mtf replay`.

pub mod http;
pub mod limits;
mod run;

pub use run::{Config, Event, Failure, Summary, SymbolSummary, backfill, source_label};

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// A request could not be built (bad symbol, limit or range), before anything was sent.
    #[error(transparent)]
    Request(#[from] mtf_alpaca::request::RequestError),
    /// The keys were refused (401 or 403).
    #[error("{context}: HTTP {status}: {message} (check APCA_API_KEY_ID / APCA_API_SECRET_KEY and the plan's feed)")]
    Auth {
        /// Which symbols and page.
        context: String,
        /// 401 or 403.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Retries exhausted on 429, 5xx or transport errors.
    #[error("{context}: upstream failed after {attempts} attempts; last: {last}")]
    Upstream {
        /// Which symbols and page.
        context: String,
        /// Requests sent for this page.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// An answer that is not Alpaca's bars JSON, or another unexpected status.
    #[error("{context}: {message}")]
    Protocol {
        /// Which symbols and page.
        context: String,
        /// What was wrong.
        message: String,
    },
    /// The store refused a write (nothing already stored is lost).
    #[error(transparent)]
    Store(#[from] mtf_store::StoreError),
}
