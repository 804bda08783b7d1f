//! Range-based realised volatility estimators, per bar (not annualised), in log-return units.
//!
//! Both are rolling means (an [`Sma`] over per-bar terms) under a square root; running sums of non-negative
//! terms can drift a hair below zero after cancellation, so the mean is clamped at 0 first.

use super::{ParamError, Sma, check_period};

/// Parkinson volatility over `period` bars: `sqrt(mean(ln(h/l)²) / (4·ln 2))`. First output at `period − 1`.
#[derive(Debug, Clone)]
pub struct Parkinson {
    mean: Sma,
}

impl Parkinson {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("Parkinson", "period", period, 1)?;
        Ok(Self { mean: Sma::new(period)? })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.mean.lookback()
    }
    /// Adds a bar's high and low (both > 0).
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64) -> Option<f64> {
        let r = (high / low).ln();
        self.mean.update(r * r).map(|m| (m.max(0.0) / (4.0 * std::f64::consts::LN_2)).sqrt())
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.mean.is_ready()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.mean.reset();
    }
}

/// Garman–Klass volatility over `period` bars:
/// `sqrt(max(0, mean(½·ln(h/l)² − (2·ln 2 − 1)·ln(c/o)²)))`. First output at `period − 1`.
#[derive(Debug, Clone)]
pub struct GarmanKlass {
    mean: Sma,
}

impl GarmanKlass {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("Garman-Klass", "period", period, 1)?;
        Ok(Self { mean: Sma::new(period)? })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.mean.lookback()
    }
    /// Adds a bar's open, high, low and close (all > 0).
    #[inline(always)]
    pub fn update(&mut self, open: f64, high: f64, low: f64, close: f64) -> Option<f64> {
        self.update_logs((high / low).ln(), (close / open).ln())
    }
    /// Adds a bar given `ln(high/low)` and `ln(close/open)` (when the caller has them already).
    #[inline(always)]
    pub fn update_logs(&mut self, hl: f64, co: f64) -> Option<f64> {
        let term = 0.5 * hl * hl - (2.0 * std::f64::consts::LN_2 - 1.0) * co * co;
        self.mean.update(term).map(|m| m.max(0.0).sqrt())
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.mean.is_ready()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.mean.reset();
    }
}
