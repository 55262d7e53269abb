//! Golden tests of chart SVGs: one per metric type, plus resets, gaps,
//! splits and an empty range. Each case writes `golden/<name>.svg` (the
//! picture; plain text, one element per line, so diffs read well) and
//! `golden/<name>.txt` (axis ranges, plot area, every line's label, colour
//! and down-sampled values). Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p loupe-charts --test golden` and review the diff.

use std::fmt::Write;
use std::path::PathBuf;

use loupe_charts::render::{color_of, render_distribution, DOT_RADIUS};
use loupe_charts::{render, select, Chart, DistributionFrame, Frame, Selection, Theme};
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
    request_in(data, "")
}

/// A request whose metric has the UCUM unit `unit`.
fn request_in(data: Data, unit: &str) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "kestra")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    unit: unit.into(),
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

/// What [`check`] drew, for structural assertions beside the golden files.
struct Drawn {
    chart: Chart,
    distribution: Option<String>,
    buckets: Vec<loupe_charts::select::Bucket>,
}

fn check(name: &str, req: &ExportMetricsServiceRequest, sel: &Selection) -> Drawn {
    let plot = select(req, "m", sel);
    let frame = Frame {
        start: sel.start,
        end: sel.end,
        width: 640,
        height: 240,
        utc_offset_s: 0,
        hidden: Vec::new(),
        theme: Theme::Light,
    };
    let chart = render(&plot, &frame).expect("render");
    let mut txt = String::new();
    writeln!(txt, "meaning: {}", plot.meaning).unwrap();
    writeln!(txt, "unit: {:?}", plot.unit).unwrap();
    for n in &chart.truncated {
        writeln!(txt, "note: {n}").unwrap();
    }
    if let Some(n) = &plot.distribution_note {
        writeln!(txt, "distribution note: {n}").unwrap();
    }
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
    let mut distribution = None;
    if let Some(d) = &plot.distribution {
        let mut txt = String::new();
        for b in d {
            writeln!(txt, "({}, {}]: {}", b.lower, b.upper, b.count).unwrap();
        }
        golden(&format!("{name}.distribution.txt"), &txt);
        let svg = render_distribution(
            d,
            &DistributionFrame {
                width: 640,
                height: 200,
                theme: Theme::Light,
                unit: &plot.unit,
                note: plot.distribution_note.as_deref(),
            },
        )
        .expect("distribution");
        golden(&format!("{name}.distribution.svg"), &svg);
        distribution = Some(svg);
    }
    Drawn {
        chart,
        distribution,
        buckets: plot.distribution.unwrap_or_default(),
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

/// The text of every `<text>` element of an SVG (plotters writes the text
/// on its own line).
fn texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = svg.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("<text") {
            out.push(lines.next().unwrap_or("").trim().to_string());
        }
    }
    out
}

/// The `<circle>` elements of an SVG filled with `color` (`#rrggbb`).
fn dots(svg: &str, color: &str) -> usize {
    let fill = format!("fill=\"{}\"", color.to_uppercase());
    svg.lines()
        .filter(|l| l.starts_with("<circle") && l.contains(&fill))
        .filter(|l| l.contains(&format!("r=\"{DOT_RADIUS}\"")))
        .count()
}

/// No value label may read like an SI milli prefix (`812.5m`), which is
/// what a unit-less formatter printed for 0.8125 s.
fn assert_no_milli(labels: &[String]) {
    for l in labels {
        let digits_then_m = l
            .strip_suffix('m')
            .is_some_and(|n| n.parse::<f64>().is_ok());
        assert!(!digits_then_m, "{l:?} reads as a milli prefix");
    }
}

#[test]
fn single_points_are_drawn() {
    // A gauge seen once, a counter seen once (an exporter every 60 s, in a
    // 10-minute window) and a cumulative histogram seen once whose start
    // lies before the window: each shows a dot, not an empty chart.
    let gauge = request(Data::Gauge(Gauge {
        data_points: vec![num(vec![], 0, T0 + 300 * S, 42.0)],
    }));
    let d = check("single_point_gauge", &gauge, &window(10));
    assert_eq!(d.chart.series.len(), 1);
    assert_eq!(dots(&d.chart.svg, &color_of(0)), 1, "{}", d.chart.svg);
    assert!(!texts(&d.chart.svg).contains(&"No data in this range".to_string()));

    let counter = request_in(
        Data::Sum(Sum {
            data_points: vec![num(vec![], T0 - 60 * S, T0 + 300 * S, 720.0)],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        "{request}",
    );
    let d = check("single_point_counter", &counter, &window(10));
    // 720 requests over the 360 s since the counter's start: 2/s.
    assert_eq!(
        d.chart.series[0].points,
        vec![((T0 + 300 * S).to_string(), Some(2.0))]
    );
    assert_eq!(dots(&d.chart.svg, &color_of(0)), 1);

    let histogram = request_in(
        Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                start_time_unix_nano: T0 - 3600 * S,
                time_unix_nano: T0 + 300 * S,
                count: 10,
                bucket_counts: vec![5, 4, 1],
                explicit_bounds: vec![0.5, 1.0],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
        "s",
    );
    let d = check("single_point_histogram", &histogram, &window(10));
    assert_eq!(d.chart.series.len(), 3, "p50, p90, p99");
    for i in 0..3 {
        assert_eq!(dots(&d.chart.svg, &color_of(i)), 1, "line {i}");
    }
}

#[test]
fn values_are_labelled_in_their_units() {
    // Durations in seconds around 0.8 s: the axis reads in ms.
    let bounds = vec![0.25, 0.5, 0.75, 1.0];
    let pts = (1..=60u64)
        .map(|i| HistogramDataPoint {
            start_time_unix_nano: T0 + (i - 1) * 10 * S,
            time_unix_nano: T0 + i * 10 * S,
            count: 10,
            bucket_counts: vec![0, 1, 2, 6, 1],
            explicit_bounds: bounds.clone(),
            ..Default::default()
        })
        .collect();
    let h = Histogram {
        data_points: pts,
        aggregation_temporality: AggregationTemporality::Delta as i32,
    };
    let d = check(
        "unit_seconds",
        &request_in(Data::Histogram(h), "s"),
        &window(10),
    );
    let labels = texts(&d.chart.svg);
    assert_no_milli(&labels);
    assert!(labels.contains(&"800 ms".to_string()), "{labels:?}");
    let bars = texts(d.distribution.as_deref().expect("distribution"));
    assert!(bars.contains(&"≤750 ms".to_string()), "{bars:?}");
    assert_no_milli(&bars);

    // Bytes: binary multiples on round ticks.
    let pts = (0..60)
        .map(|i| num(vec![], 0, T0 + i * 10 * S, (300 + i * 10) as f64 * 1024.0))
        .collect();
    let d = check(
        "unit_bytes",
        &request_in(Data::Gauge(Gauge { data_points: pts }), "By"),
        &window(10),
    );
    let labels = texts(&d.chart.svg);
    assert!(labels.contains(&"800 KiB".to_string()), "{labels:?}");

    // A counter of 0.1 per second: "0.1/s", not "100m".
    let pts = (0..=60)
        .map(|i| num(vec![], T0 - S, T0 + i * 10 * S, i as f64))
        .collect();
    let d = check(
        "unit_rate",
        &request_in(
            Data::Sum(Sum {
                data_points: pts,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
            "1",
        ),
        &window(10),
    );
    let labels = texts(&d.chart.svg);
    assert_no_milli(&labels);
    assert!(labels.contains(&"0.1/s".to_string()), "{labels:?}");
}

#[test]
fn distributions_with_different_bounds_are_combined() {
    // Two series of one histogram (two instances configured differently):
    // 12 observations on bounds 0.1, 0.5, 1 and 300 on bounds 0.25, 1.
    // Before, the second series vanished from the distribution.
    let a = HistogramDataPoint {
        attributes: vec![kv("service.instance.id", "a")],
        start_time_unix_nano: T0,
        time_unix_nano: T0 + 60 * S,
        count: 12,
        bucket_counts: vec![2, 6, 4, 0],
        explicit_bounds: vec![0.1, 0.5, 1.0],
        ..Default::default()
    };
    let b = HistogramDataPoint {
        attributes: vec![kv("service.instance.id", "b")],
        start_time_unix_nano: T0,
        time_unix_nano: T0 + 60 * S,
        count: 300,
        bucket_counts: vec![100, 150, 50],
        explicit_bounds: vec![0.25, 1.0],
        ..Default::default()
    };
    let h = Histogram {
        data_points: vec![a, b],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    };
    let mut sel = window(10);
    sel.split_by = Some(Vec::new());
    let d = check(
        "histogram_mixed_bounds",
        &request_in(Data::Histogram(h), "s"),
        &sel,
    );
    let total: u64 = d.buckets.iter().map(|b| b.count).sum();
    assert_eq!(total, 312, "every observation is in the distribution");
    assert_eq!(d.buckets.len(), 2, "on the common bound 1 s");
    let caption = texts(d.distribution.as_deref().expect("distribution"));
    assert!(
        caption
            .iter()
            .any(|t| t.contains("different bucket bounds combined on their 1 common bounds")),
        "{caption:?}"
    );
    assert!(
        d.chart
            .truncated
            .iter()
            .any(|t| t.contains("common bounds")),
        "{:?}",
        d.chart.truncated
    );
}

#[test]
fn legends_hide_noise_and_colours_do_not_repeat() {
    // 12 series differing by flow, each with its own instance id and SDK
    // version: the labels name the flow only, with 12 distinct colours.
    let mut pts = Vec::new();
    for f in 0..12 {
        pts.push(num(
            vec![
                kv("kestra.flowId", &format!("flow{f:02}")),
                kv("service.instance.id", &format!("i-{f}")),
                kv("telemetry.sdk.version", &format!("1.{f}")),
            ],
            0,
            T0 + 60 * S,
            f as f64,
        ));
    }
    let d = check(
        "legend_noise",
        &request(Data::Gauge(Gauge { data_points: pts })),
        &window(10),
    );
    let labels: Vec<&str> = d.chart.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels[0], "kestra.flowId=flow00", "{labels:?}");
    assert!(labels
        .iter()
        .all(|l| !l.contains("instance") && !l.contains("sdk")));
    let colours: std::collections::BTreeSet<&str> =
        d.chart.series.iter().map(|s| s.color.as_str()).collect();
    assert_eq!(colours.len(), 12);

    // Two series told apart only by their instance: the instance is shown.
    let pts = ["a", "b"]
        .iter()
        .map(|i| num(vec![kv("service.instance.id", i)], 0, T0 + 60 * S, 1.0))
        .collect();
    let plot = select(
        &request(Data::Gauge(Gauge { data_points: pts })),
        "m",
        &window(10),
    );
    let labels: Vec<&str> = plot.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["service.instance.id=a", "service.instance.id=b"]);
}

#[test]
fn dark_theme_changes_the_background() {
    let req = request(Data::Gauge(Gauge {
        data_points: vec![num(vec![], 0, T0 + 60 * S, 1.0)],
    }));
    let sel = window(10);
    let plot = select(&req, "m", &sel);
    let frame = |theme| Frame {
        start: sel.start,
        end: sel.end,
        width: 640,
        height: 240,
        utc_offset_s: 0,
        hidden: Vec::new(),
        theme,
    };
    let light = render(&plot, &frame(Theme::Light)).unwrap().svg;
    let dark = render(&plot, &frame(Theme::Dark)).unwrap().svg;
    assert!(light.lines().nth(1).unwrap().contains("fill=\"#FFFFFF\""));
    assert!(
        dark.lines().nth(1).unwrap().contains("fill=\"#161B22\""),
        "{dark}"
    );
}
