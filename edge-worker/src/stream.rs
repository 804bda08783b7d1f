//! The shared realtime stream: one Durable Object holds the single upstream Alpaca stream connection and fans
//! its trades and bars out to every subscribed WebSocket client, reconnecting with backoff while clients remain.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use futures_util::StreamExt;
use serde_json::{Value, json};
use worker::{
    DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketPair, WebsocketEvent, durable_object,
    wasm_bindgen_futures::spawn_local,
};

use crate::api::Config;

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
        let symbols: BTreeSet<String> = req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "symbols")
            .map(|(_, v)| v.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
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

fn subscribe(symbols: &[String]) -> String {
    json!({ "action": "subscribe", "trades": symbols, "bars": symbols, "updatedBars": symbols }).to_string()
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
    ws.send_with_str(json!({ "action": "auth", "key": cfg.key, "secret": cfg.secret }).to_string())?;
    while let Some(ev) = events.next().await {
        let msg = match ev? {
            WebsocketEvent::Message(m) => m,
            WebsocketEvent::Close(c) => {
                return Err(worker::Error::RustError(format!("upstream closed: {} {}", c.code(), c.reason())));
            }
        };
        let Some(text) = msg.text() else { continue };
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else { continue };
        let mut data: Vec<Value> = Vec::new();
        for m in items {
            match m.get("T").and_then(Value::as_str) {
                Some("success") if m.get("msg").and_then(Value::as_str) == Some("authenticated") => {
                    let symbols: Vec<String> = hub.borrow().subscribed.iter().cloned().collect();
                    if !symbols.is_empty() {
                        ws.send_with_str(subscribe(&symbols))?;
                    }
                }
                Some("error") => {
                    let e = format!(
                        "upstream error {}: {}",
                        m.get("code").unwrap_or(&Value::Null),
                        m.get("msg").and_then(Value::as_str).unwrap_or_default()
                    );
                    hub.borrow_mut().last_error = Some(e.clone());
                    let _ = ws.close(Some(1000), Some("error"));
                    return Err(worker::Error::RustError(e));
                }
                Some("t") | Some("b") | Some("u") | Some("d") | Some("q") => data.push(m),
                _ => {}
            }
        }
        if data.is_empty() {
            continue;
        }
        let mut h = hub.borrow_mut();
        h.frames += 1;
        for c in &h.clients {
            let mine: Vec<&Value> = data
                .iter()
                .filter(|m| m.get("S").and_then(Value::as_str).is_some_and(|s| c.symbols.contains(s)))
                .collect();
            if !mine.is_empty() {
                let _ = c.socket.send_with_str(serde_json::to_string(&mine).unwrap_or_default());
            }
        }
    }
    Ok(())
}
