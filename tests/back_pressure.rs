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
