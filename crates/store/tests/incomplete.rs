//! Incomplete traces: the summary counts the parents a trace's spans name
//! and it does not have, as spans arrive in any order and batches, and marks
//! it as still receiving and awaiting its parents by the time of arrival.

use loupe_model::ids::TraceId;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::query::TraceSummary;
use loupe_model::sink::{Batch, Sink};
use loupe_store::{Liveness, Retention, Store, WriterConfig};

const TRACE: [u8; 16] = [7; 16];

fn span(id: u8, parent: Option<u8>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("WORKER - task {id}"),
        start_time_unix_nano: 1_000 + id as u64,
        end_time_unix_nano: 2_000 + id as u64,
        ..Default::default()
    }
}

async fn send(store: &Store, spans: Vec<Span>) {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    store
        .writer
        .submit(Batch::Traces(req))
        .unwrap()
        .wait()
        .await
        .unwrap();
}

fn summary(store: &Store) -> TraceSummary {
    store
        .reader
        .trace_summary(TraceId(TRACE))
        .unwrap()
        .expect("stored")
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap();
    (dir, store)
}

#[tokio::test]
async fn missing_parents_are_counted_until_they_arrive() {
    let (_dir, store) = open();
    // Tasks of a running execution: 3 and 4 under the execution span 2
    // (not yet received), 5 under 3 (in the same batch, after its child).
    send(
        &store,
        vec![span(5, Some(3)), span(3, Some(2)), span(4, Some(2))],
    )
    .await;
    let s = summary(&store);
    assert!(s.incomplete, "{s:?}");
    assert_eq!(s.missing_parents, 1, "only span 2 is missing: {s:?}");
    assert!(s.receiving && s.awaiting_parents, "{s:?}");
    // The execution span arrives, itself under the API call 1: still one missing.
    send(&store, vec![span(2, Some(1))]).await;
    let s = summary(&store);
    assert_eq!((s.incomplete, s.missing_parents), (true, 1), "{s:?}");
    // A re-sent batch changes nothing.
    send(&store, vec![span(2, Some(1))]).await;
    assert_eq!(summary(&store).missing_parents, 1);
    // The root arrives last: complete.
    send(&store, vec![span(1, None)]).await;
    let s = summary(&store);
    assert!(!s.incomplete, "{s:?}");
    assert_eq!(s.missing_parents, 0);
    assert!(!s.awaiting_parents);
    assert_eq!(s.span_count, 5);
    assert_eq!(s.root_name.as_deref(), Some("WORKER - task 1"));
    // The search's summaries carry the same.
    let found = store
        .reader
        .search_traces(&Default::default())
        .unwrap()
        .into_iter()
        .find(|t| t.trace_id == summary(&store).trace_id)
        .unwrap();
    assert_eq!((found.incomplete, found.missing_parents), (false, 0));
}

#[tokio::test]
async fn a_cycle_without_root_is_incomplete_and_the_grace_runs_out() {
    let (_dir, store) = open();
    // 1 → 2 → 1: every parent is present, but nothing is a root.
    send(&store, vec![span(1, Some(2)), span(2, Some(1))]).await;
    let s = summary(&store);
    assert_eq!((s.incomplete, s.missing_parents), (true, 0), "{s:?}");
    // With no window and no grace, nothing is receiving or awaited.
    store.reader.set_liveness(Liveness {
        receiving_ns: 0,
        parent_grace_ns: 0,
    });
    let s = summary(&store);
    assert!(!s.receiving && !s.awaiting_parents, "{s:?}");
    // The marks follow the time of the last arrival.
    let l = Liveness {
        receiving_ns: 10,
        parent_grace_ns: 100,
    };
    let mut t = s.clone();
    let at = t.last_arrival_unix_nano;
    l.mark(&mut t, at + 5);
    assert!(t.receiving && t.awaiting_parents);
    l.mark(&mut t, at + 50);
    assert!(!t.receiving && t.awaiting_parents);
    l.mark(&mut t, at + 100);
    assert!(!t.receiving && !t.awaiting_parents);
}
