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
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};

fn year_of_minutes() -> Vec<Bar> {
    mtf_market::synthetic::random_walk_minutes(chrono::NaiveDate::from_ymd_opt(2019, 1, 2).unwrap(), 252, 100.0, 7)
}

fn bench(c: &mut Criterion) {
    let minutes = year_of_minutes();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("year_98280_minutes_8_timeframes", |b| {
        b.iter(|| {
            MultiTimeframe::from_minutes(black_box(&minutes), None, Timeframe::UP_TO_DAY, SessionFilter::Regular)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
