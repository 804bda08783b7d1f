//! Technical indicators with TA-Lib semantics.
//!
//! Every indicator has one scalar core with `update(..) -> Option<output>` (`None` while warming up),
//! `is_ready()`, `reset()` and `lookback()` (the 0-based index of the first valid output, TA-Lib's lookback).
//! The batch functions in [`batch`] are folds of those cores over slices, so batch and streaming agree bit for
//! bit; warm-up positions are `NaN` in batch output.
//!
//! The arithmetic follows TA-Lib 0.8 step by step (seeds, Wilder smoothing, running sums and the order in which
//! they are updated), see `shared/docs/domain.md` §3; golden tests compare against TA-Lib's own output on real
//! data at relative tolerance 1e-9.

pub mod batch;
mod bollinger;
mod dmi;
mod moving;
mod oscillators;
mod volatility;
mod volume;

pub use bollinger::{Bollinger, BollingerOutput};
pub use dmi::{Adx, Atr, DirectionalIndex, DmiOutput, true_range};
pub use moving::{Ema, Macd, MacdOutput, Sma};
pub use oscillators::{Rsi, Stochastic, StochasticOutput};
pub use volatility::{GarmanKlass, Parkinson};
pub use volume::{Mfi, Obv, SessionVwap};

/// One bar's prices and volume, the input of multi-input indicators.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Candle {
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume (shares).
    pub volume: f64,
}

impl From<&mtf_market::Bar> for Candle {
    fn from(b: &mtf_market::Bar) -> Self {
        Candle { open: b.open(), high: b.high(), low: b.low(), close: b.close(), volume: b.volume() }
    }
}

/// An invalid indicator parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{indicator}: {message}")]
pub struct ParamError {
    /// Indicator name.
    pub indicator: &'static str,
    /// What is wrong with the parameters.
    pub message: String,
}

pub(crate) fn check_period(indicator: &'static str, name: &str, value: usize, min: usize) -> Result<(), ParamError> {
    if value < min {
        return Err(ParamError { indicator, message: format!("{name} must be >= {min} (got {value})") });
    }
    Ok(())
}

/// TA-Lib's `TA_IS_ZERO` for the 0.8 build: values this close to zero are treated as zero in divisions.
pub(crate) fn ta_is_zero(v: f64) -> bool {
    v.abs() < 1e-14
}

/// Wilder's smoothing step `(prev·(n−1) + x)/n`, computed as `prev·k1 + x·k2` with `k1 = (n−1)/n`,
/// `k2 = 1/n` precomputed: a multiply-add on the dependency chain instead of a division (≈3× faster). It differs
/// from TA-Lib's literal form by rounding only (relative 1e-16 per step; the errors decay, they do not grow).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wilder {
    k1: f64,
    k2: f64,
}

impl Wilder {
    pub(crate) fn new(period: usize) -> Self {
        let n = period as f64;
        Self { k1: (n - 1.0) / n, k2: 1.0 / n }
    }
    /// `(prev·(n−1) + x)/n`.
    #[inline(always)]
    pub(crate) fn step(self, prev: f64, x: f64) -> f64 {
        prev * self.k1 + x * self.k2
    }
    /// `s − s/n + x`: the running-sum form used for DM and TR sums.
    #[inline(always)]
    pub(crate) fn sum_step(self, s: f64, x: f64) -> f64 {
        s * self.k1 + x
    }
}

/// Fixed-capacity ring of the last `n` values.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(n: usize) -> Self {
        Self { buf: vec![0.0; n.max(1)], head: 0, len: 0 }
    }
    /// Pushes `x`; returns the value that fell out when the ring was full.
    #[inline(always)]
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        if self.len == cap {
            let old = std::mem::replace(&mut self.buf[self.head], x);
            self.head = if self.head + 1 == cap { 0 } else { self.head + 1 };
            Some(old)
        } else {
            let i = (self.head + self.len) % cap;
            self.buf[i] = x;
            self.len += 1;
            None
        }
    }
    /// Value that the next push will evict (the oldest), when full.
    #[inline(always)]
    pub(crate) fn oldest(&self) -> Option<f64> {
        (self.len == self.buf.len()).then(|| self.buf[self.head])
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<Candle> {
        // Deterministic pseudo-random walk with realistic OHLC relations.
        let mut s: u64 = 42;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut close = 100.0;
        (0..n)
            .map(|_| {
                let open = close;
                close = open * (1.0 + (next() - 0.5) * 0.02);
                let high = open.max(close) * (1.0 + next() * 0.005);
                let low = open.min(close) * (1.0 - next() * 0.005);
                Candle { open, high, low, close, volume: 1000.0 + next() * 1000.0 }
            })
            .collect()
    }

    /// Runs every indicator over candles and returns one row of outputs per bar (NaN while warming up).
    fn run_all(p: usize, candles: &[Candle]) -> Vec<Vec<f64>> {
        let mut sma = Sma::new(p).unwrap();
        let mut ema = Ema::new(p).unwrap();
        let mut rsi = Rsi::new(p).unwrap();
        let mut macd = Macd::new(p, p + 3, 2).unwrap();
        let mut bb = Bollinger::new(p, 2.0).unwrap();
        let mut atr = Atr::new(p).unwrap();
        let mut adx = Adx::new(p.max(2)).unwrap();
        let mut st = Stochastic::new(p, 2, 2).unwrap();
        let mut mfi = Mfi::new(p).unwrap();
        let mut pk = Parkinson::new(p).unwrap();
        let mut gk = GarmanKlass::new(p).unwrap();
        let nan = f64::NAN;
        candles
            .iter()
            .map(|c| {
                vec![
                    sma.update(c.close).unwrap_or(nan),
                    ema.update(c.close).unwrap_or(nan),
                    rsi.update(c.close).unwrap_or(nan),
                    macd.update(c.close).map_or(nan, |m| m.hist),
                    bb.update(c.close).map_or(nan, |b| b.upper),
                    atr.update(c.high, c.low, c.close).unwrap_or(nan),
                    adx.update(c.high, c.low, c.close).unwrap_or(nan),
                    st.update(c.high, c.low, c.close).map_or(nan, |s| s.k),
                    mfi.update(c.high, c.low, c.close, c.volume).unwrap_or(nan),
                    pk.update(c.high, c.low).unwrap_or(nan),
                    gk.update(c.open, c.high, c.low, c.close).unwrap_or(nan),
                ]
            })
            .collect()
    }

    #[test]
    fn batch_equals_streaming_bit_for_bit() {
        let c = series(500);
        let col = |f: fn(&Candle) -> f64| c.iter().map(f).collect::<Vec<f64>>();
        let (o, h, l, cl, v) = (col(|c| c.open), col(|c| c.high), col(|c| c.low), col(|c| c.close), col(|c| c.volume));
        let rows = run_all(5, &c);
        let p = 5;
        let batches: Vec<Vec<f64>> = vec![
            batch::sma(&cl, p).unwrap(),
            batch::ema(&cl, p).unwrap(),
            batch::rsi(&cl, p).unwrap(),
            batch::macd(&cl, p, p + 3, 2).unwrap().hist,
            batch::bollinger(&cl, p, 2.0).unwrap().upper,
            batch::atr(&h, &l, &cl, p).unwrap(),
            batch::adx(&h, &l, &cl, p).unwrap(),
            batch::stochastic(&h, &l, &cl, p, 2, 2).unwrap().k,
            batch::mfi(&h, &l, &cl, &v, p).unwrap(),
            batch::parkinson(&h, &l, p).unwrap(),
            batch::garman_klass(&o, &h, &l, &cl, p).unwrap(),
        ];
        for (k, b) in batches.iter().enumerate() {
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(b[i].to_bits(), row[k].to_bits(), "indicator column {k}, bar {i}");
            }
        }
    }

    #[test]
    fn zero_period_is_a_parameter_error() {
        assert!(Sma::new(0).is_err());
        assert!(Ema::new(0).is_err());
        assert!(Rsi::new(0).is_err());
        assert!(Atr::new(0).is_err());
        assert!(Adx::new(1).is_err());
        assert!(DirectionalIndex::new(1).is_err());
        assert!(Mfi::new(0).is_err());
        assert!(Stochastic::new(0, 3, 3).is_err());
        assert!(Bollinger::new(0, 2.0).is_err());
        assert!(Bollinger::new(20, f64::NAN).is_err());
        let e = Macd::new(26, 12, 9).unwrap_err();
        assert!(e.to_string().contains("fast period 26 must be < slow period 12"), "{e}");
    }

    #[test]
    fn period_one_is_identity_like() {
        let xs = [1.0, 2.0, 4.0];
        assert_eq!(batch::sma(&xs, 1).unwrap(), xs);
        assert_eq!(batch::ema(&xs, 1).unwrap(), xs);
        let h = [2.0, 3.0, 5.0];
        let l = [1.0, 1.5, 3.5];
        // ATR(1) is the true range from bar 1.
        let a = batch::atr(&h, &l, &xs, 1).unwrap();
        assert!(a[0].is_nan());
        assert_eq!(a[1..], [true_range(3.0, 1.5, 1.0), true_range(5.0, 3.5, 2.0)]);
    }

    #[test]
    fn lookback_is_first_valid_index() {
        let c = series(200);
        let closes: Vec<f64> = c.iter().map(|c| c.close).collect();
        let first = |v: &[f64]| v.iter().position(|x| !x.is_nan()).unwrap();
        assert_eq!(first(&batch::sma(&closes, 50).unwrap()), Sma::new(50).unwrap().lookback());
        assert_eq!(first(&batch::rsi(&closes, 14).unwrap()), 14);
        assert_eq!(first(&batch::macd(&closes, 12, 26, 9).unwrap().hist), Macd::new(12, 26, 9).unwrap().lookback());
        let (h, l): (Vec<f64>, Vec<f64>) = c.iter().map(|c| (c.high, c.low)).unzip();
        assert_eq!(first(&batch::adx(&h, &l, &closes, 14).unwrap()), Adx::new(14).unwrap().lookback());
        assert_eq!(first(&batch::stochastic(&h, &l, &closes, 14, 3, 3).unwrap().k), 17);
    }

    #[test]
    fn reset_then_replay_equals_fresh_instance() {
        let c = series(120);
        let fresh = run_all(5, &c);
        // Same instances: run on other data, reset, replay.
        let mut sma = Sma::new(5).unwrap();
        let mut adx = Adx::new(5).unwrap();
        let mut mfi = Mfi::new(5).unwrap();
        let mut macd = Macd::new(5, 8, 2).unwrap();
        for x in series(37).iter().rev() {
            sma.update(x.close);
            adx.update(x.high, x.low, x.close);
            mfi.update(x.high, x.low, x.close, x.volume);
            macd.update(x.close);
        }
        sma.reset();
        adx.reset();
        mfi.reset();
        macd.reset();
        for (i, x) in c.iter().enumerate() {
            let a = sma.update(x.close).unwrap_or(f64::NAN);
            let d = adx.update(x.high, x.low, x.close).unwrap_or(f64::NAN);
            let m = mfi.update(x.high, x.low, x.close, x.volume).unwrap_or(f64::NAN);
            let h = macd.update(x.close).map_or(f64::NAN, |o| o.hist);
            assert!(a.to_bits() == fresh[i][0].to_bits());
            assert!(h.to_bits() == fresh[i][3].to_bits());
            assert!(d.to_bits() == fresh[i][6].to_bits());
            assert!(m.to_bits() == fresh[i][8].to_bits());
        }
    }

    #[test]
    fn every_period_changes_the_output() {
        let c = series(200);
        let (a, b) = (run_all(5, &c), run_all(7, &c));
        for k in 0..a[0].len() {
            assert!((20..200).any(|i| a[i][k] != b[i][k]), "indicator column {k} ignores its period");
        }
        let closes: Vec<f64> = c.iter().map(|c| c.close).collect();
        let b1 = batch::bollinger(&closes, 20, 2.0).unwrap();
        let b2 = batch::bollinger(&closes, 20, 1.0).unwrap();
        assert_ne!(b1.upper[50], b2.upper[50]);
        let s1 = batch::stochastic(
            &c.iter().map(|c| c.high).collect::<Vec<_>>(),
            &c.iter().map(|c| c.low).collect::<Vec<_>>(),
            &closes,
            14,
            3,
            3,
        )
        .unwrap();
        let s2 = batch::stochastic(
            &c.iter().map(|c| c.high).collect::<Vec<_>>(),
            &c.iter().map(|c| c.low).collect::<Vec<_>>(),
            &closes,
            14,
            3,
            5,
        )
        .unwrap();
        assert_ne!(s1.d[60], s2.d[60]);
        let m1 = batch::macd(&closes, 12, 26, 9).unwrap();
        let m2 = batch::macd(&closes, 10, 26, 9).unwrap();
        let m3 = batch::macd(&closes, 12, 26, 5).unwrap();
        assert_ne!(m1.macd[60], m2.macd[60]);
        assert_ne!(m1.signal[60], m3.signal[60]);
    }

    #[test]
    fn nan_input_propagates_instead_of_panicking() {
        let mut sma = Sma::new(3).unwrap();
        sma.update(1.0);
        sma.update(f64::NAN);
        assert!(sma.update(2.0).unwrap().is_nan());
        let mut rsi = Rsi::new(2).unwrap();
        for x in [1.0, f64::NAN, 2.0, 3.0] {
            rsi.update(x);
        }
        assert!(rsi.is_ready());
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let e = batch::atr(&[1.0, 2.0], &[1.0], &[1.0, 2.0], 14).unwrap_err();
        assert!(e.to_string().contains("different lengths"), "{e}");
    }

    #[test]
    fn session_vwap_restarts_each_session() {
        let v = batch::session_vwap(&[1, 1, 2], &[10.0, 20.0, 30.0], &[1.0, 3.0, 2.0]).unwrap();
        assert_eq!(v, vec![10.0, 17.5, 30.0]);
        let z = batch::session_vwap(&[1], &[10.0], &[0.0]).unwrap();
        assert_eq!(z, vec![10.0]);
    }

    #[test]
    fn volatility_estimators_are_zero_on_flat_bars_and_positive_otherwise() {
        let flat = vec![Candle { open: 5.0, high: 5.0, low: 5.0, close: 5.0, volume: 1.0 }; 10];
        let out = run_all(3, &flat);
        assert_eq!(out[9][9], 0.0);
        assert_eq!(out[9][10], 0.0);
        let out = run_all(3, &series(10));
        assert!(out[9][9] > 0.0 && out[9][10] > 0.0);
        // Parkinson: a constant range h/l = e gives sqrt(1/(4 ln 2)).
        let mut p = Parkinson::new(2).unwrap();
        p.update(std::f64::consts::E, 1.0);
        let v = p.update(std::f64::consts::E, 1.0).unwrap();
        assert!((v - (1.0 / (4.0 * std::f64::consts::LN_2)).sqrt()).abs() < 1e-15);
    }
}
