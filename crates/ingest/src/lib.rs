//! Loupe's OTLP receiver.
//!
//! Both transports share one pipeline (`pipeline`): `loupe_otlp::decode`
//! (size-capped gzip, then protobuf or JSON) → `loupe_otlp::validate`
//! (drop bad items, count them for `partial_success`) → a
//! [`Sink`](loupe_model::sink::Sink) → wait for the commit → answer. Every failure becomes a protocol answer in exactly one
//! place per protocol: [`status`] for both (gRPC `Status`, HTTP status code
//! plus `google.rpc.Status` body). Between validation and the sink, the
//! user's `loupe_otlp::filter` rules drop what they name; [`stats`] counts it all.

pub mod admit;
pub mod budget;
pub mod conn;
pub mod cors;
pub mod grpc;
pub mod http;
pub mod pipeline;
pub mod stats;
pub mod status;

pub use auth::{constant_time_eq, ApiKey};
mod auth;

use loupe_otlp::{filter, MAX_DECODED_BYTES};

use std::sync::Arc;

/// What the receiver needs to know besides the sink.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Largest accepted request body after decompression.
    pub max_decoded_bytes: usize,
    /// Browser origins allowed to post OTLP/HTTP (see [`cors`]).
    pub cors_origins: Vec<String>,
    /// The live filter rules (shared with the settings API).
    pub filters: Arc<filter::Filters>,
    /// The counters both transports update (shared with `/metrics`).
    pub stats: Arc<stats::IngestStats>,
    /// When set, every export must carry this key (`x-otlp-api-key` or
    /// `Authorization: Bearer`): Loupe then listens beyond loopback.
    pub api_key: Option<ApiKey>,
    /// Bytes of exports in flight over both transports, at most
    /// ([`budget`]); shared with `/metrics`.
    pub budget: Arc<budget::Budget>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            max_decoded_bytes: MAX_DECODED_BYTES,
            cors_origins: cors::DEFAULT_ORIGINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            filters: Arc::new(filter::Filters::default()),
            stats: Arc::new(stats::IngestStats::default()),
            api_key: None,
            budget: Arc::new(budget::Budget::default()),
        }
    }
}
