//! 100 symbols × one year of 1-minute bars (synthetic: 252 regular sessions × 390 minutes = 98,280 bars each,
//! 9.8 M in all) written to a store, then read back one symbol at a time — bars only (`Store::read_bars_in`), and
//! into the feature pipeline (resampled to 5m/15m/1h/1d and the 20 features of every bar, what training does per
//! symbol). One core; plain timers (median of 3 passes), printed with the throughput.
//! Run: `cargo bench -p mtf-store --bench universe`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::time::Instant;

use chrono::NaiveDate;
use mtf_features::frames::MultiTimeframe;
use mtf_market::Timeframe;
use mtf_market::session::SessionFilter;
use mtf_store::{Series, Store};

const SYMBOLS: usize = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = std::env::temp_dir().join(format!("mtf-store-universe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let store = Store::open(&root);
    let day = NaiveDate::from_ymd_opt(2023, 1, 3).unwrap();
    let names: Vec<String> = (0..SYMBOLS).map(|i| format!("S{i:03}")).collect();
    let t = Instant::now();
    let mut total = 0;
    for chunk in names.chunks(10) {
        let series: Vec<Series> = chunk
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let bars = mtf_market::synthetic::random_walk_minutes(day, 252, 50.0 + k as f64, 11 + k as u64);
                total += bars.len();
                Series { symbol: s.clone(), timeframe: Timeframe::M1, bars, source: "synthetic".into() }
            })
            .collect();
        store.write(&series).unwrap();
    }
    println!("universe: {total} bars of {SYMBOLS} symbols written in {:.1} s", t.elapsed().as_secs_f64());
    let m = store.manifest(None).unwrap();
    let tfs = [Timeframe::M1, Timeframe::M5, Timeframe::M15, Timeframe::H1, Timeframe::D1];
    let (mut read, mut feat) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0;
        for s in &names {
            n += store.read_bars_in(&m, s, Timeframe::M1, None, None).unwrap().len();
        }
        assert_eq!(n, total);
        read.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for s in &names {
            let bars = store.read_bars_in(&m, s, Timeframe::M1, None, None).unwrap();
            let mtf = MultiTimeframe::from_minutes(&bars, None, &tfs, SessionFilter::Regular).unwrap();
            std::hint::black_box(mtf.frames.len());
        }
        feat.push(t.elapsed().as_secs_f64());
    }
    let (r, f) = (median(read), median(feat));
    println!(
        "universe: read (bars only) {r:.2} s = {:.1} M bars/s; read + features (1m/5m/15m/1h/1d) {f:.2} s = {:.1} M bars/s",
        total as f64 / r / 1e6,
        total as f64 / f / 1e6
    );
    let _ = std::fs::remove_dir_all(&root);
}
