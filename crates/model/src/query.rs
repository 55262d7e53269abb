//! What the API asks the store, and what the store answers.
//!
//! Filters are already parsed and validated here (the `query` crate turns
//! URL parameters into them); the store only translates them into SQL.
//! Answers serialize to the JSON the API documents in `docs/api.md`:
//! lowerCamelCase keys and nanosecond timestamps as decimal strings, like
//! OTLP/JSON, because JavaScript numbers cannot hold them exactly.

use serde::{Serialize, Serializer};

use crate::ids::{SpanId, TraceId};
use crate::time::NanoRange;

/// One condition on an attribute (resource, scope or span attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrCondition {
    pub key: String,
    pub op: AttrOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrOp {
    Exists,
    Eq(String),
    Ne(String),
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
}

/// A boolean expression over attribute conditions, evaluated per trace:
/// `Cond` holds for a trace when some span of it (or its resource/scope)
/// meets the condition; `Not` holds when none does.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Cond(AttrCondition),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// The attribute key under which span names are indexed.
pub const SPAN_NAME_KEY: &str = ":name";

/// The attribute key under which instrumentation scope names are indexed.
pub const SCOPE_NAME_KEY: &str = ":scope";

/// A trace search. Conditions are evaluated per trace: a trace matches when
/// each condition is met by some span of it (or the span's resource/scope),
/// and `expr`, if any, holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub span_name: Option<String>,
    pub attrs: Vec<AttrCondition>,
    pub expr: Option<Expr>,
    pub errors_only: bool,
    pub min_duration_ns: Option<u64>,
    pub max_duration_ns: Option<u64>,
    pub range: NanoRange,
    pub limit: usize,
    /// Fill the summaries' details (context values, error message, links):
    /// what the trace list shows, read from each found trace's first chunks.
    pub details: Option<SummaryDetails>,
}

/// What the trace list asks of each summary beyond the `traces` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryDetails {
    /// Attribute keys whose first value in the trace is wanted
    /// (at most [`MAX_CONTEXT_KEYS`], each at most [`MAX_CONTEXT_KEY_LEN`] bytes).
    pub context_keys: Vec<String>,
}

/// Bounds of `context=`: the keys are looked up in every decoded span.
pub const MAX_CONTEXT_KEYS: usize = 8;
pub const MAX_CONTEXT_KEY_LEN: usize = 128;

/// One context attribute of a trace: the first value of the key among its spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ContextValue {
    pub key: String,
    pub value: String,
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            service: None,
            span_name: None,
            attrs: Vec::new(),
            expr: None,
            errors_only: false,
            min_duration_ns: None,
            max_duration_ns: None,
            range: NanoRange::default(),
            details: None,
            limit: 20,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub service: Option<String>,
    pub min_severity: Option<i32>,
    /// Substring of the body (a scan).
    pub text: Option<String>,
    /// Words to find in the body or attributes (the full-text index).
    pub search: Option<String>,
    /// Conditions on the record's attributes, all of which must hold.
    pub attrs: Vec<AttrCondition>,
    pub range: NanoRange,
    pub limit: usize,
}

/// A metric chart: what to plot and how big.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartQuery {
    /// `start` 0 means "an hour before `end`"; `end` `u64::MAX` means now.
    pub range: NanoRange,
    pub width: u32,
    pub height: u32,
    /// `None`: one line per series; `Some(keys)`: one per value of `keys`.
    pub split: Option<Vec<String>>,
    /// `sum`, `avg`, `min` or `max`.
    pub aggregate: String,
    /// `key=value` filters on resource and point attributes.
    pub filters: Vec<(String, String)>,
    pub quantiles: Vec<f64>,
    /// The viewer's UTC offset in seconds, for time labels.
    pub utc_offset_s: i64,
    /// Lines (by index) to leave out of the picture.
    pub hidden: Vec<usize>,
    /// `light` or `dark`: the page the SVG is drawn for.
    pub theme: String,
}

/// A chart pinned on the dashboard, in grid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DashboardPanel {
    pub title: String,
    /// The chart's query string in the metric explorer (`metric=…&split=…`).
    pub chart: String,
}

/// A metric catalogue filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Only metrics with series from this service.
    pub service: Option<String>,
}

pub fn ns_string<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_string")]
    pub start_time_unix_nano: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_string")]
    pub duration_nano: u64,
    pub span_count: u64,
    pub error_count: u64,
    pub services: Vec<String>,
    /// The search's `context` keys with their first value in the trace
    /// (searches that ask for details only; looked up in its first chunks).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub context: Option<Vec<ContextValue>>,
    /// The status message of its first error span (details only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error_message: Option<String>,
    /// The trace its spans link to, e.g. a child execution's parent (details only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub links_to: Option<String>,
    /// How many other traces link to this one, e.g. its child executions (details only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub linked_from: Option<u64>,
    /// Some span names a parent the trace does not have, or no span is a
    /// root: a long-running execution whose root is exported only when it
    /// ends, or a parent that was lost.
    pub incomplete: bool,
    /// Distinct parent span IDs named by its spans and not received.
    pub missing_parents: u64,
    /// A span of it arrived within the receiving window (a few seconds):
    /// the trace is still being written.
    pub receiving: bool,
    /// Incomplete, and a span of it arrived within the parent grace period:
    /// the missing parents may still come. Once this is false the UI says
    /// they never arrived.
    pub awaiting_parents: bool,
    /// When Loupe stored the trace's last new span.
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_string")]
    pub last_arrival_unix_nano: u64,
}

/// One span link that joins two traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct LinkPair {
    /// The trace and span that carry the link.
    pub from_trace_id: String,
    pub from_span_id: String,
    /// The span context the link points to.
    pub to_trace_id: String,
    pub to_span_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum LinkDirection {
    /// Spans of this trace link to the other trace.
    Outgoing,
    /// Spans of the other trace link to this trace.
    Incoming,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RelatedTrace {
    pub trace_id: String,
    pub direction: LinkDirection,
    /// The other trace's summary, when Loupe has received it.
    pub summary: Option<TraceSummary>,
    pub links: Vec<LinkPair>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct MetricInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub unit: String,
    pub description: String,
    pub series: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_string")]
    pub last_point_unix_nano: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
}

impl MetricKind {
    pub fn code(self) -> i64 {
        self as i64
    }
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => MetricKind::Gauge,
            1 => MetricKind::Sum,
            2 => MetricKind::Histogram,
            3 => MetricKind::ExponentialHistogram,
            4 => MetricKind::Summary,
            _ => return None,
        })
    }
}
