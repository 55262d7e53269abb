//! The JSON API as the tools see it: `GET path?query` → status and JSON.
//! One trait, two ways to reach the same handlers, so stdio and HTTP share
//! every tool.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// A boxed future that may cross threads (tool calls run on tokio tasks).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The API could not be asked, or answered something unreadable.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Nothing answers at the address: Loupe is not running there.
    #[error("no Loupe answers at {base} ({detail}): start it with `loupe serve` or the desktop app, or point at it with --api URL")]
    Unreachable { base: String, detail: String },
    /// The answer was not JSON (not Loupe, or a broken answer).
    #[error("the answer to {path} is not JSON: {detail}")]
    NotJson { path: String, detail: String },
    /// The request could not be built (a path the tools made badly).
    #[error("cannot ask {path}: {detail}")]
    Request { path: String, detail: String },
}

/// One API answer: the HTTP status and its JSON body (`null` when empty).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The API's own error text (`{"error": …}`), else the status.
    pub fn error_text(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(e) => e.to_string(),
            None => format!("HTTP {}", self.status),
        }
    }
}

/// The API, reached somehow. `path` starts with `/api/v1/` and carries its
/// encoded query string.
pub trait Backend: Send + Sync + 'static {
    fn get(&self, path: String) -> BoxFut<'_, Result<Answer, BackendError>>;
}

/// A running Loupe over HTTP (`loupe mcp`, the terminal commands).
#[derive(Debug, Clone)]
pub struct HttpBackend {
    base: String,
    client: reqwest::Client,
    /// Remote mode's access token, sent as `Authorization: Bearer`.
    token: Option<String>,
}

impl HttpBackend {
    /// `base` like `http://127.0.0.1:16686` (a trailing `/` is ignored; a
    /// bare `host:port` gets `http://`).
    pub fn new(base: &str) -> HttpBackend {
        let base = base.trim_end_matches('/');
        let base = if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        HttpBackend {
            base,
            client,
            token: None,
        }
    }

    /// Sends remote mode's access token with every request (SECURITY.md).
    pub fn with_token(mut self, token: Option<String>) -> HttpBackend {
        self.token = token;
        self
    }

    /// Where the UI is: the same address as the API.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl Backend for HttpBackend {
    fn get(&self, path: String) -> BoxFut<'_, Result<Answer, BackendError>> {
        Box::pin(async move {
            let url = format!("{}{}", self.base, path);
            let mut req = self.client.get(&url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| BackendError::Unreachable {
                base: self.base.clone(),
                detail: short_error(&e),
            })?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|e| BackendError::Unreachable {
                base: self.base.clone(),
                detail: short_error(&e),
            })?;
            Ok(Answer {
                status,
                body: parse(&path, &bytes)?,
            })
        })
    }
}

fn short_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.to_string()
    }
}

fn parse(path: &str, bytes: &[u8]) -> Result<Value, BackendError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| BackendError::NotJson {
        path: path.to_string(),
        detail: e.to_string(),
    })
}

/// The API router of this process (`/mcp`): the same handlers, without a
/// network hop or the HTTP client.
#[derive(Clone)]
pub struct RouterBackend {
    router: axum::Router,
}

impl RouterBackend {
    pub fn new(router: axum::Router) -> RouterBackend {
        RouterBackend { router }
    }
}

/// The largest API answer read in-process (a 100k-span trace is ~60 MB of JSON).
const MAX_ANSWER: usize = 512 << 20;

impl Backend for RouterBackend {
    fn get(&self, path: String) -> BoxFut<'_, Result<Answer, BackendError>> {
        use tower::ServiceExt;
        let router = self.router.clone();
        Box::pin(async move {
            let req = http::Request::get(&path)
                .header(http::header::HOST, "127.0.0.1")
                .body(axum::body::Body::empty())
                .map_err(|e| BackendError::Request {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            let resp = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), MAX_ANSWER)
                .await
                .map_err(|e| BackendError::NotJson {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            Ok(Answer {
                status,
                body: parse(&path, &bytes)?,
            })
        })
    }
}
