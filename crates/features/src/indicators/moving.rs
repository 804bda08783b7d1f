//! Moving averages: SMA, EMA, MACD.

use super::{ParamError, Ring, check_period};

/// Simple moving average over `period` values. First output at index `period - 1`.
///
/// Running sum as TA-Lib keeps it: the oldest value is subtracted before the newest is added.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    ring: Ring,
    sum: f64,
}

impl Sma {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("SMA", "period", period, 1)?;
        Ok(Self { period, ring: Ring::new(period), sum: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }
    /// Adds a value; the mean of the last `period` values once that many were seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if let Some(old) = self.ring.oldest() {
            self.sum -= old;
        }
        self.sum += x;
        self.ring.push(x);
        self.is_ready().then(|| self.sum / self.period as f64)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.ring.len() == self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.ring.clear();
        self.sum = 0.0;
    }
}

/// Exponential moving average, `k = 2 / (period + 1)`, seeded at index `period - 1` with the SMA of the first
/// `period` values (TA-Lib's default). First output at index `period - 1`.
///
/// The step is TA-Lib's `(x − ema)·k + ema` exactly: MACD subtracts two EMAs of similar size, so any other
/// rounding shows up at 1e-9 relative in the MACD line near zero.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

impl Ema {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("EMA", "period", period, 1)?;
        let k = 2.0 / (period as f64 + 1.0);
        Ok(Self { period, k, count: 0, seed_sum: 0.0, value: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }
    /// Seeds the EMA directly with a value (used by MACD, whose seeds TA-Lib computes over shifted windows).
    pub(crate) fn seeded(period: usize, seed: f64) -> Self {
        let k = 2.0 / (period as f64 + 1.0);
        Self { period, k, count: period, seed_sum: 0.0, value: seed }
    }
    /// Adds a value.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if self.count < self.period {
            self.seed_sum += x;
            self.count += 1;
            if self.count < self.period {
                return None;
            }
            self.value = self.seed_sum / self.period as f64;
        } else {
            self.value = (x - self.value) * self.k + self.value;
        }
        Some(self.value)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.count = 0;
        self.seed_sum = 0.0;
        self.value = 0.0;
    }
}

/// MACD outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA − slow EMA.
    pub macd: f64,
    /// EMA of the MACD line.
    pub signal: f64,
    /// `macd − signal`.
    pub hist: f64,
}

/// MACD(fast, slow, signal) with TA-Lib's seeding: both EMAs start at index `slow − 1`, the slow one seeded with
/// the SMA of the first `slow` closes and the fast one with the SMA of the `fast` closes ending there; the signal
/// EMA is seeded with the SMA of the first `signal` MACD values. All outputs start at `slow + signal − 2`.
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    signal_period: usize,
    warm: Vec<f64>,
    fast: Option<Ema>,
    slow: Option<Ema>,
    signal: Ema,
}

impl Macd {
    /// # Errors
    /// [`ParamError`] when a period is 0 or `fast >= slow`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, ParamError> {
        check_period("MACD", "fast period", fast, 1)?;
        check_period("MACD", "signal period", signal, 1)?;
        if fast >= slow {
            return Err(ParamError {
                indicator: "MACD",
                message: format!("fast period {fast} must be < slow period {slow}"),
            });
        }
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            signal_period: signal,
            warm: Vec::with_capacity(slow),
            fast: None,
            slow: None,
            signal: Ema::new(signal)?,
        })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.slow_period + self.signal_period - 2
    }
    /// Adds a close.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<MacdOutput> {
        let line = match (&mut self.fast, &mut self.slow) {
            (Some(f), Some(s)) => f.value_after(x) - s.value_after(x),
            _ => {
                self.warm.push(x);
                if self.warm.len() < self.slow_period {
                    return None;
                }
                let sum = |xs: &[f64]| xs.iter().fold(0.0, |a, &b| a + b);
                let slow_seed = sum(&self.warm) / self.slow_period as f64;
                let fast_seed = sum(&self.warm[self.slow_period - self.fast_period..]) / self.fast_period as f64;
                self.fast = Some(Ema::seeded(self.fast_period, fast_seed));
                self.slow = Some(Ema::seeded(self.slow_period, slow_seed));
                fast_seed - slow_seed
            }
        };
        let signal = self.signal.update(line)?;
        Some(MacdOutput { macd: line, signal, hist: line - signal })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.signal.is_ready()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.warm.clear();
        self.fast = None;
        self.slow = None;
        self.signal.reset();
    }
}

impl Ema {
    #[inline(always)]
    fn value_after(&mut self, x: f64) -> f64 {
        self.value = (x - self.value) * self.k + self.value;
        self.value
    }
}
