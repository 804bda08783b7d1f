//! The mtf edge API on Cloudflare Workers (workers-rs). See `openapi.yaml` for the routes.
//!
//! - Market data proxy over Alpaca (`/api/v1/bars`, `/quote`, `/news`) with TTL caches in KV, retries with
//!   backoff (honouring `Retry-After`), and stale cached values (`"stale": true`) when Alpaca fails.
//! - Persistence in D1: predictions, model versions (artifacts in KV), training data.
//! - One shared upstream stream in a Durable Object ([`stream::StreamHub`]) fanned out to WebSocket clients.
//! - A cron trigger scores stored predictions once their horizon has passed.
//!
//! Every handler returns `Result<Response, ApiError>`; errors become `{ "error": { "code", "message" } }` and no
//! panic path is used (no `unwrap`), so one bad request cannot poison the isolate. Alpaca keys are read from
//! secrets and scrubbed from every error message.

pub mod logic;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod stream;
#[cfg(target_arch = "wasm32")]
pub use stream::StreamHub;
