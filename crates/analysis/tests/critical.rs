//! Golden critical paths on hand-built traces.

mod common;

use common::*;
use loupe_analysis::critical::critical_path;
use loupe_analysis::tree::{Tree, KIND_CONSUMER, KIND_PRODUCER};
use loupe_analysis::Span;

/// The path as (span number, start, end), in time order.
fn path(spans: &[Span]) -> Vec<(u32, u64, u64)> {
    let t = Tree::build(spans, Some(spans[0].trace_id));
    critical_path(&t)
        .unwrap()
        .segments
        .iter()
        .map(|s| {
            let id = &spans[s.index].span_id.0;
            (
                u32::from_be_bytes([id[4], id[5], id[6], id[7]]),
                s.start,
                s.end,
            )
        })
        .collect()
}

#[test]
fn sequential_children_are_all_on_the_path() {
    let spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "a", 10, 40),
        sp(1, 3, Some(1), "api", "b", 40, 90),
    ];
    assert_eq!(
        path(&spans),
        vec![(1, 0, 10), (2, 10, 40), (3, 40, 90), (1, 90, 100)]
    );
    let cp = critical_path(&Tree::build(&spans, None)).unwrap();
    assert_eq!(cp.duration, 100);
    assert_eq!(cp.spans[0].name, "b");
    assert_eq!(cp.spans[0].self_time, 50);
}

#[test]
fn parallel_children_only_the_last_finishing_counts() {
    let spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "a", 10, 50),
        sp(1, 3, Some(1), "api", "b", 10, 80),
        sp(1, 4, Some(1), "api", "c", 85, 95),
    ];
    assert_eq!(
        path(&spans),
        vec![
            (1, 0, 10),
            (3, 10, 80),
            (1, 80, 85),
            (4, 85, 95),
            (1, 95, 100)
        ]
    );
}

#[test]
fn child_ending_after_its_parent_extends_it() {
    // x outlives p: p is taken to last until x ends (work it started), so x
    // holds the path to its end instead of being clipped at p's.
    let spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "p", 10, 50),
        sp(1, 3, Some(2), "api", "x", 20, 70),
    ];
    assert_eq!(
        path(&spans),
        vec![(1, 0, 10), (2, 10, 20), (3, 20, 70), (1, 70, 100)]
    );
    let cp = critical_path(&Tree::build(&spans, None)).unwrap();
    assert_eq!((cp.duration, cp.root_duration), (100, 100));
}

#[test]
fn work_outliving_the_root_extends_the_path_to_the_trace_end() {
    let mut spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "a", 10, 30),
        // Ends after the root: nobody waited for it, but it is the trace's
        // last work, so the path ends in it.
        sp(1, 3, Some(1), "mail", "send", 20, 150),
        sp(1, 4, Some(1), "api", "publish", 40, 45),
        // A consumer under a producer: walked like any child.
        sp(1, 5, Some(4), "worker", "consume", 42, 95),
    ];
    spans[3].kind = KIND_PRODUCER;
    spans[4].kind = KIND_CONSUMER;
    assert_eq!(path(&spans), vec![(1, 0, 20), (3, 20, 150)]);
    let cp = critical_path(&Tree::build(&spans, None)).unwrap();
    assert_eq!((cp.duration, cp.root_duration), (150, 100));
    // Without the mail, the message's processing ended last under the root.
    spans.remove(2);
    assert_eq!(
        path(&spans),
        vec![
            (1, 0, 10),
            (2, 10, 30),
            (1, 30, 40),
            (4, 40, 42),
            (5, 42, 95),
            (1, 95, 100)
        ]
    );
}

/// The shape of `loupe demo`: a 71 ms API call (upstream → webserver)
/// starts a Kestra execution whose tasks are children of the webserver
/// span and run for ~10 s after the call answered.
#[test]
fn kestra_execution_started_by_a_short_api_call() {
    let ms = 1_000_000u64;
    let spans = vec![
        sp(
            1,
            1,
            None,
            "upstream",
            "POST /api/v1/executions",
            0,
            71 * ms,
        ),
        sp(1, 2, Some(1), "kestra-webserver", "POST", 4 * ms, 67 * ms),
        sp(1, 3, Some(2), "kestra", "log_start", 212 * ms, 236 * ms),
        sp(1, 4, Some(2), "kestra", "fetch_orders", 268 * ms, 1145 * ms),
        sp(
            1,
            5,
            Some(4),
            "downstream",
            "GET /api/orders",
            293 * ms,
            1117 * ms,
        ),
        sp(
            1,
            6,
            Some(2),
            "kestra",
            "process_orders",
            1190 * ms,
            4962 * ms,
        ),
        sp(1, 7, Some(6), "kestra", "transform", 1340 * ms, 4871 * ms),
        sp(1, 8, Some(2), "kestra", "each_batch", 5010 * ms, 5188 * ms),
        sp(
            1,
            9,
            Some(2),
            "kestra",
            "export_report",
            7540 * ms,
            9912 * ms,
        ),
    ];
    let cp = critical_path(&Tree::build(&spans, None)).unwrap();
    assert_eq!(cp.duration, 9912 * ms);
    assert_eq!(cp.root_duration, 71 * ms);
    assert_eq!(
        path(&spans),
        vec![
            (1, 0, 4 * ms),
            (2, 4 * ms, 212 * ms),
            (3, 212 * ms, 236 * ms),
            (2, 236 * ms, 268 * ms),
            (4, 268 * ms, 293 * ms),
            (5, 293 * ms, 1117 * ms),
            (4, 1117 * ms, 1145 * ms),
            (2, 1145 * ms, 1190 * ms),
            (6, 1190 * ms, 1340 * ms),
            (7, 1340 * ms, 4871 * ms),
            (6, 4871 * ms, 4962 * ms),
            (2, 4962 * ms, 5010 * ms),
            (8, 5010 * ms, 5188 * ms),
            (2, 5188 * ms, 7540 * ms),
            (9, 7540 * ms, 9912 * ms),
        ]
    );
    // The slowest thing on the path is the transform task.
    assert_eq!(cp.spans[0].name, "transform");
    // The segments tile the extent with no gap or overlap.
    let total: u64 = cp.segments.iter().map(|s| s.end - s.start).sum();
    assert_eq!(total, cp.duration);
}

#[test]
fn skewed_clocks_across_services_are_shifted_into_the_parent() {
    // The db host's clock is 600 behind: its span looks like it ran before
    // the call that made it.
    let spans = vec![
        sp(1, 1, None, "api", "root", 1000, 2000),
        sp(1, 2, Some(1), "db", "query", 500, 800),
        sp(1, 3, Some(2), "db", "scan", 600, 700),
    ];
    assert_eq!(
        path(&spans),
        vec![
            (2, 1000, 1100),
            (3, 1100, 1200),
            (2, 1200, 1300),
            (1, 1300, 2000)
        ]
    );
    // The same service has one clock: a child before its parent is clamped
    // (and here dropped: nothing of it is inside the parent).
    let same = vec![
        sp(1, 1, None, "api", "root", 1000, 2000),
        sp(1, 2, Some(1), "api", "early", 500, 800),
        sp(1, 3, Some(1), "api", "half", 900, 1200),
    ];
    assert_eq!(path(&same), vec![(3, 1000, 1200), (1, 1200, 2000)]);
}

#[test]
fn stitched_parent_with_linked_children() {
    let mut spans = vec![
        sp(1, 1, None, "kestra", "execution", 0, 1000),
        sp(1, 2, Some(1), "kestra", "subflow task", 100, 900),
        // Trace 2 (the subflow's execution) links to the task that started it.
        sp(2, 10, None, "kestra", "subflow execution", 200, 800),
        sp(2, 11, Some(10), "worker", "shell", 250, 700),
        // Trace 3 is named by an outgoing link of the task.
        sp(3, 20, None, "kestra", "item", 850, 880),
    ];
    spans[2].links.push((tid(1), sid(2)));
    spans[1].links.push((tid(3), sid(20)));
    let t = Tree::build(&spans, Some(tid(1)));
    assert_eq!(t.parent(2), Some(1));
    assert_eq!(t.parent(4), Some(1));
    assert!(t.linked[2] && t.linked[4]);
    assert_eq!(
        path(&spans),
        vec![
            (1, 0, 100),
            (2, 100, 200),
            (10, 200, 250),
            (11, 250, 700),
            (10, 700, 800),
            (2, 800, 850),
            (20, 850, 880),
            (2, 880, 900),
            (1, 900, 1000),
        ]
    );
    // Without the links' traces, only trace 1.
    assert_eq!(
        path(&spans[..2]),
        vec![(1, 0, 100), (2, 100, 900), (1, 900, 1000)]
    );
}

#[test]
fn untrusted_times_and_shapes_do_not_panic() {
    let spans = vec![
        sp(1, 1, None, "api", "root", u64::MAX - 5, 3),
        sp(1, 2, Some(1), "api", "a", u64::MAX, u64::MAX),
        sp(1, 3, Some(1), "b", "b", 0, u64::MAX),
        // A parent cycle and a self-parent.
        sp(1, 4, Some(5), "api", "c1", 1, 2),
        sp(1, 5, Some(4), "api", "c2", 1, 2),
        sp(1, 6, Some(6), "api", "self", 1, 2),
        // A duplicate span ID.
        sp(1, 2, Some(1), "api", "dup", 0, 0),
    ];
    let t = Tree::build(&spans, None);
    assert_eq!(t.order.len(), spans.len());
    let _ = critical_path(&t).unwrap();
    let _ = loupe_analysis::stats::statistics(&t);
    let _ = loupe_analysis::compare::compare(&t, &t).unwrap();
}

#[test]
fn a_100k_deep_chain_does_not_overflow_the_stack() {
    let n = 100_000u32;
    let spans: Vec<Span> = (1..=n)
        .map(|i| {
            let p = (i > 1).then(|| i - 1);
            sp(1, i, p, "s", "n", u64::from(i), 10_000_000 - u64::from(i))
        })
        .collect();
    let t = Tree::build(&spans, None);
    let cp = critical_path(&t).unwrap();
    assert_eq!(cp.segments.len(), 2 * n as usize - 1);
    let st = loupe_analysis::stats::statistics(&t);
    assert_eq!(st.operations[0].count, u64::from(n));
    let c = loupe_analysis::compare::compare(&t, &t).unwrap();
    assert_eq!(c.summary.matched, u64::from(n));
}
