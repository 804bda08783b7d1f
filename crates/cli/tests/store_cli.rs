//! `mtf import` of every file in the shared data set into one store, `mtf store ls` and `mtf store verify`,
//! idempotence of a second import, and the errors of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

fn mtf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtf")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn import_all_shared_data_then_ls_verify_and_a_second_import_changes_nothing() {
    let Some(data) = common::data_dir() else { return };
    let store = common::tempdir();
    let s = store.path().to_str().unwrap();
    // --repair: the Yahoo daily files have a few rows with open/close outside [low, high] (warned, widened).
    let out = mtf(&["import", "--input", data.to_str().unwrap(), "--store", s, "--repair"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("snapshot ") && t.contains("(new)"), "{t}");
    // The 1-minute, 15-minute, 30-minute and daily files all went in.
    let ls = mtf(&["store", "ls", "--store", s, "--json"]);
    assert!(ls.status.success(), "{}", text(&ls));
    let v: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let series = v["series"].as_array().unwrap();
    let find = |sym: &str, tf: &str| series.iter().find(|x| x["symbol"] == sym && x["timeframe"] == tf);
    let spy = find("SPY", "1Min").expect("SPY 1Min");
    assert_eq!(spy["rows"], 14_180 + 1_564, "both SPY minute files");
    assert!(find("AAPL", "15Min").is_some() && find("TSLA", "30Min").is_some() && find("MSFT", "1Day").is_some());
    assert!(find("MSFT", "1Day").unwrap()["sessions"].as_u64().unwrap() >= 9_558);
    // Thin names have missing 15-minute bars: ls reports the short sessions.
    let pplt = find("PPLT", "15Min").expect("PPLT 15Min");
    assert!(!pplt["short_sessions"].as_array().unwrap().is_empty(), "{pplt}");
    let snapshot = v["snapshot"].as_str().unwrap().to_string();
    let ok = mtf(&["store", "verify", "--store", s]);
    assert!(ok.status.success() && text(&ok).contains("ok: snapshot"), "{}", text(&ok));
    // The same import again: the same snapshot, nothing written.
    let again = mtf(&["import", "--input", data.to_str().unwrap(), "--store", s, "--repair"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains(&format!("snapshot {snapshot} (unchanged")), "{}", text(&again));
    // A table for people.
    let table = mtf(&["store", "ls", "--store", s]);
    assert!(text(&table).contains("SPY    1Min"), "{}", text(&table));
}

#[test]
fn import_errors_name_the_problem_and_keep_the_store() {
    let store = common::tempdir();
    let s = store.path().to_str().unwrap();
    let dir = common::tempdir();
    let odd = dir.path().join("bars.csv");
    std::fs::write(&odd, "timestamp,open,high,low,close,volume\n2024-01-02T14:30:00Z,1,2,0.5,1.5,10\n").unwrap();
    let e = mtf(&["import", "--input", odd.to_str().unwrap(), "--store", s]);
    assert!(!e.status.success());
    assert!(text(&e).contains("pass --symbol and --timeframe"), "{}", text(&e));
    let ok = mtf(&["import", "--input", odd.to_str().unwrap(), "--symbol", "xyz", "--timeframe", "1Min", "--store", s]);
    assert!(ok.status.success(), "{}", text(&ok));
    let bad = dir.path().join("xyz_1min_bad.csv");
    std::fs::write(&bad, "timestamp,open,high,low,close,volume\n2024-01-02T14:31:00Z,1,0.5,2,1.5,10\n").unwrap();
    let e = mtf(&["import", "--input", bad.to_str().unwrap(), "--store", s]);
    assert!(!e.status.success());
    assert!(text(&e).contains("xyz_1min_bad.csv"), "the error names the file: {}", text(&e));
    // The first import is intact.
    let ls = mtf(&["store", "ls", "--store", s, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(v["series"][0]["rows"], 1);
    let e = mtf(&["store", "ls", "--store", s, "--snapshot", &"0".repeat(64)]);
    assert!(text(&e).contains("is not in this store"), "{}", text(&e));
}
