//! Trace analysis: pure functions over the spans of one trace (or of the
//! stitched view: a trace plus the traces joined to it by span links).
//!
//! Why a crate of its own: the same answers serve the UI, exports and agent
//! tools, so they are computed once, in Rust, with no storage, clock or HTTP
//! here; the server reads a trace, converts it with [`otlp::spans_of`] and
//! calls these functions. Everything is iterative and O(n log n) in the span
//! count, because a trace is untrusted input from the network: a 100k-deep
//! parent chain must not overflow a stack, and timestamps may be inverted
//! or at `u64` extremes, so time arithmetic saturates.
//!
//! - [`tree`]: the span forest (parents, children, stitching by links).
//! - [`critical`]: the critical path, as Jaeger defines it.
//! - [`stats`]: per (service, name) and per service statistics, self time.
//! - [`compare`]: aligns two traces and says what changed.
//! - [`runs`]: run keys and the choice of a previous run.
//! - [`servicemap`]: caller → callee service edges with latencies.

pub mod compare;
pub mod critical;
pub mod otlp;
pub mod runs;
pub mod servicemap;
pub mod stats;
pub mod tree;

pub use loupe_model::ids::{SpanId, TraceId};

/// One span as the analyses see it: only what they need, so a 100k-span
/// trace is a few megabytes here rather than its full OTLP form.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The parent in the same trace, if any.
    pub parent_id: Option<SpanId>,
    pub service: String,
    pub name: String,
    /// Unix nanoseconds, as sent: `end` may be before `start`.
    pub start: u64,
    pub end: u64,
    /// OTLP status `ERROR`.
    pub error: bool,
    /// OTLP span kind (0 unspecified … 5 consumer).
    pub kind: i32,
    /// Span links: (trace, span) this span points to.
    pub links: Vec<(TraceId, SpanId)>,
    /// Only the attributes the caller asked for (run-key attributes), span
    /// attributes first, then the resource's.
    pub attrs: Vec<(String, String)>,
}

impl Span {
    /// The duration, zero when `end` is before `start`.
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// What an analysis can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("the trace has no spans")]
    Empty,
}

/// Serializes nanoseconds as a decimal string: JSON numbers lose precision
/// above 2^53 (as everywhere else in the API).
pub(crate) fn ns<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Serializes an ID (or anything printable) as its text, without keeping
/// a `String` per span in the answer.
pub(crate) fn display<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Serializes a signed nanosecond delta as a decimal string.
pub(crate) fn ns_signed<S: serde::Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}
