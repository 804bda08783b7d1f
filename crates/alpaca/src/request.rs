//! Request building (path + query, relative to the data API base URL) and pagination.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use mtf_market::{Bar, Timeframe};

use crate::rest::{BarsResponse, MultiBarsResponse};

/// A request that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No symbols.
    #[error("at least one symbol is required")]
    NoSymbols,
    /// A symbol with characters Alpaca does not use.
    #[error("invalid symbol `{0}`: use 1–10 characters A–Z, 0–9, `.` or `-`")]
    BadSymbol(String),
    /// `limit` outside Alpaca's range.
    #[error("limit {value} is outside {min}..={max}")]
    BadLimit {
        /// The rejected value.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// `start` after `end`.
    #[error("start {start} is after end {end}")]
    StartAfterEnd {
        /// Start, RFC 3339.
        start: String,
        /// End, RFC 3339.
        end: String,
    },
}

/// Validates and normalises (upper-cases) a stock symbol.
///
/// # Errors
/// [`RequestError::BadSymbol`].
pub fn validate_symbol(s: &str) -> Result<String, RequestError> {
    let up = s.trim().to_ascii_uppercase();
    // Letters, digits, `.` and `-` (BRK.B, BF-B), starting and ending with a letter or digit: never `.`, `..`
    // or a leading `-`, which would make a path segment of their own upstream.
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let ok = (1..=10).contains(&up.len())
        && up.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && edge_ok(up.chars().next())
        && edge_ok(up.chars().last())
        && !up.contains("..");
    if ok { Ok(up) } else { Err(RequestError::BadSymbol(s.to_string())) }
}

/// Data feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// IEX (free plan).
    Iex,
    /// All US exchanges (paid; recent data delayed 15 min on the free plan).
    Sip,
}

/// Corporate-action adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// None.
    Raw,
    /// Splits.
    Split,
    /// Dividends.
    Dividend,
    /// Splits and dividends.
    All,
}

impl Feed {
    /// Alpaca's query value (`iex`, `sip`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Feed::Iex => "iex",
            Feed::Sip => "sip",
        }
    }
}

impl std::str::FromStr for Feed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "iex" => Ok(Feed::Iex),
            "sip" => Ok(Feed::Sip),
            _ => Err(format!("unknown feed `{s}` (iex or sip)")),
        }
    }
}

impl Adjustment {
    /// Alpaca's query value (`raw`, `split`, `dividend`, `all`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Adjustment::Raw => "raw",
            Adjustment::Split => "split",
            Adjustment::Dividend => "dividend",
            Adjustment::All => "all",
        }
    }
}

impl std::str::FromStr for Adjustment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "raw" => Ok(Adjustment::Raw),
            "split" => Ok(Adjustment::Split),
            "dividend" => Ok(Adjustment::Dividend),
            "all" => Ok(Adjustment::All),
            _ => Err(format!("unknown adjustment `{s}` (raw, split, dividend or all)")),
        }
    }
}

/// Sort order by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

fn encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b',') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

struct Query(String);

impl Query {
    fn new(path: String) -> Self {
        Query(path)
    }
    fn push(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.contains('?') { '&' } else { '?' });
        self.0.push_str(key);
        self.0.push('=');
        encode(&mut self.0, value);
    }
    fn push_opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.push(key, v);
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `GET /v2/stocks/{symbol}/bars` (one symbol) or `GET /v2/stocks/bars?symbols=` (several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsRequest {
    /// Symbols (validated when the path is built).
    pub symbols: Vec<String>,
    /// Bar size.
    pub timeframe: Timeframe,
    /// Inclusive start, UTC.
    pub start: Option<DateTime<Utc>>,
    /// Inclusive end, UTC.
    pub end: Option<DateTime<Utc>>,
    /// Page size, 1–10000 (Alpaca's default 1000).
    pub limit: Option<u32>,
    /// Continuation token from the previous page.
    pub page_token: Option<String>,
    /// Feed.
    pub feed: Option<Feed>,
    /// Adjustment.
    pub adjustment: Option<Adjustment>,
    /// Sort order.
    pub sort: Option<Sort>,
}

impl BarsRequest {
    /// A request for `symbols` at `timeframe` with every option unset.
    pub fn new<S: Into<String>>(symbols: impl IntoIterator<Item = S>, timeframe: Timeframe) -> Self {
        Self {
            symbols: symbols.into_iter().map(Into::into).collect(),
            timeframe,
            start: None,
            end: None,
            limit: None,
            page_token: None,
            feed: None,
            adjustment: None,
            sort: None,
        }
    }
    /// Sets the range.
    #[must_use]
    pub fn range(mut self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Self {
        self.start = start;
        self.end = end;
        self
    }
    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Sets the feed.
    #[must_use]
    pub fn feed(mut self, feed: Feed) -> Self {
        self.feed = Some(feed);
        self
    }
    /// Sets the sort order.
    #[must_use]
    pub fn sort(mut self, sort: Sort) -> Self {
        self.sort = Some(sort);
        self
    }
    /// Sets the adjustment.
    #[must_use]
    pub fn adjustment(mut self, adjustment: Adjustment) -> Self {
        self.adjustment = Some(adjustment);
        self
    }
    /// The same request for the page after `token`.
    #[must_use]
    pub fn next_page(&self, token: &str) -> Self {
        Self { page_token: Some(token.to_string()), ..self.clone() }
    }

    /// Path and query, e.g. `/v2/stocks/AAPL/bars?timeframe=1Min&start=2021-02-01T14:30:00Z&limit=1000`.
    ///
    /// # Errors
    /// [`RequestError`] for no or invalid symbols, a limit outside 1–10000, or `start > end`.
    pub fn path_and_query(&self) -> Result<String, RequestError> {
        let symbols = self.symbols.iter().map(|s| validate_symbol(s)).collect::<Result<Vec<_>, _>>()?;
        if let Some(l) = self.limit
            && !(1..=10_000).contains(&l)
        {
            return Err(RequestError::BadLimit { value: l, min: 1, max: 10_000 });
        }
        if let (Some(s), Some(e)) = (self.start, self.end)
            && s > e
        {
            return Err(RequestError::StartAfterEnd { start: rfc3339(s), end: rfc3339(e) });
        }
        let mut q = match symbols.as_slice() {
            [] => return Err(RequestError::NoSymbols),
            [one] => Query::new(format!("/v2/stocks/{one}/bars")),
            many => {
                let mut q = Query::new("/v2/stocks/bars".to_string());
                q.push("symbols", &many.join(","));
                q
            }
        };
        q.push("timeframe", self.timeframe.alpaca());
        q.push_opt("start", self.start.map(rfc3339).as_deref());
        q.push_opt("end", self.end.map(rfc3339).as_deref());
        q.push_opt("limit", self.limit.map(|l| l.to_string()).as_deref());
        q.push_opt("page_token", self.page_token.as_deref());
        q.push_opt("feed", self.feed.map(Feed::as_str));
        q.push_opt("adjustment", self.adjustment.map(Adjustment::as_str));
        q.push_opt(
            "sort",
            self.sort.map(|s| match s {
                Sort::Asc => "asc",
                Sort::Desc => "desc",
            }),
        );
        Ok(q.0)
    }
}

/// `GET /v2/stocks/{symbol}/trades/latest`.
///
/// # Errors
/// [`RequestError::BadSymbol`].
pub fn latest_trade_path(symbol: &str, feed: Option<Feed>) -> Result<String, RequestError> {
    latest_path(symbol, "trades", feed)
}

/// `GET /v2/stocks/{symbol}/quotes/latest`.
///
/// # Errors
/// [`RequestError::BadSymbol`].
pub fn latest_quote_path(symbol: &str, feed: Option<Feed>) -> Result<String, RequestError> {
    latest_path(symbol, "quotes", feed)
}

fn latest_path(symbol: &str, what: &str, feed: Option<Feed>) -> Result<String, RequestError> {
    let s = validate_symbol(symbol)?;
    let mut q = Query::new(format!("/v2/stocks/{s}/{what}/latest"));
    q.push_opt("feed", feed.map(|f| if f == Feed::Iex { "iex" } else { "sip" }));
    Ok(q.0)
}

/// `GET /v2/stocks/snapshots?symbols=...`.
///
/// # Errors
/// [`RequestError`] for no or invalid symbols.
pub fn snapshots_path(symbols: &[&str], feed: Option<Feed>) -> Result<String, RequestError> {
    multi_symbol_path("/v2/stocks/snapshots", symbols, feed)
}

/// `GET /v2/stocks/bars/latest?symbols=...`: each symbol's newest 1-minute bar
/// ([`crate::rest::LatestBarsResponse`]).
///
/// # Errors
/// [`RequestError`] for no or invalid symbols.
pub fn latest_bars_path(symbols: &[&str], feed: Option<Feed>) -> Result<String, RequestError> {
    multi_symbol_path("/v2/stocks/bars/latest", symbols, feed)
}

fn multi_symbol_path(path: &str, symbols: &[&str], feed: Option<Feed>) -> Result<String, RequestError> {
    if symbols.is_empty() {
        return Err(RequestError::NoSymbols);
    }
    let s = symbols.iter().map(|s| validate_symbol(s)).collect::<Result<Vec<_>, _>>()?;
    let mut q = Query::new(path.to_string());
    q.push("symbols", &s.join(","));
    q.push_opt("feed", feed.map(|f| if f == Feed::Iex { "iex" } else { "sip" }));
    Ok(q.0)
}

/// `GET /v1beta1/news?symbols=...&limit=...` (limit 1–50), newest first.
///
/// # Errors
/// [`RequestError`] for invalid symbols or limit.
pub fn news_path(symbols: &[&str], limit: u32, page_token: Option<&str>) -> Result<String, RequestError> {
    if !(1..=50).contains(&limit) {
        return Err(RequestError::BadLimit { value: limit, min: 1, max: 50 });
    }
    let s = symbols.iter().map(|s| validate_symbol(s)).collect::<Result<Vec<_>, _>>()?;
    let mut q = Query::new("/v1beta1/news".to_string());
    if !s.is_empty() {
        q.push("symbols", &s.join(","));
    }
    q.push("limit", &limit.to_string());
    q.push("sort", "desc");
    q.push_opt("page_token", page_token);
    Ok(q.0)
}

/// Follows `next_page_token` across pages of a bars request and merges the bars per symbol.
///
/// Feed it each response with [`BarsPager::push_single`] or [`BarsPager::push_multi`]; it returns the next
/// request to send, or `None` when done. A page cap bounds the work; when the cap stops paging early,
/// [`BarsPager::truncated`] is `true` — so callers that must keep the **newest** bars request them with
/// `sort=desc` (the cap then drops the oldest) and reverse.
#[derive(Debug, Clone)]
pub struct BarsPager {
    request: BarsRequest,
    bars: BTreeMap<String, Vec<Bar>>,
    pages: usize,
    max_pages: usize,
    truncated: bool,
}

impl BarsPager {
    /// A pager for `request`, fetching at most `max_pages` pages.
    pub fn new(request: BarsRequest, max_pages: usize) -> Self {
        Self { request, bars: BTreeMap::new(), pages: 0, max_pages: max_pages.max(1), truncated: false }
    }
    /// The first request.
    pub fn first(&self) -> &BarsRequest {
        &self.request
    }
    /// Adds a single-symbol page; returns the next request, if any.
    pub fn push_single(&mut self, page: BarsResponse) -> Option<BarsRequest> {
        self.bars.entry(page.symbol).or_default().extend(page.bars);
        self.advance(page.next_page_token)
    }
    /// Adds a multi-symbol page; returns the next request, if any.
    pub fn push_multi(&mut self, page: MultiBarsResponse) -> Option<BarsRequest> {
        for (sym, bars) in page.bars {
            self.bars.entry(sym).or_default().extend(bars);
        }
        self.advance(page.next_page_token)
    }
    fn advance(&mut self, token: Option<String>) -> Option<BarsRequest> {
        self.pages += 1;
        let token = token.filter(|t| !t.is_empty())?;
        if self.pages >= self.max_pages {
            self.truncated = true;
            return None;
        }
        Some(self.request.next_page(&token))
    }
    /// Whether the page cap stopped paging before the last page.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// Pages received so far.
    pub fn pages(&self) -> usize {
        self.pages
    }
    /// The merged bars per symbol, oldest first whatever the request's sort order.
    pub fn finish(self) -> BTreeMap<String, Vec<Bar>> {
        let mut out = self.bars;
        for v in out.values_mut() {
            v.sort_by_key(Bar::start_ms);
            v.dedup_by_key(|b| b.start_ms());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn bar(min: i64) -> Bar {
        Bar::new(
            Utc.with_ymd_and_hms(2021, 2, 1, 14, 30, 0).unwrap() + chrono::Duration::minutes(min),
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
        )
        .unwrap()
    }

    #[test]
    fn symbols_are_letters_digits_dots_and_dashes_never_a_path_segment_of_their_own() {
        for ok in ["SPY", "brk.b", "BF-B", "A", "X1"] {
            assert!(validate_symbol(ok).is_ok(), "{ok}");
        }
        for bad in [".", "..", "...", ".SPY", "SPY.", "A..B", "-A", "A-", "*", "SPY/X", "", "ABCDEFGHIJK", "S P"] {
            assert!(validate_symbol(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn builds_single_and_multi_symbol_paths() {
        let start = Utc.with_ymd_and_hms(2021, 2, 1, 14, 30, 0).unwrap();
        let r = BarsRequest::new(["aapl"], Timeframe::H1)
            .range(Some(start), None)
            .limit(10_000)
            .feed(Feed::Iex)
            .sort(Sort::Desc)
            .adjustment(Adjustment::Split);
        assert_eq!(
            r.path_and_query().unwrap(),
            "/v2/stocks/AAPL/bars?timeframe=1Hour&start=2021-02-01T14:30:00Z&limit=10000&feed=iex&adjustment=split&sort=desc"
        );
        let m = BarsRequest::new(["AAPL", "MSFT"], Timeframe::D1).next_page("QUFQ+/=");
        assert_eq!(
            m.path_and_query().unwrap(),
            "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Day&page_token=QUFQ%2B%2F%3D"
        );
    }

    #[test]
    fn invalid_requests_are_errors() {
        assert_eq!(
            BarsRequest::new(Vec::<String>::new(), Timeframe::M1).path_and_query(),
            Err(RequestError::NoSymbols)
        );
        assert!(matches!(BarsRequest::new(["AA PL"], Timeframe::M1).path_and_query(), Err(RequestError::BadSymbol(_))));
        assert!(matches!(
            BarsRequest::new(["AAPL"], Timeframe::M1).limit(0).path_and_query(),
            Err(RequestError::BadLimit { .. })
        ));
        assert!(matches!(
            BarsRequest::new(["AAPL"], Timeframe::M1).limit(10_001).path_and_query(),
            Err(RequestError::BadLimit { .. })
        ));
        let t = Utc.with_ymd_and_hms(2021, 2, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            BarsRequest::new(["AAPL"], Timeframe::M1)
                .range(Some(t), Some(t - chrono::Duration::days(1)))
                .path_and_query(),
            Err(RequestError::StartAfterEnd { .. })
        ));
        assert!(news_path(&["AAPL"], 51, None).is_err());
        assert!(snapshots_path(&[], None).is_err());
    }

    #[test]
    fn other_paths() {
        assert_eq!(latest_trade_path("spy", Some(Feed::Iex)).unwrap(), "/v2/stocks/SPY/trades/latest?feed=iex");
        assert_eq!(latest_quote_path("SPY", None).unwrap(), "/v2/stocks/SPY/quotes/latest");
        assert_eq!(snapshots_path(&["SPY", "AAPL"], None).unwrap(), "/v2/stocks/snapshots?symbols=SPY,AAPL");
        assert_eq!(
            latest_bars_path(&["spy", "AAPL"], Some(Feed::Iex)).unwrap(),
            "/v2/stocks/bars/latest?symbols=SPY,AAPL&feed=iex"
        );
        assert!(latest_bars_path(&[], None).is_err());
        assert!(latest_bars_path(&["B@D"], None).is_err());
        assert_eq!(news_path(&["AAPL"], 10, None).unwrap(), "/v1beta1/news?symbols=AAPL&limit=10&sort=desc");
    }

    #[test]
    fn pager_follows_tokens_and_merges() {
        let mut p = BarsPager::new(BarsRequest::new(["AAPL", "MSFT"], Timeframe::M1).limit(2), 10);
        let next = p
            .push_multi(MultiBarsResponse {
                bars: [("AAPL".to_string(), vec![bar(0), bar(1)])].into(),
                next_page_token: Some("t1".into()),
            })
            .unwrap();
        assert_eq!(next.page_token.as_deref(), Some("t1"));
        let done = p.push_multi(MultiBarsResponse {
            bars: [("AAPL".to_string(), vec![bar(2)]), ("MSFT".to_string(), vec![bar(0)])].into(),
            next_page_token: None,
        });
        assert!(done.is_none());
        assert!(!p.truncated());
        let out = p.finish();
        assert_eq!(out["AAPL"].len(), 3);
        assert_eq!(out["MSFT"].len(), 1);
    }

    #[test]
    fn pager_cap_with_desc_sort_keeps_newest() {
        let mut p = BarsPager::new(BarsRequest::new(["AAPL"], Timeframe::M1).sort(Sort::Desc), 1);
        let next = p.push_single(BarsResponse {
            bars: vec![bar(9), bar(8)],
            symbol: "AAPL".into(),
            next_page_token: Some("x".into()),
        });
        assert!(next.is_none());
        assert!(p.truncated());
        let out = p.finish();
        assert_eq!(
            out["AAPL"].iter().map(|b| b.start_ms()).collect::<Vec<_>>(),
            vec![bar(8).start_ms(), bar(9).start_ms()]
        );
    }
}
