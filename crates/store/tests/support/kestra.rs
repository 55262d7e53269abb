//! A Kestra-shaped workload with span links, for the linked-search tests
//! and the 1M-span benchmark (`examples/bench_linked.rs` includes this
//! file): per execution, the API call that created it (a trace of its
//! own, as when the engine does not propagate context into the
//! execution), the execution's trace whose root span links back to the
//! API call's server span, and for every fourth execution a `ForEachItem`
//! task whose three child executions are traces linking back to it. One
//! execution in 20 fails (a task with status ERROR); in another one in
//! 20, a child execution fails instead.

#![allow(dead_code)]

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::span::Link;
use loupe_model::otlp::trace::{status, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::ExportTraceServiceRequest;

pub const API_NAME: &str = "POST /api/v1/executions/{namespace}/{id}";
pub const NAMESPACE: &str = "company.team";

/// Spans one execution brings on average (2 + 12 + 9/4).
pub const SPANS_PER_EXECUTION: f64 = 16.25;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// The IDs of execution `i`'s traces: kind 0 the API call, 1 the
/// execution, 2.. its child executions.
pub fn trace_id(i: u64, kind: u8) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[0] = 0x4b;
    t[1] = kind;
    t[8..].copy_from_slice(&(i + 1).to_be_bytes());
    t
}

fn span_id(i: u64, kind: u8, n: u8) -> Vec<u8> {
    let mut s = (i + 1).to_be_bytes();
    s[0] = kind.wrapping_mul(16).wrapping_add(n).wrapping_add(1);
    s.to_vec()
}

pub fn execution_fails(i: u64) -> bool {
    i % 20 == 7
}

pub fn has_children(i: u64) -> bool {
    i.is_multiple_of(4)
}

pub fn child_fails(i: u64) -> bool {
    has_children(i) && i % 20 == 12
}

pub fn execution_id(i: u64) -> String {
    format!("exec{i:08x}")
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace: [u8; 16],
    id: Vec<u8>,
    parent: Option<Vec<u8>>,
    name: &str,
    start: u64,
    end: u64,
    attrs: Vec<KeyValue>,
    error: bool,
) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: id,
        parent_span_id: parent.unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attrs,
        status: error.then(|| Status {
            code: status::StatusCode::Error as i32,
            message: "Command failed with exit code 1".into(),
        }),
        ..Default::default()
    }
}

fn link(trace: [u8; 16], span: Vec<u8>) -> Link {
    Link {
        trace_id: trace.to_vec(),
        span_id: span,
        flags: 0x301,
        ..Default::default()
    }
}

fn resource(service: &str, scope: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(loupe_model::otlp::common::InstrumentationScope {
                name: scope.into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Execution `i`'s traces, starting at `t0` (nanoseconds).
pub fn execution(i: u64, t0: u64) -> Vec<ResourceSpans> {
    let ms = 1_000_000u64;
    let flow = if has_children(i) {
        "orders_batch"
    } else {
        "hello"
    };
    let exec = execution_id(i);
    let kestra = |task: &str, flow: &str, exec: &str| {
        vec![
            kv("kestra.namespace", NAMESPACE),
            kv("kestra.flowId", flow),
            kv("kestra.executionId", exec),
            kv("kestra.taskId", task),
        ]
    };
    let api = trace_id(i, 0);
    let upstream = span(
        api,
        span_id(i, 0, 0),
        None,
        &format!("POST /api/v1/executions/{NAMESPACE}/{flow}"),
        t0,
        t0 + 70 * ms,
        vec![kv("http.request.method", "POST")],
        false,
    );
    let web = span(
        api,
        span_id(i, 0, 1),
        Some(span_id(i, 0, 0)),
        API_NAME,
        t0 + 4 * ms,
        t0 + 66 * ms,
        vec![
            kv("http.route", "/api/v1/executions/{namespace}/{id}"),
            kv("kestra.flowId", flow),
        ],
        false,
    );
    let mut out = vec![
        resource(
            "upstream",
            "opentelemetry.instrumentation.requests",
            vec![upstream],
        ),
        resource("kestra-webserver", "io.micronaut.http.server", vec![web]),
    ];

    let ex = trace_id(i, 1);
    let mut root = span(
        ex,
        span_id(i, 1, 0),
        None,
        "EXECUTOR - io.kestra.core.models.flows.Flow",
        t0 + 200 * ms,
        t0 + 9_000 * ms,
        kestra("", flow, &exec),
        false,
    );
    root.links.push(link(api, span_id(i, 0, 1)));
    let mut spans = vec![root];
    for n in 1..12u8 {
        let (name, task) = match n {
            1 => (
                "EXECUTOR - io.kestra.plugin.core.flow.ForEachItem",
                "each_batch",
            ),
            11 => (
                "WORKER - io.kestra.plugin.scripts.shell.Commands",
                "export_report",
            ),
            _ if n % 2 == 0 => ("WORKER - io.kestra.plugin.core.log.Log", "log"),
            _ => ("WORKER - io.kestra.plugin.core.http.Request", "fetch"),
        };
        let start = t0 + (200 + 700 * n as u64) * ms;
        spans.push(span(
            ex,
            span_id(i, 1, n),
            Some(span_id(i, 1, 0)),
            name,
            start,
            start + 600 * ms,
            kestra(task, flow, &exec),
            n == 11 && execution_fails(i),
        ));
    }
    out.push(resource("kestra", "io.kestra.core.runners.Executor", spans));

    if has_children(i) {
        for c in 0..3u8 {
            let ct = trace_id(i, 2 + c);
            let child_exec = format!("{exec}c{c}");
            let start = t0 + (900 + 40 * c as u64) * ms;
            let mut croot = span(
                ct,
                span_id(i, 2 + c, 0),
                None,
                "EXECUTOR - io.kestra.plugin.core.flow.Sequential",
                start,
                start + 1_600 * ms,
                kestra("batch", "orders_item", &child_exec),
                false,
            );
            croot.links.push(link(ex, span_id(i, 1, 1)));
            let mut cs = vec![croot];
            for n in 1..3u8 {
                cs.push(span(
                    ct,
                    span_id(i, 2 + c, n),
                    Some(span_id(i, 2 + c, 0)),
                    "WORKER - io.kestra.plugin.scripts.shell.Commands",
                    start + n as u64 * 500 * ms,
                    start + (n as u64 * 500 + 400) * ms,
                    kestra("load_batch", "orders_item", &child_exec),
                    c == 1 && n == 2 && child_fails(i),
                ));
            }
            out.push(resource("kestra", "io.kestra.core.runners.Worker", cs));
        }
    }
    out
}

/// Executions `from..to`, one request.
pub fn request(from: u64, to: u64, t0: u64) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (from..to)
            .flat_map(|i| execution(i, t0 + i * 10_000_000))
            .collect(),
    }
}
