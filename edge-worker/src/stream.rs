//! The shared realtime stream: one Durable Object holds the single upstream Alpaca stream connection and fans
//! its trades and bars out to every subscribed WebSocket client, reconnecting with backoff while clients remain.

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
}

/// The Durable Object behind `GET /api/v1/stream`.
#[durable_object]
pub struct StreamHub {
    env: Env,
    hub: Rc<RefCell<Hub>>,
}

impl DurableObject for StreamHub {
    fn new(_state: State, env: Env) -> Self {
        StreamHub { env, hub: Rc::new(RefCell::new(Hub::default())) }
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
            h.clients.push(Client { id, socket: server.clone(), symbols: symbols.clone() });
            id
        };
        let _ = server.send_with_str(json!([{ "T": "success", "msg": "connected", "symbols": symbols }]).to_string());
        // Client reader: only closes matter.
        let hub = self.hub.clone();
        spawn_local(async move {
            if let Ok(mut events) = server.events() {
                while let Some(ev) = events.next().await {
                    if matches!(ev, Ok(WebsocketEvent::Close(_)) | Err(_)) {
                        break;
                    }
                }
            }
            hub.borrow_mut().clients.retain(|c| c.id != id);
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
                match run_upstream(&hub, &cfg).await {
                    Ok(()) => delay_ms = 1000,
                    Err(e) => hub.borrow_mut().last_error = Some(cfg.scrub(&e.to_string())),
                }
                hub.borrow_mut().upstream = None;
                if hub.borrow().clients.is_empty() {
                    break;
                }
                worker::Delay::from(std::time::Duration::from_millis(delay_ms)).await;
                delay_ms = (delay_ms * 2).min(30_000);
            }
            let mut h = hub.borrow_mut();
            h.running = false;
            h.subscribed.clear();
        });
    }
}

/// The upstream subscription for `symbols`: trades, minute bars and their corrections.
fn subscribe(symbols: &[String]) -> String {
    let channels = Channels {
        trades: symbols.to_vec(),
        bars: symbols.to_vec(),
        updated_bars: symbols.to_vec(),
        ..Channels::default()
    };
    serde_json::to_string(&ClientMessage::Subscribe(channels)).unwrap_or_default()
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
async fn run_upstream(hub: &Rc<RefCell<Hub>>, cfg: &Config) -> Result<()> {
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
    while let Some(ev) = events.next().await {
        let msg = match ev? {
            WebsocketEvent::Message(m) => m,
            WebsocketEvent::Close(c) => {
                return Err(worker::Error::RustError(format!("upstream closed: {} {}", c.code(), c.reason())));
            }
        };
        let Some(text) = msg.text() else { continue };
        // Alpaca's frames through `mtf-alpaca`'s wire types: a frame that does not parse is dropped whole.
        let Ok(items) = parse_frame(&text) else { continue };
        let mut data: Vec<ServerMessage> = Vec::new();
        for m in items {
            match m {
                ServerMessage::Success { msg } if msg == "authenticated" => {
                    let symbols: Vec<String> = hub.borrow().subscribed.iter().cloned().collect();
                    if !symbols.is_empty() {
                        ws.send_with_str(subscribe(&symbols))?;
                    }
                }
                ServerMessage::Error { code, msg } => {
                    let e = format!("upstream error {code}: {msg}");
                    hub.borrow_mut().last_error = Some(e.clone());
                    let _ = ws.close(Some(1000), Some("error"));
                    return Err(worker::Error::RustError(e));
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
        for c in &h.clients {
            let mine: Vec<ServerMessage> =
                data.iter().filter(|m| data_symbol(m).is_some_and(|s| c.symbols.contains(s))).cloned().collect();
            if !mine.is_empty() {
                let _ = c.socket.send_with_str(render_frame(&mine));
            }
        }
    }
    Ok(())
}
