//! Statistics, run keys, previous run and service map.

mod common;

use common::*;
use loupe_analysis::runs::{previous_run, run_key, Candidate, RunKey};
use loupe_analysis::servicemap::service_map;
use loupe_analysis::stats::{self_times, statistics};
use loupe_analysis::tree::Tree;

#[test]
fn self_time_counts_overlapping_children_once_and_clips_them() {
    let spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "a", 10, 50),
        sp(1, 3, Some(1), "db", "b", 30, 80),
        sp(1, 4, Some(3), "db", "late", 70, 120),
    ];
    let t = Tree::build(&spans, None);
    assert_eq!(self_times(&t), vec![30, 40, 40, 50]);
    let s = statistics(&t);
    assert_eq!(s.span_count, 4);
    let db = s.services.iter().find(|x| x.service == "db").unwrap();
    assert_eq!(
        (db.count, db.total, db.self_time, db.min, db.max, db.avg),
        (2, 100, 90, 50, 50, 50)
    );
    let root = s
        .operations
        .iter()
        .find(|x| x.name.as_deref() == Some("root"))
        .unwrap();
    assert_eq!((root.count, root.total, root.self_time), (1, 100, 30));
    // Largest total first.
    assert_eq!(s.operations[0].name.as_deref(), Some("root"));
}

#[test]
fn statistics_count_errors() {
    let mut spans = vec![
        sp(1, 1, None, "api", "root", 0, 100),
        sp(1, 2, Some(1), "api", "x", 10, 20),
        sp(1, 3, Some(1), "api", "x", 20, 40),
    ];
    spans[2].error = true;
    let s = statistics(&Tree::build(&spans, None));
    let x = s
        .operations
        .iter()
        .find(|x| x.name.as_deref() == Some("x"))
        .unwrap();
    assert_eq!((x.count, x.errors, x.min, x.max, x.avg), (2, 1, 10, 20, 15));
}

#[test]
fn run_key_prefers_configured_attributes() {
    let keys: Vec<String> = vec!["kestra.namespace".into(), "kestra.flowId".into()];
    let mut spans = vec![
        sp(1, 1, None, "kestra", "Execution 5f3a", 0, 100),
        sp(1, 2, Some(1), "kestra", "task", 10, 20),
    ];
    assert_eq!(
        run_key(&Tree::build(&spans, None), &keys).unwrap(),
        RunKey::Root {
            service: "kestra".into(),
            name: "Execution 5f3a".into()
        }
    );
    spans[1].attrs = vec![
        ("kestra.flowId".into(), "nightly".into()),
        ("kestra.namespace".into(), "company".into()),
    ];
    let k = run_key(&Tree::build(&spans, None), &keys).unwrap();
    assert_eq!(
        k,
        RunKey::Attributes {
            values: vec![
                ("kestra.namespace".into(), "company".into()),
                ("kestra.flowId".into(), "nightly".into())
            ]
        }
    );
    assert_eq!(
        k.describe(),
        "kestra.namespace=company, kestra.flowId=nightly"
    );
}

#[test]
fn previous_run_is_the_latest_earlier_one_with_the_same_key() {
    let key = RunKey::Root {
        service: "s".into(),
        name: "n".into(),
    };
    let other = RunKey::Root {
        service: "s".into(),
        name: "m".into(),
    };
    let c = |id: &str, start: u64, k: Option<&RunKey>| Candidate {
        trace_id: id.into(),
        start,
        key: k.cloned(),
    };
    let cands = vec![
        c("a", 100, Some(&key)),
        c("b", 300, Some(&key)),
        c("x", 350, Some(&other)),
        c("cur", 400, None),
        c("later", 500, None),
    ];
    let p = previous_run("cur", 400, &key, &cands).unwrap();
    assert_eq!(p.trace_id, "b");
    assert!(p.reason.contains("root span s - n"));
    assert!(previous_run("a", 100, &key, &cands).is_none());
}

#[test]
fn service_map_edges_with_percentiles() {
    let mut spans = vec![sp(1, 1, None, "api", "root", 0, 1000)];
    for i in 0..20u32 {
        let mut s = sp(1, 10 + i, Some(1), "db", "q", 0, u64::from(i + 1));
        s.error = i == 0;
        spans.push(s);
    }
    spans.push(sp(1, 99, Some(10), "db", "inner", 0, 1));
    let m = service_map(&Tree::build(&spans, None));
    assert_eq!(m.services, vec!["api", "db"]);
    assert_eq!(m.edges.len(), 1);
    let e = &m.edges[0];
    assert_eq!(
        (
            e.caller.as_str(),
            e.callee.as_str(),
            e.count,
            e.errors,
            e.p50,
            e.p95
        ),
        ("api", "db", 20, 1, 10, 19)
    );
    assert_eq!(e.traces.len(), 1);
}
