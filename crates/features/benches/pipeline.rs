//! The full feature pipeline for one year of 1-minute regular-session bars over 8 timeframes.
//!
//! Input: 252 synthetic sessions × 390 minutes = 98,280 bars (a deterministic random walk; a year of real
//! minute data is not in the shared data set). Measured: resampling to 5m…1d plus the 20 features of every
//! bar of all 8 timeframes, single-threaded. Run: `cargo bench -p mtf-features --bench pipeline`.
#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mtf_features::frames::MultiTimeframe;
use mtf_market::session::{SessionFilter, regular_open};
use mtf_market::{Bar, Timeframe};

fn year_of_minutes() -> Vec<Bar> {
    let mut out = Vec::with_capacity(98_280);
    let mut s = 7u64;
    let mut p = 100.0;
    let mut day = chrono::NaiveDate::from_ymd_opt(2019, 1, 2).unwrap();
    let mut sessions = 0;
    while sessions < 252 {
        use chrono::Datelike;
        if day.weekday().number_from_monday() <= 5 {
            let open = regular_open(day);
            for m in 0..390 {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (s >> 11) as f64 / (1u64 << 53) as f64;
                let o = p;
                p *= 1.0 + (r - 0.5) * 0.002;
                let bar = Bar::new(
                    open + chrono::Duration::minutes(m),
                    o,
                    o.max(p) * 1.0002,
                    o.min(p) * 0.9998,
                    p,
                    1000.0 + r * 5000.0,
                )
                .unwrap();
                out.push(bar);
            }
            sessions += 1;
        }
        day = day.succ_opt().unwrap();
    }
    out
}

fn bench(c: &mut Criterion) {
    let minutes = year_of_minutes();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("year_98280_minutes_8_timeframes", |b| {
        b.iter(|| {
            MultiTimeframe::from_minutes(black_box(&minutes), None, &Timeframe::ALL, SessionFilter::Regular).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
