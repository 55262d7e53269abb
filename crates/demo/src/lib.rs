//! The workload of `loupe demo`: one run of a Kestra-shaped system as three
//! OTLP export requests (traces, logs, metrics), so that a new user sees
//! every kind of thing Loupe shows at once.
//!
//! A run is an API call from service `upstream` to `kestra-webserver` that
//! starts the execution of flow `company.team.orders_pipeline` in `kestra`:
//! a Log task, an HTTP Request task whose `GET` reaches service `downstream`
//! (same trace, as through a `traceparent` header), a Subflow whose execution
//! sits in the same trace, a ForEachItem whose three child executions are
//! traces of their own linked back to it, and a shell task that fails (ERROR
//! status, `exception` event, ERROR log in its context). Logs carry the trace
//! and span of the task that wrote them; one has no trace context. Metrics
//! cover the last five minutes.
//!
//! [`build`] is deterministic: the same `now_ns` and run id give the same
//! requests. Trace, span and execution IDs derive from the run id, so runs
//! never collide; metric points derive from wall-clock slots only, so repeated
//! runs re-send identical points (stored once) and extend the series.
//!
//! The modules follow that story: `run` tells it (who calls whom, when,
//! what fails), `builder` turns its steps into spans and log records,
//! `requests` groups them by `service` and scope as an exporter would,
//! `metrics` draws the points, `ids` and `time` keep it reproducible.

pub use loupe_model::otlp;

mod attrs;
mod builder;
mod ids;
mod metrics;
mod requests;
mod run;
mod service;
mod time;

use otlp::{ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest};

pub use ids::fresh_run_id;
pub use run::{build, build_nth};
pub use service::{EXECUTOR, WORKER};

pub const NAMESPACE: &str = "company.team";
/// The flow the API call starts; the main trace carries it.
pub const MAIN_FLOW: &str = "orders_pipeline";
/// The flow its Subflow task runs, in the same trace.
pub const SUBFLOW: &str = "process_orders";
/// The flow its ForEachItem task runs once per batch, each in a trace of its own.
pub const ITEM_FLOW: &str = "process_order_batch";

pub const STARTED_COUNT: &str = "kestra.executor.execution.started.count";
pub const JOB_DURATION: &str = "kestra.worker.job.duration";
pub const RUNNING_COUNT: &str = "kestra.worker.running.count";

/// One run's requests, and the IDs worth pointing a person at.
#[derive(Debug, Clone)]
pub struct Demo {
    pub run_id: u64,
    pub traces: ExportTraceServiceRequest,
    pub logs: ExportLogsServiceRequest,
    pub metrics: ExportMetricsServiceRequest,
    /// The trace of the API call and the `orders_pipeline` execution.
    pub main_trace_id: [u8; 16],
    /// The ForEachItem child executions, each linked to the main trace.
    pub item_trace_ids: [[u8; 16]; 3],
    /// The failed shell task's span (status ERROR, ERROR log).
    pub failed_span_id: [u8; 8],
    /// The Kestra execution ID of the `orders_pipeline` execution.
    pub main_execution_id: String,
}

impl Demo {
    pub fn span_count(&self) -> usize {
        self.traces
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    pub fn log_count(&self) -> usize {
        self.logs
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }

    pub fn metric_names(&self) -> Vec<&str> {
        self.metrics
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.as_str())
            .collect()
    }

    pub fn point_count(&self) -> usize {
        self.metrics
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(loupe_model::otlp_points)
            .sum()
    }
}

/// Lowercase hex, the way the API and the UI show IDs.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh run at the current time.
pub fn fresh() -> Demo {
    build(loupe_model::time::now_ns(), fresh_run_id())
}

/// The `nth` run (0-based) of `loupe demo --repeat`, at the current time:
/// see [`build_nth`].
pub fn fresh_nth(nth: u32) -> Demo {
    build_nth(loupe_model::time::now_ns(), fresh_run_id(), nth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NS_PER_S;
    use otlp::common::{any_value::Value, KeyValue};
    use otlp::logs::{LogRecord, SeverityNumber};
    use otlp::metrics::{metric::Data, number_data_point, AggregationTemporality};
    use otlp::trace::{span::SpanKind, status::StatusCode, Span};
    use std::collections::{HashMap, HashSet};

    const NOW: u64 = 1_795_292_629_616_439_909;

    fn spans(d: &Demo) -> Vec<(&str, &Span)> {
        d.traces
            .resource_spans
            .iter()
            .flat_map(|r| {
                let service = otlp::service_name(r.resource.as_ref()).unwrap_or("");
                r.scope_spans
                    .iter()
                    .flat_map(move |ss| ss.spans.iter().map(move |sp| (service, sp)))
            })
            .collect()
    }

    fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
        attrs.iter().find(|a| a.key == key).and_then(|a| {
            match a.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            }
        })
    }

    fn valid(id: &[u8], len: usize) -> bool {
        id.len() == len && id.iter().any(|b| *b != 0)
    }

    #[test]
    fn requests_are_well_formed() {
        let d = build(NOW, 42);
        let all = spans(&d);
        let by_id: HashMap<(&[u8], &[u8]), &Span> = all
            .iter()
            .map(|(_, s)| ((s.trace_id.as_slice(), s.span_id.as_slice()), *s))
            .collect();
        assert_eq!(by_id.len(), all.len(), "span IDs are unique");
        let oldest = NOW - 10 * 60 * NS_PER_S;
        for (service, span) in &all {
            assert!(valid(&span.trace_id, 16), "{}: trace id", span.name);
            assert!(valid(&span.span_id, 8), "{}: span id", span.name);
            assert!(
                span.start_time_unix_nano > oldest
                    && span.start_time_unix_nano < span.end_time_unix_nano
                    && span.end_time_unix_nano < NOW,
                "{}: times",
                span.name
            );
            if !span.parent_span_id.is_empty() {
                let parent = by_id
                    .get(&(span.trace_id.as_slice(), span.parent_span_id.as_slice()))
                    .unwrap_or_else(|| panic!("{}: parent exists", span.name));
                assert!(parent.start_time_unix_nano <= span.start_time_unix_nano);
            }
            for link in &span.links {
                assert!(valid(&link.trace_id, 16) && valid(&link.span_id, 8));
                assert!(
                    by_id.contains_key(&(link.trace_id.as_slice(), link.span_id.as_slice())),
                    "{}: link target exists",
                    span.name
                );
            }
            if *service == "kestra" && span.name.contains(" - io.kestra.") {
                for key in [
                    "kestra.namespace",
                    "kestra.flowId",
                    "kestra.executionId",
                    "kestra.taskId",
                    "kestra.taskRunId",
                ] {
                    assert!(
                        attr(&span.attributes, key).is_some(),
                        "{}: {key}",
                        span.name
                    );
                }
            }
        }

        // Services and the main trace's shape.
        let services: HashSet<&str> = all.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            services,
            HashSet::from(["upstream", "kestra-webserver", "kestra", "downstream"])
        );
        let main: Vec<&Span> = all
            .iter()
            .filter(|(_, s)| s.trace_id == d.main_trace_id)
            .map(|(_, s)| *s)
            .collect();
        let roots: Vec<&&Span> = main
            .iter()
            .filter(|s| s.parent_span_id.is_empty())
            .collect();
        assert_eq!(roots.len(), 1);
        assert!(roots[0]
            .name
            .starts_with("POST /api/v1/executions/company.team/orders_pipeline"));
        let flows: HashSet<&str> = main
            .iter()
            .filter_map(|s| attr(&s.attributes, "kestra.flowId"))
            .collect();
        assert_eq!(flows, HashSet::from([MAIN_FLOW, SUBFLOW]));
        let downstream = all
            .iter()
            .find(|(svc, s)| *svc == "downstream" && s.kind == SpanKind::Server as i32)
            .expect("downstream server span")
            .1;
        let client = by_id[&(
            downstream.trace_id.as_slice(),
            downstream.parent_span_id.as_slice(),
        )];
        assert_eq!(client.kind, SpanKind::Client as i32);
        assert_eq!(downstream.trace_id, d.main_trace_id);

        // ForEachItem links: three other traces, each root linking to it.
        let for_each = main
            .iter()
            .find(|s| s.name == "EXECUTOR - io.kestra.plugin.core.flow.ForEachItem")
            .expect("ForEachItem span");
        let mut linked = HashSet::new();
        for (_, s) in &all {
            for l in &s.links {
                assert_eq!(l.span_id, for_each.span_id);
                assert_eq!(attr(&l.attributes, "kestra.link"), Some("foreach-item"));
                assert!(s.parent_span_id.is_empty(), "links are on roots");
                linked.insert(s.trace_id.clone());
            }
        }
        let items: HashSet<Vec<u8>> = d.item_trace_ids.iter().map(|t| t.to_vec()).collect();
        assert_eq!(linked, items);
        assert!(!items.contains(d.main_trace_id.as_slice()));

        // The failed task.
        let failed: Vec<&&Span> = main
            .iter()
            .filter(|s| {
                s.status
                    .as_ref()
                    .is_some_and(|st| st.code == StatusCode::Error as i32)
            })
            .collect();
        assert_eq!(failed.len(), 1);
        let failed = failed[0];
        assert_eq!(failed.span_id, d.failed_span_id);
        assert!(!failed.status.as_ref().unwrap().message.is_empty());
        let ev = failed
            .events
            .iter()
            .find(|e| e.name == "exception")
            .expect("exception event");
        for key in [
            "exception.type",
            "exception.message",
            "exception.stacktrace",
        ] {
            assert!(attr(&ev.attributes, key).is_some(), "{key}");
        }

        // Logs: the ERROR one belongs to the failed span; others to existing spans or none.
        let records: Vec<&LogRecord> = d
            .logs
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .collect();
        let errors: Vec<&&LogRecord> = records
            .iter()
            .filter(|r| r.severity_number == SeverityNumber::Error as i32)
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].trace_id, d.main_trace_id);
        assert_eq!(errors[0].span_id, d.failed_span_id);
        let mut without_context = 0;
        for r in &records {
            assert!(r.time_unix_nano > oldest && r.time_unix_nano < NOW);
            if r.trace_id.is_empty() {
                assert!(r.span_id.is_empty());
                without_context += 1;
            } else {
                assert!(by_id.contains_key(&(r.trace_id.as_slice(), r.span_id.as_slice())));
            }
        }
        assert_eq!(without_context, 1);
        assert!(
            records
                .iter()
                .filter(|r| r.severity_number == SeverityNumber::Info as i32)
                .count()
                >= 4
        );

        // Metrics.
        assert_eq!(
            d.metric_names(),
            [STARTED_COUNT, JOB_DURATION, RUNNING_COUNT]
        );
        let metrics = &d.metrics.resource_metrics[0].scope_metrics[0].metrics;
        for m in metrics {
            match m.data.as_ref().expect("data") {
                Data::Sum(sum) => {
                    assert!(sum.is_monotonic);
                    assert_eq!(
                        sum.aggregation_temporality,
                        AggregationTemporality::Cumulative as i32
                    );
                    let mut last: HashMap<String, f64> = HashMap::new();
                    for p in &sum.data_points {
                        let flow = attr(&p.attributes, "flowId").expect("flowId").to_string();
                        assert_eq!(attr(&p.attributes, "namespace"), Some(NAMESPACE));
                        let Some(number_data_point::Value::AsDouble(v)) = p.value else {
                            panic!("double")
                        };
                        assert!(v >= *last.get(&flow).unwrap_or(&0.0), "monotonic");
                        last.insert(flow, v);
                    }
                }
                Data::Histogram(h) => {
                    assert_eq!(m.unit, "ms");
                    assert!(h.data_points.len() >= 3 * 10);
                    for p in &h.data_points {
                        assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
                        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                        assert!(p.time_unix_nano <= NOW && p.time_unix_nano > oldest);
                        assert!(attr(&p.attributes, "flowId").is_some());
                    }
                }
                Data::Gauge(g) => assert!(!g.data_points.is_empty()),
                _ => panic!("unexpected metric type"),
            }
        }
    }

    #[test]
    fn runs_do_not_collide_but_metrics_repeat() {
        let a = build(NOW, 1);
        let b = build(NOW, 2);
        let ids = |d: &Demo| -> HashSet<Vec<u8>> {
            spans(d)
                .iter()
                .flat_map(|(_, s)| [s.trace_id.clone(), s.span_id.clone()])
                .collect()
        };
        assert!(ids(&a).is_disjoint(&ids(&b)));
        assert_ne!(a.main_execution_id, b.main_execution_id);
        assert_eq!(a.main_execution_id.len(), 22);
        // Same run, same requests; metric points depend on time alone.
        assert_eq!(build(NOW, 1).traces, a.traces);
        assert_eq!(a.metrics, b.metrics);
        assert_ne!(fresh_run_id(), fresh_run_id());
    }

    #[test]
    fn repeated_runs_slow_down_one_task() {
        let dur = |d: &Demo, name: &str| -> u64 {
            let (_, s) = spans(d)
                .into_iter()
                .find(|(_, s)| s.span_id[..] == d.failed_span_id[..])
                .unwrap_or_else(|| panic!("{name}"));
            s.end_time_unix_nano - s.start_time_unix_nano
        };
        let first = build_nth(NOW, 1, 0);
        let second = build_nth(NOW, 2, 1);
        assert_eq!(first.traces, build(NOW, 1).traces);
        let (a, b) = (dur(&first, "first"), dur(&second, "second"));
        let ms = 1_000_000;
        assert!(b > a && b - a > 1_400 * ms && b - a < 1_600 * ms, "{a} {b}");
    }
}
