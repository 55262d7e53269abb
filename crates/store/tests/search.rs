//! Trace search with boolean expressions over the real attribute index.

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{status, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::query::{Expr, TraceQuery};
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// One trace of one span in `service` with the given attributes.
fn trace(n: u8, service: &str, attrs: Vec<KeyValue>, error: bool) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", Value::StringValue(service.into()))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                trace_id: vec![n; 16],
                span_id: vec![n; 8],
                name: format!("EXECUTOR - {n}"),
                start_time_unix_nano: now_ns() + n as u64,
                end_time_unix_nano: now_ns() + n as u64 + 10,
                attributes: attrs,
                status: error.then(|| Status {
                    code: status::StatusCode::Error as i32,
                    message: "failed".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            trace(
                1,
                "kestra",
                vec![
                    kv("kestra.namespace", s("company.team")),
                    kv("kestra.flowId", s("cleanup")),
                ],
                false,
            ),
            trace(
                2,
                "kestra",
                vec![
                    kv("kestra.namespace", s("company.system")),
                    kv("kestra.flowId", s("cleanup")),
                ],
                true,
            ),
            trace(
                3,
                "kestra",
                vec![
                    kv("kestra.namespace", s("company.product")),
                    kv("http.response.status_code", Value::IntValue(500)),
                ],
                true,
            ),
            trace(
                4,
                "api",
                vec![kv("http.response.status_code", Value::IntValue(200))],
                false,
            ),
        ],
    };
    store
        .writer
        .submit(Batch::Traces(req))
        .unwrap()
        .wait()
        .await
        .unwrap();
    (dir, store)
}

fn ids(store: &Store, q: &str) -> Vec<u8> {
    let expr: Expr = loupe_query::parse_expr(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    let mut out: Vec<u8> = store
        .reader
        .search_traces(&TraceQuery {
            expr: Some(expr),
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|t| u8::from_str_radix(&t.trace_id[..2], 16).unwrap())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn boolean_expressions() {
    let (_dir, st) = store().await;
    assert_eq!(ids(&st, "kestra.flowId = cleanup"), vec![1, 2]);
    // The seed's pitfall: two conditions that never overlap, under AND…
    assert_eq!(
        ids(
            &st,
            "kestra.namespace = company.product AND kestra.flowId = cleanup"
        ),
        Vec::<u8>::new()
    );
    // …and the OR that was meant.
    assert_eq!(ids(&st, "kestra.namespace = company.product OR (kestra.flowId = cleanup AND kestra.namespace = company.system)"), vec![2, 3]);
    assert_eq!(ids(&st, "NOT kestra.flowId"), vec![3, 4]);
    assert_eq!(
        ids(
            &st,
            "service = kestra AND NOT kestra.namespace = company.team"
        ),
        vec![2, 3]
    );
    assert_eq!(
        ids(
            &st,
            "http.response.status_code >= 500 OR name = \"EXECUTOR - 1\""
        ),
        vec![1, 3]
    );
    assert_eq!(
        ids(&st, "NOT (service = kestra OR service = api)"),
        Vec::<u8>::new()
    );
    assert_eq!(ids(&st, "no.such.key OR service = api"), vec![4]);
    assert_eq!(ids(&st, "NOT no.such.key"), vec![1, 2, 3, 4]);
}

/// The trace list's details: context values, the error message, and links
/// between a child execution and its parent (the child's span links to the
/// parent's span).
#[tokio::test]
async fn summary_details() {
    use loupe_model::otlp::trace::span::Link;
    use loupe_model::query::SummaryDetails;
    let (_dir, st) = store().await;
    // Trace 5, a child of trace 1, linking to its span.
    let mut child = trace(5, "kestra", vec![kv("kestra.flowId", s("child"))], false);
    child.scope_spans[0].spans[0].links = vec![Link {
        trace_id: vec![1; 16],
        span_id: vec![1; 8],
        ..Default::default()
    }];
    st.writer
        .submit(Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![child],
        }))
        .unwrap()
        .wait()
        .await
        .unwrap();
    let found = st
        .reader
        .search_traces(&TraceQuery {
            limit: 100,
            details: Some(SummaryDetails {
                context_keys: vec![
                    "kestra.namespace".into(),
                    "kestra.flowId".into(),
                    "db.system".into(),
                ],
            }),
            ..Default::default()
        })
        .unwrap();
    let by = |n: u8| {
        found
            .iter()
            .find(|t| t.trace_id == hex::encode([n; 16]))
            .unwrap()
    };
    let ctx = |n: u8| {
        by(n)
            .context
            .clone()
            .unwrap()
            .into_iter()
            .map(|c| format!("{}={}", c.key, c.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ctx(1),
        ["kestra.namespace=company.team", "kestra.flowId=cleanup"]
    );
    assert_eq!(ctx(4), Vec::<String>::new());
    assert_eq!(by(2).error_message.as_deref(), Some("failed"));
    assert_eq!(by(1).error_message, None);
    assert_eq!(
        by(5).links_to.as_deref(),
        Some(hex::encode([1u8; 16]).as_str())
    );
    assert_eq!(by(1).linked_from, Some(1));
    assert_eq!(by(1).links_to, None);
    assert_eq!(by(2).linked_from, Some(0));
    // Without details (other callers of the search), none of it.
    let plain = st
        .reader
        .search_traces(&TraceQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(plain
        .iter()
        .all(|t| t.context.is_none() && t.linked_from.is_none() && t.links_to.is_none()));
}
