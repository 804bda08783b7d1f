//! The store's write and read speed, and its size, on 1,000,000 synthetic 1-minute bars of one symbol
//! (a random walk on the regular session, ~2,560 sessions ≈ 10 years; with `n` and `vw` as Alpaca sends them).
//! Prints the store size next to the same bars as CSV (the shared data's minute layout).
//! Run: `cargo bench -p mtf-store --bench store`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use mtf_market::{Bar, Timeframe};
use mtf_store::{Series, Store};

const N: usize = 1_000_000;

fn bars() -> Vec<Bar> {
    let mut out = Vec::with_capacity(N);
    let mut day = Utc.with_ymd_and_hms(2015, 1, 5, 14, 30, 0).unwrap();
    let (mut p, mut s) = (100.0_f64, 0x2545_f491_4f6c_dd1d_u64);
    while out.len() < N {
        for m in 0..390 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let r = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let o = p;
            p *= 1.0 + r * 0.002;
            let (h, l) = (o.max(p) * 1.0005, o.min(p) * 0.9995);
            let t = day + chrono::Duration::minutes(m);
            let b = Bar::new(t, o, h, l, p, 1000.0 + (s % 5000) as f64)
                .unwrap()
                .with_trade_count(Some(10 + s % 90))
                .with_vwap(Some((h + l + p) / 3.0))
                .unwrap();
            out.push(b);
            if out.len() == N {
                break;
            }
        }
        day += chrono::Duration::days(if day.format("%a").to_string() == "Fri" { 3 } else { 1 });
    }
    out
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let md = e.metadata().unwrap();
        total += if md.is_dir() { dir_size(&e.path()) } else { md.len() };
    }
    total
}

fn bench(c: &mut Criterion) {
    let bars = bars();
    let root = std::env::temp_dir().join(format!("mtf-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let series = Series { symbol: "SYN".into(), timeframe: Timeframe::M1, bars: bars.clone(), source: "bench".into() };
    let store = Store::open(&root);
    let t = std::time::Instant::now();
    store.write(std::slice::from_ref(&series)).unwrap();
    let write_s = t.elapsed().as_secs_f64();
    let objects = dir_size(&root.join("_mtf/objects"));
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    for b in &bars {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            b.start().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume()
        ));
    }
    println!(
        "store: 1,000,000 minute bars written in {write_s:.2} s; Parquet {:.1} MB (one copy; the Hive tree hard-links it) vs CSV {:.1} MB",
        objects as f64 / 1e6,
        csv.len() as f64 / 1e6
    );
    let mut g = c.benchmark_group("store");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("read 1M minute bars (one snapshot, all partitions)", |b| {
        b.iter(|| black_box(store.read("SYN", Timeframe::M1, None, None, None).unwrap().len()));
    });
    g.bench_function("read 1M minute bars without sources (read_bars_in: no source column)", |b| {
        let m = store.manifest(None).unwrap();
        b.iter(|| black_box(store.read_bars_in(&m, "SYN", Timeframe::M1, None, None).unwrap().len()));
    });
    g.bench_function("rewrite 1M identical bars (idempotent: no new snapshot)", |b| {
        b.iter(|| assert!(!store.write(std::slice::from_ref(&series)).unwrap().changed));
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
