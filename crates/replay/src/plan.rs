//! The replay's schedule: every span, log record and metric point with the
//! time it was exported, sorted, cut into requests of items that were
//! exported close together, each with its offset from the first. Items keep
//! their resource and scope, regrouped per request as an exporter would.
//! A metric is cut by point time, so a series recorded every 15 s arrives
//! every 15 s (as a periodic reader sends it), not all at its last point.

use std::collections::{BTreeMap, HashMap};

use loupe_model::otlp::common::InstrumentationScope;
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::metrics::{Metric, ResourceMetrics, ScopeMetrics};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::sink::Batch;

use crate::shift::{self, log_at, span_at};

/// Items in one request, at most (a large export is several requests).
pub const MAX_ITEMS_PER_REQUEST: usize = 1000;

/// Items exported within this much replay time of each other go in one
/// request (an SDK's batch processor does the same, every few seconds).
pub const WINDOW_NS: u64 = 20_000_000;

/// One request's worth of items and when to send it.
#[derive(Debug, Clone)]
pub struct Step {
    /// Nanoseconds after the bundle's first item, in the bundle's time.
    pub offset_ns: u64,
    pub batches: Vec<Batch>,
    pub items: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Spans, log records and metric points.
    pub items: usize,
    /// The bundle's first export time (after any shift).
    pub first_ns: u64,
    /// The last item's offset from the first.
    pub span_ns: u64,
}

enum Payload {
    Span(Span),
    Log(LogRecord),
    Metric(Metric),
}

struct Item {
    /// When it was exported; 0 when it carries no time (sent with the first).
    at: u64,
    /// Spans, log records or metric points it holds.
    count: usize,
    /// Index into the envelope tables.
    resource: usize,
    scope: usize,
    payload: Payload,
}

#[derive(Default)]
struct Envelopes {
    resources: Vec<(Option<Resource>, String)>,
    scopes: Vec<(Option<InstrumentationScope>, String)>,
}

fn flatten(batches: Vec<Batch>, env: &mut Envelopes, out: &mut Vec<Item>) {
    for batch in batches {
        match batch {
            Batch::Traces(r) => {
                for rs in r.resource_spans {
                    let ri = env.resources.len();
                    env.resources.push((rs.resource, rs.schema_url));
                    for ss in rs.scope_spans {
                        let si = env.scopes.len();
                        env.scopes.push((ss.scope, ss.schema_url));
                        out.extend(ss.spans.into_iter().map(|s| Item {
                            at: span_at(&s),
                            count: 1,
                            resource: ri,
                            scope: si,
                            payload: Payload::Span(s),
                        }));
                    }
                }
            }
            Batch::Logs(r) => {
                for rl in r.resource_logs {
                    let ri = env.resources.len();
                    env.resources.push((rl.resource, rl.schema_url));
                    for sl in rl.scope_logs {
                        let si = env.scopes.len();
                        env.scopes.push((sl.scope, sl.schema_url));
                        out.extend(sl.log_records.into_iter().map(|l| Item {
                            at: log_at(&l),
                            count: 1,
                            resource: ri,
                            scope: si,
                            payload: Payload::Log(l),
                        }));
                    }
                }
            }
            Batch::Metrics(r) => {
                for rm in r.resource_metrics {
                    let ri = env.resources.len();
                    env.resources.push((rm.resource, rm.schema_url));
                    for sm in rm.scope_metrics {
                        let si = env.scopes.len();
                        env.scopes.push((sm.scope, sm.schema_url));
                        out.extend(sm.metrics.into_iter().flat_map(by_time).map(
                            |(at, count, m)| Item {
                                at,
                                count,
                                resource: ri,
                                scope: si,
                                payload: Payload::Metric(m),
                            },
                        ));
                    }
                }
            }
        }
    }
}

/// A metric as one metric per point time: (time, points, metric). A metric
/// without points is kept whole, at no time.
fn by_time(mut m: Metric) -> Vec<(u64, usize, Metric)> {
    let Some(mut data) = m.data.take() else {
        return vec![(0, 0, m)];
    };
    macro_rules! split {
        ($g:expr, $variant:ident) => {{
            let mut groups: BTreeMap<u64, Vec<_>> = BTreeMap::new();
            for p in std::mem::take(&mut $g.data_points) {
                groups.entry(p.time_unix_nano).or_default().push(p);
            }
            groups
                .into_iter()
                .map(|(at, data_points)| {
                    let mut g = $g.clone();
                    let count = data_points.len();
                    g.data_points = data_points;
                    let mut one = m.clone();
                    one.data = Some(Data::$variant(g));
                    (at, count, one)
                })
                .collect::<Vec<_>>()
        }};
    }
    let out = match &mut data {
        Data::Gauge(g) => split!(g, Gauge),
        Data::Sum(g) => split!(g, Sum),
        Data::Histogram(g) => split!(g, Histogram),
        Data::ExponentialHistogram(g) => split!(g, ExponentialHistogram),
        Data::Summary(g) => split!(g, Summary),
    };
    if out.is_empty() {
        m.data = Some(data);
        return vec![(0, 0, m)];
    }
    out
}

/// The requests of one step, items grouped by resource and scope in their order.
fn requests(items: Vec<Item>, env: &Envelopes) -> Vec<Batch> {
    let mut traces = ExportTraceServiceRequest::default();
    let mut logs = ExportLogsServiceRequest::default();
    let mut metrics = ExportMetricsServiceRequest::default();
    // (signal, resource) → index of its resource entry; (signal, resource,
    // scope) → index of its scope entry.
    let mut res_at: HashMap<(u8, usize), usize> = HashMap::new();
    let mut scope_at: HashMap<(u8, usize, usize), usize> = HashMap::new();
    let resource = |i: usize| env.resources[i].clone();
    let scope = |i: usize| env.scopes[i].clone();
    for it in items {
        match it.payload {
            Payload::Span(s) => {
                let r = *res_at.entry((0, it.resource)).or_insert_with(|| {
                    let (resource, schema_url) = resource(it.resource);
                    traces.resource_spans.push(ResourceSpans {
                        resource,
                        schema_url,
                        scope_spans: Vec::new(),
                    });
                    traces.resource_spans.len() - 1
                });
                let rs = &mut traces.resource_spans[r];
                let k = *scope_at
                    .entry((0, it.resource, it.scope))
                    .or_insert_with(|| {
                        let (scope, schema_url) = scope(it.scope);
                        rs.scope_spans.push(ScopeSpans {
                            scope,
                            schema_url,
                            spans: Vec::new(),
                        });
                        rs.scope_spans.len() - 1
                    });
                rs.scope_spans[k].spans.push(s);
            }
            Payload::Log(l) => {
                let r = *res_at.entry((1, it.resource)).or_insert_with(|| {
                    let (resource, schema_url) = resource(it.resource);
                    logs.resource_logs.push(ResourceLogs {
                        resource,
                        schema_url,
                        scope_logs: Vec::new(),
                    });
                    logs.resource_logs.len() - 1
                });
                let rl = &mut logs.resource_logs[r];
                let k = *scope_at
                    .entry((1, it.resource, it.scope))
                    .or_insert_with(|| {
                        let (scope, schema_url) = scope(it.scope);
                        rl.scope_logs.push(ScopeLogs {
                            scope,
                            schema_url,
                            log_records: Vec::new(),
                        });
                        rl.scope_logs.len() - 1
                    });
                rl.scope_logs[k].log_records.push(l);
            }
            Payload::Metric(m) => {
                let r = *res_at.entry((2, it.resource)).or_insert_with(|| {
                    let (resource, schema_url) = resource(it.resource);
                    metrics.resource_metrics.push(ResourceMetrics {
                        resource,
                        schema_url,
                        scope_metrics: Vec::new(),
                    });
                    metrics.resource_metrics.len() - 1
                });
                let rm = &mut metrics.resource_metrics[r];
                let k = *scope_at
                    .entry((2, it.resource, it.scope))
                    .or_insert_with(|| {
                        let (scope, schema_url) = scope(it.scope);
                        rm.scope_metrics.push(ScopeMetrics {
                            scope,
                            schema_url,
                            metrics: Vec::new(),
                        });
                        rm.scope_metrics.len() - 1
                    });
                rm.scope_metrics[k].metrics.push(m);
            }
        }
    }
    let mut out = Vec::new();
    if !traces.resource_spans.is_empty() {
        out.push(Batch::Traces(traces));
    }
    if !logs.resource_logs.is_empty() {
        out.push(Batch::Logs(logs));
    }
    if !metrics.resource_metrics.is_empty() {
        out.push(Batch::Metrics(metrics));
    }
    out
}

/// Cuts the batches into steps. `window_ns` is how far apart (in the
/// bundle's time) items of one request may be exported: `None` for as fast
/// as possible (requests are then only cut by size). With `shift_to`,
/// every timestamp moves by one amount so that the first export is then.
pub fn plan(batches: Vec<Batch>, window_ns: Option<u64>, shift_to: Option<u64>) -> Plan {
    let mut env = Envelopes::default();
    let mut items = Vec::new();
    flatten(batches, &mut env, &mut items);
    // Items without a time go with the first that has one: a zero is
    // "unset", not 1970, and must not stretch the replay over decades.
    let mut first = items
        .iter()
        .map(|i| i.at)
        .filter(|&t| t != 0)
        .min()
        .unwrap_or(0);
    if let Some(to) = shift_to.filter(|_| first != 0) {
        let delta = i128::from(to) - i128::from(first);
        for it in &mut items {
            it.at = shift::moved(it.at, delta);
            match &mut it.payload {
                Payload::Span(s) => shift::span(s, delta),
                Payload::Log(l) => shift::log(l, delta),
                Payload::Metric(m) => shift::metric(m, delta),
            }
        }
        first = shift::moved(first, delta);
    }
    for it in &mut items {
        it.at = it.at.max(first);
    }
    // Stable: items exported at the same time keep their file order.
    items.sort_by_key(|i| i.at);
    let total = items.iter().map(|i| i.count).sum();
    let mut steps = Vec::new();
    let mut cur: Vec<Item> = Vec::new();
    let mut cur_count = 0;
    let mut cur_at = first;
    let flush = |cur: &mut Vec<Item>, count: &mut usize, at: u64, steps: &mut Vec<Step>| {
        if cur.is_empty() {
            return;
        }
        steps.push(Step {
            offset_ns: at - first,
            batches: requests(std::mem::take(cur), &env),
            items: std::mem::take(count),
        });
    };
    for it in items {
        let far = window_ns.is_some_and(|w| it.at - cur_at > w);
        if !cur.is_empty() && (far || cur_count + it.count > MAX_ITEMS_PER_REQUEST) {
            flush(&mut cur, &mut cur_count, cur_at, &mut steps);
        }
        if cur.is_empty() {
            cur_at = it.at;
        }
        cur_count += it.count;
        cur.push(it);
    }
    flush(&mut cur, &mut cur_count, cur_at, &mut steps);
    let span_ns = steps.last().map_or(0, |s| s.offset_ns);
    Plan {
        steps,
        items: total,
        first_ns: first,
        span_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::common::{any_value, AnyValue, KeyValue};
    use loupe_model::otlp::metrics::{Gauge, NumberDataPoint};

    const S: u64 = 1_000_000_000;

    fn resource(name: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(name.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn span(name: &str, start: u64, end: u64) -> Span {
        Span {
            name: name.into(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Default::default()
        }
    }

    fn traces(service: &str, spans: Vec<Span>) -> Batch {
        Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(service),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn names(step: &Step) -> Vec<(String, Vec<String>)> {
        step.batches
            .iter()
            .flat_map(|b| match b {
                Batch::Traces(r) => r.resource_spans.clone(),
                _ => Vec::new(),
            })
            .map(|rs| {
                let service = match &rs.resource.unwrap().attributes[0].value {
                    Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }) => s.clone(),
                    _ => String::new(),
                };
                let spans = rs.scope_spans[0].spans.iter().map(|s| s.name.clone());
                (service, spans.collect())
            })
            .collect()
    }

    #[test]
    fn spans_go_out_as_they_ended_grouped_by_resource() {
        let t0 = 1_700_000_000 * S;
        let batches = vec![
            traces(
                "api",
                vec![span("root", t0, t0 + 5 * S), span("a", t0, t0 + S)],
            ),
            traces(
                "worker",
                vec![span("b", t0 + S, t0 + S + 1000), span("unset", 0, 0)],
            ),
        ];
        let p = plan(batches, Some(WINDOW_NS), None);
        assert_eq!(p.items, 4);
        assert_eq!(p.first_ns, t0 + S);
        let offsets: Vec<u64> = p.steps.iter().map(|s| s.offset_ns).collect();
        assert_eq!(offsets, vec![0, 4 * S]);
        assert_eq!(p.span_ns, 4 * S);
        // "a" and "b" ended within the window: one request, each under its
        // own resource; the span with no time goes first, with the first.
        assert_eq!(
            names(&p.steps[0]),
            vec![
                ("api".to_string(), vec!["a".to_string()]),
                (
                    "worker".to_string(),
                    vec!["unset".to_string(), "b".to_string()]
                ),
            ]
        );
        assert_eq!(
            names(&p.steps[1]),
            vec![("api".into(), vec!["root".into()])]
        );
        // At max speed only size cuts requests.
        let p = plan(
            vec![traces(
                "api",
                (0..2500).map(|i| span("s", i * S, i * S + 1)).collect(),
            )],
            None,
            None,
        );
        let sizes: Vec<usize> = p.steps.iter().map(|s| s.items).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }

    #[test]
    fn shifting_moves_everything_by_one_amount() {
        let t0 = 1_000 * S;
        let batches = vec![traces(
            "api",
            vec![
                span("root", t0, t0 + 3 * S),
                span("child", t0 + S, t0 + 2 * S),
            ],
        )];
        let now = 2_000_000 * S;
        let p = plan(batches, Some(WINDOW_NS), Some(now));
        assert_eq!(p.first_ns, now);
        let spans: Vec<(String, u64, u64)> = p
            .steps
            .iter()
            .flat_map(|s| &s.batches)
            .flat_map(|b| match b {
                Batch::Traces(r) => r.resource_spans[0].scope_spans[0].spans.clone(),
                _ => Vec::new(),
            })
            .map(|s| (s.name, s.start_time_unix_nano, s.end_time_unix_nano))
            .collect();
        assert_eq!(
            spans,
            vec![
                ("child".into(), now - S, now),
                ("root".into(), now - 2 * S, now + S),
            ]
        );
    }

    #[test]
    fn a_metric_is_sent_point_time_by_point_time() {
        let point = |t: u64, v: f64| NumberDataPoint {
            time_unix_nano: t,
            value: Some(loupe_model::otlp::metrics::number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        let metric = Metric {
            name: "queue.depth".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point(30 * S, 3.0), point(15 * S, 1.0), point(15 * S, 2.0)],
            })),
            ..Default::default()
        };
        let batch = Batch::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource("worker"),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![metric],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let p = plan(vec![batch], Some(WINDOW_NS), None);
        assert_eq!(p.items, 3);
        let got: Vec<(u64, usize, Vec<u64>)> = p
            .steps
            .iter()
            .map(|s| {
                let Batch::Metrics(r) = &s.batches[0] else {
                    panic!("metrics")
                };
                let m = &r.resource_metrics[0].scope_metrics[0].metrics[0];
                assert_eq!(m.name, "queue.depth");
                let Some(Data::Gauge(g)) = &m.data else {
                    panic!("gauge")
                };
                let times = g.data_points.iter().map(|p| p.time_unix_nano).collect();
                (s.offset_ns, s.items, times)
            })
            .collect();
        assert_eq!(
            got,
            vec![(0, 2, vec![15 * S, 15 * S]), (15 * S, 1, vec![30 * S])]
        );
    }
}
