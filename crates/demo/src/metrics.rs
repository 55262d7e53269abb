//! The metrics of a run: executions started, job durations and running
//! tasks per flow over the last five minutes. Points derive from
//! wall-clock slots alone, so every run re-sends the same points for the
//! same slot (stored once) and the series grow without jumps.

use crate::attrs::{kv, s};
use crate::ids::mix;
use crate::otlp::metrics::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use crate::otlp::ExportMetricsServiceRequest;
use crate::service::{scope, Service, KESTRA_VERSION, METRICS_SCOPE};
use crate::time::NS_PER_S;
use crate::{ITEM_FLOW, JOB_DURATION, MAIN_FLOW, NAMESPACE, RUNNING_COUNT, STARTED_COUNT, SUBFLOW};

/// Metric points are one per slot of this length, over the last [`SLOTS`] slots.
const SLOT_NS: u64 = 15 * NS_PER_S;
const SLOTS: u64 = 20;

/// Bucket bounds of `kestra.worker.job.duration`, in milliseconds.
const DURATION_BOUNDS_MS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// Per flow: executions started per slot, and the range of its job durations (ms).
const FLOWS: [(&str, f64, f64, f64); 3] = [
    (MAIN_FLOW, 0.25, 20.0, 9000.0),
    (SUBFLOW, 0.25, 25.0, 4000.0),
    (ITEM_FLOW, 0.75, 20.0, 2500.0),
];

/// A deterministic number in [0, 1) for (flow, slot, salt): the same slot
/// gives the same points in every run.
fn unit(flow: usize, slot: u64, salt: u64) -> f64 {
    let h = mix(mix(slot ^ ((flow as u64) << 56)) ^ salt);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn metrics_request(now_ns: u64) -> ExportMetricsServiceRequest {
    // The last SLOTS complete slots before now_ns.
    let last = now_ns / SLOT_NS;
    let slots: Vec<u64> = (last.saturating_sub(SLOTS)..last).collect();
    let flow_attrs = |flow: &str| vec![kv("namespace", s(NAMESPACE)), kv("flowId", s(flow))];
    let mut started = Vec::new();
    let mut durations = Vec::new();
    let mut running = Vec::new();
    for (fi, &(flow, rate, lo, hi)) in FLOWS.iter().enumerate() {
        for &slot in &slots {
            let end = (slot + 1) * SLOT_NS;
            // A cumulative counter that restarted at midnight (UTC).
            let day_start = end / (86_400 * NS_PER_S) * (86_400 * NS_PER_S);
            let slots_today = (end - day_start) / SLOT_NS;
            started.push(NumberDataPoint {
                attributes: flow_attrs(flow),
                start_time_unix_nano: day_start,
                time_unix_nano: end,
                value: Some(number_data_point::Value::AsDouble(
                    (slots_today as f64 * rate).floor(),
                )),
                ..Default::default()
            });
            // The slot's job durations: log-uniform between lo and hi.
            let n = 1 + (unit(fi, slot, 1) * 6.0) as u64;
            let mut buckets = vec![0u64; DURATION_BOUNDS_MS.len() + 1];
            let (mut sum, mut min, mut max) = (0.0, f64::MAX, 0.0f64);
            for k in 0..n {
                let v = lo * (hi / lo).powf(unit(fi, slot, 100 + k));
                let v = (v * 10.0).round() / 10.0;
                let b = DURATION_BOUNDS_MS
                    .iter()
                    .position(|&bound| v <= bound)
                    .unwrap_or(DURATION_BOUNDS_MS.len());
                buckets[b] += 1;
                sum += v;
                min = min.min(v);
                max = max.max(v);
            }
            durations.push(HistogramDataPoint {
                attributes: flow_attrs(flow),
                start_time_unix_nano: end - SLOT_NS,
                time_unix_nano: end,
                count: n,
                sum: Some((sum * 10.0).round() / 10.0),
                bucket_counts: buckets,
                explicit_bounds: DURATION_BOUNDS_MS.to_vec(),
                min: Some(min),
                max: Some(max),
                ..Default::default()
            });
            running.push(NumberDataPoint {
                attributes: flow_attrs(flow),
                time_unix_nano: end,
                value: Some(number_data_point::Value::AsDouble(
                    (unit(fi, slot, 2) * (rate * 8.0 + 1.0)).floor(),
                )),
                ..Default::default()
            });
        }
    }
    let metric = |name: &str, description: &str, unit: &str, data: Data| Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Service::Kestra.resource()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope(METRICS_SCOPE, KESTRA_VERSION)),
                metrics: vec![
                    metric(
                        STARTED_COUNT,
                        "Count of executions started",
                        "{execution}",
                        Data::Sum(Sum {
                            data_points: started,
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        JOB_DURATION,
                        "Duration of worker jobs",
                        "ms",
                        Data::Histogram(Histogram {
                            data_points: durations,
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                    metric(
                        RUNNING_COUNT,
                        "Count of tasks actually running",
                        "{task}",
                        Data::Gauge(Gauge {
                            data_points: running,
                        }),
                    ),
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
