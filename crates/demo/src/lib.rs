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

pub use loupe_model::otlp;

use otlp::common::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use otlp::logs::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use otlp::metrics::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use otlp::resource::Resource;
use otlp::trace::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};
use otlp::{ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest};

pub const NAMESPACE: &str = "company.team";
/// The flow the API call starts; the main trace carries it.
pub const MAIN_FLOW: &str = "orders_pipeline";
/// The flow its Subflow task runs, in the same trace.
pub const SUBFLOW: &str = "process_orders";
/// The flow its ForEachItem task runs once per batch, each in a trace of its own.
pub const ITEM_FLOW: &str = "process_order_batch";

pub const EXECUTOR: &str = "io.kestra.core.runners.Executor";
pub const WORKER: &str = "io.kestra.core.runners.Worker";
const HTTP_CLIENT: &str = "io.kestra.core.http.client.HttpClient";
const METRICS_SCOPE: &str = "io.kestra.core.metrics.MetricRegistry";
const KESTRA_VERSION: &str = "0.24.0";

pub const STARTED_COUNT: &str = "kestra.executor.execution.started.count";
pub const JOB_DURATION: &str = "kestra.worker.job.duration";
pub const RUNNING_COUNT: &str = "kestra.worker.running.count";

/// Metric points are one per slot of this length, over the last [`SLOTS`] slots.
const SLOT_NS: u64 = 15 * NS_PER_S;
const SLOTS: u64 = 20;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
/// The main trace starts this long before `now_ns`.
const LEAD_NS: u64 = 150 * NS_PER_S;

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

/// A run id no other run of this or another process is likely to have.
pub fn fresh_run_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    mix(mix(loupe_model::time::now_ns() ^ pid.rotate_left(40)) ^ n)
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

/// How much longer the failing shell task runs in each repeated run, so
/// "compare with previous run" has a regression to name.
const SLOWER_PER_RUN_MS: f64 = 1500.0;

/// splitmix64's finalizer: a good 64-bit mix, so consecutive inputs give
/// unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// IDs of one run: every call gives a new one, all derived from the run id.
struct Ids {
    run: u64,
    n: u64,
}

impl Ids {
    fn next(&mut self) -> u64 {
        self.n += 1;
        mix(self.run ^ mix(self.n))
    }

    fn trace(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        if id == [0; 16] {
            id[15] = 1;
        }
        id
    }

    fn span(&mut self) -> [u8; 8] {
        match self.next() {
            0 => 1u64.to_be_bytes(),
            v => v.to_be_bytes(),
        }
    }

    /// A Kestra-style ID: 22 base-62 characters, like `4wjLnd0yS6DmMYBGbFFPkx`.
    fn kestra(&mut self) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut v = (u128::from(self.next()) << 64) | u128::from(self.next());
        (0..22)
            .map(|_| {
                let c = DIGITS[(v % 62) as usize] as char;
                v /= 62;
                c
            })
            .collect()
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

fn int(v: i64) -> Value {
    Value::IntValue(v)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Upstream,
    Webserver,
    Kestra,
    Downstream,
}

impl Service {
    const ALL: [Service; 4] = [
        Service::Upstream,
        Service::Webserver,
        Service::Kestra,
        Service::Downstream,
    ];

    fn resource(self) -> Resource {
        let java = |name: &str, instance: &str| {
            vec![
                kv("service.name", s(name)),
                kv("service.namespace", s("kestra")),
                kv("service.version", s(KESTRA_VERSION)),
                kv("service.instance.id", s(instance)),
                kv("host.name", s("kestra-0")),
                kv("process.pid", int(7)),
                kv("process.runtime.name", s("OpenJDK Runtime Environment")),
                kv("process.runtime.version", s("21.0.5+11-LTS")),
                kv("telemetry.sdk.language", s("java")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.45.0")),
            ]
        };
        let attributes = match self {
            Service::Upstream => vec![
                kv("service.name", s("upstream")),
                kv("service.version", s("2.3.1")),
                kv("deployment.environment.name", s("dev")),
                kv("host.name", s("shop-backend-1")),
                kv("telemetry.sdk.language", s("python")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.29.0")),
            ],
            Service::Webserver => java("kestra-webserver", "kestra-webserver-0"),
            Service::Kestra => java("kestra", "kestra-standalone-0"),
            Service::Downstream => vec![
                kv("service.name", s("downstream")),
                kv("service.version", s("1.8.0")),
                kv("deployment.environment.name", s("dev")),
                kv("host.name", s("orders-api-1")),
                kv("telemetry.sdk.language", s("go")),
                kv("telemetry.sdk.name", s("opentelemetry")),
                kv("telemetry.sdk.version", s("1.33.0")),
            ],
        };
        Resource {
            attributes,
            ..Default::default()
        }
    }
}

fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}

/// Spans grouped by service, then scope, in the order first seen.
#[derive(Default)]
struct SpanSet {
    groups: Vec<(usize, &'static str, Vec<Span>)>,
}

impl SpanSet {
    fn push(&mut self, service: Service, scope: &'static str, span: Span) {
        let si = Service::ALL
            .iter()
            .position(|s| *s == service)
            .unwrap_or_default();
        match self
            .groups
            .iter_mut()
            .find(|(s, sc, _)| *s == si && *sc == scope)
        {
            Some((_, _, spans)) => spans.push(span),
            None => self.groups.push((si, scope, vec![span])),
        }
    }

    fn into_request(self) -> ExportTraceServiceRequest {
        let mut out: Vec<(usize, ResourceSpans)> = Vec::new();
        for (si, scope_name, spans) in self.groups {
            let version = match scope_name {
                EXECUTOR | WORKER | HTTP_CLIENT => KESTRA_VERSION,
                _ => "",
            };
            let ss = ScopeSpans {
                scope: Some(scope(scope_name, version)),
                spans,
                schema_url: String::new(),
            };
            match out.iter_mut().find(|(s, _)| *s == si) {
                Some((_, rs)) => rs.scope_spans.push(ss),
                None => out.push((
                    si,
                    ResourceSpans {
                        resource: Some(Service::ALL[si].resource()),
                        scope_spans: vec![ss],
                        schema_url: String::new(),
                    },
                )),
            }
        }
        ExportTraceServiceRequest {
            resource_spans: out.into_iter().map(|(_, rs)| rs).collect(),
        }
    }
}

/// Where a Kestra task runs: namespace, flow, execution.
#[derive(Clone)]
struct Execution {
    flow: &'static str,
    id: String,
}

/// A span being built; `at` offsets are milliseconds from its trace's start.
struct SpanArgs<'a> {
    trace: [u8; 16],
    parent: Option<[u8; 8]>,
    name: &'a str,
    kind: SpanKind,
    start_ms: f64,
    end_ms: f64,
    /// The parent came over the network (a `traceparent` header).
    remote_parent: bool,
    attributes: Vec<KeyValue>,
}

struct Builder {
    ids: Ids,
    spans: SpanSet,
    logs: Vec<(&'static str, LogRecord)>,
}

impl Builder {
    fn span(&mut self, service: Service, scope: &'static str, base: u64, a: SpanArgs) -> Span {
        let span = Span {
            trace_id: a.trace.to_vec(),
            span_id: self.ids.span().to_vec(),
            parent_span_id: a.parent.map(|p| p.to_vec()).unwrap_or_default(),
            // W3C "sampled", plus OTLP's bits 8 (remoteness known) and 9 (parent is remote).
            flags: if a.remote_parent { 0x301 } else { 0x101 },
            name: a.name.into(),
            kind: a.kind as i32,
            start_time_unix_nano: at(base, a.start_ms),
            end_time_unix_nano: at(base, a.end_ms),
            attributes: a.attributes,
            ..Default::default()
        };
        self.spans.push(service, scope, span.clone());
        span
    }

    /// A Kestra task span (`EXECUTOR - …` or `WORKER - …`) with the usual attributes.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        scope: &'static str,
        task_type: &str,
        exec: &Execution,
        task_id: &str,
        trace: [u8; 16],
        parent: Option<[u8; 8]>,
        base: u64,
        (start_ms, end_ms): (f64, f64),
    ) -> Span {
        let prefix = if scope == EXECUTOR {
            "EXECUTOR"
        } else {
            "WORKER"
        };
        let task_run = self.ids.kestra();
        let mut attributes = kestra_attrs(exec);
        attributes.push(kv("kestra.taskId", s(task_id)));
        attributes.push(kv("kestra.taskRunId", s(task_run)));
        self.span(
            Service::Kestra,
            scope,
            base,
            SpanArgs {
                trace,
                parent,
                name: &format!("{prefix} - {task_type}"),
                kind: SpanKind::Internal,
                start_ms,
                end_ms,
                remote_parent: false,
                attributes,
            },
        )
    }

    /// A log record written by `span`'s task (or by no task when `span` is `None`).
    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        scope: &'static str,
        severity: SeverityNumber,
        body: String,
        exec: &Execution,
        task: Option<(&str, &Span)>,
        base: u64,
        at_ms: f64,
    ) {
        let time = at(base, at_ms);
        let mut attributes = kestra_attrs(exec);
        let (trace_id, span_id, flags) = match task {
            Some((task_id, span)) => {
                attributes.push(kv("kestra.taskId", s(task_id)));
                if let Some(run) = span.attributes.iter().find(|a| a.key == "kestra.taskRunId") {
                    attributes.push(run.clone());
                }
                (span.trace_id.clone(), span.span_id.clone(), 1)
            }
            None => (Vec::new(), Vec::new(), 0),
        };
        attributes.push(kv("thread.name", s(thread_name(scope))));
        self.logs.push((
            scope,
            LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: time + 1_200_000,
                severity_number: severity as i32,
                severity_text: match severity {
                    SeverityNumber::Error => "ERROR",
                    SeverityNumber::Warn => "WARN",
                    _ => "INFO",
                }
                .into(),
                body: Some(AnyValue {
                    value: Some(s(body)),
                }),
                attributes,
                flags,
                trace_id,
                span_id,
                ..Default::default()
            },
        ));
    }
}

fn thread_name(scope: &str) -> &'static str {
    if scope == WORKER {
        "WorkerThread-3"
    } else {
        "executor_1"
    }
}

fn kestra_attrs(exec: &Execution) -> Vec<KeyValue> {
    vec![
        kv("kestra.namespace", s(NAMESPACE)),
        kv("kestra.flowId", s(exec.flow)),
        kv("kestra.executionId", s(exec.id.clone())),
    ]
}

fn at(base: u64, ms: f64) -> u64 {
    base + (ms * NS_PER_MS as f64).round() as u64
}

fn id8(span: &Span) -> [u8; 8] {
    let mut id = [0u8; 8];
    id.copy_from_slice(&span.span_id);
    id
}

/// Builds one run: the main trace starts 2½ minutes before `now_ns` and
/// everything, metric points included, ends before it.
pub fn build(now_ns: u64, run_id: u64) -> Demo {
    build_nth(now_ns, run_id, 0)
}

/// [`build`] for the `nth` run of a repeated demo: from the second run on,
/// the failing shell task (`export_report`) runs 1.5 s longer per run
/// (up to 4 runs), so consecutive runs of the flow differ in one task.
pub fn build_nth(now_ns: u64, run_id: u64, nth: u32) -> Demo {
    let slower = SLOWER_PER_RUN_MS * f64::from(nth.min(4));
    let mut b = Builder {
        ids: Ids { run: run_id, n: 0 },
        spans: SpanSet::default(),
        logs: Vec::new(),
    };
    let t0 = now_ns.saturating_sub(LEAD_NS);
    let main = b.ids.trace();
    let parent_exec = Execution {
        flow: MAIN_FLOW,
        id: b.ids.kestra(),
    };
    let sub_exec = Execution {
        flow: SUBFLOW,
        id: b.ids.kestra(),
    };

    // 1. upstream calls the Kestra API, which creates the execution and answers.
    let path = format!("/api/v1/executions/{NAMESPACE}/{MAIN_FLOW}");
    let upstream = b.span(
        Service::Upstream,
        "opentelemetry.instrumentation.requests",
        t0,
        SpanArgs {
            trace: main,
            parent: None,
            name: &format!("POST {path}"),
            kind: SpanKind::Client,
            start_ms: 0.0,
            end_ms: 71.4,
            remote_parent: false,
            attributes: vec![
                kv("http.request.method", s("POST")),
                kv("url.full", s(format!("http://kestra-webserver:8080{path}"))),
                kv("server.address", s("kestra-webserver")),
                kv("server.port", int(8080)),
                kv("http.response.status_code", int(200)),
            ],
        },
    );
    let mut web_attrs = vec![
        kv("http.request.method", s("POST")),
        kv("http.route", s("/api/v1/executions/{namespace}/{id}")),
        kv("url.path", s(path.clone())),
        kv("url.scheme", s("http")),
        kv("server.address", s("kestra-webserver")),
        kv("server.port", int(8080)),
        kv("client.address", s("10.0.4.17")),
        kv("user_agent.original", s("python-requests/2.32.3")),
        kv("http.response.status_code", int(200)),
    ];
    web_attrs.extend(kestra_attrs(&parent_exec));
    let webserver = b.span(
        Service::Webserver,
        "io.micronaut.http.server",
        t0,
        SpanArgs {
            trace: main,
            parent: Some(id8(&upstream)),
            name: "POST /api/v1/executions/{namespace}/{id}",
            kind: SpanKind::Server,
            start_ms: 4.2,
            end_ms: 66.9,
            remote_parent: true,
            attributes: web_attrs,
        },
    );
    let web = Some(id8(&webserver));

    // 2. The execution's tasks, children of the API call (they outlive it:
    //    the API answers once the execution is queued).
    let log_start = b.task(
        WORKER,
        "io.kestra.plugin.core.log.Log",
        &parent_exec,
        "log_start",
        main,
        web,
        t0,
        (212.0, 236.5),
    );
    b.log(
        WORKER,
        SeverityNumber::Info,
        format!(
            "Starting {MAIN_FLOW} for region eu-west (execution {})",
            parent_exec.id
        ),
        &parent_exec,
        Some(("log_start", &log_start)),
        t0,
        221.3,
    );

    // 3. HTTP Request task → CLIENT GET → downstream SERVER (via traceparent).
    let fetch = b.task(
        WORKER,
        "io.kestra.plugin.core.http.Request",
        &parent_exec,
        "fetch_orders",
        main,
        web,
        t0,
        (268.0, 1144.8),
    );
    let url = "http://downstream:8080/api/orders?status=pending";
    let get = b.span(
        Service::Kestra,
        HTTP_CLIENT,
        t0,
        SpanArgs {
            trace: main,
            parent: Some(id8(&fetch)),
            name: "GET",
            kind: SpanKind::Client,
            start_ms: 281.6,
            end_ms: 1129.3,
            remote_parent: false,
            attributes: vec![
                kv("http.request.method", s("GET")),
                kv("url.full", s(url)),
                kv("server.address", s("downstream")),
                kv("server.port", int(8080)),
                kv("network.protocol.version", s("1.1")),
                kv("http.response.status_code", int(200)),
            ],
        },
    );
    let served = b.span(
        Service::Downstream,
        "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        t0,
        SpanArgs {
            trace: main,
            parent: Some(id8(&get)),
            name: "GET /api/orders",
            kind: SpanKind::Server,
            start_ms: 293.1,
            end_ms: 1117.0,
            remote_parent: true,
            attributes: vec![
                kv("http.request.method", s("GET")),
                kv("http.route", s("/api/orders")),
                kv("url.path", s("/api/orders")),
                kv("url.query", s("status=pending")),
                kv("url.scheme", s("http")),
                kv("server.address", s("downstream")),
                kv("server.port", int(8080)),
                kv("user_agent.original", s("Kestra/0.24.0")),
                kv("http.response.status_code", int(200)),
                kv("app.orders.returned", int(25)),
            ],
        },
    );
    b.span(
        Service::Downstream,
        "github.com/jackc/pgx/v5",
        t0,
        SpanArgs {
            trace: main,
            parent: Some(id8(&served)),
            name: "SELECT shop.orders",
            kind: SpanKind::Client,
            start_ms: 301.7,
            end_ms: 1088.2,
            remote_parent: false,
            attributes: vec![
                kv("db.system.name", s("postgresql")),
                kv("db.namespace", s("shop")),
                kv("db.collection.name", s("orders")),
                kv("db.operation.name", s("SELECT")),
                kv(
                    "db.query.text",
                    s("SELECT id, customer_id, total FROM orders WHERE status = $1"),
                ),
                kv("server.address", s("postgres")),
                kv("server.port", int(5432)),
            ],
        },
    );
    b.log(
        WORKER,
        SeverityNumber::Info,
        format!("Request {url} answered 200 OK (25 orders, 18.4 kB) in 848 ms"),
        &parent_exec,
        Some(("fetch_orders", &fetch)),
        t0,
        1139.0,
    );

    // 4. Subflow task: the process_orders execution, in the same trace.
    let subflow = b.task(
        EXECUTOR,
        "io.kestra.plugin.core.flow.Subflow",
        &parent_exec,
        "process_orders",
        main,
        web,
        t0,
        (1190.0, 4962.5),
    );
    let validate = b.task(
        WORKER,
        "io.kestra.plugin.core.log.Log",
        &sub_exec,
        "validate",
        main,
        Some(id8(&subflow)),
        t0,
        (1262.4, 1291.0),
    );
    b.log(
        WORKER,
        SeverityNumber::Info,
        format!(
            "Validating 25 orders from execution {} (parent)",
            parent_exec.id
        ),
        &sub_exec,
        Some(("validate", &validate)),
        t0,
        1270.2,
    );
    let transform = b.task(
        WORKER,
        "io.kestra.plugin.scripts.shell.Commands",
        &sub_exec,
        "transform",
        main,
        Some(id8(&subflow)),
        t0,
        (1340.0, 4871.6),
    );
    b.log(
        WORKER,
        SeverityNumber::Info,
        "Transformed 25 orders into 3 batches (orders.ion, 41.2 kB)".into(),
        &sub_exec,
        Some(("transform", &transform)),
        t0,
        4860.0,
    );

    // 5. ForEachItem: three child executions, each a trace of its own whose
    //    root span links back to the ForEachItem span.
    let for_each = b.task(
        EXECUTOR,
        "io.kestra.plugin.core.flow.ForEachItem",
        &parent_exec,
        "each_batch",
        main,
        web,
        t0,
        (5010.0, 5188.3),
    );
    let mut item_trace_ids = [[0u8; 16]; 3];
    for (i, duration_ms) in [1630.4, 2210.9, 1874.2].into_iter().enumerate() {
        let trace = b.ids.trace();
        item_trace_ids[i] = trace;
        let exec = Execution {
            flow: ITEM_FLOW,
            id: b.ids.kestra(),
        };
        let base = at(t0, 5214.0 + 37.0 * i as f64);
        let mut root = b.task(
            EXECUTOR,
            "io.kestra.plugin.core.flow.Sequential",
            &exec,
            "batch",
            trace,
            None,
            base,
            (0.0, duration_ms),
        );
        root.links.push(Link {
            trace_id: main.to_vec(),
            span_id: for_each.span_id.clone(),
            attributes: vec![
                kv("kestra.link", s("foreach-item")),
                kv("kestra.link.index", int(i as i64)),
            ],
            flags: 0x301, // sampled; the linked context is remote
            ..Default::default()
        });
        b.spans.replace(root.clone());
        let log_task = b.task(
            WORKER,
            "io.kestra.plugin.core.log.Log",
            &exec,
            "log_batch",
            trace,
            Some(id8(&root)),
            base,
            (24.0, 51.5),
        );
        b.log(
            WORKER,
            SeverityNumber::Info,
            format!("Processing batch {} of 3 (8 orders)", i + 1),
            &exec,
            Some(("log_batch", &log_task)),
            base,
            30.8,
        );
        b.task(
            WORKER,
            "io.kestra.plugin.scripts.shell.Commands",
            &exec,
            "load_batch",
            trace,
            Some(id8(&root)),
            base,
            (80.0, duration_ms - 31.0),
        );
    }

    // 6. A shell task that fails: ERROR status, exception event, ERROR log.
    let mut failed = b.task(
        WORKER,
        "io.kestra.plugin.scripts.shell.Commands",
        &parent_exec,
        "export_report",
        main,
        web,
        t0,
        (7540.0, 9912.7 + slower),
    );
    let message = "Command failed with exit code 1";
    failed.events.push(Event {
        time_unix_nano: at(t0, 9890.1),
        name: "exception".into(),
        attributes: vec![
            kv(
                "exception.type",
                s("io.kestra.core.models.tasks.runners.TaskException"),
            ),
            kv("exception.message", s(message)),
            kv(
                "exception.stacktrace",
                s("io.kestra.core.models.tasks.runners.TaskException: Command failed with exit code 1\n\
                   \tat io.kestra.plugin.scripts.exec.scripts.runners.CommandsWrapper.run(CommandsWrapper.java:184)\n\
                   \tat io.kestra.plugin.scripts.shell.Commands.run(Commands.java:123)\n\
                   \tat io.kestra.core.runners.WorkerTaskThread.run(WorkerTaskThread.java:78)\n\
                   \tat java.base/java.lang.Thread.run(Thread.java:1583)"),
            ),
        ],
        ..Default::default()
    });
    failed.status = Some(Status {
        code: StatusCode::Error as i32,
        message: message.into(),
    });
    b.spans.replace(failed.clone());
    b.log(
        WORKER,
        SeverityNumber::Error,
        "Command failed with exit code 1: curl: (22) The requested URL returned error: 503 \
         (POST http://reports:9000/upload)"
            .into(),
        &parent_exec,
        Some(("export_report", &failed)),
        t0,
        9897.4,
    );

    // 7. The Executor notes the execution's end; no task, no trace context.
    b.log(
        EXECUTOR,
        SeverityNumber::Info,
        format!(
            "Execution {} of flow {NAMESPACE}.{MAIN_FLOW} ended in state FAILED after {:.1}s",
            parent_exec.id,
            (9912.7 + slower) / 1000.0
        ),
        &parent_exec,
        None,
        t0,
        9961.0 + slower,
    );

    Demo {
        run_id,
        traces: b.spans.into_request(),
        logs: logs_request(b.logs),
        metrics: metrics_request(now_ns),
        main_trace_id: main,
        item_trace_ids,
        failed_span_id: id8(&failed),
        main_execution_id: parent_exec.id,
    }
}

impl SpanSet {
    /// Replaces the stored span with the same span ID (after links, events or
    /// status were added to it).
    fn replace(&mut self, span: Span) {
        for (_, _, spans) in &mut self.groups {
            if let Some(old) = spans.iter_mut().find(|s| s.span_id == span.span_id) {
                *old = span;
                return;
            }
        }
    }
}

fn logs_request(records: Vec<(&'static str, LogRecord)>) -> ExportLogsServiceRequest {
    let mut scopes: Vec<ScopeLogs> = Vec::new();
    for (name, record) in records {
        match scopes
            .iter_mut()
            .find(|s| s.scope.as_ref().is_some_and(|sc| sc.name == name))
        {
            Some(sl) => sl.log_records.push(record),
            None => scopes.push(ScopeLogs {
                scope: Some(scope(name, KESTRA_VERSION)),
                log_records: vec![record],
                schema_url: String::new(),
            }),
        }
    }
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Service::Kestra.resource()),
            scope_logs: scopes,
            schema_url: String::new(),
        }],
    }
}

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

fn metrics_request(now_ns: u64) -> ExportMetricsServiceRequest {
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

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(
            b > a && b - a > 1_400 * NS_PER_MS && b - a < 1_600 * NS_PER_MS,
            "{a} {b}"
        );
    }
}
