//! OTLP payloads without a transport: what the receiver, imports and the
//! configuration share, kept apart from sockets and HTTP so that reading a
//! bug-report bundle or a configuration file never pulls in a server.
//!
//! [`decode`] (size-capped gzip, then protobuf or JSON) → [`validate`]
//! (drop bad items, count them for `partial_success`) → [`filter`] (the
//! user's drop/keep rules, swapped whole at run time). `loupe-ingest`
//! runs them for both OTLP transports; `loupe-export` runs the first two
//! on imported files.

pub mod decode;
pub mod filter;
mod json_floats;
pub mod validate;

/// The largest request Loupe accepts, counted after decompression.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// Browser origins allowed to send OTLP/HTTP unless configured otherwise:
/// local development pages, on any port. The receiver's default and the
/// configuration's, so `loupe config` shows what the receiver does.
pub const DEFAULT_CORS_ORIGINS: &[&str] = &["http://localhost:*", "http://127.0.0.1:*"];
