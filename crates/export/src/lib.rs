//! Export and import: bug-report bundles others can open.
//!
//! Export ([`export`]) reads a selection (traces, the stitched view of a
//! trace and its linked traces, a search result, or a time range of chosen
//! services) with, by choice, the traces' logs and the metrics of their time
//! window, masks secrets ([`redact`]) and writes OTLP JSON Lines ([`jsonl`],
//! what the Collector's file exporter writes and `otlpjsonfile` reads) or a
//! self-contained HTML report ([`html`]) that opens offline and carries its
//! data so Loupe can import it back.
//!
//! Import ([`import`]) reads OTLP JSON, JSON Lines, JSON arrays, OTLP
//! protobuf and Loupe reports unit by unit, skipping (and locating) what is
//! broken, marks everything with its source file and submits it to the
//! store like the receiver does; [`import_into`] also records the import so
//! it can be listed and deleted.
//!
//! What to export arrives as an [`ExportRequest`] of typed values, which
//! the API and the command line both build.
//!
//! No tauri and no SQL here: the store answers reads and takes writes.

pub mod export;
pub mod html;
pub mod import;
pub mod jsonl;
pub mod redact;
pub mod report_charts;
pub mod request;
pub mod summary;

pub use export::{ExportError, ExportSpec, Format, Progress, Selection};
pub use import::{ImportError, ImportProgress, ImportReport, SOURCE_KEY};
pub use redact::{RedactionReport, Redactor};
pub use request::ExportRequest;
pub use summary::ExportSummary;

/// Imports a file into a store and records it in the store's list of
/// imports (`GET /api/v1/imports`), from which it can be deleted. Blocking.
pub fn import_into(
    store: &loupe_store::Store,
    bytes: &[u8],
    source: &str,
    progress: &mut dyn FnMut(ImportProgress) -> bool,
) -> Result<ImportReport, ImportError> {
    let report = import::import(store.writer.as_ref(), bytes, source, progress)?;
    let record = loupe_store::ImportRecord {
        source: report.source.clone(),
        format: report.format.name().to_string(),
        bytes: report.bytes,
        spans: report.spans,
        log_records: report.log_records,
        data_points: report.data_points,
        skipped: report.skipped_count,
    };
    let ticket = store.writer.record_import(record)?;
    ticket.wait_blocking()?;
    Ok(report)
}

/// A file name fit to be a source mark: the last path component, without
/// control characters, at most 200 bytes.
pub fn source_name(path_or_name: &str) -> String {
    let base = path_or_name
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("import");
    let mut s: String = base.chars().filter(|c| !c.is_control()).collect();
    while s.len() > 200 {
        s.pop();
    }
    if s.is_empty() {
        "import".to_string()
    } else {
        s
    }
}
