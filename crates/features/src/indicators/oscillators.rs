//! Oscillators: RSI (Wilder) and the slow stochastic.

use super::{ParamError, Ring, Sma, check_period, ta_is_zero};

/// Relative Strength Index with Wilder smoothing. First output at index `period`.
///
/// At index `period` the average gain and loss are the simple means of the first `period` changes; then
/// `avg = (avg·(period−1) + x) / period`. RSI = `100·gain/(gain+loss)`, 0 when both are zero.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
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
        Ok(Self {
            period,
            prev: None,
            count: 0,
            gain: 0.0,
            loss: 0.0,
        })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period
    }
    /// Adds a close.
    #[inline]
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
            self.loss *= n - 1.0;
            self.gain *= n - 1.0;
            if d < 0.0 {
                self.loss -= d;
            } else {
                self.gain += d;
            }
            self.loss /= n;
            self.gain /= n;
        }
        let total = self.gain + self.loss;
        Some(if ta_is_zero(total) {
            0.0
        } else {
            100.0 * (self.gain / total)
        })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self = Self {
            period: self.period,
            prev: None,
            count: 0,
            gain: 0.0,
            loss: 0.0,
        };
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

/// Slow stochastic (`fast_k`, `slow_k`, `slow_d`), SMA smoothing: fast %K = `100·((c − LL)/(HH − LL))` (TA-Lib 0.8's form) over the
/// last `fast_k` bars (0 when HH = LL). First output at `fast_k + slow_k + slow_d − 3`.
#[derive(Debug, Clone)]
pub struct Stochastic {
    fast_k: usize,
    highs: Ring,
    lows: Ring,
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
            highs: Ring::new(fast_k),
            lows: Ring::new(fast_k),
            slow_k: Sma::new(slow_k)?,
            slow_d: Sma::new(slow_d)?,
        })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.fast_k - 1 + self.slow_k.lookback() + self.slow_d.lookback()
    }
    /// Adds a bar's high, low and close.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<StochasticOutput> {
        self.highs.push(high);
        self.lows.push(low);
        if self.highs.len() < self.fast_k {
            return None;
        }
        let hh = self.highs.iter().fold(f64::MIN, f64::max);
        let ll = self.lows.iter().fold(f64::MAX, f64::min);
        let range = hh - ll;
        let fast = if ta_is_zero(range) {
            0.0
        } else {
            100.0 * ((close - ll) / range)
        };
        let k = self.slow_k.update(fast)?;
        let d = self.slow_d.update(k)?;
        Some(StochasticOutput { k, d })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.slow_d.is_ready()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.highs.clear();
        self.lows.clear();
        self.slow_k.reset();
        self.slow_d.reset();
    }
}
