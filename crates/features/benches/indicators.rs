//! Each indicator over 1,000,000 bars, batch and streaming.
//!
//! Input: the OHLCV columns of `$MTF_DATA_DIR/spy_1min_2011-01.csv` tiled to 1,000,000 rows — the same array
//! `scripts/bench_talib.py` feeds to TA-Lib — or, without the data directory, a synthetic random walk.
//! Run: `cargo bench -p mtf-features --bench indicators`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mtf_features::indicators::{self as ind, batch};

const N: usize = 1_000_000;

struct Cols {
    o: Vec<f64>,
    h: Vec<f64>,
    l: Vec<f64>,
    c: Vec<f64>,
    v: Vec<f64>,
}

fn load() -> Cols {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("MTF_DATA_DIR").map(std::path::PathBuf::from).unwrap_or(root.join("../shared/data"));
    let path = if dir.is_absolute() { dir } else { root.join(dir) }.join("spy_1min_2011-01.csv");
    let mut rows: Vec<[f64; 5]> = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<f64> = l.split(',').skip(1).map(|x| x.parse().unwrap()).collect();
                [f[0], f[1], f[2], f[3], f[4]]
            })
            .collect(),
        Err(_) => {
            eprintln!("{} not found: benchmarking a synthetic random walk", path.display());
            let mut s = 1u64;
            let mut p = 100.0;
            (0..N)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let r = (s >> 11) as f64 / (1u64 << 53) as f64;
                    let o = p;
                    p *= 1.0 + (r - 0.5) * 0.002;
                    [o, o.max(p) + 0.01, o.min(p) - 0.01, p, 1000.0 + r * 1000.0]
                })
                .collect()
        }
    };
    let base = rows.clone();
    while rows.len() < N {
        rows.extend_from_slice(&base[..base.len().min(N - rows.len())]);
    }
    let col = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
    Cols { o: col(0), h: col(1), l: col(2), c: col(3), v: col(4) }
}

fn bench(c: &mut Criterion) {
    let d = load();
    let mut g = c.benchmark_group("indicators_1M");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));

    g.bench_function("sma50/batch", |b| b.iter(|| batch::sma(black_box(&d.c), 50).unwrap()));
    g.bench_function("ema20/batch", |b| b.iter(|| batch::ema(black_box(&d.c), 20).unwrap()));
    g.bench_function("rsi14/batch", |b| b.iter(|| batch::rsi(black_box(&d.c), 14).unwrap()));
    g.bench_function("macd/batch", |b| b.iter(|| batch::macd(black_box(&d.c), 12, 26, 9).unwrap()));
    g.bench_function("bbands20/batch", |b| b.iter(|| batch::bollinger(black_box(&d.c), 20, 2.0).unwrap()));
    g.bench_function("atr14/batch", |b| b.iter(|| batch::atr(&d.h, &d.l, black_box(&d.c), 14).unwrap()));
    g.bench_function("adx14/batch", |b| b.iter(|| batch::adx(&d.h, &d.l, black_box(&d.c), 14).unwrap()));
    g.bench_function("di14/batch", |b| b.iter(|| batch::dmi(&d.h, &d.l, black_box(&d.c), 14).unwrap()));
    g.bench_function("stoch/batch", |b| b.iter(|| batch::stochastic(&d.h, &d.l, black_box(&d.c), 14, 3, 3).unwrap()));
    g.bench_function("obv/batch", |b| b.iter(|| batch::obv(black_box(&d.c), &d.v).unwrap()));
    g.bench_function("mfi14/batch", |b| b.iter(|| batch::mfi(&d.h, &d.l, black_box(&d.c), &d.v, 14).unwrap()));
    let day: Vec<i64> = (0..N as i64).map(|i| i / 390).collect();
    g.bench_function("vwap/batch", |b| b.iter(|| batch::session_vwap(&day, black_box(&d.c), &d.v).unwrap()));
    g.bench_function("parkinson20/batch", |b| b.iter(|| batch::parkinson(&d.h, black_box(&d.l), 20).unwrap()));
    g.bench_function("garman_klass20/batch", |b| {
        b.iter(|| batch::garman_klass(&d.o, &d.h, black_box(&d.l), &d.c, 20).unwrap())
    });

    // Streaming: one update per bar through the scalar cores (what a live session does).
    g.bench_function("sma50/stream", |b| {
        b.iter(|| {
            let mut x = ind::Sma::new(50).unwrap();
            d.c.iter().fold(0.0, |a, &c| a + x.update(c).unwrap_or(0.0))
        })
    });
    g.bench_function("ema20/stream", |b| {
        b.iter(|| {
            let mut x = ind::Ema::new(20).unwrap();
            d.c.iter().fold(0.0, |a, &c| a + x.update(c).unwrap_or(0.0))
        })
    });
    g.bench_function("rsi14/stream", |b| {
        b.iter(|| {
            let mut x = ind::Rsi::new(14).unwrap();
            d.c.iter().fold(0.0, |a, &c| a + x.update(c).unwrap_or(0.0))
        })
    });
    g.bench_function("macd/stream", |b| {
        b.iter(|| {
            let mut x = ind::Macd::new(12, 26, 9).unwrap();
            d.c.iter().fold(0.0, |a, &c| a + x.update(c).map_or(0.0, |m| m.hist))
        })
    });
    g.bench_function("bbands20/stream", |b| {
        b.iter(|| {
            let mut x = ind::Bollinger::new(20, 2.0).unwrap();
            d.c.iter().fold(0.0, |a, &c| a + x.update(c).map_or(0.0, |m| m.upper))
        })
    });
    g.bench_function("atr14/stream", |b| {
        b.iter(|| {
            let mut x = ind::Atr::new(14).unwrap();
            (0..N).fold(0.0, |a, i| a + x.update(d.h[i], d.l[i], d.c[i]).unwrap_or(0.0))
        })
    });
    g.bench_function("adx14/stream", |b| {
        b.iter(|| {
            let mut x = ind::Adx::new(14).unwrap();
            (0..N).fold(0.0, |a, i| a + x.update(d.h[i], d.l[i], d.c[i]).unwrap_or(0.0))
        })
    });
    g.bench_function("di14/stream", |b| {
        b.iter(|| {
            let mut x = ind::DirectionalIndex::new(14).unwrap();
            (0..N).fold(0.0, |a, i| a + x.update(d.h[i], d.l[i], d.c[i]).map_or(0.0, |m| m.plus_di))
        })
    });
    g.bench_function("stoch/stream", |b| {
        b.iter(|| {
            let mut x = ind::Stochastic::new(14, 3, 3).unwrap();
            (0..N).fold(0.0, |a, i| a + x.update(d.h[i], d.l[i], d.c[i]).map_or(0.0, |m| m.k))
        })
    });
    g.bench_function("obv/stream", |b| {
        b.iter(|| {
            let mut x = ind::Obv::new();
            (0..N).fold(0.0, |a, i| a + x.update(d.c[i], d.v[i]).unwrap_or(0.0))
        })
    });
    g.bench_function("mfi14/stream", |b| {
        b.iter(|| {
            let mut x = ind::Mfi::new(14).unwrap();
            (0..N).fold(0.0, |a, i| a + x.update(d.h[i], d.l[i], d.c[i], d.v[i]).unwrap_or(0.0))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
