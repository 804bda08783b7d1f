//! The edge's admin API as `mtf retrain` uses it (blocking `ureq`): the active model and its artifact, model
//! health, registration, activation and retrain records. Errors name the route and carry the edge's error code.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// A client of one edge with the admin token.
pub struct EdgeClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// A registered model as the edge describes it: the registry's one definition, shared with the worker.
pub use mtf_retrain::registry::ModelVersion;

impl EdgeClient {
    /// A client of `base` (e.g. `http://127.0.0.1:8787`) with the admin token.
    #[must_use]
    pub fn new(base: &str, token: String) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("mtf-retrain/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { base: base.trim_end_matches('/').to_string(), token, agent: ureq::Agent::new_with_config(config) }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn finish(what: &str, mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<(u16, Vec<u8>)> {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .with_context(|| format!("{what}: reading the answer"))?;
        Ok((status, body))
    }

    fn error(what: &str, status: u16, body: &[u8]) -> anyhow::Error {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        match (v["error"]["code"].as_str(), v["error"]["message"].as_str()) {
            (Some(code), Some(msg)) => anyhow::anyhow!("{what}: HTTP {status} {code}: {msg}"),
            _ => anyhow::anyhow!("{what}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)])),
        }
    }

    /// Sends with up to three attempts on a transport failure (a reset pooled connection, a refused connect):
    /// every call here is idempotent (reads, registration of the same bytes, activation, records upserted by id).
    fn send(
        &self,
        what: &str,
        attempt: &dyn Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt() {
                Ok(resp) => return Self::finish(what, resp),
                Err(e) if tries < 3 => {
                    tracing::warn!("{what}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(300 * tries));
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("{what}: the edge at {} did not answer ({tries} attempts)", self.base)));
                }
            }
        }
    }

    fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let what = format!("GET {path}");
        let url = self.url(path);
        let auth = format!("Bearer {}", self.token);
        self.send(&what, &|| self.agent.get(&url).header("Authorization", &auth).call())
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> anyhow::Result<Value> {
        let what = format!("POST {path}");
        let url = self.url(path);
        let auth = format!("Bearer {}", self.token);
        let (status, bytes) = self.send(&what, &|| {
            self.agent.post(&url).header("Authorization", &auth).header("Content-Type", content_type).send(body)
        })?;
        if !(200..300).contains(&status) {
            return Err(Self::error(&what, status, &bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{what}: the answer is not JSON"))
    }

    fn get_json(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let (status, bytes) = self.get(path)?;
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            return Err(Self::error(&format!("GET {path}"), status, &bytes));
        }
        serde_json::from_slice(&bytes).map(Some).with_context(|| format!("GET {path}: the answer is not JSON"))
    }

    /// The active model predicting `horizon_minutes` ahead (the edge holds one per horizon), `None` when none
    /// is.
    pub fn active(&self, horizon_minutes: i64) -> anyhow::Result<Option<ModelVersion>> {
        match self.get_json(&format!("/api/v1/models/active?horizon={horizon_minutes}"))? {
            None => Ok(None),
            Some(v) => Ok(Some(model_of("GET /api/v1/models/active", v)?)),
        }
    }

    /// A model's artifact bytes (checked against its sha256).
    pub fn artifact(&self, m: &ModelVersion) -> anyhow::Result<Vec<u8>> {
        let (status, bytes) = self.get(&m.artifact_url)?;
        if status != 200 {
            return Err(Self::error(&format!("GET {}", m.artifact_url), status, &bytes));
        }
        let sha = mtf_envelope::sha256_hex(&bytes);
        if sha != m.sha256 {
            bail!("{}: the artifact's sha256 {sha} is not the registered {}", m.version, m.sha256);
        }
        Ok(bytes)
    }

    /// A version's live health.
    pub fn health(&self, version: &str) -> anyhow::Result<Option<mtf_retrain::health::ModelHealth>> {
        let path = format!("/api/v1/models/{}/health", encode(version));
        self.get_json(&path)?
            .map(|v| serde_json::from_value(v).with_context(|| format!("GET {path}: not a health report")))
            .transpose()
    }

    /// Retrain records, newest first.
    pub fn retrains(&self, limit: usize) -> anyhow::Result<Vec<mtf_retrain::record::RetrainRecord>> {
        let path = format!("/api/v1/retrains?limit={limit}");
        let Some(v) = self.get_json(&path)? else { return Ok(Vec::new()) };
        let r: mtf_retrain::record::RetrainsResponse =
            serde_json::from_value(v).with_context(|| format!("GET {path}: not a retrain list"))?;
        Ok(r.retrains)
    }

    /// Registers an artifact (inactive unless no model is active), idempotent for the same bytes.
    pub fn register(&self, bytes: &[u8]) -> anyhow::Result<ModelVersion> {
        let v = self.post("/api/v1/models", "application/octet-stream", bytes)?;
        model_of("POST /api/v1/models", v)
    }

    /// Activates a registered version.
    pub fn activate(&self, version: &str) -> anyhow::Result<ModelVersion> {
        let path = format!("/api/v1/models/{}/activate", encode(version));
        let v = self.post(&path, "application/json", b"{}")?;
        model_of(&format!("POST {path}"), v)
    }

    /// Stores a retrain record (an upsert by id).
    pub fn record(&self, r: &mtf_retrain::record::RetrainRecord) -> anyhow::Result<()> {
        self.post("/api/v1/retrains", "application/json", &serde_json::to_vec(r)?)?;
        Ok(())
    }
}

/// The model of a registry answer (`{"model": ModelVersion}`).
fn model_of(what: &str, v: Value) -> anyhow::Result<ModelVersion> {
    let r: mtf_retrain::registry::ModelResponse =
        serde_json::from_value(v).with_context(|| format!("{what}: the answer is not a registry model"))?;
    Ok(r.model)
}

/// Percent-encodes a path segment (`spy-15m-h4@0.1.0` → `spy-15m-h4%400.1.0`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::encode("spy-15m-h4@0.1.0-r1a2b"), "spy-15m-h4%400.1.0-r1a2b");
        assert_eq!(super::encode("a/b c"), "a%2Fb%20c");
    }
}
