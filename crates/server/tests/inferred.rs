//! Inferred links through the API on a real loopback socket: two traces
//! that share `kestra.executionId` and no span link are related both ways
//! in `/traces/{id}/related`, marked "inferred by kestra.executionId";
//! `PUT /settings/correlation` turns the rule off (both ways gone) and on.

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::sink::{Batch, Sink};
use loupe_store::{Store, WriterConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn trace(n: u8, service: &str, start: u64, exec: &str) -> ResourceSpans {
    let mut tid = vec![0u8; 16];
    tid[0] = 0xe1;
    tid[15] = n;
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                trace_id: tid,
                span_id: vec![0x11, n, 0, 0, 0, 0, 0, 1],
                name: format!("{service} root"),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_000_000,
                attributes: vec![kv("kestra.executionId", exec)],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn hexid(n: u8) -> String {
    format!("e1{}{n:02x}", "00".repeat(14))
}

/// One HTTP/1.1 exchange on a fresh connection: status and body.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nX-Loupe-Request: 1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().expect("status");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn related(body: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["related"].as_array().expect("related").clone()
}

#[tokio::test]
async fn shared_execution_id_is_an_inferred_link_both_ways_until_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), WriterConfig::default()).expect("store");
    let t0 = loupe_model::time::now_ns() - 60_000_000_000;
    store
        .writer
        .submit(Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![
                trace(1, "kestra-executor", t0, "6OWgv2bBDN2QAfxcklrpsh"),
                trace(
                    2,
                    "kestra-worker",
                    t0 + 5_000_000_000,
                    "6OWgv2bBDN2QAfxcklrpsh",
                ),
            ],
        }))
        .expect("submit")
        .wait()
        .await
        .expect("stored");
    let addr = support::serve_api(&store).await;

    let (status, body) = http(
        addr,
        "GET",
        &format!("/api/v1/traces/{}/related", hexid(1)),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = related(&body);
    assert_eq!(r.len(), 1, "{body}");
    assert_eq!(r[0]["traceId"], hexid(2));
    assert_eq!(r[0]["direction"], "incoming");
    assert_eq!(r[0]["inferred"]["rule"], "kestra.executionId");
    assert_eq!(r[0]["inferred"]["key"], "kestra.executionId");
    assert_eq!(r[0]["summary"]["rootService"], "kestra-worker");

    let (_, body) = http(
        addr,
        "GET",
        &format!("/api/v1/traces/{}/related", hexid(2)),
        "",
    )
    .await;
    let r = related(&body);
    assert_eq!(r.len(), 1, "{body}");
    assert_eq!(
        (r[0]["traceId"].as_str(), r[0]["direction"].as_str()),
        (Some(hexid(1).as_str()), Some("outgoing"))
    );
    assert_eq!(r[0]["inferred"]["rule"], "kestra.executionId");

    let (status, body) = http(addr, "GET", "/api/v1/settings/correlation", "").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["rules"][0]["name"], "kestra.executionId");
    assert_eq!(v["rules"][0]["enabled"], true);

    let off = r#"{"name": "kestra.executionId", "enabled": false}"#;
    let (status, body) = http(addr, "PUT", "/api/v1/settings/correlation", off).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""enabled":false"#), "{body}");
    for n in [1, 2] {
        let (_, body) = http(
            addr,
            "GET",
            &format!("/api/v1/traces/{}/related", hexid(n)),
            "",
        )
        .await;
        assert!(related(&body).is_empty(), "{body}");
    }

    let (status, body) = http(
        addr,
        "PUT",
        "/api/v1/settings/correlation",
        r#"{"name": "nope", "enabled": true}"#,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = http(
        addr,
        "PUT",
        "/api/v1/settings/correlation",
        r#"{"name": "kestra.executionId", "on": 1}"#,
    )
    .await;
    assert_eq!(status / 100, 4);

    let on = r#"{"name": "kestra.executionId", "enabled": true}"#;
    http(addr, "PUT", "/api/v1/settings/correlation", on).await;
    let (_, body) = http(
        addr,
        "GET",
        &format!("/api/v1/traces/{}/related", hexid(1)),
        "",
    )
    .await;
    assert_eq!(related(&body).len(), 1, "{body}");
}
