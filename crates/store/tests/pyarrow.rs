//! The store read as it is by pyarrow (what pandas and Polars use underneath): a Hive dataset with the partition
//! keys as columns, the same rows and values as `Store::read`. Runs `$MTF_PYTHON` (scripts/test sets it to a venv
//! with pyarrow); skips visibly without it, and fails instead when `MTF_REQUIRE_PYTHON=1` (as `.ci/run` sets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use mtf_market::{Bar, Timeframe};
use mtf_store::{Series, Store};

mod common;
use common::tempdir;

#[test]
fn pyarrow_reads_the_store_as_a_hive_dataset() {
    let Some(python) = std::env::var_os("MTF_PYTHON") else {
        assert!(
            std::env::var("MTF_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "MTF_PYTHON is required (MTF_REQUIRE_PYTHON=1)"
        );
        eprintln!("SKIPPED: pyarrow store test — set MTF_PYTHON to a Python with pyarrow (scripts/test does)");
        return;
    };
    let d = tempdir();
    let store = Store::open(d.path());
    let t0 = Utc.with_ymd_and_hms(2024, 1, 31, 23, 0, 0).unwrap();
    let mk = |i: i64, c: f64| {
        Bar::new(t0 + Duration::minutes(i), c, c + 1.0, c - 1.0, c + 0.5, 1000.0 + i as f64)
            .unwrap()
            .with_trade_count(Some(i as u64))
            .with_vwap(Some(c + 0.1))
            .unwrap()
    };
    let spy: Vec<Bar> = (0..120).map(|i| mk(i, 400.0 + i as f64 * 0.01)).collect();
    let aapl: Vec<Bar> = (0..90).map(|i| mk(i, 180.0 - i as f64 * 0.02)).collect();
    let one = |symbol: &str, bars: Vec<Bar>| Series {
        symbol: symbol.into(),
        timeframe: Timeframe::M1,
        bars,
        source: "test".into(),
    };
    store.write(&[one("SPY", spy), one("AAPL", aapl.clone())]).unwrap();
    // A correction: pyarrow must see only the new value (the old object is outside the tree).
    let fixed = Bar::new(aapl[10].start(), 1.0, 2.0, 0.5, 1.5, 7.0).unwrap();
    store.write(&[one("AAPL", vec![fixed])]).unwrap();

    let want: Vec<(String, usize, f64)> = ["AAPL", "SPY"]
        .iter()
        .map(|s| {
            let rows = store.read(s, Timeframe::M1, None, None, None).unwrap();
            (s.to_string(), rows.len(), rows.iter().map(|b| b.bar.close()).sum::<f64>())
        })
        .collect();
    let script = r#"
import json, sys
import pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
out = {}
for sym in sorted(set(t.column("symbol").to_pylist())):
    rows = t.filter(ds.field("symbol") == sym)
    out[sym] = [rows.num_rows, sum(rows.column("c").to_pylist()), sorted(set(rows.column("month").to_pylist())),
                str(rows.schema.field("t").type)]
aapl = t.filter(ds.field("symbol") == "AAPL").sort_by("t")
out["aapl10"] = [aapl.column("c")[10].as_py(), aapl.column("v")[10].as_py(), aapl.column("n")[10].as_py()]
print(json.dumps(out))
"#;
    let out = std::process::Command::new(&python).arg("-c").arg(script).arg(d.path()).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (sym, rows, sum) in &want {
        assert_eq!(got[sym][0].as_u64().unwrap() as usize, *rows, "{sym} rows");
        assert!((got[sym][1].as_f64().unwrap() - sum).abs() < 1e-9, "{sym} sum of closes");
        assert_eq!(got[sym][2], serde_json::json!(["2024-01", "2024-02"]));
        assert_eq!(got[sym][3], "timestamp[us, tz=UTC]");
    }
    assert_eq!(got["aapl10"], serde_json::json!([1.5, 7.0, null]), "the corrected bar, trade count unknown");
}
