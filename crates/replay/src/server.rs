//! The HTTP + WebSocket server of `mtf replay`: Alpaca Market Data v2 routes over [`crate::data`].
//!
//! Besides Alpaca's routes it has two test hooks under `/_standin/`: `GET stats` (request counts per route,
//! so tests can see cache hits upstream) and `POST fail?…`, which makes the next `count` (default 1) data
//! requests fail:
//! - `status=429&retry_after=1`: that status (any 4xx/5xx), with a `Retry-After` header when given;
//! - `drop=1`: a 200 whose body stops half-way and the connection is cut (a dropped connection mid-body);
//! - `symbol=XYZ` (with either): only requests naming that symbol fail, and with `status=422` the body is
//!   Alpaca's `invalid symbol` error, as for a symbol Alpaca refuses;
//! - `after=N` (with any): the first `N` matching requests succeed, then the failures begin (a storm mid-run);
//! - `clear=1`: disarms.
//!
//! and `POST stream-fault?…`, which acts on every live stream connection at once: `action=drop` cuts them (no
//! close frame: a dropped network), `action=error&code=N` sends Alpaca's error message `N` (e.g. 407 slow client,
//! 500 internal error) and closes. `stats` also reports the live stream connections and the union of their
//! subscribed symbols (`stream_live`, `stream_symbols`), so tests can see a subscription shrink.

// Handlers' helpers return the reply itself (`Response`) as their error, built once on a cold path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeZone, Utc};
use mtf_alpaca::rest::{
    BarsResponse, LatestQuoteResponse, LatestTradeResponse, MultiBarsResponse, NewsResponse, Snapshot,
};
use mtf_alpaca::stream::{Channels, ClientMessage, ServerMessage, StreamBar, StreamTrade, render_frame};
use mtf_market::Timeframe;
use serde::Deserialize;
use serde_json::json;

use crate::ReplayError;
use crate::data::{
    BarsQuery, Clock, LATE_DELAY_MS, Store, bar_end_ms, has_late_trade, latest, page, preliminary, trades_of,
};

/// Shared state.
pub struct Standin {
    /// The bars, news and files served.
    pub store: Store,
    /// The replay clock, if one runs.
    pub clock: Option<Clock>,
    /// The accepted `APCA-API-KEY-ID`.
    pub key: String,
    /// The accepted `APCA-API-SECRET-KEY`.
    pub secret: String,
    counts: Mutex<BTreeMap<String, u64>>,
    fail: Mutex<Option<Fault>>,
    stream_keys: Mutex<std::collections::BTreeSet<String>>,
    next_conn: AtomicU64,
    /// Live stream connections' subscribed symbols (trades ∪ bars ∪ updated bars), by connection.
    stream_subs: Mutex<BTreeMap<u64, Vec<String>>>,
    /// Faults sent to every live stream connection (`POST /_standin/stream-fault`).
    stream_faults: tokio::sync::broadcast::Sender<StreamFault>,
}

/// A fault injected into every live stream connection.
#[derive(Debug, Clone, Copy)]
enum StreamFault {
    /// Cut the connection without a close frame.
    Drop,
    /// Send Alpaca's error message with this code, then close.
    Error(u16),
}

impl Standin {
    /// A stand-in over `store`, accepting the key pair.
    pub fn new(store: Store, clock: Option<Clock>, key: String, secret: String) -> Self {
        Standin {
            store,
            clock,
            key,
            secret,
            counts: Mutex::default(),
            fail: Mutex::default(),
            stream_keys: Mutex::default(),
            next_conn: AtomicU64::new(0),
            stream_subs: Mutex::default(),
            stream_faults: tokio::sync::broadcast::channel(16).0,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.map_or(i64::MAX, |c| c.now_ms())
    }
}

type Shared = Arc<Standin>;

/// An injected failure (see the module docs).
#[derive(Debug, Clone)]
struct Fault {
    status: u16,
    retry_after: Option<u64>,
    left: u64,
    drop: bool,
    symbol: Option<String>,
    after: u64,
}

/// The router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v2/stocks/bars", get(multi_bars))
        .route("/v2/stocks/{symbol}/bars", get(single_bars))
        .route("/v2/stocks/{symbol}/trades/latest", get(latest_trade))
        .route("/v2/stocks/{symbol}/quotes/latest", get(latest_quote))
        .route("/v2/stocks/trades/latest", get(latest_trades))
        .route("/v2/stocks/quotes/latest", get(latest_quotes))
        .route("/v2/stocks/bars/latest", get(latest_bars))
        .route("/v2/stocks/snapshots", get(snapshots))
        .route("/v1beta1/news", get(news))
        .route("/v2/{feed}", get(stream))
        .route("/_standin/stats", get(stats))
        .route("/_standin/fail", post(fail))
        .route("/_standin/stream-fault", post(stream_fault))
        .fallback(|| async { alpaca_error(StatusCode::NOT_FOUND, 40410000, "endpoint not found") })
        .with_state(state)
}

/// Serves until Ctrl-C.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(state: Shared, addr: SocketAddr) -> Result<(), ReplayError> {
    let io = |what: String| move |source| ReplayError::Io { what, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(io(format!("binding {addr}")))?;
    let local = listener.local_addr().map_err(io("reading the bound address".into()))?;
    eprintln!("mtf replay: Alpaca stand-in listening on http://{local}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(io("serving".into()))
}

fn alpaca_error(status: StatusCode, code: u64, message: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
}

/// Counts the request, checks the key headers and any injected failure.
fn gate(s: &Standin, route: &str, headers: &HeaderMap) -> Result<(), Response> {
    gate_for(s, route, headers, &[])
}

/// [`gate`] for a request naming `symbols` (a symbol-scoped fault fires only when one of them is named).
fn gate_for(s: &Standin, route: &str, headers: &HeaderMap, symbols: &[String]) -> Result<(), Response> {
    *s.counts.lock().map_err(|_| internal())?.entry(route.to_string()).or_default() += 1;
    let key = headers.get("APCA-API-KEY-ID").and_then(|v| v.to_str().ok());
    let secret = headers.get("APCA-API-SECRET-KEY").and_then(|v| v.to_str().ok());
    if key != Some(s.key.as_str()) || secret != Some(s.secret.as_str()) {
        return Err(alpaca_error(StatusCode::UNAUTHORIZED, 40110000, "request is not authorized"));
    }
    let mut fail = s.fail.lock().map_err(|_| internal())?;
    let Some(f) = fail.clone() else { return Ok(()) };
    if let Some(sym) = &f.symbol
        && !symbols.iter().any(|x| x.eq_ignore_ascii_case(sym))
    {
        return Ok(());
    }
    if f.after > 0 {
        *fail = Some(Fault { after: f.after - 1, ..f });
        return Ok(());
    }
    *fail = (f.left > 1).then(|| Fault { left: f.left - 1, ..f.clone() });
    drop(fail);
    if f.drop {
        return Err(dropped_body());
    }
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = match &f.symbol {
        Some(sym) if status == StatusCode::UNPROCESSABLE_ENTITY => unprocessable(&format!("invalid symbol: {sym}")),
        _ => alpaca_error(status, u64::from(status.as_u16()) * 100_000, "injected failure (stand-in)"),
    };
    if let Some(secs) = f.retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        r.headers_mut().insert("retry-after", v);
    }
    Err(r)
}

/// A 200 whose chunked body stops after a few bytes with the connection closed.
fn dropped_body() -> Response {
    let parts: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
        Ok(axum::body::Bytes::from_static(b"{\"bars\":{\"SPY\":[{\"t\":\"2011-01-03T14:30:00Z\",")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected: connection dropped mid-body")),
    ];
    let body = axum::body::Body::from_stream(futures_util::stream::iter(parts));
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

fn internal() -> Response {
    alpaca_error(StatusCode::INTERNAL_SERVER_ERROR, 50010000, "internal error")
}

#[derive(Debug, Deserialize, Default)]
struct BarsParams {
    symbols: Option<String>,
    timeframe: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
    sort: Option<String>,
}

fn unprocessable(msg: &str) -> Response {
    alpaca_error(StatusCode::UNPROCESSABLE_ENTITY, 42210000, msg)
}

fn parse_time(s: &str, what: &str) -> Result<i64, Response> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis())
        })
        .map_err(|_| unprocessable(&format!("invalid {what}: `{s}` is not RFC 3339")))
}

fn bars_query(s: &Standin, symbols: Vec<String>, p: &BarsParams) -> Result<BarsQuery, Response> {
    let tf_text = p.timeframe.as_deref().ok_or_else(|| unprocessable("timeframe is required"))?;
    let timeframe: Timeframe = tf_text.parse().map_err(|_| unprocessable(&format!("invalid timeframe `{tf_text}`")))?;
    let now = s.now_ms();
    let start_ms = match &p.start {
        Some(t) => parse_time(t, "start")?,
        // Alpaca defaults `start` to the beginning of the current day (New York).
        None => {
            let now = if now == i64::MAX { Utc::now().timestamp_millis() } else { now };
            let day = mtf_market::session::trading_day_number_ms(now);
            mtf_market::session::ny_utc_secs(day * 86_400) * 1000
        }
    };
    let end_ms = match &p.end {
        Some(t) => parse_time(t, "end")?,
        None => i64::MAX,
    };
    let limit = match &p.limit {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| unprocessable("invalid limit: must be 1–10000"))?,
        None => 1000,
    };
    let desc = match p.sort.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => return Err(unprocessable(&format!("invalid sort `{o}`"))),
    };
    for sym in &symbols {
        if mtf_alpaca::request::validate_symbol(sym).is_err() {
            return Err(unprocessable(&format!("invalid symbol `{sym}`")));
        }
    }
    Ok(BarsQuery { symbols, timeframe, start_ms, end_ms, limit, desc, page_token: p.page_token.clone() })
}

async fn single_bars(
    State(s): State<Shared>,
    Path(symbol): Path<String>,
    headers: HeaderMap,
    Query(p): Query<BarsParams>,
) -> Response {
    let symbol = symbol.to_ascii_uppercase();
    if let Err(r) = gate_for(&s, "bars", &headers, std::slice::from_ref(&symbol)) {
        return r;
    }
    let q = match bars_query(&s, vec![symbol.clone()], &p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    match page(&s.store, &q, s.now_ms()) {
        Ok((mut bars, next)) => {
            axum::Json(BarsResponse { bars: bars.remove(&symbol).unwrap_or_default(), symbol, next_page_token: next })
                .into_response()
        }
        Err(e) => unprocessable(&e.to_string()),
    }
}

async fn multi_bars(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<BarsParams>) -> Response {
    let symbols = symbol_list(p.symbols.as_deref());
    if let Err(r) = gate_for(&s, "bars", &headers, &symbols) {
        return r;
    }
    if symbols.is_empty() {
        return unprocessable("symbols is required");
    }
    let q = match bars_query(&s, symbols, &p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    match page(&s.store, &q, s.now_ms()) {
        Ok((bars, next)) => axum::Json(MultiBarsResponse { bars, next_page_token: next }).into_response(),
        Err(e) => unprocessable(&e.to_string()),
    }
}

/// Upper-case symbols of a comma-separated `symbols` parameter (empty entries dropped).
fn symbol_list(param: Option<&str>) -> Vec<String> {
    param.unwrap_or_default().split(',').filter(|x| !x.is_empty()).map(str::to_ascii_uppercase).collect()
}

fn not_found_symbol(symbol: &str) -> Response {
    alpaca_error(StatusCode::NOT_FOUND, 40410000, &format!("no data for symbol {symbol}"))
}

async fn latest_trade(State(s): State<Shared>, Path(symbol): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, "trades/latest", &headers) {
        return r;
    }
    let symbol = symbol.to_ascii_uppercase();
    match latest(&s.store, &symbol, s.now_ms()) {
        Some((trade, _)) => axum::Json(LatestTradeResponse { symbol, trade }).into_response(),
        None => not_found_symbol(&symbol),
    }
}

async fn latest_quote(State(s): State<Shared>, Path(symbol): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, "quotes/latest", &headers) {
        return r;
    }
    let symbol = symbol.to_ascii_uppercase();
    match latest(&s.store, &symbol, s.now_ms()) {
        Some((_, quote)) => axum::Json(LatestQuoteResponse { symbol, quote }).into_response(),
        None => not_found_symbol(&symbol),
    }
}

#[derive(Debug, Deserialize, Default)]
struct LatestParams {
    symbols: Option<String>,
}

/// Latest trades, quotes or bars of several symbols (`/v2/stocks/{trades|quotes|bars}/latest?symbols=`), keyed
/// by symbol under `key`, as the official SDKs ask for them. Symbols without data are left out, as Alpaca does.
fn latest_many(s: &Standin, route: &str, headers: &HeaderMap, p: &LatestParams, key: &str) -> Response {
    let symbols = symbol_list(p.symbols.as_deref());
    if let Err(r) = gate_for(s, route, headers, &symbols) {
        return r;
    }
    if symbols.is_empty() {
        return unprocessable("symbols is required");
    }
    let now = s.now_ms();
    let mut out = serde_json::Map::new();
    for sym in symbols {
        let value = match key {
            "bars" => s
                .store
                .symbols
                .get(&sym)
                .and_then(|d| d.minutes.iter().rev().find(|b| b.start_ms() + 60_000 <= now))
                .map(serde_json::to_value),
            "trades" => latest(&s.store, &sym, now).map(|(t, _)| serde_json::to_value(t)),
            _ => latest(&s.store, &sym, now).map(|(_, q)| serde_json::to_value(q)),
        };
        if let Some(Ok(v)) = value {
            out.insert(sym, v);
        }
    }
    axum::Json(json!({ key: out })).into_response()
}

async fn latest_trades(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<LatestParams>) -> Response {
    latest_many(&s, "trades/latest", &headers, &p, "trades")
}

async fn latest_quotes(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<LatestParams>) -> Response {
    latest_many(&s, "quotes/latest", &headers, &p, "quotes")
}

async fn latest_bars(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<LatestParams>) -> Response {
    latest_many(&s, "bars/latest", &headers, &p, "bars")
}

async fn snapshots(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<BarsParams>) -> Response {
    if let Err(r) = gate(&s, "snapshots", &headers) {
        return r;
    }
    let now = s.now_ms();
    let mut out = BTreeMap::new();
    for sym in symbol_list(p.symbols.as_deref()) {
        let Some((trade, quote)) = latest(&s.store, &sym, now) else { continue };
        let done = |tf: Timeframe| -> Vec<mtf_market::Bar> {
            s.store.bars(&sym, tf).into_iter().filter(|b| bar_end_ms(tf, b) <= now).collect()
        };
        let minutes = done(Timeframe::M1);
        let days = done(Timeframe::D1);
        out.insert(
            sym,
            Snapshot {
                latest_trade: Some(trade),
                latest_quote: Some(quote),
                minute_bar: minutes.last().copied(),
                daily_bar: days.last().copied(),
                prev_daily_bar: days.len().checked_sub(2).and_then(|i| days.get(i)).copied(),
            },
        );
    }
    axum::Json(out).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct NewsParams {
    symbols: Option<String>,
    limit: Option<usize>,
}

async fn news(State(s): State<Shared>, headers: HeaderMap, Query(p): Query<NewsParams>) -> Response {
    if let Err(r) = gate(&s, "news", &headers) {
        return r;
    }
    let limit = p.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return unprocessable("invalid limit: must be 1–50");
    }
    let wanted = symbol_list(p.symbols.as_deref());
    let now = s.now_ms();
    let mut items: Vec<_> = s
        .store
        .news
        .iter()
        .filter(|n| n.created_at.timestamp_millis() <= now)
        .filter(|n| wanted.is_empty() || n.symbols.iter().any(|x| wanted.contains(x)))
        .cloned()
        .collect();
    items.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    items.truncate(limit);
    axum::Json(NewsResponse { news: items, next_page_token: None }).into_response()
}

async fn stats(State(s): State<Shared>) -> Response {
    let counts = s.counts.lock().map(|c| c.clone()).unwrap_or_default();
    let total: u64 = counts.values().sum();
    let subs = s.stream_subs.lock().map(|m| m.clone()).unwrap_or_default();
    let symbols: std::collections::BTreeSet<&String> = subs.values().flatten().collect();
    axum::Json(json!({
        "requests": counts,
        "total": total,
        "now": s.clock.map(|c| Utc.timestamp_millis_opt(c.now_ms()).single()),
        "synthetic": s.store.synthetic,
        "stream_live": subs.len(),
        "stream_symbols": symbols,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct StreamFaultParams {
    action: String,
    code: Option<u16>,
}

async fn stream_fault(State(s): State<Shared>, Query(p): Query<StreamFaultParams>) -> Response {
    let fault = match (p.action.as_str(), p.code) {
        ("drop", _) => StreamFault::Drop,
        ("error", Some(code)) => StreamFault::Error(code),
        _ => return unprocessable("stream-fault needs action=drop or action=error&code=N"),
    };
    let reached = s.stream_faults.send(fault).unwrap_or(0);
    axum::Json(json!({ "connections": reached })).into_response()
}

#[derive(Debug, Deserialize)]
struct FailParams {
    status: Option<u16>,
    retry_after: Option<u64>,
    count: Option<u64>,
    drop: Option<u8>,
    symbol: Option<String>,
    after: Option<u64>,
    clear: Option<u8>,
}

async fn fail(State(s): State<Shared>, Query(p): Query<FailParams>) -> Response {
    if p.clear.is_some_and(|c| c != 0) {
        if let Ok(mut f) = s.fail.lock() {
            *f = None;
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    let drop = p.drop.is_some_and(|d| d != 0);
    let Some(status) = p.status.or(drop.then_some(200)) else {
        return unprocessable("fail needs status=… or drop=1");
    };
    if let Ok(mut f) = s.fail.lock() {
        *f = Some(Fault {
            status,
            retry_after: p.retry_after,
            left: p.count.unwrap_or(1).max(1),
            drop,
            symbol: p.symbol.map(|x| x.to_ascii_uppercase()),
            after: p.after.unwrap_or(0),
        });
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn stream(
    State(s): State<Shared>,
    Path(feed): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if feed != "iex" && feed != "sip" {
        return alpaca_error(StatusCode::NOT_FOUND, 40410000, "endpoint not found");
    }
    if let Ok(mut c) = s.counts.lock() {
        *c.entry("stream".into()).or_default() += 1;
    }
    // Alpaca answers in MessagePack to clients that ask for it on the upgrade request (the official SDKs do).
    let msgpack = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("application/msgpack"));
    ws.on_upgrade(move |socket| async move {
        if let Err(e) = stream_session(s, socket, Wire { msgpack }).await {
            tracing::debug!("stream session ended: {e}");
        }
    })
}

/// How a stream connection's frames are encoded: JSON text, or MessagePack binary.
#[derive(Debug, Clone, Copy)]
struct Wire {
    msgpack: bool,
}

async fn send_on(socket: &mut WebSocket, wire: Wire, frame: &[ServerMessage]) -> Result<(), axum::Error> {
    let msg = if wire.msgpack {
        let json = serde_json::to_value(frame).unwrap_or_default();
        Message::Binary(crate::msgpack::encode(&json).into())
    } else {
        Message::Text(render_frame(frame).into())
    };
    socket.send(msg).await?;
    Ok(())
}

/// A client message from a text (JSON) or binary (MessagePack) frame; `None` for other frames.
fn client_message(msg: &Message) -> Option<Result<ClientMessage, String>> {
    match msg {
        Message::Text(t) => Some(serde_json::from_str(t).map_err(|e| e.to_string())),
        Message::Binary(b) => {
            Some(crate::msgpack::decode(b).and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string())))
        }
        _ => None,
    }
}

/// One client connection: connected → auth (10 s) → subscribe → replayed trades and bars as the clock passes them.
async fn stream_session(s: Shared, mut socket: WebSocket, wire: Wire) -> Result<(), axum::Error> {
    let conn = s.next_conn.fetch_add(1, Ordering::Relaxed);
    send_on(&mut socket, wire, &[ServerMessage::Success { msg: "connected".into() }]).await?;
    let auth = tokio::time::timeout(std::time::Duration::from_secs(10), socket.recv()).await;
    let Ok(Some(Ok(first))) = auth else {
        send_on(&mut socket, wire, &[ServerMessage::Error { code: 404, msg: "auth timeout".into() }]).await?;
        return Ok(());
    };
    let Some(parsed) = client_message(&first) else {
        send_on(&mut socket, wire, &[ServerMessage::Error { code: 404, msg: "auth timeout".into() }]).await?;
        return Ok(());
    };
    let key = match parsed {
        Ok(ClientMessage::Auth { key, secret }) if key == s.key && secret == s.secret => key,
        Ok(ClientMessage::Auth { .. }) => {
            send_on(&mut socket, wire, &[ServerMessage::Error { code: 402, msg: "auth failed".into() }]).await?;
            return Ok(());
        }
        _ => {
            send_on(&mut socket, wire, &[ServerMessage::Error { code: 401, msg: "not authenticated".into() }]).await?;
            return Ok(());
        }
    };
    let inserted = s.stream_keys.lock().map(|mut keys| keys.insert(key.clone())).unwrap_or(false);
    if !inserted {
        send_on(&mut socket, wire, &[ServerMessage::Error { code: 406, msg: "connection limit exceeded".into() }])
            .await?;
        return Ok(());
    }
    let result = stream_loop(&s, &mut socket, wire, conn).await;
    if let Ok(mut keys) = s.stream_keys.lock() {
        keys.remove(&key);
    }
    if let Ok(mut subs) = s.stream_subs.lock() {
        subs.remove(&conn);
    }
    result
}

/// Records a connection's subscribed symbols for `stats`.
fn record_subs(s: &Standin, conn: u64, subs: &Channels) {
    let mut all: Vec<String> = subs.trades.iter().chain(&subs.bars).chain(&subs.updated_bars).cloned().collect();
    all.sort();
    all.dedup();
    if let Ok(mut m) = s.stream_subs.lock() {
        m.insert(conn, all);
    }
}

async fn stream_loop(s: &Shared, socket: &mut WebSocket, wire: Wire, conn: u64) -> Result<(), axum::Error> {
    let mut faults = s.stream_faults.subscribe();
    send_on(socket, wire, &[ServerMessage::Success { msg: "authenticated".into() }]).await?;
    let mut subs = Channels::default();
    record_subs(s, conn, &subs);
    let mut cursor = s.now_ms().min(i64::MAX - 1);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => match client_message(&m).unwrap_or_else(|| Err("no message".into())) {
                    Ok(ClientMessage::Subscribe(c)) => {
                        let add = |a: &mut Vec<String>, b: Vec<String>| { for x in b { let x = x.to_ascii_uppercase(); if !a.contains(&x) { a.push(x); } } };
                        add(&mut subs.trades, c.trades);
                        add(&mut subs.quotes, c.quotes);
                        add(&mut subs.bars, c.bars);
                        add(&mut subs.updated_bars, c.updated_bars);
                        add(&mut subs.daily_bars, c.daily_bars);
                        record_subs(s, conn, &subs);
                        send_on(socket, wire, &[ServerMessage::Subscription(subs.clone())]).await?;
                    }
                    Ok(ClientMessage::Unsubscribe(c)) => {
                        subs.trades.retain(|x| !c.trades.contains(x));
                        subs.quotes.retain(|x| !c.quotes.contains(x));
                        subs.bars.retain(|x| !c.bars.contains(x));
                        subs.updated_bars.retain(|x| !c.updated_bars.contains(x));
                        subs.daily_bars.retain(|x| !c.daily_bars.contains(x));
                        record_subs(s, conn, &subs);
                        send_on(socket, wire, &[ServerMessage::Subscription(subs.clone())]).await?;
                    }
                    _ => send_on(socket, wire, &[ServerMessage::Error { code: 400, msg: "invalid syntax".into() }]).await?,
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
            fault = faults.recv() => match fault {
                // Returning drops the socket: the TCP connection ends without a close frame.
                Ok(StreamFault::Drop) => return Ok(()),
                Ok(StreamFault::Error(code)) => {
                    let msg = match code { 406 => "connection limit exceeded", 407 => "slow client", 500 => "internal error", _ => "injected error" };
                    send_on(socket, wire, &[ServerMessage::Error { code, msg: msg.into() }]).await?;
                    let _ = socket.send(Message::Close(None)).await;
                    return Ok(());
                }
                Err(_) => {}
            },
            _ = tick.tick() => {
                let Some(clock) = s.clock else { continue };
                let now = clock.now_ms();
                if now <= cursor { continue; }
                let frame = replay_frame(&s.store, &subs, cursor, now);
                cursor = now;
                if !frame.is_empty() {
                    send_on(socket, wire, &frame).await?;
                }
            }
        }
    }
}

/// Messages whose instant lies in `(from, to]`: trades at their time, minute bars at their end; for minutes with a
/// late print ([`has_late_trade`]) the last trade and the corrected bar (`u`) come [`LATE_DELAY_MS`] after the end,
/// and the bar sent at the end lacks that print.
pub fn replay_frame(store: &Store, subs: &Channels, from: i64, to: i64) -> Vec<ServerMessage> {
    let mut out: Vec<(i64, u8, ServerMessage)> = Vec::new();
    let symbols: std::collections::BTreeSet<&String> =
        subs.trades.iter().chain(&subs.bars).chain(&subs.updated_bars).collect();
    let within = |at: i64| at > from && at <= to;
    for sym in symbols {
        let Some(d) = store.symbols.get(sym) else { continue };
        // Minutes whose last message (end + late delay) is after `from` and whose first print is before `to`.
        let lo = d.minutes.partition_point(|b| b.start_ms() + 60_000 + LATE_DELAY_MS < from);
        for bar in d.minutes[lo..].iter().take_while(|b| b.start_ms() <= to) {
            let end = bar.start_ms() + 60_000;
            let late = has_late_trade(bar);
            if subs.trades.contains(sym) {
                for (k, t) in trades_of(bar).into_iter().enumerate() {
                    let at = if late && k == 3 { end + LATE_DELAY_MS } else { t.t.timestamp_millis() };
                    if within(at) {
                        out.push((at, 0, ServerMessage::Trade(StreamTrade { symbol: sym.clone(), trade: t })));
                    }
                }
            }
            if subs.bars.contains(sym) && within(end) {
                let b = if late { preliminary(bar) } else { *bar };
                out.push((end, 1, ServerMessage::Bar(StreamBar { symbol: sym.clone(), bar: b })));
            }
            if late && subs.updated_bars.contains(sym) && within(end + LATE_DELAY_MS) {
                out.push((
                    end + LATE_DELAY_MS,
                    2,
                    ServerMessage::UpdatedBar(StreamBar { symbol: sym.clone(), bar: *bar }),
                ));
            }
        }
    }
    out.sort_by_key(|(t, order, _)| (*t, *order));
    out.into_iter().map(|(_, _, m)| m).collect()
}
