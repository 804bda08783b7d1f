//! The stream's MessagePack encoding (what Alpaca speaks to clients that connect with
//! `Content-Type: application/msgpack`, as the official SDKs do): the same messages as the JSON frames, with
//! timestamps as MessagePack's timestamp extension (type −1) instead of RFC 3339 text.
//!
//! Encoding goes from the JSON form (one definition of the messages: `mtf_alpaca::stream`), so the two
//! encodings cannot drift; `rmpv` does the MessagePack framing.

use chrono::{DateTime, Utc};
use rmpv::Value;

/// Keys whose RFC 3339 string values are sent as timestamps (`t` of trades, quotes and bars; news times).
const TIME_KEYS: [&str; 3] = ["t", "created_at", "updated_at"];

/// MessagePack bytes of a JSON value, timestamps under [`TIME_KEYS`] as extension −1.
#[must_use]
pub fn encode(json: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &to_value(json, None));
    out
}

fn to_value(json: &serde_json::Value, key: Option<&str>) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (_, Some(i), _) => Value::from(i),
            (_, _, f) => Value::F64(f.unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => match key.filter(|k| TIME_KEYS.contains(k)).and_then(|_| parse_time(s)) {
            Some(t) => timestamp(t),
            None => Value::from(s.as_str()),
        },
        serde_json::Value::Array(a) => Value::Array(a.iter().map(|v| to_value(v, None)).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.iter().map(|(k, v)| (Value::from(k.as_str()), to_value(v, Some(k)))).collect())
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The timestamp extension: 32-bit seconds when whole and unsigned, else 64-bit (30-bit nanoseconds, 34-bit
/// seconds), else 96-bit (32-bit nanoseconds, signed 64-bit seconds) — the msgpack spec's three forms.
fn timestamp(t: DateTime<Utc>) -> Value {
    let (secs, nanos) = (t.timestamp(), t.timestamp_subsec_nanos());
    let data = if nanos == 0 && (0..=i64::from(u32::MAX)).contains(&secs) {
        (secs as u32).to_be_bytes().to_vec()
    } else if (0..1 << 34).contains(&secs) {
        ((u64::from(nanos) << 34) | secs as u64).to_be_bytes().to_vec()
    } else {
        let mut d = nanos.to_be_bytes().to_vec();
        d.extend_from_slice(&secs.to_be_bytes());
        d
    };
    Value::Ext(-1, data)
}

/// A client message in MessagePack, as JSON (for `mtf_alpaca::stream::ClientMessage`).
///
/// # Errors
/// Bytes that are not one MessagePack value, or values JSON cannot hold (binary, extensions, non-string keys).
pub fn decode(bytes: &[u8]) -> Result<serde_json::Value, String> {
    let mut rd = bytes;
    let v = rmpv::decode::read_value(&mut rd).map_err(|e| format!("not MessagePack: {e}"))?;
    to_json(&v)
}

fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => u.into(),
            (_, Some(i)) => i.into(),
            _ => return Err("integer out of range".into()),
        },
        Value::F32(f) => serde_json::json!(f),
        Value::F64(f) => serde_json::json!(f),
        Value::String(s) => serde_json::Value::String(s.as_str().ok_or("string is not UTF-8")?.to_string()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m {
                let key = k.as_str().ok_or("map keys must be strings")?;
                o.insert(key.to_string(), to_json(v)?);
            }
            serde_json::Value::Object(o)
        }
        Value::Binary(_) | Value::Ext(..) => return Err("binary and extension values are not expected here".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_the_extension_in_the_smallest_form() {
        let at = |s: &str| timestamp(parse_time(s).unwrap());
        // 2011-01-03T14:30:00Z = 1294065000 s: the 32-bit form.
        assert_eq!(at("2011-01-03T14:30:00Z"), Value::Ext(-1, 1_294_065_000u32.to_be_bytes().to_vec()));
        // With nanoseconds: 64-bit, nanoseconds in the top 30 bits.
        let v = at("2011-01-03T14:30:00.000000123Z");
        assert_eq!(v, Value::Ext(-1, ((123u64 << 34) | 1_294_065_000).to_be_bytes().to_vec()));
        // Before 1970: 96-bit.
        let Value::Ext(-1, d) = at("1969-12-31T23:59:59Z") else { panic!() };
        assert_eq!(d.len(), 12);
        assert_eq!(i64::from_be_bytes(d[4..].try_into().unwrap()), -1);
    }

    #[test]
    fn messages_round_trip_except_that_times_become_timestamps() {
        let msg = serde_json::json!([{ "T": "b", "S": "SPY", "o": 126.35, "v": 1579, "n": -2, "t": "2011-01-03T14:30:00Z", "note": "2011-01-03T14:30:00Z" }]);
        let bytes = encode(&msg);
        let mut rd = bytes.as_slice();
        let Value::Array(a) = rmpv::decode::read_value(&mut rd).unwrap() else { panic!() };
        let Value::Map(m) = &a[0] else { panic!() };
        let get = |k: &str| m.iter().find(|(x, _)| x.as_str() == Some(k)).map(|(_, v)| v.clone()).unwrap();
        assert!(matches!(get("t"), Value::Ext(-1, _)));
        assert_eq!(get("note"), Value::from("2011-01-03T14:30:00Z"), "only time keys become timestamps");
        assert_eq!(get("o"), Value::F64(126.35));
        assert_eq!(get("n"), Value::from(-2i64));
        // A client's subscribe message decodes to the JSON the stream parses.
        let sub = encode(&serde_json::json!({ "action": "subscribe", "bars": ["SPY"], "trades": [] }));
        assert_eq!(decode(&sub).unwrap(), serde_json::json!({ "action": "subscribe", "bars": ["SPY"], "trades": [] }));
        // Empty and truncated input (an array of two with one element) are errors, not panics.
        for bad in [&[][..], &[0x92, 0x01][..]] {
            assert!(decode(bad).unwrap_err().starts_with("not MessagePack"), "{bad:?}");
        }
        assert!(decode(&encode(&msg)).is_err(), "a timestamp is not a client value");
    }
}
