//! Golden tests of chart SVGs: one per metric type, plus resets, gaps,
//! splits and an empty range. Each case writes `golden/<name>.svg` (the
//! picture; plain text, one element per line, so diffs read well) and
//! `golden/<name>.txt` (axis ranges, plot area, every line's label, colour
//! and down-sampled values). Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p loupe-charts --test golden` and review the diff.

use std::fmt::Write;
use std::path::PathBuf;

use loupe_charts::render::render_distribution;
use loupe_charts::{render, select, Frame, Selection};
use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::ExportMetricsServiceRequest;

const S: u64 = 1_000_000_000;
/// 2026-11-21T10:00:00Z.
const T0: u64 = 1_795_255_200 * S;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request(data: Data) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "kestra")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(data),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn num(attrs: Vec<KeyValue>, start: u64, t: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

/// A deterministic wavy value.
fn wave(i: u64) -> f64 {
    let x = i as f64;
    50.0 + 30.0 * (x / 7.0).sin() + 5.0 * (x / 2.3).cos()
}

fn check(name: &str, req: &ExportMetricsServiceRequest, sel: &Selection) {
    let plot = select(req, "m", sel);
    let frame = Frame {
        start: sel.start,
        end: sel.end,
        width: 640,
        height: 240,
        utc_offset_s: 0,
        hidden: Vec::new(),
    };
    let chart = render(&plot, &frame).expect("render");
    let mut txt = String::new();
    writeln!(txt, "meaning: {}", plot.meaning).unwrap();
    writeln!(txt, "plot: {:?}", chart.plot).unwrap();
    writeln!(txt, "x: {} .. {}", chart.x_start, chart.x_end).unwrap();
    writeln!(txt, "y: {} .. {}", chart.y_min, chart.y_max).unwrap();
    writeln!(txt, "keys: {:?}", plot.keys).unwrap();
    for s in &chart.series {
        writeln!(txt, "series {:?} {}:", s.label, s.color).unwrap();
        for (t, v) in &s.points {
            let t: u64 = t.parse().unwrap();
            let v = v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "gap".into());
            writeln!(txt, "  +{}s {v}", (t - T0) as f64 / S as f64).unwrap();
        }
    }
    for e in &chart.exemplars {
        writeln!(
            txt,
            "exemplar {} at ({}, {}) value {}",
            e.exemplar.trace_id, e.x, e.y, e.exemplar.value
        )
        .unwrap();
    }
    golden(&format!("{name}.txt"), &txt);
    golden(&format!("{name}.svg"), &chart.svg);
    if let Some(d) = &plot.distribution {
        let mut txt = String::new();
        for b in d {
            writeln!(txt, "({}, {}]: {}", b.lower, b.upper, b.count).unwrap();
        }
        golden(&format!("{name}.distribution.txt"), &txt);
        golden(
            &format!("{name}.distribution.svg"),
            &render_distribution(d, 640, 200).expect("distribution"),
        );
    }
}

fn golden(file: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  - {a}\n  + {b}", i + 1))
            .collect();
        panic!(
            "{file} differs from the golden file ({} vs {} lines):\n{}\n(UPDATE_GOLDEN=1 regenerates it after an intended change)",
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

fn window(minutes: u64) -> Selection {
    Selection::new(T0, T0 + minutes * 60 * S)
}

#[test]
fn gauge_with_exemplar() {
    let mut pts: Vec<NumberDataPoint> = (0..60)
        .map(|i| num(vec![], 0, T0 + i * 10 * S, wave(i)))
        .collect();
    pts[20].exemplars.push(Exemplar {
        time_unix_nano: T0 + 200 * S,
        value: Some(loupe_model::otlp::metrics::exemplar::Value::AsDouble(wave(
            20,
        ))),
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        ..Default::default()
    });
    check(
        "gauge",
        &request(Data::Gauge(Gauge { data_points: pts })),
        &window(10),
    );
}

#[test]
fn gauge_with_a_gap() {
    // Every 10 s, but nothing from +200 s to +400 s: the line breaks.
    let pts = (0..60)
        .filter(|i| !(20..40).contains(i))
        .map(|i| num(vec![], 0, T0 + i * 10 * S, wave(i)))
        .collect();
    check(
        "gauge_gap",
        &request(Data::Gauge(Gauge { data_points: pts })),
        &window(10),
    );
}

#[test]
fn empty_range() {
    let pts = (0..10)
        .map(|i| num(vec![], 0, T0 + i * 10 * S, wave(i)))
        .collect();
    let req = request(Data::Gauge(Gauge { data_points: pts }));
    let sel = Selection::new(T0 + 3600 * S, T0 + 7200 * S);
    check("empty", &req, &sel);
}

#[test]
fn cumulative_counter_as_rate_with_reset() {
    // 2/s for 5 minutes; the process restarts at +300 s (new start time,
    // counter from 0); then 4/s.
    let mut pts = Vec::new();
    for i in 0..=30u64 {
        pts.push(num(
            vec![],
            T0 - 60 * S,
            T0 + i * 10 * S,
            120.0 + 20.0 * i as f64,
        ));
    }
    let restart = T0 + 305 * S;
    for i in 0..30u64 {
        let t = T0 + 310 * S + i * 10 * S;
        pts.push(num(vec![], restart, t, 4.0 * ((t - restart) / S) as f64));
    }
    let sum = Sum {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: true,
    };
    check(
        "sum_cumulative_reset",
        &request(Data::Sum(sum)),
        &window(10),
    );
}

#[test]
fn delta_counter_split_by_attribute() {
    let mut pts = Vec::new();
    for i in 0..60u64 {
        for (flow, k) in [("orders", 3.0), ("cleanup", 1.0)] {
            let t = T0 + i * 10 * S;
            pts.push(num(
                vec![
                    kv("flow", flow),
                    kv("task", if i % 2 == 0 { "a" } else { "b" }),
                ],
                t - 10 * S,
                t,
                k * (1 + i % 4) as f64,
            ));
        }
    }
    let sum = Sum {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Delta as i32,
        is_monotonic: true,
    };
    let mut sel = window(10);
    sel.split_by = Some(vec!["flow".into()]);
    sel.columns = 60;
    check("sum_delta_split", &request(Data::Sum(sum)), &sel);
}

#[test]
fn non_monotonic_sum_as_values() {
    let pts = (0..60)
        .map(|i| num(vec![], T0, T0 + i * 10 * S, (i % 13) as f64 - 4.0))
        .collect();
    let sum = Sum {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: false,
    };
    check("sum_updown", &request(Data::Sum(sum)), &window(10));
}

#[test]
fn cumulative_histogram_percentiles() {
    // Bounds 10, 50, 100, 500 ms; each 10 s interval adds a known mix, and
    // one interval in the middle is slow.
    let bounds = vec![10.0, 50.0, 100.0, 500.0];
    let mut cum = [0u64; 5];
    let mut pts = Vec::new();
    for i in 0..=60u64 {
        let add = if i == 30 {
            [0, 2, 2, 10, 6]
        } else {
            [5, 10, 3, 1, 0]
        };
        if i > 0 {
            for (c, a) in cum.iter_mut().zip(add) {
                *c += a;
            }
        }
        pts.push(HistogramDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + i * 10 * S,
            count: cum.iter().sum(),
            bucket_counts: cum.to_vec(),
            explicit_bounds: bounds.clone(),
            ..Default::default()
        });
    }
    let h = Histogram {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
    };
    check("histogram", &request(Data::Histogram(h)), &window(10));
}

#[test]
fn exponential_histogram_percentiles() {
    let mut pts = Vec::new();
    for i in 1..=60u64 {
        let shift = if (25..35).contains(&i) { 3 } else { 0 };
        pts.push(ExponentialHistogramDataPoint {
            start_time_unix_nano: T0 + (i - 1) * 10 * S,
            time_unix_nano: T0 + i * 10 * S,
            count: 20,
            scale: 1,
            zero_count: 0,
            positive: Some(Buckets {
                offset: 4 + shift,
                bucket_counts: vec![2, 6, 8, 3, 1],
            }),
            ..Default::default()
        });
    }
    let h = ExponentialHistogram {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Delta as i32,
    };
    check(
        "exponential_histogram",
        &request(Data::ExponentialHistogram(h)),
        &window(10),
    );
}

#[test]
fn summary_quantiles() {
    let pts = (0..60u64)
        .map(|i| SummaryDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + i * 10 * S,
            count: 100 + i,
            sum: 1000.0,
            quantile_values: [(0.5, 20.0), (0.9, 45.0), (0.99, 80.0)]
                .iter()
                .map(|&(q, v)| ValueAtQuantile {
                    quantile: q,
                    value: v + (i % 7) as f64 * q * 10.0,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    check(
        "summary",
        &request(Data::Summary(Summary { data_points: pts })),
        &window(10),
    );
}
