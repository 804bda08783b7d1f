//! Times the feature pipeline (one year of 1-minute regular-session bars → 8 timeframes → 20 features each)
//! without criterion, so the same program runs natively and as WebAssembly:
//!
//! ```text
//! cargo run --release -p mtf-features --example pipeline_timing
//! scripts/bench-wasm-pipeline        # builds for wasm32-wasip1 and runs it in Node's V8
//! ```
//!
//! Input: 252 synthetic sessions × 390 minutes (a deterministic random walk, the same as `benches/pipeline.rs`).
//! Prints the median and minimum of 15 runs after 3 warm-up runs.
#![allow(clippy::unwrap_used)] // example program

use std::time::Instant;

use mtf_features::frames::MultiTimeframe;
use mtf_market::Timeframe;
use mtf_market::session::SessionFilter;

fn main() {
    let minutes =
        mtf_market::synthetic::random_walk_minutes(chrono::NaiveDate::from_ymd_opt(2019, 1, 2).unwrap(), 252, 100.0, 7);
    let mut times = Vec::new();
    for i in 0..18 {
        let t = Instant::now();
        let mtf = MultiTimeframe::from_minutes(&minutes, None, Timeframe::UP_TO_DAY, SessionFilter::Regular).unwrap();
        let dt = t.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(&mtf);
        if i >= 3 {
            times.push(dt);
        }
    }
    times.sort_by(f64::total_cmp);
    let bars: usize = MultiTimeframe::from_minutes(&minutes, None, Timeframe::UP_TO_DAY, SessionFilter::Regular)
        .unwrap()
        .frames
        .iter()
        .map(|f| f.series.bars().len())
        .sum();
    println!(
        "pipeline: {} minutes -> {bars} bars over 8 timeframes; median {:.2} ms, min {:.2} ms ({} runs)",
        minutes.len(),
        times[times.len() / 2],
        times[0],
        times.len()
    );
}
