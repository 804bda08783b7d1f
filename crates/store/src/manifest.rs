//! Snapshot manifests: which object holds each partition, with its row count, time range and sources. The
//! snapshot id is the SHA-256 of the manifest's JSON (the manifest holds no clock time, so the same content has
//! the same id).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A snapshot id: lower-case hex SHA-256 of the manifest JSON.
pub type SnapshotId = String;

/// A partition: one symbol, one timeframe, one calendar month (UTC) of bar starts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Symbol, upper case (`SPY`, `BRK.B`).
    pub symbol: String,
    /// Alpaca's timeframe name (`1Min`, `15Min`, `1Day`).
    pub timeframe: String,
    /// `YYYY-MM` of the bar starts (UTC).
    pub month: String,
}

impl PartitionKey {
    /// The Hive directory of the partition, relative to the store root.
    #[must_use]
    pub fn dir(&self) -> String {
        format!("symbol={}/timeframe={}/month={}", self.symbol, self.timeframe, self.month)
    }
}

/// One partition of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// Where it is.
    #[serde(flatten)]
    pub key: PartitionKey,
    /// SHA-256 of the object file (`_mtf/objects/<object>.parquet`).
    pub object: String,
    /// Bars in the partition.
    pub rows: usize,
    /// First bar start.
    pub first: DateTime<Utc>,
    /// Last bar start.
    pub last: DateTime<Utc>,
    /// Distinct `source` values of its rows, sorted.
    pub sources: Vec<String>,
}

/// A snapshot: every partition of the store at one point.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format (1).
    pub format: u32,
    /// The snapshot this one was derived from.
    pub parent: Option<SnapshotId>,
    /// Partitions, sorted by key.
    pub partitions: Vec<Partition>,
}

impl Manifest {
    /// The manifest's canonical JSON (what is hashed and stored).
    ///
    /// # Panics
    /// Never: the manifest holds only strings, integers and timestamps.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        serde_json::to_vec_pretty(self).expect("a manifest serialises")
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> SnapshotId {
        mtf_envelope::sha256_hex(&self.to_json())
    }

    /// Rows in all partitions.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.partitions.iter().map(|p| p.rows).sum()
    }

    /// The partition with this key.
    #[must_use]
    pub fn get(&self, key: &PartitionKey) -> Option<&Partition> {
        self.partitions.binary_search_by(|p| p.key.cmp(key)).ok().map(|i| &self.partitions[i])
    }
}
