//! Gathering what to export from the store, redacting it, and writing it.
//!
//! The export streams: one trace (then its logs, then one metric) at a time
//! is read, redacted and written, so memory holds one trace however large the
//! export, and progress can be reported (and the export cancelled) between
//! items. A preview runs the very same path into a sink that discards, so
//! the counts it shows are exactly what the file would hold.

use std::collections::BTreeSet;
use std::io::Write;

use loupe_model::ids::TraceId;
use loupe_model::otlp;
use loupe_model::query::{LogQuery, TraceQuery};
use loupe_model::sink::Batch;
use loupe_model::time::NanoRange;
use loupe_store::{Reader, StoreError};

use crate::redact::{RedactionReport, Redactor};

/// Most traces one export holds (a search or time range beyond it is cut,
/// and the summary says so).
pub const MAX_TRACES: usize = 10_000;

/// Most log records per trace, or in a time range.
pub const MAX_LOGS: usize = 200_000;

/// Metrics are recorded every minute or so: the window around traces
/// whose metrics are included reaches this far on both sides.
pub const METRIC_MARGIN_NS: u64 = 60_000_000_000;

/// Which traces to export.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These traces; with `linked`, also the traces joined to them by span
    /// links (the stitched view).
    Traces { ids: Vec<TraceId>, linked: bool },
    /// The traces a search finds (up to its limit, at most [`MAX_TRACES`]).
    Search(TraceQuery),
    /// Everything in a time range from the chosen services (all when empty):
    /// traces that start in it and, by choice, logs and metrics in it.
    Window {
        range: NanoRange,
        services: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    JsonLines,
    Html,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json-lines" | "jsonlines" | "otlp-jsonl" => Some(Format::JsonLines),
            "html" | "report" => Some(Format::Html),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Html => "html",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/x-ndjson",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportSpec {
    pub selection: Selection,
    /// Include the traces' log records (or, for a window, the window's logs).
    pub logs: bool,
    /// Include the metrics of the traces' time window.
    pub metrics: bool,
    /// `None` exports everything as stored (the user turned redaction off).
    pub redact: Option<Redactor>,
    pub format: Format,
}

/// How far an export has come, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items (traces, then log and metric steps) written so far.
    pub done: usize,
    pub total: usize,
}

/// What an export held.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    pub traces: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    /// Requests written (lines of the JSON Lines).
    pub requests: u64,
    pub bytes: u64,
    /// The selection matched more traces than [`MAX_TRACES`].
    pub truncated: bool,
    pub redaction: RedactionReport,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the export was cancelled")]
    Cancelled,
    #[error("nothing to export: {0}")]
    Empty(String),
}

fn trace_ids(reader: &Reader, sel: &Selection) -> Result<(Vec<TraceId>, bool), ExportError> {
    let mut ids: Vec<TraceId> = Vec::new();
    fn push(ids: &mut Vec<TraceId>, id: TraceId) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // One more than allowed, to tell a cut selection.
    let search = |q: &TraceQuery| -> Result<Vec<TraceId>, ExportError> {
        let mut q = q.clone();
        q.limit = q.limit.min(MAX_TRACES) + 1;
        Ok(reader
            .search_traces(&q)?
            .into_iter()
            .filter_map(|t| TraceId::parse_hex(&t.trace_id).ok())
            .collect())
    };
    match sel {
        Selection::Traces {
            ids: wanted,
            linked,
        } => {
            for id in wanted {
                if reader.trace_summary(*id)?.is_none() {
                    return Err(ExportError::Empty(format!("no trace {id}")));
                }
                push(&mut ids, *id);
                if *linked {
                    for r in reader.related(*id)? {
                        if r.summary.is_some() {
                            if let Ok(t) = TraceId::parse_hex(&r.trace_id) {
                                push(&mut ids, t);
                            }
                        }
                    }
                }
            }
        }
        Selection::Search(q) => {
            for id in search(q)? {
                push(&mut ids, id);
            }
        }
        Selection::Window { range, services } => {
            let base = TraceQuery {
                range: *range,
                limit: MAX_TRACES,
                ..TraceQuery::default()
            };
            if services.is_empty() {
                for id in search(&base)? {
                    push(&mut ids, id);
                }
            }
            for s in services {
                let q = TraceQuery {
                    service: Some(s.clone()),
                    ..base.clone()
                };
                for id in search(&q)? {
                    push(&mut ids, id);
                }
            }
        }
    }
    let max = match sel {
        Selection::Search(q) => q.limit.min(MAX_TRACES),
        _ => MAX_TRACES,
    };
    let truncated = ids.len() > max;
    ids.truncate(max);
    Ok((ids, truncated))
}

fn span_stats(req: &otlp::ExportTraceServiceRequest) -> (u64, u64, u64) {
    let mut spans = 0;
    let (mut lo, mut hi) = (u64::MAX, 0);
    for s in req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        spans += 1;
        lo = lo.min(s.start_time_unix_nano);
        hi = hi.max(s.end_time_unix_nano.max(s.start_time_unix_nano));
    }
    (spans, lo, hi)
}

fn log_count(req: &otlp::ExportLogsServiceRequest) -> u64 {
    req.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len() as u64)
        .sum()
}

fn point_count(req: &otlp::ExportMetricsServiceRequest) -> u64 {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| loupe_model::otlp_points(m) as u64)
        .sum()
}

/// Keeps only the resources of the chosen services (all when empty).
fn keep_services<T>(
    items: &mut Vec<T>,
    services: &[String],
    resource: impl Fn(&T) -> Option<&otlp::resource::Resource>,
) {
    if services.is_empty() {
        return;
    }
    items.retain(|x| {
        otlp::service_name(resource(x)).is_some_and(|s| services.iter().any(|w| w == s))
    });
}

/// Writes the export as JSON Lines into `out`. `progress` is called after
/// every item; returning `false` cancels (the caller discards what was
/// written).
pub fn write_jsonl(
    reader: &Reader,
    spec: &ExportSpec,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<ExportSummary, ExportError> {
    let (ids, truncated) = trace_ids(reader, &spec.selection)?;
    let window = match &spec.selection {
        Selection::Window { range, services } => Some((*range, services.clone())),
        _ => None,
    };
    if ids.is_empty() && window.is_none() {
        return Err(ExportError::Empty("no trace matches the selection".into()));
    }
    let mut summary = ExportSummary {
        truncated,
        ..ExportSummary::default()
    };
    let metric_names: Vec<String> = if spec.metrics {
        let names: BTreeSet<String> = reader.metrics()?.into_iter().map(|m| m.name).collect();
        names.into_iter().collect()
    } else {
        Vec::new()
    };
    let total = ids.len() + usize::from(spec.logs && window.is_some()) + metric_names.len();
    let mut done = 0;
    let mut step = |done: &mut usize| -> Result<(), ExportError> {
        *done += 1;
        if progress(Progress { done: *done, total }) {
            Ok(())
        } else {
            Err(ExportError::Cancelled)
        }
    };
    let mut emit = |summary: &mut ExportSummary, mut batch: Batch| -> Result<(), ExportError> {
        if let Some(r) = &spec.redact {
            match &mut batch {
                Batch::Traces(t) => r.traces(t, &mut summary.redaction),
                Batch::Logs(l) => r.logs(l, &mut summary.redaction),
                Batch::Metrics(m) => r.metrics(m, &mut summary.redaction),
            }
        }
        summary.bytes += crate::jsonl::write_line(out, &batch)? as u64;
        summary.requests += 1;
        Ok(())
    };

    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for id in &ids {
        let Some(trace) = reader.trace(*id)? else {
            step(&mut done)?;
            continue;
        };
        let (spans, s, e) = span_stats(&trace);
        lo = lo.min(s);
        hi = hi.max(e);
        summary.traces += 1;
        summary.spans += spans;
        emit(&mut summary, Batch::Traces(trace))?;
        if spec.logs && window.is_none() {
            let logs = reader.logs(&LogQuery {
                trace_id: Some(*id),
                limit: MAX_LOGS,
                ..LogQuery::default()
            })?;
            let n = log_count(&logs);
            if n > 0 {
                summary.log_records += n;
                emit(&mut summary, Batch::Logs(logs))?;
            }
        }
        step(&mut done)?;
    }
    let services: Vec<String> = window.as_ref().map(|w| w.1.clone()).unwrap_or_default();
    if let (true, Some((range, services))) = (spec.logs, &window) {
        let mut logs = reader.logs(&LogQuery {
            range: *range,
            limit: MAX_LOGS,
            ..LogQuery::default()
        })?;
        keep_services(&mut logs.resource_logs, services, |r| r.resource.as_ref());
        let n = log_count(&logs);
        if n > 0 {
            summary.log_records += n;
            emit(&mut summary, Batch::Logs(logs))?;
        }
        step(&mut done)?;
    }
    if !metric_names.is_empty() {
        let range = match &window {
            Some((r, _)) => *r,
            None if lo <= hi => NanoRange {
                start: lo.saturating_sub(METRIC_MARGIN_NS),
                end: hi.saturating_add(METRIC_MARGIN_NS),
            },
            None => NanoRange { start: 1, end: 0 },
        };
        for name in &metric_names {
            let mut m = reader.metric_points(name, range)?;
            keep_services(&mut m.resource_metrics, &services, |r| r.resource.as_ref());
            let n = point_count(&m);
            if n > 0 {
                summary.data_points += n;
                emit(&mut summary, Batch::Metrics(m))?;
            }
            step(&mut done)?;
        }
    }
    if summary.requests == 0 {
        return Err(ExportError::Empty(
            "the selection holds no traces, logs or metrics".into(),
        ));
    }
    Ok(summary)
}

/// Writes the export in `spec.format` into `out`.
pub fn write(
    reader: &Reader,
    spec: &ExportSpec,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<ExportSummary, ExportError> {
    match spec.format {
        Format::JsonLines => write_jsonl(reader, spec, out, progress),
        Format::Html => {
            // The report embeds the JSON Lines: gather them first.
            let mut data = Vec::new();
            let summary = write_jsonl(reader, spec, &mut data, progress)?;
            let bytes = crate::html::write_report(&data, &summary, out)?;
            Ok(ExportSummary {
                bytes: bytes as u64,
                ..summary
            })
        }
    }
}

/// What an export would hold and remove, without writing anything.
pub fn preview(reader: &Reader, spec: &ExportSpec) -> Result<ExportSummary, ExportError> {
    write_jsonl(reader, spec, &mut std::io::sink(), &mut |_| true)
}
