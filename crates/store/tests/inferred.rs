//! Inferred links in a real store: traces that share a correlation key's
//! value (`kestra.executionId` by default) but no span link are related
//! both ways, marked with the rule, never merged with real links; a rule
//! turned off answers nothing; a child-to-parent reference rule points the
//! child at its parent; values arriving in later batches join earlier ones.

#[path = "support/kestra.rs"]
mod kestra;

use kestra::kv;
use loupe_model::correlation::JoinRule;
use loupe_model::ids::TraceId;
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::span::Link;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::query::{LinkDirection, RelatedTrace};
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

const EXEC: &str = "4wjLnd0yS6DmMYBGbFFPkx";

fn tid(n: u8) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[0] = 0xc0;
    t[15] = n;
    t
}

fn sid(trace: u8, n: u8) -> Vec<u8> {
    vec![0x5a, trace, 0, 0, 0, 0, 0, n]
}

/// A two-span trace `n` of `service` starting `at` ms after `t0`, its
/// root carrying `attrs`, its second span `links`.
fn trace(
    n: u8,
    service: &str,
    t0: u64,
    at: u64,
    attrs: Vec<(&str, &str)>,
    links: Vec<([u8; 16], Vec<u8>)>,
) -> ResourceSpans {
    let ms = 1_000_000;
    let attrs: Vec<_> = attrs.into_iter().map(|(k, v)| kv(k, v)).collect();
    let root = Span {
        trace_id: tid(n).to_vec(),
        span_id: sid(n, 1),
        name: format!("{service} root"),
        start_time_unix_nano: t0 + at * ms,
        end_time_unix_nano: t0 + (at + 500) * ms,
        attributes: attrs.clone(),
        ..Default::default()
    };
    let child = Span {
        trace_id: tid(n).to_vec(),
        span_id: sid(n, 2),
        parent_span_id: sid(n, 1),
        name: format!("{service} task"),
        start_time_unix_nano: t0 + (at + 10) * ms,
        end_time_unix_nano: t0 + (at + 400) * ms,
        attributes: attrs,
        links: links
            .into_iter()
            .map(|(t, s)| Link {
                trace_id: t.to_vec(),
                span_id: s,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![root, child],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn open(rules: Vec<JoinRule>) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            correlation: rules,
            ..Default::default()
        },
    )
    .unwrap();
    (dir, store)
}

async fn put(st: &Store, rs: Vec<ResourceSpans>) {
    st.writer
        .submit(Batch::Traces(ExportTraceServiceRequest {
            resource_spans: rs,
        }))
        .unwrap()
        .wait()
        .await
        .unwrap();
}

fn related(st: &Store, n: u8) -> Vec<RelatedTrace> {
    st.reader.related(TraceId(tid(n))).unwrap()
}

fn hexid(n: u8) -> String {
    hex::encode(tid(n))
}

fn span_hex(trace: u8, n: u8) -> String {
    hex::encode(sid(trace, n))
}

/// The Kafka-triggered case: the executor's and the worker's traces of one
/// execution were never joined by context, only by `kestra.executionId`.
#[tokio::test]
async fn shared_execution_id_relates_both_ways_as_inferred_and_turns_off() {
    let (_d, st) = open(JoinRule::defaults());
    let t0 = now_ns() - 60_000_000_000;
    // Separate batches: the index is built incrementally, the worker's
    // trace finds the executor's that arrived before it.
    put(
        &st,
        vec![
            trace(
                1,
                "kestra-executor",
                t0,
                0,
                vec![("kestra.executionId", EXEC)],
                vec![],
            ),
            trace(
                3,
                "kestra-executor",
                t0,
                50,
                vec![("kestra.executionId", "other")],
                vec![],
            ),
        ],
    )
    .await;
    put(
        &st,
        vec![trace(
            2,
            "kestra-worker",
            t0,
            900,
            vec![("kestra.executionId", EXEC)],
            vec![],
        )],
    )
    .await;
    // Re-sending a batch adds nothing.
    put(
        &st,
        vec![trace(
            2,
            "kestra-worker",
            t0,
            900,
            vec![("kestra.executionId", EXEC)],
            vec![],
        )],
    )
    .await;

    let from1 = related(&st, 1);
    assert_eq!(from1.len(), 1, "{from1:?}");
    let e = &from1[0];
    assert_eq!(e.trace_id, hexid(2));
    // The later trace points at the earlier one, as a child's link would.
    assert_eq!(e.direction, LinkDirection::Incoming);
    let inf = e.inferred.as_ref().expect("marked inferred");
    assert_eq!(
        (inf.rule.as_str(), inf.key.as_str()),
        ("kestra.executionId", "kestra.executionId")
    );
    assert_eq!(inf.reference, None);
    assert_eq!(
        e.summary.as_ref().and_then(|s| s.root_service.as_deref()),
        Some("kestra-worker")
    );
    assert_eq!(e.links.len(), 1);
    // The first span that carried the value on each side: where the
    // stitched view hangs the other trace.
    assert_eq!(
        (
            e.links[0].from_trace_id.as_str(),
            e.links[0].from_span_id.as_str()
        ),
        (hexid(2).as_str(), span_hex(2, 1).as_str())
    );
    assert_eq!(
        (
            e.links[0].to_trace_id.as_str(),
            e.links[0].to_span_id.as_str()
        ),
        (hexid(1).as_str(), span_hex(1, 1).as_str())
    );

    let from2 = related(&st, 2);
    assert_eq!(from2.len(), 1, "{from2:?}");
    assert_eq!(from2[0].trace_id, hexid(1));
    assert_eq!(from2[0].direction, LinkDirection::Outgoing);
    assert_eq!(from2[0].links, e.links);
    assert!(from2[0].inferred.is_some());
    assert!(
        related(&st, 3).is_empty(),
        "another execution is not related"
    );

    // Off: no inferred entry either way; the values stay indexed, so on
    // again answers at once.
    let rules = st
        .reader
        .set_join_rule("kestra.executionId", false)
        .expect("rule exists");
    assert!(!rules[0].enabled);
    assert!(related(&st, 1).is_empty());
    assert!(related(&st, 2).is_empty());
    assert!(st.reader.set_join_rule("no such rule", false).is_none());
    st.reader.set_join_rule("kestra.executionId", true).unwrap();
    assert_eq!(related(&st, 2).len(), 1);
}

/// A real span link and a shared key between the same two traces: one
/// entry, the real link's, with no inferred mark; a third trace sharing
/// only the key gets its own inferred entry beside it.
#[tokio::test]
async fn real_links_are_never_mixed_with_inferred_ones() {
    let (_d, st) = open(JoinRule::defaults());
    let t0 = now_ns() - 60_000_000_000;
    put(
        &st,
        vec![
            trace(1, "api", t0, 0, vec![("kestra.executionId", EXEC)], vec![]),
            trace(
                2,
                "kestra",
                t0,
                200,
                vec![("kestra.executionId", EXEC)],
                vec![(tid(1), sid(1, 2))],
            ),
            trace(
                4,
                "kestra-worker",
                t0,
                300,
                vec![("kestra.executionId", EXEC)],
                vec![],
            ),
        ],
    )
    .await;
    let from1 = related(&st, 1);
    let real: Vec<_> = from1.iter().filter(|e| e.inferred.is_none()).collect();
    let inferred: Vec<_> = from1.iter().filter(|e| e.inferred.is_some()).collect();
    assert_eq!(real.len(), 1, "{from1:?}");
    assert_eq!(real[0].trace_id, hexid(2));
    assert_eq!(real[0].direction, LinkDirection::Incoming);
    assert_eq!(real[0].links[0].from_span_id, span_hex(2, 2));
    assert_eq!(inferred.len(), 1, "{from1:?}");
    assert_eq!(inferred[0].trace_id, hexid(4));
    assert_eq!(from1.len(), 2);
}

/// A child-to-parent reference rule: the child execution's trace names its
/// parent's ID in `kestra.parentExecutionId`; it links to the parent,
/// the parent is linked from it. A rule turned off in the configuration
/// answers nothing; no rules index nothing.
#[tokio::test]
async fn reference_rule_points_child_to_parent() {
    let rule = JoinRule {
        name: String::new(),
        key: "kestra.executionId".into(),
        reference: Some("kestra.parentExecutionId".into()),
        enabled: true,
    };
    let t0 = now_ns() - 60_000_000_000;
    let data = || {
        vec![
            trace(
                1,
                "kestra",
                t0,
                0,
                vec![("kestra.executionId", EXEC)],
                vec![],
            ),
            trace(
                5,
                "kestra",
                t0,
                700,
                vec![
                    ("kestra.executionId", "child1"),
                    ("kestra.parentExecutionId", EXEC),
                ],
                vec![],
            ),
        ]
    };
    let (_d, st) = open(vec![rule.clone()]);
    put(&st, data()).await;
    let child = related(&st, 5);
    assert_eq!(child.len(), 1, "{child:?}");
    assert_eq!(child[0].trace_id, hexid(1));
    assert_eq!(child[0].direction, LinkDirection::Outgoing);
    let inf = child[0].inferred.as_ref().unwrap();
    assert_eq!(inf.rule, "kestra.parentExecutionId → kestra.executionId");
    assert_eq!(inf.reference.as_deref(), Some("kestra.parentExecutionId"));
    let parent = related(&st, 1);
    assert_eq!(parent.len(), 1);
    assert_eq!(parent[0].trace_id, hexid(5));
    assert_eq!(parent[0].direction, LinkDirection::Incoming);
    assert_eq!(parent[0].links, child[0].links);

    let (_d2, off) = open(vec![JoinRule {
        enabled: false,
        ..rule
    }]);
    put(&off, data()).await;
    assert!(related(&off, 5).is_empty());
    assert!(related(&off, 1).is_empty());
    assert!(!off.reader.join_rules()[0].enabled);

    let (_d3, none) = open(Vec::new());
    put(&none, data()).await;
    assert!(related(&none, 1).is_empty());
    assert!(none.reader.join_rules().is_empty());
}

/// The Kestra-shaped workload relates executions through real links only:
/// each execution's ID is carried by one trace, so the default rule adds no
/// entry to it.
#[tokio::test]
async fn kestra_workload_has_no_spurious_inferred_links() {
    let (_d, st) = open(JoinRule::defaults());
    let t0 = now_ns() - 3_600_000_000_000;
    put(&st, kestra::request(0, 8, t0).resource_spans).await;
    for i in 0..8 {
        for kind in 0..2 {
            let r = st
                .reader
                .related(TraceId(kestra::trace_id(i, kind)))
                .unwrap();
            assert!(!r.is_empty());
            assert!(r.iter().all(|e| e.inferred.is_none()), "{r:?}");
        }
    }
}

/// Retention deletes a trace's join-rule values with it: the trace that
/// stays is no longer related to it, and no value row is left behind to
/// point at a reused trace row.
#[tokio::test]
async fn retention_deletes_the_values_with_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention {
                max_bytes: u64::MAX,
                max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            },
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = now_ns() - 60_000_000_000;
    put(
        &st,
        vec![trace(
            1,
            "kestra-executor",
            t0,
            0,
            vec![("kestra.executionId", EXEC)],
            vec![],
        )],
    )
    .await;
    put(
        &st,
        vec![trace(
            2,
            "kestra-worker",
            t0,
            900,
            vec![("kestra.executionId", EXEC)],
            vec![],
        )],
    )
    .await;
    assert_eq!(related(&st, 2).len(), 1);
    let rows = || -> i64 {
        let c = rusqlite::Connection::open(st.path()).unwrap();
        c.query_row("SELECT count(*) FROM corr_values", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(rows(), 2);

    // Eight days later by the writer's clock, trace 2 gets a new span (so
    // it stays); trace 1 arrived longer ago than the limit and goes.
    st.writer
        .inject_clock_ahead(std::time::Duration::from_secs(8 * 24 * 3600));
    let mut more = trace(
        2,
        "kestra-worker",
        t0,
        950,
        vec![("kestra.executionId", EXEC)],
        vec![],
    );
    more.scope_spans[0].spans.truncate(1);
    more.scope_spans[0].spans[0].span_id = sid(2, 3);
    more.scope_spans[0].spans[0].parent_span_id = sid(2, 1);
    put(&st, vec![more]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while st.reader.trace(TraceId(tid(1))).unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "trace 1 never deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(st.reader.trace(TraceId(tid(2))).unwrap().is_some());
    assert!(related(&st, 2).is_empty());
    assert_eq!(rows(), 1, "only trace 2's value is left");
}
