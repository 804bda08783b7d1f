//! Conversions between JS-shaped values (through serde_json) and the Rust crates. Plain functions so that
//! they are tested natively as well as in the browser.

use std::collections::BTreeMap;

use mtf_features::frames::compute_features;
use mtf_features::indicators::batch;
use mtf_features::spec::{FEATURE_NAMES, N_FEATURES};
use mtf_market::align::Series;
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};
use serde::Serialize;

use crate::error::WasmError;

/// Parses a timeframe key (`1m`, `5Min`, `1Day`, …).
///
/// # Errors
/// [`WasmError::Timeframe`] naming the key and the accepted forms.
pub fn parse_timeframe(s: &str) -> Result<Timeframe, WasmError> {
    Ok(s.parse::<Timeframe>()?)
}

/// Parses an array of Alpaca bars `{t,o,h,l,c,v,n?,vw?}`, sorted by time; `label` names the array in errors.
///
/// # Errors
/// [`WasmError::Bars`] naming the bar and field.
pub fn bars_from_js(value: &serde_json::Value, label: &str) -> Result<Vec<Bar>, WasmError> {
    Ok(mtf_market::io::parse_alpaca_bars_json(&value.to_string(), label)?)
}

/// Named indicator columns, `None` for warm-up.
///
/// # Errors
/// Bad bars, or [`WasmError::UnknownIndicator`].
pub fn indicators(
    value: &serde_json::Value,
    names: &[String],
) -> Result<BTreeMap<String, Vec<Option<f64>>>, WasmError> {
    let bars = bars_from_js(value, "bars")?;
    for n in names {
        if !batch::STANDARD_COLUMNS.contains(&n.as_str()) {
            return Err(WasmError::UnknownIndicator { name: n.clone(), available: batch::STANDARD_COLUMNS.join(", ") });
        }
    }
    let col = |f: fn(&Bar) -> f64| bars.iter().map(f).collect::<Vec<f64>>();
    let all = batch::standard(&col(Bar::high), &col(Bar::low), &col(Bar::close), &col(Bar::volume))?;
    Ok(batch::STANDARD_COLUMNS
        .iter()
        .zip(all)
        .filter(|(n, _)| names.is_empty() || names.iter().any(|x| x == *n))
        .map(|(n, v)| (n.to_string(), v.into_iter().map(|x| x.is_finite().then_some(x)).collect()))
        .collect())
}

/// Feature table of one timeframe.
#[derive(Debug, Serialize)]
pub struct FeatureTable {
    /// Column names.
    pub names: Vec<&'static str>,
    /// One row per bar, `None` while warming up.
    pub rows: Vec<Vec<Option<f64>>>,
}

/// The 20 model features of every bar of one timeframe's bars (regular-session conventions).
///
/// # Errors
/// Bad timeframe or bars.
pub fn features(value: &serde_json::Value, timeframe: &str) -> Result<FeatureTable, WasmError> {
    let tf = parse_timeframe(timeframe)?;
    let bars = bars_from_js(value, "bars")?;
    let series = Series::new(tf, SessionFilter::Regular, bars)?;
    let values = compute_features(&series);
    Ok(FeatureTable {
        names: FEATURE_NAMES.to_vec(),
        rows: values.chunks(N_FEATURES).map(|r| r.iter().map(|x| x.is_finite().then_some(*x)).collect()).collect(),
    })
}

/// The bars of `value` that are complete at `at` (RFC 3339): those whose end ([`Timeframe::bar_end_ms`], session
/// closes and early closes included) is at or before `at`, returned as given (every field kept). A bar still
/// forming at `at` and every later bar are left out.
///
/// # Errors
/// Bad timeframe, bars or instant.
pub fn complete_bars(
    value: &serde_json::Value,
    timeframe: &str,
    at: &str,
    filter: SessionFilter,
) -> Result<Vec<serde_json::Value>, WasmError> {
    let tf = parse_timeframe(timeframe)?;
    let bars = bars_from_js(value, "bars")?;
    let at_ms = chrono::DateTime::parse_from_rfc3339(at)
        .map_err(|e| WasmError::shape("at", format!("`{at}` is not an RFC 3339 instant: {e}")))?
        .timestamp_millis();
    let given = value.as_array().map_or(&[][..], Vec::as_slice);
    Ok(bars
        .iter()
        .zip(given)
        .filter(|(b, _)| tf.bar_end_ms(b.start_ms(), filter) <= at_ms)
        .map(|(_, v)| v.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(n: usize) -> serde_json::Value {
        let t0 = chrono::DateTime::parse_from_rfc3339("2011-01-03T14:30:00Z").unwrap();
        serde_json::Value::Array(
            (0..n)
                .map(|i| {
                    let c = 100.0 + (i as f64 * 0.3).sin();
                    serde_json::json!({"t": (t0 + chrono::Duration::minutes(i as i64)).to_rfc3339(), "o": c, "h": c + 0.1, "l": c - 0.1, "c": c, "v": 1000})
                })
                .collect(),
        )
    }

    #[test]
    fn indicators_by_name_with_warmup_as_none() {
        let out = indicators(&bars(60), &["rsi_14".into(), "obv".into()]).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out["rsi_14"][13], None);
        assert!(out["rsi_14"][14].is_some());
        assert_eq!(out["obv"][0], Some(1000.0));
        let e = indicators(&bars(5), &["rsi_15".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown indicator `rsi_15`"), "{e}");
    }

    #[test]
    fn complete_bars_follow_the_session_calendar() {
        // Minutes: the bar starting at 14:31 ends 14:32, so at 14:32 two bars are complete.
        let done = complete_bars(&bars(5), "1m", "2011-01-03T14:32:00Z", SessionFilter::Regular).unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done[1], bars(5)[1]);
        // A January day is complete at its 16:00 New York close (21:00 UTC), not at midnight.
        let day = serde_json::json!([
            {"t": "2011-01-03T05:00:00Z", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1},
            {"t": "2011-01-04T05:00:00Z", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "n": 3}
        ]);
        assert_eq!(complete_bars(&day, "1d", "2011-01-04T20:59:59Z", SessionFilter::Regular).unwrap().len(), 1);
        let both = complete_bars(&day, "1d", "2011-01-04T21:00:00Z", SessionFilter::Regular).unwrap();
        assert_eq!(both[1]["n"], 3);
        let e = complete_bars(&day, "1d", "yesterday", SessionFilter::Regular).unwrap_err().to_string();
        assert!(e.contains("`yesterday` is not an RFC 3339 instant"), "{e}");
    }

    #[test]
    fn features_table_and_bad_bars() {
        let t = features(&bars(60), "1m").unwrap();
        assert_eq!(t.names.len(), 20);
        assert_eq!(t.rows.len(), 60);
        assert!(t.rows[59].iter().all(Option::is_some));
        let bad = serde_json::json!([{"t": "2011-01-03T14:30:00Z", "o": 1, "h": 0.5, "l": 1, "c": 1, "v": 1}]);
        let e = features(&bad, "1m").unwrap_err().to_string();
        assert!(e.contains("bars[0]") && e.contains("below `low`"), "{e}");
        assert!(features(&bars(3), "7m").unwrap_err().to_string().contains("unknown timeframe"));
    }
}
