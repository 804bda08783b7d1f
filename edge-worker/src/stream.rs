//! The shared realtime stream: one Durable Object holds the single upstream Alpaca stream connection and fans
//! its trades and bars out to every subscribed WebSocket client, reconnecting with backoff while clients remain.
//!
//! Bounded: at most [`MAX_CLIENTS`] clients, [`MAX_SYMBOLS_PER_CLIENT`] symbols each, [`MAX_SUBSCRIBED`] upstream.
//! The upstream subscription shrinks when clients leave (symbols nobody wants are unsubscribed) and the upstream
//! connection is closed when the last client leaves. Upstream errors are handled by Alpaca's code
//! ([`crate::logic::stream_error_action`]); the backoff resets after a healthy session, and every change of the
//! upstream's state is told to the clients (`{"T":"status"}`). Slow readers: every client has a credit window
//! ([`crate::flow`]): it acknowledges the frames it has processed, and one that falls `STREAM_MAX_UNACKED`
//! frames behind is disconnected (1008), as is one whose socket refuses a frame (1011).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use futures_util::StreamExt;
use mtf_alpaca::stream::{Channels, ClientMessage, ServerMessage, parse_frame, render_frame};
use serde_json::json;
use worker::{
    DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketPair, WebsocketEvent, durable_object,
    wasm_bindgen_futures::spawn_local,
};

use crate::config::Config;
use crate::flow::{Admit, ClientFrame, Credit, SLOW_READER_CLOSE};
use crate::wire::{StreamHello, StreamStatusMessage, UpstreamState};

/// Symbols one client may subscribe (as the route allows).
const MAX_SYMBOLS_PER_CLIENT: usize = 30;
/// Clients one hub serves.
const MAX_CLIENTS: usize = 500;
/// Symbols the shared upstream subscription may hold (Alpaca's free plan allows 30 for IEX; paid more).
const MAX_SUBSCRIBED: usize = 200;

struct Client {
    id: u64,
    socket: WebSocket,
    symbols: BTreeSet<String>,
    credit: Credit,
}

/// Why a client is disconnected.
enum Cut {
    /// Its socket refused a frame.
    SendFailed,
    /// It fell this many frames behind.
    TooSlow(u64),
}

impl Client {
    /// Sends one frame through the client's credit window.
    fn offer(&mut self, text: &str, max_unacked: u64) -> std::result::Result<(), Cut> {
        if let Admit::TooSlow { behind } = self.credit.admit(max_unacked) {
            return Err(Cut::TooSlow(behind));
        }
        self.socket.send_with_str(text).map_err(|_| Cut::SendFailed)?;
        self.credit.sent_one();
        Ok(())
    }
}

#[derive(Default)]
struct Hub {
    clients: Vec<Client>,
    upstream: Option<WebSocket>,
    /// Symbols subscribed upstream.
    subscribed: BTreeSet<String>,
    running: bool,
    next_id: u64,
    /// Upstream connections opened since this object started (tests check it stays 1 for many clients).
    upstream_connections: u64,
    frames: u64,
    last_error: Option<String>,
    /// Clients disconnected because a send failed.
    dropped_clients: u64,
    /// Clients disconnected because they fell `max_unacked` frames behind.
    slow_clients: u64,
    /// Frames a client may be sent ahead of its acknowledgements.
    max_unacked: u64,
    /// The upstream connection's state, as told to clients.
    upstream_state: Option<UpstreamState>,
}

impl Hub {
    /// After clients left: unsubscribes the symbols nobody wants any more, or closes the upstream when nobody
    /// is left.
    fn shrink(&mut self) {
        if self.clients.is_empty() {
            if let Some(up) = self.upstream.take() {
                let _ = up.close(Some(1000), Some("no clients"));
            }
            self.subscribed.clear();
            return;
        }
        let wanted: BTreeSet<String> = self.clients.iter().flat_map(|c| c.symbols.iter().cloned()).collect();
        let gone = crate::logic::unwanted(&self.subscribed, &wanted);
        if gone.is_empty() {
            return;
        }
        if let Some(up) = &self.upstream {
            let _ = up.send_with_str(unsubscribe(&gone));
        }
        for g in &gone {
            self.subscribed.remove(g);
        }
    }

    fn remove_client(&mut self, id: u64) {
        self.clients.retain(|c| c.id != id);
        self.shrink();
    }

    /// Sends each client its frame (`None`: nothing for it) through its credit window, and disconnects the
    /// clients that cannot take it: 1008 for one too far behind, 1011 for a refused send.
    fn fan_out(&mut self, frame_for: impl Fn(&Client) -> Option<String>) {
        let max = self.max_unacked;
        let mut cut: Vec<(u64, Cut)> = Vec::new();
        for c in &mut self.clients {
            if let Some(text) = frame_for(c)
                && let Err(why) = c.offer(&text, max)
            {
                cut.push((c.id, why));
            }
        }
        for (id, why) in cut {
            if let Some(c) = self.clients.iter().find(|c| c.id == id) {
                let _ = match why {
                    Cut::TooSlow(behind) => c.socket.close(
                        Some(SLOW_READER_CLOSE),
                        Some(&format!("slow reader: {behind} frames not acknowledged")),
                    ),
                    Cut::SendFailed => c.socket.close(Some(1011), Some("could not deliver a frame")),
                };
            }
            match why {
                Cut::TooSlow(_) => self.slow_clients += 1,
                Cut::SendFailed => self.dropped_clients += 1,
            }
            self.remove_client(id);
        }
    }

    /// Records the upstream's new state and tells every client (once per change).
    fn set_upstream_state(&mut self, state: UpstreamState, retry_in_ms: Option<u64>, reason: Option<String>) {
        if self.upstream_state == Some(state) && retry_in_ms.is_none() {
            return;
        }
        self.upstream_state = Some(state);
        let msg = StreamStatusMessage { kind: "status".into(), upstream: state, retry_in_ms, reason };
        let text = serde_json::to_string(&[msg]).unwrap_or_default();
        self.fan_out(|_| Some(text.clone()));
    }
}

/// The Durable Object behind `GET /api/v1/stream`.
#[durable_object]
pub struct StreamHub {
    env: Env,
    hub: Rc<RefCell<Hub>>,
}

impl DurableObject for StreamHub {
    fn new(_state: State, env: Env) -> Self {
        let max_unacked = Config::from_env(&env).stream_max_unacked;
        StreamHub { env, hub: Rc::new(RefCell::new(Hub { max_unacked, ..Hub::default() })) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        if req.path().ends_with("/status") {
            let h = self.hub.borrow();
            return Response::from_json(&json!({
                "clients": h.clients.len(),
                "upstream_connected": h.upstream.is_some(),
                "upstream_connections": h.upstream_connections,
                "subscribed": h.subscribed,
                "frames": h.frames,
                "last_error": h.last_error,
                "dropped_clients": h.dropped_clients,
                "slow_clients": h.slow_clients,
                "max_unacked": h.max_unacked,
                "upstream_state": h.upstream_state,
            }));
        }
        // Validated here as well as in the route (the Durable Object is reachable only through it, but its
        // input is its own): one `symbols` parameter, 1–30 valid symbols, and the hub's caps.
        let refuse = |status: u16, code: &str, message: String| {
            Response::from_json(&json!({ "error": { "code": code, "message": message } }))
                .map(|r| r.with_status(status))
        };
        let query = match crate::logic::query_map(req.url()?.query_pairs().into_owned()) {
            Ok(q) => q,
            Err(e) => return refuse(e.status, e.code, e.message),
        };
        let symbols: BTreeSet<String> =
            match crate::logic::parse_symbols(query.get("symbols").map(String::as_str), MAX_SYMBOLS_PER_CLIENT) {
                Ok(s) => s.into_iter().collect(),
                Err(e) => return refuse(e.status, e.code, e.message),
            };
        {
            let h = self.hub.borrow();
            if h.clients.len() >= MAX_CLIENTS {
                return refuse(503, "stream_full", format!("the stream serves at most {MAX_CLIENTS} clients"));
            }
            let new = symbols.iter().filter(|s| !h.subscribed.contains(*s)).count();
            if h.subscribed.len() + new > MAX_SUBSCRIBED {
                return refuse(503, "stream_full", format!("the stream subscribes at most {MAX_SUBSCRIBED} symbols"));
            }
        }
        let pair = WebSocketPair::new()?;
        let server = pair.server;
        server.accept()?;
        let id = {
            let mut h = self.hub.borrow_mut();
            h.next_id += 1;
            let id = h.next_id;
            let max = h.max_unacked;
            let hello = StreamHello {
                kind: "success".into(),
                msg: "connected".into(),
                symbols: symbols.iter().cloned().collect(),
                ack_every: crate::flow::ack_every(max),
                max_unacked: max,
                upstream: h.upstream_state.unwrap_or(UpstreamState::Connecting),
            };
            let mut client = Client { id, socket: server.clone(), symbols: symbols.clone(), credit: Credit::default() };
            let _ = client.offer(&serde_json::to_string(&[hello]).unwrap_or_default(), max);
            h.clients.push(client);
            id
        };
        // Client reader: acknowledgements and the close.
        let hub = self.hub.clone();
        spawn_local(async move {
            if let Ok(mut events) = server.events() {
                while let Some(ev) = events.next().await {
                    match ev {
                        Ok(WebsocketEvent::Message(m)) => {
                            if let Some(ClientFrame::Ack(n)) = m.text().map(|t| crate::flow::parse_client_frame(&t))
                                && let Some(c) = hub.borrow_mut().clients.iter_mut().find(|c| c.id == id)
                            {
                                c.credit.ack(n);
                            }
                        }
                        Ok(WebsocketEvent::Close(_)) | Err(_) => break,
                    }
                }
            }
            hub.borrow_mut().remove_client(id);
        });
        self.ensure_upstream(&symbols);
        Response::from_websocket(pair.client)
    }
}

impl StreamHub {
    /// Subscribes new symbols on the live upstream connection, or starts the upstream task.
    fn ensure_upstream(&self, symbols: &BTreeSet<String>) {
        let mut h = self.hub.borrow_mut();
        let new: Vec<String> = symbols.iter().filter(|s| !h.subscribed.contains(*s)).cloned().collect();
        h.subscribed.extend(new.iter().cloned());
        if let Some(up) = &h.upstream
            && !new.is_empty()
        {
            let _ = up.send_with_str(subscribe(&new));
        }
        if h.running {
            return;
        }
        h.running = true;
        drop(h);
        let hub = self.hub.clone();
        let cfg = Config::from_env(&self.env);
        spawn_local(async move {
            let mut delay_ms = 1000u64;
            loop {
                if hub.borrow().clients.is_empty() {
                    break;
                }
                hub.borrow_mut().set_upstream_state(UpstreamState::Connecting, None, None);
                let ended = run_upstream(&hub, &cfg).await;
                hub.borrow_mut().upstream = None;
                let (authenticated_for, min_delay, fatal) = match ended {
                    Ok(e) => (e.authenticated_for_ms, e.min_delay_ms, e.fatal),
                    Err(e) => {
                        hub.borrow_mut().last_error = Some(cfg.scrub(&e.to_string()));
                        (None, 0, false)
                    }
                };
                if hub.borrow().clients.is_empty() {
                    break;
                }
                delay_ms = crate::logic::next_stream_delay(delay_ms, authenticated_for, min_delay);
                {
                    let mut h = hub.borrow_mut();
                    let reason = h.last_error.clone();
                    let state = if fatal { UpstreamState::Unavailable } else { UpstreamState::Reconnecting };
                    h.set_upstream_state(state, Some(delay_ms), reason);
                }
                worker::Delay::from(std::time::Duration::from_millis(delay_ms)).await;
                delay_ms = (delay_ms * 2).min(30_000);
            }
            let mut h = hub.borrow_mut();
            h.running = false;
            h.subscribed.clear();
            h.upstream_state = None;
        });
    }
}

/// How an upstream connection ended (an `Err` from [`run_upstream`] is a transport failure).
struct Ended {
    /// How long it was authenticated (`None`: it never was).
    authenticated_for_ms: Option<u64>,
    /// The least delay before the next attempt (from the error code).
    min_delay_ms: u64,
    /// Alpaca refused the edge (an error the operator must fix, such as bad keys).
    fatal: bool,
}

/// The channels the hub uses upstream for `symbols`: trades, minute bars and their corrections.
fn channels(symbols: &[String]) -> Channels {
    Channels { trades: symbols.to_vec(), bars: symbols.to_vec(), updated_bars: symbols.to_vec(), ..Channels::default() }
}

/// The upstream subscription for `symbols`.
fn subscribe(symbols: &[String]) -> String {
    serde_json::to_string(&ClientMessage::Subscribe(channels(symbols))).unwrap_or_default()
}

/// The upstream unsubscription of `symbols` (the channels [`subscribe`] added).
fn unsubscribe(symbols: &[String]) -> String {
    serde_json::to_string(&ClientMessage::Unsubscribe(channels(symbols))).unwrap_or_default()
}

/// The symbol of a market-data message (`None` for control messages, which are not relayed).
fn data_symbol(m: &ServerMessage) -> Option<&str> {
    match m {
        ServerMessage::Trade(t) => Some(&t.symbol),
        ServerMessage::Quote(q) => Some(&q.symbol),
        ServerMessage::Bar(b) | ServerMessage::UpdatedBar(b) | ServerMessage::DailyBar(b) => Some(&b.symbol),
        _ => None,
    }
}

/// One upstream connection: connect, authenticate, subscribe, fan out until it closes.
async fn run_upstream(hub: &Rc<RefCell<Hub>>, cfg: &Config) -> Result<Ended> {
    let url: worker::Url =
        cfg.stream_url.parse().map_err(|e| worker::Error::RustError(format!("bad ALPACA_STREAM_URL: {e}")))?;
    let ws = WebSocket::connect(url).await?;
    ws.accept()?;
    let mut events = ws.events()?;
    {
        let mut h = hub.borrow_mut();
        h.upstream_connections += 1;
        h.upstream = Some(ws.clone());
    }
    let auth = ClientMessage::Auth { key: cfg.key.clone(), secret: cfg.secret.clone() };
    ws.send_with_str(serde_json::to_string(&auth).map_err(|e| worker::Error::RustError(e.to_string()))?)?;
    let mut authenticated_at: Option<i64> = None;
    let ended = |at: Option<i64>, min_delay_ms: u64| Ended {
        authenticated_for_ms: at.map(|t| (crate::http::now_ms() - t).max(0) as u64),
        min_delay_ms,
        fatal: false,
    };
    while let Some(ev) = events.next().await {
        let msg = match ev {
            Ok(WebsocketEvent::Message(m)) => m,
            Ok(WebsocketEvent::Close(c)) => {
                if hub.borrow().clients.is_empty() {
                    return Ok(ended(authenticated_at, 0)); // closed by us: nobody is left
                }
                hub.borrow_mut().last_error = Some(format!("upstream closed: {} {}", c.code(), c.reason()));
                return Ok(ended(authenticated_at, 0));
            }
            Err(e) => {
                hub.borrow_mut().last_error = Some(cfg.scrub(&format!("upstream failed: {e}")));
                return Ok(ended(authenticated_at, 0));
            }
        };
        let Some(text) = msg.text() else { continue };
        // Alpaca's frames through `mtf-alpaca`'s wire types: a frame that does not parse is dropped whole.
        let Ok(items) = parse_frame(&text) else { continue };
        let mut data: Vec<ServerMessage> = Vec::new();
        for m in items {
            match m {
                ServerMessage::Success { msg } if msg == "authenticated" => {
                    authenticated_at = Some(crate::http::now_ms());
                    let symbols: Vec<String> = hub.borrow().subscribed.iter().cloned().collect();
                    if !symbols.is_empty() {
                        ws.send_with_str(subscribe(&symbols))?;
                    }
                    hub.borrow_mut().set_upstream_state(UpstreamState::Live, None, None);
                }
                ServerMessage::Error { code, msg } => {
                    hub.borrow_mut().last_error = Some(format!("upstream error {code}: {msg}"));
                    match crate::logic::stream_error_action(code) {
                        crate::logic::StreamErrorAction::Continue => {}
                        crate::logic::StreamErrorAction::Reconnect { min_delay_ms } => {
                            let _ = ws.close(Some(1000), Some("reconnecting"));
                            return Ok(ended(authenticated_at, min_delay_ms));
                        }
                        crate::logic::StreamErrorAction::Fatal { retry_ms } => {
                            let _ = ws.close(Some(1000), Some("fatal"));
                            return Ok(Ended { authenticated_for_ms: None, min_delay_ms: retry_ms, fatal: true });
                        }
                    }
                }
                m if data_symbol(&m).is_some() => data.push(m),
                _ => {}
            }
        }
        if data.is_empty() {
            continue;
        }
        let mut h = hub.borrow_mut();
        h.frames += 1;
        // A client that cannot take a frame, or is too far behind, is disconnected (its reconnect starts afresh).
        h.fan_out(|c| {
            let mine: Vec<ServerMessage> =
                data.iter().filter(|m| data_symbol(m).is_some_and(|s| c.symbols.contains(s))).cloned().collect();
            (!mine.is_empty()).then(|| render_frame(&mine))
        });
    }
    Ok(ended(authenticated_at, 0))
}
