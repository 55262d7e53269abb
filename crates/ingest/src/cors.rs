//! CORS for browser SDKs posting OTLP/HTTP.
//!
//! Origins are exact (`https://app.example`) or a host with any port
//! (`http://localhost:*`). `*` allows every origin but then never with
//! credentials; listed origins are mirrored and may send credentials.

use http::{header, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Local development pages, on any port.
pub use loupe_otlp::DEFAULT_CORS_ORIGINS as DEFAULT_ORIGINS;

/// Whether `origin` matches one of `patterns`.
pub fn allowed(origin: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        if p == "*" {
            return true;
        }
        match p.strip_suffix(":*") {
            Some(prefix) => origin
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
            None => origin.eq_ignore_ascii_case(p),
        }
    })
}

pub fn layer(patterns: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::AUTHORIZATION,
            header::HeaderName::from_static(crate::auth::HEADER),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    if patterns.iter().any(|p| p == "*") {
        base.allow_origin(AllowOrigin::any())
    } else {
        let patterns = patterns.to_vec();
        base.allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| allowed(o, &patterns))
        }))
        .allow_credentials(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_ORIGINS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_origins() {
        let d = defaults();
        assert!(allowed("http://localhost:5173", &d));
        assert!(allowed("http://127.0.0.1:3000", &d));
        assert!(!allowed("http://localhost", &d));
        assert!(!allowed("http://localhost:80abc", &d));
        assert!(!allowed("http://localhost.evil.com:80", &d));
        assert!(!allowed("https://example.com", &d));
    }

    #[test]
    fn exact_origins() {
        let p = vec!["https://app.example".to_string()];
        assert!(allowed("https://app.example", &p));
        assert!(!allowed("https://app.example:8443", &p));
    }
}
