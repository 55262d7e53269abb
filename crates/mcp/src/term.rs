//! The terminal commands: `loupe traces`, `loupe trace ID`, `loupe logs`
//! (`--follow`), `loupe metrics [NAME]`, `loupe alerts`.
//!
//! Why here and through the tools: a terminal user asks the same questions
//! as an agent, so the commands run the same tool code (same API calls,
//! same redaction) and only print differently: aligned tables, or NDJSON
//! (`--json`, one object a line) for scripts. The table functions are pure
//! (fixed input, exact text), which the golden tests check.

use std::collections::HashSet;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::backend::Backend;
use crate::fmt::{clip, duration, query, time};
use crate::otlp;
use crate::redact::redact;
use crate::tools::{self, Ctx, ToolError};

/// What a command found: scripts tell "nothing matched" (exit 1) from
/// "something failed" (exit 2, an `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Found,
    NoMatch,
}

impl Outcome {
    /// 0 when something was found, 1 when nothing matched.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Found => 0,
            Outcome::NoMatch => 1,
        }
    }
}

/// The time range of a search, the same flags for traces and logs (and
/// the same arguments as the tools' `since`, `start`, `end`).
#[derive(Args, Debug, Default, Clone)]
pub struct RangeArgs {
    /// Only the last … (15m, 2h, 1d).
    #[arg(long, value_parser = duration_arg)]
    pub since: Option<String>,
    /// Range start: Unix ns, RFC 3339 or now-15m.
    #[arg(long, conflicts_with = "since")]
    pub start: Option<String>,
    /// Range end.
    #[arg(long)]
    pub end: Option<String>,
}

impl RangeArgs {
    /// Adds the range as tool arguments.
    fn put(&self, m: &mut Map<String, Value>) {
        put(m, "since", self.since.clone());
        put(m, "start", self.start.clone());
        put(m, "end", self.end.clone());
    }
}

/// `loupe traces`: the search flags of `GET /api/v1/traces`.
#[derive(Args, Debug, Default, Clone)]
pub struct TracesArgs {
    /// Boolean expression over attributes (`kestra.flowId=x AND NOT kestra.state=SUCCESS`).
    #[arg(long)]
    pub q: Option<String>,
    /// Traces with a span from this service.name.
    #[arg(long)]
    pub service: Option<String>,
    /// Traces with a span of exactly this name.
    #[arg(long)]
    pub span_name: Option<String>,
    /// Attribute condition (repeatable): key, key=value, key!=value, key>n.
    #[arg(long)]
    pub attr: Vec<String>,
    /// Only traces with an ERROR span.
    #[arg(long)]
    pub errors: bool,
    /// At least this long (250ms, 1.5s).
    #[arg(long, value_parser = duration_arg)]
    pub min_duration: Option<String>,
    /// At most this long.
    #[arg(long, value_parser = duration_arg)]
    pub max_duration: Option<String>,
    #[command(flatten)]
    pub range: RangeArgs,
    /// How many traces [default: 20].
    #[arg(long)]
    pub limit: Option<u64>,
}

/// `loupe logs`.
#[derive(Args, Debug, Default, Clone)]
pub struct LogsArgs {
    /// Words that must all appear (full text; word* for a prefix).
    #[arg(long)]
    pub q: Option<String>,
    /// Minimum severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
    #[arg(long)]
    pub severity: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    /// Only this trace's records.
    #[arg(long)]
    pub trace_id: Option<String>,
    /// Only this span's records.
    #[arg(long)]
    pub span_id: Option<String>,
    /// Attribute condition (repeatable).
    #[arg(long)]
    pub attr: Vec<String>,
    #[command(flatten)]
    pub range: RangeArgs,
    /// How many records [default: 50; 20 with --follow].
    #[arg(long)]
    pub limit: Option<u64>,
    /// Keep printing new records as they arrive (Ctrl-C stops).
    #[arg(short, long)]
    pub follow: bool,
}

/// `loupe metrics [NAME]`.
#[derive(Args, Debug, Default, Clone)]
pub struct MetricsArgs {
    /// A metric's exact name: its lines' statistics; without: the list.
    pub name: Option<String>,
    /// Range for NAME (15m, 2h) [default: 1h].
    #[arg(long, value_parser = duration_arg)]
    pub since: Option<String>,
    /// Split NAME's lines by these attribute keys (comma-separated).
    #[arg(long)]
    pub split: Option<String>,
}

/// Checks a duration flag with the grammar the API parses it with
/// (`loupe_model::duration`), so a typo is a usage error before any request.
fn duration_arg(s: &str) -> Result<String, String> {
    loupe_model::duration::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(k.into(), v.into());
    }
}

fn error_args(a: &TracesArgs) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "q", a.q.clone());
    put(&mut m, "service", a.service.clone());
    put(&mut m, "span_name", a.span_name.clone());
    if !a.attr.is_empty() {
        m.insert("attr".into(), a.attr.clone().into());
    }
    if a.errors {
        m.insert("errors".into(), true.into());
    }
    put(&mut m, "min_duration", a.min_duration.clone());
    put(&mut m, "max_duration", a.max_duration.clone());
    a.range.put(&mut m);
    put(&mut m, "limit", a.limit);
    m
}

/// The items of a tool's answer, redacted.
async fn items(
    ctx: &Ctx<'_>,
    tool: &str,
    args: Map<String, Value>,
) -> Result<(Vec<Value>, Map<String, Value>), ToolError> {
    let (mut page, _) = tools::run(ctx, tool, args).await?;
    for v in page.items.iter_mut().chain(page.body.values_mut()) {
        redact(v);
    }
    Ok((page.items, page.body))
}

fn ndjson(items: &[Value]) -> String {
    items.iter().map(|v| format!("{v}\n")).collect()
}

fn outcome(found: bool) -> Outcome {
    if found {
        Outcome::Found
    } else {
        Outcome::NoMatch
    }
}

/// A table: a header row and rows, columns padded to their widest cell
/// (by characters), the last column unpadded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut w = vec![0usize; n];
    for (i, h) in header.iter().enumerate() {
        w[i] = h.chars().count();
    }
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `loupe traces` as a table, from search_traces items.
pub fn traces_table(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|t| {
            let run = t["run"]
                .as_object()
                .map(|r| {
                    r.get("kestra.flowId")
                        .map(|f| format!(" ({})", s(f)))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            vec![
                s(&t["traceId"]),
                s(&t["start"]),
                s(&t["duration"]),
                s(&t["spans"]),
                s(&t["errors"]),
                format!("{}{run}", clip(&s(&t["root"]), 80)),
            ]
        })
        .collect();
    table(
        &["TRACE", "START", "DURATION", "SPANS", "ERRORS", "ROOT"],
        &rows,
    )
}

/// `loupe logs` as a table (oldest first, bodies on one line).
pub fn logs_table(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|l| {
            vec![
                s(&l["time"]),
                s(&l["severity"]),
                s(&l["service"]),
                clip(&s(&l["body"]).replace(['\n', '\r'], " "), 160),
            ]
        })
        .collect();
    table(&["TIME", "SEVERITY", "SERVICE", "BODY"], &rows)
}

/// `loupe metrics` as a table.
pub fn metrics_table(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|m| {
            vec![
                s(&m["name"]),
                s(&m["type"]),
                s(&m["unit"]),
                s(&m["series"]),
                s(&m["lastPoint"]),
            ]
        })
        .collect();
    table(&["NAME", "TYPE", "UNIT", "SERIES", "LAST POINT"], &rows)
}

/// `loupe metrics NAME`: one row per line of the chart.
pub fn series_table(meaning: &str, items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|l| {
            let st = &l["stats"];
            vec![
                s(&st["min"]),
                s(&st["avg"]),
                s(&st["max"]),
                s(&st["last"]),
                s(&st["points"]),
                {
                    let label = s(&l["label"]);
                    if label.is_empty() {
                        "(all)".into()
                    } else {
                        label
                    }
                },
            ]
        })
        .collect();
    let mut out = String::new();
    if !meaning.is_empty() {
        out.push_str(&format!("values: {meaning}\n"));
    }
    out.push_str(&table(
        &["MIN", "AVG", "MAX", "LAST", "POINTS", "LINE"],
        &rows,
    ));
    out
}

/// `loupe alerts` as a table.
pub fn alerts_table(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|g| {
            let evidence = g["evidence"]["summary"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    g["evidence"]["traceId"]
                        .as_str()
                        .map(|t| format!("trace {t}"))
                })
                .unwrap_or_else(|| s(&g["value"]));
            vec![
                s(&g["state"]),
                s(&g["rule"]),
                s(&g["group"]),
                s(&g["since"]),
                clip(&evidence, 100),
            ]
        })
        .collect();
    table(&["STATE", "RULE", "GROUP", "SINCE", "EVIDENCE"], &rows)
}

/// "1 error", "2 errors".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `loupe trace ID`: a header and the whole tree, indented, with durations
/// and errors.
pub fn trace_text(id: &str, ui: &str, spans: &[otlp::Span]) -> String {
    let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let errors = spans.iter().filter(|s| s.is_error()).count();
    let (lines, _) = tools::tree_lines(spans, false, false);
    let mut out = format!(
        "trace {id}  {}  {}  {}, {}\n{ui}/trace/{id}\n\n",
        time(start),
        duration(end.saturating_sub(start)),
        count(spans.len(), "span"),
        count(errors, "error")
    );
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Runs `loupe traces`; `out` gets the table or NDJSON.
pub async fn traces(
    ctx: &Ctx<'_>,
    a: &TracesArgs,
    json: bool,
    out: &mut String,
) -> Result<Outcome, ToolError> {
    let (items, _) = items(ctx, "search_traces", error_args(a)).await?;
    out.push_str(&if json {
        ndjson(&items)
    } else if items.is_empty() {
        String::new()
    } else {
        traces_table(&items)
    });
    Ok(outcome(!items.is_empty()))
}

/// Runs `loupe trace ID`.
pub async fn trace(
    ctx: &Ctx<'_>,
    id: &str,
    json: bool,
    out: &mut String,
) -> Result<Outcome, ToolError> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ToolError::Invalid(format!(
            "{id:?} is not a trace ID (32 hex digits)"
        )));
    }
    let ans = ctx.backend.get(format!("/api/v1/traces/{id}")).await?;
    if ans.status == 404 {
        out.push_str(&format!(
            "no trace {id}: never received, or retention has deleted it\n"
        ));
        return Ok(Outcome::NoMatch);
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let mut spans = otlp::spans(&ans.body);
    for s in &mut spans {
        redact_span(s);
    }
    if json {
        let mut sorted: Vec<&otlp::Span> = spans.iter().collect();
        sorted.sort_by_key(|s| s.start);
        for s in sorted {
            let mut v = json!({
                "traceId": s.trace_id, "spanId": s.span_id, "parentSpanId": s.parent,
                "name": s.name, "service": s.service, "start": time(s.start),
                "durationNano": s.duration().to_string(), "duration": duration(s.duration()),
                "error": s.is_error(), "status": s.status_message, "attributes": s.attributes(),
            });
            redact(&mut v);
            out.push_str(&format!("{v}\n"));
        }
    } else {
        out.push_str(&trace_text(&id, &ctx.ui, &spans));
    }
    Ok(Outcome::Found)
}

/// Masks what a tree line shows of a span (name, status message).
fn redact_span(s: &mut otlp::Span) {
    let mut v = json!([s.name, s.status_message]);
    redact(&mut v);
    s.name = self::s(&v[0]);
    s.status_message = self::s(&v[1]);
    redact(&mut s.raw);
}

fn logs_args(a: &LogsArgs, limit: u64) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "q", a.q.clone());
    put(&mut m, "severity", a.severity.clone());
    put(&mut m, "service", a.service.clone());
    put(&mut m, "trace_id", a.trace_id.clone());
    put(&mut m, "span_id", a.span_id.clone());
    if !a.attr.is_empty() {
        m.insert("attr".into(), a.attr.clone().into());
    }
    a.range.put(&mut m);
    m.insert("limit".into(), limit.into());
    m
}

/// Runs `loupe logs` (without `--follow`): oldest first.
pub async fn logs(
    ctx: &Ctx<'_>,
    a: &LogsArgs,
    json: bool,
    out: &mut String,
) -> Result<Outcome, ToolError> {
    let (mut items, _) = items(ctx, "search_logs", logs_args(a, a.limit.unwrap_or(50))).await?;
    items.reverse();
    out.push_str(&if json {
        ndjson(&items)
    } else if items.is_empty() {
        String::new()
    } else {
        logs_table(&items)
    });
    Ok(outcome(!items.is_empty()))
}

/// `loupe logs --follow`: the last records, then every new one as it
/// arrives, printed through `emit` (a line each; the header once). Polls
/// once a second for records at or after the newest seen, and skips those
/// already printed. Runs until `emit` fails (stdout closed) or an error.
pub async fn follow(
    backend: &dyn Backend,
    a: &LogsArgs,
    json: bool,
    mut emit: impl FnMut(&str) -> bool,
) -> Result<(), ToolError> {
    let mut base: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            base.push((k.into(), v.clone()));
        }
    };
    push("q", &a.q);
    push("minSeverity", &a.severity);
    push("service", &a.service);
    push("traceId", &a.trace_id);
    push("spanId", &a.span_id);
    for c in &a.attr {
        base.push(("attr".into(), c.clone()));
    }
    let mut since: Option<u64> = None;
    let mut printed: HashSet<(u64, String, String, String)> = HashSet::new();
    let mut header = !json;
    let first_limit = a.limit.unwrap_or(20).clamp(1, 10_000);
    loop {
        let mut q = base.clone();
        let limit = match since {
            Some(t) => {
                q.push(("start".into(), t.to_string()));
                10_000
            }
            None => {
                if let Some(s) = &a.range.since {
                    q.push(("start".into(), format!("now-{s}")));
                }
                first_limit
            }
        };
        q.push(("limit".into(), limit.to_string()));
        let ans = backend.get(format!("/api/v1/logs?{}", query(&q))).await?;
        if !ans.ok() {
            return Err(ToolError::Api(ans.error_text()));
        }
        let mut records = otlp::logs(&ans.body);
        records.reverse();
        for l in records {
            let key = (l.time, l.service.clone(), l.span_id.clone(), l.body.clone());
            if !printed.insert(key) {
                continue;
            }
            since = Some(since.map_or(l.time, |t| t.max(l.time)));
            let mut v = l.to_json();
            redact(&mut v);
            let line = if json {
                format!("{v}\n")
            } else {
                let t = logs_table(&[v]);
                let mut lines = t.lines();
                let head = lines.next().unwrap_or("").to_string();
                let row = lines.next().unwrap_or("").to_string();
                if std::mem::take(&mut header) && !emit(&format!("{head}\n")) {
                    return Ok(());
                }
                format!("{row}\n")
            };
            if !emit(&line) {
                return Ok(());
            }
        }
        // Keep the boundary set small: only records at the newest time matter.
        if let Some(t) = since {
            printed.retain(|k| k.0 >= t);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs `loupe metrics [NAME]`.
pub async fn metrics(
    ctx: &Ctx<'_>,
    a: &MetricsArgs,
    json: bool,
    out: &mut String,
) -> Result<Outcome, ToolError> {
    match &a.name {
        None => {
            let (items, _) = items(ctx, "list_metrics", Map::new()).await?;
            out.push_str(&if json {
                ndjson(&items)
            } else if items.is_empty() {
                String::new()
            } else {
                metrics_table(&items)
            });
            Ok(outcome(!items.is_empty()))
        }
        Some(name) => {
            let mut m = Map::new();
            m.insert("name".into(), name.clone().into());
            put(&mut m, "since", a.since.clone().or(Some("1h".into())));
            put(&mut m, "split", a.split.clone());
            let (items, body) = items(ctx, "get_metric_series", m).await?;
            let found = items
                .iter()
                .any(|l| l["stats"]["points"].as_u64().unwrap_or(0) > 0);
            if json {
                out.push_str(&ndjson(&items));
            } else if found {
                out.push_str(&series_table(
                    &s(&body.get("meaning").cloned().unwrap_or_default()),
                    &items,
                ));
            }
            Ok(outcome(found))
        }
    }
}

/// Runs `loupe alerts`: firing and pending groups.
pub async fn alerts(ctx: &Ctx<'_>, json: bool, out: &mut String) -> Result<Outcome, ToolError> {
    let (items, _) = items(ctx, "list_alerts", Map::new()).await?;
    out.push_str(&if json {
        ndjson(&items)
    } else if items.is_empty() {
        String::new()
    } else {
        alerts_table(&items)
    });
    Ok(outcome(!items.is_empty()))
}
