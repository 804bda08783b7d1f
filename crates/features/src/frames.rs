//! Per-timeframe feature matrices and the multi-timeframe bundle built from 1-minute (and daily) bars.

use chrono::{Datelike, Weekday};
use mtf_market::align::Series;
use mtf_market::resample::{filter_session, resample};
use mtf_market::session::{REGULAR_MINUTES, SessionFilter, ny_local_secs, trading_day, trading_day_number_ms};
use mtf_market::{Bar, Timeframe};

use crate::indicators::*;
use crate::spec::N_FEATURES;

/// Why features cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// Resampling failed (unsorted input, incompatible timeframes).
    #[error(transparent)]
    Resample(#[from] mtf_market::resample::ResampleError),
    /// A series could not be built.
    #[error(transparent)]
    Align(#[from] mtf_market::align::AlignError),
    /// No timeframes were requested, or one was requested twice.
    #[error("invalid timeframe list: {0}")]
    Timeframes(String),
}

/// One timeframe's bars and their features (row-major `[n_bars × N_FEATURES]`, `f64`, `NaN` during warm-up).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeframeFeatures {
    /// The bars, their end instants and gaps.
    pub series: Series,
    /// Feature values, row `i` for bar `i`.
    pub values: Vec<f64>,
}

impl TimeframeFeatures {
    /// Computes the features of every bar of `series`.
    pub fn new(series: Series) -> Self {
        let values = compute_features(&series);
        Self { series, values }
    }
    /// Feature row of bar `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * N_FEATURES..(i + 1) * N_FEATURES]
    }
    /// Whether every feature of bar `i` is defined.
    pub fn row_valid(&self, i: usize) -> bool {
        self.row(i).iter().all(|x| x.is_finite())
    }
}

#[inline]
fn ln_ratio(a: f64, b: f64) -> f64 {
    (a / b).ln()
}

#[inline]
fn or_nan<T>(x: Option<T>, f: impl FnOnce(T) -> f64) -> f64 {
    x.map_or(f64::NAN, f)
}

/// Computes the features of every bar of a series (see [`crate::spec`] for the formulas).
///
/// Causal by construction: row `i` is a fold over bars `0..=i` of the same series.
pub fn compute_features(series: &Series) -> Vec<f64> {
    let bars = series.bars();
    let tf = series.timeframe();
    let n = bars.len();
    let mut out = vec![f64::NAN; n * N_FEATURES];
    // Parameters are constants that are valid by construction; a failure here would be a programming error,
    // reported as all-NaN features rather than a panic.
    let (Ok(mut rsi), Ok(mut macd), Ok(mut atr), Ok(mut bb), Ok(mut adx), Ok(mut di), Ok(mut st), Ok(mut mfi)) = (
        Rsi::new(14),
        Macd::new(12, 26, 9),
        Atr::new(14),
        Bollinger::new(20, 2.0),
        Adx::new(14),
        DirectionalIndex::new(14),
        Stochastic::new(14, 3, 3),
        Mfi::new(14),
    ) else {
        return out;
    };
    let (Ok(mut sma50), Ok(mut gk), Ok(mut vol_mean)) = (Sma::new(50), GarmanKlass::new(20), Bollinger::new(20, 1.0))
    else {
        return out;
    };
    let mut vwap = SessionVwap::new();
    let tf_ms = (tf.minutes() * 60_000) as f64;
    // ln(close) once per bar: log returns and distances are differences of logs (one `ln` instead of four).
    let ln_close: Vec<f64> = bars.iter().map(|b| b.close().ln()).collect();
    for (i, b) in bars.iter().enumerate() {
        let (o, h, l, c, v) = (b.open(), b.high(), b.low(), b.close(), b.volume());
        let lc = ln_close[i];
        let row = &mut out[i * N_FEATURES..(i + 1) * N_FEATURES];
        let back = |k: usize| if i >= k { lc - ln_close[i - k] } else { f64::NAN };
        row[0] = back(1);
        row[1] = back(5);
        row[2] = back(20);
        let (hl, co) = (ln_ratio(h, l), ln_ratio(c, o));
        row[3] = hl;
        row[4] = co;
        row[5] = or_nan(rsi.update(c), |r| (r - 50.0) / 50.0);
        let a = atr.update(h, l, c);
        let m = macd.update(c);
        row[6] = match (m, a) {
            (Some(m), Some(a)) => {
                if a > 0.0 {
                    m.hist / a
                } else {
                    0.0
                }
            }
            _ => f64::NAN,
        };
        let band = bb.update(c);
        row[7] = or_nan(band, |b| {
            let w = b.upper - b.middle;
            if w > 0.0 { (c - b.middle) / w } else { 0.0 }
        });
        row[8] = or_nan(band, |b| (b.upper - b.lower) / b.middle);
        row[9] = or_nan(a, |a| a / c);
        row[10] = or_nan(adx.update(h, l, c), |x| x / 50.0 - 1.0);
        row[11] = or_nan(di.update(h, l, c), |d| (d.plus_di - d.minus_di) / 100.0);
        row[12] = or_nan(st.update(h, l, c), |s| (s.k - 50.0) / 50.0);
        row[13] = or_nan(mfi.update(h, l, c, v), |x| (x - 50.0) / 50.0);
        let lv = v.ln_1p();
        row[14] = or_nan(vol_mean.update(lv), |b| {
            let sd = b.upper - b.middle;
            if sd > 0.0 { (lv - b.middle) / sd } else { 0.0 }
        });
        let day = trading_day_number_ms(b.start_ms());
        row[15] = or_nan(vwap.update(day, b.vwap_or_typical(), v), |w| lc - w.ln());
        row[16] = or_nan(sma50.update(c), |s| lc - s.ln());
        row[17] = gk.update_logs(hl, co).unwrap_or(f64::NAN);
        row[18] = if tf.is_intraday() {
            let end_local = ny_local_secs(tf.bar_end_ms(b.start_ms(), series.filter()).div_euclid(1000));
            let minutes = (end_local.rem_euclid(86_400) / 60) as f64 - 570.0;
            minutes / f64::from(REGULAR_MINUTES) * 2.0 - 1.0
        } else {
            match trading_day(b.start()).weekday() {
                Weekday::Mon => -1.0,
                Weekday::Tue => -0.5,
                Weekday::Wed => 0.0,
                Weekday::Thu => 0.5,
                Weekday::Fri => 1.0,
                Weekday::Sat | Weekday::Sun => 1.5,
            }
        };
        row[19] = if i >= 1 {
            let dt = (b.start_ms() - bars[i - 1].start_ms()) as f64;
            if dt == tf_ms { 0.0 } else { (dt / tf_ms).ln() }
        } else {
            f64::NAN
        };
    }
    out
}

/// Features of several timeframes of one symbol, all restricted to one session filter.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTimeframe {
    /// One entry per requested timeframe, in the order requested.
    pub frames: Vec<TimeframeFeatures>,
}

impl MultiTimeframe {
    /// Builds every requested timeframe from 1-minute bars; `1d` comes from `daily` when given (a month of
    /// minutes cannot give a year of daily history), otherwise from resampling the minutes.
    ///
    /// # Errors
    /// [`FeatureError`] for an empty or duplicated timeframe list and unsorted bars.
    pub fn from_minutes(
        minutes: &[Bar],
        daily: Option<&[Bar]>,
        timeframes: &[Timeframe],
        filter: SessionFilter,
    ) -> Result<Self, FeatureError> {
        Self::build(timeframes, filter, |tf| match (tf, daily) {
            (Timeframe::D1, Some(d)) => Ok(d.to_vec()),
            (Timeframe::W1 | Timeframe::MN1, Some(d)) => Ok(resample(d, Timeframe::D1, tf, filter)?),
            (Timeframe::M1, _) => Ok(filter_session(minutes, filter)),
            _ => Ok(resample(minutes, Timeframe::M1, tf, filter)?),
        })
    }

    /// Builds every requested timeframe from the bars the caller has, keyed by timeframe: a requested timeframe
    /// that is given is used as is (intraday bars restricted to the session filter); one that is not given is
    /// resampled from the coarsest given timeframe that can produce it (the one with the longest history for the
    /// same number of bars: weeks from days rather than from minutes, hours from 30-minute bars rather than from
    /// a short run of minutes).
    ///
    /// # Errors
    /// [`FeatureError::Timeframes`] when a requested timeframe can be neither found nor resampled, or the list is
    /// empty or has duplicates; [`FeatureError::Resample`]/[`FeatureError::Align`] for unsorted bars.
    pub fn from_bars(
        given: &std::collections::BTreeMap<Timeframe, Vec<Bar>>,
        timeframes: &[Timeframe],
        filter: SessionFilter,
    ) -> Result<Self, FeatureError> {
        Self::build(timeframes, filter, |tf| match given.get(&tf) {
            Some(b) if tf.is_intraday() => Ok(filter_session(b, filter)),
            Some(b) => Ok(b.clone()),
            // BTreeMap order is finest first: reversed, coarsest first.
            None => given
                .iter()
                .rev()
                .filter(|(from, _)| **from < tf)
                .find_map(|(from, bars)| resample(bars, *from, tf, filter).ok())
                .ok_or_else(|| {
                    let have: Vec<&str> = given.keys().map(|t| t.short()).collect();
                    FeatureError::Timeframes(format!(
                        "{} bars are needed but were not given and cannot be resampled from {have:?}",
                        tf.short()
                    ))
                }),
        })
    }

    /// Validates the timeframe list, then builds each timeframe's series and features from `bars_for`.
    fn build(
        timeframes: &[Timeframe],
        filter: SessionFilter,
        bars_for: impl Fn(Timeframe) -> Result<Vec<Bar>, FeatureError>,
    ) -> Result<Self, FeatureError> {
        if timeframes.is_empty() {
            return Err(FeatureError::Timeframes("no timeframes requested".into()));
        }
        let mut seen = timeframes.to_vec();
        seen.sort();
        seen.dedup();
        if seen.len() != timeframes.len() {
            return Err(FeatureError::Timeframes(format!("duplicate timeframe in {timeframes:?}")));
        }
        let frames = timeframes
            .iter()
            .map(|&tf| Ok(TimeframeFeatures::new(Series::new(tf, filter, bars_for(tf)?)?)))
            .collect::<Result<Vec<_>, FeatureError>>()?;
        Ok(Self { frames })
    }

    /// The timeframes, in order.
    pub fn timeframes(&self) -> Vec<Timeframe> {
        self.frames.iter().map(|f| f.series.timeframe()).collect()
    }
}
