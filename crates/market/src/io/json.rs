//! Alpaca's JSON bars: an array of `{t, o, h, l, c, v, n?, vw?}` or an object `{"bars": [...]}`.

use serde::Deserialize;

use super::ReadError;
use crate::Bar;

/// Parses Alpaca JSON bars (a bare array or a `{"bars": [...]}` response); `label` names the input in errors.
///
/// # Errors
/// [`ReadError`] when the JSON is malformed, a bar is invalid (the message names the field), or bars are not
/// in strictly increasing time order.
pub fn parse_alpaca_bars_json(text: &str, label: &str) -> Result<Vec<Bar>, ReadError> {
    // Fast path: a well-formed array parses straight into bars (no intermediate `Value`).
    if let Ok(bars) = serde_json::from_str::<Vec<Bar>>(text) {
        check_order(&bars, label)?;
        return Ok(bars);
    }
    // Parse as a value first so that a single bad bar reports serde's precise message instead of "no variant".
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ReadError::new(label, Some(e.line()), None, format!("invalid JSON: {e}")))?;
    let list = match &value {
        serde_json::Value::Array(_) => value,
        serde_json::Value::Object(o) => o
            .get("bars")
            .cloned()
            .ok_or_else(|| ReadError::new(label, None, None, "expected an array of bars or an object with `bars`"))?,
        _ => {
            return Err(ReadError::new(label, None, None, "expected an array of bars or an object with `bars`"));
        }
    };
    let items = list.as_array().ok_or_else(|| {
        ReadError::new(
            label,
            None,
            Some("bars"),
            "expected an array (multi-symbol responses are keyed by symbol: pick one)",
        )
    })?;
    let mut bars: Vec<Bar> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bar = Bar::deserialize(item)
            .map_err(|e| ReadError::new(label, None, Some(&format!("bars[{i}]")), e.to_string()))?;
        bars.push(bar);
    }
    check_order(&bars, label)?;
    Ok(bars)
}

/// Bars must be in strictly increasing time order; names the first offending bar.
fn check_order(bars: &[Bar], label: &str) -> Result<(), ReadError> {
    match bars.windows(2).position(|w| w[1].start() <= w[0].start()) {
        Some(i) => Err(ReadError::new(
            label,
            None,
            Some(&format!("bars[{}].t", i + 1)),
            "bars must be in strictly increasing time order",
        )),
        None => Ok(()),
    }
}

/// Serialises bars as an Alpaca JSON array.
pub fn write_alpaca_bars_json(bars: &[Bar]) -> String {
    serde_json::to_string(bars).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_shapes() {
        let one = r#"[{"t":"2021-02-22T19:15:00Z","o":1,"h":2,"l":0.5,"c":1.5,"v":10,"n":3,"vw":1.2}]"#;
        let bars = parse_alpaca_bars_json(one, "x").unwrap();
        assert_eq!(bars[0].trade_count(), Some(3));
        let wrapped = format!(r#"{{"bars":{one},"symbol":"AAPL","next_page_token":null}}"#);
        assert_eq!(parse_alpaca_bars_json(&wrapped, "x").unwrap(), bars);
        assert_eq!(parse_alpaca_bars_json(&write_alpaca_bars_json(&bars), "x").unwrap(), bars);
    }

    #[test]
    fn errors_name_the_bar_and_field() {
        let e = parse_alpaca_bars_json(r#"[{"t":"2021-02-22T19:15:00Z","o":1,"h":2,"l":0.5,"c":-1.5,"v":10}]"#, "resp")
            .unwrap_err();
        assert!(e.to_string().contains("bars[0]") && e.to_string().contains("`close`"), "{e}");
        let e = parse_alpaca_bars_json("[{", "resp").unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
    }
}
