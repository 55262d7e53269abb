//! Retention on a real database: age and size limits delete the oldest data,
//! in the background, while the newest stays.

use std::time::{Duration, Instant};

use loupe_model::ids::TraceId;
use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

fn trace(seed: u64, start: u64, spans: usize) -> ([u8; 16], ExportTraceServiceRequest) {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&seed.to_be_bytes());
    tid[15] = 1;
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: tid.to_vec(),
            span_id: ((i as u64 + 1) << 8 | 1).to_be_bytes().to_vec(),
            name: format!("WORKER - task {i}"),
            start_time_unix_nano: start + i as u64,
            end_time_unix_nano: start + i as u64 + 1000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                // Incompressible-ish, so the database really grows.
                value: Some(AnyValue {
                    value: Some(Value::StringValue(noise(seed * 1000 + i as u64))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    (
        tid,
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        },
    )
}

/// 256 hex digits that zstd cannot shrink much.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

fn logs(time: u64, n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: time + i as u64,
                        body: Some(AnyValue {
                            value: Some(Value::StringValue(format!("record {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn write(store: &Store, batch: Batch) {
    store
        .writer
        .submit(batch)
        .expect("submit")
        .wait()
        .await
        .expect("commit");
}

/// Polls `cond` until it holds or the deadline passes.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn data_older_than_max_age_is_deleted() {
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
    let two_hours = 2 * 3600 * 1_000_000_000;
    let (old, req) = trace(1, now - two_hours, 5);
    write(&store, Batch::Traces(req)).await;
    let (fresh, req) = trace(2, now, 5);
    write(&store, Batch::Traces(req)).await;
    write(&store, Batch::Logs(logs(now - two_hours, 3))).await;
    write(&store, Batch::Logs(logs(now, 2))).await;

    let r = store.reader.clone();
    eventually("old trace and logs deleted", || {
        let c = r.counts().unwrap();
        c.traces == 1 && c.log_records == 2
    })
    .await;
    assert!(r.trace(TraceId(old)).unwrap().is_none());
    let kept = r
        .trace(TraceId(fresh))
        .unwrap()
        .expect("the fresh trace stays");
    assert_eq!(kept.resource_spans[0].scope_spans[0].spans.len(), 5);
    assert_eq!(r.counts().unwrap().spans, 5);
}

#[tokio::test]
async fn the_oldest_data_goes_when_the_database_outgrows_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = 2 << 20;
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention {
                max_bytes,
                max_age: Duration::from_secs(365 * 24 * 3600),
            },
            ..Default::default()
        },
    )
    .unwrap();
    let now = now_ns();
    let mut ids = Vec::new();
    // About 8 MiB of spans, oldest first.
    for seed in 0..400u64 {
        let (tid, req) = trace(seed + 10, now - (400 - seed) * 1_000_000_000, 20);
        write(&store, Batch::Traces(req)).await;
        ids.push(tid);
    }
    let r = store.reader.clone();
    eventually("live size back under the limit", || {
        r.live_bytes().unwrap() <= max_bytes
    })
    .await;
    let newest = *ids.last().unwrap();
    assert!(
        r.trace(TraceId(newest)).unwrap().is_some(),
        "the newest trace stays"
    );
    assert!(
        r.trace(TraceId(ids[0])).unwrap().is_none(),
        "the oldest trace goes"
    );
    let c = r.counts().unwrap();
    assert!(c.traces < 400 && c.traces > 0, "{c:?}");
    // Every remaining trace is whole: retention deletes traces, not spans.
    assert_eq!(c.spans, c.traces * 20);
}
