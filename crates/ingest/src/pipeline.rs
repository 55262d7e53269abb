//! The transport-independent part of an export: validate, filter, submit,
//! wait for the commit, count, build the answer.

use std::sync::Arc;

use loupe_model::otlp::{logs_service as ls, metrics_service as ms, trace_service as ts};
use loupe_model::sink::{Batch, Sink};
use serde::de::DeserializeOwned;

use crate::budget::{Charge, DECODED_FACTOR};
use crate::stats::{IngestStats, Transport};
use crate::status::IngestError;
use crate::ReceiverConfig;
use loupe_model::time::TimeIssue;
use loupe_otlp::filter::{Filters, SignalKind};
use loupe_otlp::validate::{self, Rejected};

/// A log record's own time: `timeUnixNano`, else `observedTimeUnixNano`
/// (zero time is allowed by OTLP when the observed time is set).
pub fn log_time(l: &loupe_model::otlp::logs::LogRecord) -> u64 {
    if l.time_unix_nano != 0 {
        l.time_unix_nano
    } else {
        l.observed_time_unix_nano
    }
}

/// What both transports share: where batches go, the filters applied
/// before, and the counters.
#[derive(Clone)]
pub struct Context {
    pub sink: Arc<dyn Sink>,
    pub filters: Arc<Filters>,
    pub stats: Arc<IngestStats>,
}

impl Context {
    pub fn new(sink: Arc<dyn Sink>, config: &ReceiverConfig) -> Context {
        Context {
            sink,
            filters: config.filters.clone(),
            stats: config.stats.clone(),
        }
    }
}

/// One OTLP signal: its request and response types and validation.
pub trait Signal: Send + Sync + 'static {
    type Request: prost::Message + Default + DeserializeOwned + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;
    /// The item name in messages ("spans").
    const ITEMS: &'static str;
    /// The JSON key of the rejected count in `partialSuccess`.
    const REJECTED_KEY: &'static str;
    const KIND: SignalKind;
    fn validate(req: &mut Self::Request) -> Rejected;
    /// Removes what the filters drop; returns how many items.
    fn filter(filters: &Filters, req: &mut Self::Request) -> u64;
    fn batch(req: Self::Request) -> Batch;
    fn response(rejected: i64, message: String) -> Self::Response;
    /// Items whose own timestamps look wrong (`TimeIssue`), received at
    /// `now`: stored all the same, counted and logged.
    fn suspect_times(_req: &Self::Request, _now: u64) -> u64 {
        0
    }
}

pub struct Traces;
pub struct Metrics;
pub struct Logs;

impl Signal for Traces {
    type Request = ts::ExportTraceServiceRequest;
    type Response = ts::ExportTraceServiceResponse;
    const ITEMS: &'static str = "spans";
    const REJECTED_KEY: &'static str = "rejectedSpans";
    const KIND: SignalKind = SignalKind::Traces;
    fn validate(req: &mut Self::Request) -> Rejected {
        validate::traces(req)
    }
    fn filter(filters: &Filters, req: &mut Self::Request) -> u64 {
        filters.traces(req)
    }
    fn batch(req: Self::Request) -> Batch {
        Batch::Traces(req)
    }
    fn suspect_times(req: &Self::Request, now: u64) -> u64 {
        req.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .filter(|s| {
                TimeIssue::of_span(s.start_time_unix_nano, s.end_time_unix_nano, now).is_some()
            })
            .count() as u64
    }
    fn response(rejected: i64, message: String) -> Self::Response {
        ts::ExportTraceServiceResponse {
            partial_success: (rejected > 0).then_some(ts::ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }
    }
}

impl Signal for Metrics {
    type Request = ms::ExportMetricsServiceRequest;
    type Response = ms::ExportMetricsServiceResponse;
    const ITEMS: &'static str = "data points";
    const REJECTED_KEY: &'static str = "rejectedDataPoints";
    const KIND: SignalKind = SignalKind::Metrics;
    fn filter(filters: &Filters, req: &mut Self::Request) -> u64 {
        filters.metrics(req)
    }
    fn validate(req: &mut Self::Request) -> Rejected {
        validate::metrics(req)
    }
    fn batch(req: Self::Request) -> Batch {
        Batch::Metrics(req)
    }
    fn response(rejected: i64, message: String) -> Self::Response {
        ms::ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then_some(ms::ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }
    }
}

impl Signal for Logs {
    type Request = ls::ExportLogsServiceRequest;
    type Response = ls::ExportLogsServiceResponse;
    const ITEMS: &'static str = "log records";
    const REJECTED_KEY: &'static str = "rejectedLogRecords";
    const KIND: SignalKind = SignalKind::Logs;
    fn validate(req: &mut Self::Request) -> Rejected {
        validate::logs(req)
    }
    fn filter(filters: &Filters, req: &mut Self::Request) -> u64 {
        filters.logs(req)
    }
    fn batch(req: Self::Request) -> Batch {
        Batch::Logs(req)
    }
    fn suspect_times(req: &Self::Request, now: u64) -> u64 {
        req.resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .filter(|l| TimeIssue::of(log_time(l), now).is_some())
            .count() as u64
    }
    fn response(rejected: i64, message: String) -> Self::Response {
        ls::ExportLogsServiceResponse {
            partial_success: (rejected > 0).then_some(ls::ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }
    }
}

/// What an accepted export answers: how many items were rejected, and why.
pub struct Accepted {
    pub rejected: i64,
    pub message: String,
}

/// Validates, filters, submits and waits until the valid part is
/// committed. `size` is the decoded request's size in bytes. Filtered items
/// are not reported to the client: dropping them is the user's choice, not
/// the sender's fault. `charge` is the request's share of the in-flight
/// budget: the decoded request until it is submitted, then its size (the
/// prepared batch is smaller) until the commit.
pub async fn export<S: Signal>(
    cx: &Context,
    transport: Transport,
    size: usize,
    charge: Option<&Charge>,
    mut req: S::Request,
) -> Result<Accepted, IngestError> {
    if let Some(c) = charge {
        c.set(size.saturating_mul(DECODED_FACTOR));
    }
    cx.stats.size(S::KIND, transport, size);
    let rejected = S::validate(&mut req);
    S::filter(&cx.filters, &mut req);
    let suspect = S::suspect_times(&req, loupe_model::time::now_ns());
    let batch = S::batch(req);
    let items = batch.item_count() as u64;
    if items > 0 {
        let stored = match cx.sink.submit(batch) {
            Ok(ticket) => {
                if let Some(c) = charge {
                    c.set(size);
                }
                ticket.wait().await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            cx.stats.refused(S::KIND, transport, items);
            return Err(e.into());
        }
    }
    cx.stats
        .items(S::KIND, transport, items, rejected.count.max(0) as u64);
    if suspect > 0 {
        // Accepted, so not partial success (that is for rejected items):
        // counted in /metrics, and said once per batch.
        cx.stats.suspect_times(S::KIND, suspect);
        tracing::debug!(
            "{suspect} {} with timestamps that look wrong (zero, before 2000, more than a year \
             before or a day after they were received): stored and flagged",
            S::ITEMS
        );
    }
    Ok(Accepted {
        rejected: rejected.count,
        message: rejected.message(S::ITEMS),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use loupe_model::otlp::metrics::{
        exponential_histogram_data_point::Buckets, metric::Data, ExponentialHistogram,
        ExponentialHistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    };
    use loupe_model::sink::{SinkError, Ticket};

    use super::*;

    /// Remembers how many items each submitted batch had.
    #[derive(Default)]
    struct Recording(Mutex<Vec<usize>>);

    impl Sink for Recording {
        fn submit(&self, batch: Batch) -> Result<Ticket, SinkError> {
            if let Ok(mut v) = self.0.lock() {
                v.push(batch.item_count());
            }
            Ok(Ticket::ready(Ok(())))
        }
    }

    fn exp_point(buckets: usize) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![1; buckets],
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn million_buckets_rejected_at_ingest_the_rest_stored() {
        let sink = Arc::new(Recording::default());
        let cx = Context::new(sink.clone(), &ReceiverConfig::default());
        let req = ms::ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "http.server.duration".into(),
                        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![exp_point(1_000_000), exp_point(160)],
                            aggregation_temporality: 1,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let accepted = export::<Metrics>(&cx, Transport::Http, 8_000_000, None, req)
            .await
            .expect("accepted");
        assert_eq!(accepted.rejected, 1);
        assert!(
            accepted
                .message
                .contains("positive has 1000000 buckets, more than the 2048 allowed"),
            "{}",
            accepted.message
        );
        let stored = sink.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(stored, vec![1], "the valid point is stored");
    }
}
