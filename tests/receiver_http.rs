//! OTLP/HTTP against the real `loupe serve` binary: the success and error
//! matrix (status code, `Content-Type`, `google.rpc.Status` body in the
//! request's encoding), OTLP/JSON details, partial success, idempotent
//! resends and CORS.

mod common;
mod fixtures;

use common::Loupe;
use fixtures::*;
use loupe_ingest::status::RpcStatus;
use loupe_model::otlp::logs_service::ExportLogsServiceResponse;
use loupe_model::otlp::metrics_service::ExportMetricsServiceResponse;
use loupe_model::otlp::trace_service::ExportTraceServiceResponse;
use loupe_model::otlp::ExportTraceServiceRequest;
use prost::Message;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

// google.rpc.Code values.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status code and the `Content-Type`, then decodes the
    /// `google.rpc.Status` body in that encoding.
    fn rpc_status(&self, code: StatusCode, content_type: &str) -> RpcStatus {
        assert_eq!(self.status, code, "body: {}", self.text());
        assert_eq!(self.content_type(), content_type, "body: {}", self.text());
        if content_type == PROTOBUF {
            RpcStatus::decode(self.body.as_slice())
                .unwrap_or_else(|e| panic!("Status protobuf: {e}: {:?}", self.body))
        } else {
            let v: serde_json::Value = serde_json::from_slice(&self.body)
                .unwrap_or_else(|e| panic!("Status JSON: {e}: {}", self.text()));
            assert!(v["details"].is_array(), "{v}");
            RpcStatus {
                code: v["code"].as_i64().expect("code") as i32,
                message: v["message"].as_str().expect("message").to_string(),
                details: Vec::new(),
            }
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON answer: {e}: {}", self.text()))
    }
}

async fn request(method: Method, url: String, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, url).body(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// POSTs `len` zero bytes with `Transfer-Encoding: chunked` over a plain
/// socket (reqwest sends a Content-Length for in-memory bodies), then reads
/// the answer.
async fn post_chunked_zeros(l: &Loupe, path: &str, content_type: &str, len: usize) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(l.http)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        l.http
    );
    sock.write_all(head.as_bytes()).await.expect("write head");
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        sock.write_all(format!("{n:x}\r\n").as_bytes())
            .await
            .expect("write chunk size");
        sock.write_all(&chunk[..n]).await.expect("write chunk");
        sock.write_all(b"\r\n").await.expect("write chunk end");
        left -= n;
    }
    sock.write_all(b"0\r\n\r\n")
        .await
        .expect("write last chunk");
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let code: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':').expect("header line");
        headers.insert(
            reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).expect("header name"),
            v.trim().parse().expect("header value"),
        );
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Answer {
        status: StatusCode::from_u16(code).expect("status code"),
        headers,
        body,
    }
}

async fn post(l: &Loupe, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
    request(
        Method::POST,
        l.http_url(path),
        &[("content-type", content_type)],
        body,
    )
    .await
}

async fn post_gzip(l: &Loupe, path: &str, content_type: &str, body: &[u8]) -> Answer {
    request(
        Method::POST,
        l.http_url(path),
        &[("content-type", content_type), ("content-encoding", "gzip")],
        gzip(body),
    )
    .await
}

/// OTLP/JSON of a request (serde is not a direct dependency, hence a macro).
macro_rules! json_bytes {
    ($v:expr) => {
        serde_json::to_vec($v).expect("serialize OTLP/JSON")
    };
}

/// A 200 answer in JSON without a partial success (or one rejecting nothing).
fn assert_json_ok(a: &Answer) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), JSON);
    let v = a.json();
    assert!(v.is_object(), "{v}");
    if let Some(ps) = v.get("partialSuccess") {
        for (k, n) in ps.as_object().expect("partialSuccess object") {
            if k.starts_with("rejected") {
                assert!(n == "0" || n == 0, "{v}");
            }
        }
    }
}

/// The partial success's rejected count, a string or number in OTLP/JSON.
fn json_int(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::String(s) => s.parse().expect("int64 string"),
        serde_json::Value::Number(n) => n.as_i64().expect("int64"),
        _ => panic!("not an int64: {v}"),
    }
}

async fn span_count_of_service(l: &Loupe, service: &str) -> u64 {
    let v = l
        .get_json(&format!("/api/v1/traces?service={service}"))
        .await;
    let traces = v["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1, "{v}");
    traces[0]["spanCount"].as_u64().expect("spanCount")
}

async fn log_count_of_service(l: &Loupe, service: &str) -> usize {
    count_log_records(&l.get_json(&format!("/api/v1/logs?service={service}")).await)
}

async fn trace_json(l: &Loupe, id: &[u8]) -> serde_json::Value {
    l.get_json(&format!("/api/v1/traces/{}", hex::encode(id)))
        .await
}

#[tokio::test]
async fn valid_protobuf_and_json_are_accepted_on_all_endpoints() {
    let l = Loupe::start();

    // Protobuf: 200, protobuf answer without partial success.
    let (tid_pb, req) = trace_request("http-pb", 2);
    let a = post(&l, "/v1/traces", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);
    let resp = ExportTraceServiceResponse::decode(a.body.as_slice()).expect("response");
    assert_eq!(resp.partial_success, None);

    let req = logs("http-pb", vec![log_record("pb log", &tid_pb)]);
    let a = post(&l, "/v1/logs", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);
    let resp = ExportLogsServiceResponse::decode(a.body.as_slice()).expect("response");
    assert_eq!(resp.partial_success, None);

    let req = metrics_request("http-pb", "pb.gauge", 3);
    let a = post(&l, "/v1/metrics", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);
    let resp = ExportMetricsServiceResponse::decode(a.body.as_slice()).expect("response");
    assert_eq!(resp.partial_success, None);

    // JSON, with the media type in odd case and with a charset.
    let odd_json = "Application/JSON; charset=utf-8";
    let (tid_json, req) = trace_request("http-json", 3);
    assert_json_ok(&post(&l, "/v1/traces", odd_json, json_bytes!(&req)).await);
    let req = logs(
        "http-json",
        vec![
            log_record("json log 1", &tid_json),
            log_record("json log 2", &[]),
        ],
    );
    assert_json_ok(&post(&l, "/v1/logs", JSON, json_bytes!(&req)).await);
    let req = metrics_request("http-json", "json.gauge", 4);
    assert_json_ok(&post(&l, "/v1/metrics", odd_json, json_bytes!(&req)).await);

    // Protobuf media type in odd case too.
    let (tid_odd, req) = trace_request("http-pb-odd", 1);
    let a = post(
        &l,
        "/v1/traces",
        "Application/X-Protobuf",
        req.encode_to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);

    // All of it is stored.
    assert_eq!(
        span_names(&trace_json(&l, &tid_pb).await),
        ["child-1", "root"]
    );
    assert_eq!(
        span_names(&trace_json(&l, &tid_json).await),
        ["child-1", "child-2", "root"]
    );
    assert_eq!(span_names(&trace_json(&l, &tid_odd).await), ["root"]);
    assert_eq!(log_count_of_service(&l, "http-pb").await, 1);
    assert_eq!(log_count_of_service(&l, "http-json").await, 2);
    assert_eq!(
        count_data_points(&l.get_json("/api/v1/metrics/pb.gauge").await),
        3
    );
    assert_eq!(
        count_data_points(&l.get_json("/api/v1/metrics/json.gauge").await),
        4
    );
}

#[tokio::test]
async fn otlp_json_details_are_understood() {
    let l = Loupe::start();
    let tid = new_trace_id();
    let (root, child) = (new_span_id(), new_span_id());
    let start = now_ns();
    let end = start + 5_000_000;
    // Uppercase hex IDs; 64-bit integers as strings and as numbers; enums
    // as integers; unknown fields at several levels.
    let body = serde_json::json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "json-details"}}],
                "futureResourceField": {"x": 1}
            },
            "scopeSpans": [{
                "scope": {"name": "json-scope", "version": "2.0"},
                "spans": [
                    {
                        "traceId": hex::encode_upper(tid),
                        "spanId": hex::encode_upper(root),
                        "name": "root-json",
                        "kind": 2,
                        "startTimeUnixNano": start.to_string(),
                        "endTimeUnixNano": end,
                        "attributes": [
                            {"key": "big.string", "value": {"intValue": "9007199254740993"}},
                            {"key": "small.number", "value": {"intValue": 42}},
                            {"key": "ratio", "value": {"doubleValue": 1.5}}
                        ],
                        "status": {"code": 2, "message": "boom"},
                        "someFutureField": {"nested": [1, 2, 3]}
                    },
                    {
                        "traceId": hex::encode_upper(tid),
                        "spanId": hex::encode_upper(child),
                        "parentSpanId": hex::encode_upper(root),
                        "name": "child-json",
                        "kind": 3,
                        "startTimeUnixNano": start + 1_000,
                        "endTimeUnixNano": (end - 1_000).to_string(),
                        "events": [{"timeUnixNano": (start + 2_000).to_string(), "name": "ev"}]
                    }
                ],
                "unknownScopeSpansField": true
            }]
        }],
        "unknownTopLevelField": "ignored"
    });
    let a = post(
        &l,
        "/v1/traces",
        JSON,
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_json_ok(&a);

    let stored: ExportTraceServiceRequest =
        serde_json::from_value(trace_json(&l, &tid).await).expect("trace as OTLP/JSON");
    assert_eq!(stored.resource_spans.len(), 1);
    let rs = &stored.resource_spans[0];
    assert_eq!(
        loupe_model::otlp::service_name(rs.resource.as_ref()),
        Some("json-details")
    );
    let spans: Vec<_> = rs.scope_spans.iter().flat_map(|ss| &ss.spans).collect();
    let scope = rs.scope_spans[0].scope.as_ref().expect("scope");
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("json-scope", "2.0")
    );
    assert_eq!(spans.len(), 2, "{stored:?}");
    let r = spans.iter().find(|s| s.name == "root-json").expect("root");
    let c = spans
        .iter()
        .find(|s| s.name == "child-json")
        .expect("child");
    assert_eq!(r.trace_id, tid);
    assert_eq!(r.span_id, root);
    assert!(r.parent_span_id.is_empty());
    assert_eq!(r.kind, 2);
    assert_eq!(r.start_time_unix_nano, start);
    assert_eq!(r.end_time_unix_nano, end);
    let status = r.status.as_ref().expect("status");
    assert_eq!((status.code, status.message.as_str()), (2, "boom"));
    use loupe_model::otlp::common::any_value::Value;
    let attr = |k: &str| {
        r.attributes
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone())
            .unwrap_or_else(|| panic!("attribute {k} in {:?}", r.attributes))
    };
    assert_eq!(attr("big.string"), Value::IntValue(9_007_199_254_740_993));
    assert_eq!(attr("small.number"), Value::IntValue(42));
    assert_eq!(attr("ratio"), Value::DoubleValue(1.5));
    assert_eq!(c.trace_id, tid);
    assert_eq!(c.span_id, child);
    assert_eq!(c.parent_span_id, root);
    assert_eq!(c.kind, 3);
    assert_eq!(c.start_time_unix_nano, start + 1_000);
    assert_eq!(c.end_time_unix_nano, end - 1_000);
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.events[0].name, "ev");
    assert_eq!(c.events[0].time_unix_nano, start + 2_000);
}

#[tokio::test]
async fn undecodable_bodies_are_400() {
    let l = Loupe::start();
    // Field 1, length-delimited, claims 16 bytes but only 1 follows.
    let truncated = vec![0x0a, 0x10, 0x01];
    let s = post(&l, "/v1/traces", PROTOBUF, truncated.clone())
        .await
        .rpc_status(StatusCode::BAD_REQUEST, PROTOBUF);
    assert_eq!(s.code, INVALID_ARGUMENT);
    assert!(s.message.contains("protobuf"), "{}", s.message);

    let s = post(&l, "/v1/logs", PROTOBUF, truncated)
        .await
        .rpc_status(StatusCode::BAD_REQUEST, PROTOBUF);
    assert_eq!(s.code, INVALID_ARGUMENT);

    for body in [
        &b"{\"resourceSpans\": ["[..],
        b"not json",
        b"{\"resourceSpans\": 5}",
    ] {
        let s = post(&l, "/v1/traces", JSON, body.to_vec())
            .await
            .rpc_status(StatusCode::BAD_REQUEST, JSON);
        assert_eq!(s.code, INVALID_ARGUMENT);
        assert!(s.message.contains("JSON"), "{}", s.message);
    }

    let s = post(&l, "/v1/metrics", JSON, b"[1, 2]".to_vec())
        .await
        .rpc_status(StatusCode::BAD_REQUEST, JSON);
    assert_eq!(s.code, INVALID_ARGUMENT);

    // Content-Encoding: gzip with a body that is not gzip.
    for (ct, path) in [(PROTOBUF, "/v1/traces"), (JSON, "/v1/logs")] {
        let a = request(
            Method::POST,
            l.http_url(path),
            &[("content-type", ct), ("content-encoding", "gzip")],
            b"this is definitely not gzip data".to_vec(),
        )
        .await;
        let s = a.rpc_status(StatusCode::BAD_REQUEST, ct);
        assert_eq!(s.code, INVALID_ARGUMENT);
        assert!(s.message.contains("gzip"), "{}", s.message);
    }
}

#[tokio::test]
async fn wrong_method_media_type_or_encoding() {
    let l = Loupe::start();
    let (_, req) = trace_request("wrong", 1);
    let pb = req.encode_to_vec();

    // 405 with Allow: POST. No Content-Type: the answer is JSON.
    let a = request(Method::GET, l.http_url("/v1/traces"), &[], Vec::new()).await;
    let s = a.rpc_status(StatusCode::METHOD_NOT_ALLOWED, JSON);
    assert_eq!(a.header("allow"), Some("POST"));
    assert_eq!(s.code, UNIMPLEMENTED);
    assert!(s.message.contains("GET"), "{}", s.message);
    assert!(s.message.contains("POST"), "{}", s.message);

    let a = request(
        Method::PUT,
        l.http_url("/v1/traces"),
        &[("content-type", PROTOBUF)],
        pb.clone(),
    )
    .await;
    let s = a.rpc_status(StatusCode::METHOD_NOT_ALLOWED, PROTOBUF);
    assert_eq!(a.header("allow"), Some("POST"));
    assert_eq!(s.code, UNIMPLEMENTED);
    assert!(s.message.contains("PUT"), "{}", s.message);

    // 415 for a media type that is neither protobuf nor JSON.
    let a = post(&l, "/v1/traces", "text/plain", pb.clone()).await;
    let s = a.rpc_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, JSON);
    assert_eq!(s.code, INVALID_ARGUMENT);
    assert!(s.message.contains("text/plain"), "{}", s.message);

    // 415 for a compression Loupe does not speak.
    let a = request(
        Method::POST,
        l.http_url("/v1/traces"),
        &[("content-type", PROTOBUF), ("content-encoding", "br")],
        pb.clone(),
    )
    .await;
    let s = a.rpc_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, PROTOBUF);
    assert_eq!(s.code, INVALID_ARGUMENT);
    assert!(s.message.contains("br"), "{}", s.message);

    // None of those stored anything.
    let v = l.get_json("/api/v1/traces?service=wrong").await;
    assert_eq!(v["traces"].as_array().map(Vec::len), Some(0), "{v}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let l = Loupe::start();
    // A gzip bomb: 70 MiB of zeros compress to about 70 KiB.
    let bomb = vec![0u8; 70 << 20];
    let a = post_gzip(&l, "/v1/traces", PROTOBUF, &bomb).await;
    let s = a.rpc_status(StatusCode::PAYLOAD_TOO_LARGE, PROTOBUF);
    assert_eq!(s.code, RESOURCE_EXHAUSTED);
    assert!(s.message.contains("limit"), "{}", s.message);

    let a = post_gzip(&l, "/v1/logs", JSON, &bomb).await;
    let s = a.rpc_status(StatusCode::PAYLOAD_TOO_LARGE, JSON);
    assert_eq!(s.code, RESOURCE_EXHAUSTED);
    drop(bomb);

    // Uncompressed, one byte over 64 MiB.
    let big = vec![0u8; (64 << 20) + 1];
    let a = post(&l, "/v1/traces", PROTOBUF, big).await;
    let s = a.rpc_status(StatusCode::PAYLOAD_TOO_LARGE, PROTOBUF);
    assert_eq!(s.code, RESOURCE_EXHAUSTED);

    // Uncompressed and chunked (no Content-Length to refuse it up front):
    // cut off at the limit while streaming.
    let a = post_chunked_zeros(&l, "/v1/metrics", JSON, (64 << 20) + (1 << 20)).await;
    let s = a.rpc_status(StatusCode::PAYLOAD_TOO_LARGE, JSON);
    assert_eq!(s.code, RESOURCE_EXHAUSTED);

    // Loupe is still fine afterwards.
    let (tid, req) = trace_request("after-413", 1);
    let a = post(&l, "/v1/traces", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(span_names(&trace_json(&l, &tid).await), ["root"]);
}

#[tokio::test]
async fn gzip_is_accepted_on_all_endpoints() {
    let l = Loupe::start();
    let (tid, req) = trace_request("gz", 2);
    let a = post_gzip(&l, "/v1/traces", PROTOBUF, &req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);

    let req = logs(
        "gz",
        vec![log_record("gz 1", &tid), log_record("gz 2", &[])],
    );
    let a = post_gzip(&l, "/v1/logs", PROTOBUF, &req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    let req = metrics_request("gz", "gz.gauge", 5);
    let a = post_gzip(&l, "/v1/metrics", PROTOBUF, &req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    // JSON may be gzipped too.
    let (tid_json, req) = trace_request("gz-json", 1);
    assert_json_ok(&post_gzip(&l, "/v1/traces", JSON, &json_bytes!(&req)).await);
    let req = logs("gz-json", vec![log_record("gz json", &[])]);
    assert_json_ok(&post_gzip(&l, "/v1/logs", JSON, &json_bytes!(&req)).await);
    let req = metrics_request("gz-json", "gz.json.gauge", 2);
    assert_json_ok(&post_gzip(&l, "/v1/metrics", JSON, &json_bytes!(&req)).await);

    assert_eq!(span_names(&trace_json(&l, &tid).await), ["child-1", "root"]);
    assert_eq!(span_names(&trace_json(&l, &tid_json).await), ["root"]);
    assert_eq!(log_count_of_service(&l, "gz").await, 2);
    assert_eq!(log_count_of_service(&l, "gz-json").await, 1);
    assert_eq!(
        count_data_points(&l.get_json("/api/v1/metrics/gz.gauge").await),
        5
    );
    assert_eq!(
        count_data_points(&l.get_json("/api/v1/metrics/gz.json.gauge").await),
        2
    );
}

/// Three valid spans of one trace plus three with bad IDs.
fn mixed_spans(service: &str) -> ([u8; 16], ExportTraceServiceRequest) {
    let tid = new_trace_id();
    let spans = vec![
        span("ok-1", &tid, &new_span_id()),
        span("empty-trace-id", &[], &new_span_id()),
        span("ok-2", &tid, &new_span_id()),
        span("short-trace-id", &tid[..15], &new_span_id()),
        span("zero-span-id", &tid, &[0; 8]),
        span("ok-3", &tid, &new_span_id()),
    ];
    (tid, traces(service, spans))
}

#[tokio::test]
async fn partial_success_rejects_only_bad_items() {
    let l = Loupe::start();

    // Protobuf.
    let (tid, req) = mixed_spans("partial-pb");
    let a = post(&l, "/v1/traces", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), PROTOBUF);
    let ps = ExportTraceServiceResponse::decode(a.body.as_slice())
        .expect("response")
        .partial_success
        .expect("partial success");
    assert_eq!(ps.rejected_spans, 3, "{}", ps.error_message);
    assert!(
        ps.error_message.contains("empty-trace-id"),
        "{}",
        ps.error_message
    );
    assert_eq!(
        span_names(&trace_json(&l, &tid).await),
        ["ok-1", "ok-2", "ok-3"]
    );

    // JSON: the bad IDs as hex ("" and 15 bytes), the answer in JSON.
    let (tid, req) = mixed_spans("partial-json");
    let a = post(&l, "/v1/traces", JSON, json_bytes!(&req)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type(), JSON);
    let v = a.json();
    assert_eq!(json_int(&v["partialSuccess"]["rejectedSpans"]), 3, "{v}");
    let msg = v["partialSuccess"]["errorMessage"]
        .as_str()
        .expect("message");
    assert!(msg.contains("3 spans rejected"), "{msg}");
    assert_eq!(
        span_names(&trace_json(&l, &tid).await),
        ["ok-1", "ok-2", "ok-3"]
    );
    assert_eq!(span_count_of_service(&l, "partial-json").await, 3);

    // Logs: a trace ID of the wrong length rejects that record only.
    let tid = new_trace_id();
    let req = logs(
        "partial-logs",
        vec![
            log_record("good with trace", &tid),
            log_record("bad trace id", &tid[..12]),
            log_record("good without trace", &[]),
        ],
    );
    let a = post(&l, "/v1/logs", PROTOBUF, req.encode_to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let ps = ExportLogsServiceResponse::decode(a.body.as_slice())
        .expect("response")
        .partial_success
        .expect("partial success");
    assert_eq!(ps.rejected_log_records, 1, "{}", ps.error_message);
    assert!(
        ps.error_message.contains("bad trace id"),
        "{}",
        ps.error_message
    );
    let v = l.get_json("/api/v1/logs?service=partial-logs").await;
    assert_eq!(count_log_records(&v), 2, "{v}");
    assert!(!v.to_string().contains("bad trace id"), "{v}");

    // The same in JSON.
    let a = post(&l, "/v1/logs", JSON, json_bytes!(&req)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(
        json_int(&v["partialSuccess"]["rejectedLogRecords"]),
        1,
        "{v}"
    );
}

#[tokio::test]
async fn resending_the_same_request_stores_nothing_twice() {
    let l = Loupe::start();
    let (tid, req) = trace_request("resend", 4);
    let body = req.encode_to_vec();
    for _ in 0..2 {
        let a = post(&l, "/v1/traces", PROTOBUF, body.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(span_count_of_service(&l, "resend").await, 4);
        assert_eq!(span_names(&trace_json(&l, &tid).await).len(), 4);
    }

    let req = logs(
        "resend",
        vec![
            log_record("first", &tid),
            log_record("second", &tid),
            log_record("third", &[]),
        ],
    );
    let body = req.encode_to_vec();
    for _ in 0..2 {
        let a = post(&l, "/v1/logs", PROTOBUF, body.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(log_count_of_service(&l, "resend").await, 3);
    }

    let body = metrics_request("resend", "resend.gauge", 6).encode_to_vec();
    for _ in 0..2 {
        let a = post(&l, "/v1/metrics", PROTOBUF, body.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let v = l.get_json("/api/v1/metrics/resend.gauge").await;
        assert_eq!(count_data_points(&v), 6, "{v}");
    }
    let v = l.get_json("/api/v1/metrics").await;
    let m = v["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["name"] == "resend.gauge")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(m["series"], 1, "{v}");
}

async fn preflight(l: &Loupe, origin: &str) -> Answer {
    request(
        Method::OPTIONS,
        l.http_url("/v1/traces"),
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn cors_allows_local_pages_only() {
    let l = Loupe::start();
    let a = preflight(&l, "http://localhost:5173").await;
    assert!(a.status.is_success(), "{} {}", a.status, a.text());
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let methods = a.header("access-control-allow-methods").unwrap_or("");
    assert!(methods.contains("POST"), "{methods:?}");
    let headers = a
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(headers.contains("content-type"), "{headers:?}");

    let a = preflight(&l, "https://evil.example").await;
    assert_eq!(a.header("access-control-allow-origin"), None);

    // The actual request from an allowed page carries ACAO too.
    let (_, req) = trace_request("cors", 1);
    let a = request(
        Method::POST,
        l.http_url("/v1/traces"),
        &[("content-type", JSON), ("origin", "http://localhost:5173")],
        json_bytes!(&req),
    )
    .await;
    assert_json_ok(&a);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let a = request(
        Method::POST,
        l.http_url("/v1/traces"),
        &[("content-type", JSON), ("origin", "https://evil.example")],
        json_bytes!(&req),
    )
    .await;
    assert_eq!(a.header("access-control-allow-origin"), None);
}
