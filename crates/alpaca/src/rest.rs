//! REST response bodies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtf_market::Bar;
use serde::{Deserialize, Serialize};

/// `GET /v2/stocks/{symbol}/bars`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarsResponse {
    /// Bars in the requested order (`null` from Alpaca when there are none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub bars: Vec<Bar>,
    /// The symbol.
    pub symbol: String,
    /// Token for the next page, `null` on the last page.
    pub next_page_token: Option<String>,
}

/// `GET /v2/stocks/bars?symbols=A,B`: bars keyed by symbol. Pages are sorted by symbol then time, and `limit`
/// counts bars across all symbols, so one symbol may continue on the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiBarsResponse {
    /// Bars per symbol.
    #[serde(default, deserialize_with = "null_as_default")]
    pub bars: BTreeMap<String, Vec<Bar>>,
    /// Token for the next page, `null` on the last page.
    pub next_page_token: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A trade (`/trades/latest`, snapshots, stream `t`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Timestamp, RFC 3339 with nanoseconds, UTC.
    pub t: DateTime<Utc>,
    /// Exchange code.
    pub x: String,
    /// Price.
    pub p: f64,
    /// Size (shares).
    pub s: u64,
    /// Condition codes.
    #[serde(default)]
    pub c: Vec<String>,
    /// Trade id.
    pub i: u64,
    /// Tape (`A`, `B`, `C`).
    pub z: String,
}

/// A quote (`/quotes/latest`, snapshots, stream `q`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Timestamp, UTC.
    pub t: DateTime<Utc>,
    /// Ask exchange.
    pub ax: String,
    /// Ask price.
    pub ap: f64,
    /// Ask size (round lots on SIP, shares on IEX).
    #[serde(rename = "as")]
    pub ask_size: u64,
    /// Bid exchange.
    pub bx: String,
    /// Bid price.
    pub bp: f64,
    /// Bid size.
    pub bs: u64,
    /// Condition codes.
    #[serde(default)]
    pub c: Vec<String>,
    /// Tape.
    pub z: String,
}

/// `GET /v2/stocks/{symbol}/trades/latest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestTradeResponse {
    /// The symbol.
    pub symbol: String,
    /// The latest trade.
    pub trade: Trade,
}

/// `GET /v2/stocks/{symbol}/quotes/latest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestQuoteResponse {
    /// The symbol.
    pub symbol: String,
    /// The latest quote.
    pub quote: Quote,
}

/// `GET /v2/stocks/bars/latest?symbols=...`: each symbol's newest 1-minute bar (symbols without one are absent).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatestBarsResponse {
    /// Newest minute bar per symbol.
    #[serde(default)]
    pub bars: BTreeMap<String, Bar>,
}

/// One symbol's snapshot (`GET /v2/stocks/snapshots` returns `{SYMBOL: Snapshot}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Latest trade.
    pub latest_trade: Option<Trade>,
    /// Latest quote.
    pub latest_quote: Option<Quote>,
    /// Latest minute bar.
    pub minute_bar: Option<Bar>,
    /// Current day's bar.
    pub daily_bar: Option<Bar>,
    /// Previous day's bar.
    pub prev_daily_bar: Option<Bar>,
}

/// `GET /v2/stocks/snapshots?symbols=...`.
pub type SnapshotsResponse = BTreeMap<String, Snapshot>;

/// An image attached to a news article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsImage {
    /// `thumb`, `small` or `large`.
    pub size: String,
    /// Image URL.
    pub url: String,
}

/// A news article (`GET /v1beta1/news`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsArticle {
    /// Article id.
    pub id: u64,
    /// Headline.
    pub headline: String,
    /// Summary (may be empty).
    #[serde(default)]
    pub summary: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Creation time, UTC.
    pub created_at: DateTime<Utc>,
    /// Last update, UTC.
    pub updated_at: DateTime<Utc>,
    /// Article URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Images.
    #[serde(default)]
    pub images: Vec<NewsImage>,
    /// Related symbols.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Source, e.g. `benzinga`.
    #[serde(default)]
    pub source: String,
    /// Full content when `include_content=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1beta1/news`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsResponse {
    /// Articles.
    pub news: Vec<NewsArticle>,
    /// Token for the next page.
    pub next_page_token: Option<String>,
}

/// Alpaca's REST error body, e.g. `{"code": 42210000, "message": "invalid timeframe"}` (401/403 bodies may
/// carry only `message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Alpaca's numeric error code, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u64>,
    /// Human-readable message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_bars_response() {
        let body = r#"{"bars":[{"t":"2021-02-01T16:01:00Z","o":133.32,"h":133.74,"l":133.31,"c":133.5,"v":9876,"n":42,"vw":133.55}],"symbol":"AAPL","next_page_token":"QUFQTHxNfDIwMjEtMDItMDFUMTY6MDE6MDAuMDAwMDAwMDAwWg=="}"#;
        let r: BarsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.bars[0].trade_count(), Some(42));
        assert!(r.next_page_token.is_some());
        let back: BarsResponse = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let empty: BarsResponse = serde_json::from_str(r#"{"bars":null,"symbol":"X","next_page_token":null}"#).unwrap();
        assert!(empty.bars.is_empty());
    }

    #[test]
    fn parses_multi_bars_trades_quotes_snapshots_news_errors() {
        let multi: MultiBarsResponse = serde_json::from_str(
            r#"{"bars":{"AAPL":[{"t":"2021-02-01T16:01:00Z","o":1,"h":1,"l":1,"c":1,"v":1}],"MSFT":[]},"next_page_token":null}"#,
        )
        .unwrap();
        assert_eq!(multi.bars.len(), 2);
        let latest: LatestBarsResponse = serde_json::from_str(
            r#"{"bars":{"SPY":{"t":"2021-02-01T16:01:00Z","o":1,"h":2,"l":0.5,"c":1.5,"v":10,"n":3,"vw":1.2}}}"#,
        )
        .unwrap();
        assert_eq!(latest.bars["SPY"].start_ms(), 1_612_195_260_000);
        assert!(serde_json::from_str::<LatestBarsResponse>(r#"{"bars":{}}"#).unwrap().bars.is_empty());
        let t: LatestTradeResponse = serde_json::from_str(
            r#"{"symbol":"AAPL","trade":{"t":"2021-02-06T13:04:56.334320128Z","x":"C","p":387.62,"s":100,"c":[" ","T"],"i":52983525029461,"z":"B"}}"#,
        )
        .unwrap();
        assert_eq!(t.trade.s, 100);
        let q: LatestQuoteResponse = serde_json::from_str(
            r#"{"symbol":"AAPL","quote":{"t":"2021-02-06T13:35:08.946977536Z","ax":"C","ap":387.7,"as":1,"bx":"N","bp":387.67,"bs":1,"c":["R"],"z":"C"}}"#,
        )
        .unwrap();
        assert_eq!(q.quote.ask_size, 1);
        assert!(serde_json::to_string(&q).unwrap().contains(r#""as":1"#));
        let s: SnapshotsResponse = serde_json::from_str(
            r#"{"AAPL":{"latestTrade":null,"latestQuote":null,"minuteBar":{"t":"2021-02-01T16:01:00Z","o":1,"h":1,"l":1,"c":1,"v":1},"dailyBar":null,"prevDailyBar":null}}"#,
        )
        .unwrap();
        assert!(s["AAPL"].minute_bar.is_some());
        let n: NewsResponse = serde_json::from_str(
            r#"{"news":[{"id":24843171,"headline":"H","author":"A","created_at":"2021-12-31T11:08:42Z","updated_at":"2021-12-31T11:08:43Z","summary":"","url":"https://x","images":[{"size":"thumb","url":"https://i"}],"symbols":["AAPL"],"source":"benzinga"}],"next_page_token":null}"#,
        )
        .unwrap();
        assert_eq!(n.news[0].images[0].size, "thumb");
        let e: ErrorBody = serde_json::from_str(r#"{"code":42210000,"message":"invalid timeframe"}"#).unwrap();
        assert_eq!(e.code, Some(42210000));
        let e: ErrorBody = serde_json::from_str(r#"{"message":"forbidden."}"#).unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"message":"forbidden."}"#);
    }

    #[test]
    fn invalid_upstream_bar_is_rejected() {
        let e = serde_json::from_str::<BarsResponse>(
            r#"{"bars":[{"t":"2021-02-01T16:01:00Z","o":1,"h":0.5,"l":1,"c":1,"v":1}],"symbol":"X","next_page_token":null}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("below `low`"), "{e}");
    }
}
