//! Per-item validation: a bad span or log record is rejected alone.
//!
//! OTLP's partial-success rule: the server stores what it can and reports
//! how many items it rejected and why. Invalid IDs are the reason here; the
//! message names the first few offenders so a developer can find them.

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};

/// How many individual reasons the message lists before summarizing.
const MAX_REASONS: usize = 3;

/// Rejections of one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub count: i64,
    reasons: Vec<String>,
}

impl Rejected {
    fn add(&mut self, reason: String) {
        self.count += 1;
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }

    /// The `partial_success.error_message`, empty when nothing was rejected.
    pub fn message(&self, what: &str) -> String {
        if self.count == 0 {
            return String::new();
        }
        let mut m = format!(
            "{} {what} rejected: {}",
            self.count,
            self.reasons.join("; ")
        );
        if self.count as usize > self.reasons.len() {
            m.push_str("; …");
        }
        m
    }
}

fn optional_id(bytes: &[u8], check: impl Fn(&[u8]) -> Result<(), String>) -> Result<(), String> {
    if bytes.is_empty() {
        Ok(())
    } else {
        check(bytes)
    }
}

/// Removes spans with an invalid trace, span or parent span ID.
pub fn traces(req: &mut ExportTraceServiceRequest) -> Rejected {
    let mut rejected = Rejected::default();
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            ss.spans.retain(|s| {
                let check = TraceId::from_bytes(&s.trace_id)
                    .map(|_| ())
                    .and_then(|_| SpanId::from_bytes(&s.span_id).map(|_| ()))
                    .map_err(|e| e.to_string())
                    .and_then(|_| {
                        optional_id(&s.parent_span_id, |b| {
                            if b.len() == 8 {
                                Ok(())
                            } else {
                                Err(format!("parent_span_id has {} bytes, expected 8", b.len()))
                            }
                        })
                    });
                match check {
                    Ok(()) => true,
                    Err(e) => {
                        rejected.add(format!("span {:?}: {e}", s.name));
                        false
                    }
                }
            });
        }
    }
    rejected
}

/// Removes log records whose (optional) trace or span ID is malformed.
pub fn logs(req: &mut ExportLogsServiceRequest) -> Rejected {
    let mut rejected = Rejected::default();
    for rl in &mut req.resource_logs {
        for sl in &mut rl.scope_logs {
            sl.log_records.retain(|r| {
                let check = optional_id(&r.trace_id, |b| {
                    TraceId::from_bytes(b)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
                .and_then(|_| {
                    optional_id(&r.span_id, |b| {
                        SpanId::from_bytes(b).map(|_| ()).map_err(|e| e.to_string())
                    })
                });
                match check {
                    Ok(()) => true,
                    Err(e) => {
                        let body = loupe_model::otlp::any_value_text(r.body.as_ref());
                        let short: String = body.chars().take(40).collect();
                        rejected.add(format!("log record {short:?}: {e}"));
                        false
                    }
                }
            });
        }
    }
    rejected
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};

    fn span(name: &str, trace: Vec<u8>, span: Vec<u8>) -> Span {
        Span {
            name: name.into(),
            trace_id: trace,
            span_id: span,
            ..Default::default()
        }
    }

    #[test]
    fn rejects_only_the_bad_spans() {
        let mut req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span("ok", vec![1; 16], vec![2; 8]),
                        span("empty", vec![], vec![2; 8]),
                        span("short", vec![1; 15], vec![2; 8]),
                        span("zero", vec![0; 16], vec![2; 8]),
                        span("zero-span", vec![1; 16], vec![0; 8]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let r = traces(&mut req);
        assert_eq!(r.count, 4);
        let kept = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "ok");
        let msg = r.message("spans");
        assert!(
            msg.starts_with("4 spans rejected: span \"empty\": trace_id is empty"),
            "{msg}"
        );
        assert!(msg.ends_with('…'), "{msg}");
    }
}
