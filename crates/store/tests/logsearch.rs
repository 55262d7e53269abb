//! Full-text log search on a real database: words in bodies (structured
//! ones too) and attributes, attribute conditions, filters combined with
//! the index, re-sent records indexed once, deleted records leaving the
//! index, and records stored before the index existed.

use std::time::Duration;

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue, KeyValueList};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::ExportLogsServiceRequest;
use loupe_model::query::LogQuery;
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

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn record(t: u64, severity: i32, body: Value, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: t,
        severity_number: severity,
        body: Some(AnyValue { value: Some(body) }),
        attributes: attrs,
        ..Default::default()
    }
}

fn request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(service))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn write(store: &Store, req: ExportLogsServiceRequest) {
    store
        .writer
        .submit(Batch::Logs(req))
        .expect("submit")
        .wait()
        .await
        .expect("commit");
}

fn bodies(store: &Store, q: &LogQuery) -> Vec<String> {
    let res = store.reader.logs(q).expect("query");
    let mut out: Vec<(u64, String)> = res
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|r| {
            (
                r.time_unix_nano,
                loupe_model::otlp::any_value_text(r.body.as_ref()),
            )
        })
        .collect();
    out.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    out.into_iter().map(|(_, b)| b).collect()
}

fn search(words: &str) -> LogQuery {
    LogQuery {
        search: Some(words.into()),
        limit: 100,
        ..Default::default()
    }
}

#[tokio::test]
async fn words_in_bodies_and_attributes_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let t = now_ns();
    let structured = Value::KvlistValue(KeyValueList {
        values: vec![
            kv("order", Value::IntValue(1042)),
            kv("state", s("declined")),
        ],
    });
    write(
        &store,
        request(
            "kestra",
            vec![
                record(
                    t,
                    17,
                    s("Payment gateway refused order 1042"),
                    vec![kv("kestra.taskId", s("charge"))],
                ),
                record(
                    t + 1,
                    9,
                    s("Execution started"),
                    vec![
                        kv("kestra.taskId", s("extract")),
                        kv("kestra.attempt", Value::IntValue(2)),
                    ],
                ),
                record(t + 2, 9, structured, vec![]),
                record(
                    t + 3,
                    13,
                    s("Retrying the gateway call"),
                    vec![kv("kestra.taskId", s("charge"))],
                ),
            ],
        ),
    )
    .await;
    write(
        &store,
        request(
            "worker",
            vec![record(t + 4, 17, s("gateway timeout"), vec![])],
        ),
    )
    .await;

    // A word, any case, in the body; newest first.
    assert_eq!(
        bodies(&store, &search("GATEWAY")),
        [
            "gateway timeout",
            "Retrying the gateway call",
            "Payment gateway refused order 1042"
        ]
    );
    // Every word must occur; a word may be in an attribute.
    assert_eq!(
        bodies(&store, &search("gateway charge")),
        [
            "Retrying the gateway call",
            "Payment gateway refused order 1042"
        ]
    );
    // Prefixes, and words in structured bodies.
    assert_eq!(bodies(&store, &search("decl*")).len(), 1);
    assert_eq!(bodies(&store, &search("1042")).len(), 2);
    // Filters combine with the index.
    let mut q = search("gateway");
    q.min_severity = Some(17);
    q.service = Some("kestra".into());
    assert_eq!(bodies(&store, &q), ["Payment gateway refused order 1042"]);
    // Attribute conditions, exact (text and numbers), with or without words.
    let attr = |s: &str| {
        loupe_query::log_query(&[("attr".to_string(), s.to_string())])
            .unwrap()
            .attrs
    };
    let mut q = search("");
    q.search = None;
    q.attrs = attr("kestra.taskId=charge");
    assert_eq!(bodies(&store, &q).len(), 2);
    q.attrs = attr("kestra.taskId=char");
    assert!(bodies(&store, &q).is_empty(), "attribute equality is exact");
    for cond in ["kestra.attempt=2", "kestra.attempt=2.0", "kestra.attempt"] {
        q.attrs = attr(cond);
        assert_eq!(bodies(&store, &q), ["Execution started"], "{cond}");
    }
    q.attrs = attr("kestra.attempt>=2");
    assert_eq!(bodies(&store, &q), ["Execution started"]);
    // FTS5 syntax typed by a user is just words.
    assert!(bodies(&store, &search("NEAR( OR \"")).is_empty());
    assert!(bodies(&store, &search("nothing-like-this")).is_empty());
}

#[tokio::test]
async fn re_sent_records_are_indexed_once_and_deleted_ones_leave_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention {
                max_bytes: u64::MAX,
                max_age: Duration::from_secs(3600),
            },
            ..Default::default()
        },
    )
    .unwrap();
    let now = now_ns();
    write(
        &store,
        request("kestra", vec![record(now, 9, s("old needle"), vec![])]),
    )
    .await;
    // Two hours later by the writer's clock, the old record's arrival is
    // past the 1-hour limit.
    store
        .writer
        .inject_clock_ahead(Duration::from_secs(2 * 3600));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.reader.counts().unwrap().log_records != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not delete the old record"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let batch = || request("kestra", vec![record(now, 9, s("fresh needle"), vec![])]);
    write(&store, batch()).await;
    write(&store, batch()).await;
    assert_eq!(
        store.reader.log_index_rows().unwrap(),
        1,
        "a re-sent record is indexed once"
    );
    assert_eq!(bodies(&store, &search("needle")), ["fresh needle"]);
    assert_eq!(
        store.reader.log_index_rows().unwrap(),
        1,
        "the deleted record left the index"
    );
}
