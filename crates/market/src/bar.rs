//! The OHLCV bar.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One OHLCV bar.
///
/// Conventions:
/// - `start` is the instant the bar's interval begins, in UTC (Alpaca's `t`). The bar's end depends on its
///   timeframe and is computed by [`crate::Timeframe::bar_end`].
/// - Prices are in the instrument's currency, strictly positive and finite; `low ≤ open, close ≤ high`.
/// - `volume` is a share count, finite and ≥ 0 (stored as `f64` so that fractional and huge volumes survive).
/// - `trade_count` (Alpaca `n`) and `vwap` (Alpaca `vw`) are optional; when `vwap` is absent, consumers that need
///   one use the typical price `(h + l + c) / 3`, see [`Bar::vwap_or_typical`].
///
/// Serialises as Alpaca's bar object `{t, o, h, l, c, v, n?, vw?}`; deserialisation validates like [`Bar::new`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireBar", into = "WireBar")]
pub struct Bar {
    /// Start, milliseconds since the Unix epoch (UTC): integer time keeps per-bar session logic cheap.
    start_ms: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    trade_count: Option<u64>,
    vwap: Option<f64>,
}

/// Why a bar was rejected. Every variant names the offending field and value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BarError {
    /// A price or volume is NaN or infinite.
    #[error("field `{field}` is not a finite number ({value})")]
    NonFinite {
        /// Field name (`open`, `high`, `low`, `close`, `volume`, `vwap`).
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A price is zero or negative, or the volume is negative.
    #[error("field `{field}` must be {requirement} (got {value})")]
    OutOfDomain {
        /// Field name.
        field: &'static str,
        /// What the field must be, e.g. "> 0".
        requirement: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// `high < low`.
    #[error("`high` {high} is below `low` {low}")]
    HighBelowLow {
        /// The bar's high.
        high: f64,
        /// The bar's low.
        low: f64,
    },
    /// `open` or `close` is outside `[low, high]`.
    #[error("`{field}` {value} is outside [low {low}, high {high}]")]
    OutsideRange {
        /// `open` or `close`.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The bar's low.
        low: f64,
        /// The bar's high.
        high: f64,
    },
}

/// What [`Bar::new_repaired`] changed to make an inconsistent bar valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    /// Human-readable description, e.g. "`open` 210.0 was below `low` 211.0; `low` set to 210.0".
    pub description: String,
}

fn check_price(field: &'static str, value: f64) -> Result<f64, BarError> {
    if !value.is_finite() {
        return Err(BarError::NonFinite { field, value });
    }
    if value <= 0.0 {
        return Err(BarError::OutOfDomain { field, requirement: "> 0", value });
    }
    Ok(value)
}

fn check_volume(value: f64) -> Result<f64, BarError> {
    if !value.is_finite() {
        return Err(BarError::NonFinite { field: "volume", value });
    }
    if value < 0.0 {
        return Err(BarError::OutOfDomain { field: "volume", requirement: ">= 0", value });
    }
    Ok(value)
}

impl Bar {
    /// A validated bar without trade count or VWAP.
    ///
    /// # Errors
    /// [`BarError`] when a value is not finite, a price is ≤ 0, the volume is negative, `high < low`, or
    /// `open`/`close` lie outside `[low, high]`.
    pub fn new(
        start: DateTime<Utc>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self, BarError> {
        Self::new_ms(start.timestamp_millis(), open, high, low, close, volume)
    }

    /// [`Bar::new`] with the start in milliseconds since the Unix epoch (UTC): no calendar conversion, for
    /// readers of columnar files.
    ///
    /// # Errors
    /// As [`Bar::new`].
    pub fn new_ms(start_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Result<Self, BarError> {
        let bar = Self::checked_fields(start_ms, open, high, low, close, volume)?;
        if high < low {
            return Err(BarError::HighBelowLow { high, low });
        }
        for (field, value) in [("open", open), ("close", close)] {
            if value < low || value > high {
                return Err(BarError::OutsideRange { field, value, low, high });
            }
        }
        Ok(bar)
    }

    /// Like [`Bar::new`], but an `open`/`close` outside `[low, high]` or `high < low` is repaired by widening
    /// the range to include all four prices; the returned [`Repair`] says exactly what changed.
    /// Non-finite or non-positive values are still errors: they cannot be repaired honestly.
    ///
    /// # Errors
    /// [`BarError::NonFinite`] and [`BarError::OutOfDomain`].
    pub fn new_repaired(
        start: DateTime<Utc>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<(Self, Option<Repair>), BarError> {
        let mut bar = Self::checked_fields(start.timestamp_millis(), open, high, low, close, volume)?;
        let new_high = high.max(open).max(close).max(low);
        let new_low = low.min(open).min(close).min(high);
        let mut changes = Vec::new();
        if new_high != high {
            changes.push(format!("`high` {high} raised to {new_high}"));
        }
        if new_low != low {
            changes.push(format!("`low` {low} lowered to {new_low}"));
        }
        bar.high = new_high;
        bar.low = new_low;
        let repair = (!changes.is_empty()).then(|| Repair {
            description: format!(
                "open {open}, high {high}, low {low}, close {close} were inconsistent; {}",
                changes.join(", ")
            ),
        });
        Ok((bar, repair))
    }

    fn checked_fields(
        start_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self, BarError> {
        Ok(Self {
            start_ms,
            open: check_price("open", open)?,
            high: check_price("high", high)?,
            low: check_price("low", low)?,
            close: check_price("close", close)?,
            volume: check_volume(volume)?,
            trade_count: None,
            vwap: None,
        })
    }

    /// Sets the trade count (Alpaca `n`).
    #[must_use]
    pub fn with_trade_count(mut self, trade_count: Option<u64>) -> Self {
        self.trade_count = trade_count;
        self
    }

    /// Sets the volume-weighted average price (Alpaca `vw`).
    ///
    /// # Errors
    /// [`BarError`] when the VWAP is not finite or not positive.
    pub fn with_vwap(mut self, vwap: Option<f64>) -> Result<Self, BarError> {
        if let Some(v) = vwap {
            check_price("vwap", v)?;
        }
        self.vwap = vwap;
        Ok(self)
    }

    /// Builds a bar from parts that are valid by construction (aggregates of valid bars).
    pub(crate) fn from_valid_parts(
        start: DateTime<Utc>,
        ohlcv: [f64; 5],
        trade_count: Option<u64>,
        vwap: Option<f64>,
    ) -> Self {
        let [open, high, low, close, volume] = ohlcv;
        Self { start_ms: start.timestamp_millis(), open, high, low, close, volume, trade_count, vwap }
    }

    /// Start of the bar's interval, UTC.
    pub fn start(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.start_ms).unwrap_or_default()
    }
    /// Start of the bar's interval as milliseconds since the Unix epoch (UTC).
    #[inline]
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }
    /// First trade price of the interval.
    pub fn open(&self) -> f64 {
        self.open
    }
    /// Highest trade price.
    pub fn high(&self) -> f64 {
        self.high
    }
    /// Lowest trade price.
    pub fn low(&self) -> f64 {
        self.low
    }
    /// Last trade price.
    pub fn close(&self) -> f64 {
        self.close
    }
    /// Shares traded.
    pub fn volume(&self) -> f64 {
        self.volume
    }
    /// Number of trades, when known.
    pub fn trade_count(&self) -> Option<u64> {
        self.trade_count
    }
    /// Volume-weighted average price, when known.
    pub fn vwap(&self) -> Option<f64> {
        self.vwap
    }
    /// Typical price `(high + low + close) / 3`.
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
    /// The bar's VWAP when present, otherwise its typical price.
    pub fn vwap_or_typical(&self) -> f64 {
        self.vwap.unwrap_or_else(|| self.typical_price())
    }
}

/// Alpaca's bar object, field for field: the serde form of [`Bar`] (validated on the way in), and the
/// TypeScript `Bar` of the npm package (`ts_rs` derives its declaration).
#[derive(Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "Bar")]
pub struct WireBar {
    /// Bar start, RFC 3339 UTC.
    #[ts(type = "string")]
    t: DateTime<Utc>,
    /// Open.
    o: f64,
    /// High.
    h: f64,
    /// Low.
    l: f64,
    /// Close.
    c: f64,
    /// Volume (shares).
    v: f64,
    /// Trade count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    n: Option<u64>,
    /// Volume-weighted average price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    vw: Option<f64>,
}

impl TryFrom<WireBar> for Bar {
    type Error = BarError;
    fn try_from(w: WireBar) -> Result<Self, BarError> {
        Bar::new(w.t, w.o, w.h, w.l, w.c, w.v)?.with_trade_count(w.n).with_vwap(w.vw)
    }
}

impl From<Bar> for WireBar {
    fn from(b: Bar) -> Self {
        WireBar { t: b.start(), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume, n: b.trade_count, vw: b.vwap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 12, 15, 14, 30, 0).unwrap()
    }

    #[test]
    fn rejects_nan_price_naming_field() {
        let e = Bar::new(t(), f64::NAN, 2.0, 1.0, 1.5, 10.0).unwrap_err();
        assert!(matches!(e, BarError::NonFinite { field: "open", .. }), "{e}");
        assert!(e.to_string().contains("open"));
    }

    #[test]
    fn rejects_infinite_volume() {
        let e = Bar::new(t(), 1.5, 2.0, 1.0, 1.5, f64::INFINITY).unwrap_err();
        assert!(matches!(e, BarError::NonFinite { field: "volume", .. }));
    }

    #[test]
    fn rejects_negative_price_and_volume() {
        assert!(matches!(
            Bar::new(t(), 1.5, 2.0, -1.0, 1.5, 1.0).unwrap_err(),
            BarError::OutOfDomain { field: "low", .. }
        ));
        assert!(matches!(
            Bar::new(t(), 1.5, 2.0, 1.0, 1.5, -1.0).unwrap_err(),
            BarError::OutOfDomain { field: "volume", .. }
        ));
    }

    #[test]
    fn rejects_high_below_low() {
        assert!(matches!(Bar::new(t(), 1.5, 1.0, 2.0, 1.5, 1.0).unwrap_err(), BarError::HighBelowLow { .. }));
    }

    #[test]
    fn rejects_open_below_low() {
        let e = Bar::new(t(), 0.5, 2.0, 1.0, 1.5, 1.0).unwrap_err();
        assert!(matches!(e, BarError::OutsideRange { field: "open", .. }), "{e}");
    }

    #[test]
    fn repair_widens_range_and_says_so() {
        let (bar, repair) = Bar::new_repaired(t(), 0.5, 2.0, 1.0, 1.5, 1.0).unwrap();
        assert_eq!(bar.low(), 0.5);
        let d = repair.unwrap().description;
        assert!(d.contains("`low` 1 lowered to 0.5"), "{d}");
        let (_, none) = Bar::new_repaired(t(), 1.5, 2.0, 1.0, 1.5, 1.0).unwrap();
        assert!(none.is_none());
        assert!(Bar::new_repaired(t(), f64::NAN, 2.0, 1.0, 1.5, 1.0).is_err());
    }

    #[test]
    fn json_round_trip_uses_alpaca_names() {
        let bar =
            Bar::new(t(), 1.5, 2.0, 1.0, 1.75, 10.0).unwrap().with_trade_count(Some(3)).with_vwap(Some(1.6)).unwrap();
        let s = serde_json::to_string(&bar).unwrap();
        assert_eq!(s, r#"{"t":"2020-12-15T14:30:00Z","o":1.5,"h":2.0,"l":1.0,"c":1.75,"v":10.0,"n":3,"vw":1.6}"#);
        let back: Bar = serde_json::from_str(&s).unwrap();
        assert_eq!(back, bar);
    }

    #[test]
    fn json_rejects_invalid_bar_with_reason() {
        let e = serde_json::from_str::<Bar>(r#"{"t":"2020-12-15T14:30:00Z","o":1.5,"h":1.0,"l":2.0,"c":1.75,"v":10}"#)
            .unwrap_err();
        assert!(e.to_string().contains("below `low`"), "{e}");
    }
}
