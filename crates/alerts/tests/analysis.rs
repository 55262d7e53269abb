//! The never-matches analysis: true positives (the seed's pitfall and its
//! relatives), the OR it suggests, and no false alarms on rules that can
//! match.

use loupe_alerts::{analyse, from_yaml, to_yaml, Condition, Signal};

fn cond(yaml: &str) -> Condition {
    serde_norway::from_str(yaml).unwrap()
}

fn never(yaml: &str) -> bool {
    analyse(Some(&cond(yaml)), Signal::Traces).never_matches
}

/// The seed's bad example: status failed, namespace `company.product`
/// (prefix) and the flow `cleanup` in `company.system`, all under one AND.
const SEED_BAD: &str = "all:
- field: span.status
  op: equals
  value: error
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
fn the_seeds_pitfall_is_caught_and_the_or_offered() {
    let a = analyse(Some(&cond(SEED_BAD)), Signal::Traces);
    assert!(a.never_matches);
    assert_eq!(a.findings.len(), 1);
    let f = &a.findings[0];
    assert!(f.path.is_empty());
    assert_eq!(
        f.conflicts,
        vec![
            "kestra.namespace prefix company.product",
            "kestra.namespace equals company.system"
        ]
    );
    assert!(f.message.contains("OR"), "{}", f.message);
    // The suggestion is the seed's good example: status AND (product OR cleanup-in-system).
    let want = cond(
        "all:
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
",
    );
    assert_eq!(f.suggestion, want);
    let again = analyse(Some(&f.suggestion), Signal::Traces);
    assert!(!again.never_matches && again.findings.is_empty());
}

#[test]
fn true_positives() {
    let cases = [
        // equals two different values
        "all:\n- {field: service, op: equals, value: a}\n- {field: service, op: equals, value: b}\n",
        // ranges that do not overlap
        "all:\n- {field: span.duration, op: gt, value: 2s}\n- {field: span.duration, op: lt, value: 1s}\n",
        // touching open ranges
        "all:\n- {field: http.status, op: gt, value: 500}\n- {field: http.status, op: lt, value: 500}\n",
        // equals outside a range
        "all:\n- {field: http.status, op: equals, value: 200}\n- {field: http.status, op: gte, value: 500}\n",
        // prefixes that diverge
        "all:\n- {field: ns, op: prefix, value: company.a}\n- {field: ns, op: prefix, value: company.b}\n",
        // equals and not_equals of the same value
        "all:\n- {field: ns, op: equals, value: x}\n- {field: ns, op: not_equals, value: x}\n",
        // exists and not exists
        "all:\n- {field: ns, op: exists}\n- not: {field: ns, op: exists}\n",
        // not exists and a value
        "all:\n- {field: ns, op: contains, value: x}\n- not: {field: ns, op: exists}\n",
        // equals against contains / regex
        "all:\n- {field: ns, op: equals, value: abc}\n- {field: ns, op: contains, value: z}\n",
        "all:\n- {field: ns, op: equals, value: abc}\n- {field: ns, op: regex, value: '^x'}\n",
        // status equals two values (case does not matter for status)
        "all:\n- {field: span.status, op: equals, value: error}\n- {field: span.status, op: equals, value: OK}\n",
        // nested: an OR both of whose branches are contradictory
        "any:\n- all:\n  - {field: a, op: equals, value: '1'}\n  - {field: a, op: equals, value: '2'}\n- all:\n  - {field: b, op: gt, value: 5}\n  - {field: b, op: lt, value: 3}\n",
    ];
    for c in cases {
        assert!(never(c), "should never match:\n{c}");
    }
}

#[test]
fn no_false_alarms_on_satisfiable_rules() {
    let cases = [
        "all:\n- {field: service, op: equals, value: a}\n- {field: span.name, op: equals, value: b}\n",
        "any:\n- {field: ns, op: equals, value: a}\n- {field: ns, op: equals, value: b}\n",
        "all:\n- {field: ns, op: prefix, value: company}\n- {field: ns, op: prefix, value: company.product}\n",
        "all:\n- {field: ns, op: prefix, value: company.}\n- {field: ns, op: equals, value: company.system}\n",
        "all:\n- {field: d, op: gte, value: 5}\n- {field: d, op: lte, value: 5}\n",
        "all:\n- {field: d, op: gt, value: 1}\n- {field: d, op: lt, value: 2}\n",
        "all:\n- {field: ns, op: not_equals, value: a}\n- {field: ns, op: not_equals, value: b}\n",
        "all:\n- {field: ns, op: not_equals, value: a}\n- not: {field: ns, op: exists}\n",
        "all:\n- {field: ns, op: equals, value: abc}\n- {field: ns, op: regex, value: '^a'}\n",
        "all:\n- {field: ns, op: contains, value: a}\n- {field: ns, op: contains, value: b}\n",
        "all:\n- {field: ns, op: regex, value: '^a'}\n- {field: ns, op: regex, value: '^b'}\n",
        // same value spelled as number and text compares as text: equal
        "all:\n- {field: code, op: equals, value: 500}\n- {field: code, op: equals, value: '500'}\n",
        // different fields with the same values
        "all:\n- {field: a, op: equals, value: x}\n- {field: b, op: equals, value: y}\n",
        // a negated group is not second-guessed
        "all:\n- {field: a, op: equals, value: x}\n- not:\n    all:\n    - {field: a, op: equals, value: x}\n    - {field: b, op: equals, value: y}\n",
        // one contradictory branch of an OR does not make the rule dead
        "any:\n- all:\n  - {field: a, op: equals, value: '1'}\n  - {field: a, op: equals, value: '2'}\n- {field: b, op: exists}\n",
        // the seed's good example
        "all:\n- any:\n  - {field: span.status, op: equals, value: error}\n  - {field: kestra.state, op: equals, value: WARNING}\n- any:\n  - {field: kestra.namespace, op: prefix, value: company.product}\n  - all:\n    - {field: kestra.flowId, op: equals, value: cleanup}\n    - {field: kestra.namespace, op: equals, value: company.system}\n",
    ];
    for c in cases {
        let a = analyse(Some(&cond(c)), Signal::Traces);
        assert!(!a.never_matches, "false alarm:\n{c}\n{a:?}");
    }
    // The contradictory OR branch is still pointed out.
    let a = analyse(Some(&cond(cases[14])), Signal::Traces);
    assert_eq!(a.findings.len(), 1);
    assert_eq!(a.findings[0].path, vec![0]);
}

#[test]
fn analysis_of_a_full_rule() {
    let text = format!("name: bad\nsignal: traces\nwhen:\n{}", indent(SEED_BAD));
    let rule = from_yaml(&text).unwrap();
    assert_eq!(to_yaml(&rule), text);
    assert!(analyse(rule.when.as_ref(), rule.signal).never_matches);
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// The seed's bad example as a user types it in the editor: four
/// predicates in one flat AND. The conflict is between the two namespace
/// predicates, but the OR the seed means is over whole branches: the
/// cleanup flow belongs with `company.system`, the status with both.
const SEED_FLAT: &str = "all:
- {field: span.status, op: equals, value: error}
- {field: kestra.namespace, op: prefix, value: company.product}
- {field: kestra.flowId, op: equals, value: cleanup}
- {field: kestra.namespace, op: equals, value: company.system}
";

mod by_meaning {
    use loupe_alerts::eval::{Matcher, SpanItem};
    use loupe_alerts::{Condition, Rule};
    use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    /// One execution: a span of trace `id` in namespace `ns`, flow `flow`.
    fn execution(id: &str, ns: &str, flow: &str, failed: bool) -> SpanItem {
        SpanItem {
            trace_id: id.into(),
            span_id: "01".into(),
            name: "EXECUTOR - io.kestra.core.runners.Executor".into(),
            kind: 1,
            status: if failed { 2 } else { 1 },
            start_ns: 1,
            end_ns: 2,
            attributes: vec![kv("kestra.namespace", ns), kv("kestra.flowId", flow)],
            resource: vec![kv("service.name", "kestra")],
        }
    }

    /// The executions a condition matches, by trace ID, as a backtest
    /// would find them.
    pub fn matched(when: &Condition) -> Vec<String> {
        let yaml = format!(
            "name: failures\nsignal: traces\nwhen:\n{}",
            serde_norway::to_string(when)
                .unwrap()
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        let rule: Rule = loupe_alerts::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let spans = vec![
            execution(
                "product-billing-failed",
                "company.product.billing",
                "invoice",
                true,
            ),
            execution("product-cleanup-failed", "company.product", "cleanup", true),
            execution("product-ok", "company.product.billing", "invoice", false),
            execution("system-cleanup-failed", "company.system", "cleanup", true),
            execution("system-cleanup-ok", "company.system", "cleanup", false),
            execution("system-backup-failed", "company.system", "backup", true),
            execution("team-cleanup-failed", "company.team", "cleanup", true),
        ];
        let m = Matcher::new(&rule).unwrap();
        let mut ids: Vec<String> = m
            .span_matches(&spans)
            .into_iter()
            .map(|m| m.evidence.trace_id.unwrap_or_default())
            .collect();
        ids.sort();
        ids
    }
}

/// Regression (issue 18): "Use OR instead" on the flat seed rule put the
/// OR only between the two namespace predicates and left `flowId =
/// cleanup` under the AND, so the "fixed" rule matched 1 execution of 4.
/// Checked by meaning: the fix matches every failed execution in
/// `company.product*` and every failed `cleanup` in `company.system`, and
/// nothing else.
#[test]
fn the_flat_seed_rule_is_fixed_into_an_or_of_whole_branches() {
    let before = cond(SEED_FLAT);
    assert!(
        by_meaning::matched(&before).is_empty(),
        "the AND never matches"
    );
    let a = analyse(Some(&before), Signal::Traces);
    assert!(a.never_matches);
    let f = &a.findings[0];
    assert_eq!(
        by_meaning::matched(&f.suggestion),
        vec![
            "product-billing-failed",
            "product-cleanup-failed",
            "system-cleanup-failed"
        ],
        "{}",
        serde_norway::to_string(&f.suggestion).unwrap()
    );
    let again = analyse(Some(&f.suggestion), Signal::Traces);
    assert!(!again.never_matches && again.findings.is_empty());
    // The plain OR (what the editor used to apply) is still offered, as an
    // alternative: it matches only the failed cleanups.
    assert!(
        f.alternatives.iter().any(|alt| by_meaning::matched(alt)
            == vec!["product-cleanup-failed", "system-cleanup-failed"]),
        "{:?}",
        f.alternatives
    );
}
