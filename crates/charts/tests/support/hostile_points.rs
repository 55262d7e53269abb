//! Hostile metric points for the property tests of everything that reads
//! stored metrics (charts, alert evaluation): offsets across all of `i32`,
//! any scale, `u64::MAX` counts, NaN and ±Inf, mismatched or huge bucket
//! lists, extreme times. One generator, so that a shape that breaks one
//! reader is tried on every reader. Included with `#[path]`, like the
//! fuzz tests' `fuzz_support`.

#![allow(dead_code)]

use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, Summary, SummaryDataPoint,
};
use loupe_model::otlp::ExportMetricsServiceRequest;
use proptest::collection::vec;
use proptest::prelude::*;

pub const S: u64 = 1_000_000_000;
/// Most generated times fall in the 100 seconds after this.
pub const T0: u64 = 1_795_255_200 * S;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A metric named `m`.
pub fn metric(data: Data) -> Metric {
    Metric {
        name: "m".into(),
        data: Some(data),
        ..Default::default()
    }
}

/// One side of an exponential histogram: offset and counts.
pub type Side = (i32, Vec<u64>);

pub fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX / 2 + 1),
        0u64..100,
        any::<u64>(),
    ]
}

pub fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        -1e3..1e3f64,
        any::<f64>(),
    ]
}

pub fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => T0..T0 + 100 * S,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

pub fn offset() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(i32::MIN),
        Just(i32::MAX),
        Just(i32::MAX - 1),
        Just(1 << 29),
        Just(-(1 << 29)),
        -300..300i32,
        any::<i32>(),
    ]
}

pub fn scale() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -12..=22i32,
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
        1 => any::<i32>(),
    ]
}

/// Bucket counts: usually a few arbitrary ones, sometimes up to 5000 equal
/// ones (cheap to generate, and the length is what matters).
pub fn counts() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        8 => vec(count(), 0..40),
        1 => (count(), 0usize..5000).prop_map(|(c, n)| vec![c; n]),
    ]
}

pub fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    (0u8..4).prop_map(|i| vec![kv("k", &i.to_string())])
}

/// One side's buckets as OTLP writes them.
pub fn side((offset, bucket_counts): Side) -> Option<Buckets> {
    Some(Buckets {
        offset,
        bucket_counts,
    })
}

pub fn exp_points() -> impl Strategy<Value = Vec<ExponentialHistogramDataPoint>> {
    vec(
        (
            time(),
            time(),
            scale(),
            count(),
            (offset(), counts()),
            (offset(), counts()),
            attrs(),
            proptest::option::of(float()),
        )
            .prop_map(|(t, start, scale, zero, pos, neg, attributes, sum)| {
                ExponentialHistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    scale,
                    zero_count: zero,
                    sum,
                    min: sum,
                    max: sum,
                    positive: side(pos),
                    negative: side(neg),
                    ..Default::default()
                }
            }),
        0..6,
    )
}

pub fn bounds() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        vec(float(), 0..12),
        (0usize..3000).prop_map(|n| (0..n).map(|i| i as f64).collect()),
        Just(vec![f64::NEG_INFINITY, 0.0, f64::INFINITY]),
    ]
}

pub fn explicit_points() -> impl Strategy<Value = Vec<HistogramDataPoint>> {
    vec(
        (
            time(),
            time(),
            bounds(),
            counts(),
            count(),
            attrs(),
            proptest::option::of(float()),
        )
            .prop_map(|(t, start, bounds, counts, count, attributes, sum)| {
                HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    count,
                    sum,
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    ..Default::default()
                }
            }),
        0..6,
    )
}

pub fn summary_points() -> impl Strategy<Value = Vec<SummaryDataPoint>> {
    vec(
        (
            time(),
            vec((float(), float()), 0..10),
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
            }),
        0..6,
    )
}

pub fn number_points() -> impl Strategy<Value = Vec<NumberDataPoint>> {
    let value = prop_oneof![
        float().prop_map(number_data_point::Value::AsDouble),
        any::<i64>().prop_map(number_data_point::Value::AsInt),
    ];
    vec(
        (time(), time(), proptest::option::of(value), attrs()).prop_map(
            |(t, start, value, attributes)| NumberDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: t,
                value,
                ..Default::default()
            },
        ),
        0..8,
    )
}

/// Points of any metric type, any temporality.
pub fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        3 => (exp_points(), 0..3i32).prop_map(|(data_points, t)| Data::ExponentialHistogram(
            ExponentialHistogram { data_points, aggregation_temporality: t }
        )),
        2 => (explicit_points(), 0..3i32).prop_map(|(data_points, t)| Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: t
        })),
        1 => summary_points().prop_map(|data_points| Data::Summary(Summary { data_points })),
        1 => number_points().prop_map(|data_points| Data::Gauge(Gauge { data_points })),
        1 => (number_points(), 0..3i32, any::<bool>()).prop_map(|(data_points, t, m)| Data::Sum(Sum {
            data_points,
            aggregation_temporality: t,
            is_monotonic: m
        })),
    ]
}
