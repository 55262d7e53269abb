//! One export call over OTLP/gRPC or OTLP/HTTP (protobuf), and which
//! failures are worth retrying (the OTLP specification's lists).

use loupe_model::otlp::logs_service::logs_service_client::LogsServiceClient;
use loupe_model::otlp::metrics_service::metrics_service_client::MetricsServiceClient;
use loupe_model::otlp::trace_service::trace_service_client::TraceServiceClient;
use loupe_model::sink::Batch;
use prost::Message;
use tonic::transport::Channel;

use crate::{ForwardConfig, ForwardError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// Why an export failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later: unreachable, overloaded, timed out.
    Retryable(String),
    /// The upstream will never take this batch.
    Permanent(String),
}

pub(crate) enum Client {
    Grpc(Channel),
    Http {
        client: reqwest::Client,
        base: String,
    },
}

impl Client {
    pub(crate) fn new(c: &ForwardConfig) -> Result<Client, ForwardError> {
        let err = |message: String| ForwardError::Client {
            endpoint: c.endpoint.clone(),
            message,
        };
        match c.protocol {
            Protocol::Grpc => {
                let ep = tonic::transport::Endpoint::from_shared(c.endpoint.clone())
                    .map_err(|e| err(e.to_string()))?
                    .connect_timeout(c.timeout)
                    .timeout(c.timeout);
                Ok(Client::Grpc(ep.connect_lazy()))
            }
            Protocol::Http => {
                let client = reqwest::Client::builder()
                    .timeout(c.timeout)
                    .connect_timeout(c.timeout)
                    .build()
                    .map_err(|e| err(e.to_string()))?;
                Ok(Client::Http {
                    client,
                    base: c.endpoint.trim_end_matches('/').to_string(),
                })
            }
        }
    }

    pub(crate) async fn send(&self, batch: &Batch) -> Result<(), SendError> {
        match self {
            Client::Grpc(ch) => {
                let r = match batch {
                    Batch::Traces(r) => TraceServiceClient::new(ch.clone())
                        .export(r.clone())
                        .await
                        .map(|_| ()),
                    Batch::Metrics(r) => MetricsServiceClient::new(ch.clone())
                        .export(r.clone())
                        .await
                        .map(|_| ()),
                    Batch::Logs(r) => LogsServiceClient::new(ch.clone())
                        .export(r.clone())
                        .await
                        .map(|_| ()),
                };
                r.map_err(|s| grpc_error(&s))
            }
            Client::Http { client, base } => {
                let (path, body) = match batch {
                    Batch::Traces(r) => ("/v1/traces", r.encode_to_vec()),
                    Batch::Metrics(r) => ("/v1/metrics", r.encode_to_vec()),
                    Batch::Logs(r) => ("/v1/logs", r.encode_to_vec()),
                };
                let resp = client
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| SendError::Retryable(error_chain(&e)))?;
                http_result(resp.status().as_u16())
            }
        }
    }
}

/// The error and its causes on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn grpc_error(s: &tonic::Status) -> SendError {
    use tonic::Code::*;
    let message = format!("{:?}: {}", s.code(), s.message());
    match s.code() {
        // OTLP's retryable codes, plus Unknown: tonic reports some
        // transport failures (connection reset while restarting) with it.
        Cancelled | DeadlineExceeded | Aborted | OutOfRange | Unavailable | DataLoss
        | ResourceExhausted | Unknown => SendError::Retryable(message),
        _ => SendError::Permanent(message),
    }
}

fn http_result(status: u16) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        429 | 502 | 503 | 504 => Err(SendError::Retryable(format!("HTTP {status}"))),
        _ => Err(SendError::Permanent(format!("HTTP {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_answers() {
        assert_eq!(http_result(204), Ok(()));
        assert!(matches!(http_result(503), Err(SendError::Retryable(_))));
        assert!(matches!(http_result(400), Err(SendError::Permanent(_))));
        assert!(matches!(
            grpc_error(&tonic::Status::unavailable("down")),
            SendError::Retryable(_)
        ));
        assert!(matches!(
            grpc_error(&tonic::Status::invalid_argument("bad")),
            SendError::Permanent(_)
        ));
    }
}
