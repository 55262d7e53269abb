//! Link-following search (`linked`, `links_to`, `linked_from`) over a
//! Kestra-shaped workload in a real store: the API call traces whose
//! execution failed, the executions whose child failed, and the bounds.

#[path = "support/kestra.rs"]
mod kestra;

use kestra::{child_fails, execution_fails, has_children, trace_id, API_NAME};
use loupe_model::query::TraceQuery;
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

const EXECUTIONS: u64 = 60;

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
    let t0 = now_ns() - 3_600_000_000_000;
    // Two requests, so the links cross batches (and the API calls of the
    // second half arrive after nothing else of theirs).
    for (a, b) in [(0, EXECUTIONS / 2), (EXECUTIONS / 2, EXECUTIONS)] {
        store
            .writer
            .submit(Batch::Traces(kestra::request(a, b, t0)))
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    (dir, store)
}

fn search(st: &Store, q: &str) -> Vec<String> {
    let expr = loupe_query::parse_expr(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    let mut out: Vec<String> = st
        .reader
        .search_traces(&TraceQuery {
            expr: Some(expr),
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    out.sort();
    out
}

fn ids(it: impl Iterator<Item = [u8; 16]>) -> Vec<String> {
    let mut v: Vec<String> = it.map(hex::encode).collect();
    v.sort();
    v
}

fn all() -> std::ops::Range<u64> {
    0..EXECUTIONS
}

#[tokio::test]
async fn api_calls_whose_execution_failed() {
    let (_dir, st) = store().await;
    let failed_api_calls = ids(all()
        .filter(|&i| execution_fails(i))
        .map(|i| trace_id(i, 0)));
    assert_eq!(failed_api_calls.len(), 3);
    // The API call trace has no error of its own: its execution, a trace
    // linking back to it, has.
    assert_eq!(
        search(
            &st,
            &format!(r#"name = "{API_NAME}" AND linked_from(span.status = error)"#)
        ),
        failed_api_calls
    );
    assert!(search(
        &st,
        &format!(r#"name = "{API_NAME}" AND span.status = error"#)
    )
    .is_empty());
    // Without the name, the executions whose child failed come too (their
    // children link to them), and nothing else.
    let mut with_children = failed_api_calls.clone();
    with_children.extend(ids(all()
        .filter(|&i| child_fails(i))
        .map(|i| trace_id(i, 1))));
    with_children.sort();
    assert_eq!(
        search(&st, "linked_from(span.status = error)"),
        with_children
    );
    // Two hops: API calls whose execution's child failed.
    assert_eq!(
        search(&st, "linked_from(linked_from(span.status = error))"),
        ids(all().filter(|&i| child_fails(i)).map(|i| trace_id(i, 0)))
    );
}

#[tokio::test]
async fn each_direction_and_either() {
    let (_dir, st) = store().await;
    // The executions (and children) that link to a trace with an
    // `each_batch` ForEachItem span: the three children of each parent.
    let children = ids(all()
        .filter(|&i| has_children(i))
        .flat_map(|i| (2..5).map(move |k| trace_id(i, k))));
    assert_eq!(
        search(&st, "links_to(kestra.taskId = each_batch)"),
        children
    );
    // Failed executions that link to an API call: not the failed children.
    assert_eq!(
        search(
            &st,
            "links_to(name = \"POST /api/v1/executions/{namespace}/{id}\") AND span.status = error"
        ),
        ids(all()
            .filter(|&i| execution_fails(i))
            .map(|i| trace_id(i, 1)))
    );
    // Either direction: neighbours of the failed child executions' parent.
    let parents_of_failed: Vec<u64> = all().filter(|&i| child_fails(i)).collect();
    assert_eq!(
        search(
            &st,
            &format!(
                "linked(kestra.executionId = {})",
                kestra::execution_id(parents_of_failed[0])
            )
        ),
        ids([0, 2, 3, 4]
            .map(|k| trace_id(parents_of_failed[0], k))
            .into_iter())
    );
    // Negation inside: API calls whose execution did NOT fail (every
    // execution links to its API call, so this is the complement).
    let ok_calls = ids(all()
        .filter(|&i| !execution_fails(i))
        .map(|i| trace_id(i, 0)));
    assert_eq!(
        search(
            &st,
            &format!(r#"name = "{API_NAME}" AND linked_from(NOT span.status = error)"#)
        ),
        ok_calls
    );
    assert_eq!(
        search(
            &st,
            &format!(r#"name = "{API_NAME}" AND NOT linked_from(span.status = error)"#)
        ),
        ok_calls
    );
    // Nothing links to a value nobody has.
    assert!(search(&st, "linked(kestra.flowId = nothing)").is_empty());
}
