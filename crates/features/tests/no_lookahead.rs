//! No look-ahead: features and windows at instant τ are bit-identical whether computed from the data up to τ,
//! from the full series, or from a series whose bars after τ were replaced by garbage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failures are test failures

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mtf_features::frames::MultiTimeframe;
use mtf_features::normalize::NormStats;
use mtf_features::window::{Windows, build_windows};
use mtf_market::session::{SessionFilter, regular_open};
use mtf_market::{Bar, Timeframe};
use proptest::prelude::*;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bar(t: DateTime<Utc>, prev: f64, rng: &mut Lcg) -> Bar {
    let o = prev;
    let c = o * (1.0 + (rng.next() - 0.5) * 0.004);
    let h = o.max(c) * (1.0 + rng.next() * 0.001);
    let l = o.min(c) * (1.0 - rng.next() * 0.001);
    Bar::new(t, o, h, l, c, (rng.next() * 1e5).round()).unwrap()
}

/// Weekday regular-session minutes for `days` days from 2011-03-07 (across the March DST switch), with
/// random missing minutes, plus 80 daily bars before and during that span.
fn synthetic(seed: u64, days: usize) -> (Vec<Bar>, Vec<Bar>) {
    let mut rng = Lcg(seed);
    let mut minutes = Vec::new();
    let mut price = 100.0;
    let mut day = chrono::NaiveDate::from_ymd_opt(2011, 3, 7).unwrap();
    let mut n = 0;
    while n < days {
        if day.format("%u").to_string().parse::<u32>().unwrap() <= 5 {
            let open = regular_open(day);
            for m in 0..390 {
                if rng.next() < 0.03 {
                    continue; // a minute without trades
                }
                let b = bar(open + Duration::minutes(m), price, &mut rng);
                price = b.close();
                minutes.push(b);
            }
            n += 1;
        }
        day = day.succ_opt().unwrap();
    }
    let mut daily = Vec::new();
    let mut d = chrono::NaiveDate::from_ymd_opt(2010, 11, 1).unwrap();
    let mut p = 100.0;
    while d < day {
        if d.format("%u").to_string().parse::<u32>().unwrap() <= 5 {
            let b = bar(mtf_market::session::ny_local_to_utc(d, chrono::NaiveTime::MIN), p, &mut rng);
            p = b.close();
            daily.push(b);
        }
        d = d.succ_opt().unwrap();
    }
    (minutes, daily)
}

fn windows(minutes: &[Bar], daily: &[Bar], tau: DateTime<Utc>, norm: Option<&NormStats>) -> (MultiTimeframe, Windows) {
    let mtf = MultiTimeframe::from_minutes(minutes, Some(daily), &Timeframe::ALL, SessionFilter::Regular).unwrap();
    let w = build_windows(&mtf, &[tau], 64, norm).unwrap();
    (mtf, w)
}

/// Every f64 feature of every bar complete at τ is bit-identical.
fn assert_features_identical(a: &MultiTimeframe, b: &MultiTimeframe, tau: DateTime<Utc>, what: &str) {
    for (fa, fb) in a.frames.iter().zip(&b.frames) {
        let n = fa.series.complete_count(tau);
        assert_eq!(n, fb.series.complete_count(tau), "{what}: complete bar count");
        for i in 0..n {
            assert_eq!(fa.series.bars()[i], fb.series.bars()[i], "{what}: bar {i}");
            for (x, y) in fa.row(i).iter().zip(fb.row(i)) {
                assert!(x.to_bits() == y.to_bits(), "{what}: {:?} bar {i}: {x} vs {y}", fa.series.timeframe());
            }
        }
    }
}

fn assert_bit_identical(a: &Windows, b: &Windows, what: &str) {
    assert_eq!(a.mask, b.mask, "{what}: mask differs");
    assert!(a.mask.contains(&1), "{what}: empty window proves nothing");
    for (i, (x, y)) in a.values.iter().zip(&b.values).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: value {i} differs: {x} vs {y}");
    }
}

fn end_of(tf: Timeframe, b: &Bar) -> DateTime<Utc> {
    tf.bar_end(b.start(), SessionFilter::Regular)
}

fn check(minutes: &[Bar], daily: &[Bar], tau: DateTime<Utc>, seed: u64) {
    let full_mtf = MultiTimeframe::from_minutes(minutes, Some(daily), &Timeframe::ALL, SessionFilter::Regular).unwrap();
    let train_end = tau - Duration::days(1);
    let norm = NormStats::fit(&full_mtf, train_end, 5.0).ok();
    let (full_mtf, full) = windows(minutes, daily, tau, norm.as_ref());
    // Truncated: only bars that had closed by τ.
    let tm: Vec<Bar> = minutes.iter().filter(|b| end_of(Timeframe::M1, b) <= tau).copied().collect();
    let td: Vec<Bar> = daily.iter().filter(|b| end_of(Timeframe::D1, b) <= tau).copied().collect();
    let (mtf, w) = windows(&tm, &td, tau, norm.as_ref());
    assert_bit_identical(&full, &w, "truncated");
    assert_features_identical(&full_mtf, &mtf, tau, "truncated");
    // Garbage after τ: same timestamps, unrelated prices and volumes.
    let mut rng = Lcg(seed ^ 0xdead_beef);
    let gm: Vec<Bar> =
        minutes
            .iter()
            .map(|b| {
                if end_of(Timeframe::M1, b) <= tau { *b } else { bar(b.start(), 1000.0 * (1.0 + rng.next()), &mut rng) }
            })
            .collect();
    let gd: Vec<Bar> = daily
        .iter()
        .map(|b| if end_of(Timeframe::D1, b) <= tau { *b } else { bar(b.start(), 5.0 * (1.0 + rng.next()), &mut rng) })
        .collect();
    let (mtf, w) = windows(&gm, &gd, tau, norm.as_ref());
    assert_bit_identical(&full, &w, "garbage after tau");
    assert_features_identical(&full_mtf, &mtf, tau, "garbage after tau");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn windows_do_not_look_ahead(seed in any::<u64>(), frac in 0.3f64..0.95, offset_s in 0i64..120) {
        let (minutes, daily) = synthetic(seed, 8);
        let i = ((minutes.len() as f64) * frac) as usize;
        // τ anywhere: on a bar boundary or in the middle of a minute.
        let tau = minutes[i].start() + Duration::seconds(offset_s);
        check(&minutes, &daily, tau, seed);
    }
}

#[test]
fn windows_do_not_look_ahead_on_real_data() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let opts = mtf_market::io::ReadOptions { repair: true };
    let minutes = mtf_market::io::read_bars_csv(&dir.join("spy_1min_2011-01.csv"), opts).unwrap().bars;
    let daily = mtf_market::io::read_bars_csv(&dir.join("spy_1d_2007-12-31_2017-12-29.csv"), opts).unwrap().bars;
    for (d, h, m) in [(14, 15, 0), (20, 20, 59), (25, 14, 47), (31, 21, 0)] {
        let tau = Utc.with_ymd_and_hms(2011, 1, d, h, m, 30).unwrap();
        check(&minutes, &daily, tau, u64::from(d));
    }
}
