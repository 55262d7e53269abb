//! OTLP/gRPC: the three Export services on one tonic server.

use std::future::Future;
use std::sync::Arc;

use loupe_model::otlp::{logs_service as ls, metrics_service as ms, trace_service as ts};
use loupe_model::sink::Sink;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::admit::{AdmitLayer, Admitted};
use crate::pipeline::{self, Signal};
use crate::stats::{Outcome, Transport};
use crate::status::{remap_tonic_code, IngestError};
use crate::ReceiverConfig;

/// The gRPC services, sharing one sink.
#[derive(Clone)]
pub struct OtlpGrpc {
    cx: pipeline::Context,
}

impl OtlpGrpc {
    pub fn new(sink: Arc<dyn Sink>, config: &ReceiverConfig) -> Self {
        OtlpGrpc {
            cx: pipeline::Context::new(sink, config),
        }
    }

    async fn export<S: Signal>(
        &self,
        req: Request<S::Request>,
    ) -> Result<Response<S::Response>, Status> {
        let charge = req.extensions().get::<Admitted>().map(|a| a.0.clone());
        let req = req.into_inner();
        let size = prost::Message::encoded_len(&req);
        let stats = &self.cx.stats;
        match pipeline::export::<S>(&self.cx, Transport::Grpc, size, charge.as_deref(), req).await {
            Ok(a) => {
                stats.request(S::KIND, Transport::Grpc, Outcome::Ok);
                Ok(Response::new(S::response(a.rejected, a.message)))
            }
            Err(e) => {
                stats.request(S::KIND, Transport::Grpc, Outcome::of(&e));
                Err(e.to_grpc())
            }
        }
    }
}

#[tonic::async_trait]
impl ts::trace_service_server::TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ts::ExportTraceServiceRequest>,
    ) -> Result<Response<ts::ExportTraceServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Traces>(self, request).await
    }
}

#[tonic::async_trait]
impl ms::metrics_service_server::MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ms::ExportMetricsServiceRequest>,
    ) -> Result<Response<ms::ExportMetricsServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Metrics>(self, request).await
    }
}

#[tonic::async_trait]
impl ls::logs_service_server::LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ls::ExportLogsServiceRequest>,
    ) -> Result<Response<ls::ExportLogsServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Logs>(self, request).await
    }
}

/// Applies [`remap_tonic_code`] to the status tonic put in a response's
/// headers (trailers-only answers, which is how decode failures go out).
fn remap_response<B>(mut resp: http::Response<B>) -> http::Response<B> {
    let h = resp.headers_mut();
    let code = h
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32);
    // tonic percent-encodes the message ("too%20large"): decode it first.
    let message = h
        .get("grpc-message")
        .map(|v| percent_decode(v.as_bytes()))
        .unwrap_or_default();
    if let Some(new) = code.and_then(|c| remap_tonic_code(c, &message)) {
        h.insert("grpc-status", http::HeaderValue::from(new as i32));
    }
    resp
}

/// Whether tonic refused the request before Loupe's handler saw it (too
/// large, undecodable): the codes [`remap_tonic_code`] produces, which the
/// handler never answers with.
fn refused_before_handler<B>(resp: &http::Response<B>) -> bool {
    let code = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32);
    let message = resp
        .headers()
        .get("grpc-message")
        .map(|v| percent_decode(v.as_bytes()))
        .unwrap_or_default();
    match code {
        Some(tonic::Code::ResourceExhausted) => message.contains("too large"),
        Some(tonic::Code::InvalidArgument) => {
            message.starts_with("Error decompressing")
                || message.starts_with("failed to decode Protobuf message")
        }
        _ => false,
    }
}

/// Decodes the percent-encoding of a `grpc-message` header (gRPC's
/// percent-encoding, where `+` is itself; malformed escapes stay as sent).
fn percent_decode(bytes: &[u8]) -> String {
    percent_encoding::percent_decode(bytes)
        .decode_utf8_lossy()
        .into_owned()
}

/// Serves OTLP/gRPC on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    sink: Arc<dyn Sink>,
    config: ReceiverConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let svc = OtlpGrpc::new(sink, &config);
    let key = config.api_key.clone();
    // Checked on the headers, before tonic decodes the message.
    let check = move |req: Request<()>| -> Result<Request<()>, Status> {
        match &key {
            Some(k)
                if !k.admits_values(
                    req.metadata()
                        .get(crate::auth::HEADER)
                        .map(|v| v.as_bytes()),
                    req.metadata()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok()),
                ) =>
            {
                Err(IngestError::Unauthenticated.to_grpc())
            }
            _ => Ok(req),
        }
    };
    let stats = config.stats.clone();
    let limit = config.max_decoded_bytes;
    let traces = ts::trace_service_server::TraceServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let metrics = ms::metrics_service_server::MetricsServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let logs = ls::logs_service_server::LogsServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    tonic::transport::Server::builder()
        // No waiting room: memory is bounded by the in-flight budget, which
        // refuses (retryable) at once instead of letting exports wait past
        // their deadlines.
        .layer(AdmitLayer(config.budget.clone()))
        .layer(tower::util::MapResponseLayer::new(move |r| {
            let r = remap_response(r);
            if refused_before_handler(&r) {
                stats.undecodable_grpc();
            }
            r
        }))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            traces,
            check.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            metrics,
            check.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            logs, check,
        ))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}

/// The error a gRPC server stops with.
pub type TransportError = tonic::transport::Error;

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: tonic::Code, message: &str) -> http::Response<()> {
        let mut h = http::HeaderMap::new();
        tonic::Status::new(code, message)
            .add_header(&mut h)
            .expect("status headers");
        let mut resp = http::Response::new(());
        *resp.headers_mut() = h;
        resp
    }

    fn code_of(resp: &http::Response<()>) -> &str {
        resp.headers()["grpc-status"].to_str().unwrap()
    }

    #[test]
    fn remaps_tonic_answers_despite_percent_encoding() {
        let too_large = answer(
            tonic::Code::OutOfRange,
            "Error, decoded message length too large: found 67110025 bytes, the limit is: 67108864 bytes",
        );
        assert!(too_large.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .contains("%20"));
        let too_large = remap_response(too_large);
        assert_eq!(code_of(&too_large), "8");
        assert!(refused_before_handler(&too_large));
        assert!(!refused_before_handler(&answer(
            tonic::Code::ResourceExhausted,
            "Loupe is busy writing; retry in 1s"
        )));
        let bad_gzip = answer(
            tonic::Code::Internal,
            "Error decompressing: invalid gzip header, while sending request",
        );
        assert_eq!(code_of(&remap_response(bad_gzip)), "3");
        let other = answer(tonic::Code::Internal, "something else");
        assert_eq!(code_of(&remap_response(other)), "13");
        assert_eq!(percent_decode(b"a%20b%2"), "a b%2");
        assert_eq!(percent_decode(b"%zz%41"), "%zzA");
    }
}
