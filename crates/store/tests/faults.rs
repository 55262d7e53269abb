//! Storage faults on real SQLite files (issue 13): a database locked by
//! another connection and a full disk are retryable answers, the store
//! recovers by itself, nothing acknowledged is lost, and the WAL does not
//! stay large after a burst.

use std::time::{Duration, Instant};

use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::sink::{Batch, Sink, SinkError};
use loupe_store::{Fault, Store, WriterConfig};

fn spans(seed: u64, n: usize) -> Batch {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&seed.to_be_bytes());
    tid[15] = 1;
    let spans = (0..n)
        .map(|i| Span {
            trace_id: tid.to_vec(),
            span_id: ((i as u64 + 1) << 8 | 1).to_be_bytes().to_vec(),
            name: format!("op {i} {}", "x".repeat(200 + (seed as usize * 31 + i) % 97)),
            start_time_unix_nano: loupe_model::time::now_ns() + i as u64,
            end_time_unix_nano: loupe_model::time::now_ns() + i as u64 + 1000,
            ..Default::default()
        })
        .collect();
    Batch::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

async fn submit(store: &Store, batch: Batch) -> Result<(), SinkError> {
    store.writer.submit(batch)?.wait().await
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        WriterConfig {
            busy_timeout: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap()
}

fn integrity_ok(path: &std::path::Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[tokio::test]
async fn database_locked_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    submit(&store, spans(1, 10)).await.expect("first batch");

    // Another process (sqlite3, a backup tool) holds the write lock for
    // longer than the writer's budget.
    let other = rusqlite::Connection::open(store.path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    other
        .execute_batch("CREATE TABLE IF NOT EXISTS intruder(x)")
        .unwrap();
    let started = Instant::now();
    let err = submit(&store, spans(2, 10)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded wait: {:?}",
        started.elapsed()
    );
    match &err {
        SinkError::Unavailable { reason, .. } => assert!(reason.contains("locked"), "{reason}"),
        e => panic!("want a retryable answer, got {e:?}"),
    }
    assert!(err.retry_after().is_some());
    let (fault, _) = store.writer.stats().write_failure().expect("remembered");
    assert_eq!(fault, Fault::Locked);

    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    // The sender retries the same batch: it commits, and the store is
    // healthy again without a restart.
    submit(&store, spans(2, 10)).await.expect("retry commits");
    assert!(store.writer.stats().write_failure().is_none());
    let c = store.reader.counts().unwrap();
    assert_eq!((c.traces, c.spans), (2, 20));
    integrity_ok(store.path());
}

#[tokio::test]
async fn disk_full_is_retryable_not_500() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    submit(&store, spans(1, 10)).await.expect("first batch");

    // A real SQLITE_FULL: the database may not grow past its current size.
    store.writer.inject_page_limit(Some(1));
    let err = submit(&store, spans(2, 2000)).await.unwrap_err();
    match &err {
        SinkError::Unavailable { reason, .. } => assert!(reason.contains("disk full"), "{reason}"),
        e => panic!("want a retryable answer, got {e:?}"),
    }
    let (fault, _) = store.writer.stats().write_failure().expect("remembered");
    assert_eq!(fault, Fault::DiskFull);

    // Space comes back: the retried batch commits, nothing is lost.
    store.writer.inject_page_limit(None);
    submit(&store, spans(2, 2000)).await.expect("retry commits");
    assert!(store.writer.stats().write_failure().is_none());
    let c = store.reader.counts().unwrap();
    assert_eq!((c.traces, c.spans), (2, 2010));
    integrity_ok(store.path());
}

#[tokio::test]
async fn wal_truncated_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..40 {
        submit(&store, spans(i + 1, 200)).await.unwrap();
    }
    assert!(store.wal_bytes() > 0, "the burst went through the WAL");
    // Idle for a while: the checkpointer truncates the WAL.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.wal_bytes() > 0 {
        assert!(
            Instant::now() < deadline,
            "WAL still {} bytes after idling",
            store.wal_bytes()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.reader.counts().unwrap().spans, 40 * 200);
    integrity_ok(store.path());
}
