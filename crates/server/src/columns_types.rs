//! The shape of `GET /traces/{traceId}/columns`, for the contract.
//!
//! The answer is newline-delimited JSON written by [`crate::trace_columns`]
//! for speed; these types say what its lines hold, as the trace page's
//! worker reads them. ts-rs writes them into `ui/src/generated/api.ts`, and
//! the route's test decodes real answers into them with
//! `deny_unknown_fields`, so the writer and the UI cannot drift apart.

use serde::Deserialize;
use ts_rs::TS;

use crate::otlp_types::{KeyValue, Resource, Scope, Span};

/// The answer's first line: what every chunk refers to.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TraceColumnsHead {
    /// Hex; every span of the answer is of this trace.
    pub trace_id: String,
    /// Spans in the answer (the sum of the chunks' lengths).
    pub span_count: u32,
    /// At most this many spans a chunk.
    pub chunk_size: u32,
    /// True when the spans come in the trace page's tree order (pre-order:
    /// roots, then each span's children, by start time, ties in stored
    /// order), with `parent`, `depth` and `size` filled in: the trace has
    /// one trace ID, unique span IDs, every parent present and no cycle.
    /// False: the stored order, and those columns are empty.
    pub preorder: bool,
    /// Nanoseconds, decimal strings: the earliest non-zero start and the
    /// latest non-zero start or end of the trace's spans ("0" when none),
    /// for a time axis drawn before the last chunk arrives.
    pub first_start: String,
    pub last_end: String,
    /// The spans' resources and scopes, referred to by index.
    pub resources: Vec<Resource>,
    pub scopes: Vec<Scope>,
}

/// A later line: the next spans, as columns of equal length (one entry a
/// span), in tree order when the head says `preorder`, else in the order
/// `GET /traces/{traceId}` lists them.
///
/// Strings that repeat (span names, status messages) and attributes are
/// interned: `strings` and `attributes` extend the answer's tables (the
/// string table starts as `[""]`), and the columns hold indices into them.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TraceColumnsChunk {
    /// Appended to the string table.
    pub strings: Vec<String>,
    /// Appended to the attribute table.
    pub attributes: Vec<KeyValue>,
    /// Hex.
    pub span_id: Vec<String>,
    /// Hex, `""` for a root.
    pub parent_span_id: Vec<String>,
    /// String table index.
    pub name: Vec<u32>,
    pub kind: Vec<i32>,
    pub flags: Vec<u32>,
    /// Loupe's own flags (`span_flags`): `TIME_SUSPECT` (2048) when the
    /// span's own timestamps look wrong next to when the trace last
    /// received a span, else 0; as `loupeFlags` in the OTLP answer.
    pub loupe_flags: Vec<u32>,
    /// Nanoseconds since the epoch, decimal strings (as stored: an end may
    /// precede its start, either may be 0).
    pub start: Vec<String>,
    pub end: Vec<String>,
    /// Index into the head's `resources` and `scopes`.
    pub resource: Vec<u32>,
    pub scope: Vec<u32>,
    /// The status code; -1 when the span has no status.
    pub status_code: Vec<i32>,
    /// String table index of the status message (0: none).
    pub status_message: Vec<u32>,
    /// How many of `attributeIds` are this span's (they follow in span order).
    pub attribute_count: Vec<u32>,
    /// Attribute table indices, every span's in turn.
    pub attribute_ids: Vec<u32>,
    /// With `preorder`: the answer index of the span's parent (-1: a root;
    /// always before the span), its depth (0 for a root) and its subtree's
    /// size (itself included). Empty otherwise.
    pub parent: Vec<i32>,
    pub depth: Vec<u32>,
    pub size: Vec<u32>,
    /// The spans with events, links, a trace state or dropped counts, whole
    /// (as `GET /traces/{traceId}` writes them): rare, so not columns.
    pub extras: Vec<TraceColumnsExtra>,
}

/// One span of a chunk in full.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TraceColumnsExtra {
    /// The span's index in its chunk.
    pub index: u32,
    pub span: Span,
}
