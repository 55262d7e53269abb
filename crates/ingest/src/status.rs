//! Every receiver failure, and its answer in each protocol. The one place
//! where errors become gRPC codes, HTTP status codes and `google.rpc.Status`
//! bodies.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use loupe_model::sink::SinkError;
use prost::Message;
use tonic_types::{ErrorDetails, StatusExt};

use loupe_otlp::decode::{DecodeError, Encoding};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("unsupported Content-Type {0:?}; use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    #[error("method {0} not allowed; OTLP/HTTP takes POST")]
    MethodNotAllowed(String),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The in-flight budget is spent (`budget`): refused before reading,
    /// retryable, so memory stays bounded and the exporter sends it again.
    #[error("Loupe has {} MiB of exports in flight, its memory budget; retry in {}s", limit >> 20, retry_after.as_secs().max(1))]
    OverBudget { limit: usize, retry_after: Duration },
    #[error("missing or wrong OTLP API key: send it as the x-otlp-api-key header (OTEL_EXPORTER_OTLP_HEADERS=x-otlp-api-key=KEY) or as Authorization: Bearer KEY")]
    Unauthenticated,
}

/// `google.rpc.Status`, the error body of OTLP/HTTP and gRPC's rich
/// status, and `google.rpc.RetryInfo`: tonic-types' generated messages.
pub use tonic_types::pb::{RetryInfo, Status as RpcStatus};

pub const RETRY_INFO_TYPE: &str = tonic_types::RetryInfo::TYPE_URL;

impl IngestError {
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            IngestError::Decode(DecodeError::TooLarge { .. }) => tonic::Code::ResourceExhausted,
            IngestError::Decode(_) | IngestError::UnsupportedMediaType(_) => {
                tonic::Code::InvalidArgument
            }
            IngestError::MethodNotAllowed(_) => tonic::Code::Unimplemented,
            IngestError::Unauthenticated => tonic::Code::Unauthenticated,
            IngestError::Sink(SinkError::Failed(_)) => tonic::Code::Internal,
            IngestError::Sink(_) | IngestError::OverBudget { .. } => tonic::Code::Unavailable,
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            IngestError::Decode(DecodeError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Decode(DecodeError::UnsupportedCompression(_))
            | IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::Decode(_) => StatusCode::BAD_REQUEST,
            IngestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::Unauthenticated => StatusCode::UNAUTHORIZED,
            IngestError::Sink(SinkError::Failed(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            IngestError::Sink(_) | IngestError::OverBudget { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestError::Sink(e) => e.retry_after(),
            IngestError::OverBudget { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The `google.rpc.Status` for this error, with `RetryInfo` when the
    /// client should retry.
    pub fn rpc_status(&self) -> RpcStatus {
        let details = self
            .retry_after()
            .map(|d| prost_types::Any {
                type_url: RETRY_INFO_TYPE.to_string(),
                value: RetryInfo::from(tonic_types::RetryInfo::new(Some(d))).encode_to_vec(),
            })
            .into_iter()
            .collect();
        RpcStatus {
            code: self.grpc_code() as i32,
            message: self.to_string(),
            details,
        }
    }

    /// The gRPC answer: the rich status (tonic-types' `StatusExt`) when
    /// there are details, the same `google.rpc.Status` as [`Self::rpc_status`].
    pub fn to_grpc(&self) -> tonic::Status {
        match self.retry_after() {
            None => tonic::Status::new(self.grpc_code(), self.to_string()),
            Some(d) => tonic::Status::with_error_details(
                self.grpc_code(),
                self.to_string(),
                ErrorDetails::with_retry_info(Some(d)),
            ),
        }
    }

    /// The OTLP/HTTP answer, body in the request's encoding.
    pub fn to_http(&self, encoding: Encoding) -> Response {
        let status = self.rpc_status();
        let body: Vec<u8> = match encoding {
            Encoding::Protobuf => status.encode_to_vec(),
            Encoding::Json => {
                let details: Vec<serde_json::Value> = self
                    .retry_after()
                    .map(|d| {
                        serde_json::json!({
                            "@type": RETRY_INFO_TYPE,
                            "retryDelay": format!("{}s", d.as_secs_f64()),
                        })
                    })
                    .into_iter()
                    .collect();
                serde_json::to_vec(&serde_json::json!({
                    "code": status.code,
                    "message": status.message,
                    "details": details,
                }))
                .unwrap_or_default()
            }
        };
        let mut resp = (self.http_status(), body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        );
        if let Some(d) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(d.as_secs().max(1)));
        }
        if let IngestError::MethodNotAllowed(_) = self {
            h.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        resp
    }
}

/// Rewrites the answers tonic produces by itself before Loupe's handlers
/// run, so they follow OTLP too: an oversized uncompressed message (tonic:
/// `OUT_OF_RANGE`) is `RESOURCE_EXHAUSTED` like an oversized compressed one,
/// and undecodable gzip or protobuf (tonic: `INTERNAL`) is the client's
/// fault, `INVALID_ARGUMENT`.
pub fn remap_tonic_code(code: tonic::Code, message: &str) -> Option<tonic::Code> {
    match code {
        tonic::Code::OutOfRange if message.contains("too large") => {
            Some(tonic::Code::ResourceExhausted)
        }
        tonic::Code::Internal
            if message.starts_with("Error decompressing")
                || message.starts_with("failed to decode Protobuf message") =>
        {
            Some(tonic::Code::InvalidArgument)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk_full() -> IngestError {
        IngestError::Sink(SinkError::Unavailable {
            reason: "disk full".into(),
            retry_after: Duration::from_secs(5),
        })
    }

    /// Issue 13: a full disk was answered 500 / INTERNAL, which OTLP
    /// exporters do not retry, so they dropped the data.
    #[test]
    fn disk_full_is_retryable_not_500() {
        let e = disk_full();
        let resp = e.to_http(Encoding::Protobuf);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
        assert_eq!(e.grpc_code(), tonic::Code::Unavailable);
        let status = e.rpc_status();
        assert!(status.message.contains("disk full"), "{}", status.message);
        assert_eq!(status.details.len(), 1);
        assert_eq!(status.details[0].type_url, RETRY_INFO_TYPE);
        let info = RetryInfo::decode(&status.details[0].value[..]).unwrap();
        assert_eq!(info.retry_delay.unwrap().seconds, 5);
        let grpc = e.to_grpc();
        assert_eq!(grpc.code(), tonic::Code::Unavailable);
        assert!(
            !grpc.details().is_empty(),
            "RetryInfo travels in the details"
        );
        assert_eq!(
            grpc.details(),
            &e.rpc_status().encode_to_vec()[..],
            "gRPC carries the same google.rpc.Status as the HTTP body"
        );
    }

    #[test]
    fn a_failed_write_stays_internal() {
        let e = IngestError::Sink(SinkError::Failed("corrupt".into()));
        assert_eq!(e.http_status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.grpc_code(), tonic::Code::Internal);
        assert!(e.rpc_status().details.is_empty());
    }
}
