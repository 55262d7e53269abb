//! Loupe's OTLP receiver.
//!
//! Both transports share one pipeline: [`decode`] (size-capped gzip, then
//! protobuf or JSON) → [`validate`] (drop bad items, count them for
//! `partial_success`) → a [`Sink`](loupe_model::sink::Sink) → wait for the
//! commit → answer. Every failure becomes a protocol answer in exactly one
//! place per protocol: [`status`] for both (gRPC `Status`, HTTP status code
//! plus `google.rpc.Status` body).

pub mod cors;
pub mod decode;
pub mod grpc;
pub mod http;
pub mod pipeline;
pub mod status;
pub mod validate;

/// The largest request Loupe accepts, counted after decompression.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// What the receiver needs to know besides the sink.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Largest accepted request body after decompression.
    pub max_decoded_bytes: usize,
    /// Browser origins allowed to post OTLP/HTTP (see [`cors`]).
    pub cors_origins: Vec<String>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            max_decoded_bytes: MAX_DECODED_BYTES,
            cors_origins: cors::DEFAULT_ORIGINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}
