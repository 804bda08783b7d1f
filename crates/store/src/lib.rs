//! A versioned store of bars: Apache Parquet files in a Hive layout that pandas, pyarrow, Polars and DuckDB read
//! as they are, with content-addressed snapshots so that history is never lost.
//!
//! ```text
//! STORE/
//!   symbol=SPY/timeframe=1Min/month=2011-01/data.parquet   the current snapshot, readable by any Parquet tool
//!   _mtf/objects/<sha256>.parquet                         every partition version ever written (immutable)
//!   _mtf/snapshots/<id>.json                              manifests: partition → object, rows, range, sources
//!   _mtf/HEAD                                             the current snapshot id
//!   _mtf/log.jsonl                                        one line per snapshot: id, parent, time, what changed
//! ```
//!
//! Columns of every file: `t` (bar start, timestamp µs UTC), `o h l c v` (float64), `n` (trade count, int64,
//! nullable), `vw` (VWAP, float64, nullable) as in Alpaca's bar, plus `source` (utf8: where the row came from,
//! e.g. `alpaca:iex:raw` or `file:spy_1min_2011-01.csv@sha256:…`). `symbol`, `timeframe` (Alpaca's name, `1Min`)
//! and `month` (`YYYY-MM` of the bar start in UTC) are the Hive partition keys, not columns. Directories starting
//! with `_` are skipped by those readers.
//!
//! Guarantees:
//! - **Atomic**: objects and manifests are written to a temporary file and renamed; `HEAD` is replaced last. A crash
//!   or Ctrl-C mid-write leaves the previous snapshot readable and current (the tree may then be ahead of `HEAD`;
//!   [`Store::verify`] says so and [`Store::write`] repairs it).
//! - **Idempotent**: writing bars that are already stored changes nothing and creates no snapshot.
//! - **Corrections**: a bar with the timestamp of a stored one replaces it; the older snapshot keeps the old value.
//! - **Consistent reads**: [`Store::read`] reads the objects of one manifest, so a reader during a write sees the
//!   old or the new snapshot, never a mix.
//! - One writer at a time (an OS advisory lock on `_mtf/lock`, released when the writer's process ends, even
//!   when it is killed).

mod files;
mod manifest;
mod store;

pub use manifest::{Manifest, Partition, PartitionKey, SnapshotId};
pub use mtf_envelope::sha256_hex;
pub use store::{LogLine, Series, Store, StoredBar, VerifyReport, WriteOutcome};

/// Why a store operation failed. Every variant names the file or partition concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A Parquet file is corrupt, truncated or has another schema.
    #[error("{path}: not a readable bar file: {message}")]
    Parquet {
        /// The path.
        path: String,
        /// What the Parquet reader said.
        message: String,
    },
    /// A manifest or HEAD that does not parse, or an object whose hash differs from its manifest.
    #[error("{path}: {message}")]
    Corrupt {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A snapshot id that is not in the store.
    #[error("snapshot {0} is not in this store (see `mtf store ls`)")]
    UnknownSnapshot(String),
    /// Another writer holds the lock.
    #[error("{path} is locked: another write to this store is in progress")]
    Locked {
        /// The lock file.
        path: String,
    },
    /// Bars that cannot be stored (unsorted or invalid), naming the series.
    #[error("{series}: {message}")]
    Input {
        /// `SYMBOL/timeframe`.
        series: String,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io { path: path.display().to_string(), message: e.to_string() }
    }
}
