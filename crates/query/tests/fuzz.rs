//! Fuzzing the query language (proptest, stable Rust): `q=` expressions,
//! `attr=` conditions, times, durations and every endpoint's parameters,
//! from arbitrary text, mutated valid queries and generated nesting. No
//! input may panic or recurse without bound; every error names its
//! parameter. Long run: `LOUPE_FUZZ_CASES=100000 cargo test -p loupe-query
//! --test fuzz --release` (docs/fuzzing.md).

#[path = "../../otlp/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{config, mutated_text};
use loupe_query::{
    chart_query, log_query, metric_filter, metric_range, parse_duration, parse_expr, parse_time,
    trace_query, MAX_EXPR_DEPTH, MAX_EXPR_LEN,
};
use proptest::prelude::*;

const EXPRESSIONS: &[&str] = &[
    r#"kestra.namespace = "company.team" and (a >= 5 OR not b)"#,
    r#"service=kestra AND name="EXECUTOR - x" OR scope != "y""#,
    "NOT (a < 1.5e3 OR b <= -2) AND c",
    r#"msg="say \"hi\"" AND url=http://x/a?b"#,
    "((((a))))",
    "linked_from(span.status = error) AND links_to(linked(kestra.flowId = x))",
];

/// Nesting made of the grammar's two recursive forms, `(…)` and `NOT`.
fn nested() -> impl Strategy<Value = (usize, String)> {
    proptest::collection::vec(any::<bool>(), 0..(MAX_EXPR_DEPTH * 2)).prop_map(|levels| {
        let mut open = String::new();
        let mut close = String::new();
        for paren in &levels {
            if *paren {
                open.push('(');
                close.push(')');
            } else {
                open.push_str("NOT ");
            }
        }
        (levels.len(), format!("{open}a=1{close}"))
    })
}

fn check_expr(s: &str) -> Result<(), TestCaseError> {
    match parse_expr(s) {
        Ok(_) => prop_assert!(s.len() <= MAX_EXPR_LEN),
        Err(e) => {
            prop_assert!(e.position <= s.chars().count(), "{e:?} for {s:?}");
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

const NAMES: &[&str] = &[
    "q",
    "attr",
    "service",
    "spanName",
    "errors",
    "minDuration",
    "maxDuration",
    "start",
    "end",
    "limit",
    "traceId",
    "spanId",
    "minSeverity",
    "text",
    "width",
    "height",
    "split",
    "agg",
    "quantiles",
    "tz",
    "hide",
    "name",
    "bogus",
];

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            proptest::sample::select(NAMES).prop_map(str::to_string),
            mutated_text(
                &[
                    "now-15m", "1.5s", "a=b", "x>=3", "10", "error", "0.5,0.9", "-60", "1,3", "max",
                ],
                3,
            ),
        ),
        0..8,
    )
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn expressions_never_panic(s in mutated_text(EXPRESSIONS, 8)) {
        check_expr(&s)?;
    }

    /// Nesting up to the limit parses; one level more is the limit's error.
    #[test]
    fn nesting_is_bounded_before_recursion((depth, s) in nested()) {
        match parse_expr(&s) {
            Ok(_) => prop_assert!(depth <= MAX_EXPR_DEPTH),
            Err(e) => {
                prop_assert!(depth > MAX_EXPR_DEPTH, "{e:?}");
                prop_assert!(e.message.contains("limit of 64 levels"), "{e:?}");
            }
        }
    }

    #[test]
    fn endpoint_parameters_never_panic(p in params()) {
        for r in [
            trace_query(&p).map(|_| ()),
            log_query(&p).map(|_| ()),
            chart_query(&p).map(|_| ()),
            metric_filter(&p).map(|_| ()),
            metric_range(&p).map(|_| ()),
        ] {
            if let Err(e) = r {
                prop_assert!(NAMES.contains(&e.param.as_str()), "{e:?}");
            }
        }
    }

    #[test]
    fn times_and_durations_never_panic(s in mutated_text(&["now-1.5h", "2026-11-21T10:00:00Z", "1795292630566439909", "250ms", "1d"], 4)) {
        let _ = parse_time(&s);
        let _ = parse_duration(&s);
    }
}

/// What the issue's `<img src>` sent, through every parser that takes it.
#[test]
fn ten_thousand_levels_are_a_limit_error() {
    for s in [
        format!("{}a=1{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}a", "NOT ".repeat(10_000)),
        "(".repeat(10_000),
    ] {
        let e = parse_expr(&s).unwrap_err();
        assert!(e.message.contains("limit of"), "{e:?}");
        let p = vec![("q".to_string(), s.clone())];
        assert_eq!(trace_query(&p).unwrap_err().param, "q");
        assert_eq!(log_query(&p).unwrap_err().param, "q");
    }
    // Within the length limit, depth is what stops it.
    let s = "NOT ".repeat(MAX_EXPR_LEN / 4 - 1) + "a";
    assert!(parse_expr(&s).unwrap_err().message.contains("64 levels"));
}
