//! The early stop of link-following search (a link operator of the
//! top-level AND tested one candidate trace at a time, newest first,
//! until `limit` match) against the full evaluation (every inner set
//! mapped through the links first), on a Kestra-shaped workload large
//! enough for the early stop to be taken: the same traces, in the same
//! order, whether it stops early, runs out of budget and falls back, or is
//! not worth taking.

#[path = "support/kestra.rs"]
mod kestra;

use kestra::API_NAME;
use loupe_model::query::TraceQuery;
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::{now_ns, NanoRange};
use loupe_store::{Retention, Store, WriterConfig};

/// About 65,000 spans: 400 traces with an error, 1,000 `orders_batch`
/// executions, so the inner sets cost more than the early stop's floor.
const EXECUTIONS: u64 = 4_000;

#[tokio::test]
async fn early_stop_returns_what_the_full_evaluation_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = now_ns() - 3_600_000_000_000;
    let mut i = 0;
    while i < EXECUTIONS {
        let to = (i + 500).min(EXECUTIONS);
        store
            .writer
            .submit(Batch::Traces(kestra::request(i, to, t0)))
            .unwrap()
            .wait()
            .await
            .unwrap();
        i = to;
    }
    let exec = kestra::execution_id(EXECUTIONS / 2);
    let searches = [
        // The benchmark's searches.
        format!(r#"name = "{API_NAME}" AND linked_from(span.status = error)"#),
        "linked_from(span.status = error)".into(),
        "linked(span.status = error)".into(),
        "links_to(kestra.flowId = orders_batch)".into(),
        "linked_from(linked_from(span.status = error))".into(),
        format!(r#"name = "{API_NAME}" AND linked_from(NOT span.status = error)"#),
        format!("linked(kestra.executionId = {exec})"),
        // Nothing matches: the walk runs out of budget and falls back.
        "links_to(span.status = error)".into(),
        "links_to(NOT kestra.flowId = nothing)".into(),
        // Several link operators, nested ones, with other terms.
        "linked_from(span.status = error) AND links_to(kestra.flowId = hello)".into(),
        "linked(linked(kestra.flowId = orders_batch)) AND NOT span.status = error".into(),
        "links_to(links_to(kestra.flowId = orders_batch))".into(),
        "span.status = error AND links_to(kestra.flowId = orders_batch)".into(),
        format!("kestra.executionId = {exec} AND linked(span.status = error)"),
        "linked_from(span.status = error OR kestra.taskId = each_batch)".into(),
    ];
    // The last 1,000 executions' time, and all of it.
    let recent = NanoRange {
        start: t0 + (EXECUTIONS - 1_000) * 10_000_000,
        end: u64::MAX,
    };
    for q in &searches {
        let expr = loupe_query::parse_expr(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        for (limit, range) in [
            (20, NanoRange::default()),
            (1, NanoRange::default()),
            (20, recent),
            (5_000, NanoRange::default()),
        ] {
            let query = TraceQuery {
                expr: Some(expr.clone()),
                limit,
                range,
                ..Default::default()
            };
            let ids = |v: Vec<loupe_model::query::TraceSummary>| {
                v.into_iter().map(|t| t.trace_id).collect::<Vec<_>>()
            };
            let early = ids(store.reader.search_traces(&query).unwrap());
            let full = ids(store.reader.search_traces_in_full(&query).unwrap());
            assert_eq!(early, full, "{q} (limit {limit}, {range:?})");
            if limit == 20 && range == NanoRange::default() {
                // The searches that match nothing on this workload.
                let none = q.starts_with("links_to(span")
                    || q.contains("links_to(kestra.flowId = hello)")
                    || q.starts_with("kestra.executionId");
                assert_eq!(early.is_empty(), none, "{q}: {} matches", early.len());
            }
        }
    }
}
