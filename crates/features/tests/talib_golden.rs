//! Golden tests: every indicator, batch and streaming, against TA-Lib 0.8.2 on the real files of
//! `$MTF_DATA_DIR`. Fixtures are written by `scripts/talib_fixtures.py` (see its docstring).
//!
//! Criterion: identical warm-up (same first valid index, NaN exactly where TA-Lib has NaN) and relative
//! difference ≤ 1e-9 everywhere else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failures are test failures

mod common;

use std::io::Read;
use std::path::Path;

use mtf_features::indicators::{self, batch};

const COLUMNS: [&str; 17] = batch::STANDARD_COLUMNS;

fn fixture(stem: &str) -> Vec<Vec<f64>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/talib/{stem}.csv.gz"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
    let mut cols = vec![Vec::new(); COLUMNS.len()];
    for line in lines {
        for (c, f) in line.split(',').enumerate() {
            cols[c].push(if f.is_empty() { f64::NAN } else { f.parse().unwrap() });
        }
    }
    cols
}

/// Batch outputs, in `COLUMNS` order.
fn batch_outputs(c: &common::Columns) -> Vec<Vec<f64>> {
    batch::standard(&c.high, &c.low, &c.close, &c.volume).unwrap()
}

/// Streaming outputs, one bar at a time through the indicator cores, in `COLUMNS` order.
fn streaming_outputs(c: &common::Columns) -> Vec<Vec<f64>> {
    use indicators::*;
    let mut sma = Sma::new(50).unwrap();
    let mut ema = Ema::new(20).unwrap();
    let mut rsi = Rsi::new(14).unwrap();
    let mut macd = Macd::new(12, 26, 9).unwrap();
    let mut bb = Bollinger::new(20, 2.0).unwrap();
    let mut atr = Atr::new(14).unwrap();
    let mut adx = Adx::new(14).unwrap();
    let mut di = DirectionalIndex::new(14).unwrap();
    let mut st = Stochastic::new(14, 3, 3).unwrap();
    let mut obv = Obv::new();
    let mut mfi = Mfi::new(14).unwrap();
    let mut out = vec![Vec::with_capacity(c.close.len()); COLUMNS.len()];
    let nan = f64::NAN;
    for i in 0..c.close.len() {
        let (h, l, cl, v) = (c.high[i], c.low[i], c.close[i], c.volume[i]);
        let m = macd.update(cl);
        let b = bb.update(cl);
        let d = di.update(h, l, cl);
        let s = st.update(h, l, cl);
        let row = [
            sma.update(cl).unwrap_or(nan),
            ema.update(cl).unwrap_or(nan),
            rsi.update(cl).unwrap_or(nan),
            m.map_or(nan, |m| m.macd),
            m.map_or(nan, |m| m.signal),
            m.map_or(nan, |m| m.hist),
            b.map_or(nan, |b| b.upper),
            b.map_or(nan, |b| b.middle),
            b.map_or(nan, |b| b.lower),
            atr.update(h, l, cl).unwrap_or(nan),
            adx.update(h, l, cl).unwrap_or(nan),
            d.map_or(nan, |d| d.plus_di),
            d.map_or(nan, |d| d.minus_di),
            s.map_or(nan, |s| s.k),
            s.map_or(nan, |s| s.d),
            obv.update(cl, v).unwrap_or(nan),
            mfi.update(h, l, cl, v).unwrap_or(nan),
        ];
        for (col, x) in out.iter_mut().zip(row) {
            col.push(x);
        }
    }
    out
}

fn compare(stem: &str, what: &str, ours: &[Vec<f64>], theirs: &[Vec<f64>]) -> f64 {
    let mut worst: f64 = 0.0;
    for (k, name) in COLUMNS.iter().enumerate() {
        let (a, b) = (&ours[k], &theirs[k]);
        assert_eq!(a.len(), b.len(), "{stem} {what} {name}: length");
        let first = |v: &[f64]| v.iter().position(|x| !x.is_nan());
        assert_eq!(first(a), first(b), "{stem} {what} {name}: first valid index");
        for i in 0..a.len() {
            assert_eq!(a[i].is_nan(), b[i].is_nan(), "{stem} {what} {name}[{i}]: NaN mismatch");
            if a[i].is_nan() {
                continue;
            }
            let scale = a[i].abs().max(b[i].abs());
            let diff = (a[i] - b[i]).abs();
            let rel = if scale == 0.0 { 0.0 } else { diff / scale };
            worst = worst.max(rel);
            assert!(rel <= 1e-9, "{stem} {what} {name}[{i}]: ours {} vs TA-Lib {} (rel {rel:e})", a[i], b[i]);
        }
    }
    worst
}

#[test]
fn indicators_match_talib_on_real_data() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let cols = common::read_columns(&path);
        let expected = fixture(&stem);
        let b = compare(&stem, "batch", &batch_outputs(&cols), &expected);
        let s = compare(&stem, "streaming", &streaming_outputs(&cols), &expected);
        eprintln!("{stem}: {} rows, worst relative difference batch {b:e}, streaming {s:e}", cols.close.len());
        checked += 1;
    }
    assert!(checked >= 5, "expected the five shared data files, found {checked}");
}
