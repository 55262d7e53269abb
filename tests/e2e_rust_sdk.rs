//! End-to-end: the official OpenTelemetry Rust SDK (`opentelemetry_sdk` with
//! the `opentelemetry-otlp` exporters) sends a Kestra-shaped workload of
//! traces, metrics and logs to a real `loupe serve`, over OTLP/gRPC (tonic,
//! gzip) and over OTLP/HTTP protobuf, and it must come back intact through
//! Loupe's JSON API. The Node SDK's equivalent is tests/e2e_node.rs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use common::Loupe;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Link, Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{
    Compression, LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig as _,
    WithTonicConfig as _,
};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_over_otlp_grpc_gzip() {
    run(Transport::Grpc).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_over_otlp_http_protobuf() {
    run(Transport::Http).await;
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    Http,
}

async fn run(transport: Transport) {
    let started = Instant::now();
    let loupe = Loupe::start();
    let (grpc, http) = (loupe.grpc, loupe.http);
    // The SDK blocks (batch processors, shutdown); keep that off the async
    // workers. Blocking-pool threads still see the runtime tonic needs.
    let w = tokio::task::spawn_blocking(move || workload(transport, grpc, http))
        .await
        .expect("workload");
    let ctx = format!("[{transport:?}]");

    check_traces(&loupe, &w, &ctx).await;
    check_related(&loupe, &w, &ctx).await;
    check_logs(&loupe, &w, &ctx).await;
    check_metrics(&loupe, &ctx).await;

    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "{ctx} e2e run took {took:?}"
    );
}

// ---------------------------------------------------------------------------
// The workload, through the SDK.
// ---------------------------------------------------------------------------

const NS: &str = "company.team";
const EXEC: &str = "4wjLnd0yS6DmMYBGbFFPkx";
const FAILURE: &str = "Command failed with exit code 1";

/// A span as the workload made it.
struct WantSpan {
    trace_id: String,
    span_id: String,
    parent_id: String,
    name: &'static str,
    kind: i64,
    service: &'static str,
    scope: &'static str,
    attrs: BTreeMap<String, Value>,
}

/// What the workload sent, for the checks.
struct Sent {
    spans: Vec<WantSpan>,
    main: String,
    for_each: String,
    failed: String,
    /// (trace ID, root span ID) of each ForEachItem child execution.
    items: Vec<(String, String)>,
}

fn resource(service: &'static str) -> Resource {
    Resource::builder()
        .with_service_name(service)
        .with_attribute(KeyValue::new("service.instance.id", "standalone-1"))
        .build()
}

fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version("0.23.4")
        .build()
}

fn span_exporter(t: Transport, grpc: SocketAddr, http: SocketAddr) -> SpanExporter {
    match t {
        Transport::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{grpc}"))
            .with_compression(Compression::Gzip)
            .build(),
        Transport::Http => SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("http://{http}/v1/traces"))
            .build(),
    }
    .expect("span exporter")
}

fn log_exporter(t: Transport, grpc: SocketAddr, http: SocketAddr) -> LogExporter {
    match t {
        Transport::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{grpc}"))
            .with_compression(Compression::Gzip)
            .build(),
        Transport::Http => LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("http://{http}/v1/logs"))
            .build(),
    }
    .expect("log exporter")
}

fn metric_exporter(t: Transport, grpc: SocketAddr, http: SocketAddr) -> MetricExporter {
    match t {
        Transport::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{grpc}"))
            .with_compression(Compression::Gzip)
            .build(),
        Transport::Http => MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("http://{http}/v1/metrics"))
            .build(),
    }
    .expect("metric exporter")
}

fn tracer_provider(
    service: &'static str,
    t: Transport,
    g: SocketAddr,
    h: SocketAddr,
) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_resource(resource(service))
        .with_batch_exporter(span_exporter(t, g, h))
        .build()
}

/// `kestra.namespace`, `kestra.flowId`, `kestra.executionId` and `extra`.
fn kestra(flow: &str, exec: &str, extra: &[(&'static str, &'static str)]) -> Vec<KeyValue> {
    let mut v = vec![
        KeyValue::new("kestra.namespace", NS),
        KeyValue::new("kestra.flowId", flow.to_string()),
        KeyValue::new("kestra.executionId", exec.to_string()),
    ];
    v.extend(extra.iter().map(|(k, x)| KeyValue::new(*k, *x)));
    v
}

/// An SDK attribute value as the API's canonical form (see `attrs_of`).
fn sdk_value(v: &opentelemetry::Value) -> Value {
    match v {
        opentelemetry::Value::Bool(b) => json!(b),
        opentelemetry::Value::I64(i) => json!(i),
        opentelemetry::Value::F64(f) => json!(f),
        opentelemetry::Value::String(s) => json!(s.as_str()),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

/// Starts a span under `parent`, records what is expected of it, and returns
/// a context holding it.
#[allow(clippy::too_many_arguments)]
fn start(
    want: &mut Vec<WantSpan>,
    (tracer, service, scope): (&SdkTracer, &'static str, &'static str),
    parent: &Context,
    name: &'static str,
    kind: SpanKind,
    attrs: Vec<KeyValue>,
    links: Vec<Link>,
) -> Context {
    let kind_num = match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    };
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attrs.clone())
        .with_links(links)
        .start_with_context(tracer, parent);
    let sc = span.span_context().clone();
    let parent_id = if parent.has_active_span() {
        parent.span().span_context().span_id().to_string()
    } else {
        String::new()
    };
    want.push(WantSpan {
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        parent_id,
        name,
        kind: kind_num,
        service,
        scope,
        attrs: attrs
            .iter()
            .map(|kv| (kv.key.to_string(), sdk_value(&kv.value)))
            .collect(),
    });
    parent.with_span(span)
}

fn ids(cx: &Context) -> (String, String) {
    let sc = cx.span().span_context().clone();
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

const EXECUTOR: &str = "io.kestra.core.runners.Executor";
const WORKER: &str = "io.kestra.core.runners.Worker";
const METRICS: &str = "io.kestra.core.metrics.MetricRegistry";

fn workload(t: Transport, g: SocketAddr, h: SocketAddr) -> Sent {
    let web_tp = tracer_provider("kestra-webserver", t, g, h);
    let kestra_tp = tracer_provider("kestra", t, g, h);
    let logs = SdkLoggerProvider::builder()
        .with_resource(resource("kestra"))
        .with_batch_exporter(log_exporter(t, g, h))
        .build();
    let meters = SdkMeterProvider::builder()
        .with_resource(resource("kestra"))
        .with_periodic_exporter(metric_exporter(t, g, h))
        .build();

    let web = web_tp.tracer_with_scope(scope("io.micronaut.http.server"));
    let executor = kestra_tp.tracer_with_scope(scope(EXECUTOR));
    let worker = kestra_tp.tracer_with_scope(scope(WORKER));
    let web = (&web, "kestra-webserver", "io.micronaut.http.server");
    let executor = (&executor, "kestra", EXECUTOR);
    let worker = (&worker, "kestra", WORKER);
    let logger = logs.logger_with_scope(scope(WORKER));
    let meter = meters.meter_with_scope(scope(METRICS));
    let ended = meter
        .u64_counter("kestra.executor.execution.end.count")
        .with_unit("{execution}")
        .with_description("Executions ended")
        .build();
    let durations = meter
        .f64_histogram("kestra.worker.job.duration")
        .with_unit("s")
        .with_description("Worker job duration")
        .build();

    let mut want = Vec::new();
    let w = &mut want;
    let root = Context::new();

    let mut api_attrs = kestra("parent", EXEC, &[]);
    api_attrs.extend([
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("http.route", "/api/v1/executions/{namespace}/{flowId}"),
        KeyValue::new("http.response.status_code", 200i64),
    ]);
    let api = start(
        w,
        web,
        &root,
        "POST /api/v1/executions/company.team/parent",
        SpanKind::Server,
        api_attrs,
        vec![],
    );
    let subflow = start(
        w,
        executor,
        &api,
        "EXECUTOR - io.kestra.plugin.core.flow.Subflow",
        SpanKind::Internal,
        kestra("parent", EXEC, &[("kestra.taskId", "subflow")]),
        vec![],
    );
    for task in ["log_start", "log_end"] {
        let log = start(
            w,
            worker,
            &subflow,
            "WORKER - io.kestra.plugin.core.log.Log",
            SpanKind::Internal,
            kestra("parent", EXEC, &[("kestra.taskId", task)]),
            vec![],
        );
        durations.record(
            0.25,
            &[KeyValue::new(
                "kestra.taskType",
                "io.kestra.plugin.core.log.Log",
            )],
        );
        log.span().end();
    }

    // The failed task: exception event, error status, an ERROR log in its context.
    let failed = start(
        w,
        worker,
        &subflow,
        "WORKER - io.kestra.plugin.scripts.shell.Commands",
        SpanKind::Internal,
        kestra("parent", EXEC, &[("kestra.taskId", "charge")]),
        vec![],
    );
    failed.span().add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "io.kestra.core.exceptions.TaskException"),
            KeyValue::new("exception.message", FAILURE),
            KeyValue::new(
                "exception.stacktrace",
                "io.kestra.core.exceptions.TaskException: Command failed with exit code 1\n\tat io.kestra.plugin.scripts.exec.scripts.runners.CommandsWrapper.run(CommandsWrapper.java:185)",
            ),
        ],
    );
    failed.span().set_status(Status::error(FAILURE));
    let fsc = failed.span().span_context().clone();
    let mut rec = logger.create_log_record();
    rec.set_timestamp(SystemTime::now());
    rec.set_severity_number(Severity::Error);
    rec.set_severity_text("ERROR");
    rec.set_body(AnyValue::from(format!(
        "{FAILURE}: payment gateway refused order 1042"
    )));
    rec.add_attribute("kestra.executionId", EXEC);
    rec.add_attribute("kestra.taskId", "charge");
    rec.set_trace_context(fsc.trace_id(), fsc.span_id(), Some(fsc.trace_flags()));
    logger.emit(rec);
    durations.record(
        1.5,
        &[KeyValue::new(
            "kestra.taskType",
            "io.kestra.plugin.scripts.shell.Commands",
        )],
    );
    failed.span().end();

    // ForEachItem: each child execution is a trace of its own whose root links here.
    let for_each = start(
        w,
        executor,
        &subflow,
        "EXECUTOR - io.kestra.plugin.core.flow.ForEachItem",
        SpanKind::Internal,
        kestra("parent", EXEC, &[("kestra.taskId", "each")]),
        vec![],
    );
    let link_to = for_each.span().span_context().clone();
    let mut items = Vec::new();
    for (i, exec) in ["exec-item-0", "exec-item-1"].into_iter().enumerate() {
        let mut attrs = kestra("item", exec, &[]);
        attrs.push(KeyValue::new("kestra.forEachItem.index", i as i64));
        let item = start(
            w,
            executor,
            &root,
            "EXECUTOR - io.kestra.plugin.core.flow.Sequential",
            SpanKind::Internal,
            attrs,
            vec![Link::new(
                link_to.clone(),
                vec![KeyValue::new("kestra.link", "foreach-item")],
                0,
            )],
        );
        let log = start(
            w,
            worker,
            &item,
            "WORKER - io.kestra.plugin.core.log.Log",
            SpanKind::Internal,
            kestra("item", exec, &[("kestra.taskId", "log")]),
            vec![],
        );
        log.span().end();
        item.span().end();
        items.push(ids(&item));
        let state = [
            KeyValue::new("kestra.namespace", NS),
            KeyValue::new("kestra.flowId", "item"),
        ];
        ended.add(1, &state);
    }
    for_each.span().end();
    subflow.span().end();
    api.span().end();
    ended.add(
        1,
        &[
            KeyValue::new("kestra.namespace", NS),
            KeyValue::new("kestra.flowId", "parent"),
        ],
    );

    // An INFO record outside any span.
    let mut rec = logger.create_log_record();
    rec.set_timestamp(SystemTime::now());
    rec.set_severity_number(Severity::Info);
    rec.set_severity_text("INFO");
    rec.set_body(AnyValue::from("Executor started"));
    logger.emit(rec);

    // Loupe answers only after commit: once these return, the data is queryable.
    web_tp
        .shutdown()
        .expect("shut down the webserver tracer provider");
    kestra_tp
        .shutdown()
        .expect("shut down the kestra tracer provider");
    logs.shutdown().expect("shut down the logger provider");
    meters.shutdown().expect("shut down the meter provider");

    Sent {
        main: ids(&api).0,
        for_each: ids(&for_each).1,
        failed: ids(&failed).1,
        items,
        spans: want,
    }
}

// ---------------------------------------------------------------------------
// Reading the API's OTLP/JSON.
// ---------------------------------------------------------------------------

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// An integer given as a number or a decimal string, 0 when absent.
fn n(v: &Value, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::Number(x)) => x.as_i64().expect("integer"),
        Some(Value::String(x)) => x.parse().unwrap_or_else(|_| panic!("{key}: {x:?}")),
        _ => 0,
    }
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// OTLP `attributes` → key → plain JSON value (ints from their string form).
fn attrs_of(v: &Value) -> BTreeMap<String, Value> {
    arr(v, "attributes")
        .iter()
        .map(|kv| {
            let x = &kv["value"];
            let plain = if let Some(i) = x.get("intValue") {
                json!(n(&json!({ "i": i }), "i"))
            } else {
                ["stringValue", "boolValue", "doubleValue"]
                    .iter()
                    .find_map(|k| x.get(*k).cloned())
                    .unwrap_or_else(|| panic!("unexpected value {x}"))
            };
            (s(kv, "key"), plain)
        })
        .collect()
}

/// Every item of `outer` → `inner` → `items`, with its resource's service and its scope.
fn flatten(doc: &Value, outer: &str, inner: &str, items: &str) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    for r in arr(doc, outer) {
        let service = attrs_of(&r["resource"])
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for sc in arr(r, inner) {
            for x in arr(sc, items) {
                out.push((service.clone(), sc["scope"].clone(), x.clone()));
            }
        }
    }
    out
}

fn enc(x: &str) -> String {
    x.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

async fn check_traces(loupe: &Loupe, w: &Sent, ctx: &str) {
    let doc = loupe.get_json("/api/v1/services").await;
    assert_eq!(
        doc["services"],
        json!(["kestra", "kestra-webserver"]),
        "{ctx} services"
    );

    let traces: BTreeSet<&String> = w.spans.iter().map(|x| &x.trace_id).collect();
    assert_eq!(traces.len(), 3, "{ctx} the parent and two item traces");
    for trace_id in traces {
        let doc = loupe.get_json(&format!("/api/v1/traces/{trace_id}")).await;
        let seen = flatten(&doc, "resourceSpans", "scopeSpans", "spans");
        let want: Vec<&WantSpan> = w.spans.iter().filter(|x| &x.trace_id == trace_id).collect();
        assert_eq!(
            seen.len(),
            want.len(),
            "{ctx} span count of {trace_id}: {doc}"
        );
        for x in want {
            let what = format!("{ctx} span {} {:?}", x.span_id, x.name);
            let (service, scope, sp) = seen
                .iter()
                .find(|(_, _, sp)| s(sp, "spanId") == x.span_id)
                .unwrap_or_else(|| panic!("{what}: missing from {doc}"));
            assert_eq!(s(sp, "traceId"), x.trace_id, "{what}: traceId");
            assert_eq!(s(sp, "parentSpanId"), x.parent_id, "{what}: parentSpanId");
            assert_eq!(s(sp, "name"), x.name, "{what}: name");
            assert_eq!(n(sp, "kind"), x.kind, "{what}: kind");
            assert_eq!(service, x.service, "{what}: service");
            assert_eq!(s(scope, "name"), x.scope, "{what}: scope");
            assert_eq!(s(scope, "version"), "0.23.4", "{what}: scope version");
            assert_eq!(attrs_of(sp), x.attrs, "{what}: attributes");
            let (start, end) = (n(sp, "startTimeUnixNano"), n(sp, "endTimeUnixNano"));
            assert!(0 < start && start <= end, "{what}: times {start}..{end}");
        }
    }

    // The resource as the SDK built it.
    let doc = loupe.get_json(&format!("/api/v1/traces/{}", w.main)).await;
    let res = attrs_of(&doc["resourceSpans"][0]["resource"]);
    assert_eq!(
        res.get("telemetry.sdk.language"),
        Some(&json!("rust")),
        "{ctx} resource {res:?}"
    );
    assert_eq!(
        res.get("service.instance.id"),
        Some(&json!("standalone-1")),
        "{ctx} resource"
    );

    // The failed task: exception event and error status.
    let seen = flatten(&doc, "resourceSpans", "scopeSpans", "spans");
    let (_, _, failed) = seen
        .iter()
        .find(|(_, _, sp)| s(sp, "spanId") == w.failed)
        .unwrap();
    assert_eq!(
        n(&failed["status"], "code"),
        2,
        "{ctx} failed span status: {failed}"
    );
    assert_eq!(
        s(&failed["status"], "message"),
        FAILURE,
        "{ctx} status message"
    );
    let events = arr(failed, "events");
    assert_eq!(events.len(), 1, "{ctx} events: {failed}");
    assert_eq!(s(&events[0], "name"), "exception");
    let ea = attrs_of(&events[0]);
    assert_eq!(
        ea["exception.type"], "io.kestra.core.exceptions.TaskException",
        "{ctx}"
    );
    assert_eq!(ea["exception.message"], FAILURE, "{ctx}");
    assert!(ea["exception.stacktrace"]
        .as_str()
        .unwrap()
        .contains("CommandsWrapper.java"));
    let t = n(&events[0], "timeUnixNano");
    assert!(
        n(failed, "startTimeUnixNano") <= t && t <= n(failed, "endTimeUnixNano"),
        "{ctx} event time"
    );

    // The item roots: roots, each with one link to the ForEachItem span.
    for (item, root) in &w.items {
        let doc = loupe.get_json(&format!("/api/v1/traces/{item}")).await;
        let seen = flatten(&doc, "resourceSpans", "scopeSpans", "spans");
        let (_, _, r) = seen
            .iter()
            .find(|(_, _, sp)| s(sp, "spanId") == *root)
            .unwrap();
        let links = arr(r, "links");
        assert_eq!(links.len(), 1, "{ctx} links of {root}: {r}");
        assert_eq!(s(&links[0], "traceId"), w.main, "{ctx} link trace");
        assert_eq!(s(&links[0], "spanId"), w.for_each, "{ctx} link span");
        assert_eq!(
            attrs_of(&links[0]),
            BTreeMap::from([("kestra.link".to_string(), json!("foreach-item"))]),
            "{ctx} link attributes"
        );
    }

    // Searches.
    let search = |q: String| async move {
        let doc = loupe.get_json(&format!("/api/v1/traces?{q}")).await;
        arr(&doc, "traces")
            .iter()
            .map(|t| s(t, "traceId"))
            .collect::<BTreeSet<_>>()
    };
    let all: BTreeSet<String> = w
        .items
        .iter()
        .map(|x| x.0.clone())
        .chain([w.main.clone()])
        .collect();
    let q = format!(
        "service=kestra&attr={}",
        enc("kestra.namespace=company.team")
    );
    assert_eq!(search(q).await, all, "{ctx} search by namespace");
    assert_eq!(
        search("errors=true".into()).await,
        BTreeSet::from([w.main.clone()]),
        "{ctx} errors"
    );
    let q = format!("attr={}", enc("kestra.forEachItem.index>=1"));
    assert_eq!(
        search(q).await,
        BTreeSet::from([w.items[1].0.clone()]),
        "{ctx} item 1"
    );
    let doc = loupe
        .get_json("/api/v1/traces?service=kestra-webserver")
        .await;
    let t = &doc["traces"][0];
    assert_eq!(s(t, "traceId"), w.main, "{ctx} webserver trace: {doc}");
    assert_eq!(s(t, "rootService"), "kestra-webserver", "{ctx} rootService");
    assert_eq!(
        s(t, "rootName"),
        "POST /api/v1/executions/company.team/parent",
        "{ctx} rootName"
    );
    assert_eq!(n(t, "spanCount"), 6, "{ctx} spanCount");
    assert_eq!(n(t, "errorCount"), 1, "{ctx} errorCount");
}

async fn check_related(loupe: &Loupe, w: &Sent, ctx: &str) {
    let pair = |item: &str, root: &str| json!([{ "fromTraceId": item, "fromSpanId": root, "toTraceId": w.main, "toSpanId": w.for_each }]);
    let doc = loupe
        .get_json(&format!("/api/v1/traces/{}/related", w.main))
        .await;
    let related = arr(&doc, "related");
    assert_eq!(related.len(), 2, "{ctx} related of the parent: {doc}");
    for (item, root) in &w.items {
        let r = related
            .iter()
            .find(|r| s(r, "traceId") == *item)
            .unwrap_or_else(|| panic!("{ctx} {item} not related to the parent: {doc}"));
        assert_eq!(
            s(r, "direction"),
            "incoming",
            "{ctx} {item} from the parent"
        );
        assert_eq!(r["links"], pair(item, root), "{ctx} link pairs of {item}");
        assert_eq!(
            s(&r["summary"], "rootName"),
            "EXECUTOR - io.kestra.plugin.core.flow.Sequential",
            "{ctx} summary of {item}"
        );
    }

    let (item, root) = &w.items[0];
    let doc = loupe
        .get_json(&format!("/api/v1/traces/{item}/related"))
        .await;
    let related = arr(&doc, "related");
    assert_eq!(related.len(), 1, "{ctx} related of {item}: {doc}");
    assert_eq!(
        s(&related[0], "traceId"),
        w.main,
        "{ctx} parent from {item}"
    );
    assert_eq!(
        s(&related[0], "direction"),
        "outgoing",
        "{ctx} parent from {item}"
    );
    assert_eq!(
        related[0]["links"],
        pair(item, root),
        "{ctx} link pairs from {item}"
    );
    assert_eq!(
        s(&related[0]["summary"], "rootService"),
        "kestra-webserver",
        "{ctx}"
    );
}

async fn check_logs(loupe: &Loupe, w: &Sent, ctx: &str) {
    let all = loupe.get_json("/api/v1/logs").await;
    assert_eq!(
        flatten(&all, "resourceLogs", "scopeLogs", "logRecords").len(),
        2,
        "{ctx} logs: {all}"
    );

    let q = format!("/api/v1/logs?traceId={}&spanId={}", w.main, w.failed);
    let doc = loupe.get_json(&q).await;
    let logs = flatten(&doc, "resourceLogs", "scopeLogs", "logRecords");
    assert_eq!(logs.len(), 1, "{ctx} {q}: {doc}");
    let (service, scope, r) = &logs[0];
    assert_eq!(service, "kestra", "{ctx} log service");
    assert_eq!(s(scope, "name"), WORKER, "{ctx} log scope");
    assert_eq!(s(r, "traceId"), w.main, "{ctx} log traceId");
    assert_eq!(s(r, "spanId"), w.failed, "{ctx} log spanId");
    assert_eq!(n(r, "severityNumber"), 17, "{ctx} severityNumber");
    assert_eq!(s(r, "severityText"), "ERROR", "{ctx} severityText");
    assert_eq!(
        s(&r["body"], "stringValue"),
        format!("{FAILURE}: payment gateway refused order 1042"),
        "{ctx} body"
    );
    assert_eq!(
        attrs_of(r),
        BTreeMap::from([
            ("kestra.executionId".to_string(), json!(EXEC)),
            ("kestra.taskId".to_string(), json!("charge")),
        ]),
        "{ctx} log attributes"
    );
    assert!(n(r, "timeUnixNano") > 0, "{ctx} log time");

    // The same record by trace alone, and by minimum severity.
    for q in [
        format!("?traceId={}", w.main),
        "?minSeverity=ERROR".to_string(),
    ] {
        let doc = loupe.get_json(&format!("/api/v1/logs{q}")).await;
        let got = flatten(&doc, "resourceLogs", "scopeLogs", "logRecords");
        assert_eq!(got.len(), 1, "{ctx} /api/v1/logs{q}: {doc}");
        assert_eq!(s(&got[0].2, "spanId"), w.failed, "{ctx} /api/v1/logs{q}");
    }
}

async fn check_metrics(loupe: &Loupe, ctx: &str) {
    // name, type, unit, attributes → (value or count, histogram sum).
    let ended = "kestra.executor.execution.end.count";
    let duration = "kestra.worker.job.duration";
    let log = "io.kestra.plugin.core.log.Log";
    let commands = "io.kestra.plugin.scripts.shell.Commands";
    let want = [
        (
            ended,
            "sum",
            "{execution}",
            vec![
                (
                    json!({ "kestra.namespace": NS, "kestra.flowId": "parent" }),
                    1,
                    0.0,
                ),
                (
                    json!({ "kestra.namespace": NS, "kestra.flowId": "item" }),
                    2,
                    0.0,
                ),
            ],
        ),
        (
            duration,
            "histogram",
            "s",
            vec![
                (json!({ "kestra.taskType": log }), 2, 0.5),
                (json!({ "kestra.taskType": commands }), 1, 1.5),
            ],
        ),
    ];

    // The meter provider's shutdown exports synchronously; poll briefly anyway.
    let deadline = Instant::now() + Duration::from_secs(5);
    let catalogue = loop {
        let doc = loupe.get_json("/api/v1/metrics").await;
        let names: Vec<String> = arr(&doc, "metrics").iter().map(|m| s(m, "name")).collect();
        if want.iter().all(|w| names.iter().any(|x| x == w.0)) || Instant::now() > deadline {
            break doc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (name, kind, unit, points) in &want {
        let c = arr(&catalogue, "metrics")
            .iter()
            .find(|c| s(c, "name") == *name)
            .unwrap_or_else(|| panic!("{ctx} {name} not in the catalogue: {catalogue}"));
        assert_eq!(s(c, "type"), *kind, "{ctx} type of {name}");
        assert_eq!(s(c, "unit"), *unit, "{ctx} unit of {name}");
        assert_eq!(n(c, "series"), 2, "{ctx} series of {name}: {c}");

        let doc = loupe
            .get_json(&format!("/api/v1/metrics/{}", enc(name)))
            .await;
        let metrics = flatten(&doc, "resourceMetrics", "scopeMetrics", "metrics");
        assert!(!metrics.is_empty(), "{ctx} no points for {name}: {doc}");
        let mut seen = Vec::new();
        for (service, scope, m) in &metrics {
            assert_eq!(service, "kestra", "{ctx} {name} resource");
            assert_eq!(s(scope, "name"), METRICS, "{ctx} {name} scope");
            let data = &m[*kind];
            assert_eq!(
                n(data, "aggregationTemporality"),
                2,
                "{ctx} {name} cumulative: {m}"
            );
            if *kind == "sum" {
                assert_eq!(data["isMonotonic"], json!(true), "{ctx} {name} monotonic");
            }
            seen.extend(arr(data, "dataPoints").iter().cloned());
        }
        for (attrs, value, sum) in points {
            let want_attrs: BTreeMap<String, Value> =
                serde_json::from_value(attrs.clone()).unwrap();
            let p = seen
                .iter()
                .rev()
                .find(|p| attrs_of(p) == want_attrs)
                .unwrap_or_else(|| panic!("{ctx} {name}: no point with {attrs} in {doc}"));
            assert!(n(p, "timeUnixNano") > 0, "{ctx} {name} point time");
            if *kind == "sum" {
                assert_eq!(n(p, "asInt"), *value, "{ctx} {name} {attrs}: {p}");
            } else {
                assert_eq!(n(p, "count"), *value, "{ctx} {name} {attrs} count: {p}");
                let got = p["sum"].as_f64().unwrap();
                assert!((got - sum).abs() < 1e-9, "{ctx} {name} {attrs} sum: {p}");
                let buckets: i64 = arr(p, "bucketCounts")
                    .iter()
                    .map(|b| n(&json!({ "b": b }), "b"))
                    .sum();
                assert_eq!(buckets, *value, "{ctx} {name} {attrs} buckets: {p}");
            }
        }
    }
}
