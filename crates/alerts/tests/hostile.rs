//! Hostile metric data through the alert evaluator (`series_from_otlp` →
//! `aggregate` → `step_metric`, and the backtest): whatever the stored
//! points hold (`u64::MAX` counts, NaN and ±Inf, bucket counts that do not
//! match the bounds, thousands of buckets, extreme times), nothing panics
//! and every aggregate is finite or a gap.

use loupe_alerts::eval::{
    aggregate, backtest_metric, series_from_otlp, step_metric, Matcher, Point, PointValue, Series,
};
use loupe_alerts::from_yaml;
use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::{
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Summary,
    SummaryDataPoint,
};
use loupe_model::otlp::ExportMetricsServiceRequest;
use proptest::collection::vec;
use proptest::prelude::*;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_795_255_200 * S;

const AGGREGATES: [&str; 9] = [
    "avg", "min", "max", "sum", "count", "rate", "p0", "p50", "p100",
];

fn rule(agg: &str) -> loupe_alerts::Rule {
    from_yaml(&format!(
        "name: m\nsignal: metrics\nmetric:\n  name: q\n  aggregate: {agg}\n  window: 1m\n  op: gt\n  threshold: 0\ngroup_by: [k]\n"
    ))
    .expect("rule")
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
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

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(1), Just(u64::MAX), 0u64..100, any::<u64>()]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN),
        -1e3..1e3f64,
        any::<f64>(),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => T0..T0 + 60 * S,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

fn counts() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        8 => vec(count(), 0..12),
        1 => (count(), 0usize..5000).prop_map(|(c, n)| vec![c; n]),
    ]
}

fn bounds() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        vec(float(), 0..12),
        (0usize..3000).prop_map(|n| (0..n).map(|i| i as f64).collect()),
    ]
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    (0u8..4).prop_map(|i| vec![kv("k", &i.to_string())])
}

fn data() -> impl Strategy<Value = Data> {
    let hist = (
        time(),
        bounds(),
        counts(),
        count(),
        attrs(),
        proptest::option::of(float()),
    )
        .prop_map(
            |(t, bounds, counts, count, attributes, sum)| HistogramDataPoint {
                attributes,
                time_unix_nano: t,
                count,
                sum,
                bucket_counts: counts,
                explicit_bounds: bounds,
                ..Default::default()
            },
        );
    let summary = (
        time(),
        vec((float(), float()), 0..8),
        count(),
        attrs(),
        float(),
    )
        .prop_map(|(t, qs, count, attributes, sum)| SummaryDataPoint {
            attributes,
            time_unix_nano: t,
            count,
            sum,
            quantile_values: qs
                .into_iter()
                .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            ..Default::default()
        });
    let number = (
        time(),
        prop_oneof![
            float().prop_map(number_data_point::Value::AsDouble),
            any::<i64>().prop_map(number_data_point::Value::AsInt),
        ],
        attrs(),
    )
        .prop_map(|(t, v, attributes)| NumberDataPoint {
            attributes,
            time_unix_nano: t,
            value: Some(v),
            ..Default::default()
        });
    prop_oneof![
        vec(hist, 0..6).prop_map(|data_points| Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: 1
        })),
        vec(summary, 0..6).prop_map(|data_points| Data::Summary(Summary { data_points })),
        vec(number, 0..8).prop_map(|data_points| Data::Gauge(Gauge { data_points })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_points_evaluate_without_panic(data in vec(data(), 1..3), now in time()) {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: data
                        .into_iter()
                        .map(|d| Metric { name: "q".into(), data: Some(d), ..Default::default() })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let series = series_from_otlp(&req);
        evaluate(&series, now);
        backtest_metric(&rule("p50"), &series, T0, T0 + 60 * S, 10 * S);
    }
}
