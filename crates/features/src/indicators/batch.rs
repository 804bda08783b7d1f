//! Batch indicators over slices: folds of the streaming cores, `NaN` during warm-up.
//!
//! Output vectors have the input's length; index `i` holds the value after bar `i`.

use super::*;

fn same_len(indicator: &'static str, lens: &[usize]) -> Result<usize, ParamError> {
    let n = lens.first().copied().unwrap_or(0);
    if lens.iter().any(|&l| l != n) {
        return Err(ParamError { indicator, message: format!("input slices have different lengths {lens:?}") });
    }
    Ok(n)
}

#[inline]
fn fold1<S>(x: &[f64], mut state: S, mut f: impl FnMut(&mut S, f64) -> Option<f64>) -> Vec<f64> {
    x.iter().map(|&v| f(&mut state, v).unwrap_or(f64::NAN)).collect()
}

/// SMA of `x`. # Errors: [`ParamError`] for `period == 0`.
pub fn sma(x: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    Ok(fold1(x, Sma::new(period)?, Sma::update))
}

/// EMA of `x`. # Errors: [`ParamError`] for `period == 0`.
pub fn ema(x: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    Ok(fold1(x, Ema::new(period)?, Ema::update))
}

/// Wilder RSI of closes. # Errors: [`ParamError`] for `period == 0`.
pub fn rsi(close: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    Ok(fold1(close, Rsi::new(period)?, Rsi::update))
}

/// MACD line, signal and histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct MacdSeries {
    /// MACD line.
    pub macd: Vec<f64>,
    /// Signal line.
    pub signal: Vec<f64>,
    /// Histogram.
    pub hist: Vec<f64>,
}

/// MACD of closes. # Errors: [`ParamError`] for invalid periods.
pub fn macd(close: &[f64], fast: usize, slow: usize, signal: usize) -> Result<MacdSeries, ParamError> {
    let mut m = Macd::new(fast, slow, signal)?;
    let n = close.len();
    let mut out = MacdSeries { macd: vec![f64::NAN; n], signal: vec![f64::NAN; n], hist: vec![f64::NAN; n] };
    for (((&c, a), b), h) in close.iter().zip(&mut out.macd).zip(&mut out.signal).zip(&mut out.hist) {
        if let Some(o) = m.update(c) {
            (*a, *b, *h) = (o.macd, o.signal, o.hist);
        }
    }
    Ok(out)
}

/// Bollinger bands.
#[derive(Debug, Clone, PartialEq)]
pub struct BollingerSeries {
    /// Upper band.
    pub upper: Vec<f64>,
    /// Middle band (SMA).
    pub middle: Vec<f64>,
    /// Lower band.
    pub lower: Vec<f64>,
}

/// Bollinger bands of closes. # Errors: [`ParamError`] for invalid parameters.
pub fn bollinger(close: &[f64], period: usize, k: f64) -> Result<BollingerSeries, ParamError> {
    let mut b = Bollinger::new(period, k)?;
    let n = close.len();
    let mut out = BollingerSeries { upper: vec![f64::NAN; n], middle: vec![f64::NAN; n], lower: vec![f64::NAN; n] };
    for (((&c, u), m), l) in close.iter().zip(&mut out.upper).zip(&mut out.middle).zip(&mut out.lower) {
        if let Some(o) = b.update(c) {
            (*u, *m, *l) = (o.upper, o.middle, o.lower);
        }
    }
    Ok(out)
}

/// ATR. # Errors: [`ParamError`] for `period == 0` or slices of different lengths.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    let n = same_len("ATR", &[high.len(), low.len(), close.len()])?;
    let mut a = Atr::new(period)?;
    Ok((0..n).map(|i| a.update(high[i], low[i], close[i]).unwrap_or(f64::NAN)).collect())
}

/// +DI and −DI series.
#[derive(Debug, Clone, PartialEq)]
pub struct DmiSeries {
    /// +DI.
    pub plus_di: Vec<f64>,
    /// −DI.
    pub minus_di: Vec<f64>,
}

/// +DI/−DI. # Errors: [`ParamError`] for `period < 2` or slices of different lengths.
pub fn dmi(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<DmiSeries, ParamError> {
    let n = same_len("DI", &[high.len(), low.len(), close.len()])?;
    let mut d = DirectionalIndex::new(period)?;
    let mut out = DmiSeries { plus_di: vec![f64::NAN; n], minus_di: vec![f64::NAN; n] };
    for ((((&h, &l), &c), p), m) in high.iter().zip(low).zip(close).zip(&mut out.plus_di).zip(&mut out.minus_di) {
        if let Some(o) = d.update(h, l, c) {
            (*p, *m) = (o.plus_di, o.minus_di);
        }
    }
    Ok(out)
}

/// ADX. # Errors: [`ParamError`] for `period < 2` or slices of different lengths.
pub fn adx(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    let n = same_len("ADX", &[high.len(), low.len(), close.len()])?;
    let mut a = Adx::new(period)?;
    Ok((0..n).map(|i| a.update(high[i], low[i], close[i]).unwrap_or(f64::NAN)).collect())
}

/// Slow stochastic %K and %D.
#[derive(Debug, Clone, PartialEq)]
pub struct StochasticSeries {
    /// Slow %K.
    pub k: Vec<f64>,
    /// Slow %D.
    pub d: Vec<f64>,
}

/// Slow stochastic. # Errors: [`ParamError`] for zero periods or slices of different lengths.
pub fn stochastic(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fast_k: usize,
    slow_k: usize,
    slow_d: usize,
) -> Result<StochasticSeries, ParamError> {
    let n = same_len("STOCH", &[high.len(), low.len(), close.len()])?;
    let mut s = Stochastic::new(fast_k, slow_k, slow_d)?;
    let mut out = StochasticSeries { k: vec![f64::NAN; n], d: vec![f64::NAN; n] };
    for ((((&h, &l), &c), k), d) in high.iter().zip(low).zip(close).zip(&mut out.k).zip(&mut out.d) {
        if let Some(o) = s.update(h, l, c) {
            (*k, *d) = (o.k, o.d);
        }
    }
    Ok(out)
}

/// OBV. # Errors: [`ParamError`] for slices of different lengths.
pub fn obv(close: &[f64], volume: &[f64]) -> Result<Vec<f64>, ParamError> {
    let n = same_len("OBV", &[close.len(), volume.len()])?;
    let mut o = Obv::new();
    Ok((0..n).map(|i| o.update(close[i], volume[i]).unwrap_or(f64::NAN)).collect())
}

/// MFI. # Errors: [`ParamError`] for `period == 0` or slices of different lengths.
pub fn mfi(high: &[f64], low: &[f64], close: &[f64], volume: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    let n = same_len("MFI", &[high.len(), low.len(), close.len(), volume.len()])?;
    let mut m = Mfi::new(period)?;
    Ok((0..n).map(|i| m.update(high[i], low[i], close[i], volume[i]).unwrap_or(f64::NAN)).collect())
}

/// Session-anchored VWAP; `session[i]` identifies bar `i`'s session. # Errors: slices of different lengths.
pub fn session_vwap(session: &[i64], price: &[f64], volume: &[f64]) -> Result<Vec<f64>, ParamError> {
    let n = same_len("VWAP", &[session.len(), price.len(), volume.len()])?;
    let mut v = SessionVwap::new();
    Ok((0..n).map(|i| v.update(session[i], price[i], volume[i]).unwrap_or(f64::NAN)).collect())
}

/// Parkinson volatility. # Errors: [`ParamError`] for `period == 0` or slices of different lengths.
pub fn parkinson(high: &[f64], low: &[f64], period: usize) -> Result<Vec<f64>, ParamError> {
    let n = same_len("Parkinson", &[high.len(), low.len()])?;
    let mut p = Parkinson::new(period)?;
    Ok((0..n).map(|i| p.update(high[i], low[i]).unwrap_or(f64::NAN)).collect())
}

/// Garman–Klass volatility. # Errors: [`ParamError`] for `period == 0` or slices of different lengths.
pub fn garman_klass(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Vec<f64>, ParamError> {
    let n = same_len("Garman-Klass", &[open.len(), high.len(), low.len(), close.len()])?;
    let mut g = GarmanKlass::new(period)?;
    Ok((0..n).map(|i| g.update(open[i], high[i], low[i], close[i]).unwrap_or(f64::NAN)).collect())
}

/// Names of the standard indicator set, in output order (the columns of `mtf indicators`).
pub const STANDARD_COLUMNS: [&str; 17] = [
    "sma_50",
    "ema_20",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "stoch_k",
    "stoch_d",
    "obv",
    "mfi_14",
];

/// The standard indicator set over OHLCV columns, in [`STANDARD_COLUMNS`] order: SMA(50), EMA(20), RSI(14),
/// MACD(12,26,9), Bollinger(20,2), ATR(14), ADX(14), ±DI(14), slow stochastic(14,3,3), OBV, MFI(14).
///
/// # Errors
/// [`ParamError`] when the slices have different lengths.
pub fn standard(high: &[f64], low: &[f64], close: &[f64], volume: &[f64]) -> Result<Vec<Vec<f64>>, ParamError> {
    same_len("standard set", &[high.len(), low.len(), close.len(), volume.len()])?;
    let m = macd(close, 12, 26, 9)?;
    let b = bollinger(close, 20, 2.0)?;
    let d = dmi(high, low, close, 14)?;
    let s = stochastic(high, low, close, 14, 3, 3)?;
    Ok(vec![
        sma(close, 50)?,
        ema(close, 20)?,
        rsi(close, 14)?,
        m.macd,
        m.signal,
        m.hist,
        b.upper,
        b.middle,
        b.lower,
        atr(high, low, close, 14)?,
        adx(high, low, close, 14)?,
        d.plus_di,
        d.minus_di,
        s.k,
        s.d,
        obv(close, volume)?,
        mfi(high, low, close, volume, 14)?,
    ])
}
