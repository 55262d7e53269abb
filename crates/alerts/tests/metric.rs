//! Metrics rules over histograms, as the engine sees them: OTLP points
//! through `series_from_otlp`, a p99 above a threshold for 1m fires, then
//! resolves once the window holds only fast requests; the evidence is the
//! slow request's exemplar, so the alert links its trace. Cumulative
//! histograms (OTLP's default) are judged by their increase over the window.

use loupe_alerts::eval::Matcher;
use loupe_alerts::metric::{evaluate, series_from_otlp, step_metric_values};
use loupe_alerts::{from_yaml, GroupState, State};
use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::{
    exemplar, metric, Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
    ScopeMetrics,
};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::ExportMetricsServiceRequest;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;
const BOUNDS: [f64; 4] = [0.1, 0.25, 0.5, 1.0];
const SLOW_TRACE: [u8; 16] = [0xab; 16];

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// Points every 10 s from `T0`: (seconds, counts per bucket, exemplar?),
/// cumulative or delta.
fn request(
    points: &[(u64, [u64; 5], Option<f64>)],
    temporality: i32,
) -> ExportMetricsServiceRequest {
    let data_points = points
        .iter()
        .map(|(t, counts, ex)| HistogramDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + t * S,
            count: counts.iter().sum(),
            sum: Some(0.0),
            bucket_counts: counts.to_vec(),
            explicit_bounds: BOUNDS.to_vec(),
            attributes: vec![kv("http.route", "/executions")],
            exemplars: ex
                .map(|v| Exemplar {
                    time_unix_nano: T0 + t * S - S,
                    trace_id: SLOW_TRACE.to_vec(),
                    span_id: vec![0xcd; 8],
                    value: Some(exemplar::Value::AsDouble(v)),
                    filtered_attributes: Vec::new(),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "kestra")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "http.server.request.duration".into(),
                    unit: "s".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points,
                        aggregation_temporality: temporality,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const RULE: &str = "name: slow requests
signal: metrics
metric:
  name: http.server.request.duration
  aggregate: p99
  window: 1m
  op: gt
  threshold: 0.5
for: 1m
send_resolved: true
";

/// Steps the rule every 10 s from 0 to `until` seconds; (seconds, state) of
/// each transition, and the states at the end.
fn run(req: &ExportMetricsServiceRequest, until: u64) -> (Vec<(u64, State)>, Vec<GroupState>) {
    let rule = from_yaml(RULE).unwrap();
    let m = Matcher::new(&rule).unwrap();
    let series = series_from_otlp(req);
    let mut states = Vec::new();
    let mut seen = Vec::new();
    for t in (0..=until).step_by(10) {
        let values = evaluate(&rule, &m, &series, T0 + t * S);
        let (s, tr) = step_metric_values(&rule, &states, &values, T0 + t * S);
        states = s;
        for x in tr {
            if x.to == State::Firing || x.to == State::Resolved {
                let ev = x.evidence.as_ref().expect("the exemplar as evidence");
                assert_eq!(ev.trace_id.as_deref(), Some(&"ab".repeat(16)[..]));
                assert_eq!(ev.span_id.as_deref(), Some(&"cd".repeat(8)[..]));
                assert_eq!(ev.service.as_deref(), Some("kestra"));
                assert!(
                    ev.summary
                        .starts_with("p99 of http.server.request.duration = "),
                    "{}",
                    ev.summary
                );
                assert!(ev.summary.ends_with("(exemplar 2.5)"), "{}", ev.summary);
            }
            seen.push(((x.at_ns - T0) / S, x.to));
        }
    }
    (seen, states)
}

#[test]
fn a_delta_histogram_p99_above_the_threshold_for_1m_fires_then_resolves() {
    // 0–60 s: two requests in 100 over 1 s (p99 > 0.5), with an exemplar of
    // the slowest; from 70 s on all fast.
    let slow = [90, 5, 2, 1, 2];
    let fast = [100, 0, 0, 0, 0];
    let mut pts = Vec::new();
    for t in (0..=60).step_by(10) {
        pts.push((t, slow, Some(2.5)));
    }
    for t in (70..=200).step_by(10) {
        pts.push((t, fast, None));
    }
    let (seen, states) = run(&request(&pts, 1), 200);
    // Pending at once, firing after 1m, resolved once the window's merged
    // p99 is back under: at 110 s the window (50–110 s) holds 2 slow points
    // of 7, 4 slow requests in 700, under 1 %.
    assert_eq!(
        seen,
        vec![
            (0, State::Pending),
            (60, State::Firing),
            (110, State::Resolved)
        ],
    );
    assert_eq!(states[0].state, State::Resolved);
}

#[test]
fn a_cumulative_histogram_is_judged_by_its_increase_over_the_window() {
    // The same requests, as cumulative counts: without taking the increase,
    // the slow minute would stay in every later point's counts and the p99
    // would never come down.
    let mut acc = [0u64; 5];
    let mut pts = Vec::new();
    for t in (0..=200).step_by(10) {
        let (add, ex) = if t <= 60 {
            ([90, 5, 2, 1, 2], Some(2.5))
        } else {
            ([100, 0, 0, 0, 0], None)
        };
        for (a, x) in acc.iter_mut().zip(add) {
            *a += x;
        }
        pts.push((t, acc, ex));
    }
    let (seen, _) = run(&request(&pts, 2), 200);
    assert_eq!(seen.first(), Some(&(0, State::Pending)));
    assert!(seen.contains(&(60, State::Firing)), "{seen:?}");
    let resolved = seen.iter().find(|(_, s)| *s == State::Resolved);
    assert!(
        matches!(resolved, Some((t, _)) if (70..=140).contains(t)),
        "resolves within the window after the slow minute: {seen:?}"
    );
    // A reset (the exporter restarted) counts from the new start, no panic.
    let mut reset = pts.clone();
    reset[10].1 = [1, 0, 0, 0, 0];
    let _ = run(&request(&reset, 2), 200);
}
