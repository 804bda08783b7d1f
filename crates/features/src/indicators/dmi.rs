//! True range, ATR and Wilder's directional movement system (+DI, −DI, ADX).

use super::{ParamError, Wilder, check_period, ta_is_zero};

/// True range of a bar given the previous close: `max(h − l, |h − c₋₁|, |l − c₋₁|)` (TA-Lib's order).
#[inline(always)]
pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    // Branchless max: the comparisons are data-dependent and mispredict on real data.
    (high - low).max((high - prev_close).abs()).max((low - prev_close).abs())
}

/// Average true range with Wilder smoothing. TR starts at index 1; ATR at index `period` is the mean of
/// TR₁..TR_period, then `atr = (atr·(period−1) + tr)/period`. First output at index `period`.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    wilder: Wilder,
    prev_close: Option<f64>,
    count: usize,
    value: f64,
}

impl Atr {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("ATR", "period", period, 1)?;
        Ok(Self { period, wilder: Wilder::new(period), prev_close: None, count: 0, value: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period
    }
    /// Adds a bar.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let prev = self.prev_close.replace(close)?;
        let tr = true_range(high, low, prev);
        let n = self.period as f64;
        if self.count < self.period {
            self.value += tr;
            self.count += 1;
            if self.count < self.period {
                return None;
            }
            self.value /= n;
        } else {
            self.value = self.wilder.step(self.value, tr);
        }
        Some(self.value)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self = Self { period: self.period, wilder: self.wilder, prev_close: None, count: 0, value: 0.0 };
    }
}

/// Wilder-smoothed +DM, −DM and TR, seeded with plain sums over bars 1..period−1 as TA-Lib does.
#[derive(Debug, Clone)]
struct WilderDm {
    period: usize,
    wilder: Wilder,
    prev: Option<(f64, f64, f64)>,
    /// Bars seen after the first.
    count: usize,
    plus: f64,
    minus: f64,
    tr: f64,
}

impl WilderDm {
    fn new(period: usize) -> Self {
        Self { period, wilder: Wilder::new(period), prev: None, count: 0, plus: 0.0, minus: 0.0, tr: 0.0 }
    }

    /// Returns `(+DI, −DI, TR sum is zero)` once `count ≥ period`.
    #[inline(always)]
    fn update(&mut self, high: f64, low: f64, close: f64) -> Option<(f64, f64, bool)> {
        let (ph, pl, pc) = self.prev.replace((high, low, close))?;
        let diff_p = high - ph;
        let diff_m = pl - low;
        let (mut dp, mut dm) = (0.0, 0.0);
        if diff_m > 0.0 && diff_p < diff_m {
            dm = diff_m;
        } else if diff_p > 0.0 && diff_p > diff_m {
            dp = diff_p;
        }
        let tr = true_range(high, low, pc);
        self.count += 1;
        if self.count < self.period {
            self.plus += dp;
            self.minus += dm;
            self.tr += tr;
            return None;
        }
        self.minus = self.wilder.sum_step(self.minus, dm);
        self.plus = self.wilder.sum_step(self.plus, dp);
        self.tr = self.wilder.sum_step(self.tr, tr);
        if ta_is_zero(self.tr) {
            return Some((0.0, 0.0, true));
        }
        Some((100.0 * (self.plus / self.tr), 100.0 * (self.minus / self.tr), false))
    }
}

/// +DI and −DI values, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DmiOutput {
    /// +DI.
    pub plus_di: f64,
    /// −DI.
    pub minus_di: f64,
}

/// Wilder's +DI/−DI. First output at index `period` (0 when the smoothed true range is zero).
#[derive(Debug, Clone)]
pub struct DirectionalIndex {
    core: WilderDm,
}

impl DirectionalIndex {
    /// # Errors
    /// [`ParamError`] when `period < 2`.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("DI", "period", period, 2)?;
        Ok(Self { core: WilderDm::new(period) })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.core.period
    }
    /// Adds a bar.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<DmiOutput> {
        let (plus_di, minus_di, _) = self.core.update(high, low, close)?;
        Some(DmiOutput { plus_di, minus_di })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.core.count >= self.core.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        self.core = WilderDm::new(self.core.period);
    }
}

/// Average directional index: DX = `100·|+DI − −DI|/(+DI + −DI)`; ADX at index `2·period − 1` is the mean of the
/// `period` DX values from index `period`, then Wilder-smoothed. Bars whose DX is undefined (zero range) are
/// skipped exactly as TA-Lib skips them.
#[derive(Debug, Clone)]
pub struct Adx {
    core: WilderDm,
    wilder: Wilder,
    dx_count: usize,
    sum_dx: f64,
    value: f64,
}

impl Adx {
    /// # Errors
    /// [`ParamError`] when `period < 2`.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("ADX", "period", period, 2)?;
        Ok(Self { core: WilderDm::new(period), wilder: Wilder::new(period), dx_count: 0, sum_dx: 0.0, value: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        2 * self.core.period - 1
    }
    /// Adds a bar.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let (plus, minus, tr_zero) = self.core.update(high, low, close)?;
        let n = self.core.period as f64;
        let dx = if tr_zero {
            None
        } else {
            let sum = minus + plus;
            (!ta_is_zero(sum)).then(|| 100.0 * ((minus - plus).abs() / sum))
        };
        if self.dx_count < self.core.period {
            if let Some(dx) = dx {
                self.sum_dx += dx;
            }
            self.dx_count += 1;
            if self.dx_count < self.core.period {
                return None;
            }
            self.value = self.sum_dx / n;
        } else if let Some(dx) = dx {
            self.value = self.wilder.step(self.value, dx);
        }
        Some(self.value)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.dx_count >= self.core.period
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self =
            Self { core: WilderDm::new(self.core.period), wilder: self.wilder, dx_count: 0, sum_dx: 0.0, value: 0.0 };
    }
}
