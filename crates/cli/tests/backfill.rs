//! `mtf backfill` end to end against `mtf replay` (Alpaca's wire protocol): a full backfill equal to the files,
//! incremental and idempotent reruns, a run killed mid-way and resumed, 429/5xx storms, a dropped connection,
//! a refused symbol among good ones, and corrections picked up by `--refresh-days`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mtf_market::Timeframe;
use mtf_market::io::{ReadOptions, read_bars_csv};
use mtf_store::Store;

use common::Replay as Server;

fn start(data: &Path) -> Server {
    common::replay(&["--data", data.to_str().unwrap()], "k", "s")
}

/// Test helpers on the stand-in.
trait Standin {
    fn fail(&self, query: &str);
    fn backfill_cmd(&self, store: &Path, symbols: &str, extra: &[&str]) -> Command;
    fn backfill(&self, store: &Path, symbols: &str, extra: &[&str]) -> Output;
}

impl Standin for Server {
    /// Arms an injected failure (`/_standin/fail?…`).
    fn fail(&self, query: &str) {
        let host = self.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).unwrap();
        write!(
            s,
            "POST /_standin/fail?{query} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 204"), "{raw}");
    }

    fn backfill_cmd(&self, store: &Path, symbols: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mtf"));
        c.args([
            "backfill",
            "--symbols",
            symbols,
            "--timeframe",
            "1Min",
            "--start",
            "2011-01-01",
            "--end",
            "2016-12-31",
        ])
        .args(["--store", store.to_str().unwrap(), "--data-url", &self.base, "--retry-base-ms", "50"])
        .args(extra)
        .env("APCA_API_KEY_ID", "k")
        .env("APCA_API_SECRET_KEY", "s");
        c
    }

    fn backfill(&self, store: &Path, symbols: &str, extra: &[&str]) -> Output {
        self.backfill_cmd(store, symbols, extra).output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A data directory with the SPY January 2011 and AAPL April–May 2016 minute files (links, not copies).
fn data() -> Option<(common::TempDir, Vec<(String, std::path::PathBuf)>)> {
    let shared = common::data_dir()?;
    let dir = common::tempdir();
    let files = [
        ("SPY", shared.join("spy_1min_2011-01.csv")),
        ("AAPL", shared.join("react-stockcharts/aapl_1min_2016-04-15_2016-05-13.csv")),
    ];
    for (_, f) in &files {
        std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    Some((dir, files.iter().map(|(s, f)| (s.to_string(), f.clone())).collect()))
}

/// The stored bars of a symbol, OHLCV and start (n and vw are the stand-in's synthesised ones).
fn stored(store: &Path, sym: &str) -> Vec<(i64, f64, f64, f64, f64, f64)> {
    Store::open(store)
        .read(sym, Timeframe::M1, None, None, None)
        .unwrap()
        .iter()
        .map(|b| (b.bar.start_ms(), b.bar.open(), b.bar.high(), b.bar.low(), b.bar.close(), b.bar.volume()))
        .collect()
}

fn from_file(path: &Path) -> Vec<(i64, f64, f64, f64, f64, f64)> {
    read_bars_csv(path, ReadOptions { repair: true })
        .unwrap()
        .bars
        .iter()
        .map(|b| (b.start_ms(), b.open(), b.high(), b.low(), b.close(), b.volume()))
        .collect()
}

fn summary(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn a_full_backfill_equals_the_files_and_reruns_are_incremental_and_idempotent() {
    let Some((dir, files)) = data() else { return };
    let server = start(dir.path());
    let store = common::tempdir();
    let out = server.backfill(store.path(), "SPY,AAPL", &["--page-limit", "3000", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&out);
    // 14,180 + 8,211 bars at 3,000 a page across both symbols: 8 pages, one multi-symbol request chain.
    assert_eq!(s["pages"], 8, "{s}");
    assert_eq!(s["bars_added"], 14_180 + 8_211);
    for (sym, f) in &files {
        assert_eq!(stored(store.path(), sym), from_file(f), "{sym}: the store holds exactly the file's bars");
    }
    let rows = Store::open(store.path()).read("SPY", Timeframe::M1, None, None, None).unwrap();
    assert!(rows[0].source.starts_with("alpaca-api@http://127.0.0.1:"), "{}", rows[0].source);
    assert!(rows.iter().all(|r| r.bar.trade_count().is_some() && r.bar.vwap().is_some()), "Alpaca's n and vw");
    let snapshot = s["snapshot"].as_str().unwrap().to_string();

    // Again: each symbol asks after its last bar and before its first (the requested start is earlier), gets
    // nothing, and the store does not change: four empty requests, no re-fetch of what is stored.
    let again = server.backfill(store.path(), "AAPL,SPY", &["--json"]);
    assert!(again.status.success(), "{}", text(&again));
    let a = summary(&again);
    assert_eq!((a["bars_added"].as_u64(), a["snapshots_written"].as_u64()), (Some(0), Some(0)), "{a}");
    assert_eq!((a["requests"].as_u64(), a["symbols"]["SPY"]["bars"].as_u64()), (Some(4), Some(0)), "{a}");
    assert_eq!(a["snapshot"], snapshot.as_str());
    let ls = Command::new(env!("CARGO_BIN_EXE_mtf"))
        .args(["store", "verify", "--store", store.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ls.status.success(), "{}", text(&ls));
}

#[test]
fn storms_and_a_dropped_connection_are_retried_and_the_result_is_complete() {
    let Some((dir, files)) = data() else { return };
    let server = start(dir.path());
    let store = common::tempdir();
    // 503 twice, then 429 with Retry-After 1 s twice, then a body cut off mid-way twice.
    server.fail("status=503&count=2");
    let out = server.backfill(store.path(), "SPY", &["--page-limit", "5000", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary(&out)["retries"], 2);
    let store2 = common::tempdir();
    server.fail("status=429&retry_after=1&count=2&after=1");
    let t = std::time::Instant::now();
    let out = server.backfill(store2.path(), "SPY", &["--page-limit", "5000", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary(&out)["retries"], 2);
    assert!(t.elapsed() >= Duration::from_secs(2), "Retry-After was honoured");
    let store3 = common::tempdir();
    server.fail("drop=1&count=2");
    let out = server.backfill(store3.path(), "SPY", &["--page-limit", "5000", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary(&out)["retries"], 2);
    for s in [&store, &store2, &store3] {
        assert_eq!(stored(s.path(), "SPY"), from_file(&files[0].1));
    }

    // A storm that outlasts the retries, starting at the third page: the first two pages are kept, the error
    // names the symbol and the page, and the next run completes without a gap or a duplicate.
    let store4 = common::tempdir();
    server.fail("status=500&count=100&after=2");
    let out = server.backfill(store4.path(), "SPY", &["--page-limit", "2000", "--max-retries", "2"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("bars SPY 1Min page 3: upstream failed after 3 attempts; last: HTTP 500"), "{t}");
    assert!(t.contains("what was fetched before is stored"), "{t}");
    assert_eq!(stored(store4.path(), "SPY").len(), 4_000);
    server.fail("clear=1");
    let out = server.backfill(store4.path(), "SPY", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stored(store4.path(), "SPY"), from_file(&files[0].1));
}

#[test]
fn a_refused_symbol_is_named_and_the_good_ones_are_stored() {
    let Some((dir, files)) = data() else { return };
    let server = start(dir.path());
    let store = common::tempdir();
    server.fail("status=422&symbol=ZZZZ&count=10");
    let out = server.backfill(store.path(), "SPY,ZZZZ,AAPL", &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("ZZZZ   REFUSED: invalid symbol: ZZZZ"), "{t}");
    assert!(t.contains("1 symbol(s) refused: ZZZZ (invalid symbol: ZZZZ); the others are stored"), "{t}");
    for (sym, f) in &files {
        assert_eq!(stored(store.path(), sym), from_file(f), "{sym}");
    }
    // Bad keys: refused at once, naming the request.
    let out = server.backfill_cmd(store.path(), "SPY", &[]).env("APCA_API_KEY_ID", "wrong").output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("page 1: HTTP 401: request is not authorized"), "{}", text(&out));
}

#[test]
fn a_run_killed_mid_way_resumes_without_gap_or_duplicate() {
    let Some((dir, files)) = data() else { return };
    let server = start(dir.path());
    let store = common::tempdir();
    // Three requests at once, then the rate limit holds the fourth for a minute: kill it there, with three
    // checkpoints written.
    let mut child = server
        .backfill_cmd(
            store.path(),
            "SPY,AAPL",
            &["--page-limit", "1000", "--checkpoint-bars", "1000", "--rate-limit", "3"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = store.path().join("_mtf/log.jsonl");
    let t = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |s| s.lines().count()) < 3 {
        assert!(t.elapsed() < Duration::from_secs(50), "no third checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_mtf"))
        .args(["store", "verify", "--store", store.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    assert_eq!(stored(store.path(), "AAPL").len(), 3_000, "three pages of AAPL (the first symbol) are stored");
    assert!(stored(store.path(), "SPY").is_empty());
    let out = server.backfill(store.path(), "SPY,AAPL", &[]);
    assert!(out.status.success(), "{}", text(&out));
    for (sym, f) in &files {
        assert_eq!(stored(store.path(), sym), from_file(f), "{sym}");
    }
}

#[test]
fn refresh_days_pick_up_a_corrected_bar_and_the_old_snapshot_keeps_the_old_value() {
    let Some((dir, files)) = data() else { return };
    let store = common::tempdir();
    let first = {
        let server = start(dir.path());
        let out = server.backfill(store.path(), "SPY", &["--json"]);
        assert!(out.status.success(), "{}", text(&out));
        summary(&out)["snapshot"].as_str().unwrap().to_string()
    };
    // The upstream corrects the close of the last bar of 2011-01-31 (to its low).
    let fixed = common::tempdir();
    let csv = std::fs::read_to_string(&files[0].1).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let last = lines.len() - 1;
    let f: Vec<String> = lines[last].split(',').map(str::to_string).collect();
    let (low, old_close) = (f[3].clone(), f[4].clone());
    assert_ne!(low, old_close, "pick a bar whose low differs from its close");
    lines[last] = format!("{},{},{},{},{},{}", f[0], f[1], f[2], f[3], low, f[5]);
    std::fs::write(fixed.path().join("spy_1min_2011-01.csv"), lines.join("\n") + "\n").unwrap();
    let server = start(fixed.path());
    let out = server.backfill(store.path(), "SPY", &["--refresh-days", "1", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&out);
    assert_eq!((s["bars_added"].as_u64(), s["bars_replaced"].as_u64()), (Some(0), Some(1)), "{s}");
    let now = Store::open(store.path()).read("SPY", Timeframe::M1, None, None, None).unwrap();
    let old = Store::open(store.path()).read("SPY", Timeframe::M1, None, None, Some(&first)).unwrap();
    assert_eq!(now.last().unwrap().bar.close(), low.parse::<f64>().unwrap());
    assert_eq!(old.last().unwrap().bar.close(), old_close.parse::<f64>().unwrap());
}
