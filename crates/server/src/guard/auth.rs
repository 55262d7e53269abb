//! The access token that the UI and API require when a listener is
//! reachable beyond loopback.
//!
//! The token comes from a 0600 file in the configuration directory (see
//! `loupe_config`); `loupe serve` prints a login URL with it. Opening that
//! URL exchanges the token for an `HttpOnly; SameSite=Strict` cookie, so the
//! page's scripts never hold it and no other site's request carries it.
//! Programs send `Authorization: Bearer TOKEN` instead.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use loupe_ingest::{constant_time_eq, ApiKey};

/// The cookie that carries the token after login.
pub const COOKIE: &str = "loupe_token";

/// The path that exchanges `?token=` for the cookie.
pub const LOGIN_PATH: &str = "/login";

/// The token every request must carry.
#[derive(Clone, Debug)]
pub struct AccessToken(ApiKey);

impl AccessToken {
    pub fn new(token: impl Into<Arc<str>>) -> AccessToken {
        AccessToken(ApiKey::new(token))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL that logs a browser in on `base` (`http://host:port`).
    pub fn login_url(&self, base: &str) -> String {
        format!("{base}{LOGIN_PATH}?token={}", self.as_str())
    }

    /// Whether the request carries the token (Bearer header or cookie).
    pub fn admits(&self, h: &HeaderMap) -> bool {
        if h.contains_key(header::AUTHORIZATION) {
            return self.0.admits(h);
        }
        h.get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && self.matches(v))
    }

    fn matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.as_str().as_bytes())
    }

    /// Answers `GET /login?token=…`: the cookie and a redirect to the UI,
    /// or 401.
    pub fn login(&self, req: &Request) -> Response {
        let presented = req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| v)
        });
        match presented {
            Some(t) if self.matches(t) => {
                let cookie = format!(
                    "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=31536000",
                    self.as_str()
                );
                let mut resp = (StatusCode::SEE_OTHER, "logged in").into_response();
                let h = resp.headers_mut();
                h.insert(header::LOCATION, HeaderValue::from_static("/"));
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    h.insert(header::SET_COOKIE, v);
                }
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                resp
            }
            _ => unauthorized(),
        }
    }
}

/// 401 with what to do.
pub fn unauthorized() -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({
            "error": "Loupe is reachable from other machines, so it needs its access token: \
                      open the login URL that loupe printed when it started (…/login?token=…), \
                      or send Authorization: Bearer TOKEN (the token is in the file api-token \
                      in Loupe's configuration directory)"
        })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"loupe\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().expect("value"));
        }
        m
    }

    #[test]
    fn bearer_or_cookie() {
        let t = AccessToken::new("abc123");
        assert!(t.admits(&h(&[("authorization", "Bearer abc123")])));
        assert!(t.admits(&h(&[("cookie", "a=b; loupe_token=abc123")])));
        assert!(!t.admits(&h(&[("cookie", "loupe_token=abc12")])));
        assert!(!t.admits(&h(&[("cookie", "other_loupe_token=abc123")])));
        assert!(!t.admits(&h(&[
            ("authorization", "Bearer nope"),
            ("cookie", "loupe_token=abc123")
        ])));
        assert!(!t.admits(&h(&[])));
    }

    #[test]
    fn login_sets_a_strict_http_only_cookie() {
        let t = AccessToken::new("abc123");
        let req = axum::http::Request::builder()
            .uri("/login?token=abc123")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = t.login(&req);
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let cookie = resp.headers()[header::SET_COOKIE].to_str().expect("text");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let bad = axum::http::Request::builder()
            .uri("/login?token=abc")
            .body(axum::body::Body::empty())
            .expect("request");
        assert_eq!(t.login(&bad).status(), StatusCode::UNAUTHORIZED);
    }
}
