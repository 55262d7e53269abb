//! YAML round trips: canonical text → rule → the same text, and rule →
//! text → the same rule, for every kind of rule and value.

use loupe_alerts::rule::{file_from_yaml, file_to_yaml};
use loupe_alerts::{from_yaml, to_yaml, Condition, Op, Rule, Scalar, Signal};

const CANONICAL: &[&str] = &[
    "name: Failed executions in company.*
description: The seed's central failure alert.
signal: traces
when:
  all:
  - any:
    - field: span.status
      op: equals
      value: error
    - field: kestra.state
      op: equals
      value: WARNING
  - any:
    - field: kestra.namespace
      op: prefix
      value: company.
    - all:
      - field: kestra.flowId
        op: equals
        value: cleanup
      - field: kestra.namespace
        op: equals
        value: company.system
keep_firing: 5m
notify:
- slack
",
    "name: slow workers
enabled: false
signal: metrics
when:
  not:
    field: host
    op: regex
    value: ^test-
metric:
  name: kestra.worker.job.duration
  aggregate: p95.5
  window: 5m
  op: gt
  threshold: 2.5
group_by:
- host
- service
for: 90s
keep_firing: 10m
send_resolved: true
",
    "name: errors in logs
signal: logs
when:
  all:
  - field: log.severity
    op: gte
    value: ERROR
  - field: http.status
    op: equals
    value: 500
  - field: retry
    op: equals
    value: true
  - field: ratio
    op: lt
    value: 0.25
  - field: x
    op: exists
",
    "name: every span
signal: spans
",
];

#[test]
fn canonical_text_round_trips_exactly() {
    for text in CANONICAL {
        let rule = from_yaml(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&to_yaml(&rule), text);
        assert_eq!(from_yaml(&to_yaml(&rule)).unwrap(), rule);
    }
}

#[test]
fn files_round_trip() {
    let rules: Vec<Rule> = CANONICAL.iter().map(|t| from_yaml(t).unwrap()).collect();
    let text = file_to_yaml(&rules);
    assert_eq!(file_from_yaml(&text).unwrap(), rules);
    assert_eq!(file_to_yaml(&file_from_yaml(&text).unwrap()), text);
}

#[test]
fn values_keep_their_types() {
    for v in [
        Scalar::Str("500".into()),
        Scalar::Int(500),
        Scalar::Float(0.5),
        Scalar::Bool(true),
        Scalar::Str("true".into()),
        Scalar::Str("".into()),
        Scalar::Str("a: b # c".into()),
        Scalar::Str("multi\nline".into()),
        Scalar::Str("null".into()),
    ] {
        let rule = Rule {
            name: "t".into(),
            description: String::new(),
            enabled: true,
            signal: Signal::Spans,
            when: Some(Condition::pred("k", Op::Equals, Some(v.clone()))),
            query: None,
            metric: None,
            group_by: vec![],
            pending: Default::default(),
            keep_firing: Default::default(),
            notify: vec![],
            send_resolved: false,
        };
        let text = to_yaml(&rule);
        assert_eq!(from_yaml(&text).unwrap(), rule, "{v:?}:\n{text}");
        assert_eq!(to_yaml(&from_yaml(&text).unwrap()), text);
    }
}

#[test]
fn bad_rules_are_refused_with_a_line() {
    for (text, line, needle) in [
        (
            "name: x\nsignal: traces\nwhen:\n  field: span.status\n  op: equals\n",
            Some(4),
            "value",
        ),
        (
            "name: x\nsignal: traces\nwhen:\n  all:\n  - field: a\n    op: regex\n    value: '('\n",
            None,
            "regex",
        ),
        (
            "name: x\nsignal: logs\nwhen:\n  field: span.name\n  op: equals\n  value: a\n",
            None,
            "does not exist",
        ),
        (
            "name: x\nsignal: traces\nwhen:\n  field: span.status\n  op: equals\n  value: FAILED\n",
            None,
            "attribute",
        ),
        ("name: x\nsignal: traces\nkeep_firing: 5\n", Some(3), "unit"),
        ("name: x\nsignal: traces\ncolour: red\n", Some(3), "colour"),
    ] {
        let e = from_yaml(text).unwrap_err();
        if line.is_some() {
            assert_eq!(e.line, line, "{e}");
        }
        assert!(e.to_string().contains(needle), "{e}");
    }
}
