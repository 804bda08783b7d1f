//! Short-lived session tokens the edge issues to browsers (`POST /api/v1/session`), so that no long-lived
//! secret is compiled into a page. Pure: signed and checked here, issued and enforced in `auth` (wasm32).
//!
//! A token is `mtf1.<claims>.<signature>`: the claims are base64url (no padding) JSON ([`SessionClaims`]), the
//! signature is HMAC-SHA256 over `mtf1.<claims>` with the worker's session key, base64url. It names the client
//! address it was issued to (IPv4, or the IPv6 /64: [`crate::logic::client_key`]), its scopes and its expiry; the
//! edge refuses it from another address, after its expiry, or for a scope it does not carry. Rotating the key
//! (`SESSION_SECRET`) revokes every token at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::logic::ApiError;

/// The token's prefix and format version.
pub const PREFIX: &str = "mtf1";

/// Default lifetime of a session token, seconds.
pub const DEFAULT_TTL_S: i64 = 900;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The data routes (bars, quote, news), `ml-predict` and the stream.
    Read,
    /// Storing predictions (browser-written, marked `source: "browser"`).
    Write,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// The signed claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Session id (random hex): the key of the per-token rate limit.
    pub sid: String,
    /// The client key the token was issued to.
    pub sub: String,
    /// Granted scopes.
    pub scope: Vec<Scope>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch (exclusive).
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the token is not an mtf session token")]
    Malformed,
    #[error("the token's signature does not match (forged, or signed with a rotated key)")]
    BadSignature,
    #[error("the token expired; request a new one from POST /api/v1/session")]
    Expired,
    #[error("the token was issued to another client address; request a new one from POST /api/v1/session")]
    WrongClient,
    #[error("the token does not grant `{0}`")]
    MissingScope(&'static str),
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::MissingScope(_) => ApiError::new(403, "insufficient_scope", e.to_string()),
            SessionError::Expired => ApiError::new(401, "token_expired", e.to_string()),
            _ => ApiError::new(401, "invalid_token", e.to_string()),
        }
    }
}

/// The signing key: `SESSION_SECRET`, or (when unset) one derived from the admin token so that a deployment with
/// an admin token has sessions without another secret. `None` when both are empty: sessions are disabled.
pub fn signing_key(session_secret: &str, admin_token: &str) -> Option<Vec<u8>> {
    if !session_secret.is_empty() {
        return Some(session_secret.as_bytes().to_vec());
    }
    if admin_token.is_empty() {
        return None;
    }
    Some(mac(admin_token.as_bytes(), b"mtf session key v1"))
}

fn mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut m = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Signs `claims` into a token.
pub fn issue(key: &[u8], claims: &SessionClaims) -> String {
    let body = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("{PREFIX}.{body}");
    let sig = B64.encode(mac(key, signed.as_bytes()));
    format!("{signed}.{sig}")
}

/// Whether `token` looks like a session token (rather than a static bearer token).
pub fn is_session_token(token: &str) -> bool {
    token.starts_with("mtf1.")
}

/// Checks a token's signature, expiry (`now_s`) and address (`client`), then that it grants `scope`.
pub fn verify(key: &[u8], token: &str, now_s: i64, client: &str, scope: Scope) -> Result<SessionClaims, SessionError> {
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SessionError::Malformed);
    };
    let want = mac(key, format!("{PREFIX}.{body}").as_bytes());
    let got = B64.decode(sig).map_err(|_| SessionError::Malformed)?;
    // Constant-time comparison of the signatures.
    if got.len() != want.len() || got.iter().zip(&want).fold(0u8, |a, (x, y)| a | (x ^ y)) != 0 {
        return Err(SessionError::BadSignature);
    }
    let claims: SessionClaims =
        B64.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(SessionError::Malformed)?;
    if now_s >= claims.exp {
        return Err(SessionError::Expired);
    }
    if claims.sub != client {
        return Err(SessionError::WrongClient);
    }
    if !claims.scope.contains(&scope) {
        return Err(SessionError::MissingScope(scope.name()));
    }
    Ok(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            sid: "0123abcd".into(),
            sub: "203.0.113.7".into(),
            scope: vec![Scope::Read, Scope::Write],
            iat: 1_000,
            exp: 1_900,
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let t = issue(b"k", &claims());
        assert!(is_session_token(&t));
        assert_eq!(verify(b"k", &t, 1_000, "203.0.113.7", Scope::Write).unwrap(), claims());
        assert_eq!(verify(b"k", &t, 1_899, "203.0.113.7", Scope::Read).unwrap().sid, "0123abcd");
        assert_eq!(verify(b"k", &t, 1_900, "203.0.113.7", Scope::Read), Err(SessionError::Expired));
    }

    #[test]
    fn forged_rotated_or_moved_tokens_are_refused() {
        let t = issue(b"k", &claims());
        assert_eq!(verify(b"other", &t, 1_000, "203.0.113.7", Scope::Read), Err(SessionError::BadSignature));
        assert_eq!(verify(b"k", &t, 1_000, "198.51.100.1", Scope::Read), Err(SessionError::WrongClient));
        // Claims edited (a later expiry) with the old signature.
        let forged_claims = SessionClaims { exp: 99_999, ..claims() };
        let forged_body = B64.encode(serde_json::to_vec(&forged_claims).unwrap());
        let sig = t.rsplit('.').next().unwrap();
        let forged = format!("mtf1.{forged_body}.{sig}");
        assert_eq!(verify(b"k", &forged, 1_000, "203.0.113.7", Scope::Read), Err(SessionError::BadSignature));
        for bad in ["", "mtf1", "mtf1..", "mtf1.a.b.c", "Bearer x", "mtf2.a.b", "mtf1.@@.@@"] {
            assert!(verify(b"k", bad, 1_000, "203.0.113.7", Scope::Read).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_enforced() {
        let read_only = issue(b"k", &SessionClaims { scope: vec![Scope::Read], ..claims() });
        assert_eq!(
            verify(b"k", &read_only, 1_000, "203.0.113.7", Scope::Write),
            Err(SessionError::MissingScope("write"))
        );
        let e: ApiError = SessionError::MissingScope("write").into();
        assert_eq!((e.status, e.code), (403, "insufficient_scope"));
        let e: ApiError = SessionError::Expired.into();
        assert_eq!((e.status, e.code), (401, "token_expired"));
    }

    #[test]
    fn the_key_comes_from_the_secret_or_the_admin_token() {
        assert_eq!(signing_key("s3cret", "admin").unwrap(), b"s3cret".to_vec());
        let derived = signing_key("", "admin").unwrap();
        assert_eq!(derived.len(), 32);
        assert_ne!(derived, b"admin".to_vec(), "the admin token itself is not the key");
        assert_eq!(signing_key("", ""), None);
    }
}
