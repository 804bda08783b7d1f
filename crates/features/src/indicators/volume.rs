//! Volume indicators: OBV, MFI and the session-anchored VWAP.

use super::{ParamError, check_period, ta_is_zero};

/// On-balance volume: `obv₀ = v₀`, then `± v` on up/down closes, unchanged on equal closes. Valid from index 0.
#[derive(Debug, Clone, Default)]
pub struct Obv {
    prev: Option<f64>,
    value: f64,
}

impl Obv {
    /// A fresh OBV.
    pub fn new() -> Self {
        Self::default()
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        0
    }
    /// Adds a close and its volume.
    #[inline(always)]
    pub fn update(&mut self, close: f64, volume: f64) -> Option<f64> {
        match self.prev.replace(close) {
            None => self.value = volume,
            Some(p) if close > p => self.value += volume,
            Some(p) if close < p => self.value -= volume,
            Some(_) => {}
        }
        Some(self.value)
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.prev.is_some()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Money flow index: typical price `(h + l + c)/3`, money flow `tp·v`, positive or negative by the change of
/// the typical price (a relative change below 1e-14 counts as none, as in TA-Lib 0.8), summed over `period`
/// bars; `100·pos/(pos + neg)`. First output at index `period`.
#[derive(Debug, Clone)]
pub struct Mfi {
    period: usize,
    prev_tp: Option<f64>,
    flows: Vec<(f64, f64)>,
    idx: usize,
    count: usize,
    pos: f64,
    neg: f64,
}

impl Mfi {
    /// # Errors
    /// [`ParamError`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        check_period("MFI", "period", period, 1)?;
        Ok(Self { period, prev_tp: None, flows: vec![(0.0, 0.0); period], idx: 0, count: 0, pos: 0.0, neg: 0.0 })
    }
    /// Index of the first valid output.
    pub fn lookback(&self) -> usize {
        self.period
    }
    /// Adds a bar.
    #[inline(always)]
    pub fn update(&mut self, high: f64, low: f64, close: f64, volume: f64) -> Option<f64> {
        let tp = (high + low + close) / 3.0;
        let prev = self.prev_tp.replace(tp)?;
        if self.count >= self.period {
            let (p, n) = self.flows[self.idx];
            self.pos -= p;
            self.neg -= n;
        }
        let change = tp - prev;
        // TA-Lib 0.8 treats float noise in the typical price as no change: |Δ| ≤ 1e-14·(|tp| + |prev|)
        // (measured against TA-Lib 0.8.1; see the golden tests).
        let change = if change.abs() <= 1e-14 * (tp.abs() + prev.abs()) { 0.0 } else { change };
        let flow = tp * volume;
        // Branch-free: the sign of the change is a coin flip on real data. Adding 0.0 to the other side leaves it
        // unchanged, so this equals TA-Lib's branches.
        let entry = (if change > 0.0 { flow } else { 0.0 }, if change < 0.0 { flow } else { 0.0 });
        self.pos += entry.0;
        self.neg += entry.1;
        self.flows[self.idx] = entry;
        self.idx = if self.idx + 1 == self.period { 0 } else { self.idx + 1 };
        self.count += 1;
        if self.count < self.period {
            return None;
        }
        let total = self.pos + self.neg;
        // Running sums leave residues of ~1e-12 relative once a side's flows have all left the window;
        // TA-Lib 0.8 reports those as exactly 0 (or 100), and so do we.
        let residue = 1e-12 * total.abs();
        Some(if ta_is_zero(total) || self.pos.abs() <= residue {
            0.0
        } else if self.neg.abs() <= residue {
            100.0
        } else {
            100.0 * (self.pos / total)
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
            prev_tp: None,
            flows: vec![(0.0, 0.0); self.period],
            idx: 0,
            count: 0,
            pos: 0.0,
            neg: 0.0,
        };
    }
}

/// VWAP anchored at the start of each session: `Σ pᵢ·vᵢ / Σ vᵢ` over the session's bars so far, where `pᵢ` is the
/// bar's VWAP when known, else its typical price. The session is identified by a key (e.g. the New York
/// trading day as days since the epoch); a new key restarts the sums. When the session's volume so far is 0,
/// the latest price is returned. Valid from the first bar.
#[derive(Debug, Clone, Default)]
pub struct SessionVwap {
    session: Option<i64>,
    pv: f64,
    v: f64,
}

impl SessionVwap {
    /// A fresh VWAP.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a bar of session `session` with price `price` (bar VWAP or typical price) and `volume`.
    #[inline(always)]
    pub fn update(&mut self, session: i64, price: f64, volume: f64) -> Option<f64> {
        if self.session != Some(session) {
            self.session = Some(session);
            self.pv = 0.0;
            self.v = 0.0;
        }
        self.pv += price * volume;
        self.v += volume;
        Some(if self.v > 0.0 { self.pv / self.v } else { price })
    }
    /// Whether outputs are valid.
    pub fn is_ready(&self) -> bool {
        self.session.is_some()
    }
    /// Forgets all input.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}
