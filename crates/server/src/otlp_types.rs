//! The OTLP/JSON answers' shape as types, for the contract.
//!
//! `GET /traces/{id}` and `GET /logs` answer OTLP/JSON, written by
//! [`crate::otlp_json`] for speed, not a struct of ours. These types say what those answers hold, as the UI
//! reads them: ts-rs writes them into `ui/src/generated/api.ts` with the
//! other answers, and the tests below decode real answers into them with
//! `deny_unknown_fields`, so a writer that adds, renames or retypes a
//! field fails here before the UI meets it. Every field is optional, as
//! OTLP/JSON omits defaults.

use serde::Deserialize;
use ts_rs::TS;

/// An OTLP/JSON `AnyValue`: exactly one of the fields (none for an empty
/// value). 64-bit integers come as decimal strings; non-finite doubles as
/// the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnyValue {
    #[ts(optional)]
    pub string_value: Option<String>,
    #[ts(optional)]
    pub bool_value: Option<bool>,
    #[ts(optional, type = "string | number")]
    pub int_value: Option<IntValue>,
    #[ts(optional, type = "number | string")]
    pub double_value: Option<DoubleValue>,
    #[ts(optional)]
    pub array_value: Option<ArrayValue>,
    #[ts(optional)]
    pub kvlist_value: Option<KeyValueList>,
    /// Base64.
    #[ts(optional)]
    pub bytes_value: Option<String>,
    /// An index into a profile's string table (not used by traces or logs).
    #[ts(optional)]
    pub string_value_strindex: Option<i32>,
}

/// A 64-bit integer: a decimal string (as Loupe writes it) or a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IntValue {
    Text(String),
    Number(i64),
}

/// A double, or the name of a non-finite one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DoubleValue {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ArrayValue {
    #[ts(optional)]
    pub values: Option<Vec<AnyValue>>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct KeyValueList {
    #[ts(optional)]
    pub values: Option<Vec<KeyValue>>,
}

/// An attribute.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    #[ts(optional)]
    pub value: Option<AnyValue>,
    /// An index into a profile's string table (not used by traces or logs).
    #[ts(optional)]
    pub key_strindex: Option<i32>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpResource")]
pub struct Resource {
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpScope")]
pub struct Scope {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub version: Option<String>,
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
}

/// `code`: 0 unset, 1 ok, 2 error.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpStatus")]
pub struct Status {
    #[ts(optional)]
    pub code: Option<i32>,
    #[ts(optional)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpEvent")]
pub struct Event {
    /// Nanoseconds since the epoch, a decimal string.
    #[ts(optional)]
    pub time_unix_nano: Option<String>,
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpLink")]
pub struct Link {
    /// Hex.
    #[ts(optional)]
    pub trace_id: Option<String>,
    #[ts(optional)]
    pub span_id: Option<String>,
    #[ts(optional)]
    pub trace_state: Option<String>,
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
    #[ts(optional)]
    pub flags: Option<u32>,
}

/// A span as `GET /traces/{id}` answers it. `kind`: 0 unspecified,
/// 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpSpan")]
pub struct Span {
    /// Hex.
    #[ts(optional)]
    pub trace_id: Option<String>,
    #[ts(optional)]
    pub span_id: Option<String>,
    #[ts(optional)]
    pub parent_span_id: Option<String>,
    #[ts(optional)]
    pub trace_state: Option<String>,
    #[ts(optional)]
    pub flags: Option<u32>,
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub kind: Option<i32>,
    /// Nanoseconds since the epoch, decimal strings.
    #[ts(optional)]
    pub start_time_unix_nano: Option<String>,
    #[ts(optional)]
    pub end_time_unix_nano: Option<String>,
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
    #[ts(optional)]
    pub events: Option<Vec<Event>>,
    #[ts(optional)]
    pub dropped_events_count: Option<u32>,
    #[ts(optional)]
    pub links: Option<Vec<Link>>,
    #[ts(optional)]
    pub dropped_links_count: Option<u32>,
    #[ts(optional)]
    pub status: Option<Status>,
    /// Loupe's own flags (not OTLP's): `2048`, the span's own timestamps
    /// look wrong (zero, before 2000 or more than a year before it was
    /// received, or more than a day after). Absent when none.
    #[ts(optional)]
    pub loupe_flags: Option<u32>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpScopeSpans")]
pub struct ScopeSpans {
    #[ts(optional)]
    pub scope: Option<Scope>,
    #[ts(optional)]
    pub spans: Option<Vec<Span>>,
    #[ts(optional)]
    pub schema_url: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpResourceSpans")]
pub struct ResourceSpans {
    #[ts(optional)]
    pub resource: Option<Resource>,
    #[ts(optional)]
    pub scope_spans: Option<Vec<ScopeSpans>>,
    #[ts(optional)]
    pub schema_url: Option<String>,
}

/// `GET /traces/{traceId}`: one trace as OTLP/JSON.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpTraceData")]
pub struct TraceData {
    #[ts(optional)]
    pub resource_spans: Option<Vec<ResourceSpans>>,
}

/// A log record as `GET /logs` answers it.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpLogRecord")]
pub struct LogRecord {
    /// Nanoseconds since the epoch, decimal strings.
    #[ts(optional)]
    pub time_unix_nano: Option<String>,
    #[ts(optional)]
    pub observed_time_unix_nano: Option<String>,
    #[ts(optional)]
    pub severity_number: Option<i32>,
    #[ts(optional)]
    pub severity_text: Option<String>,
    #[ts(optional)]
    pub body: Option<AnyValue>,
    #[ts(optional)]
    pub attributes: Option<Vec<KeyValue>>,
    #[ts(optional)]
    pub dropped_attributes_count: Option<u32>,
    #[ts(optional)]
    pub flags: Option<u32>,
    /// Hex.
    #[ts(optional)]
    pub trace_id: Option<String>,
    #[ts(optional)]
    pub span_id: Option<String>,
    #[ts(optional)]
    pub event_name: Option<String>,
    /// Loupe's own flags (not OTLP's): `2048`, the record's own time
    /// (`timeUnixNano`, else `observedTimeUnixNano`) looks wrong. Absent
    /// when none.
    #[ts(optional)]
    pub loupe_flags: Option<u32>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpScopeLogs")]
pub struct ScopeLogs {
    #[ts(optional)]
    pub scope: Option<Scope>,
    #[ts(optional)]
    pub log_records: Option<Vec<LogRecord>>,
    #[ts(optional)]
    pub schema_url: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpResourceLogs")]
pub struct ResourceLogs {
    #[ts(optional)]
    pub resource: Option<Resource>,
    #[ts(optional)]
    pub scope_logs: Option<Vec<ScopeLogs>>,
    #[ts(optional)]
    pub schema_url: Option<String>,
}

/// `GET /logs`: matching log records as OTLP/JSON, by resource and scope.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(rename = "OtlpLogsData")]
pub struct LogsData {
    #[ts(optional)]
    pub resource_logs: Option<Vec<ResourceLogs>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::common::{
        any_value::Value, AnyValue as PbAny, ArrayValue as PbArray, InstrumentationScope,
        KeyValue as PbKv, KeyValueList as PbKvList,
    };
    use loupe_model::otlp::logs::{LogRecord as PbLog, ResourceLogs as PbRl, ScopeLogs as PbSl};
    use loupe_model::otlp::resource::Resource as PbResource;
    use loupe_model::otlp::trace::{
        span, ResourceSpans as PbRs, ScopeSpans as PbSs, Span as PbSpan, Status as PbStatus,
    };
    use loupe_model::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};

    fn kv(k: &str, v: Value) -> PbKv {
        PbKv {
            key: k.into(),
            value: Some(PbAny { value: Some(v) }),
            ..Default::default()
        }
    }

    /// One attribute of every kind, nested ones included, and the
    /// non-finite doubles.
    fn every_kind() -> Vec<PbKv> {
        vec![
            kv("s", Value::StringValue("x".into())),
            kv("b", Value::BoolValue(true)),
            kv("i", Value::IntValue(i64::MIN)),
            kv("d", Value::DoubleValue(0.5)),
            kv("nan", Value::DoubleValue(f64::NAN)),
            kv("inf", Value::DoubleValue(f64::NEG_INFINITY)),
            kv("bytes", Value::BytesValue(vec![1, 2, 3])),
            kv(
                "a",
                Value::ArrayValue(PbArray {
                    values: vec![
                        PbAny {
                            value: Some(Value::IntValue(1)),
                        },
                        PbAny { value: None },
                    ],
                }),
            ),
            kv(
                "m",
                Value::KvlistValue(PbKvList {
                    values: vec![kv("k", Value::StringValue("v".into()))],
                }),
            ),
        ]
    }

    fn resource() -> PbResource {
        PbResource {
            attributes: [
                vec![kv("service.name", Value::StringValue("kestra".into()))],
                every_kind(),
            ]
            .concat(),
            dropped_attributes_count: 1,
            ..Default::default()
        }
    }

    fn scope() -> InstrumentationScope {
        InstrumentationScope {
            name: "io.kestra.core.runners.Executor".into(),
            version: "1".into(),
            attributes: every_kind(),
            dropped_attributes_count: 1,
        }
    }

    /// The trace answer, written by `otlp_json`, with every field set.
    #[test]
    fn the_trace_answer_decodes_into_its_contract_type() {
        let span = PbSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![3; 8],
            trace_state: "k=v".into(),
            flags: 1,
            name: "EXECUTOR - io.kestra.plugin.core.flow.Subflow".into(),
            kind: 2,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            attributes: every_kind(),
            dropped_attributes_count: 1,
            events: vec![span::Event {
                time_unix_nano: 1,
                name: "exception".into(),
                attributes: every_kind(),
                dropped_attributes_count: 1,
            }],
            dropped_events_count: 1,
            links: vec![span::Link {
                trace_id: vec![4; 16],
                span_id: vec![5; 8],
                trace_state: "k=v".into(),
                attributes: every_kind(),
                dropped_attributes_count: 1,
                flags: 1,
            }],
            dropped_links_count: 1,
            status: Some(PbStatus {
                message: "failed".into(),
                code: 2,
            }),
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![PbRs {
                resource: Some(resource()),
                scope_spans: vec![PbSs {
                    scope: Some(scope()),
                    spans: vec![span],
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
        };
        let mut body = Vec::new();
        crate::otlp_json::traces(&req, &mut body);
        let text = String::from_utf8(body).unwrap();
        let t: TraceData = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let span = &t.resource_spans.as_ref().unwrap()[0]
            .scope_spans
            .as_ref()
            .unwrap()[0]
            .spans
            .as_ref()
            .unwrap()[0];
        assert_eq!(span.status.as_ref().unwrap().code, Some(2));
        assert_eq!(span.start_time_unix_nano.as_deref(), Some("1"));
        assert_eq!(span.attributes.as_ref().unwrap().len(), every_kind().len());
        assert_no_nulls(&text);
    }

    /// The logs answer, written by `otlp_json` too, with every field set.
    #[test]
    fn the_logs_answer_decodes_into_its_contract_type() {
        let record = PbLog {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(PbAny {
                value: Some(Value::StringValue("Task failed".into())),
            }),
            attributes: every_kind(),
            dropped_attributes_count: 1,
            flags: 1,
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            event_name: "task.failed".into(),
        };
        let req = ExportLogsServiceRequest {
            resource_logs: vec![PbRl {
                resource: Some(resource()),
                scope_logs: vec![PbSl {
                    scope: Some(scope()),
                    log_records: vec![record],
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
        };
        let mut body = Vec::new();
        crate::otlp_json::logs(&req, &mut body);
        let text = String::from_utf8(body).unwrap();
        let l: LogsData = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let r = &l.resource_logs.as_ref().unwrap()[0]
            .scope_logs
            .as_ref()
            .unwrap()[0]
            .log_records
            .as_ref()
            .unwrap()[0];
        assert_eq!(r.severity_number, Some(17));
        assert_eq!(
            r.trace_id.as_deref(),
            Some("01010101010101010101010101010101")
        );
        assert_no_nulls(&text);
    }

    /// The TypeScript types say `field?: T`, not `T | null`: an answer
    /// must omit a missing field rather than write `null`.
    fn assert_no_nulls(text: &str) {
        fn walk(v: &serde_json::Value, path: &str) {
            match v {
                serde_json::Value::Null => panic!("null at {path}"),
                serde_json::Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, v)| walk(v, &format!("{path}[{i}]"))),
                serde_json::Value::Object(o) => {
                    o.iter().for_each(|(k, v)| walk(v, &format!("{path}.{k}")))
                }
                _ => {}
            }
        }
        walk(&serde_json::from_str(text).unwrap(), "$");
    }
}
