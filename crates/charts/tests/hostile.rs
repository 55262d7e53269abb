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
use loupe_model::otlp::metrics::{
    metric::Data, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint,
};
use loupe_model::otlp::ExportMetricsServiceRequest;
use proptest::collection::vec;
use proptest::prelude::*;

#[path = "support/hostile_points.rs"]
mod points;

use points::*;

/// The largest answer the caps allow, in bytes (JSON with both SVGs): about
/// 100k points at under 100 bytes each (JSON and SVG), plus labels, keys
/// and the distribution.
const MAX_ANSWER_BYTES: usize = 16 << 20;

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
        let svg = render_distribution(
            buckets,
            &loupe_charts::DistributionFrame {
                width: frame.width,
                height: frame.height,
                theme: loupe_charts::Theme::Light,
                unit: &plot.unit,
                note: plot.distribution_note.as_deref(),
            },
        )
        .expect("draws");
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
        theme: loupe_charts::Theme::Light,
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
        positive: side(pos),
        negative: side(neg),
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
                theme: loupe_charts::Theme::Light,
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
