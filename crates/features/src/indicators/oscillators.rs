//! Oscillators: RSI (Wilder) and the slow stochastic.

use super::{ParamError, Sma, Wilder, check_period, ta_is_zero};

/// Relative Strength Index with Wilder smoothing. First output at index `period`.
///
/// At index `period` the average gain and loss are the simple means of the first `period` changes; then
/// `avg = (avg·(period−1) + x) / period`. RSI = `100·gain/(gain+loss)`, 0 when both are zero.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    wilder: Wilder,
    prev: Option<f64>,
    count: usize,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("RSI", "period", period, 1)?;
        Ok(Self { period, wilder: Wilder::new(period), prev: None, count: 0, gain: 0.0, loss: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period
    }
    /// Adds a close.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let d = x - prev;
        let n = self.period as f64;
        if self.count < self.period {
            if d < 0.0 {
                self.loss -= d;
            } else {
                self.gain += d;
            }
            self.count += 1;
            if self.count < self.period {
                return None;
            }
            self.loss /= n;
            self.gain /= n;
        } else {
            let (up, down) = if d < 0.0 { (0.0, -d) } else { (d, 0.0) };
            self.gain = self.wilder.step(self.gain, up);
            self.loss = self.wilder.step(self.loss, down);
        }
        let total = self.gain + self.loss;
        Some(if ta_is_zero(total) { 0.0 } else { 100.0 * (self.gain / total) })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self = Self { period: self.period, wilder: self.wilder, prev: None, count: 0, gain: 0.0, loss: 0.0 };
    }
}

/// Slow stochastic outputs, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticOutput {
    /// Slow %K: SMA of fast %K.
    pub k: f64,
    /// Slow %D: SMA of slow %K.
    pub d: f64,
}

/// Slow stochastic (`fast_k`, `slow_k`, `slow_d`), SMA smoothing: fast %K = `100·((c − LL)/(HH − LL))` (TA-Lib 0.8's
/// form) over the last `fast_k` bars (0 when HH = LL). First output at `fast_k + slow_k + slow_d − 3`.
///
/// The highest high and lowest low are tracked with their positions and rescanned only when they leave the
/// window (as TA-Lib does), so an update is O(1) amortised.
#[derive(Debug, Clone)]
pub struct Stochastic {
    fast_k: usize,
    highs: Vec<f64>,
    lows: Vec<f64>,
    /// Bars seen; bar `i` is stored at `i % fast_k`.
    seen: usize,
    /// `seen % fast_k`, kept incrementally (an integer division per bar is measurable).
    slot: usize,
    hh: f64,
    hh_at: usize,
    ll: f64,
    ll_at: usize,
    slow_k: Sma,
    slow_d: Sma,
}

impl Stochastic {
    /// # Errors
    /// [`ParamError`] when a period is 0.
    pub fn new(fast_k: usize, slow_k: usize, slow_d: usize) -> Result<Self, ParamError> {
        check_period("STOCH", "fast %K period", fast_k, 1)?;
        Ok(Self {
            fast_k,
            highs: vec![0.0; fast_k],
            lows: vec![0.0; fast_k],
            seen: 0,
            slot: 0,
            hh: f64::MIN,
            hh_at: 0,
            ll: f64::MAX,
            ll_at: 0,
            slow_k: Sma::new(slow_k)?,
            slow_d: Sma::new(slow_d)?,
        })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.fast_k - 1 + self.slow_k.lookback() + self.slow_d.lookback()
    }
    /// Adds a bar's high, low and close.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<StochasticOutput> {
        let i = self.seen;
        self.highs[self.slot] = high;
        self.lows[self.slot] = low;
        self.seen += 1;
        self.slot = if self.slot + 1 == self.fast_k { 0 } else { self.slot + 1 };
        // Oldest bar still in the window after this one.
        let first = (i + 1).saturating_sub(self.fast_k);
        if high >= self.hh {
            self.hh = high;
            self.hh_at = i;
        } else if self.hh_at < first {
            (self.hh, self.hh_at) = self.rescan(first, i, true);
        }
        if low <= self.ll {
            self.ll = low;
            self.ll_at = i;
        } else if self.ll_at < first {
            (self.ll, self.ll_at) = self.rescan(first, i, false);
        }
        if self.seen < self.fast_k {
            return None;
        }
        let range = self.hh - self.ll;
        let fast = if ta_is_zero(range) { 0.0 } else { 100.0 * ((close - self.ll) / range) };
        let k = self.slow_k.update(fast)?;
        let d = self.slow_d.update(k)?;
        Some(StochasticOutput { k, d })
    }

    /// Extreme of bars `first..=last` (latest position on ties, as TA-Lib keeps).
    #[cold]
    fn rescan(&self, first: usize, last: usize, highest: bool) -> (f64, usize) {
        let buf = if highest { &self.highs } else { &self.lows };
        let mut slot = first % self.fast_k;
        let mut best = buf[slot];
        let mut at = first;
        for j in first + 1..=last {
            slot = if slot + 1 == self.fast_k { 0 } else { slot + 1 };
            let v = buf[slot];
            if (highest && v >= best) || (!highest && v <= best) {
                best = v;
                at = j;
            }
        }
        (best, at)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.slow_d.is_ready()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.slot = 0;
        self.hh = f64::MIN;
        self.ll = f64::MAX;
        self.hh_at = 0;
        self.ll_at = 0;
        self.slow_k.reset();
        self.slow_d.reset();
    }
}
