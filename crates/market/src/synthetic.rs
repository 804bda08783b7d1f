//! Deterministic synthetic bars, for benchmarks, tests and demos without real data. Always label them as
//! synthetic wherever they are shown.

use chrono::{Datelike, NaiveDate};

use crate::Bar;
use crate::session::regular_open;

/// `sessions` weekday regular sessions of 1-minute bars (390 each) from `first_day`, a seeded random walk:
/// each minute moves the close by up to ±0.1 %, with a range slightly wider than open/close and volumes in
/// [1000, 6000). Weekends are skipped; there are no holidays. The same seed gives the same bars everywhere.
pub fn random_walk_minutes(first_day: NaiveDate, sessions: usize, start_price: f64, seed: u64) -> Vec<Bar> {
    let mut out = Vec::with_capacity(sessions * 390);
    let (mut s, mut p) = (seed, start_price);
    let mut day = first_day;
    let mut done = 0;
    while done < sessions {
        if day.weekday().number_from_monday() <= 5 {
            let open = regular_open(day);
            for m in 0..390 {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (s >> 11) as f64 / (1u64 << 53) as f64;
                let o = p;
                p *= 1.0 + (r - 0.5) * 0.002;
                let t = open + chrono::Duration::minutes(m);
                // Valid by construction: positive, finite, open and close inside [low, high].
                let bar = Bar::from_valid_parts(
                    t,
                    [o, o.max(p) * 1.0002, o.min(p) * 0.9998, p, 1000.0 + r * 5000.0],
                    None,
                    None,
                );
                out.push(bar);
            }
            done += 1;
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_sized() {
        let d = NaiveDate::from_ymd_opt(2019, 1, 2).unwrap();
        let a = random_walk_minutes(d, 3, 100.0, 7);
        assert_eq!(a.len(), 3 * 390);
        assert_eq!(a, random_walk_minutes(d, 3, 100.0, 7));
        assert_ne!(a, random_walk_minutes(d, 3, 100.0, 8));
        for b in &a {
            let v = Bar::new(b.start(), b.open(), b.high(), b.low(), b.close(), b.volume()).unwrap();
            assert_eq!(&v, b);
        }
        // 2019-01-05/06 is a weekend: the 4th session would be Monday the 7th.
        assert_eq!(random_walk_minutes(d, 4, 100.0, 7)[3 * 390].start().to_rfc3339(), "2019-01-07T14:30:00+00:00");
    }
}
