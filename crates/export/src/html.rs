//! The self-contained HTML report: one file that opens offline in any
//! browser and carries its own data.
//!
//! The data is the export's JSON Lines, embedded verbatim (with `<` escaped
//! as `\u003c`, which is the same JSON, so no telemetry string can close the
//! element) in `<script type="application/json" id="loupe-data">`: the
//! report's script renders it (summary of services and errors, trace tree
//! and timeline, span details with attributes, events, durations and
//! status, correlated logs) and Loupe imports the report by reading that
//! element back.
//!
//! Telemetry is untrusted: the script only ever sets `textContent`, and the
//! page's CSP (`default-src 'none'`, the one inline script and style allowed
//! by hash) forbids every network request, so the file cannot phone home
//! whatever it contains.
//!
//! Charts: drawn here by `loupe-charts` ([`crate::report_charts`]), the
//! code that draws them in the app, and embedded as static SVG; the script
//! only moves their section into place.

use std::io::Write;

use base64::Engine;
use sha2::Digest;

use crate::import::REPORT_DATA_ID;
use crate::report_charts::{charts_html, escape};
use crate::summary::ExportSummary;

const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = include_str!("report.css");

fn csp_hash(s: &str) -> String {
    let digest = sha2::Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's Content-Security-Policy: nothing from anywhere, except its own
/// inline script and style.
pub fn csp() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// Writes the report around `jsonl` (the export's JSON Lines); returns the
/// bytes written.
pub fn write_report(
    jsonl: &[u8],
    summary: &ExportSummary,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut page = Vec::with_capacity(jsonl.len() + SCRIPT.len() + STYLE.len() + 2048);
    let title = format!(
        "Loupe report: {} traces, {} spans, {} log records, {} data points",
        summary.traces, summary.spans, summary.log_records, summary.data_points
    );
    write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"Loupe {}\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n\
         <noscript>This report needs JavaScript to draw; its data is in this file as OTLP JSON Lines, and Loupe can import it.</noscript>\n\
         <main id=\"report\"></main>\n",
        escape(&csp()),
        env!("CARGO_PKG_VERSION"),
        escape(&title),
        STYLE
    )?;
    page.extend_from_slice(charts_html(jsonl).as_bytes());
    writeln!(
        page,
        "<script type=\"application/json\" id=\"{REPORT_DATA_ID}\">"
    )?;
    // `<` only occurs inside JSON strings, where `\u003c` means the same.
    for chunk in jsonl.split_inclusive(|&b| b == b'<') {
        match chunk.split_last() {
            Some((b'<', head)) => {
                page.extend_from_slice(head);
                page.extend_from_slice(b"\\u003c");
            }
            _ => page.extend_from_slice(chunk),
        }
    }
    write!(
        page,
        "</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )?;
    out.write_all(&page)?;
    Ok(page.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_element() {
        let line = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"</script><script>alert(1)</script>"}}]}]}]}"#;
        let mut out = Vec::new();
        write_report(line, &ExportSummary::default(), &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        let start = page.find("id=\"loupe-data\">").unwrap();
        let data = &page[start + 16..page[start..].find("</script>").unwrap() + start];
        let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
        assert_eq!(
            v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"]["stringValue"],
            "</script><script>alert(1)</script>"
        );
        assert!(page.contains("default-src 'none'"));
    }
}
