//! Shared test helpers: where the real data lives, and skipping visibly when it is absent.
#![allow(dead_code, missing_docs)] // test helpers: each test binary uses a different subset
#![allow(clippy::unwrap_used, clippy::panic)] // test code: a failed read is a failed test

use std::path::PathBuf;

/// `MTF_DATA_DIR` (relative paths are taken from the workspace root), default `../shared/data`.
/// Returns `None` (after printing why) when the directory is absent, and panics instead when
/// `MTF_REQUIRE_DATA=1`.
pub fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = match std::env::var_os("MTF_DATA_DIR") {
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_absolute() { p } else { root.join(p) }
        }
        None => root.join("../shared/data"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!("real-data test skipped: data directory {} not found (set MTF_DATA_DIR)", dir.display());
    if std::env::var("MTF_REQUIRE_DATA").is_ok_and(|v| v == "1") {
        panic!("{msg}, and MTF_REQUIRE_DATA=1 requires it");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Raw OHLCV columns of a shared-data CSV (either layout), without validation.
pub struct Columns {
    pub time: Vec<String>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

pub fn read_columns(path: &std::path::Path) -> Columns {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let idx = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (o, h, l, c, v) = (idx("open"), idx("high"), idx("low"), idx("close"), idx("volume"));
    let mut cols = Columns { time: vec![], open: vec![], high: vec![], low: vec![], close: vec![], volume: vec![] };
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        cols.time.push(f[0].to_string());
        cols.open.push(f[o].parse().unwrap());
        cols.high.push(f[h].parse().unwrap());
        cols.low.push(f[l].parse().unwrap());
        cols.close.push(f[c].parse().unwrap());
        cols.volume.push(f[v].parse().unwrap());
    }
    cols
}
