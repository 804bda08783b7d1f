//! Bollinger bands.

use super::{ParamError, Ring, check_period};

/// Bollinger band values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerOutput {
    /// `middle + k·σ`.
    pub upper: f64,
    /// SMA of the closes.
    pub middle: f64,
    /// `middle − k·σ`.
    pub lower: f64,
}

/// Bollinger bands (period, k): middle SMA, **population** standard deviation computed as TA-Lib does,
/// `σ² = mean(x²) − mean(x)²` from running sums (0 when not positive). First output at `period − 1`.
#[derive(Debug, Clone)]
pub struct Bollinger {
    period: usize,
    k: f64,
    ring: Ring,
    sum: f64,
    sum_sq: f64,
}

impl Bollinger {
    /// # Errors
    /// [`ParamError`] when `period` is 0 or `k` is not finite.
    pub fn new(period: usize, k: f64) -> Result<Self, ParamError> {
        check_period("BBANDS", "period", period, 1)?;
        if !k.is_finite() {
            return Err(ParamError {
                indicator: "BBANDS",
                message: format!("deviation multiplier must be finite (got {k})"),
            });
        }
        Ok(Self { period, k, ring: Ring::new(period), sum: 0.0, sum_sq: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }
    /// Adds a close.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<BollingerOutput> {
        if let Some(old) = self.ring.oldest() {
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.sum += x;
        self.sum_sq += x * x;
        self.ring.push(x);
        if self.ring.len() < self.period {
            return None;
        }
        let n = self.period as f64;
        let middle = self.sum / n;
        let var = self.sum_sq / n - middle * middle;
        let sd = if var > 0.0 { var.sqrt() } else { 0.0 };
        let w = sd * self.k;
        Some(BollingerOutput { upper: middle + w, middle, lower: middle - w })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.ring.len() == self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.ring.clear();
        self.sum = 0.0;
        self.sum_sq = 0.0;
    }
}
