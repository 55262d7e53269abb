//! Reading files back in: OTLP JSON (one request), JSON Lines, a JSON array
//! of requests, OTLP protobuf (one request, optionally gzipped) and Loupe's
//! own HTML reports.
//!
//! A file is cut into *units* (a line, an array element, a top-level
//! protobuf resource entry) that are decoded, validated and stored one at a
//! time: a bad unit is skipped and reported with its position (line and
//! column, or byte offset) while the rest of the file still imports, and
//! memory holds one decoded unit at a time beside the file itself.
//! Limits: the file size ([`MAX_FILE_BYTES`], also after gzip inflation),
//! the number of units ([`MAX_UNITS`]), JSON nesting (serde_json's
//! recursion limit of 128), protobuf nesting (prost's recursion limit of
//! 100). Going past the size or unit limit is [`ImportError::TooLarge`],
//! [`ImportError::Inflated`] or [`ImportError::TooManyUnits`], which the API
//! answers 413 (see [`ImportError::is_too_large`]).
//!
//! Everything imported is marked with the resource attribute
//! [`SOURCE_KEY`] = the file's name, so it can be searched
//! (`loupe.import.source=file.jsonl`) and deleted as a whole. The mark is a
//! function of the file name only, so importing the same file again produces
//! identical resources and the store's de-duplication (spans by ID, log
//! records by content, points by series and time) stores nothing twice.

use std::time::Duration;

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::ResourceLogs;
use loupe_model::otlp::metrics::ResourceMetrics;
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::ResourceSpans;
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::sink::{Batch, Sink, SinkError};
use prost::Message;
use serde::Deserialize;

/// The resource attribute that names the file data was imported from.
pub const SOURCE_KEY: &str = "loupe.import.source";

/// Largest file imported (and largest gzip content after inflation).
pub const MAX_FILE_BYTES: usize = 256 << 20;

/// Most units (lines, array elements, protobuf entries) one file may hold.
/// Units are cut before they are decoded, and a unit can be two bytes
/// (`{}` and a comma, or an empty protobuf entry), so the list of them is
/// bounded here rather than by the file size alone (256 MiB of empty
/// protobuf entries would have listed 3 GiB of offsets).
pub const MAX_UNITS: usize = 1_000_000;

/// Skipped units listed one by one in a report (the rest are counted).
pub const MAX_LISTED: usize = 20;

/// How long an import waits for a busy writer before giving up.
const BUSY_PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum FileFormat {
    /// One OTLP/JSON export request.
    OtlpJson,
    /// One request per line (the Collector's file exporter).
    JsonLines,
    /// A JSON array of requests.
    JsonArray,
    /// One OTLP protobuf export request.
    Protobuf,
    /// A Loupe HTML report (its embedded JSON Lines).
    HtmlReport,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::OtlpJson => "OTLP JSON",
            FileFormat::JsonLines => "OTLP JSON Lines",
            FileFormat::JsonArray => "JSON array of OTLP requests",
            FileFormat::Protobuf => "OTLP protobuf",
            FileFormat::HtmlReport => "Loupe HTML report",
        }
    }
}

/// Where in a file something is: a line and column (JSON, 1-based), or a
/// byte offset (protobuf, 0-based).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "FilePosition")]
pub struct Position {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub byte: Option<usize>,
}

impl Position {
    fn line_col(line: usize, column: usize) -> Position {
        Position {
            line: Some(line),
            column: Some(column),
            byte: None,
        }
    }

    fn byte(byte: usize) -> Position {
        Position {
            byte: Some(byte),
            ..Position::default()
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column, self.byte) {
            (Some(l), Some(c), _) => write!(f, "line {l}, column {c}"),
            (Some(l), None, _) => write!(f, "line {l}"),
            (_, _, Some(b)) => write!(f, "byte {b}"),
            _ => write!(f, "start of file"),
        }
    }
}

/// A part of the file that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub position: Position,
    pub message: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.position, self.message)
    }
}

/// What an import stored and skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub source: String,
    pub format: FileFormat,
    pub bytes: u64,
    /// Export requests read from the file.
    pub requests: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    /// Spans and log records with invalid IDs, dropped like the receiver does.
    pub rejected: u64,
    /// Units (lines, array elements, protobuf entries) that could not be read.
    pub skipped_count: u64,
    /// The first [`MAX_LISTED`] of them.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is {size} bytes, more than the import limit of {limit} bytes")]
    TooLarge { size: u64, limit: usize },
    #[error("the file inflates to more than the import limit of {limit} bytes")]
    Inflated { limit: usize },
    #[error("the file holds more than the import limit of {limit} units (lines, array elements or protobuf entries)")]
    TooManyUnits { limit: usize },
    #[error("the file is empty")]
    Empty,
    #[error("not an importable file ({position}): {message}. Loupe imports OTLP JSON, OTLP JSON Lines, JSON arrays of OTLP requests, OTLP protobuf and Loupe HTML reports")]
    Unreadable { position: Position, message: String },
    #[error("nothing in the file could be imported; first problem at {first}{more}")]
    NothingValid { first: Skipped, more: String },
    #[error("storing failed: {0}")]
    Sink(#[from] SinkError),
    #[error("the import was cancelled")]
    Cancelled,
}

impl ImportError {
    /// Whether the file is over one of the import's size limits (its
    /// size, inflated size or unit count): an HTTP 413.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            ImportError::TooLarge { .. }
                | ImportError::Inflated { .. }
                | ImportError::TooManyUnits { .. }
        )
    }
}

/// One unit's decoded requests, or why it could not be decoded.
type Unit = Result<Vec<Batch>, String>;

/// What an import reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    /// Bytes of the file processed so far.
    pub done: usize,
    pub total: usize,
}

// ------------------------------------------------------------------ JSON

/// An export request of any of the three signals; OTLP/JSON parsers ignore
/// unknown fields, and so does this.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "resourceSpans", default)]
    resource_spans: Option<Vec<ResourceSpans>>,
    #[serde(rename = "resourceLogs", default)]
    resource_logs: Option<Vec<ResourceLogs>>,
    #[serde(rename = "resourceMetrics", default)]
    resource_metrics: Option<Vec<ResourceMetrics>>,
}

impl Envelope {
    fn into_batches(self) -> Unit {
        let mut out = Vec::new();
        if let Some(rs) = self.resource_spans {
            out.push(Batch::Traces(ExportTraceServiceRequest {
                resource_spans: rs,
            }));
        }
        if let Some(rl) = self.resource_logs {
            out.push(Batch::Logs(ExportLogsServiceRequest { resource_logs: rl }));
        }
        if let Some(rm) = self.resource_metrics {
            out.push(Batch::Metrics(ExportMetricsServiceRequest {
                resource_metrics: rm,
            }));
        }
        if out.is_empty() {
            return Err(
                "not an OTLP export request (no resourceSpans, resourceLogs or resourceMetrics)"
                    .into(),
            );
        }
        Ok(out)
    }
}

/// The position of a serde_json error in a text that starts at `line`
/// (1-based) of the file.
fn json_position(e: &serde_json::Error, line: usize) -> Position {
    Position::line_col(line + e.line().saturating_sub(1), e.column())
}

fn json_message(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C" to its messages; the
    // position is reported separately, relative to the whole file.
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Decodes one JSON request starting at `line` of the file.
fn json_unit(text: &[u8], line: usize) -> Result<Vec<Batch>, Skipped> {
    let env: Envelope = serde_json::from_slice(text).map_err(|e| Skipped {
        position: json_position(&e, line),
        message: json_message(&e),
    })?;
    env.into_batches().map_err(|message| Skipped {
        position: Position::line_col(line, 1),
        message,
    })
}

/// JSON Lines: every non-empty line a request. `first_line` is the file line
/// of `bytes`' first line (the data of an HTML report starts further down).
fn each_line(
    bytes: &[u8],
    first_line: usize,
    base: usize,
    f: &mut dyn FnMut(usize, Result<Vec<Batch>, Skipped>) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    // Counted before anything is stored, so a file over the limit stores
    // nothing (the cheap newline count settles almost every file).
    let units = || {
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count()
    };
    if bytes.iter().filter(|&&b| b == b'\n').count() >= MAX_UNITS && units() > MAX_UNITS {
        return Err(ImportError::TooManyUnits { limit: MAX_UNITS });
    }
    let mut offset = 0;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        f(base + start + line.len(), json_unit(line, first_line + i))?;
    }
    Ok(())
}

/// A JSON array's elements, and the error that stopped reading it, if any.
type ArrayElements<'a> = (
    Vec<&'a serde_json::value::RawValue>,
    Option<serde_json::Error>,
);

/// The elements of a JSON array, as far as the array is well-formed: a
/// truncated or broken array still yields the elements before the damage,
/// and the damage itself as an error.
/// More than [`MAX_UNITS`] elements is [`ImportError::TooManyUnits`].
fn array_elements(bytes: &[u8]) -> Result<ArrayElements<'_>, ImportError> {
    use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
    struct Elements<'a, 'de> {
        out: &'a mut Vec<&'de serde_json::value::RawValue>,
        too_many: &'a mut bool,
    }
    impl<'de> Visitor<'de> for Elements<'_, 'de> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of OTLP export requests")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            loop {
                match seq.next_element::<&'de serde_json::value::RawValue>() {
                    Ok(Some(_)) if self.out.len() >= MAX_UNITS => {
                        *self.too_many = true;
                        return Err(A::Error::custom("too many elements"));
                    }
                    Ok(Some(v)) => self.out.push(v),
                    Ok(None) => return Ok(()),
                    // Keep what was read; the caller reports the error.
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut err = None;
    let mut too_many = false;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let r = (&mut de).deserialize_seq(Elements {
        out: &mut out,
        too_many: &mut too_many,
    });
    let r = r.and_then(|_| de.end());
    if too_many {
        return Err(ImportError::TooManyUnits { limit: MAX_UNITS });
    }
    if let Err(e) = r {
        err = Some(e);
    }
    Ok((out, err))
}

/// Line (1-based) and column of a byte offset.
fn line_col_of(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// [`line_col_of`] for increasing offsets, in time linear in the file.
#[derive(Default)]
struct LineCounter {
    /// Bytes before `at` have been counted.
    at: usize,
    /// Newlines before `at`.
    newlines: usize,
    /// Offset just after the last newline before `at`.
    line_start: usize,
}

impl LineCounter {
    fn line_col(&mut self, bytes: &[u8], offset: usize) -> (usize, usize) {
        let offset = offset.min(bytes.len());
        if offset < self.at {
            return line_col_of(bytes, offset);
        }
        for (i, &b) in bytes[self.at..offset].iter().enumerate() {
            if b == b'\n' {
                self.newlines += 1;
                self.line_start = self.at + i + 1;
            }
        }
        self.at = offset;
        (self.newlines + 1, offset - self.line_start + 1)
    }
}

// ------------------------------------------------------------- protobuf

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Logs,
    Metrics,
}

fn plausible(signal: Signal, entry: &[u8]) -> bool {
    match signal {
        Signal::Traces => ResourceSpans::decode(entry).is_ok_and(|r| {
            let mut spans = r.scope_spans.iter().flat_map(|s| &s.spans).peekable();
            spans.peek().is_some() && spans.all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        }),
        Signal::Logs => ResourceLogs::decode(entry)
            .is_ok_and(|r| r.scope_logs.iter().any(|s| !s.log_records.is_empty())),
        Signal::Metrics => ResourceMetrics::decode(entry).is_ok_and(|r| {
            let mut ms = r.scope_metrics.iter().flat_map(|s| &s.metrics).peekable();
            ms.peek().is_some() && ms.all(|m| !m.name.is_empty() && m.data.is_some())
        }),
    }
}

/// The signal of a protobuf file: OTLP protobuf does not say which request
/// it is, so the file name decides when it tells (`traces.pb`, `logs.binpb`),
/// else the first entry that decodes sensibly as one of the three.
fn guess_signal(name: &str, first: &[u8]) -> Option<Signal> {
    let n = name.to_ascii_lowercase();
    let hinted = if n.contains("log") {
        Some(Signal::Logs)
    } else if n.contains("metric") {
        Some(Signal::Metrics)
    } else if n.contains("trace") || n.contains("span") {
        Some(Signal::Traces)
    } else {
        None
    };
    if let Some(s) = hinted {
        if plausible(s, first) {
            return Some(s);
        }
    }
    [Signal::Traces, Signal::Logs, Signal::Metrics]
        .into_iter()
        .find(|&s| plausible(s, first))
}

/// A protobuf file's top-level entries with their offsets, and the
/// malformed field they stop at, if any.
type ProtobufEntries<'a> = (Vec<(usize, &'a [u8])>, Option<Skipped>);

/// The top-level entries (field 1, the repeated `Resource*` of every export
/// request) of a protobuf request with their byte offsets; stops at the
/// first malformed field, returned as the error.
/// More than [`MAX_UNITS`] entries is [`ImportError::TooManyUnits`].
fn protobuf_entries(bytes: &[u8]) -> Result<ProtobufEntries<'_>, ImportError> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut out = Vec::new();
    let mut buf = bytes;
    let at = |buf: &[u8]| bytes.len() - buf.len();
    while !buf.is_empty() {
        let start = at(buf);
        let fail = |message: String| {
            Some(Skipped {
                position: Position::byte(start),
                message,
            })
        };
        let (tag, wire) = match decode_key(&mut buf) {
            Ok(k) => k,
            Err(e) => return Ok((out, fail(format!("invalid protobuf field: {e}")))),
        };
        let len = match wire {
            WireType::Varint => match decode_varint(&mut buf) {
                Ok(_) => 0,
                Err(e) => return Ok((out, fail(format!("invalid protobuf varint: {e}")))),
            },
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => match decode_varint(&mut buf) {
                Ok(n) => n as usize,
                Err(e) => return Ok((out, fail(format!("invalid protobuf length: {e}")))),
            },
            WireType::StartGroup | WireType::EndGroup => {
                return Ok((out, fail("protobuf groups are not OTLP".into())))
            }
        };
        if len > buf.len() {
            return Ok((
                out,
                fail(format!(
                    "truncated: a field of {len} bytes but only {} left in the file",
                    buf.len()
                )),
            ));
        }
        let (value, rest) = buf.split_at(len);
        buf = rest;
        if tag == 1 && wire == WireType::LengthDelimited {
            if out.len() >= MAX_UNITS {
                return Err(ImportError::TooManyUnits { limit: MAX_UNITS });
            }
            out.push((start, value));
        }
    }
    Ok((out, None))
}

fn protobuf_entry(signal: Signal, entry: &[u8]) -> Unit {
    let e = |e: prost::DecodeError| format!("invalid protobuf: {e}");
    Ok(vec![match signal {
        Signal::Traces => Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans::decode(entry).map_err(e)?],
        }),
        Signal::Logs => Batch::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs::decode(entry).map_err(e)?],
        }),
        Signal::Metrics => Batch::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics::decode(entry).map_err(e)?],
        }),
    }])
}

// ------------------------------------------------------------ detection

fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, ImportError> {
    let mut sink = loupe_otlp::decode::BodySink::new(Some("gzip"), limit).map_err(|e| {
        ImportError::Unreadable {
            position: Position::byte(0),
            message: e.to_string(),
        }
    })?;
    let r = sink.push(bytes).and_then(|_| sink.finish());
    r.map_err(|e| match e {
        loupe_otlp::decode::DecodeError::TooLarge { .. } => ImportError::Inflated { limit },
        e => ImportError::Unreadable {
            position: Position::byte(0),
            message: e.to_string(),
        },
    })
}

/// Where a Loupe report keeps its data: the content of this element.
pub const REPORT_DATA_ID: &str = "loupe-data";

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Text, as opposed to protobuf: no control characters but tab, line feed
/// and carriage return in the first 64 KiB (protobuf's field tags and
/// lengths are mostly below 0x20, its IDs random bytes).
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 << 10)];
    !head
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

/// Cuts a file into units and hands each to `f` with the byte offset up to
/// which the file has been read (for progress).
fn each_unit(
    bytes: &[u8],
    name: &str,
    f: &mut dyn FnMut(usize, Result<Vec<Batch>, Skipped>) -> Result<(), ImportError>,
) -> Result<FileFormat, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(ImportError::Empty)?;
    // Protobuf may start with bytes that read as whitespace or brackets.
    let first = if looks_like_text(bytes) {
        bytes[start]
    } else {
        0
    };
    match first {
        b'<' => {
            let marker = format!("id=\"{REPORT_DATA_ID}\"");
            let at = find(bytes, marker.as_bytes(), 0).ok_or_else(|| ImportError::Unreadable {
                position: Position::line_col(1, 1),
                message: "an HTML file that is not a Loupe report (no embedded data)".into(),
            })?;
            let open_end = find(bytes, b">", at).map(|p| p + 1).unwrap_or(bytes.len());
            let close = find(bytes, b"</script>", open_end).unwrap_or(bytes.len());
            let data = &bytes[open_end..close];
            let (line, _) = line_col_of(bytes, open_end);
            each_line(data, line, open_end, f)?;
            Ok(FileFormat::HtmlReport)
        }
        b'[' => {
            let (elements, err) = array_elements(bytes)?;
            // Elements come in file order: lines are counted from the
            // previous element on, not from the start of the file each time
            // (which was quadratic in the number of elements).
            let mut lines = LineCounter::default();
            for el in &elements {
                let off = el.get().as_ptr() as usize - bytes.as_ptr() as usize;
                let (line, col) = lines.line_col(bytes, off);
                let unit = match serde_json::from_str::<Envelope>(el.get()) {
                    Ok(env) => env.into_batches().map_err(|message| Skipped {
                        position: Position::line_col(line, col),
                        message,
                    }),
                    Err(e) => Err(Skipped {
                        // Columns are exact on the element's first line.
                        position: if e.line() <= 1 {
                            Position::line_col(line, col + e.column() - 1)
                        } else {
                            json_position(&e, line)
                        },
                        message: json_message(&e),
                    }),
                };
                f(off + el.get().len(), unit)?;
            }
            if let Some(e) = err {
                f(
                    bytes.len(),
                    Err(Skipped {
                        position: json_position(&e, 1),
                        message: format!(
                            "{} (the rest of the array was not read)",
                            json_message(&e)
                        ),
                    }),
                )?;
            }
            Ok(FileFormat::JsonArray)
        }
        b'{' => {
            let first_end = find(bytes, b"\n", start).unwrap_or(bytes.len());
            let first_line = &bytes[..first_end];
            let lines = bytes[first_end..].iter().any(|b| !b.is_ascii_whitespace());
            match serde_json::from_slice::<serde::de::IgnoredAny>(first_line) {
                // A request that spans lines (pretty-printed): one document.
                Err(e) if e.classify() == serde_json::error::Category::Eof => {
                    f(bytes.len(), json_unit(bytes, 1))?;
                    Ok(FileFormat::OtlpJson)
                }
                _ if !lines => {
                    f(bytes.len(), json_unit(bytes, 1))?;
                    Ok(FileFormat::OtlpJson)
                }
                _ => {
                    each_line(bytes, 1, 0, f)?;
                    Ok(FileFormat::JsonLines)
                }
            }
        }
        _ if looks_like_text(bytes) => Err(ImportError::Unreadable {
            position: Position::line_col(1, 1 + start),
            message: format!(
                "expected JSON ('{{' or '['), an HTML report or protobuf, found {:?}",
                String::from_utf8_lossy(&bytes[start..(start + 16).min(bytes.len())])
            ),
        }),
        _ => {
            let (entries, err) = protobuf_entries(bytes)?;
            let signal = match entries.first() {
                Some((_, first)) => guess_signal(name, first),
                None => None,
            };
            let Some(signal) = signal else {
                let (position, why) = match err {
                    Some(e) => (e.position, format!(" ({})", e.message)),
                    None => (Position::byte(0), String::new()),
                };
                return Err(ImportError::Unreadable {
                    position,
                    message: format!("not JSON, and not an OTLP protobuf export request{why}"),
                });
            };
            for (off, entry) in entries {
                let unit = protobuf_entry(signal, entry).map_err(|message| Skipped {
                    position: Position::byte(off),
                    message,
                });
                f(off + entry.len(), unit)?;
            }
            if let Some(e) = err {
                f(bytes.len(), Err(e))?;
            }
            Ok(FileFormat::Protobuf)
        }
    }
}

// --------------------------------------------------------------- storing

fn mark(resource: &mut Option<Resource>, source: &str) {
    let r = resource.get_or_insert_with(Resource::default);
    r.attributes.retain(|kv| kv.key != SOURCE_KEY);
    r.attributes.push(KeyValue {
        key: SOURCE_KEY.to_string(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(source.to_string())),
        }),
        ..Default::default()
    });
}

/// Marks every resource of a batch with its source.
fn mark_batch(batch: &mut Batch, source: &str) {
    match batch {
        Batch::Traces(r) => r
            .resource_spans
            .iter_mut()
            .for_each(|x| mark(&mut x.resource, source)),
        Batch::Logs(r) => r
            .resource_logs
            .iter_mut()
            .for_each(|x| mark(&mut x.resource, source)),
        Batch::Metrics(r) => r
            .resource_metrics
            .iter_mut()
            .for_each(|x| mark(&mut x.resource, source)),
    }
}

/// Drops items with invalid IDs or bucket layouts, as the receiver does
/// (an imported or replayed file is as untrusted as a sender, see
/// `loupe_otlp::validate`), and says how many were dropped.
fn validate(batch: &mut Batch) -> u64 {
    (match batch {
        Batch::Traces(r) => loupe_otlp::validate::traces(r).count,
        Batch::Logs(r) => loupe_otlp::validate::logs(r).count,
        Batch::Metrics(r) => loupe_otlp::validate::metrics(r).count,
    }) as u64
}

/// Submits a batch and waits for its commit, waiting out a busy writer.
/// Blocking: call it from a thread that may block (not an async task).
fn store(sink: &dyn Sink, batch: Batch) -> Result<(), ImportError> {
    let mut waited = Duration::ZERO;
    loop {
        match sink.submit(batch.clone()) {
            Ok(ticket) => return ticket.wait_blocking().map_err(ImportError::Sink),
            Err(SinkError::Busy { retry_after }) if waited < BUSY_PATIENCE => {
                let pause = retry_after.min(Duration::from_millis(200));
                std::thread::sleep(pause);
                waited += pause;
            }
            Err(e) => return Err(ImportError::Sink(e)),
        }
    }
}

/// Imports a file's content into `sink`, marking it as coming from `source`
/// (the file's name). Blocks until everything valid is committed.
/// `progress` is called after each unit; returning `false` cancels (what
/// was committed stays, and can be deleted by its source).
pub fn import(
    sink: &dyn Sink,
    bytes: &[u8],
    source: &str,
    progress: &mut dyn FnMut(ImportProgress) -> bool,
) -> Result<ImportReport, ImportError> {
    let (mut spans, mut log_records, mut data_points) = (0, 0, 0);
    let read = read_batches(
        bytes,
        source,
        &mut |mut batch| {
            mark_batch(&mut batch, source);
            let items = Batch::item_count(&batch) as u64;
            match &batch {
                Batch::Traces(_) => spans += items,
                Batch::Logs(_) => log_records += items,
                Batch::Metrics(_) => data_points += items,
            }
            store(sink, batch)
        },
        progress,
    )?;
    Ok(ImportReport {
        source: source.to_string(),
        format: read.format,
        bytes: read.bytes,
        requests: read.requests,
        spans,
        log_records,
        data_points,
        rejected: read.rejected,
        skipped_count: read.skipped_count,
        skipped: read.skipped,
    })
}

/// What [`read_batches`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    pub format: FileFormat,
    /// The file's size, inflated if it was gzipped.
    pub bytes: u64,
    /// Export requests read from the file.
    pub requests: u64,
    /// Items removed by validation (invalid IDs, bucket caps).
    pub rejected: u64,
    /// Units (lines, array elements, protobuf entries) that could not be read.
    pub skipped_count: u64,
    /// The first [`MAX_LISTED`] of them.
    pub skipped: Vec<Skipped>,
}

/// Reads a file's export requests: the size limits, gzip, format detection
/// and validation that every reader of a bundle shares (`import` stores
/// what it reads; `loupe replay` sends it elsewhere). `f` gets each valid,
/// non-empty batch in file order; a unit that cannot be read is skipped and
/// reported, and a file with nothing readable is an error. `progress` is
/// called after each unit; returning `false` cancels.
pub fn read_batches(
    bytes: &[u8],
    name: &str,
    f: &mut dyn FnMut(Batch) -> Result<(), ImportError>,
    progress: &mut dyn FnMut(ImportProgress) -> bool,
) -> Result<ReadReport, ImportError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        inflated = gunzip(bytes, MAX_FILE_BYTES)?;
        &inflated[..]
    } else {
        bytes
    };
    let total = bytes.len();
    let mut report = ReadReport {
        format: FileFormat::OtlpJson,
        bytes: total as u64,
        requests: 0,
        rejected: 0,
        skipped_count: 0,
        skipped: Vec::new(),
    };
    report.format = each_unit(bytes, name, &mut |done, unit| {
        match unit {
            Ok(batches) => {
                for mut batch in batches {
                    report.requests += 1;
                    report.rejected += validate(&mut batch);
                    if Batch::item_count(&batch) > 0 {
                        f(batch)?;
                    }
                }
            }
            Err(skipped) => {
                report.skipped_count += 1;
                if report.skipped.len() < MAX_LISTED {
                    report.skipped.push(skipped);
                }
            }
        }
        if progress(ImportProgress { done, total }) {
            Ok(())
        } else {
            Err(ImportError::Cancelled)
        }
    })?;
    if report.requests == 0 {
        if let Some(first) = report.skipped.first().cloned() {
            let more = match report.skipped_count {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(ImportError::NothingValid { first, more });
        }
        return Err(ImportError::Empty);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(bytes: &[u8]) -> (FileFormat, Vec<Result<usize, Skipped>>) {
        let mut out = Vec::new();
        let f = each_unit(bytes, "x", &mut |_, u| {
            out.push(u.map(|b| b.len()));
            Ok(())
        })
        .unwrap();
        (f, out)
    }

    const SPAN: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[test]
    fn shapes_are_recognized() {
        let (f, u) = units(SPAN.as_bytes());
        assert_eq!(f, FileFormat::OtlpJson);
        assert_eq!(u, vec![Ok(1)]);
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(SPAN).unwrap())
                .unwrap();
        let (f, u) = units(pretty.as_bytes());
        assert_eq!(f, FileFormat::OtlpJson);
        assert_eq!(u, vec![Ok(1)]);
        let lines = format!("{SPAN}\n\n{SPAN}\n");
        let (f, u) = units(lines.as_bytes());
        assert_eq!(f, FileFormat::JsonLines);
        assert_eq!(u, vec![Ok(1), Ok(1)]);
        let arr = format!("[{SPAN},\n {SPAN}]");
        let (f, u) = units(arr.as_bytes());
        assert_eq!(f, FileFormat::JsonArray);
        assert_eq!(u, vec![Ok(1), Ok(1)]);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_position() {
        let text = format!("{SPAN}\n{{\"resourceSpans\": [}}\n{SPAN}\n{{\"other\":1}}\n");
        let (_, u) = units(text.as_bytes());
        assert!(u[0].is_ok() && u[2].is_ok());
        let e = u[1].clone().unwrap_err();
        assert_eq!(e.position.line, Some(2));
        assert_eq!(e.position.column, Some(20));
        let e = u[3].clone().unwrap_err();
        assert_eq!(e.position.line, Some(4));
        assert!(e.message.contains("not an OTLP export request"), "{e}");
    }

    #[test]
    fn a_truncated_array_keeps_its_complete_elements() {
        let arr = format!("[{SPAN},\n{SPAN},\n{}", &SPAN[..40]);
        let (f, u) = units(arr.as_bytes());
        assert_eq!(f, FileFormat::JsonArray);
        assert_eq!(u.len(), 3);
        assert!(u[0].is_ok() && u[1].is_ok());
        let e = u[2].clone().unwrap_err();
        assert_eq!(e.position.line, Some(3), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_with_a_position() {
        let deep = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"k","value":{}"x"{}}}]}}}}]}}"#,
            r#"{"arrayValue":{"values":["#.repeat(20_000),
            "]}}".repeat(20_000)
        );
        let (_, u) = units(format!("[{deep}]").as_bytes());
        let e = u[0].clone().unwrap_err();
        assert!(e.message.contains("recursion limit"), "{e}");
        assert_eq!(e.position.line, Some(1));
    }

    #[test]
    fn protobuf_entries_and_truncation() {
        let req: ExportTraceServiceRequest = serde_json::from_str(SPAN).unwrap();
        let mut two = req.clone();
        two.resource_spans.push(req.resource_spans[0].clone());
        let bytes = two.encode_to_vec();
        let (f, u) = units(&bytes);
        assert_eq!(f, FileFormat::Protobuf);
        assert_eq!(u, vec![Ok(1), Ok(1)]);
        let cut = &bytes[..bytes.len() - 5];
        let (_, u) = units(cut);
        assert_eq!(u.len(), 2);
        assert!(u[0].is_ok());
        let e = u[1].clone().unwrap_err();
        assert_eq!(e.position.byte, Some(bytes.len() / 2), "{e}");
        assert!(e.message.contains("truncated"), "{e}");
    }
}
