//! The OTLP API key, required when Loupe listens beyond loopback.
//!
//! Checked on the request's headers before its body is read, so a peer
//! without the key costs Loupe no decoding. The comparison takes the same
//! time whatever the key sent, so the key cannot be guessed byte by byte.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

/// The header that carries the key (also accepted: `Authorization: Bearer`).
pub const HEADER: &str = "x-otlp-api-key";

/// A secret that exporters must present. Its `Debug` never shows it.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

impl ApiKey {
    pub fn new(key: impl Into<Arc<str>>) -> ApiKey {
        ApiKey(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether HTTP `headers` carry the key.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        self.admits_values(
            headers.get(HEADER).map(|v| v.as_bytes()),
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        )
    }

    /// The check on the two header values alone (gRPC metadata is looked
    /// up the same way, without copying the map).
    pub fn admits_values(&self, key: Option<&[u8]>, authorization: Option<&str>) -> bool {
        let presented = key.or_else(|| {
            authorization
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(|v| v.trim().as_bytes())
        });
        presented.is_some_and(|p| constant_time_eq(p, self.0.as_bytes()))
    }
}

/// Compares without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn key_in_either_header() {
        let k = ApiKey::new("s3cret");
        assert!(k.admits(&headers(&[(HEADER, "s3cret")])));
        assert!(k.admits(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(!k.admits(&headers(&[])));
        assert!(!k.admits(&headers(&[(HEADER, "s3cre")])));
        assert!(!k.admits(&headers(&[(HEADER, "s3cret2")])));
        assert!(!k.admits(&headers(&[("authorization", "Basic s3cret")])));
        assert_eq!(format!("{k:?}"), "ApiKey(…)");
    }
}
