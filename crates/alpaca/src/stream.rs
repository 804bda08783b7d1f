//! The market-data WebSocket protocol (`/v2/iex`, `/v2/sip`).
//!
//! The server sends JSON **arrays** of messages keyed by `T`. On connect `[{"T":"success","msg":"connected"}]`;
//! the client sends [`ClientMessage::Auth`] within 10 s → `[{"T":"success","msg":"authenticated"}]`; then
//! [`ClientMessage::Subscribe`] → a `subscription` message listing everything subscribed. Errors such as
//! `406 connection limit exceeded` arrive as `{"T":"error","code":406,"msg":"..."}`.

use chrono::{DateTime, Utc};
use mtf_market::Bar;
use serde::{Deserialize, Serialize};

use crate::rest::{Quote, Trade};

/// A trade on the stream: the REST trade plus the symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamTrade {
    /// Symbol.
    #[serde(rename = "S")]
    pub symbol: String,
    /// The trade.
    #[serde(flatten)]
    pub trade: Trade,
}

/// A quote on the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamQuote {
    /// Symbol.
    #[serde(rename = "S")]
    pub symbol: String,
    /// The quote.
    #[serde(flatten)]
    pub quote: Quote,
}

/// A bar on the stream (`b` minute bar, `u` updated bar, `d` daily bar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamBar {
    /// Symbol.
    #[serde(rename = "S")]
    pub symbol: String,
    /// The bar (start time, OHLCV, trade count, VWAP).
    #[serde(flatten)]
    pub bar: Bar,
}

/// Channels of a subscription, as listed in `subscribe` actions and `subscription` messages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channels {
    /// Trade symbols (`*` for all).
    #[serde(default)]
    pub trades: Vec<String>,
    /// Quote symbols.
    #[serde(default)]
    pub quotes: Vec<String>,
    /// Minute-bar symbols.
    #[serde(default)]
    pub bars: Vec<String>,
    /// Updated-bar symbols.
    #[serde(default)]
    pub updated_bars: Vec<String>,
    /// Daily-bar symbols.
    #[serde(default)]
    pub daily_bars: Vec<String>,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "T")]
pub enum ServerMessage {
    /// `{"T":"success","msg":"connected"|"authenticated"}`.
    #[serde(rename = "success")]
    Success {
        /// `connected` or `authenticated`.
        msg: String,
    },
    /// `{"T":"error","code":402,"msg":"auth failed"}`.
    #[serde(rename = "error")]
    Error {
        /// Alpaca stream error code (400 invalid syntax, 401 not authenticated, 402 auth failed,
        /// 404 auth timeout, 405 symbol limit exceeded, 406 connection limit exceeded, …).
        code: u16,
        /// Message.
        msg: String,
    },
    /// Current subscriptions after a subscribe/unsubscribe.
    #[serde(rename = "subscription")]
    Subscription(Channels),
    /// Trade.
    #[serde(rename = "t")]
    Trade(StreamTrade),
    /// Quote.
    #[serde(rename = "q")]
    Quote(StreamQuote),
    /// Minute bar.
    #[serde(rename = "b")]
    Bar(StreamBar),
    /// Corrected minute bar (late trades), sent about 30 s after the original.
    #[serde(rename = "u")]
    UpdatedBar(StreamBar),
    /// Daily bar (updated through the day).
    #[serde(rename = "d")]
    DailyBar(StreamBar),
    /// Any other message type (statuses, LULDs, corrections, …), ignored by mtf.
    #[serde(other)]
    Other,
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ClientMessage {
    /// `{"action":"auth","key":"…","secret":"…"}`.
    Auth {
        /// API key id.
        key: String,
        /// API secret.
        secret: String,
    },
    /// `{"action":"subscribe","trades":[…],"bars":[…],…}`.
    Subscribe(Channels),
    /// `{"action":"unsubscribe",…}`.
    Unsubscribe(Channels),
}

/// Parses one server frame (a JSON array of messages).
///
/// # Errors
/// The serde error when the frame is not an array of well-formed messages (an invalid bar is an error).
pub fn parse_frame(text: &str) -> Result<Vec<ServerMessage>, serde_json::Error> {
    serde_json::from_str(text)
}

/// Renders messages as one server frame.
pub fn render_frame(messages: &[ServerMessage]) -> String {
    serde_json::to_string(messages).unwrap_or_else(|_| "[]".to_string())
}

/// The instant a message refers to, when it has one (trade/quote time, bar start).
pub fn message_time(m: &ServerMessage) -> Option<DateTime<Utc>> {
    match m {
        ServerMessage::Trade(t) => Some(t.trade.t),
        ServerMessage::Quote(q) => Some(q.quote.t),
        ServerMessage::Bar(b) | ServerMessage::UpdatedBar(b) | ServerMessage::DailyBar(b) => Some(b.bar.start()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_stream_messages() {
        let frame = r#"[{"T":"success","msg":"connected"},
            {"T":"subscription","trades":["AAPL"],"quotes":[],"bars":["*"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[]},
            {"T":"t","S":"AAPL","i":96921,"x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"},
            {"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z","c":["R"],"z":"C"},
            {"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"t":"2021-02-22T19:15:00Z","n":461,"vw":389.062639},
            {"T":"u","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49400,"t":"2021-02-22T19:15:00Z","n":462,"vw":389.06},
            {"T":"d","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":1000000,"t":"2021-02-22T05:00:00Z","n":4620,"vw":389.06},
            {"T":"error","code":406,"msg":"connection limit exceeded"},
            {"T":"s","S":"AAPL","sc":"H","sm":"Trading Halt"}]"#;
        let msgs = parse_frame(frame).unwrap();
        assert_eq!(msgs.len(), 9);
        assert!(matches!(&msgs[1], ServerMessage::Subscription(c) if c.bars == ["*"]));
        assert!(matches!(&msgs[2], ServerMessage::Trade(t) if t.symbol == "AAPL" && t.trade.s == 1));
        assert!(matches!(&msgs[3], ServerMessage::Quote(q) if q.quote.ask_size == 4));
        assert!(matches!(&msgs[4], ServerMessage::Bar(b) if b.bar.trade_count() == Some(461)));
        assert!(matches!(&msgs[5], ServerMessage::UpdatedBar(b) if b.bar.volume() == 49400.0));
        assert!(matches!(&msgs[6], ServerMessage::DailyBar(_)));
        assert!(matches!(&msgs[7], ServerMessage::Error { code: 406, .. }));
        assert_eq!(msgs[8], ServerMessage::Other);
        // Round trip of everything we render.
        let again = parse_frame(&render_frame(&msgs[..8])).unwrap();
        assert_eq!(again, msgs[..8]);
        assert!(render_frame(&msgs[4..5]).contains(r#""T":"b","S":"SPY""#));
    }

    #[test]
    fn client_messages_use_alpaca_actions() {
        let auth = ClientMessage::Auth { key: "k".into(), secret: "s".into() };
        assert_eq!(serde_json::to_string(&auth).unwrap(), r#"{"action":"auth","key":"k","secret":"s"}"#);
        let sub: ClientMessage = serde_json::from_str(
            r#"{"action":"subscribe","trades":["AAPL"],"bars":["AAPL","SPY"],"updatedBars":["SPY"]}"#,
        )
        .unwrap();
        let ClientMessage::Subscribe(c) = sub else { panic!() };
        assert_eq!(c.bars, ["AAPL", "SPY"]);
        assert_eq!(c.updated_bars, ["SPY"]);
        assert!(serde_json::from_str::<ClientMessage>(r#"{"action":"dance"}"#).is_err());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(parse_frame(r#"{"T":"success","msg":"connected"}"#).is_err(), "not an array");
        assert!(
            parse_frame(r#"[{"T":"b","S":"X","o":1,"h":0.5,"l":1,"c":1,"v":1,"t":"2021-02-22T19:15:00Z"}]"#).is_err()
        );
    }
}
