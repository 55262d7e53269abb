//! Forwarding: everything Loupe stores (after the ingest filters) can also
//! go on to an upstream OTLP endpoint — an OpenTelemetry Collector,
//! Jaeger, Tempo — so a team that outgrows one laptop keeps its SDK
//! configuration and Loupe keeps its own copy either way.
//!
//! The receiver never waits for the upstream: [`Forwarder::observe`] puts
//! the batch on a queue bounded in batches and in bytes, and when the queue is full the batch is
//! dropped and counted (memory stays bounded whatever the upstream does).
//! One task sends batches in order; a retryable failure (unreachable,
//! `UNAVAILABLE`, HTTP 429/502/503/504, timeout) is retried with
//! exponential backoff until it succeeds, so an upstream restart loses
//! nothing that fit in the queue; a permanent refusal (bad request) drops
//! the batch and counts it.

mod client;
mod stats;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loupe_model::sink::{Batch, Observer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use client::{Protocol, SendError};
pub use stats::ForwardStats;

use crate::client::Client;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    /// Base URL: `http://host:4317` for gRPC, `http://host:4318` for HTTP
    /// (`/v1/traces`, `/v1/metrics`, `/v1/logs` are appended).
    pub endpoint: String,
    pub protocol: Protocol,
    /// Batches waiting to be sent, at most.
    pub queue_batches: usize,
    /// Bytes (protobuf-encoded size) waiting to be sent, at most; one
    /// batch may always enter an empty queue, however large.
    pub queue_bytes: usize,
    /// Longest pause between two attempts.
    pub max_backoff: Duration,
    /// Time allowed for one export call (connecting included).
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("forward.endpoint {0:?} is not an http:// URL (TLS is not built in; put a local Collector in between)")]
    Endpoint(String),
    #[error("forward.endpoint {endpoint:?}: {message}")]
    Client { endpoint: String, message: String },
}

/// One OTLP client for callers that send on their own schedule (`loupe
/// replay`): the forwarder's export call without its queue, so a replay
/// speaks to an endpoint exactly as forwarding does.
pub struct Exporter(Client);

impl Exporter {
    /// Checks the endpoint (`http://host:port`); nothing connects until the
    /// first send.
    pub fn new(
        endpoint: &str,
        protocol: Protocol,
        timeout: Duration,
    ) -> Result<Exporter, ForwardError> {
        if !endpoint.starts_with("http://") {
            return Err(ForwardError::Endpoint(endpoint.to_string()));
        }
        Client::new(&ForwardConfig {
            endpoint: endpoint.to_string(),
            protocol,
            queue_batches: 1,
            queue_bytes: 0,
            max_backoff: timeout,
            timeout,
        })
        .map(Exporter)
    }

    /// One export call; the error says whether trying again may help.
    pub async fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.0.send(batch).await
    }
}

/// The first pause after a failure; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The running forwarder: the queue's sending side and the sending task.
pub struct Forwarder {
    config: ForwardConfig,
    tx: Mutex<Option<mpsc::Sender<Queued>>>,
    queued_bytes: Arc<AtomicUsize>,
    stats: Arc<ForwardStats>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Forwarder {
    /// Checks the endpoint and starts the sending task (on the current
    /// tokio runtime). Nothing connects until the first batch.
    pub fn start(config: ForwardConfig) -> Result<Arc<Forwarder>, ForwardError> {
        if !config.endpoint.starts_with("http://") {
            return Err(ForwardError::Endpoint(config.endpoint.clone()));
        }
        let client = Client::new(&config)?;
        let (tx, rx) = mpsc::channel(config.queue_batches.max(1));
        let stats = Arc::new(ForwardStats::default());
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(
            rx,
            client,
            stats.clone(),
            queued_bytes.clone(),
            config.max_backoff,
        ));
        Ok(Arc::new(Forwarder {
            config,
            tx: Mutex::new(Some(tx)),
            queued_bytes,
            stats,
            task: Mutex::new(Some(task)),
        }))
    }

    pub fn stats(&self) -> &Arc<ForwardStats> {
        &self.stats
    }

    pub fn config(&self) -> &ForwardConfig {
        &self.config
    }

    /// Stops taking batches, lets the queue drain for up to `grace`, then
    /// gives up on what is left (counted as dropped at shutdown).
    pub async fn shutdown(&self, grace: Duration) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
                self.stats.dropped_at_shutdown();
            }
        }
    }
}

impl Observer for Forwarder {
    fn observe(&self, batch: &Arc<Batch>) {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            return;
        };
        let bytes = encoded_len(batch);
        let before = self.queued_bytes.fetch_add(bytes, Ordering::SeqCst);
        if before > 0 && before + bytes > self.config.queue_bytes {
            self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
            self.stats.dropped_queue_full(batch);
            return;
        }
        match tx.try_send(Queued {
            batch: batch.clone(),
            bytes,
        }) {
            Ok(()) => self.stats.queued(batch),
            Err(_) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
                self.stats.dropped_queue_full(batch)
            }
        }
    }
}

/// A batch in the queue and its size.
struct Queued {
    batch: Arc<Batch>,
    bytes: usize,
}

/// The protobuf size of a batch: what it weighs in the queue.
fn encoded_len(b: &Batch) -> usize {
    use prost::Message;
    match b {
        Batch::Traces(r) => r.encoded_len(),
        Batch::Metrics(r) => r.encoded_len(),
        Batch::Logs(r) => r.encoded_len(),
    }
}

/// Sends batches in order, retrying each until it is delivered or refused.
async fn run(
    mut rx: mpsc::Receiver<Queued>,
    client: Client,
    stats: Arc<ForwardStats>,
    queued_bytes: Arc<AtomicUsize>,
    max_backoff: Duration,
) {
    while let Some(Queued { batch, bytes }) = rx.recv().await {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match client.send(&batch).await {
                Ok(()) => {
                    stats.sent(&batch);
                    break;
                }
                Err(SendError::Permanent(message)) => {
                    tracing::warn!("forwarding: upstream refused a batch: {message}");
                    stats.rejected(&batch, message);
                    break;
                }
                Err(SendError::Retryable(message)) => {
                    tracing::debug!("forwarding: retry in {backoff:?}: {message}");
                    stats.retry(message);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max_backoff.max(FIRST_BACKOFF));
                }
            }
        }
        queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
    }
}
