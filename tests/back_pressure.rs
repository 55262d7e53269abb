//! Back-pressure, in-process: a sink that is always busy must turn into
//! retryable answers on both transports (HTTP 503 with `Retry-After`, gRPC
//! `UNAVAILABLE` with `RetryInfo`), each carrying a `google.rpc.Status`.

mod fixtures;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fixtures::*;
use loupe_ingest::status::{RetryInfo, RpcStatus, RETRY_INFO_TYPE};
use loupe_ingest::ReceiverConfig;
use loupe_model::sink::{Batch, Sink, SinkError, Ticket};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::net::TcpListener;

const RETRY: Duration = Duration::from_secs(2);
const UNAVAILABLE: i32 = 14;

/// Refuses every batch: the writer queue is full.
#[derive(Default)]
struct BusySink {
    submitted: AtomicUsize,
}

impl Sink for BusySink {
    fn submit(&self, _batch: Batch) -> Result<Ticket, SinkError> {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        Err(SinkError::Busy { retry_after: RETRY })
    }
}

struct Receiver {
    http: SocketAddr,
    grpc: SocketAddr,
    sink: Arc<BusySink>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Receiver {
    let sink = Arc::new(BusySink::default());
    let config = ReceiverConfig::default();

    let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let http = http_listener.local_addr().expect("addr");
    let app = loupe_ingest::http::router(sink.clone(), &config);
    tokio::spawn(async move { axum::serve(http_listener, app).await });

    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let grpc = grpc_listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(loupe_ingest::grpc::serve(
        grpc_listener,
        sink.clone(),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    Receiver {
        http,
        grpc,
        sink,
        _stop: stop,
    }
}

fn retry_delay(status: &RpcStatus) -> Duration {
    assert_eq!(status.details.len(), 1, "{status:?}");
    let any = &status.details[0];
    assert_eq!(any.type_url, RETRY_INFO_TYPE);
    let info = RetryInfo::decode(any.value.as_slice()).expect("RetryInfo");
    let d = info.retry_delay.expect("retry_delay");
    Duration::new(d.seconds as u64, d.nanos as u32)
}

#[tokio::test]
async fn busy_sink_is_503_with_retry_after_over_http() {
    let r = start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", r.http);
    let (_, req) = trace_request("busy", 2);

    // Protobuf: the Status in protobuf, with RetryInfo.
    let resp = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let h = resp.headers().clone();
    assert_eq!(h.get("retry-after").map(|v| v.as_bytes()), Some(&b"2"[..]));
    assert_eq!(
        h.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/x-protobuf"[..])
    );
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("Status");
    assert_eq!(status.code, UNAVAILABLE);
    assert!(status.message.contains("busy"), "{}", status.message);
    assert_eq!(retry_delay(&status), RETRY);

    // JSON: the Status in JSON, RetryInfo as an Any with "@type".
    let resp = client
        .post(format!("http://{}/v1/logs", r.http))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&logs("busy", vec![log_record("x", &[])])).expect("json"))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"2"[..])
    );
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let v: serde_json::Value = resp.json().await.expect("JSON Status");
    assert_eq!(v["code"], UNAVAILABLE, "{v}");
    assert_eq!(v["details"][0]["@type"], RETRY_INFO_TYPE, "{v}");
    assert_eq!(v["details"][0]["retryDelay"], "2s", "{v}");

    assert_eq!(r.sink.submitted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn busy_sink_is_unavailable_with_retry_info_over_grpc() {
    let r = start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", r.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect");

    let (_, req) = trace_request("busy", 1);
    let err = TraceServiceClient::new(channel.clone())
        .export(req)
        .await
        .expect_err("busy");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    let status = RpcStatus::decode(err.details()).expect("google.rpc.Status in details");
    assert_eq!(status.code, UNAVAILABLE);
    assert_eq!(status.message, err.message());
    assert_eq!(retry_delay(&status), RETRY);

    let err = LogsServiceClient::new(channel)
        .export(logs("busy", vec![log_record("y", &[])]))
        .await
        .expect_err("busy");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    let status = RpcStatus::decode(err.details()).expect("google.rpc.Status in details");
    assert_eq!(retry_delay(&status), RETRY);

    assert_eq!(r.sink.submitted.load(Ordering::SeqCst), 2);
}

/// Acknowledges each batch only after [`HOLD`], as a store that is slow to
/// commit, and counts the spans it was given.
#[derive(Default)]
struct SlowSink {
    spans: AtomicUsize,
}

const HOLD: Duration = Duration::from_millis(1500);

impl Sink for SlowSink {
    fn submit(&self, batch: Batch) -> Result<Ticket, SinkError> {
        self.spans.fetch_add(batch.item_count(), Ordering::SeqCst);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(HOLD).await;
            let _ = tx.send(Ok(()));
        });
        Ok(Ticket(rx))
    }
}

/// What the exporters of the budget test saw.
#[derive(Default)]
struct Seen {
    http_refused: AtomicUsize,
    grpc_refused: AtomicUsize,
    /// The slowest refusal, in ms: refusing must not wait for the store.
    slowest_refusal_ms: AtomicUsize,
}

impl Seen {
    fn refused(&self, counter: &AtomicUsize, took: Duration) {
        counter.fetch_add(1, Ordering::SeqCst);
        self.slowest_refusal_ms
            .fetch_max(took.as_millis() as usize, Ordering::SeqCst);
    }
}

/// Issue 13, item 6: with more exports than the in-flight budget holds,
/// the ones beyond it are refused at once with the retry hint (503 +
/// `Retry-After`, `UNAVAILABLE` + `RetryInfo`) instead of waiting, the
/// bytes in flight stay within the budget plus one request, and exporters
/// that retry get everything stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_beyond_the_in_flight_budget_are_refused_early_and_retried_in_full() {
    use loupe_ingest::budget::{Budget, DECODED_FACTOR};
    const LIMIT: usize = 1 << 20;
    const SPANS: usize = 1000;
    const CLIENTS: usize = 6;
    const TRACES_EACH: usize = 3;

    let one = trace_request("budget", SPANS).1.encoded_len() * DECODED_FACTOR;
    assert!(
        one < LIMIT && one * 2 * CLIENTS > 2 * LIMIT,
        "a few requests fill the budget: {one}"
    );
    let sink = Arc::new(SlowSink::default());
    let budget = Arc::new(Budget::new(LIMIT));
    let config = ReceiverConfig {
        budget: budget.clone(),
        ..Default::default()
    };
    let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let http = http_listener.local_addr().expect("addr");
    let app = loupe_ingest::http::router(sink.clone(), &config);
    tokio::spawn(async move { axum::serve(http_listener, app).await });
    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let grpc = grpc_listener.local_addr().expect("addr");
    tokio::spawn(loupe_ingest::grpc::serve(
        grpc_listener,
        sink.clone(),
        config,
        std::future::pending(),
    ));

    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let http_seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..TRACES_EACH {
                let body = trace_request("budget", SPANS).1.encode_to_vec();
                loop {
                    let t = std::time::Instant::now();
                    let resp = client
                        .post(format!("http://{http}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("POST");
                    if resp.status().is_success() {
                        break;
                    }
                    let took = t.elapsed();
                    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
                    assert_eq!(
                        resp.headers().get("retry-after").map(|v| v.as_bytes()),
                        Some(&b"1"[..])
                    );
                    let status =
                        RpcStatus::decode(resp.bytes().await.expect("body")).expect("Status");
                    assert!(status.message.contains("budget"), "{}", status.message);
                    http_seen.refused(&http_seen.http_refused, took);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
        let grpc_seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            // A connection per client, as separate exporters have.
            let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
                .await
                .expect("connect");
            for _ in 0..TRACES_EACH {
                let (_, req) = trace_request("budget", SPANS);
                loop {
                    let t = std::time::Instant::now();
                    match client.export(req.clone()).await {
                        Ok(_) => break,
                        Err(err) => {
                            let took = t.elapsed();
                            assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
                            let status = RpcStatus::decode(err.details())
                                .expect("google.rpc.Status in details");
                            assert_eq!(retry_delay(&status), Duration::from_secs(1));
                            grpc_seen.refused(&grpc_seen.grpc_refused, took);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("exporter");
    }

    let (http_refused, grpc_refused) = (
        seen.http_refused.load(Ordering::SeqCst),
        seen.grpc_refused.load(Ordering::SeqCst),
    );
    let slowest = seen.slowest_refusal_ms.load(Ordering::SeqCst);
    eprintln!(
        "budget {LIMIT} B, one request {one} B: peak {} B, refused {http_refused} HTTP + \
         {grpc_refused} gRPC, slowest refusal {slowest} ms",
        budget.peak()
    );
    assert_eq!(
        sink.spans.load(Ordering::SeqCst),
        2 * CLIENTS * TRACES_EACH * SPANS,
        "every export stored once"
    );
    assert!(http_refused > 0, "HTTP exports were refused");
    assert!(grpc_refused > 0, "gRPC exports were refused");
    assert!(
        slowest < HOLD.as_millis() as usize,
        "refused at once, not after waiting for the store: {slowest} ms"
    );
    assert!(
        budget.peak() <= LIMIT + one,
        "peak {} > budget + one request",
        budget.peak()
    );
    assert!(budget.refused(loupe_ingest::stats::Transport::Http) > 0);
    assert!(budget.refused(loupe_ingest::stats::Transport::Grpc) > 0);
    // The last charges are given back as their requests are dropped, which
    // may be just after the answers went out.
    let t = std::time::Instant::now();
    while budget.used() > 0 && t.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(budget.used(), 0, "everything given back");
}
