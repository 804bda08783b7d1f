//! The one I/O seam of a backfill: `GET` a URL with headers, get status, `Retry-After` and body back.

use std::time::Duration;

/// An HTTP answer (any status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in seconds, when the server sent one as a number.
    pub retry_after_secs: Option<u64>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Sends `GET` requests. An `Err` is a transport failure (refused, reset, a body cut off, a timeout): no
/// complete answer arrived, so the request may be retried.
pub trait Http {
    /// `GET url` with `headers`.
    ///
    /// # Errors
    /// A transport failure, described.
    fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String>;
}

/// [`Http`] over a `ureq` agent (rustls; statuses are answers, not errors).
#[derive(Debug)]
pub struct UreqHttp {
    agent: ureq::Agent,
}

/// Largest body read (a 10,000-bar page is about 1.2 MB of JSON).
const MAX_BODY: u64 = 64 << 20;

impl UreqHttp {
    /// An agent with a `timeout` on each whole request.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("mtf-backfill/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: ureq::Agent::new_with_config(config) }
    }
}

impl Http for UreqHttp {
    fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let retry_after_secs =
            resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("reading the body of HTTP {status}: {e}"))?;
        Ok(Reply { status, retry_after_secs, body })
    }
}
