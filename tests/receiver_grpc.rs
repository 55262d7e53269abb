//! OTLP/gRPC against the real `loupe serve` binary, with the generated
//! tonic clients: exports of all three signals, gzip, partial success,
//! size limits, and read-after-ack through the API.

mod common;
mod fixtures;

use common::Loupe;
use fixtures::*;
use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::Code;

const LIMIT: usize = 64 << 20;

async fn channel(l: &Loupe) -> Channel {
    Channel::from_shared(format!("http://{}", l.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect to OTLP/gRPC")
}

async fn trace_names(l: &Loupe, tid: &[u8]) -> Vec<String> {
    span_names(
        &l.get_json(&format!("/api/v1/traces/{}", hex::encode(tid)))
            .await,
    )
}

async fn log_count(l: &Loupe, service: &str) -> usize {
    count_log_records(&l.get_json(&format!("/api/v1/logs?service={service}")).await)
}

async fn point_count(l: &Loupe, metric: &str) -> usize {
    count_data_points(&l.get_json(&format!("/api/v1/metrics/{metric}")).await)
}

#[tokio::test]
async fn exports_are_stored_and_visible_right_after_the_ack() {
    let l = Loupe::start();
    let ch = channel(&l).await;
    let mut traces_client = TraceServiceClient::new(ch.clone());
    let mut logs_client = LogsServiceClient::new(ch.clone());
    let mut metrics_client = MetricsServiceClient::new(ch);

    let (tid, req) = trace_request("grpc", 3);
    let resp = traces_client.export(req).await.expect("export traces");
    assert_eq!(resp.into_inner().partial_success, None);
    // No sleep: the ack means committed.
    assert_eq!(trace_names(&l, &tid).await, ["child-1", "child-2", "root"]);

    let req = logs(
        "grpc",
        vec![log_record("grpc one", &tid), log_record("grpc two", &[])],
    );
    let resp = logs_client.export(req).await.expect("export logs");
    assert_eq!(resp.into_inner().partial_success, None);
    assert_eq!(log_count(&l, "grpc").await, 2);
    let v = l
        .get_json(&format!("/api/v1/logs?traceId={}", hex::encode(tid)))
        .await;
    assert_eq!(count_log_records(&v), 1, "{v}");

    let req = metrics_request("grpc", "grpc.gauge", 4);
    let resp = metrics_client.export(req).await.expect("export metrics");
    assert_eq!(resp.into_inner().partial_success, None);
    assert_eq!(point_count(&l, "grpc.gauge").await, 4);
}

#[tokio::test]
async fn gzip_compressed_exports_are_accepted() {
    let l = Loupe::start();
    let ch = channel(&l).await;
    let mut traces_client =
        TraceServiceClient::new(ch.clone()).send_compressed(CompressionEncoding::Gzip);
    let mut logs_client =
        LogsServiceClient::new(ch.clone()).send_compressed(CompressionEncoding::Gzip);
    let mut metrics_client =
        MetricsServiceClient::new(ch).send_compressed(CompressionEncoding::Gzip);

    let (tid, req) = trace_request("grpc-gz", 2);
    traces_client.export(req).await.expect("export traces");
    assert_eq!(trace_names(&l, &tid).await, ["child-1", "root"]);

    let req = logs("grpc-gz", vec![log_record("gzipped", &tid)]);
    logs_client.export(req).await.expect("export logs");
    assert_eq!(log_count(&l, "grpc-gz").await, 1);

    let req = metrics_request("grpc-gz", "grpc.gz.gauge", 3);
    metrics_client.export(req).await.expect("export metrics");
    assert_eq!(point_count(&l, "grpc.gz.gauge").await, 3);
}

#[tokio::test]
async fn invalid_ids_are_a_partial_success() {
    let l = Loupe::start();
    let ch = channel(&l).await;
    let mut traces_client = TraceServiceClient::new(ch.clone());
    let mut logs_client = LogsServiceClient::new(ch);

    let tid = new_trace_id();
    let req = traces(
        "grpc-partial",
        vec![
            span("ok-1", &tid, &new_span_id()),
            span("empty-trace-id", &[], &new_span_id()),
            span("short-trace-id", &tid[..15], &new_span_id()),
            span("zero-span-id", &tid, &[0; 8]),
            span("ok-2", &tid, &new_span_id()),
            span("ok-3", &tid, &new_span_id()),
        ],
    );
    let ps = traces_client
        .export(req)
        .await
        .expect("export traces")
        .into_inner()
        .partial_success
        .expect("partial success");
    assert_eq!(ps.rejected_spans, 3, "{}", ps.error_message);
    assert!(
        ps.error_message.contains("3 spans rejected"),
        "{}",
        ps.error_message
    );
    assert_eq!(trace_names(&l, &tid).await, ["ok-1", "ok-2", "ok-3"]);

    let req = logs(
        "grpc-partial",
        vec![
            log_record("fine", &tid),
            log_record("seventeen bytes", &[7; 17]),
        ],
    );
    let ps = logs_client
        .export(req)
        .await
        .expect("export logs")
        .into_inner()
        .partial_success
        .expect("partial success");
    assert_eq!(ps.rejected_log_records, 1, "{}", ps.error_message);
    assert_eq!(log_count(&l, "grpc-partial").await, 1);
}

/// A one-span request carrying an attribute of `len` copies of `fill`.
fn big_request(len: usize, fill: u8) -> ([u8; 16], loupe_model::otlp::ExportTraceServiceRequest) {
    let tid = new_trace_id();
    let mut s = span("big", &tid, &new_span_id());
    s.attributes.push(KeyValue {
        key: "blob".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BytesValue(vec![fill; len])),
        }),
        ..Default::default()
    });
    (tid, traces("grpc-big", vec![s]))
}

#[tokio::test]
async fn messages_over_64_mib_are_resource_exhausted() {
    let l = Loupe::start();
    let ch = channel(&l).await;

    // Uncompressed: the client must be allowed to send it at all.
    let mut client = TraceServiceClient::new(ch.clone()).max_encoding_message_size(usize::MAX);
    let (tid, req) = big_request(LIMIT + 1024, b'x');
    let err = client.export(req).await.expect_err("over the limit");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // Compressed: small on the wire, over the limit once inflated.
    let mut client = TraceServiceClient::new(ch.clone())
        .max_encoding_message_size(usize::MAX)
        .send_compressed(CompressionEncoding::Gzip);
    let (_, req) = big_request(LIMIT + (6 << 20), 0);
    let err = client.export(req).await.expect_err("over the limit");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // Nothing was stored, and a normal export on the same channel works.
    let v = l.get_json("/api/v1/traces?service=grpc-big").await;
    assert_eq!(v["traces"].as_array().map(Vec::len), Some(0), "{v}");
    let resp = reqwest::get(l.api_url(&format!("/api/v1/traces/{}", hex::encode(tid))))
        .await
        .expect("GET");
    assert_eq!(resp.status(), reqwest::StatusCode::NOT_FOUND);

    let (tid, req) = big_request(1 << 20, b'y');
    TraceServiceClient::new(ch)
        .export(req)
        .await
        .expect("a 1 MiB message is fine");
    assert_eq!(trace_names(&l, &tid).await, ["big"]);
}

/// Sends raw bytes as the request message, to reach the server's decoder
/// with something no generated client would produce.
#[derive(Clone, Copy)]
struct RawBytes;
struct RawEncoder;
struct EmptyDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for EmptyDecoder {
    type Item = ();
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use prost::bytes::Buf;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = EmptyDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> EmptyDecoder {
        EmptyDecoder
    }
}

#[tokio::test]
async fn undecodable_protobuf_is_invalid_argument() {
    let l = Loupe::start();
    let mut grpc = tonic::client::Grpc::new(channel(&l).await);
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    // Field 1 (resource_spans), length-delimited, claiming 100 bytes that never come.
    let status = grpc
        .unary(
            tonic::Request::new(vec![0x0a, 100, 1, 2, 3]),
            path,
            RawBytes,
        )
        .await
        .expect_err("garbage must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // Nothing was stored, and the server still serves well-formed requests.
    let (tid, req) = trace_request("after-garbage", 2);
    TraceServiceClient::new(channel(&l).await)
        .export(req)
        .await
        .expect("a valid export after garbage");
    assert_eq!(trace_names(&l, &tid).await.len(), 2);
}
