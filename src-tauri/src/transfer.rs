//! `loupe export` and `loupe import`: argument mapping, progress on stderr,
//! Ctrl-C to cancel. The work is `loupe_export`'s; the flags become the
//! same typed `ExportRequest` that `GET /api/v1/export` parses its
//! parameters into, so the CLI and the UI select exactly alike.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Args;
use loupe_export::{ExportRequest, Format, Selection};
use loupe_model::ids::TraceId;
use loupe_model::query::TraceQuery;
use loupe_model::time::NanoRange;
use loupe_store::{Store, WriterConfig};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where the database lives [default: the platform data directory]. Reading works while Loupe runs.
    #[arg(long, env = "LOUPE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where to write (`-` for standard output). The format follows the extension (.html: report) unless --format says.
    #[arg(short, long, value_name = "FILE", required_unless_present = "preview")]
    pub output: Option<PathBuf>,
    /// jsonl (OTLP JSON Lines) or html (a self-contained report).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Export this trace (repeatable).
    #[arg(long = "trace", value_name = "TRACE_ID")]
    pub traces: Vec<String>,
    /// With --trace: also the traces joined to it by span links (the stitched view).
    #[arg(long)]
    pub linked: bool,
    /// Export the traces a search finds, in the `q=` language (e.g. 'service.name=api AND http.status_code>=500').
    #[arg(short = 'q', long = "query", value_name = "EXPR")]
    pub query: Option<String>,
    /// Only this service (repeatable; with --window, the services whose traces, logs and metrics are exported).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Only traces with errors.
    #[arg(long)]
    pub errors: bool,
    /// Export everything in the time range (--since or --start/--end) from the --service's (all when none).
    #[arg(long)]
    pub window: bool,
    /// Start of the time range as a duration back from now (e.g. 15m, 2h).
    #[arg(long, value_name = "DURATION", conflicts_with = "start")]
    pub since: Option<String>,
    /// Start of the time range (RFC 3339, Unix nanoseconds or now-15m).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the time range.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// Most traces a search exports (at most 10000).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Include the traces' log records.
    #[arg(long)]
    pub logs: bool,
    /// Include the metrics of the traces' time window.
    #[arg(long)]
    pub metrics: bool,
    /// Mask secrets (on by default; --redact=false to export as stored).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub redact: bool,
    /// Also mask attributes whose key (or `key=value` text) contains this (repeatable).
    #[arg(long = "redact-pattern", value_name = "PATTERN")]
    pub redact_patterns: Vec<String>,
    /// Show what would be exported and masked, and write nothing.
    #[arg(long)]
    pub preview: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Files: OTLP JSON, JSON Lines, JSON arrays of requests, OTLP protobuf (also gzipped), Loupe HTML reports.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The database to import into, directly [default: the platform data directory].
    /// Stop Loupe first, or use --to to import through a running Loupe.
    #[arg(
        long,
        env = "LOUPE_DATA_DIR",
        value_name = "DIR",
        conflicts_with = "to"
    )]
    pub data_dir: Option<PathBuf>,
    /// Import through a running Loupe's API instead (e.g. http://127.0.0.1:16686).
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
}

/// Progress on stderr: one updating line on a terminal, a line per 10%
/// otherwise (so logs stay short).
struct Meter {
    tty: bool,
    last: usize,
}

impl Meter {
    fn new() -> Meter {
        Meter {
            tty: std::io::stderr().is_terminal(),
            last: usize::MAX,
        }
    }

    fn show(&mut self, what: &str, done: usize, total: usize) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.tty {
            eprint!("\rloupe: {what} {pct:>3}%");
        } else if self.last == usize::MAX || pct / 10 > self.last / 10 {
            eprintln!("loupe: {what} {pct}%");
        }
        self.last = pct;
    }

    fn end(&self) {
        if self.tty && self.last != usize::MAX {
            eprintln!();
        }
    }
}

fn data_dir(d: Option<PathBuf>) -> PathBuf {
    d.unwrap_or_else(loupe_config::default_data_dir)
}

/// The export the flags ask for, built from typed values as the API builds
/// it from its parameters (`loupe_export::ExportRequest`). An error is the
/// message for the flag at fault.
fn export_request(a: &ExportArgs) -> Result<ExportRequest, String> {
    let selection = if !a.traces.is_empty() {
        let ids = a
            .traces
            .iter()
            .map(|t| TraceId::parse_hex(t).map_err(|e| format!("--trace: {e}")))
            .collect::<Result<_, _>>()?;
        Selection::traces(ids, a.linked)
    } else if a.window {
        if a.query.is_some() {
            return Err("--query: a window exports everything in its range; drop --window to export a search".into());
        }
        Selection::window(time_range(a)?, a.services.clone())
    } else {
        Selection::search(trace_query(a)?, a.limit.map(search_limit).transpose()?)
    };
    let format = match &a.format {
        Some(f) => {
            Format::parse(f).ok_or_else(|| format!("--format: {f:?} is not jsonl or html"))?
        }
        None => {
            let html = a
                .output
                .as_deref()
                .and_then(Path::extension)
                .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
            if html {
                Format::Html
            } else {
                Format::JsonLines
            }
        }
    };
    Ok(ExportRequest {
        selection,
        logs: a.logs,
        metrics: a.metrics,
        redact: a.redact,
        redact_patterns: a.redact_patterns.clone(),
        format,
    })
}

/// `--since`, or `--start`/`--end`, in the query language's time grammar.
fn time_range(a: &ExportArgs) -> Result<NanoRange, String> {
    let mut r = NanoRange::default();
    if let Some(s) = &a.since {
        let back = loupe_model::duration::parse(s).map_err(|e| format!("--since: {e}"))?;
        r.start = loupe_model::time::now_ns().saturating_sub(back);
    }
    if let Some(s) = &a.start {
        r.start = loupe_query::parse_time(s).map_err(|e| format!("--start: {e}"))?;
    }
    if let Some(e) = &a.end {
        r.end = loupe_query::parse_time(e).map_err(|e| format!("--end: {e}"))?;
    }
    if r.start > r.end {
        return Err("--start: is after --end".into());
    }
    Ok(r)
}

/// The search flags as a trace query (what `GET /api/v1/traces` would
/// parse from the same values; the last `--service` counts, as there).
fn trace_query(a: &ExportArgs) -> Result<TraceQuery, String> {
    let service = match a.services.last() {
        Some(s) if s.is_empty() => return Err("--service: is empty".into()),
        s => s.cloned(),
    };
    let expr = match a.query.as_deref() {
        None => None,
        Some(q) if q.trim().is_empty() => None,
        Some(q) => Some(
            loupe_query::parse_expr(q)
                .map_err(|e| format!("--query: {} (at character {})", e.message, e.position))?,
        ),
    };
    Ok(TraceQuery {
        service,
        expr,
        errors_only: a.errors,
        range: time_range(a)?,
        ..TraceQuery::default()
    })
}

/// A search's limit: as many as a page of search results may hold.
fn search_limit(n: usize) -> Result<usize, String> {
    const MAX: usize = 1000;
    if (1..=MAX).contains(&n) {
        Ok(n)
    } else {
        Err(format!("--limit: {n} is not a number from 1 to {MAX}"))
    }
}

pub fn run_export(a: ExportArgs) -> ExitCode {
    if a.traces.is_empty()
        && a.query.is_none()
        && a.services.is_empty()
        && !a.window
        && !a.errors
        && a.since.is_none()
        && a.start.is_none()
    {
        eprintln!("loupe: say what to export: --trace ID, --query EXPR, --service NAME, --errors, or --window with --since/--start");
        return ExitCode::from(2);
    }
    let spec = match export_request(&a) {
        Ok(r) => r.into_spec(),
        Err(e) => {
            eprintln!("loupe: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = data_dir(a.data_dir.clone());
    let reader = match Store::open_reader_only(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loupe: no Loupe database in {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    if a.preview {
        return match loupe_export::export::preview(&reader, &spec) {
            Ok(s) => {
                println!(
                    "{} traces, {} spans, {} log records, {} data points",
                    s.traces, s.spans, s.log_records, s.data_points
                );
                if spec.redact.is_none() {
                    println!("redaction is off: nothing would be masked");
                } else {
                    println!("{} values would be masked", s.redaction.total);
                    for (k, n) in &s.redaction.by_key {
                        println!("  {n:>6}  {k}");
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loupe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(output) = a.output.clone() else {
        eprintln!("loupe: --output FILE is required");
        return ExitCode::from(2);
    };
    let cancel = crate::signals::cancel_on_ctrl_c();
    let mut meter = Meter::new();
    let to_stdout = output.as_os_str() == "-";
    // Written beside the target and renamed at the end: a cancelled or
    // failed export leaves no half file under the real name.
    let partial = partial_path(&output);
    let result = (|| -> Result<loupe_export::ExportSummary, String> {
        let mut progress = |p: loupe_export::Progress| {
            meter.show("exporting", p.done, p.total);
            !cancel.load(Ordering::SeqCst)
        };
        if to_stdout {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            let s = loupe_export::export::write(&reader, &spec, &mut lock, &mut progress)
                .map_err(|e| e.to_string())?;
            lock.flush().map_err(|e| e.to_string())?;
            return Ok(s);
        }
        // 0600: a bundle is telemetry (redaction masks secrets, not the
        // rest); the user widens it when sharing.
        let file = loupe_config::create_private_file(&partial)
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        let mut w = std::io::BufWriter::new(file);
        let s = loupe_export::export::write(&reader, &spec, &mut w, &mut progress)
            .map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        drop(w);
        std::fs::rename(&partial, &output)
            .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
        Ok(s)
    })();
    meter.end();
    match result {
        Ok(s) => {
            eprintln!(
                "loupe: exported {} traces, {} spans, {} log records, {} data points ({} bytes){}",
                s.traces,
                s.spans,
                s.log_records,
                s.data_points,
                s.bytes,
                if to_stdout {
                    String::new()
                } else {
                    format!(" to {}", output.display())
                }
            );
            if spec.redact.is_some() {
                let keys: Vec<String> = s
                    .redaction
                    .by_key
                    .iter()
                    .map(|(k, n)| format!("{k} ×{n}"))
                    .collect();
                eprintln!(
                    "loupe: masked {} values{}{}",
                    s.redaction.total,
                    if keys.is_empty() { "" } else { ": " },
                    keys.join(", ")
                );
            }
            if s.truncated {
                eprintln!("loupe: the selection had more traces than one export holds; the newest were exported");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if !to_stdout {
                let _ = std::fs::remove_file(&partial);
            }
            eprintln!("loupe: {e}");
            if cancel.load(Ordering::SeqCst) {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn partial_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > loupe_export::import::MAX_FILE_BYTES as u64 {
        return Err(format!(
            "{}: {}",
            path.display(),
            loupe_export::ImportError::TooLarge {
                size: meta.len(),
                limit: loupe_export::import::MAX_FILE_BYTES
            }
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn print_report(path: &Path, r: &loupe_export::ImportReport) {
    println!(
        "loupe: imported {} ({}): {} spans, {} log records, {} data points, marked {}={}",
        path.display(),
        r.format.name(),
        r.spans,
        r.log_records,
        r.data_points,
        loupe_export::SOURCE_KEY,
        r.source
    );
    print_read_problems("loupe", path, r.rejected, r.skipped_count, &r.skipped);
}

pub fn run_import(a: ImportArgs) -> ExitCode {
    if let Some(url) = &a.to {
        return import_over_http(url, &a.files);
    }
    let dir = data_dir(a.data_dir.clone());
    let store = match Store::open(&dir, WriterConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("loupe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cancel = crate::signals::cancel_on_ctrl_c();
    let mut failed = false;
    for path in &a.files {
        let bytes = match read_file(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("loupe: {e}");
                failed = true;
                continue;
            }
        };
        let source = loupe_export::source_name(&path.to_string_lossy());
        let mut meter = Meter::new();
        let r = loupe_export::import_into(&store, &bytes, &source, &mut |p| {
            meter.show("importing", p.done, p.total);
            !cancel.load(Ordering::SeqCst)
        });
        meter.end();
        match r {
            Ok(r) => print_report(path, &r),
            Err(e) => {
                eprintln!("loupe: {}: {e}", path.display());
                failed = true;
            }
        }
        if cancel.load(Ordering::SeqCst) {
            break;
        }
    }
    store.writer.shutdown();
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn import_over_http(url: &str, files: &[PathBuf]) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loupe: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = url.trim_end_matches('/').to_string();
    // Remote mode's access token, when the target Loupe needs one.
    let env = |k: &str| std::env::var(k).ok();
    let token = loupe_config::Loaded::load(None, &env, Vec::new())
        .ok()
        .and_then(|l| loupe_config::secrets::client_token(&l.secrets_dir(), &env));
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let mut failed = false;
        for path in files {
            let bytes = match read_file(path) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("loupe: {e}");
                    failed = true;
                    continue;
                }
            };
            let source = loupe_export::source_name(&path.to_string_lossy());
            eprintln!("loupe: sending {} ({} bytes) to {base}", path.display(), bytes.len());
            let r = client
                .post(format!("{base}/api/v1/imports?name={}", loupe_mcp::fmt::enc(&source)))
                // The cross-site write guard's sign of intent (SECURITY.md).
                .header(loupe_server::guard::write::REQUEST_HEADER, "1");
            let r = match &token {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            let r = r.body(bytes).send()
                .await;
            let resp = match r {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("loupe: cannot reach {base}: {e}; is Loupe running?");
                    return ExitCode::FAILURE;
                }
            };
            let ok = resp.status().is_success();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            if ok {
                let n = |k: &str| body[k].as_u64().unwrap_or(0);
                println!(
                    "loupe: imported {}: {} spans, {} log records, {} data points, {} parts skipped",
                    path.display(),
                    n("spans"),
                    n("logRecords"),
                    n("dataPoints"),
                    n("skippedCount")
                );
            } else {
                eprintln!(
                    "loupe: {}: {}",
                    path.display(),
                    body["error"].as_str().unwrap_or("the import failed")
                );
                failed = true;
            }
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// What reading a bundle dropped or skipped, on stderr: shared by `import`
/// and `replay`, which read bundles with the same reader.
pub(crate) fn print_read_problems(
    who: &str,
    path: &Path,
    rejected: u64,
    skipped_count: u64,
    skipped: &[loupe_export::import::Skipped],
) {
    if rejected > 0 {
        eprintln!(
            "{who}: {}: {rejected} items with invalid IDs were dropped",
            path.display()
        );
    }
    if skipped_count > 0 {
        eprintln!(
            "{who}: {}: {skipped_count} parts could not be read and were skipped:",
            path.display()
        );
        for s in skipped {
            eprintln!("  {s}");
        }
        if skipped_count > skipped.len() as u64 {
            eprintln!("  …");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: ExportArgs,
    }

    fn request(args: &[&str]) -> Result<ExportRequest, String> {
        let cli = Cli::try_parse_from(std::iter::once("loupe").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        export_request(&cli.a)
    }

    #[test]
    fn flags_become_the_typed_request() {
        let r = request(&["-o", "x.html", "--errors", "--service", "api"]).unwrap();
        assert_eq!(r.format, Format::Html);
        assert!(r.redact && !r.logs);
        match r.selection {
            Selection::Search(q) => {
                assert!(q.errors_only);
                assert_eq!(q.service.as_deref(), Some("api"));
                assert_eq!(q.limit, loupe_export::export::MAX_TRACES);
            }
            other => panic!("{other:?}"),
        }
        let r = request(&[
            "--preview",
            "--window",
            "--since",
            "1h30m",
            "--service",
            "a",
        ])
        .unwrap();
        match r.selection {
            Selection::Window { range, services } => {
                assert_eq!(services, ["a"]);
                let back = loupe_model::time::now_ns() - range.start;
                assert!(
                    (5_400_000_000_000..5_460_000_000_000).contains(&back),
                    "{back}"
                );
            }
            other => panic!("{other:?}"),
        }
        let id = "5b8efff798038103d269b633813fc60c";
        let r = request(&["--preview", "--trace", id, "--linked", "--redact=false"]).unwrap();
        assert!(matches!(
            r.selection,
            Selection::Traces { linked: true, .. }
        ));
        assert!(r.into_spec().redact.is_none());
    }

    #[test]
    fn bad_flags_name_themselves() {
        for (args, flag) in [
            (&["--preview", "--trace", "xyz"][..], "--trace"),
            (&["--preview", "--limit", "0"], "--limit"),
            (&["--preview", "--since", "5parsecs"], "--since"),
            (&["--preview", "--query", "a AND"], "--query"),
            (&["--preview", "--window", "--query", "a=b"], "--query"),
            (&["--preview", "--format", "pdf", "--errors"], "--format"),
        ] {
            let e = request(args).unwrap_err();
            assert!(e.starts_with(flag), "{args:?}: {e}");
        }
    }
}
