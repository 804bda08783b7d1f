//! Alpaca's official Python SDK (alpaca-py 0.44, pinned in scripts/requirements-test.txt) against `mtf replay`:
//! multi-symbol minute bars over several pages, the pandas frame, 1Week/1Month and 15-minute bars, the
//! multi-symbol latest trade/quote/bar endpoints, snapshots, and the stream in MessagePack. Runs `$MTF_PYTHON`
//! (scripts/test sets it to the test venv); skips visibly without it, and fails instead when
//! `MTF_REQUIRE_PYTHON=1` (as `.ci/run` sets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::process::Command;

use mtf_market::io::{ReadOptions, read_bars_csv};

fn start(data: &std::path::Path, extra: &[&str]) -> common::Replay {
    let args: Vec<&str> = ["--data", data.to_str().unwrap()].into_iter().chain(extra.iter().copied()).collect();
    common::replay(&args, "sdk-key", "sdk-secret")
}

#[test]
fn the_official_python_sdk_reads_rest_and_the_msgpack_stream() {
    let Some(python) = std::env::var_os("MTF_PYTHON") else {
        assert!(
            std::env::var("MTF_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "MTF_PYTHON is required (MTF_REQUIRE_PYTHON=1)"
        );
        eprintln!("SKIPPED: alpaca-py test — set MTF_PYTHON to a Python with alpaca-py (scripts/test does)");
        return;
    };
    let Some(data) = common::data_dir() else { return };
    // History without a clock; the stream on a replay clock (10 minutes of bars a second).
    let history = start(&data, &[]);
    let live = start(&data, &["--start-at", "2011-01-03T15:00:00Z", "--speed", "600"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/alpaca_sdk.py");
    let stream_url = format!("{}/v2/iex", live.base.replace("http://", "ws://"));
    let out = Command::new(&python)
        .arg(&script)
        .args([history.base.as_str(), stream_url.as_str(), "sdk-key", "sdk-secret"])
        .output()
        .unwrap();
    assert!(out.status.success(), "alpaca-py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let read = |name: &str| read_bars_csv(&data.join(name), ReadOptions { repair: true }).unwrap().bars;
    let spy = read("spy_1min_2011-01.csv");
    let aapl = read("react-stockcharts/aapl_1min_2016-04-15_2016-05-13.csv");
    for (sym, bars) in [("SPY", &spy), ("AAPL", &aapl)] {
        let g = &got["minute"][sym];
        let b = bars[0];
        assert_eq!(g[0].as_u64().unwrap() as usize, bars.len(), "{sym}: every minute, across pages");
        assert_eq!(g[1], serde_json::to_value(b.start()).unwrap().as_str().unwrap().replace('Z', "+00:00"));
        let ohlcv = [b.open(), b.high(), b.low(), b.close(), b.volume()];
        assert_eq!((2..7).map(|i| g[i].as_f64().unwrap()).collect::<Vec<_>>(), ohlcv, "{sym}");
        assert_eq!(g[7].as_f64().unwrap(), (b.volume() / 100.0).round().max(1.0), "synthesised n");
        assert!((g[8].as_f64().unwrap() - b.typical_price()).abs() < 1e-9, "synthesised vw");
    }
    assert_eq!(got["df"][0], spy.len() + aapl.len());
    assert_eq!(got["df"][1], serde_json::json!(["close", "high", "low", "open", "trade_count", "volume", "vwap"]));

    // Weeks from Monday and calendar months, from the MSFT daily file.
    let days = read("market-prices/msft_1d_1986-03-13_2024-02-14.csv");
    let weeks = got["weeks"].as_array().unwrap();
    assert_eq!(weeks[0][0], "2024-01-01T05:00:00+00:00");
    let first_week: f64 = days
        .iter()
        .filter(|d| {
            d.start() >= chrono::DateTime::parse_from_rfc3339("2024-01-01T05:00:00Z").unwrap()
                && d.start() < chrono::DateTime::parse_from_rfc3339("2024-01-08T05:00:00Z").unwrap()
        })
        .map(|d| d.volume())
        .sum();
    assert_eq!(weeks[0][3].as_f64().unwrap(), first_week);
    assert_eq!(weeks.len(), 7, "2024-01-01 … the week of 2024-02-12");
    let months = got["months"].as_array().unwrap();
    assert_eq!(
        (months.len(), &months[0], &months[3]),
        (14, &serde_json::json!("2023-01-01T05:00:00+00:00"), &serde_json::json!("2023-04-01T04:00:00+00:00"))
    );
    assert_eq!(got["jpm15"], read("eqker/jpm_15min_2019-01-04_2019-02-15.csv").len());

    // Latest endpoints and snapshots: the last complete minute (no clock: the end of the data).
    let spy_all_last = read("spy_1min_2020-12-15_2020-12-18.csv").last().copied().unwrap();
    assert_eq!(got["latest_trade"]["SPY"][0].as_f64().unwrap(), spy_all_last.close());
    assert_eq!(got["latest_trade"]["AAPL"][0].as_f64().unwrap(), aapl.last().unwrap().close());
    let (bid, ask) = (got["latest_quote"]["SPY"][0].as_f64().unwrap(), got["latest_quote"]["SPY"][1].as_f64().unwrap());
    assert!(bid < spy_all_last.close() && spy_all_last.close() < ask);
    assert_eq!(got["latest_bar"]["SPY"][1].as_f64().unwrap(), spy_all_last.close());
    assert_eq!(got["snapshot"]["SPY"][1].as_f64().unwrap(), spy_all_last.close());

    // The stream: at least three SPY minute bars, each a minute of the file (same open; a late-print minute's
    // first bar lacks its last print, so its close may differ).
    let stream = got["stream"].as_array().unwrap();
    assert!(stream.len() >= 3, "{stream:?}");
    for m in stream {
        let t = chrono::DateTime::parse_from_rfc3339(m[1].as_str().unwrap()).unwrap();
        let bar = spy.iter().find(|b| b.start() == t).unwrap_or_else(|| panic!("{t} is not a minute of the file"));
        assert_eq!((m[0].as_str().unwrap(), m[2].as_f64().unwrap()), ("SPY", bar.open()));
    }
}
