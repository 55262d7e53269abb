//! Fresh trace and span IDs (`--fresh-ids`), so a bundle can be replayed
//! into a backend that already holds it (or replayed twice) without its
//! spans being taken for duplicates.
//!
//! An ID is replaced by a keyed hash of itself: the same old ID always
//! becomes the same new ID within one replay, whichever file, signal or
//! field it appears in, so parent IDs, span links, log records' and
//! exemplars' references stay consistent without a table of every ID
//! seen. The key is random per replay (std's `RandomState`), so two replays
//! get different IDs. Empty, all-zero and wrongly sized IDs are left as
//! they are (they name nothing).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::metrics::Exemplar;
use loupe_model::sink::Batch;

pub struct FreshIds {
    key: RandomState,
}

impl Default for FreshIds {
    fn default() -> Self {
        FreshIds {
            key: RandomState::new(),
        }
    }
}

impl FreshIds {
    fn word(&self, salt: u8, old: &[u8]) -> [u8; 8] {
        let mut h = self.key.hash_one((salt, old));
        if h == 0 {
            h = 1; // never the invalid all-zero ID
        }
        h.to_be_bytes()
    }

    /// The new form of a 16-byte trace ID (other lengths unchanged).
    pub fn trace(&self, id: &mut Vec<u8>) {
        if id.len() == 16 && id.iter().any(|&b| b != 0) {
            let (a, b) = (self.word(1, id), self.word(2, id));
            id.clear();
            id.extend_from_slice(&a);
            id.extend_from_slice(&b);
        }
    }

    /// The new form of an 8-byte span ID (other lengths unchanged).
    pub fn span(&self, id: &mut Vec<u8>) {
        if id.len() == 8 && id.iter().any(|&b| b != 0) {
            let a = self.word(3, id);
            id.clear();
            id.extend_from_slice(&a);
        }
    }

    fn exemplars(&self, ex: &mut [Exemplar]) {
        for e in ex {
            self.trace(&mut e.trace_id);
            self.span(&mut e.span_id);
        }
    }

    /// Every ID in a batch: spans (own, parent, links), log records, exemplars.
    pub fn apply(&self, batch: &mut Batch) {
        match batch {
            Batch::Traces(r) => {
                for s in r
                    .resource_spans
                    .iter_mut()
                    .flat_map(|x| &mut x.scope_spans)
                    .flat_map(|x| &mut x.spans)
                {
                    self.trace(&mut s.trace_id);
                    self.span(&mut s.span_id);
                    self.span(&mut s.parent_span_id);
                    for l in &mut s.links {
                        self.trace(&mut l.trace_id);
                        self.span(&mut l.span_id);
                    }
                }
            }
            Batch::Logs(r) => {
                for l in r
                    .resource_logs
                    .iter_mut()
                    .flat_map(|x| &mut x.scope_logs)
                    .flat_map(|x| &mut x.log_records)
                {
                    self.trace(&mut l.trace_id);
                    self.span(&mut l.span_id);
                }
            }
            Batch::Metrics(r) => {
                for m in r
                    .resource_metrics
                    .iter_mut()
                    .flat_map(|x| &mut x.scope_metrics)
                    .flat_map(|x| &mut x.metrics)
                {
                    match &mut m.data {
                        Some(Data::Gauge(g)) => g
                            .data_points
                            .iter_mut()
                            .for_each(|p| self.exemplars(&mut p.exemplars)),
                        Some(Data::Sum(g)) => g
                            .data_points
                            .iter_mut()
                            .for_each(|p| self.exemplars(&mut p.exemplars)),
                        Some(Data::Histogram(g)) => g
                            .data_points
                            .iter_mut()
                            .for_each(|p| self.exemplars(&mut p.exemplars)),
                        Some(Data::ExponentialHistogram(g)) => g
                            .data_points
                            .iter_mut()
                            .for_each(|p| self.exemplars(&mut p.exemplars)),
                        Some(Data::Summary(_)) | None => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
    use loupe_model::otlp::trace::span::Link;
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
    use loupe_model::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};

    fn spans(b: &Batch) -> Vec<Span> {
        match b {
            Batch::Traces(r) => r.resource_spans[0].scope_spans[0].spans.clone(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_reference_to_an_id_gets_the_same_new_id() {
        let (t1, t2) = (vec![1u8; 16], vec![2u8; 16]);
        let (root, child, other) = (vec![3u8; 8], vec![4u8; 8], vec![5u8; 8]);
        let mut traces = Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        Span {
                            trace_id: t1.clone(),
                            span_id: root.clone(),
                            parent_span_id: Vec::new(),
                            ..Default::default()
                        },
                        Span {
                            trace_id: t1.clone(),
                            span_id: child.clone(),
                            parent_span_id: root.clone(),
                            ..Default::default()
                        },
                        Span {
                            trace_id: t2.clone(),
                            span_id: other.clone(),
                            links: vec![Link {
                                trace_id: t1.clone(),
                                span_id: child.clone(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let mut logs = Batch::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        trace_id: t1.clone(),
                        span_id: child.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let fresh = FreshIds::default();
        fresh.apply(&mut traces);
        fresh.apply(&mut logs);
        let s = spans(&traces);
        // New IDs, valid sizes, none of the old ones.
        assert_eq!((s[0].trace_id.len(), s[0].span_id.len()), (16, 8));
        assert_ne!(s[0].trace_id, t1);
        assert_ne!(s[2].trace_id, t2);
        assert_ne!(s[0].trace_id, s[2].trace_id);
        assert!([&root, &child, &other]
            .iter()
            .all(|old| s.iter().all(|x| &&x.span_id != old)));
        // Joined as before: parent, link, log record; the root stays a root.
        assert!(s[0].parent_span_id.is_empty());
        assert_eq!(s[1].trace_id, s[0].trace_id);
        assert_eq!(s[1].parent_span_id, s[0].span_id);
        assert_eq!(s[2].links[0].trace_id, s[1].trace_id);
        assert_eq!(s[2].links[0].span_id, s[1].span_id);
        let Batch::Logs(r) = &logs else {
            panic!("logs")
        };
        let l = &r.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!((&l.trace_id, &l.span_id), (&s[1].trace_id, &s[1].span_id));
        // Another replay, other IDs.
        let mut again = Batch::Traces(ExportTraceServiceRequest::default());
        if let Batch::Traces(r) = &mut again {
            r.resource_spans = vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: t1.clone(),
                        span_id: root.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        FreshIds::default().apply(&mut again);
        assert_ne!(spans(&again)[0].trace_id, s[0].trace_id);
    }
}
