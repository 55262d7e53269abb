//! Table-driven tests of the pure evaluator: each case is a rule and a list
//! of (time, data) steps with the state expected after each. No clock and
//! no sleep: time is an argument.

use std::collections::BTreeMap;

use loupe_alerts::eval::{backtest_events, step_events, LogItem, Matcher, SpanItem};
use loupe_alerts::metric::{aggregate, backtest_metric, step_metric, Point, PointValue, Series};
use loupe_alerts::{from_yaml, GroupState, State};
use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};

const S: u64 = 1_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn metric_rule(extra: &str) -> loupe_alerts::Rule {
    from_yaml(&format!(
        "name: m\nsignal: metrics\nmetric:\n  name: queue\n  aggregate: avg\n  window: 5s\n  op: gt\n  threshold: 10\n{extra}"
    ))
    .unwrap()
}

fn series(host: &str, points: &[(u64, f64)]) -> Series {
    Series {
        attributes: vec![kv("host", host)],
        resource: vec![kv("service.name", "svc")],
        points: points
            .iter()
            .map(|&(t, v)| Point {
                time_ns: t * S,
                value: PointValue::Number(v),
            })
            .collect(),
        ..Series::default()
    }
}

fn state_of(states: &[GroupState], group: &str) -> State {
    states
        .iter()
        .find(|g| g.group == group)
        .map(|g| g.state)
        .unwrap_or(State::Inactive)
}

/// Runs a metrics rule over steps of (time in s, value or None for a gap)
/// on one series, checking the state after each step.
fn run_metric(rule_extra: &str, steps: &[(u64, Option<f64>, State)]) {
    let rule = metric_rule(rule_extra);
    let m = Matcher::new(&rule).unwrap();
    let mut states = Vec::new();
    let mut points = Vec::new();
    for (i, &(t, v, want)) in steps.iter().enumerate() {
        if let Some(v) = v {
            points.push((t, v));
        }
        let data = vec![series("a", &points)];
        let values = aggregate(&rule, &m, &data, t * S);
        let (next, _) = step_metric(&rule, &states, &values, t * S);
        states = next;
        assert_eq!(
            state_of(&states, ""),
            want,
            "{rule_extra:?} step {i} at {t}s (value {v:?}): {states:?}"
        );
    }
}

#[test]
fn metric_state_machine_table() {
    use State::*;
    // (rule options, [(t, value, expected state)])
    type Steps = &'static [(u64, Option<f64>, State)];
    let cases: &[(&str, Steps)] = &[
        // No `for`: fires at the first breach, resolves at the first miss.
        (
            "",
            &[
                (0, Some(5.0), Inactive),
                (10, Some(20.0), Firing),
                (200, Some(1.0), Resolved),
                (300, Some(30.0), Firing),
            ],
        ),
        // `for: 30s`: pending first, firing once it held 30 s.
        (
            "for: 30s\n",
            &[
                (0, Some(20.0), Pending),
                (20, Some(20.0), Pending),
                (30, Some(20.0), Firing),
                (40, Some(20.0), Firing),
            ],
        ),
        // A pending group whose condition stops holding goes back to inactive.
        (
            "for: 30s\n",
            &[
                (0, Some(20.0), Pending),
                (100, Some(1.0), Inactive),
                (110, Some(20.0), Pending),
            ],
        ),
        // keep_firing: stays firing until the condition missed for 60 s.
        (
            "keep_firing: 1m\n",
            &[
                (0, Some(20.0), Firing),
                (30, Some(1.0), Firing),
                (50, Some(1.0), Firing),
                (60, Some(1.0), Resolved),
            ],
        ),
        // keep_firing is restarted by a new breach.
        (
            "keep_firing: 1m\n",
            &[
                (0, Some(20.0), Firing),
                (30, Some(1.0), Firing),
                (50, Some(50.0), Firing),
                (100, Some(1.0), Firing),
                (110, Some(1.0), Resolved),
            ],
        ),
        // A gap (no point in the window) does not hold: firing resolves.
        ("", &[(0, Some(20.0), Firing), (120, None, Resolved)]),
        // A gap never makes a group pending or firing.
        ("for: 10s\n", &[(0, None, Inactive), (60, None, Inactive)]),
        // NaN points are skipped: a window of only NaN is a gap.
        (
            "",
            &[
                (0, Some(f64::NAN), Inactive),
                (5, Some(20.0), Firing),
                (100, Some(f64::NAN), Resolved),
            ],
        ),
    ];
    for (extra, steps) in cases {
        run_metric(extra, steps);
    }
}

#[test]
fn metric_groups_alert_on_their_own() {
    let rule = metric_rule("group_by: [host]\n");
    let m = Matcher::new(&rule).unwrap();
    let data = vec![series("a", &[(10, 50.0)]), series("b", &[(10, 1.0)])];
    let (states, tr) = step_metric(&rule, &[], &aggregate(&rule, &m, &data, 10 * S), 10 * S);
    assert_eq!(state_of(&states, "host=a"), State::Firing);
    assert_eq!(state_of(&states, "host=b"), State::Inactive);
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].labels.get("host").map(String::as_str), Some("a"));
    // b breaches, a recovers.
    let data = vec![
        series("a", &[(10, 50.0), (70, 1.0)]),
        series("b", &[(10, 1.0), (70, 99.0)]),
    ];
    let (states, tr) = step_metric(&rule, &states, &aggregate(&rule, &m, &data, 72 * S), 72 * S);
    assert_eq!(state_of(&states, "host=a"), State::Resolved);
    assert_eq!(state_of(&states, "host=b"), State::Firing);
    assert_eq!(tr.len(), 2);
}

#[test]
fn aggregates() {
    let pts = [(1, 1.0), (2, 3.0), (3, 8.0), (4, 4.0)];
    for (agg, want) in [
        ("avg", 4.0),
        ("min", 1.0),
        ("max", 8.0),
        ("sum", 16.0),
        ("count", 4.0),
        ("rate", 1.0),
        ("p50", 3.5),
        ("p100", 8.0),
    ] {
        let rule = from_yaml(&format!(
            "name: m\nsignal: metrics\nmetric:\n  name: q\n  aggregate: {agg}\n  window: 1m\n  op: gt\n  threshold: 0\n"
        ))
        .unwrap();
        let m = Matcher::new(&rule).unwrap();
        let v = aggregate(&rule, &m, &[series("a", &pts)], 4 * S);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].2, Some(want), "{agg}");
    }
    // A histogram percentile interpolates within the bucket.
    let rule = from_yaml("name: m\nsignal: metrics\nmetric:\n  name: q\n  aggregate: p50\n  window: 1m\n  op: gt\n  threshold: 0\n").unwrap();
    let m = Matcher::new(&rule).unwrap();
    let h = Series {
        points: vec![Point {
            time_ns: 5 * S,
            value: PointValue::Histogram {
                count: 10,
                sum: 100.0,
                bounds: vec![10.0, 20.0],
                counts: vec![0, 10, 0],
            },
        }],
        ..Default::default()
    };
    assert_eq!(aggregate(&rule, &m, &[h], 10 * S)[0].2, Some(15.0));
}

fn failed_span(trace: &str, ns: &str, t: u64) -> SpanItem {
    SpanItem {
        trace_id: trace.into(),
        span_id: "01".into(),
        name: "WORKER - shell".into(),
        kind: 1,
        status: 2,
        start_ns: t * S,
        end_ns: t * S + 1,
        attributes: vec![kv("kestra.namespace", ns), kv("kestra.flowId", "etl")],
        resource: vec![kv("service.name", "kestra")],
    }
}

const SEED_RULE: &str = "name: failures
signal: traces
when:
  all:
  - field: span.status
    op: equals
    value: error
  - any:
    - field: kestra.namespace
      op: prefix
      value: company.product
    - all:
      - field: kestra.flowId
        op: equals
        value: cleanup
      - field: kestra.namespace
        op: equals
        value: company.system
";

#[test]
fn event_rules_fire_per_trace_and_resolve_after_keep_firing() {
    let rule = from_yaml(&format!("{SEED_RULE}keep_firing: 30s\n")).unwrap();
    let m = Matcher::new(&rule).unwrap();
    let spans = vec![
        failed_span("t1", "company.product.billing", 10),
        failed_span("t1", "company.product.billing", 11),
        failed_span("t2", "company.team", 12),
    ];
    let matches = m.span_matches(&spans);
    assert_eq!(matches.len(), 1, "one per trace, only company.product*");
    let (states, tr) = step_events(&rule, &[], &matches, 20 * S);
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].to, State::Firing);
    assert_eq!(
        tr[0].evidence.as_ref().unwrap().trace_id.as_deref(),
        Some("t1")
    );
    assert_eq!(state_of(&states, "trace=t1"), State::Firing);
    let (states, tr) = step_events(&rule, &states, &[], 40 * S);
    assert!(tr.is_empty(), "keep_firing holds it");
    let (states, tr) = step_events(&rule, &states, &[], 50 * S);
    assert_eq!(tr.len(), 1);
    assert_eq!(state_of(&states, "trace=t1"), State::Resolved);
    // More spans of the resolved trace do not fire it again.
    let late = m.span_matches(&[failed_span("t1", "company.product.billing", 60)]);
    let (states, tr) = step_events(&rule, &states, &late, 60 * S);
    assert!(tr.is_empty(), "{tr:?}");
    // Forgotten an hour after resolving.
    let (states, _) = step_events(&rule, &states, &[], 50 * S + 3600 * S);
    assert!(states.is_empty());
}

#[test]
fn event_groups_by_attribute_fire_once_while_firing() {
    let rule = from_yaml("name: g\nsignal: spans\nwhen:\n  field: span.status\n  op: equals\n  value: error\ngroup_by: [kestra.flowId]\nkeep_firing: 5m\n").unwrap();
    let m = Matcher::new(&rule).unwrap();
    let a = m.span_matches(&[failed_span("t1", "x", 1)]);
    let (states, tr) = step_events(&rule, &[], &a, S);
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].group, "kestra.flowId=etl");
    let b = m.span_matches(&[failed_span("t2", "x", 2)]);
    let (states, tr) = step_events(&rule, &states, &b, 2 * S);
    assert!(tr.is_empty(), "same group already firing: {tr:?}");
    assert_eq!(states.len(), 1);
}

#[test]
fn log_rules_match_severity_and_body() {
    let rule = from_yaml("name: l\nsignal: logs\nwhen:\n  all:\n  - field: log.severity\n    op: gte\n    value: ERROR\n  - field: log.body\n    op: contains\n    value: exit code\n").unwrap();
    let m = Matcher::new(&rule).unwrap();
    let log = |sev: i32, body: &str| LogItem {
        key: format!("{sev}{body}"),
        time_ns: S,
        severity: sev,
        body: body.into(),
        ..Default::default()
    };
    let got = m.log_matches(&[
        log(17, "exit code 1"),
        log(9, "exit code 1"),
        log(21, "fine"),
    ]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].evidence.summary, "exit code 1");
}

#[test]
fn backtests_replay_the_same_machine() {
    let rule = from_yaml(&format!("{SEED_RULE}keep_firing: 10s\n")).unwrap();
    let m = Matcher::new(&rule).unwrap();
    let spans: Vec<SpanItem> = (0..3)
        .map(|i| failed_span(&format!("t{i}"), "company.product", 100 + i * 60))
        .collect();
    let bt = backtest_events(&rule, m.span_matches(&spans), 1000 * S);
    assert_eq!(bt.fired, 3);
    assert_eq!(bt.groups, vec!["trace=t0", "trace=t1", "trace=t2"]);
    let resolved = bt
        .transitions
        .iter()
        .filter(|t| t.to == State::Resolved)
        .count();
    assert_eq!(resolved, 3);

    let rule = metric_rule("for: 20s\n");
    let data = vec![series(
        "a",
        &[
            (0, 1.0),
            (100, 50.0),
            (110, 50.0),
            (120, 50.0),
            (130, 50.0),
            (300, 1.0),
        ],
    )];
    let bt = backtest_metric(&rule, &data, 0, 400 * S, 10 * S);
    assert_eq!(bt.fired, 1, "{:?}", bt.transitions);
    let firing = bt
        .transitions
        .iter()
        .find(|t| t.to == State::Firing)
        .unwrap();
    assert_eq!(firing.at_ns, 120 * S);
    let _ = BTreeMap::<String, String>::new();
}
