//! Link-following trace search over 1M spans: `cargo bench -p loupe-store --bench linked`.
//!
//! Writes a Kestra-shaped workload (`tests/support/kestra.rs`: per
//! execution an API-call trace, the execution's trace linking back to it,
//! and for one execution in four three child executions linking to its
//! `ForEachItem` span; one in 20 executions fails, one in 20 others has a
//! failing child) through the real writer until it holds 1,000,000 spans,
//! then runs each search 40 times (limit 20, newest first, as the trace
//! list asks) and prints p50 and p95 per search and over all of them. The
//! issue's budget is p95 ≤ 50 ms. `LOUPE_BENCH_SPANS` changes the count.

#[path = "../tests/support/kestra.rs"]
mod kestra;

use std::time::{Duration, Instant};

use loupe_model::query::TraceQuery;
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

const RUNS: usize = 40;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let spans: u64 = std::env::var("LOUPE_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let executions = (spans as f64 / kestra::SPANS_PER_EXECUTION).ceil() as u64;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = now_ns() - 24 * 3_600_000_000_000;
    let started = Instant::now();
    let per_request = 200;
    let mut i = 0;
    while i < executions {
        let to = (i + per_request).min(executions);
        store
            .writer
            .submit(Batch::Traces(kestra::request(i, to, t0)))
            .unwrap()
            .wait_blocking()
            .unwrap();
        i = to;
    }
    let written = started.elapsed();
    let counts = store.reader.counts().ok();
    println!(
        "wrote {executions} executions (~{spans} spans) in {:.1} s; {counts:?}",
        written.as_secs_f64()
    );

    let api = kestra::API_NAME;
    let searches: Vec<(&str, String)> = vec![
        (
            "API calls whose execution failed",
            format!(r#"name = "{api}" AND linked_from(span.status = error)"#),
        ),
        (
            "any trace linked from a failed one",
            "linked_from(span.status = error)".into(),
        ),
        (
            "either direction, failed",
            "linked(span.status = error)".into(),
        ),
        (
            "children of orders_batch executions (links_to)",
            "links_to(kestra.flowId = orders_batch)".into(),
        ),
        (
            "two hops: API calls whose child execution failed",
            "linked_from(linked_from(span.status = error))".into(),
        ),
        (
            "API calls whose execution did not fail (negated inner set)",
            format!(r#"name = "{api}" AND linked_from(NOT span.status = error)"#),
        ),
        (
            "one execution's neighbours",
            format!(
                "linked(kestra.executionId = {})",
                kestra::execution_id(executions / 2)
            ),
        ),
    ];
    let mut all = Vec::new();
    println!("| search | results | p50 | p95 |");
    println!("|---|---|---|---|");
    for (label, q) in &searches {
        let expr = loupe_query::parse_expr(q).unwrap();
        let query = TraceQuery {
            expr: Some(expr),
            limit: 20,
            ..Default::default()
        };
        let mut times = Vec::with_capacity(RUNS);
        let mut found = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            found = store.reader.search_traces(&query).unwrap().len();
            times.push(t.elapsed());
        }
        all.extend(times.iter().copied());
        println!(
            "| {label} (`{q}`) | {found} | {} | {} |",
            ms(pct(&mut times, 0.5)),
            ms(pct(&mut times, 0.95))
        );
    }
    println!(
        "| **all searches** | | **{}** | **{}** |",
        ms(pct(&mut all, 0.5)),
        ms(pct(&mut all, 0.95))
    );
}
