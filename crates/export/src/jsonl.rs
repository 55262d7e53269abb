//! OTLP JSON Lines: one export request per line.
//!
//! The format the OpenTelemetry Collector's `file` exporter writes and its
//! `otlpjsonfile` receiver reads, so any Collector can replay an export.
//! Each line is a complete `ExportTraceServiceRequest`,
//! `ExportLogsServiceRequest` or `ExportMetricsServiceRequest` in the OTLP/JSON
//! encoding: lowerCamelCase keys, trace and span IDs as hex, enums as
//! integers, 64-bit integers as decimal strings (the serde encoding of
//! `opentelemetry-proto`, which the receiver also decodes with).

use std::io::Write;

use loupe_model::sink::Batch;

/// Writes one request as one line.
pub fn write_line(out: &mut dyn Write, batch: &Batch) -> std::io::Result<usize> {
    let bytes = match batch {
        Batch::Traces(r) => serde_json::to_vec(r),
        Batch::Logs(r) => serde_json::to_vec(r),
        Batch::Metrics(r) => serde_json::to_vec(r),
    }
    .map_err(std::io::Error::other)?;
    // Serialized JSON never contains a raw newline (strings escape it), so
    // one request is exactly one line.
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(bytes.len() + 1)
}
