//! The overload run's parts besides gRPC: OTLP/HTTP clients posting the
//! same stamped requests, an API probe timing reads while ingest is
//! saturated, and a sampler of the data directory's database and WAL
//! sizes (the size cap's margin).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::template::Template;

/// What the HTTP clients saw.
#[derive(Default)]
pub struct HttpCounts {
    pub spans: AtomicU64,
    /// 503 answers (retryable: the budget or the queue was full).
    pub busy: AtomicU64,
    /// Requests that did not finish within the timeout.
    pub timeouts: AtomicU64,
    pub errors: AtomicU64,
}

/// `clients` HTTP clients × `in_flight` tasks each, posting protobuf until
/// `deadline`. A 503 is followed by a 5 ms pause (an exporter would wait
/// its `Retry-After`; the run measures how Loupe refuses, not how fast
/// clients come back).
#[allow(clippy::too_many_arguments)]
pub fn spawn_http(
    addr: SocketAddr,
    template: Arc<Template>,
    clients: usize,
    in_flight: usize,
    timeout: Duration,
    next: Arc<AtomicU64>,
    deadline: Instant,
    counts: Arc<HttpCounts>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let url = format!("http://{addr}/v1/traces");
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        for _ in 0..in_flight {
            let (client, url, t, next, counts) = (
                client.clone(),
                url.clone(),
                template.clone(),
                next.clone(),
                counts.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut buf = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    t.stamp(n, n as u32, &mut buf);
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(buf.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            counts.spans.fetch_add(t.spans as u64, Ordering::Relaxed);
                        }
                        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                            let _ = r.bytes().await;
                            counts.busy.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) if e.is_timeout() => {
                            counts.timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            counts.errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }));
        }
    }
    tasks
}

/// What the probe reads, in turn.
pub const PROBE_READS: [&str; 3] = ["trace list", "services", "/health"];

/// Reads a user makes while ingest runs, one every 50 ms in turn: the
/// trace list, the services picker, /health ([`PROBE_READS`]). Returns
/// every latency, with the index of what was read.
pub fn spawn_probe(
    api: SocketAddr,
    deadline: Instant,
) -> tokio::task::JoinHandle<Vec<(usize, Duration)>> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let urls = [
            format!("http://{api}/api/v1/traces?limit=20"),
            format!("http://{api}/api/v1/services"),
            format!("http://{api}/health"),
        ];
        let mut out = Vec::new();
        let mut i = 0;
        while Instant::now() < deadline {
            let t = Instant::now();
            if let Ok(r) = client.get(&urls[i % urls.len()]).send().await {
                let _ = r.bytes().await;
                out.push((i % urls.len(), t.elapsed()));
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        out
    })
}

/// Samples database and WAL sizes once a second while running.
pub struct SizeSampler {
    samples: Arc<Mutex<Vec<(u64, u64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SizeSampler {
    pub fn start(dir: &Path) -> SizeSampler {
        let db: PathBuf = dir.join("loupe.db");
        let wal: PathBuf = dir.join("loupe.db-wal");
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                if let Ok(mut v) = s.lock() {
                    v.push((size(&db), size(&wal)));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        SizeSampler { samples, stop }
    }

    /// Stops sampling; every (database, WAL) sample so far.
    pub fn finish(self) -> Vec<(u64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.samples.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// `20MiB`, `1GiB`, `500MB`, `1000` (bytes) → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
