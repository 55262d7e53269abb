//! The shape of one run: which services call which, the tasks of the
//! Kestra executions, their timings, the linked child executions and the
//! failure, told in order as the system would live it.

use crate::attrs::{int, kv, s};
use crate::builder::{id8, kestra_attrs, Builder, Execution, SpanArgs};
use crate::metrics::metrics_request;
use crate::otlp::logs::SeverityNumber;
use crate::otlp::trace::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    Status,
};
use crate::requests::logs_request;
use crate::service::{Service, EXECUTOR, HTTP_CLIENT, WORKER};
use crate::time::{at, NS_PER_S};
use crate::{Demo, ITEM_FLOW, MAIN_FLOW, NAMESPACE, SUBFLOW};

/// The main trace starts this long before `now_ns`.
const LEAD_NS: u64 = 150 * NS_PER_S;

/// How much longer the failing shell task runs in each repeated run, so
/// "compare with previous run" has a regression to name.
const SLOWER_PER_RUN_MS: f64 = 1500.0;

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
    let mut b = Builder::new(run_id);
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
