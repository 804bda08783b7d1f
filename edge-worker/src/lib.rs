//! The mtf edge API on Cloudflare Workers (workers-rs). See `openapi.yaml` for the routes.
//!
//! - Market data proxy over Alpaca (`/api/v1/bars`, `/quote`, `/news`) with TTL caches in KV, retries with
//!   backoff (honouring `Retry-After`), and stale cached values (`"stale": true`) when Alpaca fails.
//! - Persistence in D1: predictions, model versions (artifacts in KV), training data.
//! - One shared upstream stream in a Durable Object ([`stream::StreamHub`]) fanned out to WebSocket clients.
//! - A cron trigger scores stored predictions once their horizon has passed.
//!
//! Modules by concern: [`logic`] (pure rules, tested natively), [`wire`] (response bodies), and on wasm32
//! `config`, `http` (errors, the one scrub, limits, auth, CORS), `upstream` (Alpaca + the KV cache), `db`
//! (typed D1 rows), `routes` (one module per route family), `accuracy` (the cron) and `api` (the route table).
//!
//! Every handler returns `Result<Response, ApiError>`; errors become `{ "error": { "code", "message" } }` and no
//! panic path is used (no `unwrap`), so one bad request cannot poison the isolate. Alpaca keys are read from
//! secrets and scrubbed from every message where it leaves the worker.

pub mod flow;
pub mod logic;
pub mod scoring;
pub mod serving;
pub mod session;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod accuracy;
#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod auth;
#[cfg(target_arch = "wasm32")]
mod config;
#[cfg(target_arch = "wasm32")]
mod cron;
#[cfg(target_arch = "wasm32")]
mod db;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod inference;
#[cfg(target_arch = "wasm32")]
mod recalibration;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod stream;
#[cfg(target_arch = "wasm32")]
mod upstream;
#[cfg(target_arch = "wasm32")]
pub use stream::StreamHub;
