//! Comparing two traces: matching, alignment, summary.

mod common;

use common::*;
use loupe_analysis::compare::{compare, Comparison, Presence, StatusChange};
use loupe_analysis::tree::Tree;
use loupe_analysis::Span;

/// A run: a root and sequential tasks of the given names and durations.
fn run(t: u8, tasks: &[(&str, u64)]) -> Vec<Span> {
    let mut spans = vec![sp(t, 1, None, "kestra", "flow", 0, 0)];
    let mut at = 10;
    for (k, (name, d)) in tasks.iter().enumerate() {
        spans.push(sp(t, 2 + k as u32, Some(1), "worker", name, at, at + d));
        at += d;
    }
    spans[0].end = at + 10;
    spans
}

fn cmp<'a>(a: &'a [Span], b: &'a [Span]) -> Comparison<'a> {
    compare(&Tree::build(a, None), &Tree::build(b, None)).unwrap()
}

/// The children of the root as (name, presence, moved).
fn shape(c: &Comparison<'_>) -> Vec<(String, Presence, bool)> {
    c.nodes
        .iter()
        .filter(|n| n.parent == Some(0))
        .map(|n| (n.name.to_string(), n.presence, n.moved))
        .collect()
}

const MS: u64 = 1_000_000;

#[test]
fn identical_traces_match_everywhere() {
    let a = run(1, &[("t1", 5 * MS), ("t2", 7 * MS), ("t3", MS)]);
    let b = run(2, &[("t1", 5 * MS), ("t2", 7 * MS), ("t3", MS)]);
    let c = cmp(&a, &b);
    assert_eq!(c.nodes.len(), 4);
    assert!(c
        .nodes
        .iter()
        .all(|n| n.presence == Presence::Both && n.delta == Some(0)));
    let s = &c.summary;
    assert_eq!((s.matched, s.added, s.removed, s.changed), (4, 0, 0, 0));
    assert!(s.regressions.is_empty());
}

#[test]
fn an_inserted_task_does_not_shift_later_matches() {
    let a = run(1, &[("t1", MS), ("t2", MS), ("t3", MS)]);
    let b = run(2, &[("t1", MS), ("new", MS), ("t2", MS), ("t3", MS)]);
    let c = cmp(&a, &b);
    use Presence::*;
    assert_eq!(
        shape(&c),
        vec![
            ("t1".into(), Both, false),
            ("new".into(), OnlyB, false),
            ("t2".into(), Both, false),
            ("t3".into(), Both, false),
        ]
    );
    assert_eq!((c.summary.added, c.summary.removed), (1, 0));
    // t2 and t3 kept their durations: nothing else changed.
    assert!(c
        .nodes
        .iter()
        .filter(|n| n.parent == Some(0) && n.presence == Both)
        .all(|n| n.delta == Some(0)));
}

#[test]
fn a_removed_task_is_only_in_a() {
    let a = run(1, &[("t1", MS), ("gone", MS), ("t2", MS)]);
    let b = run(2, &[("t1", MS), ("t2", MS)]);
    let c = cmp(&a, &b);
    use Presence::*;
    assert_eq!(
        shape(&c),
        vec![
            ("t1".into(), Both, false),
            ("gone".into(), OnlyA, false),
            ("t2".into(), Both, false)
        ]
    );
    assert_eq!((c.summary.added, c.summary.removed), (0, 1));
}

#[test]
fn reordered_siblings_still_match() {
    let a = run(1, &[("t1", MS), ("t2", 2 * MS), ("t3", 3 * MS)]);
    let b = run(2, &[("t1", MS), ("t3", 3 * MS), ("t2", 2 * MS)]);
    let c = cmp(&a, &b);
    let s = shape(&c);
    assert!(s.iter().all(|(_, p, _)| *p == Presence::Both), "{s:?}");
    assert_eq!(s.iter().filter(|x| x.2).count(), 1);
    assert_eq!((c.summary.added, c.summary.removed), (0, 0));
    // Each matched with its own name, so no delta.
    assert!(c.nodes.iter().skip(1).all(|n| n.delta == Some(0)));
}

#[test]
fn repeated_names_match_by_occurrence() {
    // ForEachItem: three iterations, then four, the second one slower.
    let a = run(1, &[("item", MS), ("item", MS), ("item", MS), ("end", MS)]);
    let b = run(
        2,
        &[
            ("item", MS),
            ("item", 9 * MS),
            ("item", MS),
            ("item", MS),
            ("end", MS),
        ],
    );
    let c = cmp(&a, &b);
    let s = shape(&c);
    assert_eq!(
        s.iter().filter(|x| x.1 == Presence::Both).count(),
        4,
        "{s:?}"
    );
    assert_eq!(s.iter().filter(|x| x.1 == Presence::OnlyB).count(), 1);
    let items: Vec<_> = c
        .nodes
        .iter()
        .filter(|n| n.name == "item" && n.presence == Presence::Both)
        .collect();
    assert_eq!(items[1].delta, Some(8 * MS as i128));
    assert_eq!(c.summary.regressions[0].name, "item");
    assert_eq!(c.summary.regressions[0].delta, 8 * MS as i128);
}

#[test]
fn a_status_change_is_reported() {
    let a = run(1, &[("t1", MS), ("t2", MS)]);
    let mut b = run(2, &[("t1", MS), ("t2", MS)]);
    b[2].error = true;
    let c = cmp(&a, &b);
    let n = c.nodes.iter().find(|n| n.name == "t2").unwrap();
    assert_eq!(n.status_change, Some(StatusChange::NewError));
    assert_eq!((c.summary.changed, c.summary.status_changes), (1, 1));
}

#[test]
fn the_slowed_task_is_the_largest_regression_not_its_ancestors() {
    let a = run(1, &[("t1", MS), ("shell.Commands", 100 * MS), ("t3", MS)]);
    let b = run(2, &[("t1", MS), ("shell.Commands", 310 * MS), ("t3", MS)]);
    let c = cmp(&a, &b);
    let r = &c.summary.regressions[0];
    assert_eq!(
        (r.service.as_str(), r.name.as_str()),
        ("worker", "shell.Commands")
    );
    assert_eq!(r.delta, 210 * MS as i128);
    assert!((r.ratio.unwrap() - 3.1).abs() < 1e-9);
    assert_eq!(c.summary.delta, 210 * MS as i128);
    // The root grew by as much, but none of it is its own time.
    assert_eq!(c.summary.regressions.len(), 1);
}

#[test]
fn durations_are_the_traces_extents_when_work_outlives_the_root() {
    // A 71 ms API call starts tasks that run on after it answered.
    let mut a = run(1, &[("t1", MS), ("shell.Commands", 100 * MS)]);
    let mut b = run(2, &[("t1", MS), ("shell.Commands", 310 * MS)]);
    for s in [&mut a, &mut b] {
        s[0].end = 71 * MS;
    }
    let c = cmp(&a, &b);
    assert_eq!(c.summary.duration_a, 10 + 101 * MS);
    assert_eq!(c.summary.duration_b, 10 + 311 * MS);
    assert_eq!(c.summary.delta, 210 * MS as i128);
    assert_eq!(c.summary.regressions[0].name, "shell.Commands");
    // The root's own node still shows its own duration.
    assert_eq!(c.nodes[0].delta, Some(0));
}

#[test]
fn subtrees_of_unmatched_nodes_are_one_sided() {
    let mut a = run(1, &[("t1", MS)]);
    a.push(sp(1, 50, Some(2), "worker", "inner", 10, 20));
    let b = run(2, &[("t2", MS)]);
    let c = cmp(&a, &b);
    let inner = c.nodes.iter().find(|n| n.name == "inner").unwrap();
    assert_eq!(inner.presence, Presence::OnlyA);
    assert_eq!(c.nodes[inner.parent.unwrap()].name, "t1");
    assert_eq!((c.summary.added, c.summary.removed), (1, 2));
}
