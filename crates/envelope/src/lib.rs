//! The `.mtf` model artifact envelope: how a model file is framed, independent of what the header holds and of
//! burn. `mtf-model` writes and reads artifacts through it; the edge worker verifies uploads with it (the
//! worker cannot link burn and does not need to).
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `MTFMODEL` |
//! | 8..12 | format version (`u32`, currently 1) |
//! | 12..16 | header length `H` (`u32`) |
//! | 16..16+H | header, UTF-8 JSON (an object; the envelope reads only [`EnvelopeFields`]) |
//! | 16+H.. | weights: `weights_len` bytes whose sha256 is `weights_sha256` |
//!
//! [`parse`] checks the magic, the version, every length and the weights' sha256, and fails with
//! [`EnvelopeError`] naming what is wrong; it never panics on any input (property-tested).

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The first eight bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"MTFMODEL";
/// Current artifact format version.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the header: magic, version, header length.
pub const PREFIX_LEN: usize = 16;

/// The header fields the envelope itself relies on (every artifact header has them; the rest of the header is
/// the model crate's business).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EnvelopeFields {
    /// Model name, e.g. `spy-15m-h4`.
    pub name: String,
    /// Model version, e.g. `0.1.0`.
    pub version: String,
    /// Length of the weights blob in bytes.
    pub weights_len: usize,
    /// Lower-case hex sha256 of the weights blob.
    pub weights_sha256: String,
}

impl EnvelopeFields {
    /// `name@version`, the registry's identifier.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A verified artifact: its header (raw JSON and the envelope's fields) and its weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The header's JSON text.
    pub header_json: &'a [u8],
    /// The fields the envelope checked.
    pub fields: EnvelopeFields,
    /// The weights blob (`fields.weights_len` bytes hashing to `fields.weights_sha256`).
    pub weights: &'a [u8],
}

/// An artifact whose framing is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Wrong magic bytes.
    #[error("not an mtf model artifact (expected the bytes `MTFMODEL` at the start)")]
    NotAnArtifact,
    /// A newer or unknown format.
    #[error("artifact format version {0} is not supported by this build (supports {FORMAT_VERSION})")]
    Version(u32),
    /// Fewer (or more) bytes than the lengths promise.
    #[error("artifact is truncated: {0}")]
    Truncated(String),
    /// The header is not JSON with the envelope's fields, or a name is not usable as an identifier.
    #[error("artifact header is invalid: {0}")]
    Header(String),
    /// The weights do not hash to the recorded value.
    #[error("artifact weights are corrupt: sha256 {actual} does not match the recorded {expected}")]
    HashMismatch {
        /// Recorded hash.
        expected: String,
        /// Hash of the bytes present.
        actual: String,
    },
}

/// Lower-case hex sha256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether `s` may be a model name or version: 1–64 characters of `[A-Za-z0-9._-]`, not only dots (so a name
/// can appear in a URL path or a file name as it is).
#[must_use]
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !s.chars().all(|c| c == '.')
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, EnvelopeError> {
    let b: [u8; 4] = bytes.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or_else(|| {
        EnvelopeError::Truncated(format!("{} bytes, the fixed prefix needs {PREFIX_LEN}", bytes.len()))
    })?;
    Ok(u32::from_le_bytes(b))
}

/// Frames `header_json` and `weights` as an artifact. The caller fills the header's `weights_len` and
/// `weights_sha256` (see [`sha256_hex`]); they are checked here so that a written artifact always parses.
///
/// # Errors
/// [`EnvelopeError::Header`] when the header lacks the envelope's fields, names an unusable identifier, or
/// disagrees with the weights; [`EnvelopeError::Header`] for a header over 4 GiB.
pub fn write(header_json: &[u8], weights: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let fields = fields(header_json)?;
    if fields.weights_len != weights.len() || fields.weights_sha256 != sha256_hex(weights) {
        return Err(EnvelopeError::Header("weights_len / weights_sha256 do not describe the weights".into()));
    }
    let len = u32::try_from(header_json.len()).map_err(|_| EnvelopeError::Header("header larger than 4 GiB".into()))?;
    let mut out = Vec::with_capacity(PREFIX_LEN + header_json.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header_json);
    out.extend_from_slice(weights);
    Ok(out)
}

fn fields(header_json: &[u8]) -> Result<EnvelopeFields, EnvelopeError> {
    let f: EnvelopeFields =
        serde_json::from_slice(header_json).map_err(|e| EnvelopeError::Header(format!("header: {e}")))?;
    for (what, v) in [("name", &f.name), ("version", &f.version)] {
        if !is_identifier(v) {
            return Err(EnvelopeError::Header(format!(
                "{what} {v:?} must be 1–64 characters of [A-Za-z0-9._-], not only dots"
            )));
        }
    }
    Ok(f)
}

/// Parses and verifies an artifact's framing: magic, version, lengths, the envelope's header fields and the
/// weights' sha256.
///
/// # Errors
/// [`EnvelopeError`] naming the first problem found.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    if bytes.get(..8) != Some(MAGIC.as_slice()) {
        return Err(EnvelopeError::NotAnArtifact);
    }
    let version = u32_at(bytes, 8)?;
    if version != FORMAT_VERSION {
        return Err(EnvelopeError::Version(version));
    }
    let h = u32_at(bytes, 12)? as usize;
    let header_json = PREFIX_LEN.checked_add(h).and_then(|end| bytes.get(PREFIX_LEN..end)).ok_or_else(|| {
        EnvelopeError::Truncated(format!("header of {h} bytes announced, {} present", bytes.len() - PREFIX_LEN))
    })?;
    let fields = fields(header_json)?;
    let weights = &bytes[PREFIX_LEN + h..];
    if weights.len() != fields.weights_len {
        return Err(EnvelopeError::Truncated(format!(
            "weights of {} bytes announced, {} present",
            fields.weights_len,
            weights.len()
        )));
    }
    let actual = sha256_hex(weights);
    if actual != fields.weights_sha256 {
        return Err(EnvelopeError::HashMismatch { expected: fields.weights_sha256.clone(), actual });
    }
    Ok(Envelope { header_json, fields, weights })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn header(name: &str, weights: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "name": name, "version": "0.1.0", "weights_len": weights.len(),
            "weights_sha256": sha256_hex(weights), "other": {"kept": true}
        }))
        .unwrap()
    }

    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn round_trip_keeps_header_and_weights() {
        let w = b"weights!".to_vec();
        let h = header("spy-15m-h4", &w);
        let bytes = write(&h, &w).unwrap();
        let e = parse(&bytes).unwrap();
        assert_eq!(e.header_json, &h[..]);
        assert_eq!(e.weights, &w[..]);
        assert_eq!(e.fields.id(), "spy-15m-h4@0.1.0");
    }

    #[test]
    fn each_corruption_is_named() {
        let w = vec![7u8; 100];
        let good = write(&header("m", &w), &w).unwrap();
        assert_eq!(parse(b"MTF"), Err(EnvelopeError::NotAnArtifact));
        assert_eq!(parse(b"NOTMODEL________"), Err(EnvelopeError::NotAnArtifact));
        let mut v = good.clone();
        v[8] = 2;
        assert_eq!(parse(&v), Err(EnvelopeError::Version(2)));
        assert!(matches!(parse(&good[..12]), Err(EnvelopeError::Truncated(_))));
        assert!(matches!(parse(&good[..40]), Err(EnvelopeError::Truncated(m)) if m.contains("header")));
        assert!(matches!(parse(&good[..good.len() - 1]), Err(EnvelopeError::Truncated(m)) if m.contains("weights")));
        let mut v = good.clone();
        *v.last_mut().unwrap() ^= 1;
        assert!(matches!(parse(&v), Err(EnvelopeError::HashMismatch { .. })));
        let mut v = good;
        v[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&v), Err(EnvelopeError::Truncated(_))));
    }

    #[test]
    fn names_must_be_identifiers() {
        let w = vec![1u8; 4];
        for bad in ["", "..", "a/b", "x y", &"n".repeat(65)] {
            assert!(matches!(write(&header(bad, &w), &w), Err(EnvelopeError::Header(_))), "{bad:?}");
        }
        assert!(write(&header("ok.name_1-2", &w), &w).is_ok());
        // A header that does not describe its weights is refused at write time.
        assert!(write(&header("m", &w), b"other").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic sweep of prefixes, flips and random tails (no proptest dependency needed here).
        let w = vec![3u8; 33];
        let good = write(&header("m", &w), &w).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut v = good.clone();
            let at = (x as usize) % v.len();
            v[at] ^= (x >> 32) as u8 | 1;
            v.truncate((x as usize >> 8) % (good.len() + 1));
            let _ = parse(&v);
            let _ = parse(&good[..i % good.len()]);
        }
    }
}
