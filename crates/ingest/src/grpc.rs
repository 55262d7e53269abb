//! OTLP/gRPC: the three Export services on one tonic server.

use std::future::Future;
use std::sync::Arc;

use loupe_model::otlp::{logs_service as ls, metrics_service as ms, trace_service as ts};
use loupe_model::sink::Sink;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::pipeline::{self, Signal};
use crate::status::remap_tonic_code;
use crate::ReceiverConfig;

/// The gRPC services, sharing one sink.
#[derive(Clone)]
pub struct OtlpGrpc {
    sink: Arc<dyn Sink>,
}

impl OtlpGrpc {
    pub fn new(sink: Arc<dyn Sink>) -> Self {
        OtlpGrpc { sink }
    }

    async fn export<S: Signal>(&self, req: S::Request) -> Result<Response<S::Response>, Status> {
        match pipeline::export::<S>(self.sink.as_ref(), req).await {
            Ok(a) => Ok(Response::new(S::response(a.rejected, a.message))),
            Err(e) => Err(e.to_grpc()),
        }
    }
}

#[tonic::async_trait]
impl ts::trace_service_server::TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ts::ExportTraceServiceRequest>,
    ) -> Result<Response<ts::ExportTraceServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Traces>(self, request.into_inner()).await
    }
}

#[tonic::async_trait]
impl ms::metrics_service_server::MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ms::ExportMetricsServiceRequest>,
    ) -> Result<Response<ms::ExportMetricsServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Metrics>(self, request.into_inner()).await
    }
}

#[tonic::async_trait]
impl ls::logs_service_server::LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ls::ExportLogsServiceRequest>,
    ) -> Result<Response<ls::ExportLogsServiceResponse>, Status> {
        OtlpGrpc::export::<pipeline::Logs>(self, request.into_inner()).await
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
    let message = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if let Some(new) = code.and_then(|c| remap_tonic_code(c, &message)) {
        h.insert("grpc-status", http::HeaderValue::from(new as i32));
    }
    resp
}

/// Serves OTLP/gRPC on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    sink: Arc<dyn Sink>,
    config: ReceiverConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let svc = OtlpGrpc::new(sink);
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
        // Requests waiting here are not read: HTTP/2 flow control keeps
        // their bodies on the client, so memory stays bounded.
        .concurrency_limit_per_connection(8)
        .layer(tower::util::MapResponseLayer::new(remap_response))
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}

/// The error a gRPC server stops with.
pub type TransportError = tonic::transport::Error;
