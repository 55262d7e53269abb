//! Hostile metric data through the whole chart path (select → render →
//! distribution → JSON), as the chart endpoint runs it: whatever the stored
//! points hold (offsets across all of `i32`, any scale, `u64::MAX` counts,
//! NaN and ±Inf, mismatched or huge bucket lists, extreme times), nothing
//! panics and the answer stays within the documented caps. The data here
//! bypasses the receiver's validation on purpose: imports and databases
//! written before the caps reach the charts the same way.
//!
//! Named regression tests reproduce the attacks of issue 12.

use std::time::Instant;

use loupe_charts::math::{ExpBuckets, ExpHistogram, MAX_BUCKETS_PER_SIDE};
use loupe_charts::render::{render_distribution, MAX_CHART_POINTS};
use loupe_charts::select::{
    MAX_DISTRIBUTION_BUCKETS, MAX_KEYS, MAX_LABEL_CHARS, MAX_SERIES, MAX_VALUES_PER_KEY,
};
use loupe_charts::{render, select, Aggregate, Frame, Selection};
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

const S: u64 = 1_000_000_000;
const T0: u64 = 1_795_255_200 * S;

/// The largest answer the caps allow, in bytes (JSON with both SVGs): about
/// 100k points at under 100 bytes each (JSON and SVG), plus labels, keys
/// and the distribution.
const MAX_ANSWER_BYTES: usize = 16 << 20;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
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

fn metric(data: Data) -> Metric {
    Metric {
        name: "m".into(),
        data: Some(data),
        ..Default::default()
    }
}

/// What the chart endpoint does with a metric's points, and the checks on
/// its answer. Returns the answer's size in bytes.
fn chart_answer(req: &ExportMetricsServiceRequest, sel: &Selection, frame: &Frame) -> usize {
    let plot = select(req, "m", sel);
    assert!(
        plot.series.len() <= MAX_SERIES,
        "{} series",
        plot.series.len()
    );
    assert!(plot.keys.len() <= MAX_KEYS);
    for (k, v) in &plot.values {
        assert!(v.len() <= MAX_VALUES_PER_KEY, "{k}");
        assert!(v.iter().all(|v| v.chars().count() <= MAX_LABEL_CHARS + 1));
    }
    for s in &plot.series {
        assert!(s.label.chars().count() <= MAX_LABEL_CHARS + 1);
    }
    let chart = render(&plot, frame).expect("a valid frame draws");
    let points: usize = chart.series.iter().map(|s| s.points.len()).sum();
    assert!(points <= MAX_CHART_POINTS, "{points} points");
    let mut bytes = serde_json::to_vec(&chart).expect("json").len();
    if let Some(buckets) = &plot.distribution {
        assert!(
            buckets.len() <= MAX_DISTRIBUTION_BUCKETS,
            "{} buckets",
            buckets.len()
        );
        let svg = render_distribution(buckets, frame.width, frame.height).expect("draws");
        bytes += svg.len() + serde_json::to_vec(buckets).expect("json").len();
    }
    assert!(bytes <= MAX_ANSWER_BYTES, "{bytes} bytes");
    bytes
}

fn window(start: u64, end: u64) -> (Selection, Frame) {
    let sel = Selection {
        columns: 730,
        ..Selection::new(start, end)
    };
    let frame = Frame {
        start,
        end,
        width: 800,
        height: 260,
        utc_offset_s: 0,
        hidden: Vec::new(),
    };
    (sel, frame)
}

fn exp_point(
    t: u64,
    scale: i32,
    pos: (i32, Vec<u64>),
    neg: (i32, Vec<u64>),
) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        time_unix_nano: t,
        start_time_unix_nano: T0 - S,
        scale,
        count: 1,
        positive: Some(Buckets {
            offset: pos.0,
            bucket_counts: pos.1,
        }),
        negative: Some(Buckets {
            offset: neg.0,
            bucket_counts: neg.1,
        }),
        ..Default::default()
    }
}

fn exp_metric(points: Vec<ExponentialHistogramDataPoint>, temporality: i32) -> Metric {
    metric(Data::ExponentialHistogram(ExponentialHistogram {
        data_points: points,
        aggregation_temporality: temporality,
    }))
}

// ---- Regression tests: the attacks of issue 12 -------------------------

#[test]
fn exp_histogram_offset_near_i32_min_does_not_panic() {
    // Positive buckets ending past i32::MAX and negative ones at i32::MIN:
    // `offset + i as i32` overflowed and sizes went negative
    // ("capacity overflow").
    let req = request(vec![exp_metric(
        vec![
            exp_point(T0, 0, (i32::MAX - 1, vec![1, 2, 3]), (i32::MIN, vec![4, 5])),
            exp_point(T0 + S, 3, (i32::MIN, vec![1; 3]), (i32::MAX, vec![7])),
            exp_point(
                T0 + 2 * S,
                20,
                (i32::MAX, vec![u64::MAX, u64::MAX]),
                (0, vec![]),
            ),
        ],
        1, // delta
    )]);
    let (sel, frame) = window(T0 - S, T0 + 10 * S);
    chart_answer(&req, &sel, &frame);
    // Cumulative too (differencing aligns indices across points).
    let req = request(vec![exp_metric(
        vec![
            exp_point(T0, 0, (i32::MAX - 1, vec![1, 2]), (i32::MIN, vec![4])),
            exp_point(
                T0 + S,
                0,
                (i32::MIN, vec![1, 2, 3]),
                (i32::MAX - 2, vec![5, 6, 7]),
            ),
        ],
        2,
    )]);
    chart_answer(&req, &sel, &frame);
}

#[test]
fn exp_histogram_offset_2_pow_29_does_not_allocate() {
    // Two points in one pixel column with offsets 0 and 2^29: merging them
    // allocated 2^29 counts (4 GiB) and aborted.
    let req = request(vec![exp_metric(
        vec![
            exp_point(T0, 0, (0, vec![5; 10]), (0, vec![])),
            exp_point(T0 + 1, 0, (1 << 29, vec![5; 10]), (-(1 << 29), vec![1])),
            exp_point(
                T0 + 2,
                0,
                (i32::MIN, vec![5; 10]),
                (i32::MAX - 20, vec![1; 20]),
            ),
        ],
        1,
    )]);
    let (sel, frame) = window(T0, T0 + 60 * S);
    let started = Instant::now();
    chart_answer(&req, &sel, &frame);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // The merge itself stays within its per-side cap.
    let mut a = ExpHistogram {
        scale: 20,
        zero_count: 1,
        positive: ExpBuckets {
            offset: 0,
            counts: vec![1; 10],
        },
        negative: ExpBuckets::default(),
    };
    let b = ExpHistogram {
        scale: 0,
        zero_count: u64::MAX,
        positive: ExpBuckets {
            offset: 1 << 29,
            counts: vec![u64::MAX; 10],
        },
        negative: ExpBuckets {
            offset: i32::MIN,
            counts: vec![3; MAX_BUCKETS_PER_SIDE],
        },
    };
    a.add(&b);
    assert!(a.positive.counts.len() <= MAX_BUCKETS_PER_SIDE);
    assert!(a.negative.counts.len() <= MAX_BUCKETS_PER_SIDE);
    assert_eq!(a.zero_count, u64::MAX, "saturates");
    assert!(a.positive.counts.contains(&u64::MAX), "saturates");
}

#[test]
fn million_buckets_chart_answer_is_bounded() {
    // Stored before the ingest cap (or imported): a million buckets made a
    // 140 MB answer, one bar per bucket.
    let req = request(vec![exp_metric(
        vec![exp_point(
            T0,
            20,
            (0, vec![1; 1_000_000]),
            (-500_000, vec![2; 1_000_000]),
        )],
        1,
    )]);
    let (sel, frame) = window(T0 - S, T0 + S);
    let bytes = chart_answer(&req, &sel, &frame);
    assert!(bytes < 1 << 20, "{bytes} bytes");
    let plot = select(&req, "m", &sel);
    assert!(
        !plot.truncated.is_empty(),
        "the answer says it merged buckets"
    );
    // Explicit buckets the same way.
    let n = 1_000_000;
    let req = request(vec![metric(Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            time_unix_nano: T0,
            explicit_bounds: (0..n).map(f64::from).collect(),
            bucket_counts: vec![1; n as usize + 1],
            ..Default::default()
        }],
        aggregation_temporality: 1,
    }))]);
    let bytes = chart_answer(&req, &sel, &frame);
    assert!(bytes < 1 << 20, "{bytes} bytes");
}

#[test]
fn many_series_are_capped_with_a_note() {
    let points = (0..1000)
        .map(|i| NumberDataPoint {
            attributes: vec![kv(&format!("key{}", i % 300), &"v".repeat(i))],
            time_unix_nano: T0 + i as u64,
            value: Some(number_data_point::Value::AsDouble(i as f64)),
            ..Default::default()
        })
        .collect();
    let req = request(vec![metric(Data::Gauge(Gauge {
        data_points: points,
    }))]);
    let (mut sel, mut frame) = window(T0, T0 + 2000);
    frame.width = 4000;
    for split in [None, Some(vec![]), Some(vec!["key1".to_string()])] {
        sel.split_by = split;
        chart_answer(&req, &sel, &frame);
    }
    sel.split_by = None;
    let plot = select(&req, "m", &sel);
    assert_eq!(plot.series.len(), MAX_SERIES);
    assert!(
        plot.truncated.iter().any(|t| t.contains("900 more series")),
        "{:?}",
        plot.truncated
    );
}

#[test]
fn extreme_windows_do_not_panic() {
    let req = request(vec![metric(Data::Gauge(Gauge {
        data_points: vec![
            NumberDataPoint {
                time_unix_nano: u64::MAX,
                value: Some(number_data_point::Value::AsDouble(f64::MAX)),
                ..Default::default()
            },
            NumberDataPoint {
                time_unix_nano: u64::MAX - 1,
                value: Some(number_data_point::Value::AsDouble(f64::MIN)),
                ..Default::default()
            },
            NumberDataPoint {
                time_unix_nano: 0,
                value: Some(number_data_point::Value::AsInt(i64::MIN)),
                ..Default::default()
            },
        ],
    }))]);
    for (a, b) in [
        (0, u64::MAX),
        (u64::MAX, u64::MAX),
        (u64::MAX - 1, u64::MAX),
        (0, 0),
    ] {
        let (sel, frame) = window(a, b);
        chart_answer(&req, &sel, &frame);
    }
}

// ---- Property test over arbitrary points -------------------------------

/// One side of an exponential histogram: offset and counts.
type Side = (i32, Vec<u64>);

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX / 2 + 1),
        0u64..100,
        any::<u64>(),
    ]
}

fn float() -> impl Strategy<Value = f64> {
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

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => T0..T0 + 100 * S,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

fn offset() -> impl Strategy<Value = i32> {
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

fn scale() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -12..=22i32,
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
        1 => any::<i32>(),
    ]
}

/// Bucket counts: usually a few arbitrary ones, sometimes up to 5000 equal
/// ones (cheap to generate, and the length is what matters).
fn counts() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        8 => vec(count(), 0..40),
        1 => (count(), 0usize..5000).prop_map(|(c, n)| vec![c; n]),
    ]
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    (0u8..4).prop_map(|i| vec![kv("k", &i.to_string())])
}

fn exp_points() -> impl Strategy<Value = Vec<ExponentialHistogramDataPoint>> {
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
                    positive: Some(Buckets {
                        offset: pos.0,
                        bucket_counts: pos.1,
                    }),
                    negative: Some(Buckets {
                        offset: neg.0,
                        bucket_counts: neg.1,
                    }),
                    ..Default::default()
                }
            }),
        0..6,
    )
}

fn bounds() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        vec(float(), 0..12),
        (0usize..3000).prop_map(|n| (0..n).map(|i| i as f64).collect()),
        Just(vec![f64::NEG_INFINITY, 0.0, f64::INFINITY]),
    ]
}

fn explicit_points() -> impl Strategy<Value = Vec<HistogramDataPoint>> {
    vec(
        (
            time(),
            time(),
            bounds(),
            counts(),
            count(),
            attrs(),
            float(),
        )
            .prop_map(|(t, start, bounds, counts, count, attributes, sum)| {
                HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    count,
                    sum: Some(sum),
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    ..Default::default()
                }
            }),
        0..6,
    )
}

fn summary_points() -> impl Strategy<Value = Vec<SummaryDataPoint>> {
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

fn number_points() -> impl Strategy<Value = Vec<NumberDataPoint>> {
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

fn data() -> impl Strategy<Value = Data> {
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

fn selection() -> impl Strategy<Value = (Selection, Frame)> {
    (
        prop_oneof![4 => Just((T0 - S, T0 + 100 * S)), 1 => (time(), time())],
        prop_oneof![
            Just(None),
            Just(Some(Vec::new())),
            Just(Some(vec!["k".to_string()]))
        ],
        prop_oneof![
            Just(Aggregate::Sum),
            Just(Aggregate::Avg),
            Just(Aggregate::Min),
            Just(Aggregate::Max)
        ],
        vec(0.0..=1.0f64, 1..8),
        (200u32..4000, 100u32..2000),
    )
        .prop_map(|((a, b), split_by, aggregate, quantiles, (w, h))| {
            let (start, end) = (a.min(b), a.max(b));
            let sel = Selection {
                start,
                end,
                filters: Vec::new(),
                split_by,
                aggregate,
                quantiles,
                columns: (w as usize).saturating_sub(70).max(50),
            };
            let frame = Frame {
                start,
                end,
                width: w,
                height: h,
                utc_offset_s: 0,
                hidden: vec![0],
            };
            (sel, frame)
        })
}

proptest! {
    // ~100 cases keep this test under a few seconds in a debug build.
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_points_chart_without_panic_within_caps(
        data in vec(data(), 1..3),
        (sel, frame) in selection(),
    ) {
        let req = request(data.into_iter().map(metric).collect());
        chart_answer(&req, &sel, &frame);
    }

    #[test]
    fn exponential_merge_stays_within_its_cap(
        a in (scale(), (offset(), counts()), (offset(), counts())),
        b in (scale(), (offset(), counts()), (offset(), counts())),
        q in 0.0..=1.0f64,
    ) {
        let h = |(scale, p, n): (i32, Side, Side)| ExpHistogram {
            scale: scale.clamp(-10, 20),
            zero_count: 1,
            positive: ExpBuckets { offset: p.0, counts: p.1 },
            negative: ExpBuckets { offset: n.0, counts: n.1 },
        };
        let (mut a, b) = (h(a), h(b));
        a.fit();
        a.add(&b);
        prop_assert!(a.positive.counts.len() <= MAX_BUCKETS_PER_SIDE);
        prop_assert!(a.negative.counts.len() <= MAX_BUCKETS_PER_SIDE);
        let _ = loupe_charts::math::exponential_quantile(&a, q);
        let _ = a.minus(&b);
        let _ = b.minus(&a);
    }
}
