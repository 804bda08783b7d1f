//! The store: writes (merge by timestamp, new objects, manifest, HEAD last), reads of one snapshot, listing and
//! verification.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use mtf_market::{Bar, Timeframe};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::files::{decode, decode_bars_into, decode_into, encode, write_atomic};
use crate::manifest::{Manifest, Partition, PartitionKey, SnapshotId};

/// A bar with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBar {
    /// The bar.
    pub bar: Bar,
    /// Where it came from (`alpaca:iex:raw`, `file:NAME@sha256:…`); shared by the rows of one source.
    pub source: std::sync::Arc<str>,
}

/// The bars of one symbol and timeframe to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Symbol (stored upper case).
    pub symbol: String,
    /// Bar size.
    pub timeframe: Timeframe,
    /// Bars, strictly increasing by start.
    pub bars: Vec<Bar>,
    /// The source recorded on every row.
    pub source: String,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    /// The current snapshot after the write (unchanged when nothing changed).
    pub snapshot: SnapshotId,
    /// Whether a new snapshot was created.
    pub changed: bool,
    /// Partitions rewritten.
    pub partitions_written: usize,
    /// Bars that were not stored before.
    pub bars_added: usize,
    /// Stored bars replaced by a different value (corrections).
    pub bars_replaced: usize,
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VerifyReport {
    /// The snapshot checked.
    pub snapshot: Option<SnapshotId>,
    /// Partitions whose object matched its hash and row count.
    pub partitions_ok: usize,
    /// One line per problem (empty when the store is sound).
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One snapshot in the store's history (a line of `_mtf/log.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The snapshot created.
    pub snapshot: SnapshotId,
    /// The snapshot it was derived from.
    pub parent: Option<SnapshotId>,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Partitions rewritten.
    pub partitions_written: usize,
    /// Bars added.
    pub bars_added: usize,
    /// Bars replaced (corrections).
    pub bars_replaced: usize,
    /// Rows in the snapshot.
    pub rows: usize,
}

/// Decodes one object's bytes (the path names it in errors), appending rows.
type DecodeInto<T> = fn(Vec<u8>, &Path, &mut Vec<T>) -> Result<(), StoreError>;

/// A bar store rooted at a directory (see the crate docs for the layout).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// The writer's lock: an OS advisory lock on `_mtf/lock`, held while this handle lives and released by the
/// operating system when the process ends, so a writer killed mid-write (Ctrl-C, `kill -9`) leaves no stale lock.
struct Lock(#[allow(dead_code)] std::fs::File);

fn month_of(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

impl Store {
    /// Opens (or creates on first write) the store at `root`.
    #[must_use]
    pub fn open(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn meta(&self) -> PathBuf {
        self.root.join("_mtf")
    }

    fn object_path(&self, sha: &str) -> PathBuf {
        self.meta().join("objects").join(format!("{sha}.parquet"))
    }

    fn manifest_path(&self, id: &str) -> PathBuf {
        self.meta().join("snapshots").join(format!("{id}.json"))
    }

    fn tree_path(&self, key: &PartitionKey) -> PathBuf {
        self.root.join(key.dir()).join("data.parquet")
    }

    /// The current snapshot id, or `None` for an empty store.
    ///
    /// # Errors
    /// [`StoreError::Io`] / [`StoreError::Corrupt`] when `HEAD` cannot be read.
    pub fn head(&self) -> Result<Option<SnapshotId>, StoreError> {
        let path = self.meta().join("HEAD");
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                let id = s.trim().to_string();
                if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Some(id))
                } else {
                    Err(StoreError::Corrupt { path: path.display().to_string(), message: "not a snapshot id".into() })
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// The manifest of a snapshot (`None` = the current one; an empty manifest for an empty store).
    ///
    /// # Errors
    /// [`StoreError::UnknownSnapshot`], or a manifest that does not parse or whose content does not hash to its id.
    pub fn manifest(&self, snapshot: Option<&str>) -> Result<Manifest, StoreError> {
        let id = match snapshot {
            Some(s) => s.to_string(),
            None => match self.head()? {
                Some(h) => h,
                None => return Ok(Manifest { format: 1, ..Manifest::default() }),
            },
        };
        let path = self.manifest_path(&id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::UnknownSnapshot(id)),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt { path: path.display().to_string(), message: e.to_string() })?;
        if m.id() != id {
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                message: format!("content hashes to {}, not to its name", m.id()),
            });
        }
        Ok(m)
    }

    fn read_object(&self, p: &Partition) -> Result<Vec<StoredBar>, StoreError> {
        let path = self.object_path(&p.object);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        decode(bytes, &path)
    }

    /// Bars of one symbol and timeframe in `[from, to)` (bar starts; `None` = unbounded), oldest first, as of a
    /// snapshot (`None` = the current one). All reads of one call come from one manifest.
    ///
    /// # Errors
    /// An unknown snapshot, or a missing or corrupt object (named).
    pub fn read(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        snapshot: Option<&str>,
    ) -> Result<Vec<StoredBar>, StoreError> {
        self.read_in(&self.manifest(snapshot)?, symbol, timeframe, from, to)
    }

    /// [`Store::read`] from an already loaded manifest (several reads of one snapshot load it once).
    ///
    /// # Errors
    /// A missing or corrupt object (named).
    pub fn read_in(
        &self,
        m: &Manifest,
        symbol: &str,
        timeframe: Timeframe,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredBar>, StoreError> {
        self.read_with(m, symbol, timeframe, from, to, decode_into, |b| b.bar.start())
    }

    /// [`Store::read_in`] without the sources: the bars alone, oldest first. Faster (the `source` column is not
    /// decoded); what training and feature computation read.
    ///
    /// # Errors
    /// A missing or corrupt object (named).
    pub fn read_bars_in(
        &self,
        m: &Manifest,
        symbol: &str,
        timeframe: Timeframe,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<Bar>, StoreError> {
        self.read_with(m, symbol, timeframe, from, to, decode_bars_into, Bar::start)
    }

    /// The rows of a series' partitions overlapping `[from, to)`, decoded by `decode` into one allocation sized
    /// from the manifest, then cut to the range.
    #[allow(clippy::too_many_arguments)]
    fn read_with<T>(
        &self,
        m: &Manifest,
        symbol: &str,
        timeframe: Timeframe,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        decode: DecodeInto<T>,
        start: fn(&T) -> DateTime<Utc>,
    ) -> Result<Vec<T>, StoreError> {
        let (sym, tf) = (symbol.to_uppercase(), timeframe.alpaca().to_string());
        let parts: Vec<&Partition> = m
            .partitions
            .iter()
            .filter(|p| p.key.symbol == sym && p.key.timeframe == tf)
            .filter(|p| !(from.is_some_and(|f| p.last < f) || to.is_some_and(|t| p.first >= t)))
            .collect();
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.rows).sum());
        for p in parts {
            let path = self.object_path(&p.object);
            let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            decode(bytes, &path, &mut out)?;
        }
        if from.is_some() || to.is_some() {
            out.retain(|b| from.is_none_or(|f| start(b) >= f) && to.is_none_or(|t| start(b) < t));
        }
        Ok(out)
    }

    /// The last stored bar start of a series in the current snapshot (for incremental backfills).
    ///
    /// # Errors
    /// As [`Store::manifest`].
    pub fn last_start(&self, symbol: &str, timeframe: Timeframe) -> Result<Option<DateTime<Utc>>, StoreError> {
        let m = self.manifest(None)?;
        let (sym, tf) = (symbol.to_uppercase(), timeframe.alpaca().to_string());
        Ok(m.partitions.iter().filter(|p| p.key.symbol == sym && p.key.timeframe == tf).map(|p| p.last).max())
    }

    fn lock(&self) -> Result<Lock, StoreError> {
        std::fs::create_dir_all(self.meta()).map_err(|e| StoreError::io(&self.meta(), e))?;
        let path = self.meta().join("lock");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked { path: path.display().to_string() }),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&path, e)),
        }
    }

    /// Writes series: each bar replaces a stored bar with the same start (a correction) or is added. Only the
    /// partitions that change are rewritten; a new snapshot is created when anything changed, and `HEAD` is
    /// replaced last. Writing what is already stored changes nothing.
    ///
    /// # Errors
    /// Unsorted bars (named by series), another writer, or I/O (named by path). What was current stays current.
    pub fn write(&self, series: &[Series]) -> Result<WriteOutcome, StoreError> {
        let _lock = self.lock()?;
        let parent_id = self.head()?;
        let parent = self.manifest(parent_id.as_deref())?;
        // Incoming bars per partition.
        let mut incoming: BTreeMap<PartitionKey, Vec<StoredBar>> = BTreeMap::new();
        for s in series {
            let name = format!("{}/{}", s.symbol.to_uppercase(), s.timeframe.alpaca());
            if let Some(w) = s.bars.windows(2).find(|w| w[1].start() <= w[0].start()) {
                return Err(StoreError::Input {
                    series: name,
                    message: format!("bars are not strictly increasing at {}", w[1].start().to_rfc3339()),
                });
            }
            if s.symbol.is_empty() || s.symbol.contains(['/', '\\', '=']) || s.symbol.chars().all(|c| c == '.') {
                return Err(StoreError::Input { series: name, message: "not a valid symbol".into() });
            }
            let source: std::sync::Arc<str> = s.source.as_str().into();
            for b in &s.bars {
                let key = PartitionKey {
                    symbol: s.symbol.to_uppercase(),
                    timeframe: s.timeframe.alpaca().to_string(),
                    month: month_of(b.start()),
                };
                incoming.entry(key).or_default().push(StoredBar { bar: *b, source: source.clone() });
            }
        }
        let mut partitions: BTreeMap<PartitionKey, Partition> =
            parent.partitions.iter().map(|p| (p.key.clone(), p.clone())).collect();
        let (mut written, mut added, mut replaced) = (0, 0, 0);
        for (key, new) in incoming {
            let mut stored: BTreeMap<i64, StoredBar> = BTreeMap::new();
            if let Some(p) = partitions.get(&key) {
                for b in self.read_object(p)? {
                    stored.insert(b.bar.start_ms(), b);
                }
            }
            // The last incoming bar of a timestamp wins; a bar equal to the stored one keeps the stored row.
            let mut merged = stored.clone();
            for b in new {
                match stored.get(&b.bar.start_ms()) {
                    Some(old) if old.bar == b.bar => {
                        merged.insert(b.bar.start_ms(), old.clone());
                    }
                    _ => {
                        merged.insert(b.bar.start_ms(), b);
                    }
                }
            }
            let a = merged.keys().filter(|k| !stored.contains_key(k)).count();
            let r = merged.iter().filter(|(k, b)| stored.get(k).is_some_and(|o| o.bar != b.bar)).count();
            if a == 0 && r == 0 {
                continue;
            }
            let rows: Vec<StoredBar> = merged.into_values().collect();
            let bytes = encode(&rows).map_err(|m| StoreError::Parquet { path: key.dir(), message: m })?;
            let sha = mtf_envelope::sha256_hex(&bytes);
            let object = self.object_path(&sha);
            if !object.exists() {
                write_atomic(&object, &bytes)?;
            }
            let sources: BTreeSet<String> = rows.iter().map(|b| b.source.to_string()).collect();
            partitions.insert(
                key.clone(),
                Partition {
                    key,
                    object: sha,
                    rows: rows.len(),
                    first: rows[0].bar.start(),
                    last: rows[rows.len() - 1].bar.start(),
                    sources: sources.into_iter().collect(),
                },
            );
            written += 1;
            added += a;
            replaced += r;
        }
        let manifest =
            Manifest { format: 1, parent: parent_id.clone(), partitions: partitions.into_values().collect() };
        if written == 0 {
            // Nothing new; still repair a tree left ahead of HEAD by an interrupted write.
            self.sync_tree(&parent)?;
            let snapshot = parent_id.unwrap_or_else(|| manifest.id());
            return Ok(WriteOutcome {
                snapshot,
                changed: false,
                partitions_written: 0,
                bars_added: 0,
                bars_replaced: 0,
            });
        }
        let id = manifest.id();
        write_atomic(&self.manifest_path(&id), &manifest.to_json())?;
        write_atomic(&self.meta().join("HEAD"), format!("{id}\n").as_bytes())?;
        let line = LogLine {
            snapshot: id.clone(),
            parent: parent_id,
            at: Utc::now(),
            partitions_written: written,
            bars_added: added,
            bars_replaced: replaced,
            rows: manifest.rows(),
        };
        self.append_log(&line)?;
        self.sync_tree(&manifest)?;
        Ok(WriteOutcome {
            snapshot: id,
            changed: true,
            partitions_written: written,
            bars_added: added,
            bars_replaced: replaced,
        })
    }

    fn append_log(&self, line: &LogLine) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.meta().join("log.jsonl");
        let mut f =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        let text = serde_json::to_string(line).map_err(|e| StoreError::io(&path, e))?;
        writeln!(f, "{text}").map_err(|e| StoreError::io(&path, e))
    }

    /// Makes the Hive tree show `m`: each partition's `data.parquet` is the manifest's object (a hard link, or a
    /// copy where links are not possible), replaced atomically; partitions no longer listed are removed.
    fn sync_tree(&self, m: &Manifest) -> Result<(), StoreError> {
        for p in &m.partitions {
            let dest = self.tree_path(&p.key);
            let src = self.object_path(&p.object);
            if same_file(&src, &dest) {
                continue;
            }
            let dir = dest.parent().ok_or_else(|| StoreError::io(&dest, "no parent"))?;
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            let tmp = dir.join(format!(".data.parquet.tmp-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            if std::fs::hard_link(&src, &tmp).is_err() {
                std::fs::copy(&src, &tmp).map_err(|e| StoreError::io(&tmp, e))?;
            }
            std::fs::rename(&tmp, &dest).map_err(|e| StoreError::io(&dest, e))?;
        }
        Ok(())
    }

    /// Checks the current snapshot (or `snapshot`): every object exists, hashes to its name and holds the rows
    /// the manifest says, and the Hive tree shows exactly that snapshot.
    ///
    /// # Errors
    /// Only when the manifest itself cannot be read; every other problem is listed in the report.
    pub fn verify(&self, snapshot: Option<&str>) -> Result<VerifyReport, StoreError> {
        let m = self.manifest(snapshot)?;
        let mut report = VerifyReport { snapshot: snapshot.map(str::to_string).or(self.head()?), ..Default::default() };
        for p in &m.partitions {
            let path = self.object_path(&p.object);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    report.problems.push(format!("{}: {} ({e})", p.key.dir(), path.display()));
                    continue;
                }
            };
            if mtf_envelope::sha256_hex(&bytes) != p.object {
                report.problems.push(format!(
                    "{}: {} does not hash to its name (corrupt)",
                    p.key.dir(),
                    path.display()
                ));
                continue;
            }
            match decode(bytes, &path) {
                Ok(rows) if rows.len() == p.rows => report.partitions_ok += 1,
                Ok(rows) => {
                    report.problems.push(format!("{}: {} rows, manifest says {}", p.key.dir(), rows.len(), p.rows))
                }
                Err(e) => report.problems.push(e.to_string()),
            }
            if snapshot.is_none() && !same_file(&path, &self.tree_path(&p.key)) {
                let tree = self.tree_path(&p.key);
                let same = std::fs::read(&tree).is_ok_and(|b| mtf_envelope::sha256_hex(&b) == p.object);
                if !same {
                    report.problems.push(format!(
                        "{}: the Hive tree differs from the snapshot (run a write to repair)",
                        tree.display()
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Every snapshot, oldest first, from `_mtf/log.jsonl`.
    ///
    /// # Errors
    /// A log line that does not parse (named by line).
    pub fn history(&self) -> Result<Vec<LogLine>, StoreError> {
        let path = self.meta().join("log.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| StoreError::Corrupt {
                    path: format!("{}:{}", path.display(), i + 1),
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// Whether two paths are the same file (hard links), by inode where the platform has one.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(x), Ok(y)) if x.ino() == y.ino() && x.dev() == y.dev())
    }
    #[cfg(not(unix))]
    {
        matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
    }
}
