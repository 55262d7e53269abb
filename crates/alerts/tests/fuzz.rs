//! Fuzzing rule text (proptest, stable Rust): the YAML of one rule and of
//! rule files, and rules as JSON (the editor's tree), from arbitrary text,
//! mutated valid rules and generated condition trees. No input may panic;
//! what parses is within the size limits, renders back to YAML that parses
//! to the same rule, and can be analysed and compiled. Long run:
//! `LOUPE_FUZZ_CASES=100000 cargo test -p loupe-alerts --test fuzz
//! --release` (docs/fuzzing.md).

#[path = "../../otlp/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{config, mutated_text, peak_memory, Counting};
use loupe_alerts::condition::{MAX_CONDITION_DEPTH, MAX_CONDITION_NODES};
use loupe_alerts::eval::Matcher;
use loupe_alerts::rule::{file_from_yaml, MAX_RULE_YAML_BYTES};
use loupe_alerts::{analyse, from_yaml, to_yaml, Condition, Op, Rule, Scalar};
use proptest::prelude::*;

#[global_allocator]
static ALLOC: Counting = Counting;

const RULES: &[&str] = &[
    "name: failed
signal: traces
when:
  all:
  - any:
    - {field: span.status, op: equals, value: error}
    - {field: kestra.state, op: equals, value: WARNING}
  - not: {field: kestra.namespace, op: prefix, value: company.}
keep_firing: 5m
notify: [slack]
",
    "name: slow
signal: metrics
metric: {name: http.server.duration, aggregate: p99, window: 5m, op: gt, threshold: 2.5}
for: 1m
group_by: [service.name]
",
    "rules:
- name: a
  signal: logs
  when: {field: log.body, op: regex, value: 'pay(ment)?\\s+refused'}
- name: b
  signal: spans
  when: {all: [{field: n, op: gte, value: 3}, {field: n, op: lt, value: 2}]}
",
    "x: &a [*a, *a]\n",
];

/// Whatever parsed must hold together: canonical YAML round-trips, the
/// analysis and the matcher accept it.
fn check_rule(r: &Rule) -> Result<(), TestCaseError> {
    if let Some(c) = &r.when {
        prop_assert!(c.check_size().is_ok());
    }
    let yaml = to_yaml(r);
    let back = from_yaml(&yaml).map_err(|e| TestCaseError::fail(format!("{e}: {yaml}")))?;
    // NaN never equals itself; compare the canonical text instead.
    prop_assert_eq!(to_yaml(&back), yaml);
    let _ = analyse(r.when.as_ref(), r.signal);
    prop_assert!(Matcher::new(r).is_ok());
    Ok(())
}

fn pred() -> impl Strategy<Value = Condition> {
    (
        proptest::sample::select(vec![
            "service",
            "span.name",
            "span.status",
            "span.duration",
            "log.severity",
            "log.body",
            "resource.x",
            "a",
        ]),
        proptest::sample::select(vec![
            Op::Equals,
            Op::NotEquals,
            Op::Prefix,
            Op::Contains,
            Op::Regex,
            Op::Exists,
            Op::Gt,
            Op::Lte,
        ]),
        prop_oneof![
            any::<i64>().prop_map(Scalar::Int),
            any::<f64>().prop_map(Scalar::Float),
            any::<bool>().prop_map(Scalar::Bool),
            ".{0,12}".prop_map(Scalar::Str),
        ],
    )
        .prop_map(|(f, op, v)| Condition::pred(f, op, (op != Op::Exists).then_some(v)))
}

/// Trees up to twice the depth limit.
fn tree() -> impl Strategy<Value = Condition> {
    pred().prop_recursive((MAX_CONDITION_DEPTH * 2) as u32, 256, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|all| Condition::All { all }),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|any| Condition::Any { any }),
            inner.prop_map(|c| Condition::Not { not: Box::new(c) }),
        ]
    })
}

fn depth(c: &Condition) -> usize {
    match c {
        Condition::All { all: v } | Condition::Any { any: v } => {
            1 + v.iter().map(depth).max().unwrap_or(0)
        }
        Condition::Not { not } => 1 + depth(not),
        Condition::Pred(_) => 1,
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn rule_yaml_never_panics(text in mutated_text(RULES, 8)) {
        let (r, peak) = peak_memory(|| from_yaml(&text));
        prop_assert!(peak <= 64 * text.len() + (1 << 20), "{peak} bytes for {} bytes", text.len());
        if let Ok(rule) = r {
            check_rule(&rule)?;
        }
        if let Ok(rules) = file_from_yaml(&text) {
            for r in &rules {
                check_rule(r)?;
            }
        }
    }

    #[test]
    fn rule_json_never_panics(text in mutated_text(&[
        r#"{"name":"x","signal":"spans","when":{"all":[{"field":"a","op":"exists"},{"not":{"field":"b","op":"equals","value":1}}]}}"#,
    ], 8)) {
        if let Ok(r) = serde_json::from_str::<Rule>(&text) {
            if r.validate().is_ok() {
                check_rule(&r)?;
            }
        }
    }

    /// Generated trees: within the limits they are accepted (or refused
    /// for what they say, never for their shape), beyond them refused by
    /// name, before anything recursed over them.
    #[test]
    fn condition_trees_are_bounded(c in tree()) {
        let rule = Rule {
            name: "t".into(),
            description: String::new(),
            enabled: true,
            signal: loupe_alerts::Signal::Spans,
            when: Some(c.clone()),
            query: None,
            metric: None,
            group_by: Vec::new(),
            pending: Default::default(),
            keep_firing: Default::default(),
            notify: Vec::new(),
            send_resolved: false,
        };
        match c.check_size() {
            Ok(()) => prop_assert!(depth(&c) <= MAX_CONDITION_DEPTH),
            Err(e) => {
                prop_assert!(e.contains("limit of"), "{}", e);
                let err = rule.validate().expect_err("refused").message;
                prop_assert!(err.contains("limit of"), "{}", err);
            }
        }
        if rule.validate().is_ok() {
            check_rule(&rule)?;
        }
    }
}

/// The YAML forms of deep nesting, and text over the size limit.
#[test]
fn deep_and_large_rule_text_is_refused_by_name() {
    let pred = "{field: a, op: exists}";
    for n in [MAX_CONDITION_DEPTH, 200, 10_000] {
        for yaml in [
            format!(
                "name: d\nsignal: spans\nwhen: {}{pred}{}\n",
                "{not: ".repeat(n),
                "}".repeat(n)
            ),
            format!(
                "name: d\nsignal: spans\nwhen: {}{pred}{}\n",
                "{any: [".repeat(n),
                "]}".repeat(n)
            ),
        ] {
            let e = from_yaml(&yaml).unwrap_err();
            assert!(
                e.message.contains("limit of 32 levels") || e.message.contains("recursion limit"),
                "{n}: {e}"
            );
            assert!(file_from_yaml(&yaml).is_err());
        }
    }
    let ok = format!(
        "name: d\nsignal: spans\nwhen: {}{pred}{}\n",
        "{not: ".repeat(MAX_CONDITION_DEPTH - 1),
        "}".repeat(MAX_CONDITION_DEPTH - 1)
    );
    from_yaml(&ok).expect("within the limit");
    let wide = format!(
        "name: w\nsignal: spans\nwhen: {{all: [{}]}}\n",
        vec![pred; MAX_CONDITION_NODES].join(", ")
    );
    assert!(from_yaml(&wide)
        .unwrap_err()
        .message
        .contains("limit of 1000"));
    let big = format!(
        "name: big\nsignal: spans\ndescription: {}\n",
        "x".repeat(MAX_RULE_YAML_BYTES)
    );
    assert!(from_yaml(&big)
        .unwrap_err()
        .message
        .contains("limit of 1048576 bytes"));
    assert!(file_from_yaml(&big).is_err());
}

/// Many small contradictory ANDs: each finding copies the whole tree, so
/// their number is capped (this was quadratic in the rule's size).
#[test]
fn contradiction_findings_are_capped() {
    let and = "{all: [{field: a, op: equals, value: 1}, {field: a, op: equals, value: 2}]}";
    let yaml = format!(
        "name: many\nsignal: spans\nwhen: {{any: [{}]}}\n",
        vec![and; 300].join(", ")
    );
    let rule = from_yaml(&yaml).expect("valid");
    let a = analyse(rule.when.as_ref(), rule.signal);
    assert!(a.never_matches);
    assert_eq!(a.findings.len(), loupe_alerts::analysis::MAX_FINDINGS);
}
