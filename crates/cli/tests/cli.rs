//! End-to-end tests of the `mtf` binary: real files in, CSV out, clear errors with non-zero exits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failures are test failures

use std::io::Read;
mod common;

use std::path::PathBuf;

use common::data_dir;
use std::process::{Command, Output};

fn mtf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtf")).args(args).output().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtf-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn indicators_cli_matches_talib_fixture() {
    let Some(dir) = data_dir() else { return };
    let input = dir.join("spy_1min_2020-12-15_2020-12-18.csv");
    let out = tmp("ind.csv");
    let o = mtf(&["indicators", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let source = std::fs::read_to_string(&input).unwrap();
    let mut fixture = String::new();
    let fx = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../features/tests/fixtures/talib/spy_1min_2020-12-15_2020-12-18.csv.gz");
    flate2::read::GzDecoder::new(std::fs::File::open(fx).unwrap()).read_to_string(&mut fixture).unwrap();
    let fixture: Vec<&str> = fixture.lines().filter(|l| !l.starts_with('#')).collect();
    let ours: Vec<&str> = text.lines().collect();
    assert_eq!(ours[0], format!("timestamp,{}", fixture[0]));
    assert_eq!(ours.len(), fixture.len());
    for ((row, expected), src) in ours[1..].iter().zip(&fixture[1..]).zip(source.lines().skip(1)) {
        let (time, values) = row.split_once(',').unwrap();
        assert_eq!(time, src.split(',').next().unwrap(), "time column echoes the input");
        for (a, b) in values.split(',').zip(expected.split(',')) {
            assert_eq!(a.is_empty(), b.is_empty(), "warm-up differs in row {row}");
            if !a.is_empty() {
                let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn resample_cli_conserves_volume() {
    let Some(dir) = data_dir() else { return };
    let input = dir.join("spy_1min_2011-01.csv");
    let out = tmp("r15.csv");
    let o = mtf(&[
        "resample",
        "--input",
        input.to_str().unwrap(),
        "--timeframe",
        "15Min",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "timestamp,open,high,low,close,volume,trade_count,vwap");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 20 * 26, "20 sessions × 26 quarter hours");
    assert!(rows[0].starts_with("2011-01-03T14:30:00Z,"));
    let vol: f64 = rows.iter().map(|r| r.split(',').nth(5).unwrap().parse::<f64>().unwrap()).sum();
    let bars = mtf_market::io::read_bars_csv(&input, Default::default()).unwrap().bars;
    let regular: f64 = bars
        .iter()
        .filter(|b| mtf_market::session::SessionFilter::Regular.contains(b.start()))
        .map(|b| b.volume())
        .sum();
    assert_eq!(vol, regular);
    let ext = tmp("r1d.csv");
    let o = mtf(&[
        "resample",
        "--input",
        input.to_str().unwrap(),
        "--timeframe",
        "1d",
        "--session",
        "extended",
        "--output",
        ext.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let days = std::fs::read_to_string(&ext).unwrap();
    assert_eq!(days.lines().count(), 21);
    assert!(
        days.lines().nth(1).unwrap().starts_with("2011-01-03T05:00:00Z,"),
        "daily bars stamped at New York midnight"
    );
}

#[test]
fn features_cli_writes_one_row_per_instant_and_timeframe() {
    let Some(dir) = data_dir() else { return };
    let input = dir.join("spy_1min_2020-12-15_2020-12-18.csv");
    let out = tmp("f.csv");
    let o = mtf(&["features", "--input", input.to_str().unwrap(), "--every", "15m", "--output", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("as_of,timeframe,log_return_1,"));
    assert_eq!(lines[0].split(',').count(), 22);
    assert_eq!(lines.len() - 1, 4 * 26 * 8);
    assert!(lines[1].starts_with("2020-12-15T14:45:00Z,1m,"));
    // The last instant's 1m features are complete (warm-up long over).
    let last_1m = lines.iter().rev().find(|l| l.contains(",1m,")).unwrap();
    assert!(last_1m.split(',').skip(2).all(|f| !f.is_empty()), "{last_1m}");
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let missing = mtf(&["indicators", "--input", "/nonexistent/bars.csv", "--output", "/tmp/x.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/bars.csv: cannot read"), "{}", stderr(&missing));

    let empty = tmp("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let o = mtf(&["indicators", "--input", empty.to_str().unwrap(), "--output", tmp("o.csv").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("file is empty"), "{}", stderr(&o));

    let wrong = tmp("wrong.csv");
    std::fs::write(&wrong, "a,b,c\n1,2,3\n").unwrap();
    let o = mtf(&[
        "resample",
        "--input",
        wrong.to_str().unwrap(),
        "--timeframe",
        "5m",
        "--output",
        tmp("o.csv").to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("unrecognised header `a,b,c`"), "{}", stderr(&o));

    let unsorted = tmp("unsorted.csv");
    std::fs::write(
        &unsorted,
        "timestamp,open,high,low,close,volume\n2011-01-03T14:31:00Z,1,2,0.5,1.5,10\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n",
    )
    .unwrap();
    let o = mtf(&[
        "resample",
        "--input",
        unsorted.to_str().unwrap(),
        "--timeframe",
        "5m",
        "--output",
        tmp("o.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 3") && stderr(&o).contains("ascending"), "{}", stderr(&o));

    let o = mtf(&["resample", "--input", unsorted.to_str().unwrap(), "--timeframe", "2h", "--output", "/tmp/x.csv"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit with 2");
    assert!(stderr(&o).contains("unknown timeframe `2h`"), "{}", stderr(&o));

    let daily = tmp("daily.csv");
    std::fs::write(&daily, "date,open,high,low,close,adj_close,volume\n2015-03-05,1,2,0.5,1.5,1.5,10\n").unwrap();
    let o = mtf(&["features", "--input", daily.to_str().unwrap(), "--output", tmp("o.csv").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("daily bars given where 1-minute bars are needed"), "{}", stderr(&o));
}
