//! What every request to an HTTP listener goes through before a handler
//! sees it, in this order:
//!
//! 1. [`host`]: the `Host` check against DNS rebinding (API and OTLP/HTTP);
//! 2. [`auth`]: the access token, when Loupe is reachable beyond loopback;
//! 3. [`write`]: the one cross-site write guard (API only);
//! 4. security headers on every answer, CSP included.
//!
//! One middleware for the whole API router, so a route added later is
//! guarded without anyone having to remember it; `tests/security.rs` walks
//! the route table to keep it so. The API sends no CORS headers: other
//! origins cannot read its answers, and their preflights are never granted.
//! SECURITY.md has the threat model these answer.

pub mod auth;
pub mod host;
pub mod write;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use auth::AccessToken;
pub use host::{is_loopback_host, HostPolicy};

/// The page may load only its own scripts, styles and API.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The API address's guard.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    pub hosts: HostPolicy,
    /// Required on every request when set (Loupe reachable beyond loopback).
    pub token: Option<AccessToken>,
}

impl Guard {
    /// The default mode: loopback names only, no token.
    pub fn loopback() -> Guard {
        Guard::default()
    }
}

fn host_of(req: &Request) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
}

fn refuse_host() -> Response {
    (
        StatusCode::FORBIDDEN,
        "Loupe answers only requests addressed to localhost, a loopback address or (with \
         --allow-remote) an IP address or a name listed in allowed_hosts",
    )
        .into_response()
}

/// The `Host` check alone, for the OTLP/HTTP listener.
pub async fn host_layer(State(p): State<HostPolicy>, req: Request, next: Next) -> Response {
    if !p.admits(host_of(&req)) {
        return refuse_host();
    }
    next.run(req).await
}

/// The API address's middleware: host, token, cross-site writes, headers.
pub async fn layer(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let mut resp = if !g.hosts.admits(host_of(&req)) {
        refuse_host()
    } else {
        match &g.token {
            Some(t) if req.uri().path() == auth::LOGIN_PATH => t.login(&req),
            Some(t) if !t.admits(req.headers()) => auth::unauthorized(),
            _ => match write::is_write(req.method())
                .then(|| write::check(&req))
                .transpose()
            {
                Err(refusal) => (
                    StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({ "error": refusal.to_string() })),
                )
                    .into_response(),
                Ok(_) => next.run(req).await,
            },
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
