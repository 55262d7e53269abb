//! Every string field of OTLP requests goes through the redactor: metric
//! data point attributes and exemplars, bytes values, nested arrays and
//! maps, structured log bodies.

use loupe_model::otlp::common::{any_value::Value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{
    metric::Data, Exemplar, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use loupe_model::otlp::{ExportLogsServiceRequest, ExportMetricsServiceRequest};
use loupe_redact::{RedactionReport, Redactor, MASK};

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(v.into())),
    })
}

fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    }
}

#[test]
fn metric_points_and_exemplars_are_masked() {
    let point = NumberDataPoint {
        attributes: vec![
            kv("http.url", s("https://x/?X-Amz-Signature=MKPOINT123")),
            kv("route", s("/users")),
        ],
        exemplars: vec![Exemplar {
            filtered_attributes: vec![kv("auth_token", s("MKEXEMPLAR"))],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "http.server.duration".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![point],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut report = RedactionReport::default();
    Redactor::new::<&str>(&[]).metrics(&mut req, &mut report);
    let text = format!("{req:?}");
    assert!(
        !text.contains("MKPOINT123") && !text.contains("MKEXEMPLAR"),
        "{text}"
    );
    assert!(text.contains("/users"));
    assert_eq!(report.total, 2, "{report:?}");
    assert_eq!(report.by_key["auth_token"], 1);
}

#[test]
fn bytes_arrays_maps_and_structured_bodies_are_masked() {
    let bytes = |b: &[u8]| {
        Some(AnyValue {
            value: Some(Value::BytesValue(b.to_vec())),
        })
    };
    let body = AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", s("login failed for password=MKBODYPW now")),
                kv("password", s("MKBODYKEY")),
                kv(
                    "list",
                    Some(AnyValue {
                        value: Some(Value::ArrayValue(ArrayValue {
                            values: vec![
                                s("ok").unwrap(),
                                s("ghp_abcdefghijklmnopqrstuvwxyz0123456789").unwrap(),
                            ],
                        })),
                    }),
                ),
            ],
        })),
    };
    let mut req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(body),
                    event_name: "login token=MKEVENT".into(),
                    attributes: vec![
                        kv("blob", bytes(b"Authorization: Bearer MKBYTES.123")),
                        kv(
                            "bin",
                            bytes(&[
                                0xff, 0xfe, b' ', b'A', b'K', b'I', b'A', b'I', b'O', b'S', b'F',
                                b'O', b'D', b'N', b'N', b'7', b'E', b'X', b'A', b'M', b'P', b'L',
                                b'E',
                            ]),
                        ),
                        kv("plain", bytes(&[0xff, 0x00, 0x01])),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut report = RedactionReport::default();
    Redactor::new::<&str>(&[]).logs(&mut req, &mut report);
    let text = format!("{req:?}");
    for m in ["MKBODYPW", "MKBODYKEY", "ghp_abcdef", "MKEVENT"] {
        assert!(!text.contains(m), "{m} in {text}");
    }
    let lr = &req.resource_logs[0].scope_logs[0].log_records[0];
    // Text in bytes keeps its words; binary with a secret goes whole.
    let Some(Value::BytesValue(b)) = lr.attributes[0].value.as_ref().unwrap().value.as_ref() else {
        panic!("bytes stay bytes")
    };
    assert_eq!(
        String::from_utf8_lossy(b),
        "Authorization: Bearer [REDACTED]"
    );
    assert_eq!(lr.attributes[1].value, s(MASK));
    assert_eq!(
        lr.attributes[2].value.as_ref().unwrap().value,
        Some(Value::BytesValue(vec![0xff, 0x00, 0x01]))
    );
    assert!(
        text.contains("login failed for password=[REDACTED] now"),
        "{text}"
    );
}
