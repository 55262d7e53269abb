//! What an export held: the answer of an export, and the header of the
//! HTML report, which is why it is apart from both.

use crate::redact::RedactionReport;

/// What an export held.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    pub traces: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    /// Requests written (lines of the JSON Lines).
    pub requests: u64,
    pub bytes: u64,
    /// The selection matched more traces than [`crate::export::MAX_TRACES`].
    pub truncated: bool,
    pub redaction: RedactionReport,
}
