//! Spans and log records grouped into export requests the way an SDK's
//! exporter groups them: by resource, then by instrumentation scope, in
//! the order first seen.

use crate::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use crate::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use crate::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use crate::service::{scope, Service, EXECUTOR, HTTP_CLIENT, KESTRA_VERSION, WORKER};

/// Spans grouped by service, then scope, in the order first seen.
#[derive(Default)]
pub(crate) struct SpanSet {
    groups: Vec<(usize, &'static str, Vec<Span>)>,
}

impl SpanSet {
    pub(crate) fn push(&mut self, service: Service, scope: &'static str, span: Span) {
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

    pub(crate) fn into_request(self) -> ExportTraceServiceRequest {
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

    /// Replaces the stored span with the same span ID (after links, events or
    /// status were added to it).
    pub(crate) fn replace(&mut self, span: Span) {
        for (_, _, spans) in &mut self.groups {
            if let Some(old) = spans.iter_mut().find(|s| s.span_id == span.span_id) {
                *old = span;
                return;
            }
        }
    }
}

pub(crate) fn logs_request(records: Vec<(&'static str, LogRecord)>) -> ExportLogsServiceRequest {
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
