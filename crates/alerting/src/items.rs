//! Stored span chunks and log rows as the evaluator's items: the one
//! translation shared by the evaluation loop and backtests.

use loupe_alerts::eval::{LogItem, SpanItem};
use loupe_model::otlp::common::KeyValue;
use loupe_model::otlp::trace::Span;
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_store::alerts::{LogRow, SpanBatch};

fn hex_id(b: &[u8]) -> Option<String> {
    (!b.is_empty() && b.iter().any(|x| *x != 0)).then(|| hex::encode(b))
}

/// One span as the evaluator's item.
fn span_item(trace_id: String, s: &Span, resource: &[KeyValue]) -> SpanItem {
    SpanItem {
        trace_id,
        span_id: hex::encode(&s.span_id),
        name: s.name.clone(),
        kind: s.kind,
        status: s.status.as_ref().map(|st| st.code).unwrap_or(0),
        start_ns: s.start_time_unix_nano,
        end_ns: s.end_time_unix_nano,
        attributes: s.attributes.clone(),
        resource: resource.to_vec(),
    }
}

/// Span chunks as the evaluator's items.
pub fn span_items(batches: &[SpanBatch]) -> Vec<SpanItem> {
    let mut out = Vec::new();
    for b in batches {
        let trace_id = hex::encode(&b.trace_id);
        for s in &b.spans {
            out.push(span_item(trace_id.clone(), s, &b.resource));
        }
    }
    out
}

/// A stored trace (as the store reads it back) as the evaluator's items.
pub fn request_items(req: &ExportTraceServiceRequest) -> Vec<SpanItem> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            out.push(span_item(hex::encode(&s.trace_id), s, &resource));
        }
    }
    out
}

/// Log rows as the evaluator's items.
pub fn log_items(rows: &[LogRow]) -> Vec<LogItem> {
    rows.iter()
        .map(|r| LogItem {
            key: format!("{}:{:x}", r.time_ns, r.hash),
            time_ns: r.time_ns,
            severity: r.record.severity_number,
            body: loupe_model::otlp::any_value_text(r.record.body.as_ref()),
            trace_id: hex_id(&r.record.trace_id),
            span_id: hex_id(&r.record.span_id),
            attributes: r.record.attributes.clone(),
            resource: r.resource.clone(),
        })
        .collect()
}
