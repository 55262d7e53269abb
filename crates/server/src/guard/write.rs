//! The one cross-site write guard: a state-changing request is served only
//! when it comes from Loupe's own UI (or a program that is not a browser).
//!
//! A web page can make the browser send "simple" requests to any address
//! without asking first: `fetch(…, {mode: 'no-cors'})` or a plain HTML
//! form, with a `text/plain`, form-urlencoded or multipart body. It cannot
//! read the answer, but the request still runs. So every request whose
//! method may change state must show that it is not one of those:
//!
//! - its `Origin`, when present, is the address's own (`http://` + `Host`);
//! - its `Sec-Fetch-Site`, when present, is `same-origin` or `none`;
//! - it carries `Content-Type: application/json` or the
//!   [`REQUEST_HEADER`] header. A browser sends either cross-origin only
//!   after a CORS preflight, which Loupe's API never grants.
//!
//! Programs that are not browsers (curl, the CLI, MCP clients) send no
//! `Origin` and pass with either header.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};

/// The header Loupe's UI sends with every write (file uploads included).
pub const REQUEST_HEADER: &str = "x-loupe-request";

/// Whether a request with this method may change state. Everything but
/// the methods HTTP defines as safe.
pub fn is_write(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Why a write was refused: said in the 403's body.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefusal {
    #[error("cross-origin write refused: Origin {0:?} is not this address's own")]
    ForeignOrigin(String),
    #[error("cross-site write refused (Sec-Fetch-Site: {0})")]
    CrossSite(String),
    #[error("a write must send Content-Type: application/json or the header X-Loupe-Request: 1")]
    NoIntent,
}

/// Checks a request that [`is_write`].
pub fn check(req: &Request) -> Result<(), WriteRefusal> {
    check_headers(req.headers(), host_of(req))
}

fn host_of(req: &Request) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
}

/// [`check`] on the headers alone; `host` is the request's `Host`, which
/// the host check has already admitted.
pub fn check_headers(h: &HeaderMap, host: &str) -> Result<(), WriteRefusal> {
    if let Some(origin) = h.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        let own = origin
            .strip_prefix("http://")
            .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host));
        if !own {
            return Err(WriteRefusal::ForeignOrigin(
                origin.chars().take(200).collect(),
            ));
        }
    }
    if let Some(site) = h.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !matches!(site, "same-origin" | "none") {
            return Err(WriteRefusal::CrossSite(site.chars().take(40).collect()));
        }
    }
    let json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if json || h.contains_key(REQUEST_HEADER) {
        Ok(())
    } else {
        Err(WriteRefusal::NoIntent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    const HOST: &str = "127.0.0.1:16686";

    #[test]
    fn own_ui_and_programs_pass() {
        // The UI: same origin, JSON or the header.
        for h in [
            headers(&[
                ("origin", "http://127.0.0.1:16686"),
                ("content-type", "application/json"),
            ]),
            headers(&[
                ("origin", "http://127.0.0.1:16686"),
                ("sec-fetch-site", "same-origin"),
                (REQUEST_HEADER, "1"),
            ]),
            // curl, the CLI, MCP clients: no Origin.
            headers(&[("content-type", "application/json; charset=utf-8")]),
            headers(&[
                (REQUEST_HEADER, "1"),
                ("content-type", "multipart/form-data; boundary=x"),
            ]),
        ] {
            assert_eq!(check_headers(&h, HOST), Ok(()), "{h:?}");
        }
    }

    #[test]
    fn simple_cross_site_requests_are_refused() {
        for (h, why) in [
            // fetch no-cors / forms from another site: simple content types.
            (
                headers(&[
                    ("origin", "http://evil.example"),
                    ("content-type", "text/plain"),
                ]),
                "origin",
            ),
            (
                headers(&[
                    ("origin", "http://127.0.0.1:8000"),
                    ("content-type", "application/json"),
                ]),
                "origin",
            ),
            (
                headers(&[
                    ("origin", "http://localhost:16686"),
                    ("content-type", "application/json"),
                ]),
                "origin",
            ),
            (
                headers(&[("origin", "null"), ("content-type", "application/json")]),
                "origin",
            ),
            (
                headers(&[
                    ("sec-fetch-site", "cross-site"),
                    ("content-type", "application/json"),
                ]),
                "site",
            ),
            (
                headers(&[("sec-fetch-site", "same-site"), (REQUEST_HEADER, "1")]),
                "site",
            ),
            (headers(&[("content-type", "text/plain")]), "intent"),
            (
                headers(&[("content-type", "application/x-www-form-urlencoded")]),
                "intent",
            ),
            (
                headers(&[("content-type", "multipart/form-data; boundary=x")]),
                "intent",
            ),
            (
                headers(&[("content-type", "text/plain; application/json")]),
                "intent",
            ),
            (headers(&[]), "intent"),
        ] {
            let r = check_headers(&h, HOST);
            let ok = match why {
                "origin" => matches!(r, Err(WriteRefusal::ForeignOrigin(_))),
                "site" => matches!(r, Err(WriteRefusal::CrossSite(_))),
                _ => r == Err(WriteRefusal::NoIntent),
            };
            assert!(ok, "{h:?}: {r:?}");
        }
    }

    #[test]
    fn safe_methods_are_not_writes() {
        assert!(!is_write(&Method::GET));
        assert!(!is_write(&Method::HEAD));
        assert!(!is_write(&Method::OPTIONS));
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_write(&m));
        }
        assert!(is_write(&Method::from_bytes(b"PROPFIND").expect("method")));
    }
}
