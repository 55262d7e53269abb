//! Hostile metric data through the alert evaluator (`series_from_otlp` →
//! `aggregate` → `step_metric`, and the backtest): whatever the stored
//! points hold (`u64::MAX` counts, NaN and ±Inf, bucket counts that do not
//! match the bounds, thousands of buckets, extreme times, any metric
//! type), nothing panics and every aggregate is finite or a gap. The points
//! are the charts' hostile points (`support/hostile_points.rs` there).

use loupe_alerts::eval::Matcher;
use loupe_alerts::from_yaml;
use loupe_alerts::metric::{
    aggregate, backtest_metric, series_from_otlp, step_metric, Point, PointValue, Series,
};
use proptest::collection::vec;
use proptest::prelude::*;

#[path = "../../charts/tests/support/hostile_points.rs"]
mod points;

use points::*;

const AGGREGATES: [&str; 9] = [
    "avg", "min", "max", "sum", "count", "rate", "p0", "p50", "p100",
];

fn rule(agg: &str) -> loupe_alerts::Rule {
    from_yaml(&format!(
        "name: m\nsignal: metrics\nmetric:\n  name: m\n  aggregate: {agg}\n  window: 1m\n  op: gt\n  threshold: 0\ngroup_by: [k]\n"
    ))
    .expect("rule")
}

/// Every aggregate of `series` at `now`, through the state machine.
fn evaluate(series: &[Series], now: u64) {
    for agg in AGGREGATES {
        let rule = rule(agg);
        let m = Matcher::new(&rule).expect("matcher");
        let values = aggregate(&rule, &m, series, now);
        for (_, _, v) in &values {
            assert!(v.is_none_or(f64::is_finite), "{agg}: {v:?}");
        }
        step_metric(&rule, &[], &values, now);
    }
}

#[test]
fn histogram_counts_that_do_not_match_bounds_do_not_panic() {
    // `bounds[i - 1]` indexed past the bounds when a point had more counts
    // than bounds + 1; `+=` overflowed with u64::MAX counts.
    let h = |bounds: Vec<f64>, counts: Vec<u64>, count: u64| Point {
        time_ns: T0,
        value: PointValue::Histogram {
            count,
            sum: f64::NAN,
            bounds,
            counts,
        },
    };
    let series = vec![Series {
        points: vec![
            h(vec![], vec![1, 2, 3], 6),
            h(vec![1.0], vec![u64::MAX, u64::MAX], u64::MAX),
            h(vec![1.0], vec![u64::MAX, u64::MAX], u64::MAX),
            h(vec![f64::NAN, f64::INFINITY], vec![0, 0, 5], 5),
            h(vec![0.0; 5000], vec![1; 5001], 5001),
        ],
        ..Default::default()
    }];
    evaluate(&series, T0 + S);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_points_evaluate_without_panic(data in vec(data(), 1..3), now in time()) {
        let series = series_from_otlp(&request(data.into_iter().map(metric).collect()));
        evaluate(&series, now);
        backtest_metric(&rule("p50"), &series, T0, T0 + 60 * S, 10 * S);
    }
}
