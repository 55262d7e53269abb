//! Webhook delivery: a queue off the evaluation path, an SSRF guard,
//! timeouts, and retries with backoff and jitter.
//!
//! - The evaluator only enqueues ([`Deliverer::send`] never waits for the
//!   network); a worker task delivers, several jobs at once.
//! - Retried: 5xx, 429 (waiting what `Retry-After` says, capped), network
//!   errors and timeouts, with exponential backoff and full jitter. Any
//!   other 4xx is final: sending the same request again cannot help.
//! - The URL is a secret: it is never logged, never put in an error text
//!   (transport errors here never contain it) and shown only masked
//!   ([`mask_url`]).
//! - Targets in special-use ranges (loopback, private, link-local, shared,
//!   documentation, … see [`crate::target`]) are refused unless the channel
//!   allows them; the check is on the resolved addresses, and the
//!   connection is pinned to exactly those (no second lookup for DNS
//!   rebinding to race). Loupe's own listeners, however written, are
//!   refused even then, and redirects are not followed.
//! - HTTP/1.1 over a connection opened here (hyper's client connection,
//!   TLS by rustls with the ring provider and the Mozilla roots), with one
//!   timeout over connect, handshake and answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

// The target checks live in `target`; re-exported where callers found them.
pub use crate::target::{check_target, is_private, TargetError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A generic JSON payload (the whole notice plus `text`).
    Webhook,
    /// Slack's incoming-webhook format: `{"text": ...}`.
    Slack,
    /// A native notification through the desktop shell.
    Desktop,
}

/// A notification channel. `url` is a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub url: String,
    /// Allow loopback/private/link-local targets (e.g. a local receiver).
    #[serde(default)]
    pub allow_private: bool,
    /// Message template; empty = the default.
    #[serde(default)]
    pub template: String,
}

/// `scheme://host[:port]/…` with everything after the host hidden (Slack
/// and most webhooks put the secret in the path or query).
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/…", u.scheme())
        }
        Err(_) => "…".into(),
    }
}

/// How retries are spaced.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
    pub timeout: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in [0, min(max, base·2^attempt)], at least 50 ms.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let ms = cap.as_millis().max(50) as u64;
        Duration::from_millis(fastrand::u64(ms / 2..=ms))
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(u16),
    Retry {
        status: Option<u16>,
        after: Option<Duration>,
        error: String,
    },
    Final {
        status: Option<u16>,
        error: String,
    },
}

/// `Retry-After` as seconds (the HTTP-date form is treated as "soon").
pub fn retry_after(v: Option<&str>) -> Option<Duration> {
    let v = v?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// Classifies an HTTP status.
pub fn classify(status: u16, retry_after_header: Option<&str>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered(status),
        429 => Outcome::Retry {
            status: Some(status),
            after: retry_after(retry_after_header),
            error: "429 Too Many Requests".into(),
        },
        500..=599 => Outcome::Retry {
            status: Some(status),
            after: retry_after(retry_after_header),
            error: format!("server error {status}"),
        },
        _ => Outcome::Final {
            status: Some(status),
            error: format!("refused with {status}: not retried"),
        },
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| format!("TLS setup failed: {e}"))
        })
        .clone()
}

/// The status and `Retry-After` of one POST over a connection to one of
/// `addrs` (in order), with `timeout` over everything.
async fn http_post(
    u: &url::Url,
    host: &str,
    addrs: &[SocketAddr],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Option<String>), String> {
    let work = async {
        let mut last = String::from("no address");
        let mut tcp = None;
        for a in addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or_else(|| format!("cannot connect: {last}"))?;
        let _ = tcp.set_nodelay(true);
        let path = &u[url::Position::BeforePath..url::Position::AfterQuery];
        let authority = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or(host)),
            None => u.host_str().unwrap_or(host).to_string(),
        };
        let req = http::Request::post(if path.is_empty() { "/" } else { path })
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("loupe/", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
                body,
            )))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        if u.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("bad TLS name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            send(hyper_util::rt::TokioIo::new(tls), req).await
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), req).await
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

async fn send<T>(
    io: hyper_util::rt::TokioIo<T>,
    req: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> Result<(u16, Option<String>), String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let ra = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((resp.status().as_u16(), ra))
}

/// One POST of `body` to the channel's URL.
pub async fn post_once(
    channel: &Channel,
    body: &[u8],
    own: &[SocketAddr],
    timeout: Duration,
) -> Outcome {
    let (host, addrs) = match check_target(&channel.url, channel.allow_private, own).await {
        Ok(x) => x,
        Err(e) => {
            let retry = matches!(e, TargetError::Resolve(_));
            return if retry {
                Outcome::Retry {
                    status: None,
                    after: None,
                    error: e.to_string(),
                }
            } else {
                Outcome::Final {
                    status: None,
                    error: e.to_string(),
                }
            };
        }
    };
    let Ok(u) = url::Url::parse(&channel.url) else {
        return Outcome::Final {
            status: None,
            error: TargetError::BadUrl.to_string(),
        };
    };
    match http_post(&u, &host, &addrs, body, timeout).await {
        Ok((status, ra)) => classify(status, ra.as_deref()),
        Err(error) => Outcome::Retry {
            status: None,
            after: None,
            error,
        },
    }
}

/// One delivery attempt, for the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub job: u64,
    pub channel_id: i64,
    pub channel: String,
    pub rule: String,
    pub attempt: u32,
    /// delivered | retrying | failed
    pub result: String,
    pub status: Option<u16>,
    pub error: String,
    /// Nanoseconds since the epoch (wall clock: this is I/O, not evaluation).
    pub at_ns: u64,
}

/// A message to deliver to one channel.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub channel: Channel,
    pub rule: String,
    pub body: Vec<u8>,
    /// Gets every attempt as it is logged ("send test" waits on it to show
    /// the result); `None` for alerts, which only the log records.
    pub report: Option<mpsc::UnboundedSender<Attempt>>,
}

type Log = Arc<dyn Fn(Attempt) + Send + Sync>;

/// The delivery queue and its worker.
#[derive(Clone)]
pub struct Deliverer {
    tx: mpsc::Sender<Job>,
}

impl Deliverer {
    /// Starts the worker on the current tokio runtime. `own` are Loupe's
    /// listening addresses; `log` records every attempt.
    pub fn start(policy: RetryPolicy, own: Vec<SocketAddr>, log: Log) -> Deliverer {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        let limit = Arc::new(Semaphore::new(4));
        let own = Arc::new(own);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let (policy, own, log) = (policy.clone(), own.clone(), log.clone());
                tokio::spawn(async move {
                    deliver(job, &policy, &own, &log).await;
                    drop(permit);
                });
            }
        });
        Deliverer { tx }
    }

    /// Enqueues without waiting; a full queue drops the job (and says so).
    pub fn send(&self, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!("loupe: the webhook queue is full; a notification was dropped");
                false
            }
        }
    }
}

async fn deliver(job: Job, policy: &RetryPolicy, own: &[SocketAddr], log: &Log) {
    let log = |a: Attempt| {
        if let Some(r) = &job.report {
            // The waiter may have given up: nothing to tell then.
            let _ = r.send(a.clone());
        }
        log(a);
    };
    for attempt in 1..=policy.attempts.max(1) {
        let outcome = post_once(&job.channel, &job.body, own, policy.timeout).await;
        let record = |result: &str, status: Option<u16>, error: String| Attempt {
            job: job.id,
            channel_id: job.channel.id,
            channel: job.channel.name.clone(),
            rule: job.rule.clone(),
            attempt,
            result: result.into(),
            status,
            error,
            at_ns: loupe_model::time::now_ns(),
        };
        match outcome {
            Outcome::Delivered(s) => {
                log(record("delivered", Some(s), String::new()));
                return;
            }
            Outcome::Final { status, error } => {
                log(record("failed", status, error));
                return;
            }
            Outcome::Retry {
                status,
                after,
                error,
            } => {
                if attempt == policy.attempts.max(1) {
                    log(record(
                        "failed",
                        status,
                        format!("{error} (gave up after {attempt} attempts)"),
                    ));
                    return;
                }
                log(record("retrying", status, error));
                let wait = match after {
                    Some(a) => a.min(policy.max_retry_after),
                    None => policy.backoff(attempt - 1),
                };
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(204, None), Outcome::Delivered(204));
        assert!(matches!(classify(503, None), Outcome::Retry { .. }));
        assert!(matches!(
            classify(429, Some("3")),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        assert!(matches!(classify(404, None), Outcome::Final { .. }));
        assert!(matches!(classify(400, None), Outcome::Final { .. }));
    }

    #[test]
    fn tls_is_configured_without_a_process_default() {
        assert!(tls_config().is_ok());
    }

    #[test]
    fn masks_secrets() {
        assert_eq!(
            mask_url("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            mask_url("http://127.0.0.1:8080/hook?token=s"),
            "http://127.0.0.1:8080/…"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for a in 0..20 {
            let d = p.backoff(a);
            assert!(d <= p.max, "{d:?}");
            assert!(d >= Duration::from_millis(25));
        }
    }
}
