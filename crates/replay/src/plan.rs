//! The replay's schedule: every span, log record and metric with the time
//! it was exported, sorted, cut into requests of items that were exported
//! close together, each with its offset from the first. Items keep their
//! resource and scope, regrouped per request as an exporter would.

use std::collections::HashMap;

use loupe_model::otlp::common::InstrumentationScope;
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{Metric, ResourceMetrics, ScopeMetrics};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::sink::Batch;

use crate::shift::{log_at, metric_at, span_at};

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
    at: u64,
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
                        out.extend(sm.metrics.into_iter().map(|m| Item {
                            at: metric_at(&m),
                            resource: ri,
                            scope: si,
                            payload: Payload::Metric(m),
                        }));
                    }
                }
            }
        }
    }
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
/// as possible (requests are then only cut by size).
pub fn plan(batches: Vec<Batch>, window_ns: Option<u64>) -> Plan {
    let mut env = Envelopes::default();
    let mut items = Vec::new();
    flatten(batches, &mut env, &mut items);
    // Stable: items exported at the same time keep their file order.
    items.sort_by_key(|i| i.at);
    let first = items.first().map_or(0, |i| i.at);
    let total = items.len();
    let mut steps = Vec::new();
    let mut cur: Vec<Item> = Vec::new();
    let mut cur_at = first;
    let flush = |cur: &mut Vec<Item>, at: u64, steps: &mut Vec<Step>| {
        if cur.is_empty() {
            return;
        }
        let n = cur.len();
        steps.push(Step {
            offset_ns: at - first,
            batches: requests(std::mem::take(cur), &env),
            items: n,
        });
    };
    for it in items {
        let far = window_ns.is_some_and(|w| it.at - cur_at > w);
        if !cur.is_empty() && (far || cur.len() >= MAX_ITEMS_PER_REQUEST) {
            flush(&mut cur, cur_at, &mut steps);
        }
        if cur.is_empty() {
            cur_at = it.at;
        }
        cur.push(it);
    }
    flush(&mut cur, cur_at, &mut steps);
    let span_ns = steps.last().map_or(0, |s| s.offset_ns);
    Plan {
        steps,
        items: total,
        first_ns: first,
        span_ns,
    }
}
