//! The transport-independent part of an export: validate, submit, wait for
//! the commit, build the answer.

use loupe_model::otlp::{logs_service as ls, metrics_service as ms, trace_service as ts};
use loupe_model::sink::{Batch, Sink};
use serde::de::DeserializeOwned;

use crate::status::IngestError;
use crate::validate::{self, Rejected};

/// One OTLP signal: its request and response types and validation.
pub trait Signal: Send + Sync + 'static {
    type Request: prost::Message + Default + DeserializeOwned + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;
    /// The item name in messages ("spans").
    const ITEMS: &'static str;
    /// The JSON key of the rejected count in `partialSuccess`.
    const REJECTED_KEY: &'static str;
    fn validate(req: &mut Self::Request) -> Rejected;
    fn batch(req: Self::Request) -> Batch;
    fn response(rejected: i64, message: String) -> Self::Response;
}

pub struct Traces;
pub struct Metrics;
pub struct Logs;

impl Signal for Traces {
    type Request = ts::ExportTraceServiceRequest;
    type Response = ts::ExportTraceServiceResponse;
    const ITEMS: &'static str = "spans";
    const REJECTED_KEY: &'static str = "rejectedSpans";
    fn validate(req: &mut Self::Request) -> Rejected {
        validate::traces(req)
    }
    fn batch(req: Self::Request) -> Batch {
        Batch::Traces(req)
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
    fn validate(_req: &mut Self::Request) -> Rejected {
        // Data points carry no IDs that could make them unusable.
        Rejected::default()
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
    fn validate(req: &mut Self::Request) -> Rejected {
        validate::logs(req)
    }
    fn batch(req: Self::Request) -> Batch {
        Batch::Logs(req)
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

/// Validates, submits and waits until the valid part is committed.
pub async fn export<S: Signal>(
    sink: &dyn Sink,
    mut req: S::Request,
) -> Result<Accepted, IngestError> {
    let rejected = S::validate(&mut req);
    let batch = S::batch(req);
    if batch.item_count() > 0 {
        sink.submit(batch)?.wait().await?;
    }
    Ok(Accepted {
        rejected: rejected.count,
        message: rejected.message(S::ITEMS),
    })
}
