//! Building a run's spans and log records: Kestra tasks with their usual
//! attributes, logs in the context of the task that wrote them, all with
//! IDs from the run's [`Ids`].

use crate::attrs::{kv, s};
use crate::ids::Ids;
use crate::otlp::common::{AnyValue, KeyValue};
use crate::otlp::logs::{LogRecord, SeverityNumber};
use crate::otlp::trace::{span::SpanKind, Span};
use crate::requests::SpanSet;
use crate::service::{Service, EXECUTOR, WORKER};
use crate::time::at;
use crate::NAMESPACE;

/// Where a Kestra task runs: namespace, flow, execution.
#[derive(Clone)]
pub(crate) struct Execution {
    pub(crate) flow: &'static str,
    pub(crate) id: String,
}

/// A span being built; `at` offsets are milliseconds from its trace's start.
pub(crate) struct SpanArgs<'a> {
    pub(crate) trace: [u8; 16],
    pub(crate) parent: Option<[u8; 8]>,
    pub(crate) name: &'a str,
    pub(crate) kind: SpanKind,
    pub(crate) start_ms: f64,
    pub(crate) end_ms: f64,
    /// The parent came over the network (a `traceparent` header).
    pub(crate) remote_parent: bool,
    pub(crate) attributes: Vec<KeyValue>,
}

pub(crate) struct Builder {
    pub(crate) ids: Ids,
    pub(crate) spans: SpanSet,
    pub(crate) logs: Vec<(&'static str, LogRecord)>,
}

impl Builder {
    pub(crate) fn new(run_id: u64) -> Builder {
        Builder {
            ids: Ids::new(run_id),
            spans: SpanSet::default(),
            logs: Vec::new(),
        }
    }

    pub(crate) fn span(
        &mut self,
        service: Service,
        scope: &'static str,
        base: u64,
        a: SpanArgs,
    ) -> Span {
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
    pub(crate) fn task(
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
    pub(crate) fn log(
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

pub(crate) fn kestra_attrs(exec: &Execution) -> Vec<KeyValue> {
    vec![
        kv("kestra.namespace", s(NAMESPACE)),
        kv("kestra.flowId", s(exec.flow)),
        kv("kestra.executionId", s(exec.id.clone())),
    ]
}

pub(crate) fn id8(span: &Span) -> [u8; 8] {
    let mut id = [0u8; 8];
    id.copy_from_slice(&span.span_id);
    id
}
