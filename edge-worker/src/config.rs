//! Configuration from the worker's vars and secrets, read once per request.

use mtf_alpaca::request::Feed;
use worker::Env;

use crate::logic;

/// Configuration from vars and secrets.
pub struct Config {
    pub data_url: String,
    pub stream_url: String,
    pub feed: Feed,
    pub key: String,
    pub secret: String,
    pub client_token: String,
    pub admin_token: String,
    pub cors: String,
    pub rate_per_min: u32,
    pub max_body: usize,
    pub retry_cap_ms: u64,
    /// `WATCHLIST`: comma-separated symbols the cron predicts at every base-bar close.
    pub watchlist: String,
    /// The key session tokens are signed with (`SESSION_SECRET`, else derived from `ADMIN_TOKEN`); `None`
    /// disables sessions.
    pub session_key: Option<Vec<u8>>,
    /// `SESSION_TTL_S`: lifetime of a session token, seconds (default 900).
    pub session_ttl_s: i64,
    /// `SESSION_RATE_PER_MIN`: requests per minute one session token may make (default 240).
    pub session_rate_per_min: u32,
    /// `SESSION_WRITES_PER_MIN`: prediction writes per minute one session token may make (default 30).
    pub session_writes_per_min: u32,
    /// `SESSION_ISSUE_PER_MIN`: session tokens one address may obtain per minute (default 20).
    pub session_issue_per_min: u32,
    /// `PREDICTION_MAX_AGE_S`: how far in the past a browser-written prediction may be (default 3600; `0` = no
    /// bound, for replays of past sessions such as the demo's).
    pub prediction_max_age_s: i64,
    /// `STREAM_MAX_UNACKED`: frames the stream sends a client ahead of its acknowledgements before it
    /// disconnects it (default [`crate::flow::DEFAULT_MAX_UNACKED`]).
    pub stream_max_unacked: u64,
    session_secret: String,
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        let num = |n: &str, d: u64| text(env, n).and_then(|v| v.parse().ok()).unwrap_or(d);
        Config {
            data_url: text(env, "ALPACA_DATA_URL")
                .unwrap_or_else(|| "https://data.alpaca.markets".into())
                .trim_end_matches('/')
                .into(),
            stream_url: text(env, "ALPACA_STREAM_URL")
                .unwrap_or_else(|| "wss://stream.data.alpaca.markets/v2/iex".into()),
            feed: if text(env, "ALPACA_FEED").as_deref() == Some("sip") { Feed::Sip } else { Feed::Iex },
            key: text(env, "APCA_API_KEY_ID").unwrap_or_default(),
            secret: text(env, "APCA_API_SECRET_KEY").unwrap_or_default(),
            client_token: text(env, "CLIENT_TOKEN").unwrap_or_default(),
            admin_token: text(env, "ADMIN_TOKEN").unwrap_or_default(),
            cors: text(env, "CORS_ORIGINS").unwrap_or_default(),
            rate_per_min: num("RATE_LIMIT_PER_MIN", 300) as u32,
            max_body: num("MAX_BODY_BYTES", 1 << 20) as usize,
            retry_cap_ms: num("RETRY_CAP_MS", 5000),
            watchlist: text(env, "WATCHLIST").unwrap_or_default(),
            session_key: None,
            session_ttl_s: num("SESSION_TTL_S", crate::session::DEFAULT_TTL_S as u64).clamp(60, 86_400) as i64,
            session_rate_per_min: num("SESSION_RATE_PER_MIN", 240) as u32,
            session_writes_per_min: num("SESSION_WRITES_PER_MIN", 30) as u32,
            session_issue_per_min: num("SESSION_ISSUE_PER_MIN", 20) as u32,
            prediction_max_age_s: num("PREDICTION_MAX_AGE_S", 3600) as i64,
            stream_max_unacked: num("STREAM_MAX_UNACKED", crate::flow::DEFAULT_MAX_UNACKED).max(1),
            session_secret: text(env, "SESSION_SECRET").unwrap_or_default(),
        }
        .with_session_key()
    }

    fn with_session_key(mut self) -> Config {
        self.session_key = crate::session::signing_key(&self.session_secret, &self.admin_token);
        self
    }

    /// Scrubs the Alpaca keys and tokens out of a message. Called once, where a message leaves the worker
    /// (a response body or a log line: [`crate::http::error_response`], [`crate::http::log_error`]).
    pub fn scrub(&self, m: &str) -> String {
        logic::scrub(m, &[&self.key, &self.secret, &self.client_token, &self.admin_token, &self.session_secret])
    }
}
