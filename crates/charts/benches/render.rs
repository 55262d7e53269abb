//! Chart render time for large series: `cargo bench -p loupe-charts`.
//!
//! Prints the median and worst of 21 runs of select (OTLP points → lines)
//! plus render (down-sampling and SVG) for 100k gauge points, 100k points of
//! a cumulative counter (rate), and a week of 1-second points (604,800).
//! The budget is ≤ 100 ms for 100k points.

use std::time::{Duration, Instant};

use loupe_charts::{render, select, Frame, Selection};
use loupe_model::otlp::metrics::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use loupe_model::otlp::ExportMetricsServiceRequest;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_795_255_200 * S;

fn request(data: Data) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
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

fn points(n: u64, cumulative: bool) -> Vec<NumberDataPoint> {
    let mut acc = 0.0;
    (0..n)
        .map(|i| {
            let x = i as f64;
            let v = 50.0 + 30.0 * (x / 700.0).sin() + ((i * 7919) % 13) as f64;
            acc += v;
            NumberDataPoint {
                start_time_unix_nano: T0,
                time_unix_nano: T0 + i * S,
                value: Some(number_data_point::Value::AsDouble(if cumulative {
                    acc
                } else {
                    v
                })),
                ..Default::default()
            }
        })
        .collect()
}

fn bench(name: &str, req: &ExportMetricsServiceRequest, n: u64) {
    let sel = Selection::new(T0, T0 + n * S);
    let frame = Frame {
        start: sel.start,
        end: sel.end,
        width: 1000,
        height: 300,
        utc_offset_s: 0,
        hidden: Vec::new(),
        theme: loupe_charts::Theme::Light,
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut drawn = 0;
    let mut bytes = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let plot = select(req, "m", &sel);
        let chart = render(&plot, &frame).expect("render");
        times.push(t.elapsed());
        drawn = chart.drawn_points;
        bytes = chart.svg.len();
    }
    times.sort();
    println!(
        "{name}: {n} points → {drawn} drawn, {bytes} B of SVG: median {:.1} ms, max {:.1} ms",
        times[10].as_secs_f64() * 1e3,
        times[20].as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs with no flag: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 1000 } else { 100_000 };
    bench(
        "gauge",
        &request(Data::Gauge(Gauge {
            data_points: points(n, false),
        })),
        n,
    );
    let sum = Sum {
        data_points: points(n, true),
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: true,
    };
    bench("cumulative sum (rate)", &request(Data::Sum(sum)), n);
    if !quick {
        let week = 7 * 86400;
        bench(
            "gauge, a week of 1 s points",
            &request(Data::Gauge(Gauge {
                data_points: points(week, false),
            })),
            week,
        );
    }
}
