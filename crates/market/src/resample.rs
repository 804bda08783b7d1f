//! Resampling bars to coarser timeframes on the New York clock.
//!
//! Buckets are those of [`Timeframe::bucket_start`], so a 1-minute series resampled here equals Alpaca's own
//! bars of that size (for the same session filter): 5m at :00, :05, …; 1h at hh:00 New York; 4h at
//! 00/04/08/12/16/20 New York; 1d on the New York trading day, stamped at New York midnight.
//!
//! Aggregation: open of the first bar, close of the last, max high, min low, summed volume, summed trade
//! count (only when every input bar has one), and VWAP = Σ(vwᵢ·vᵢ)/Σvᵢ where vwᵢ is each input bar's VWAP or,
//! when absent, its typical price (when Σvᵢ = 0 the mean of those prices).
//! Buckets without any input bar produce no output bar: gaps stay gaps.

use crate::session::SessionFilter;
use crate::{Bar, Timeframe};

/// Why a resampling request cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    /// The target is not a whole multiple of the source, or buckets would straddle.
    #[error("cannot resample {from} bars to {to}: {to} buckets are not unions of {from} buckets")]
    Incompatible {
        /// Source timeframe.
        from: Timeframe,
        /// Target timeframe.
        to: Timeframe,
    },
    /// Input bars are not in strictly increasing time order.
    #[error("input bar {index} (start {start}) is not after the previous bar: bars must be sorted and unique")]
    Unsorted {
        /// 0-based index of the offending bar.
        index: usize,
        /// Its start instant (RFC 3339).
        start: String,
    },
}

fn compatible(from: Timeframe, to: Timeframe) -> bool {
    match (from, to) {
        // Weeks and months are unions of trading days (and of anything a day is a union of); a week can straddle
        // two months, so months are not made of weeks.
        (Timeframe::W1 | Timeframe::MN1, _) => return false,
        (_, Timeframe::W1 | Timeframe::MN1) => return true,
        _ => {}
    }
    if to == Timeframe::D1 {
        return true;
    }
    if from == Timeframe::D1 {
        return false;
    }
    // Sizes ≤ 1h divide the hour; 4h buckets are unions of New York clock hours, so any divisor of 60 works.
    to.minutes() % from.minutes() == 0 && (to.minutes() <= 60 || 60 % from.minutes() == 0)
}

/// Running aggregate of one bucket. Public to the crate so live bar building uses the same arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accumulator {
    pub(crate) start_ms: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    trade_count: Option<u64>,
    pv: f64,
    price_sum: f64,
    n: u32,
}

impl Accumulator {
    pub(crate) fn new(start_ms: i64, first: &Bar) -> Self {
        let vw = first.vwap_or_typical();
        Self {
            start_ms,
            open: first.open(),
            high: first.high(),
            low: first.low(),
            close: first.close(),
            volume: first.volume(),
            trade_count: first.trade_count(),
            pv: vw * first.volume(),
            price_sum: vw,
            n: 1,
        }
    }

    pub(crate) fn push(&mut self, bar: &Bar) {
        self.high = self.high.max(bar.high());
        self.low = self.low.min(bar.low());
        self.close = bar.close();
        self.volume += bar.volume();
        self.trade_count = match (self.trade_count, bar.trade_count()) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            _ => None,
        };
        let vw = bar.vwap_or_typical();
        self.pv += vw * bar.volume();
        self.price_sum += vw;
        self.n += 1;
    }

    pub(crate) fn finish(&self) -> Bar {
        let vwap = if self.volume > 0.0 { self.pv / self.volume } else { self.price_sum / f64::from(self.n) };
        // Rounding can put a VWAP a hair outside [low, high]; clamp so the result stays a valid bar.
        let vwap = vwap.clamp(self.low, self.high);
        Bar::from_valid_parts(
            chrono::DateTime::from_timestamp_millis(self.start_ms).unwrap_or_default(),
            [self.open, self.high, self.low, self.close, self.volume],
            self.trade_count,
            Some(vwap),
        )
    }
}

/// Resamples `bars` of timeframe `from` to timeframe `to`, keeping only source bars whose start the session
/// `filter` accepts.
///
/// A 1-minute source bar is kept when its start is in the session. A coarser source bar is kept whole when it
/// overlaps the session (so the regular-session 09:00 hourly bar, which holds 09:30–09:59, is kept); resampling
/// already-filtered bars therefore composes: 1m → 5m → 15m equals 1m → 15m.
///
/// # Errors
/// [`ResampleError::Incompatible`] when `to` buckets are not unions of `from` buckets (e.g. 10m → 15m), and
/// [`ResampleError::Unsorted`] when input starts are not strictly increasing.
pub fn resample(
    bars: &[Bar],
    from: Timeframe,
    to: Timeframe,
    filter: SessionFilter,
) -> Result<Vec<Bar>, ResampleError> {
    if !compatible(from, to) {
        return Err(ResampleError::Incompatible { from, to });
    }
    let mut out = Vec::with_capacity(bars.len() / (to.minutes() / from.minutes()).max(1) as usize + 1);
    let mut acc: Option<Accumulator> = None;
    let mut prev_start = None;
    for (index, bar) in bars.iter().enumerate() {
        let start_ms = bar.start_ms();
        if prev_start.is_some_and(|p| start_ms <= p) {
            return Err(ResampleError::Unsorted { index, start: bar.start().to_rfc3339() });
        }
        prev_start = Some(start_ms);
        if !keeps(filter, from, bar) {
            continue;
        }
        let bucket = to.bucket_start_ms(start_ms);
        match &mut acc {
            Some(a) if a.start_ms == bucket => a.push(bar),
            _ => {
                if let Some(a) = acc.take() {
                    out.push(a.finish());
                }
                acc = Some(Accumulator::new(bucket, bar));
            }
        }
    }
    if let Some(a) = acc {
        out.push(a.finish());
    }
    Ok(out)
}

/// Whether a source bar takes part under `filter`: a 1-minute bar when its start is in the session, a coarser
/// bar when any part of it overlaps the session (its first or last minute, or the session open inside it).
fn keeps(filter: SessionFilter, from: Timeframe, bar: &Bar) -> bool {
    if !from.is_intraday() {
        return true; // a daily bar is the session's own summary
    }
    if filter.contains_ms(bar.start_ms()) {
        return true;
    }
    let start = bar.start();
    if from == Timeframe::M1 || from == Timeframe::D1 {
        return false;
    }
    let end = from.bar_end(start, filter);
    let open = match filter {
        SessionFilter::Regular => crate::session::regular_open(crate::session::trading_day(start)),
        SessionFilter::Extended => {
            crate::session::ny_local_to_utc(crate::session::trading_day(start), crate::session::PRE_MARKET_OPEN)
        }
    };
    filter.contains(end - chrono::Duration::minutes(1)) || (start <= open && open < end && filter.contains(open))
}

/// Keeps the bars whose start the session filter accepts (the identity resampling of 1-minute bars).
pub fn filter_session(bars: &[Bar], filter: SessionFilter) -> Vec<Bar> {
    bars.iter().filter(|b| filter.contains_ms(b.start_ms())).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use proptest::prelude::*;

    fn minute_bars(start: DateTime<Utc>, closes: &[(i64, f64, f64)]) -> Vec<Bar> {
        // (minute offset, close, volume); open = close - 0.01, high/low around them.
        closes
            .iter()
            .map(|&(m, c, v)| Bar::new(start + Duration::minutes(m), c - 0.01, c + 0.05, c - 0.05, c, v).unwrap())
            .collect()
    }

    #[test]
    fn five_minute_buckets_are_aligned_and_aggregate_correctly() {
        let t0 = Utc.with_ymd_and_hms(2011, 1, 3, 14, 32, 0).unwrap(); // 09:32 NY
        let bars = minute_bars(t0, &[(0, 10.0, 1.0), (1, 11.0, 2.0), (2, 9.0, 3.0), (3, 10.5, 4.0), (9, 12.0, 5.0)]);
        let out = resample(&bars, Timeframe::M1, Timeframe::M5, SessionFilter::Regular).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].start(), Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap());
        assert_eq!(out[0].open(), 9.99);
        assert_eq!(out[0].close(), 9.0);
        assert_eq!(out[0].high(), 11.05);
        assert_eq!(out[0].low(), 8.95);
        assert_eq!(out[0].volume(), 6.0);
        // 09:34 → bucket 09:30; 09:35 → bucket 09:35; the 09:41 bar goes to 09:40.
        assert_eq!(out[1].start(), Utc.with_ymd_and_hms(2011, 1, 3, 14, 35, 0).unwrap());
        assert_eq!(out[1].volume(), 4.0);
    }

    #[test]
    fn four_hour_buckets_follow_new_york_clock_across_dst() {
        // 2011-03-11 (EST): 12:00 NY = 17:00 UTC. 2011-03-14 (EDT): 12:00 NY = 16:00 UTC.
        let before = Utc.with_ymd_and_hms(2011, 3, 11, 18, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2011, 3, 14, 17, 0, 0).unwrap();
        assert_eq!(Timeframe::H4.bucket_start(before), Utc.with_ymd_and_hms(2011, 3, 11, 17, 0, 0).unwrap());
        assert_eq!(Timeframe::H4.bucket_start(after), Utc.with_ymd_and_hms(2011, 3, 14, 16, 0, 0).unwrap());
        // The 00:00 bucket on the spring-forward Sunday is 3 real hours long, in November it is 5.
        let spring = Utc.with_ymd_and_hms(2011, 3, 13, 5, 0, 0).unwrap();
        assert_eq!(Timeframe::H4.bar_end(spring, SessionFilter::Extended) - spring, Duration::hours(3));
        let fall = Utc.with_ymd_and_hms(2011, 11, 6, 4, 0, 0).unwrap();
        assert_eq!(Timeframe::H4.bucket_start(fall + Duration::hours(2)), fall);
        assert_eq!(Timeframe::H4.bar_end(fall, SessionFilter::Extended) - fall, Duration::hours(5));
    }

    #[test]
    fn daily_bucket_is_new_york_trading_day() {
        let t = Utc.with_ymd_and_hms(2011, 11, 7, 20, 59, 0).unwrap(); // 15:59 EST
        let d = Timeframe::D1.bucket_start(t);
        assert_eq!(d, Utc.with_ymd_and_hms(2011, 11, 7, 5, 0, 0).unwrap());
        assert_eq!(
            Timeframe::D1.bar_end(d, SessionFilter::Regular),
            Utc.with_ymd_and_hms(2011, 11, 7, 21, 0, 0).unwrap()
        );
        let summer = Timeframe::D1.bucket_start(Utc.with_ymd_and_hms(2011, 11, 4, 19, 59, 0).unwrap());
        assert_eq!(summer, Utc.with_ymd_and_hms(2011, 11, 4, 4, 0, 0).unwrap());
    }

    #[test]
    fn hourly_resampling_across_november_switch_keeps_ny_alignment() {
        // Regular-session minutes on Fri 2011-11-04 (EDT) and Mon 2011-11-07 (EST).
        let fri = Utc.with_ymd_and_hms(2011, 11, 4, 13, 30, 0).unwrap();
        let mon = Utc.with_ymd_and_hms(2011, 11, 7, 14, 30, 0).unwrap();
        let mut bars = minute_bars(fri, &(0..390).map(|m| (m, 100.0, 1.0)).collect::<Vec<_>>());
        bars.extend(minute_bars(mon, &(0..390).map(|m| (m, 100.0, 1.0)).collect::<Vec<_>>()));
        let out = resample(&bars, Timeframe::M1, Timeframe::H1, SessionFilter::Regular).unwrap();
        assert_eq!(out.len(), 14);
        assert_eq!(out[0].start(), Utc.with_ymd_and_hms(2011, 11, 4, 13, 0, 0).unwrap()); // 09:00 EDT
        assert_eq!(out[0].volume(), 30.0);
        assert_eq!(out[7].start(), Utc.with_ymd_and_hms(2011, 11, 7, 14, 0, 0).unwrap()); // 09:00 EST
        let days = resample(&bars, Timeframe::M1, Timeframe::D1, SessionFilter::Regular).unwrap();
        assert_eq!(days.len(), 2);
        assert!(days.iter().all(|d| d.volume() == 390.0));
    }

    #[test]
    fn days_make_weeks_and_months_and_minutes_make_the_same_ones() {
        // Three trading days a week (Mon, Wed, Fri) from Monday 2024-01-29 to Friday 2024-02-09, 390 minutes
        // each: weeks of 29 Jan and 5 Feb, months January (29, 31 Jan) and February (2, 5, 7, 9 Feb).
        let mut minutes = Vec::new();
        for (k, day) in
            [29, 31].iter().map(|d| (2024, 1, *d)).chain([2, 5, 7, 9].iter().map(|d| (2024, 2, *d))).enumerate()
        {
            let open = Utc.with_ymd_and_hms(day.0, day.1, day.2, 14, 30, 0).unwrap();
            minutes.extend(minute_bars(open, &(0..390).map(|m| (m, 100.0 + k as f64, 1.0)).collect::<Vec<_>>()));
        }
        let days = resample(&minutes, Timeframe::M1, Timeframe::D1, SessionFilter::Regular).unwrap();
        assert_eq!(days.len(), 6);
        for (tf, starts, volumes) in [
            (Timeframe::W1, [(1, 29), (2, 5)], [3.0 * 390.0, 3.0 * 390.0]),
            (Timeframe::MN1, [(1, 1), (2, 1)], [2.0 * 390.0, 4.0 * 390.0]),
        ] {
            let from_days = resample(&days, Timeframe::D1, tf, SessionFilter::Regular).unwrap();
            let from_minutes = resample(&minutes, Timeframe::M1, tf, SessionFilter::Regular).unwrap();
            assert_eq!(from_days, from_minutes, "{tf}");
            let got: Vec<_> = from_days.iter().map(|b| (b.start(), b.volume())).collect();
            let want: Vec<_> = starts
                .iter()
                .zip(volumes)
                .map(|(&(m, d), v)| (Utc.with_ymd_and_hms(2024, m, d, 5, 0, 0).unwrap(), v))
                .collect();
            assert_eq!(got, want, "{tf}");
        }
        let months = resample(&days, Timeframe::D1, Timeframe::MN1, SessionFilter::Regular).unwrap();
        assert_eq!((months[1].open(), months[1].close()), (days[2].open(), days[5].close()));
        // Weeks do not make months (a week can straddle two), and nothing is made from weeks.
        assert!(resample(&days, Timeframe::W1, Timeframe::MN1, SessionFilter::Regular).is_err());
        assert!(resample(&days, Timeframe::MN1, Timeframe::D1, SessionFilter::Regular).is_err());
    }

    #[test]
    fn regular_filter_excludes_16_00_bar() {
        let t = Utc.with_ymd_and_hms(2011, 1, 3, 20, 59, 0).unwrap();
        let bars = minute_bars(t, &[(0, 10.0, 1.0), (1, 11.0, 2.0)]);
        let reg = resample(&bars, Timeframe::M1, Timeframe::M5, SessionFilter::Regular).unwrap();
        assert_eq!(reg.len(), 1);
        assert_eq!(reg[0].volume(), 1.0);
        let ext = resample(&bars, Timeframe::M1, Timeframe::M5, SessionFilter::Extended).unwrap();
        assert_eq!(ext.len(), 2);
    }

    #[test]
    fn incompatible_and_unsorted_inputs_are_errors() {
        assert!(matches!(
            resample(&[], Timeframe::M10, Timeframe::M15, SessionFilter::Regular),
            Err(ResampleError::Incompatible { .. })
        ));
        let t = Utc.with_ymd_and_hms(2011, 1, 3, 15, 0, 0).unwrap();
        let mut bars = minute_bars(t, &[(1, 10.0, 1.0), (0, 11.0, 2.0)]);
        assert!(matches!(
            resample(&bars, Timeframe::M1, Timeframe::M5, SessionFilter::Regular),
            Err(ResampleError::Unsorted { index: 1, .. })
        ));
        bars[1] = bars[0];
        assert!(resample(&bars, Timeframe::M1, Timeframe::M5, SessionFilter::Regular).is_err(), "duplicate");
    }

    fn arb_minutes() -> impl Strategy<Value = Vec<Bar>> {
        // Two trading days around the March DST switch, random subsets of minutes, integer volumes.
        let day1 = Utc.with_ymd_and_hms(2011, 3, 11, 9, 0, 0).unwrap();
        let day2 = Utc.with_ymd_and_hms(2011, 3, 14, 8, 0, 0).unwrap();
        proptest::collection::vec((any::<bool>(), 1.0f64..2.0, 0.0f64..1.0, 0.0f64..1.0, 0u32..10_000), 960 * 2)
            .prop_map(move |v| {
                v.into_iter()
                    .enumerate()
                    .filter(|(_, x)| x.0)
                    .map(|(i, (_, mid, a, b, vol))| {
                        let t = if i < 960 {
                            day1 + Duration::minutes(i as i64)
                        } else {
                            day2 + Duration::minutes(i as i64 - 960)
                        };
                        let (o, c) = (mid + a * 0.1, mid + b * 0.1);
                        Bar::new(t, o, o.max(c) + 0.01, o.min(c) - 0.01, c, f64::from(vol)).unwrap()
                    })
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn resampling_conserves_volume_and_extremes(bars in arb_minutes(), tf_i in 1usize..8, ext in any::<bool>()) {
            let tf = Timeframe::ALL[tf_i];
            let filter = if ext { SessionFilter::Extended } else { SessionFilter::Regular };
            let kept = filter_session(&bars, filter);
            let out = resample(&bars, Timeframe::M1, tf, filter).unwrap();
            let total: f64 = kept.iter().map(Bar::volume).sum();
            let resampled: f64 = out.iter().map(Bar::volume).sum();
            prop_assert_eq!(total, resampled);
            for b in &out {
                let end = tf.bar_end(b.start(), filter);
                let members: Vec<&Bar> = kept.iter().filter(|m| m.start() >= b.start() && m.start() < end).collect();
                prop_assert!(!members.is_empty());
                prop_assert_eq!(b.open(), members[0].open());
                prop_assert_eq!(b.close(), members[members.len() - 1].close());
                prop_assert_eq!(b.high(), members.iter().map(|m| m.high()).fold(f64::MIN, f64::max));
                prop_assert_eq!(b.low(), members.iter().map(|m| m.low()).fold(f64::MAX, f64::min));
            }
        }

        #[test]
        fn resampling_composes(bars in arb_minutes(), ext in any::<bool>()) {
            let filter = if ext { SessionFilter::Extended } else { SessionFilter::Regular };
            for (mid, to) in [(Timeframe::M5, Timeframe::M15), (Timeframe::M5, Timeframe::M10), (Timeframe::M15, Timeframe::H1),
                              (Timeframe::H1, Timeframe::H4), (Timeframe::M30, Timeframe::D1)] {
                let direct = resample(&bars, Timeframe::M1, to, filter).unwrap();
                let via = resample(&resample(&bars, Timeframe::M1, mid, filter).unwrap(), mid, to, filter).unwrap();
                prop_assert_eq!(direct.len(), via.len(), "{:?}->{:?}", mid, to);
                for (a, b) in direct.iter().zip(&via) {
                    prop_assert_eq!((a.start(), a.open(), a.high(), a.low(), a.close(), a.volume()),
                                    (b.start(), b.open(), b.high(), b.low(), b.close(), b.volume()), "{:?}->{:?}", mid, to);
                    let (va, vb) = (a.vwap().unwrap(), b.vwap().unwrap());
                    prop_assert!((va - vb).abs() <= 1e-9 * va.abs(), "vwap {} vs {}", va, vb);
                }
            }
        }
    }
}
