//! Export and import end to end: the real `loupe` binary (`serve`, `export`,
//! `import`), real SQLite files, OTLP over loopback.
//!
//! - Round trip (property test): telemetry captured by one Loupe, exported by
//!   `loupe export` (JSON Lines and HTML report) and imported by `loupe
//!   import` into a fresh Loupe reads back identically through the API.
//! - The JSON Lines follow the OTLP/JSON rules (hex IDs, integer enums,
//!   lowerCamelCase keys, 64-bit integers as strings).
//! - Redaction: a marker secret placed in attributes and log bodies appears
//!   in no export file.
//! - Hostile files: malformed, truncated, deeply nested, oversized and gzip
//!   bombs get clear errors with positions; the valid part of a partly bad
//!   file is imported; re-imports store nothing twice; an import is deleted
//!   as a whole.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use loupe_model::otlp::common::{
    any_value::Value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{span, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use proptest::prelude::*;
use prost::Message;
use serde_json::Value as Json;

const MARKER: &str = "S3CR3T-MARKER-7f1c";

fn loupe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run loupe")
}

fn ok(args: &[&str]) -> String {
    let out = loupe(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "loupe {args:?} failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    format!("{}{stderr}", String::from_utf8_lossy(&out.stdout))
}

fn now() -> u64 {
    loupe_model::time::now_ns()
}

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", s(service))],
        ..Default::default()
    })
}

async fn post(l: &common::Loupe, path: &str, body: Vec<u8>) {
    let r = reqwest::Client::new()
        .post(l.http_url(path))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("post");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

/// One captured trace with its logs and a gauge point, as sent.
#[derive(Debug, Clone)]
struct Capture {
    trace_id: [u8; 16],
    traces: ExportTraceServiceRequest,
    logs: ExportLogsServiceRequest,
    metrics: ExportMetricsServiceRequest,
}

async fn send(l: &common::Loupe, c: &Capture) {
    post(l, "/v1/traces", c.traces.encode_to_vec()).await;
    post(l, "/v1/logs", c.logs.encode_to_vec()).await;
    post(l, "/v1/metrics", c.metrics.encode_to_vec()).await;
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 _./:\\-ü😀\"\\\\<>&\n]{0,16}".prop_map(Value::StringValue),
        any::<i64>().prop_map(Value::IntValue),
        (-1e12f64..1e12).prop_map(Value::DoubleValue),
        any::<bool>().prop_map(Value::BoolValue),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::BytesValue),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| Value::ArrayValue(
                ArrayValue {
                    values: v.into_iter().map(|x| AnyValue { value: Some(x) }).collect()
                }
            )),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..3).prop_map(|v| Value::KvlistValue(
                KeyValueList {
                    values: v.into_iter().map(|(k, x)| kv(&k, x)).collect()
                }
            )),
        ]
    })
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::btree_map("[a-z][a-z0-9_.]{0,10}", any_value(), 0..5)
        .prop_map(|m| m.into_iter().map(|(k, v)| kv(&k, v)).collect())
}

fn capture() -> impl Strategy<Value = Capture> {
    (
        any::<[u8; 16]>(),
        prop::collection::vec(
            (
                "[A-Za-z0-9 _/\\-]{0,20}",
                attrs(),
                0u64..5_000_000_000,
                0u64..2_000_000_000,
                0i32..6,
                0i32..3,
                prop::option::of(attrs()),
            ),
            1..12,
        ),
        attrs(),
        "[a-z]{1,8}",
        prop::collection::vec(("[ -~]{0,30}", 0i32..25, attrs()), 0..4),
        -1e6f64..1e6,
    )
        .prop_map(|(mut tid, spans, res_attrs, svc, logs, gauge)| {
            tid[0] |= 1; // never all zero
            let base = now() - 3_600_000_000_000;
            let spans: Vec<Span> = spans
                .into_iter()
                .enumerate()
                .map(|(i, (name, attributes, start, dur, kind, code, event))| {
                    let span_id = ((i as u64 + 1) * 0x0101_0101 + tid[1] as u64).to_be_bytes();
                    Span {
                        trace_id: tid.to_vec(),
                        span_id: span_id.to_vec(),
                        parent_span_id: if i == 0 {
                            Vec::new()
                        } else {
                            ((i as u64 / 2 + 1) * 0x0101_0101 + tid[1] as u64)
                                .to_be_bytes()
                                .to_vec()
                        },
                        name,
                        kind,
                        start_time_unix_nano: base + start,
                        end_time_unix_nano: base + start + dur,
                        attributes,
                        events: event
                            .map(|a| {
                                vec![span::Event {
                                    time_unix_nano: base + start,
                                    name: "ev".into(),
                                    attributes: a,
                                    dropped_attributes_count: 0,
                                }]
                            })
                            .unwrap_or_default(),
                        status: (code > 0).then(|| Status {
                            message: if code == 2 {
                                "failed".into()
                            } else {
                                String::new()
                            },
                            code,
                        }),
                        ..Default::default()
                    }
                })
                .collect();
            let mut r = resource(&svc);
            if let Some(r) = r.as_mut() {
                r.attributes.extend(res_attrs);
            }
            let first = spans[0].clone();
            let scope = Some(InstrumentationScope {
                name: "prop".into(),
                version: "1".into(),
                ..Default::default()
            });
            Capture {
                trace_id: tid,
                traces: ExportTraceServiceRequest {
                    resource_spans: vec![ResourceSpans {
                        resource: r.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: scope.clone(),
                            spans,
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    }],
                },
                logs: ExportLogsServiceRequest {
                    resource_logs: vec![ResourceLogs {
                        resource: r.clone(),
                        scope_logs: vec![ScopeLogs {
                            scope: scope.clone(),
                            log_records: logs
                                .into_iter()
                                .enumerate()
                                .map(|(i, (body, sev, attributes))| LogRecord {
                                    time_unix_nano: first.start_time_unix_nano + i as u64,
                                    severity_number: sev,
                                    body: Some(AnyValue {
                                        value: Some(Value::StringValue(body)),
                                    }),
                                    attributes,
                                    trace_id: tid.to_vec(),
                                    span_id: first.span_id.clone(),
                                    ..Default::default()
                                })
                                .collect(),
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    }],
                },
                metrics: ExportMetricsServiceRequest {
                    resource_metrics: vec![ResourceMetrics {
                        resource: r,
                        scope_metrics: vec![ScopeMetrics {
                            scope,
                            metrics: vec![Metric {
                                name: format!("prop.gauge.{}", hex::encode(&tid[..4])),
                                unit: "1".into(),
                                data: Some(Data::Gauge(Gauge {
                                    data_points: vec![NumberDataPoint {
                                        time_unix_nano: first.start_time_unix_nano,
                                        value: Some(number_data_point::Value::AsDouble(gauge)),
                                        attributes: vec![kv("host", s("a"))],
                                        ..Default::default()
                                    }],
                                })),
                                ..Default::default()
                            }],
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    }],
                },
            }
        })
}

/// Removes the import mark (what an import adds on purpose) from every
/// resource of an API answer, and orders what the store may order
/// differently (resources and scopes are grouped per store).
fn normalize(v: &Json, list: &str, inner: &str, items: &str) -> Vec<Json> {
    let mut out = Vec::new();
    for r in v[list].as_array().cloned().unwrap_or_default() {
        let mut res = r["resource"].clone();
        if let Some(a) = res["attributes"].as_array_mut() {
            a.retain(|kv| kv["key"] != "loupe.import.source");
        }
        for sc in r[inner].as_array().cloned().unwrap_or_default() {
            for item in sc[items].as_array().cloned().unwrap_or_default() {
                out.push(serde_json::json!({
                    "resource": res, "scope": sc["scope"], "item": item
                }));
            }
        }
    }
    out.sort_by_key(|x| x.to_string());
    out
}

async fn readback(l: &common::Loupe, c: &Capture) -> (Vec<Json>, Vec<Json>, Vec<Json>) {
    let id = hex::encode(c.trace_id);
    let t = l.get_json(&format!("/api/v1/traces/{id}")).await;
    let logs = l
        .get_json(&format!("/api/v1/logs?traceId={id}&limit=1000"))
        .await;
    let name = &c.metrics.resource_metrics[0].scope_metrics[0].metrics[0].name;
    let m = l.get_json(&format!("/api/v1/metrics/{name}")).await;
    (
        normalize(&t, "resourceSpans", "scopeSpans", "spans"),
        normalize(&logs, "resourceLogs", "scopeLogs", "logRecords"),
        normalize(&m, "resourceMetrics", "scopeMetrics", "metrics"),
    )
}

#[test]
fn round_trip_through_every_export_format() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = common::Loupe::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 6,
        ..ProptestConfig::default()
    });
    let formats = ["jsonl", "html"];
    let targets: Vec<common::Loupe> = formats.iter().map(|_| common::Loupe::start()).collect();
    let case = std::cell::Cell::new(0);
    runner
        .run(&capture(), |c| {
            case.set(case.get() + 1);
            let case = case.get();
            rt.block_on(send(&source, &c));
            let before = rt.block_on(readback(&source, &c));
            prop_assert!(!before.0.is_empty());
            for (format, target) in formats.iter().zip(&targets) {
                let file = tmp.path().join(format!("case{case}.{format}"));
                ok(&[
                    "export",
                    "--data-dir",
                    source.data_dir.to_str().unwrap(),
                    "--trace",
                    &hex::encode(c.trace_id),
                    "--logs",
                    "--metrics",
                    "--redact=false",
                    "-o",
                    file.to_str().unwrap(),
                ]);
                let to = format!("http://{}", target.api);
                ok(&["import", "--to", &to, file.to_str().unwrap()]);
                let after = rt.block_on(readback(target, &c));
                prop_assert_eq!(&after, &before, "format {}", format);
            }
            Ok(())
        })
        .unwrap();
}

fn check_otlp_json(v: &Json, path: &str) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                assert!(
                    !k.contains('_') && k.chars().next().is_some_and(|c| c.is_ascii_lowercase()),
                    "{p}: keys are lowerCamelCase"
                );
                match k.as_str() {
                    "traceId" | "parentSpanId" | "spanId" => {
                        let s = x.as_str().unwrap_or_else(|| panic!("{p}: IDs are strings"));
                        let len = if k == "traceId" { 32 } else { 16 };
                        assert!(
                            s.is_empty()
                                || (s.len() == len
                                    && s.chars()
                                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())),
                            "{p}: hex ID, got {s:?}"
                        );
                    }
                    "kind" | "code" | "severityNumber" | "aggregationTemporality" => {
                        assert!(
                            x.is_i64() || x.is_null(),
                            "{p}: enums are integers, got {x}"
                        )
                    }
                    k if k.ends_with("UnixNano")
                        || k == "intValue"
                        || k == "asInt"
                        || k == "count" =>
                    {
                        assert!(
                            x.as_str().is_some_and(|s| s.parse::<i128>().is_ok()),
                            "{p}: 64-bit integers are decimal strings, got {x}"
                        )
                    }
                    _ => check_otlp_json(x, &p),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| check_otlp_json(x, path)),
        _ => {}
    }
}

/// Sends the demo workload plus a request full of secrets.
async fn secrets(l: &common::Loupe) -> [u8; 16] {
    let tid = [0x5e; 16];
    let t0 = now() - 60_000_000_000;
    let span = Span {
        trace_id: tid.to_vec(),
        span_id: vec![1; 8],
        name: "GET /login".into(),
        kind: 2,
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + 5_000_000,
        attributes: vec![
            kv(
                "http.request.header.authorization",
                s(&format!("Bearer {MARKER}")),
            ),
            kv("db.password", s(MARKER)),
            kv("note", s(&format!("connect with password={MARKER}"))),
            kv(
                "nested",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("api_key", s(MARKER))],
                }),
            ),
            kv("http.method", s("GET")),
        ],
        events: vec![span::Event {
            time_unix_nano: t0,
            name: "cookie set".into(),
            attributes: vec![kv("set-cookie", s(MARKER))],
            dropped_attributes_count: 0,
        }],
        ..Default::default()
    };
    let mut res = resource("auth");
    res.as_mut()
        .unwrap()
        .attributes
        .push(kv("deployment.secret", s(MARKER)));
    post(
        l,
        "/v1/traces",
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: res.clone(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
    )
    .await;
    post(
        l,
        "/v1/logs",
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: res.clone(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: t0 + 1,
                        body: Some(AnyValue {
                            value: Some(s(&format!("login token: {MARKER}"))),
                        }),
                        attributes: vec![kv("user.token", s(MARKER))],
                        trace_id: tid.to_vec(),
                        span_id: vec![1; 8],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
    )
    .await;
    post(
        l,
        "/v1/metrics",
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: res,
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "logins".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: t0,
                                value: Some(number_data_point::Value::AsInt(3)),
                                attributes: vec![kv("session.cookie", s(MARKER))],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
    )
    .await;
    tid
}

#[test]
fn exports_mask_secrets_and_follow_otlp_json() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = common::Loupe::start();
    ok(&["demo", "--grpc-endpoint", &format!("http://{}", l.grpc)]);
    let tid = rt.block_on(secrets(&l));
    let dir = tempfile::tempdir().unwrap();
    let data = l.data_dir.to_str().unwrap().to_string();
    let mut files: Vec<PathBuf> = Vec::new();
    for (name, extra) in [
        ("trace.jsonl", vec!["--trace", &hex::encode(tid)]),
        ("trace.html", vec!["--trace", &hex::encode(tid)]),
        ("window.jsonl", vec!["--window", "--since", "2h"]),
        (
            "window.html",
            vec!["--window", "--since", "2h", "--service", "auth"],
        ),
        ("search.jsonl", vec!["--query", "http.method=GET"]),
    ] {
        let f = dir.path().join(name);
        let mut args = vec!["export", "--data-dir", &data, "--logs", "--metrics", "-o"];
        let fs = f.to_str().unwrap().to_string();
        args.push(&fs);
        args.extend(extra);
        let out = ok(&args);
        assert!(out.contains("masked"), "{out}");
        files.push(f);
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains(MARKER), "{} leaks the marker", f.display());
        assert!(text.contains("[REDACTED]"), "{}", f.display());
    }
    // The trace export holds every masked place, counted per key.
    let preview = ok(&[
        "export",
        "--data-dir",
        &data,
        "--trace",
        &hex::encode(tid),
        "--logs",
        "--metrics",
        "--preview",
    ]);
    for key in [
        "http.request.header.authorization",
        "db.password",
        "note",
        "api_key",
        "set-cookie",
        "deployment.secret",
        "user.token",
        "(log body)",
        "session.cookie",
    ] {
        assert!(preview.contains(key), "preview lacks {key}: {preview}");
    }
    // Without redaction the marker is there (the check above is not vacuous).
    let raw = dir.path().join("raw.jsonl");
    ok(&[
        "export",
        "--data-dir",
        &data,
        "--trace",
        &hex::encode(tid),
        "--logs",
        "--redact=false",
        "-o",
        raw.to_str().unwrap(),
    ]);
    assert!(std::fs::read_to_string(&raw).unwrap().contains(MARKER));

    // JSON Lines: one request per line, by the OTLP/JSON rules.
    let text = std::fs::read_to_string(&files[2]).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let v: Json = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 1, "line {}: one request per line", i + 1);
        kinds.insert(obj.keys().next().unwrap().clone());
        check_otlp_json(&v, &format!("line {}", i + 1));
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["resourceLogs", "resourceMetrics", "resourceSpans"]
    );

    // The API previews the same counts, per key.
    let p = rt.block_on(l.get_json(&format!(
        "/api/v1/export/preview?traceId={}&logs=true&metrics=true",
        hex::encode(tid)
    )));
    assert_eq!(p["redaction"]["byKey"]["db.password"], 1, "{p}");
    assert_eq!(p["spans"], 1);
    // And its download holds no marker either.
    let body = rt.block_on(async {
        reqwest::get(l.api_url(&format!(
            "/api/v1/export?traceId={}&logs=true&format=html",
            hex::encode(tid)
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
    });
    assert!(body.contains("id=\"loupe-data\"") && !body.contains(MARKER));
    // A selection that matches nothing is a 404 before any byte is sent.
    let r = rt.block_on(async {
        reqwest::get(l.api_url(&format!("/api/v1/export?traceId={}", "ab".repeat(16))))
            .await
            .unwrap()
    });
    assert_eq!(r.status(), 404);
    // A streamed JSON Lines download is the same as the CLI's file.
    let jsonl = rt.block_on(async {
        reqwest::get(l.api_url("/api/v1/export?window=true&start=now-2h&logs=true&metrics=true"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(!jsonl.contains(MARKER));
    assert_eq!(jsonl.lines().count(), text.lines().count(), "{jsonl}");
}

fn import_err(data: &Path, file: &Path) -> String {
    let out = loupe(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "importing {} should fail",
        file.display()
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn hostile_files_fail_clearly_and_lose_nothing_valid() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let f = |name: &str, bytes: &[u8]| {
        let p = files.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let t0 = now() - 60_000_000_000;
    let line = |i: u8| {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"imp"}}}}]}},"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"{}","name":"s{i}","startTimeUnixNano":"{t0}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            hex::encode([i; 16]),
            hex::encode([i; 8]),
            t0 + 1000
        )
    };

    // Malformed: garbage text, with a position.
    let e = import_err(&data, &f("garbage.txt", b"hello, world\n"));
    assert!(
        e.contains("line 1, column 1") && e.contains("expected JSON"),
        "{e}"
    );
    // A JSON document that is not OTLP.
    let e = import_err(&data, &f("other.json", br#"{"hello": "world"}"#));
    assert!(e.contains("not an OTLP export request"), "{e}");
    // Truncated JSON: the position of the end.
    let full = line(1);
    let e = import_err(&data, &f("cut.json", &full.as_bytes()[..full.len() - 30]));
    assert!(e.contains("line 1, column"), "{e}");
    // Deeply nested: serde_json's recursion limit, with a position.
    let deep = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"k","value":{}"x"{}}}]}}}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(5000),
        "]}}".repeat(5000)
    );
    let e = import_err(&data, &f("deep.json", deep.as_bytes()));
    assert!(
        e.contains("recursion limit") && e.contains("line 1, column"),
        "{e}"
    );
    // Huge: refused before reading (a sparse file of 300 MiB).
    let huge = files.join("huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let e = import_err(&data, &huge);
    assert!(e.contains("more than the import limit"), "{e}");
    // A gzip bomb (300 gzip members of 1 MiB of spaces each, a few hundred
    // KiB on disk): inflation stops at the limit.
    let bomb = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 1 << 20]).unwrap();
        enc.finish().unwrap().repeat(300)
    };
    let e = import_err(&data, &f("bomb.json.gz", &bomb));
    assert!(e.contains("import limit"), "{e}");
    // Truncated protobuf: a byte offset.
    let pb: ExportTraceServiceRequest = serde_json::from_str(&line(2)).unwrap();
    let bytes = pb.encode_to_vec();
    let e = import_err(&data, &f("cut.pb", &bytes[..bytes.len() - 3]));
    assert!(e.contains("byte 0") && e.contains("truncated"), "{e}");

    // Partly bad JSON Lines: valid lines import, bad ones are reported by line.
    let mixed = format!(
        "{}\n{{\"resourceSpans\": [oops]}}\n{}\nnot json at all\n{}\n",
        line(3),
        line(4),
        &line(5)[..50]
    );
    let mixed = f("mixed.jsonl", mixed.as_bytes());
    let out = ok(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        mixed.to_str().unwrap(),
    ]);
    assert!(
        out.contains("2 spans") && out.contains("3 parts could not be read"),
        "{out}"
    );
    assert!(
        out.contains("line 2, column 20")
            && out.contains("line 4, column")
            && out.contains("line 5"),
        "{out}"
    );
    // Protobuf, and a JSON array with one bad element.
    let pb = f("traces.pb", &bytes);
    let arr = f(
        "arr.json",
        format!("[{},\n {{\"resourceSpans\": 7}}]", line(6)).as_bytes(),
    );
    let out = ok(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        pb.to_str().unwrap(),
        arr.to_str().unwrap(),
    ]);
    assert!(
        out.contains("OTLP protobuf") && out.contains("line 2, column"),
        "{out}"
    );
    // Again: nothing is stored twice.
    ok(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        mixed.to_str().unwrap(),
        pb.to_str().unwrap(),
    ]);

    let l = common::Loupe::start_in(&data, &[]);
    rt.block_on(async {
        let traces = l.get_json("/api/v1/traces?service=imp&limit=100").await;
        let ids: Vec<String> = traces["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceId"].as_str().unwrap().to_string())
            .collect();
        let mut ids = ids;
        ids.sort();
        let want: Vec<String> = [2u8, 3, 4, 6]
            .iter()
            .map(|i| hex::encode([*i; 16]))
            .collect();
        assert_eq!(ids, want);
        for t in traces["traces"].as_array().unwrap() {
            assert_eq!(t["spanCount"], 1, "{t}");
        }
        // Marked with the file: searchable and listed.
        let marked = l
            .get_json("/api/v1/traces?attr=loupe.import.source%3Dmixed.jsonl")
            .await;
        assert_eq!(marked["traces"].as_array().unwrap().len(), 2);
        let imports = l.get_json("/api/v1/imports").await;
        let mixed_row = imports["imports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["source"] == "mixed.jsonl")
            .cloned()
            .unwrap();
        assert_eq!(mixed_row["times"], 2, "{imports}");
        assert_eq!(mixed_row["skipped"], 3);
        // Deleting an import removes exactly its data.
        let r = reqwest::Client::new()
            .delete(l.api_url("/api/v1/imports/mixed.jsonl"))
            .header("x-loupe-request", "1")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let traces = l.get_json("/api/v1/traces?service=imp&limit=100").await;
        assert_eq!(traces["traces"].as_array().unwrap().len(), 2, "{traces}");
        let r = reqwest::Client::new()
            .delete(l.api_url("/api/v1/imports/mixed.jsonl"))
            .header("x-loupe-request", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // Deleting the newest import, then importing something new (which
        // may reuse the deleted rows' IDs): the deleted data's attributes
        // match nothing.
        let r = reqwest::Client::new()
            .delete(l.api_url("/api/v1/imports/arr.json"))
            .header("x-loupe-request", "1")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let r = reqwest::Client::new()
            .post(l.api_url("/api/v1/imports?name=after.jsonl"))
            .header("x-loupe-request", "1")
            .body(line(9))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let gone = l
            .get_json("/api/v1/traces?attr=loupe.import.source%3Darr.json")
            .await;
        assert_eq!(gone["traces"].as_array().unwrap().len(), 0, "{gone}");
        let name = l.get_json("/api/v1/traces?spanName=s6").await;
        assert_eq!(name["traces"].as_array().unwrap().len(), 0, "{name}");
        let after = l
            .get_json("/api/v1/traces?attr=loupe.import.source%3Dafter.jsonl")
            .await;
        assert_eq!(after["traces"].as_array().unwrap().len(), 1, "{after}");
        // The API import reports positions too.
        let r = reqwest::Client::new()
            .post(l.api_url("/api/v1/imports?name=bad.json"))
            .header("x-loupe-request", "1")
            .body("{\"resourceSpans\": [}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let v: Json = r.json().await.unwrap();
        assert_eq!(v["position"]["line"], 1, "{v}");
        assert_eq!(v["position"]["column"], 20, "{v}");
    });
}

/// The number after `what` in a line like "exported 3 traces, 40 spans".
fn count_before(text: &str, what: &str) -> u64 {
    let i = text
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in {text}"));
    text[..i]
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before {what:?} in {text}"))
}

#[test]
fn the_html_report_renders_offline_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "ui/node_modules (playwright-core) is missing: run `npm ci --prefix ui`"
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: run `apt-get install -y chromium`"
    );
    let l = common::Loupe::start();
    let demo = ok(&["demo", "--grpc-endpoint", &format!("http://{}", l.grpc)]);
    let main = demo
        .lines()
        .find_map(|l| l.trim().strip_prefix("main trace"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no main trace in {demo}"))
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let out = ok(&[
        "export",
        "--data-dir",
        l.data_dir.to_str().unwrap(),
        "--trace",
        &main,
        "--linked",
        "--logs",
        "--metrics",
        "-o",
        report.to_str().unwrap(),
    ]);
    let spans = count_before(&out, "spans,");
    assert!(count_before(&out, "traces,") > 1, "linked traces: {out}");
    let shot = root.join("target/browser-artifacts/report.png");
    let _ = std::fs::create_dir_all(shot.parent().unwrap());
    let node = Command::new("node")
        .arg(root.join("ui/e2e/report.mjs"))
        .arg(&report)
        .arg(spans.to_string())
        .arg("1")
        .arg(&shot)
        .current_dir(root)
        .output()
        .expect("run node (Node.js >= 20 on PATH)");
    let stdout = String::from_utf8_lossy(&node.stdout);
    assert!(
        node.status.success(),
        "ui/e2e/report.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let seen: Json = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert!(seen["logs"].as_u64().unwrap() > 0, "{seen}");
    assert!(seen["services"].as_u64().unwrap() > 1, "{seen}");

    // And Loupe imports the report back.
    let target = common::Loupe::start();
    let imported = ok(&[
        "import",
        "--to",
        &format!("http://{}", target.api),
        report.to_str().unwrap(),
    ]);
    assert_eq!(count_before(&imported, "spans,"), spans, "{imported}");
}

#[test]
fn the_web_ui_imports_and_exports_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = common::Loupe::start();
    let front = rt.block_on(async {
        reqwest::get(l.api_url("/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        front.contains("/assets/"),
        "the binary was built without its web UI: run `scripts/build-ui`, then rebuild"
    );
    let tid = rt.block_on(secrets(&l));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bug-report.jsonl");
    let t0 = now() - 30_000_000_000;
    std::fs::write(
        &file,
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"0102030405060708","name":"imported","startTimeUnixNano":"{t0}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            hex::encode([0x77; 16]),
            t0 + 1000
        ),
    )
    .unwrap();
    let shot = root.join("target/browser-artifacts/transfer.png");
    let _ = std::fs::create_dir_all(shot.parent().unwrap());
    let node = Command::new("node")
        .arg(root.join("ui/e2e/transfer.mjs"))
        .arg(format!("http://{}", l.api))
        .arg(hex::encode(tid))
        .arg(&file)
        .arg(&shot)
        .current_dir(root)
        .output()
        .expect("run node (Node.js >= 20 on PATH)");
    assert!(
        node.status.success(),
        "ui/e2e/transfer.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&node.stdout),
        String::from_utf8_lossy(&node.stderr)
    );
    let imports = rt.block_on(l.get_json("/api/v1/imports"));
    assert_eq!(
        imports["imports"][0]["source"], "bug-report.jsonl",
        "{imports}"
    );
}
