//! From the stored OTLP form to the compact [`Span`]s the analyses use.

use loupe_model::otlp::{
    any_value_text, common::KeyValue, service_name, ExportTraceServiceRequest,
};

use crate::{Span, SpanId, TraceId};

/// OTLP `STATUS_CODE_ERROR`.
const STATUS_ERROR: i32 = 2;

/// The spans of `req` (one trace or several), keeping of the attributes only
/// `keep` (span attributes before resource attributes). Spans whose IDs
/// are malformed are skipped: ingest rejects them, but an import may not.
pub fn spans_of(req: &ExportTraceServiceRequest, keep: &[String]) -> Vec<Span> {
    let n = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let mut out = Vec::with_capacity(n);
    let pick = |attrs: &[KeyValue], into: &mut Vec<(String, String)>| {
        for kv in attrs {
            if keep.contains(&kv.key) && !into.iter().any(|(k, _)| *k == kv.key) {
                into.push((kv.key.clone(), any_value_text(kv.value.as_ref())));
            }
        }
    };
    for rs in &req.resource_spans {
        let service = service_name(rs.resource.as_ref())
            .unwrap_or("unknown")
            .to_string();
        let rattrs = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let (Ok(trace_id), Ok(span_id)) = (
                    TraceId::from_bytes(&s.trace_id),
                    SpanId::from_bytes(&s.span_id),
                ) else {
                    continue;
                };
                let mut attrs = Vec::new();
                if !keep.is_empty() {
                    pick(&s.attributes, &mut attrs);
                    pick(rattrs, &mut attrs);
                }
                out.push(Span {
                    trace_id,
                    span_id,
                    parent_id: SpanId::from_bytes(&s.parent_span_id).ok(),
                    service: service.clone(),
                    name: s.name.clone(),
                    start: s.start_time_unix_nano,
                    end: s.end_time_unix_nano,
                    error: s.status.as_ref().is_some_and(|st| st.code == STATUS_ERROR),
                    kind: s.kind,
                    links: s
                        .links
                        .iter()
                        .filter_map(|l| {
                            Some((
                                TraceId::from_bytes(&l.trace_id).ok()?,
                                SpanId::from_bytes(&l.span_id).ok()?,
                            ))
                        })
                        .collect(),
                    attrs,
                });
            }
        }
    }
    out
}
