//! Issue 13, "Nothing lost — disk and memory bounded", on a real SQLite
//! file and real loopback sockets, Loupe run in-process:
//! - low disk (`loupe_store::disk`): with free space under the data
//!   directory below `--min-free-disk` (simulated by the writer's
//!   injectable probe), the oldest data goes first; still below once that
//!   is done, OTLP/HTTP gets the retryable 503 and /health says DOWN and
//!   why; with space back, Loupe accepts again by itself;
//! - absurd timestamps (`loupe_model::time::TimeIssue`): stored, flagged in
//!   the API, counted in /metrics, and kept by retention (by arrival).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe_app::ServeConfig;
use loupe_store::disk::DiskProbe;

const MIN_FREE: u64 = 100 << 20;

fn trace_json(trace: u8, start_ns: u64) -> String {
    let trace_id = format!("{trace:02x}").repeat(16);
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"disk"}}}}]}},
        "scopeSpans":[{{"spans":[{{"traceId":"{trace_id}","spanId":"0102030405060708","name":"op",
        "kind":1,"startTimeUnixNano":"{start_ns}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
        start_ns + 1_000_000
    )
}

async fn send(client: &reqwest::Client, http: SocketAddr, trace: u8) -> reqwest::Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    client
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/json")
        .body(trace_json(trace, now))
        .send()
        .await
        .expect("post")
}

async fn trace_found(client: &reqwest::Client, api: SocketAddr, trace: u8) -> bool {
    let id = format!("{trace:02x}").repeat(16);
    let r = client
        .get(format!("http://{api}/api/v1/traces/{id}"))
        .send()
        .await
        .expect("get");
    r.status() == 200
}

/// Polls `f` until it holds, for at most 5 s.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let until = Instant::now() + Duration::from_secs(5);
    while !f().await {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `ServeConfig` on free loopback ports with its data in `dir`.
fn config_in(dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        api_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        ..ServeConfig::default()
    }
}

/// `loupe_app::run` on its own task, as `loupe serve` runs it.
struct Served {
    bound: loupe_app::Bound,
    writer: Arc<loupe_store::Writer>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), loupe_app::ServeError>>,
}

impl Served {
    async fn start(config: ServeConfig) -> Served {
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(loupe_app::run(
            config,
            async move {
                let _ = stop_rx.await;
            },
            move |r| {
                let _ = ready_tx.send((r.bound.clone(), r.writer.clone()));
            },
        ));
        let (bound, writer) = ready_rx.await.expect("ready");
        Served {
            bound,
            writer,
            stop,
            server,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("join").expect("run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_disk_deletes_the_oldest_then_refuses_retryably_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let free = Arc::new(AtomicU64::new(1 << 40));
    let mut config = config_in(dir.path());
    config.ops.min_free_disk = MIN_FREE;
    config.writer.low_disk.probe = DiskProbe::fixed(free.clone());
    let served = Served::start(config).await;
    let bound = served.bound.clone();
    let client = reqwest::Client::new();
    let health = || async {
        let r = client
            .get(format!("http://{}/health", bound.api))
            .send()
            .await
            .expect("health");
        let code = r.status().as_u16();
        (code, r.json::<serde_json::Value>().await.expect("json"))
    };

    // Two traces, the first one older by arrival.
    assert_eq!(send(&client, bound.http, 1).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(send(&client, bound.http, 2).await.status(), 200);
    assert!(trace_found(&client, bound.api, 1).await);
    assert!(trace_found(&client, bound.api, 2).await);
    assert_eq!(health().await.0, 200);

    // The disk runs low, by a few bytes: the oldest trace goes, the newer stays.
    free.store(MIN_FREE - 4096, Ordering::SeqCst);
    eventually("the oldest trace deleted", || async {
        !trace_found(&client, bound.api, 1).await
    })
    .await;
    assert!(
        trace_found(&client, bound.api, 2).await,
        "only the oldest goes"
    );

    // Still low after that (the probe says so): refused, retryably.
    eventually("ingest refused", || async {
        send(&client, bound.http, 3).await.status() == 503
    })
    .await;
    let refused = send(&client, bound.http, 3).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("retry-after").is_some(), "retryable");
    let (code, h) = health().await;
    assert_eq!(code, 503);
    assert_eq!(h["status"], "DOWN");
    assert_eq!(h["details"]["disk"]["status"], "DOWN");
    assert_eq!(h["details"]["disk"]["refusing"], true);
    let reason = h["details"]["disk"]["error"].as_str().unwrap_or_default();
    assert!(reason.contains("low disk space"), "{reason}");

    // Free space just above the threshold is not enough to accept again
    // (the writer measures every 100 ms; 600 ms is several measurements).
    free.store(MIN_FREE + 4096, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        send(&client, bound.http, 3).await.status(),
        503,
        "low_disk_does_not_flap_at_the_threshold"
    );
    let (_, h) = health().await;
    let reason = h["details"]["disk"]["error"].as_str().unwrap_or_default();
    assert!(reason.contains("until 110 MiB are free"), "{reason}");

    // Space comes back: accepted again, by itself.
    free.store(1 << 40, Ordering::SeqCst);
    eventually("ingest accepted again", || async {
        send(&client, bound.http, 4).await.status() == 200
    })
    .await;
    assert!(trace_found(&client, bound.api, 4).await);
    let (code, h) = health().await;
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["details"]["disk"]["refusing"], false);

    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_timestamps_are_stored_flagged_counted_and_kept_by_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config_in(dir.path());
    config.writer.retention.max_age = Duration::from_secs(3600);
    let served = Served::start(config).await;
    let (bound, writer) = (served.bound.clone(), served.writer.clone());
    let client = reqwest::Client::new();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let year = 365 * 24 * 3600 * 1_000_000_000u64;
    let y2018 = 1_514_764_800_000_000_000u64; // 2018-01-01
    let spans = [
        ("zero", 0, 1_000),
        ("2018", y2018, y2018 + 1_000),
        ("next-year", now + year, now + year + 1_000),
        ("fine", now, now + 1_000),
        // Ends before it starts, with a sane start: shown as such, not flagged.
        ("backwards", now, now - 1_000),
    ];
    let trace_id = "ab".repeat(16);
    let body: Vec<String> = spans
        .iter()
        .enumerate()
        .map(|(i, (name, start, end))| {
            format!(
                r#"{{"traceId":"{trace_id}","spanId":"{:016x}","name":"{name}","startTimeUnixNano":"{start}","endTimeUnixNano":"{end}"}}"#,
                i + 1
            )
        })
        .collect();
    let body = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"clock"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        body.join(",")
    );
    let r = client
        .post(format!("http://{}/v1/traces", bound.http))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.expect("json");
    assert!(
        answer.get("partialSuccess").is_none(),
        "accepted, not rejected: {answer}"
    );

    let flags = || async {
        let t: serde_json::Value = client
            .get(format!("http://{}/api/v1/traces/{trace_id}", bound.api))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let mut out = std::collections::BTreeMap::new();
        for s in t["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            out.insert(
                s["name"].as_str().unwrap_or_default().to_string(),
                s["loupeFlags"].as_u64().unwrap_or(0),
            );
        }
        out
    };
    let want: std::collections::BTreeMap<String, u64> = [
        ("zero", 2048),
        ("2018", 2048),
        ("next-year", 2048),
        ("fine", 0),
        ("backwards", 0),
    ]
    .into_iter()
    .map(|(n, f)| (n.to_string(), f))
    .collect();
    assert_eq!(flags().await, want);

    let metrics = client
        .get(format!("http://{}/metrics", bound.api))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("loupe_ingest_suspect_timestamps_total{signal=\"traces\"} 3"),
        "{metrics}"
    );

    // Retention goes by arrival: half an hour on, inside the 1 h max age,
    // all of them are kept whatever their own timestamps say…
    writer.inject_clock_ahead(Duration::from_secs(1800));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(flags().await, want);
    // …and two hours on, all of them go.
    writer.inject_clock_ahead(Duration::from_secs(7200));
    eventually("the trace aged out by arrival", || async {
        client
            .get(format!("http://{}/api/v1/traces/{trace_id}", bound.api))
            .send()
            .await
            .expect("get")
            .status()
            == 404
    })
    .await;

    served.stop().await;
}
