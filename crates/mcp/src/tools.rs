//! The MCP tools: names, input schemas, and what each answers.
//!
//! Each tool asks the JSON API (through a [`Backend`]) exactly what the UI
//! asks, then shapes a compact answer for an agent: summaries instead of
//! OTLP dumps, deep links into the UI, notes when something is missing,
//! and a [`Page`] that [`answer::render`] fits into the budget. The
//! analysis tools (critical path, statistics, comparisons) are in
//! [`analysis`], over the API's analysis routes.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::answer::{self, Page, DEFAULT_MAX_BYTES, MAX_MAX_BYTES, MIN_MAX_BYTES};
use crate::backend::{Answer, Backend, BackendError};
use crate::fmt::{clip, duration, enc, ns, query, time};
use crate::otlp::{self, Span};

mod analysis;

/// Attributes that identify a Kestra run, shown in trace summaries.
pub const RUN_KEYS: &[&str] = &["kestra.namespace", "kestra.flowId", "kestra.executionId"];

/// Why a tool call failed (answered to the agent as a tool error).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The arguments are wrong; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The API refused (a bad `q=`, a bad time): its own message.
    #[error("Loupe's API refused the request: {0}")]
    Api(String),
    #[error("no tool named {0:?}; tools/list has them")]
    Unknown(String),
}

/// Where a call runs: the API, and the UI's base URL for deep links.
pub struct Ctx<'a> {
    pub backend: &'a dyn Backend,
    /// `http://127.0.0.1:16686`, no trailing slash.
    pub ui: String,
}

impl Ctx<'_> {
    async fn get(&self, path: String) -> Result<Answer, ToolError> {
        Ok(self.backend.get(path).await?)
    }

    async fn get_ok(&self, path: String) -> Result<Value, ToolError> {
        let a = self.get(path).await?;
        if a.ok() {
            Ok(a.body)
        } else {
            Err(ToolError::Api(a.error_text()))
        }
    }

    fn trace_link(&self, trace: &str) -> String {
        format!("{}/trace/{trace}", self.ui)
    }

    fn span_link(&self, trace: &str, span: &str) -> String {
        format!("{}/trace/{trace}?span={span}", self.ui)
    }
}

/// A tool as `tools/list` shows it.
pub struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

fn budget_props() -> Value {
    json!({
        "max_bytes": {"type": "integer", "minimum": MIN_MAX_BYTES, "maximum": MAX_MAX_BYTES,
            "description": format!("Largest answer in bytes of text (default {DEFAULT_MAX_BYTES}). Longer answers are cut and give a cursor.")},
        "cursor": {"type": "string", "description": "From a previous answer's nextCursor: continue the same list (give the same other arguments)."}
    })
}

fn time_props() -> Value {
    json!({
        "since": {"type": "string", "description": "Only the last … : a duration such as 15m, 2h, 1d (same as start=now-15m).", "examples": ["15m"]},
        "start": {"type": "string", "description": "Range start: Unix nanoseconds, RFC 3339 (2026-11-21T10:00:00Z) or now-15m."},
        "end": {"type": "string", "description": "Range end, same forms as start."}
    })
}

fn schema(props: Value, required: &[&str]) -> Value {
    let mut p = props.as_object().cloned().unwrap_or_default();
    if let Some(b) = budget_props().as_object() {
        p.extend(b.clone());
    }
    json!({"type": "object", "properties": p, "required": required, "additionalProperties": false})
}

fn with_time(props: Value) -> Value {
    let mut p = props.as_object().cloned().unwrap_or_default();
    if let Some(t) = time_props().as_object() {
        p.extend(t.clone());
    }
    Value::Object(p)
}

/// Every tool, in a stable order with stable names.
pub fn definitions() -> Vec<ToolDef> {
    let mut defs = vec![
        ToolDef {
            name: "list_services",
            title: "List services",
            description: "The service.name of every resource that sent traces, logs or metrics to Loupe. Example: {}",
            schema: schema(json!({}), &[]),
        },
        ToolDef {
            name: "search_traces",
            title: "Search traces",
            description: "Find traces, newest first: compact summaries (root span, duration, span and error counts, services, Kestra run keys kestra.namespace/flowId/executionId) with a link to each in Loupe's UI. Filters combine with AND. Examples: {\"errors\": true, \"since\": \"15m\"}; {\"service\": \"kestra\", \"q\": \"kestra.flowId=orders_pipeline AND NOT kestra.state=SUCCESS\"}; {\"attr\": [\"kestra.attempt>=2\"], \"min_duration\": \"1s\"}",
            schema: schema(
                with_time(json!({
                    "q": {"type": "string", "description": "Boolean expression over attributes: key=value, key!=value, key>n, key, AND, OR, NOT, parentheses (Loupe's q= language)."},
                    "service": {"type": "string", "description": "Traces with a span from this service.name."},
                    "span_name": {"type": "string", "description": "Traces with a span of exactly this name."},
                    "attr": {"type": "array", "items": {"type": "string"}, "description": "Attribute conditions, all must hold: key, key=value, key!=value, key>n, key>=n, key<n, key<=n."},
                    "errors": {"type": "boolean", "description": "true: only traces with an ERROR span."},
                    "min_duration": {"type": "string", "description": "At least this long: 250ms, 1.5s, 2m."},
                    "max_duration": {"type": "string", "description": "At most this long."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "How many traces (default 20)."}
                })),
                &[],
            ),
        },
        ToolDef {
            name: "get_trace",
            title: "Get a trace (summary)",
            description: "A bounded summary of one trace: its root and duration, the ERROR spans with their exception events (type, message, stack) and their logs, the trace's error logs, the slowest spans, linked traces, and the span tree folded to what matters (runs of same-named sibling spans become one line with counts and durations; their error spans stay). Each tree line ends with #spanId for get_span. The tree pages with cursor; fold=false lists every span. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\"}",
            schema: schema(
                json!({
                    "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$", "description": "32 hex digits."},
                    "fold": {"type": "boolean", "description": "Fold runs of same-named sibling spans (default true)."},
                    "slowest": {"type": "integer", "minimum": 0, "maximum": 100, "description": "How many slowest spans to list (default 10)."}
                }),
                &["trace_id"],
            ),
        },
        ToolDef {
            name: "get_span",
            title: "Get a span",
            description: "One span whole: attributes, resource, events (exceptions with stack traces), links, status, and its log records. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\", \"span_id\": \"51a2c8e0d3f47b96\"}",
            schema: schema(
                json!({
                    "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
                    "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"}
                }),
                &["trace_id", "span_id"],
            ),
        },
        ToolDef {
            name: "get_related_traces",
            title: "Get related traces",
            description: "Traces joined to this one by span links, both ways: from a Kestra parent run, its ForEachItem/subflow child executions (incoming); from a child, its parent (outgoing). Each with its summary and link, plus the UI link of the stitched view. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\"}",
            schema: schema(
                json!({"trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}),
                &["trace_id"],
            ),
        },
        ToolDef {
            name: "search_logs",
            title: "Search logs",
            description: "Log records, newest first: time, severity, service, body, trace and span IDs, attributes, with links. Examples: {\"q\": \"gateway refused\", \"severity\": \"error\"}; {\"trace_id\": \"7f3a9c2e41d84b6f9a0e2c5d8b1f4a38\"}; {\"service\": \"kestra\", \"since\": \"15m\"}",
            schema: schema(
                with_time(json!({
                    "q": {"type": "string", "description": "Words that must all appear in the body or an attribute (full text; word* for a prefix)."},
                    "severity": {"type": "string", "description": "Minimum severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL or 1-24."},
                    "service": {"type": "string"},
                    "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
                    "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"},
                    "attr": {"type": "array", "items": {"type": "string"}, "description": "Conditions on the record's attributes, as in search_traces."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "How many records (default 50)."}
                })),
                &[],
            ),
        },
        ToolDef {
            name: "list_metrics",
            title: "List metrics",
            description: "Known metrics: name, type (gauge, sum, histogram, …), unit, description, series count, newest point. Example: {\"name\": \"kestra\"}",
            schema: schema(
                json!({
                    "name": {"type": "string", "description": "Names containing this (any case)."},
                    "service": {"type": "string", "description": "Only metrics with series from this service.name."}
                }),
                &[],
            ),
        },
        ToolDef {
            name: "get_metric_series",
            title: "Get a metric's series",
            description: "One metric over a time range as the chart shows it (rates for counters, percentiles for histograms): per line, summary statistics (min, avg, max, first, last) and a down-sampled series, never raw points; exemplar traces. Example: {\"name\": \"kestra.executor.execution.started.count\", \"since\": \"1h\", \"split\": \"kestra.flowId\"}",
            schema: schema(
                with_time(json!({
                    "name": {"type": "string", "description": "The metric's exact name."},
                    "split": {"type": "string", "description": "Comma-separated attribute keys: one line per value combination (empty: all series as one line)."},
                    "agg": {"type": "string", "enum": ["sum", "avg", "min", "max"], "description": "How series combine per time step when split (default sum)."},
                    "attr": {"type": "array", "items": {"type": "string"}, "description": "key=value filters on series attributes."},
                    "quantiles": {"type": "string", "description": "Histogram percentiles, e.g. 0.5,0.99."},
                    "points": {"type": "integer", "minimum": 2, "maximum": 200, "description": "Points per down-sampled series (default 24)."}
                })),
                &["name"],
            ),
        },
        ToolDef {
            name: "list_alerts",
            title: "List alerts",
            description: "Alert groups that are firing or pending, with the rule, labels, value and evidence (the matching trace, with a link). Example: {}",
            schema: schema(json!({}), &[]),
        },
        ToolDef {
            name: "alert_history",
            title: "Alert history",
            description: "Alert state transitions (pending, firing, resolved), newest first. Example: {\"limit\": 20}",
            schema: schema(
                json!({
                    "rule": {"type": "integer", "description": "Only this rule's (its id, from list_alerts)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 5000, "description": "How many transitions (default 50)."}
                }),
                &[],
            ),
        },
    ];
    defs.extend(analysis::definitions());
    defs
}

/// The arguments of one call, checked against what the tool takes.
struct Args {
    m: Map<String, Value>,
}

impl Args {
    fn new(tool: &str, m: Map<String, Value>) -> Result<Args, ToolError> {
        let def = definitions()
            .into_iter()
            .find(|d| d.name == tool)
            .ok_or_else(|| ToolError::Unknown(tool.to_string()))?;
        let props = &def.schema["properties"];
        for k in m.keys() {
            if props.get(k).is_none() {
                let known: Vec<&String> = props
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                return Err(ToolError::Invalid(format!(
                    "{tool} takes no argument {k:?}; it takes {known:?}"
                )));
            }
        }
        for r in def.schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                if m.get(r).is_none_or(Value::is_null) {
                    return Err(ToolError::Invalid(format!("{tool} needs {r:?}")));
                }
            }
        }
        Ok(Args { m })
    }

    fn str(&self, k: &str) -> Result<Option<String>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be a string, not {other}"
            ))),
        }
    }

    fn bool(&self, k: &str) -> Result<Option<bool>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be true or false, not {other}"
            ))),
        }
    }

    fn uint(&self, k: &str, min: u64, max: u64) -> Result<Option<u64>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ToolError::Invalid(format!(
                    "{k} must be an integer from {min} to {max}, not {v}"
                ))),
            },
        }
    }

    fn strs(&self, k: &str) -> Result<Vec<String>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ToolError::Invalid(format!("{k} must be a list of strings")))
                })
                .collect(),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be a list of strings, not {other}"
            ))),
        }
    }

    fn max_bytes(&self) -> Result<usize, ToolError> {
        Ok(self
            .uint("max_bytes", MIN_MAX_BYTES as u64, MAX_MAX_BYTES as u64)?
            .map_or(DEFAULT_MAX_BYTES, |n| n as usize))
    }

    fn cursor(&self) -> Result<usize, ToolError> {
        answer::cursor(self.str("cursor")?.as_deref()).map_err(ToolError::Invalid)
    }

    fn hex(&self, k: &str, len: usize) -> Result<Option<String>, ToolError> {
        match self.str(k)? {
            None => Ok(None),
            Some(s) if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Some(s.to_ascii_lowercase()))
            }
            Some(s) => Err(ToolError::Invalid(format!(
                "{k} must be {len} hex digits, not {s:?}"
            ))),
        }
    }

    /// `since`, `start`, `end` as API parameters.
    fn time_pairs(&self, out: &mut Vec<(String, String)>) -> Result<(), ToolError> {
        if let Some(s) = self.str("since")? {
            if self.str("start")?.is_some() {
                return Err(ToolError::Invalid("give since or start, not both".into()));
            }
            out.push(("start".into(), format!("now-{s}")));
        }
        for k in ["start", "end"] {
            if let Some(v) = self.str(k)? {
                out.push((k.into(), v));
            }
        }
        Ok(())
    }
}

fn pair(out: &mut Vec<(String, String)>, k: &str, v: Option<String>) {
    if let Some(v) = v {
        out.push((k.to_string(), v));
    }
}

/// Runs tool `name`; the answer is JSON text within its budget, redacted.
pub async fn call(
    ctx: &Ctx<'_>,
    name: &str,
    args: Map<String, Value>,
) -> Result<String, ToolError> {
    let (page, max) = run(ctx, name, args).await?;
    Ok(answer::render(page, max))
}

/// Runs tool `name` without fitting its answer: the page and the budget
/// asked for. The terminal commands print the page's items whole.
pub async fn run(
    ctx: &Ctx<'_>,
    name: &str,
    args: Map<String, Value>,
) -> Result<(Page, usize), ToolError> {
    let a = Args::new(name, args)?;
    let max = a.max_bytes()?;
    let page = match name {
        "list_services" => list_services(ctx, &a).await?,
        "search_traces" => search_traces(ctx, &a).await?,
        "get_trace" => get_trace(ctx, &a).await?,
        "get_span" => get_span(ctx, &a).await?,
        "get_related_traces" => get_related(ctx, &a).await?,
        "search_logs" => search_logs(ctx, &a).await?,
        "list_metrics" => list_metrics(ctx, &a).await?,
        "get_metric_series" => metric_series(ctx, &a).await?,
        "list_alerts" => list_alerts(ctx, &a).await?,
        "alert_history" => alert_history(ctx, &a).await?,
        "get_critical_path" => analysis::get_critical_path(ctx, &a).await?,
        "get_statistics" => analysis::get_statistics(ctx, &a).await?,
        "compare_traces" => analysis::compare_traces(ctx, &a).await?,
        "compare_with_previous_run" => analysis::compare_with_previous(ctx, &a).await?,
        other => return Err(ToolError::Unknown(other.to_string())),
    };
    Ok((page, max))
}

fn from_offset(items: Vec<Value>, offset: usize) -> Vec<Value> {
    items.into_iter().skip(offset).collect()
}

async fn list_services(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let body = ctx.get_ok("/api/v1/services".into()).await?;
    let items = body["services"].as_array().cloned().unwrap_or_default();
    let mut p = Page::new("services");
    p.set("count", items.len());
    if items.is_empty() {
        p.set(
            "note",
            "Loupe has received no telemetry yet (or retention removed it all).",
        );
    }
    p.set("link", format!("{}/", ctx.ui));
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}

/// The API's trace summary, compact, with a link (run keys added later).
fn trace_item(ctx: &Ctx<'_>, t: &Value) -> Map<String, Value> {
    let id = t["traceId"].as_str().unwrap_or("");
    let mut o = Map::new();
    o.insert("traceId".into(), id.into());
    o.insert(
        "root".into(),
        format!(
            "{}: {}",
            t["rootService"].as_str().unwrap_or("?"),
            t["rootName"].as_str().unwrap_or("?")
        )
        .into(),
    );
    o.insert("start".into(), time(ns(&t["startTimeUnixNano"])).into());
    o.insert("duration".into(), duration(ns(&t["durationNano"])).into());
    o.insert("spans".into(), t["spanCount"].clone());
    o.insert("errors".into(), t["errorCount"].clone());
    o.insert("services".into(), t["services"].clone());
    o.insert("link".into(), ctx.trace_link(id).into());
    o
}

/// The run keys of a trace: from its root span (or resource), else from
/// the earliest span that has them.
pub fn run_keys(spans: &[Span]) -> Map<String, Value> {
    let mut order: Vec<&Span> = spans.iter().collect();
    order.sort_by_key(|s| (!s.parent.is_empty(), s.start));
    let mut out = Map::new();
    for k in RUN_KEYS {
        if let Some(v) = order.iter().find_map(|s| s.attribute(k)) {
            out.insert((*k).to_string(), v);
        }
    }
    out
}

/// Traces bigger than this are not read whole just for their run keys.
const RUN_KEYS_MAX_SPANS: u64 = 2_000;
/// Run keys are looked up for at most this many traces per answer.
const RUN_KEYS_MAX_TRACES: usize = 50;

async fn search_traces(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let offset = a.cursor()?;
    let limit = a.uint("limit", 1, 1000)?.unwrap_or(20) as usize;
    let mut q = Vec::new();
    pair(&mut q, "q", a.str("q")?);
    pair(&mut q, "service", a.str("service")?);
    pair(&mut q, "spanName", a.str("span_name")?);
    for c in a.strs("attr")? {
        q.push(("attr".into(), c));
    }
    if a.bool("errors")? == Some(true) {
        q.push(("errors".into(), "true".into()));
    }
    pair(&mut q, "minDuration", a.str("min_duration")?);
    pair(&mut q, "maxDuration", a.str("max_duration")?);
    a.time_pairs(&mut q)?;
    q.push(("limit".into(), (offset + limit).min(1000).to_string()));
    let body = ctx.get_ok(format!("/api/v1/traces?{}", query(&q))).await?;
    let all = body["traces"].as_array().cloned().unwrap_or_default();
    let mut items = Vec::new();
    for (i, t) in all.iter().skip(offset).take(limit).enumerate() {
        let mut o = trace_item(ctx, t);
        if i < RUN_KEYS_MAX_TRACES && t["spanCount"].as_u64().unwrap_or(0) <= RUN_KEYS_MAX_SPANS {
            let id = t["traceId"].as_str().unwrap_or("");
            if let Ok(a) = ctx.get(format!("/api/v1/traces/{id}")).await {
                let keys = run_keys(&otlp::spans(&a.body));
                if !keys.is_empty() {
                    o.insert("run".into(), Value::Object(keys));
                }
            }
        }
        items.push(Value::Object(o));
    }
    let mut p = Page::new("traces");
    if items.is_empty() {
        p.set(
            "note",
            if offset > 0 {
                "no more traces".to_string()
            } else {
                "no trace matches; widen the time range or drop a filter (data older than the retention age is deleted)".to_string()
            },
        );
    }
    p.offset = offset;
    p.items = items;
    Ok(p)
}

/// Sibling runs at least this long are folded into one line.
const FOLD_MIN: usize = 4;
/// Deeper levels are not indented further (a 100k-deep chain stays readable).
const MAX_INDENT: usize = 24;

fn indent(depth: usize) -> String {
    if depth > MAX_INDENT {
        format!("{}[depth {depth}] ", "  ".repeat(MAX_INDENT))
    } else {
        "  ".repeat(depth)
    }
}

fn span_line(s: &Span, depth: usize, with_id: bool) -> String {
    let mut line = format!(
        "{}{} [{}] {}",
        indent(depth),
        s.name,
        s.service,
        duration(s.duration())
    );
    if s.is_error() {
        line.push_str(" ERROR");
        if !s.status_message.is_empty() {
            line.push_str(": ");
            line.push_str(&clip(&s.status_message, 120));
        }
    }
    if with_id {
        line.push_str(" #");
        line.push_str(&s.span_id);
    }
    line
}

enum Node {
    Span(usize, usize),
    Group(Vec<usize>, usize),
}

/// The span tree as indented lines, children by start time. With `fold`,
/// runs of ≥ FOLD_MIN same-named siblings of one service become one line
/// (count, min–max, total, errors) under which only their ERROR spans
/// (with their subtrees) stay. Returns the lines and how many spans were
/// folded away.
pub fn tree_lines(spans: &[Span], fold: bool, with_ids: bool) -> (Vec<String>, usize) {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match index.get(s.parent.as_str()) {
            Some(&p) if !s.parent.is_empty() && p != i => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].start, i));
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    let entries = |kids: &[usize], depth: usize| -> Vec<Node> {
        if !fold {
            return kids.iter().map(|&i| Node::Span(i, depth)).collect();
        }
        let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for &i in kids {
            groups
                .entry((spans[i].name.as_str(), spans[i].service.as_str()))
                .or_default()
                .push(i);
        }
        let mut out = Vec::new();
        let mut done: std::collections::HashSet<(&str, &str)> = Default::default();
        for &i in kids {
            let key = (spans[i].name.as_str(), spans[i].service.as_str());
            let g = &groups[&key];
            if g.len() >= FOLD_MIN {
                if done.insert(key) {
                    out.push(Node::Group(g.clone(), depth));
                }
            } else {
                out.push(Node::Span(i, depth));
            }
        }
        out
    };
    let mut lines = Vec::new();
    let mut folded = 0usize;
    let mut stack: Vec<Node> = entries(&roots, 0).into_iter().rev().collect();
    // Spans in a cycle of parent IDs are shown once.
    let mut seen = vec![false; spans.len()];
    while let Some(n) = stack.pop() {
        match n {
            Node::Span(i, depth) => {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                lines.push(span_line(&spans[i], depth, with_ids));
                if let Some(kids) = children.get(&i) {
                    stack.extend(entries(kids, depth + 1).into_iter().rev());
                }
            }
            Node::Group(members, depth) => {
                let s = &spans[members[0]];
                let durs: Vec<u64> = members.iter().map(|&i| spans[i].duration()).collect();
                let errors: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| spans[i].is_error())
                    .collect();
                let mut line = format!(
                    "{}{} [{}] ×{} {}…{} (total {})",
                    indent(depth),
                    s.name,
                    s.service,
                    members.len(),
                    duration(durs.iter().copied().min().unwrap_or(0)),
                    duration(durs.iter().copied().max().unwrap_or(0)),
                    duration(durs.iter().sum())
                );
                if !errors.is_empty() {
                    line.push_str(&format!(", {} ERROR (below)", errors.len()));
                }
                line.push_str(" folded");
                lines.push(line);
                let mut hidden = 0;
                for &i in &members {
                    if !spans[i].is_error() {
                        hidden += 1 + descendants(i, &children);
                    }
                }
                folded += hidden;
                stack.extend(errors.into_iter().rev().map(|i| Node::Span(i, depth + 1)));
            }
        }
    }
    // Spans unreachable from a root (parent cycles) are listed at the end.
    for (i, s) in spans.iter().enumerate() {
        if !seen[i] && !fold {
            lines.push(span_line(s, 0, with_ids));
        }
    }
    (lines, folded)
}

fn descendants(i: usize, children: &HashMap<usize, Vec<usize>>) -> usize {
    let mut n = 0;
    let mut stack = vec![i];
    while let Some(x) = stack.pop() {
        if let Some(k) = children.get(&x) {
            n += k.len();
            stack.extend(k.iter().copied());
        }
    }
    n
}

fn not_found_trace(ctx: &Ctx<'_>, id: &str, list: &'static str) -> Page {
    let mut p = Page::new(list);
    p.set("traceId", id);
    p.set("found", false);
    p.set(
        "note",
        format!("Loupe has no trace {id}: it was never received, or retention (max age / database size) has already deleted it. search_traces lists what is there."),
    );
    p.set("link", ctx.trace_link(id));
    p
}

fn exceptions(s: &Span) -> Vec<Value> {
    s.raw["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["name"] == "exception")
        .map(|e| {
            let at = otlp::kvs(&e["attributes"]);
            let stack: String = at
                .get("exception.stacktrace")
                .and_then(Value::as_str)
                .map(|st| st.lines().take(8).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            json!({
                "type": at.get("exception.type").cloned().unwrap_or(Value::Null),
                "message": at.get("exception.message").cloned().unwrap_or(Value::Null),
                "stacktrace": stack,
                "time": time(ns(&e["timeUnixNano"])),
            })
        })
        .collect()
}

fn log_json(l: &otlp::Log) -> Value {
    let mut v = l.to_json();
    if let Some(o) = v.as_object_mut() {
        o.remove("traceId");
    }
    v
}

async fn get_trace(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let offset = a.cursor()?;
    let fold = a.bool("fold")?.unwrap_or(true);
    let slowest_n = a.uint("slowest", 0, 100)?.unwrap_or(10) as usize;
    let ans = ctx.get(format!("/api/v1/traces/{id}")).await?;
    if ans.status == 404 {
        return Ok(not_found_trace(ctx, &id, "tree"));
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let spans = otlp::spans(&ans.body);
    drop(ans);
    let (lines, folded) = tree_lines(&spans, fold, true);
    let mut p = Page::new("tree");
    p.set("traceId", id.as_str());
    p.set("link", ctx.trace_link(&id));
    let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let root = spans
        .iter()
        .filter(|s| s.parent.is_empty())
        .min_by_key(|s| s.start)
        .or_else(|| spans.iter().min_by_key(|s| s.start));
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let error_spans: Vec<&Span> = spans.iter().filter(|s| s.is_error()).collect();
    let mut summary = json!({
        "root": root.map(|r| format!("{}: {}", r.service, r.name)),
        "start": time(start),
        "duration": duration(end.saturating_sub(start)),
        "spans": spans.len(),
        "errorSpans": error_spans.len(),
        "services": services,
    });
    let keys = run_keys(&spans);
    if !keys.is_empty() {
        summary["run"] = Value::Object(keys);
    }
    p.set("summary", summary);
    p.set(
        "treeNote",
        format!(
            "{} lines{}; each ends with #spanId (get_span gives one whole). criticalPath lists the spans that decided when the root span ended (get_critical_path gives the whole path); get_statistics, compare_with_previous_run and compare_traces analyse it further.",
            lines.len(),
            if fold && folded > 0 {
                format!(", {folded} spans folded into ×N lines (fold=false lists every span)")
            } else {
                String::new()
            }
        ),
    );
    if offset == 0 {
        let logs_ans = ctx
            .get(format!("/api/v1/logs?traceId={id}&limit=1000"))
            .await?;
        let logs = if logs_ans.ok() {
            otlp::logs(&logs_ans.body)
        } else {
            Vec::new()
        };
        let mut by_span: HashMap<&str, Vec<&otlp::Log>> = HashMap::new();
        for l in &logs {
            by_span.entry(l.span_id.as_str()).or_default().push(l);
        }
        let mut errors = Vec::new();
        let mut sorted = error_spans.clone();
        sorted.sort_by_key(|s| s.start);
        for s in sorted.iter().take(10) {
            let mut span_logs: Vec<&&otlp::Log> = by_span
                .get(s.span_id.as_str())
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            span_logs.sort_by_key(|l| std::cmp::Reverse(l.severity_number));
            errors.push(json!({
                "spanId": s.span_id,
                "name": s.name,
                "service": s.service,
                "duration": duration(s.duration()),
                "status": s.status_message,
                "attributes": s.attributes(),
                "exceptions": exceptions(s),
                "logs": span_logs.iter().take(5).map(|l| log_json(l)).collect::<Vec<_>>(),
                "link": ctx.span_link(&id, &s.span_id),
            }));
        }
        if error_spans.len() > 10 {
            p.set(
                "moreErrors",
                format!(
                    "{} more ERROR spans: fold=false lists them in the tree",
                    error_spans.len() - 10
                ),
            );
        }
        p.set("errors", errors);
        let error_logs: Vec<Value> = logs
            .iter()
            .filter(|l| l.severity_number >= 17)
            .take(10)
            .map(log_json)
            .collect();
        p.set(
            "logs",
            json!({"count": logs.len(), "errorLogs": error_logs, "link": format!("{}/trace/{id}?tab=logs", ctx.ui)}),
        );
        let mut slow: Vec<&Span> = spans.iter().collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.duration()));
        p.set(
            "slowest",
            slow.iter()
                .take(slowest_n)
                .map(|s| json!({"spanId": s.span_id, "name": s.name, "service": s.service, "duration": duration(s.duration()), "error": s.is_error()}))
                .collect::<Vec<_>>(),
        );
        if let Ok(rel) = ctx.get_ok(format!("/api/v1/traces/{id}/related")).await {
            let related = rel["related"].as_array().cloned().unwrap_or_default();
            let count = |d: &str| related.iter().filter(|r| r["direction"] == d).count();
            if !related.is_empty() {
                p.set(
                    "related",
                    json!({
                        "incoming": count("incoming"),
                        "outgoing": count("outgoing"),
                        "note": "get_related_traces lists them",
                        "stitchedLink": format!("{}/trace/{id}?stitched=1", ctx.ui),
                    }),
                );
            }
        }
        // The top of the critical path: what to speed up, in a few lines.
        if let Ok(Some(cp)) = analysis::critical_path(ctx, &id, false).await {
            let spans = analysis::path_spans(ctx, &cp["criticalPath"]);
            let n = spans.len();
            let path = ns(&cp["criticalPath"]["duration"]);
            let root = ns(&cp["criticalPath"]["rootDuration"]);
            let mut note = "largest self time on the critical path first; get_critical_path gives the whole path".to_string();
            // A root that ends long before the trace (an API call that
            // starts a Kestra execution): the path covers the work it started.
            if root > 0 && root.saturating_mul(10) < path.saturating_mul(9) {
                note.push_str(&format!(
                    ". The root span ended after {} but the work it started ran {}: the path covers all of it, up to the last span to end",
                    duration(root),
                    duration(path)
                ));
            }
            p.set(
                "criticalPath",
                json!({
                    "duration": duration(path),
                    "top": spans.into_iter().take(5).collect::<Vec<_>>(),
                    "spansOnPath": n,
                    "note": note,
                }),
            );
        }
        p.optional = vec!["related", "slowest", "criticalPath", "logs", "errors"];
    }
    p.offset = offset;
    p.items = lines.into_iter().skip(offset).map(Value::from).collect();
    Ok(p)
}

async fn get_span(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let span_id = a.hex("span_id", 16)?.unwrap_or_default();
    let ans = ctx.get(format!("/api/v1/traces/{id}")).await?;
    if ans.status == 404 {
        return Ok(not_found_trace(ctx, &id, "logs"));
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let spans = otlp::spans(&ans.body);
    let mut p = Page::new("logs");
    let Some(s) = spans.iter().find(|s| s.span_id == span_id) else {
        p.set("traceId", id.as_str());
        p.set("found", false);
        p.set(
            "note",
            format!("trace {id} has no span {span_id} (get_trace lists its spans)"),
        );
        p.set("link", ctx.trace_link(&id));
        return Ok(p);
    };
    let children = spans.iter().filter(|c| c.parent == s.span_id).count();
    let events: Vec<Value> = s.raw["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| json!({"name": e["name"], "time": time(ns(&e["timeUnixNano"])), "attributes": otlp::kvs(&e["attributes"])}))
        .collect();
    let links: Vec<Value> = s.raw["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let t = l["traceId"].as_str().unwrap_or("");
            json!({"traceId": t, "spanId": l["spanId"], "attributes": otlp::kvs(&l["attributes"]), "link": ctx.trace_link(t)})
        })
        .collect();
    p.set(
        "span",
        json!({
            "traceId": id,
            "spanId": s.span_id,
            "parentSpanId": s.parent,
            "name": s.name,
            "kind": s.raw["kind"],
            "service": s.service,
            "scope": s.scope,
            "start": time(s.start),
            "startTimeUnixNano": s.start.to_string(),
            "duration": duration(s.duration()),
            "status": {"code": match s.status_code { 1 => "OK", 2 => "ERROR", _ => "UNSET" }, "message": s.status_message},
            "attributes": s.attributes(),
            "resource": s.resource,
            "events": events,
            "links": links,
            "children": children,
        }),
    );
    p.set("link", ctx.span_link(&id, &span_id));
    let logs = ctx
        .get_ok(format!(
            "/api/v1/logs?traceId={id}&spanId={span_id}&limit=200"
        ))
        .await
        .map(|b| otlp::logs(&b))
        .unwrap_or_default();
    p.offset = a.cursor()?;
    p.items = logs.iter().skip(p.offset).map(log_json).collect();
    Ok(p)
}

async fn get_related(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let body = ctx.get_ok(format!("/api/v1/traces/{id}/related")).await?;
    let related = body["related"].as_array().cloned().unwrap_or_default();
    let mut p = Page::new("related");
    p.set("traceId", id.as_str());
    p.set("link", ctx.trace_link(&id));
    if related.is_empty() {
        let exists = ctx.get(format!("/api/v1/traces/{id}")).await?.status != 404;
        p.set(
            "note",
            if exists {
                "no span links join this trace to another".to_string()
            } else {
                format!("Loupe has no trace {id}: never received, or retention has deleted it")
            },
        );
    } else {
        p.set("stitchedLink", format!("{}/trace/{id}?stitched=1", ctx.ui));
        p.set(
            "meaning",
            "incoming: the other trace's spans link to this one (e.g. Kestra ForEachItem children of this run); outgoing: this trace's spans link to it (e.g. the parent run)",
        );
    }
    let items: Vec<Value> = related
        .iter()
        .map(|r| {
            let t = r["traceId"].as_str().unwrap_or("");
            let mut o = Map::new();
            o.insert("traceId".into(), t.into());
            o.insert("direction".into(), r["direction"].clone());
            o.insert(
                "links".into(),
                r["links"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(10)
                    .map(|l| {
                        json!(format!(
                            "{} → {}",
                            l["fromSpanId"].as_str().unwrap_or(""),
                            l["toSpanId"].as_str().unwrap_or("")
                        ))
                    })
                    .collect::<Vec<_>>()
                    .into(),
            );
            if r["summary"].is_null() {
                o.insert(
                    "summary".into(),
                    "not received (or deleted by retention)".into(),
                );
            } else {
                let mut s = trace_item(ctx, &r["summary"]);
                s.remove("traceId");
                s.remove("link");
                o.insert("summary".into(), Value::Object(s));
            }
            o.insert("link".into(), ctx.trace_link(t).into());
            Value::Object(o)
        })
        .collect();
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}

async fn search_logs(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let offset = a.cursor()?;
    let limit = a.uint("limit", 1, 1000)?.unwrap_or(50) as usize;
    let mut q = Vec::new();
    pair(&mut q, "q", a.str("q")?);
    pair(&mut q, "minSeverity", a.str("severity")?);
    pair(&mut q, "service", a.str("service")?);
    pair(&mut q, "traceId", a.hex("trace_id", 32)?);
    pair(&mut q, "spanId", a.hex("span_id", 16)?);
    for c in a.strs("attr")? {
        q.push(("attr".into(), c));
    }
    a.time_pairs(&mut q)?;
    let mut ui_q: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k == "q" || k == "service" || k == "attr")
        .cloned()
        .collect();
    if let Some(s) = a.str("severity")? {
        ui_q.push(("severity".into(), s));
    }
    q.push(("limit".into(), (offset + limit).min(10_000).to_string()));
    let body = ctx.get_ok(format!("/api/v1/logs?{}", query(&q))).await?;
    let logs = otlp::logs(&body);
    let items: Vec<Value> = logs
        .iter()
        .skip(offset)
        .take(limit)
        .map(|l| {
            let mut v = l.to_json();
            if !l.trace_id.is_empty() {
                let link = if l.span_id.is_empty() {
                    format!("{}?tab=logs", ctx.trace_link(&l.trace_id))
                } else {
                    format!("{}&tab=logs", ctx.span_link(&l.trace_id, &l.span_id))
                };
                v["link"] = link.into();
            }
            v
        })
        .collect();
    let mut p = Page::new("logs");
    p.set(
        "link",
        if ui_q.is_empty() {
            format!("{}/logs", ctx.ui)
        } else {
            format!("{}/logs?{}", ctx.ui, query(&ui_q))
        },
    );
    if items.is_empty() && offset == 0 {
        p.set("note", "no log record matches; widen the time range or drop a filter (records older than the retention age are deleted)");
    }
    p.offset = offset;
    p.items = items;
    Ok(p)
}

async fn list_metrics(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let mut q = Vec::new();
    pair(&mut q, "name", a.str("name")?);
    pair(&mut q, "service", a.str("service")?);
    let body = ctx.get_ok(format!("/api/v1/metrics?{}", query(&q))).await?;
    let items: Vec<Value> = body["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = m["name"].as_str().unwrap_or("");
            let last = ns(&m["lastPointUnixNano"]);
            json!({
                "name": name, "type": m["type"], "unit": m["unit"], "description": m["description"],
                "series": m["series"],
                "lastPoint": if last == 0 { Value::Null } else { time(last).into() },
                "link": format!("{}/explore/metrics?metric={}", ctx.ui, enc(name)),
            })
        })
        .collect();
    let mut p = Page::new("metrics");
    p.set("count", items.len());
    if items.is_empty() {
        p.set("note", "no metric matches");
    }
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}

/// Summary statistics and `n` averaged points of one chart line.
pub fn series_summary(points: &[Value], n: usize) -> (Value, Vec<Value>) {
    let vals: Vec<(u64, f64)> = points
        .iter()
        .filter_map(|p| Some((ns(&p[0]), p[1].as_f64()?)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if vals.is_empty() {
        return (json!({"points": 0}), Vec::new());
    }
    let min = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let max = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    let avg = vals.iter().map(|v| v.1).sum::<f64>() / vals.len() as f64;
    let stats = json!({
        "points": vals.len(), "min": round(min), "avg": round(avg), "max": round(max),
        "first": round(vals[0].1), "last": round(vals[vals.len() - 1].1),
        "lastAt": time(vals[vals.len() - 1].0),
    });
    let n = n.max(1);
    let per = vals.len().div_ceil(n);
    let series = vals
        .chunks(per.max(1))
        .map(|c| {
            let avg = c.iter().map(|v| v.1).sum::<f64>() / c.len() as f64;
            json!([time(c[0].0), round(avg)])
        })
        .collect();
    (stats, series)
}

fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 4 - v.abs().log10().floor() as i32;
    let f = 10f64.powi(digits.clamp(0, 12));
    (v * f).round() / f
}

async fn metric_series(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let name = a.str("name")?.unwrap_or_default();
    let n = a.uint("points", 2, 200)?.unwrap_or(24) as usize;
    let mut q = Vec::new();
    a.time_pairs(&mut q)?;
    if !q.iter().any(|(k, _)| k == "start") && !q.iter().any(|(k, _)| k == "end") {
        q.push(("start".into(), "now-1h".into()));
    }
    if let Some(s) = a.str("split")? {
        q.push(("split".into(), s));
    } else if a.m.get("split").is_some() {
        q.push(("split".into(), String::new()));
    }
    pair(&mut q, "agg", a.str("agg")?);
    pair(&mut q, "quantiles", a.str("quantiles")?);
    for c in a.strs("attr")? {
        q.push(("attr".into(), c));
    }
    q.push(("width".into(), "200".into()));
    let body = ctx
        .get_ok(format!(
            "/api/v1/metrics/{}/chart?{}",
            enc(&name),
            query(&q)
        ))
        .await?;
    let mut items = Vec::new();
    for s in body["series"].as_array().into_iter().flatten() {
        let (stats, series) =
            series_summary(s["points"].as_array().map(Vec::as_slice).unwrap_or(&[]), n);
        items.push(json!({"label": s["label"], "stats": stats, "series": series}));
    }
    let mut p = Page::new("lines");
    p.set("name", name.as_str());
    p.set("meaning", body["meaning"].clone());
    p.set("from", time(ns(&body["xStart"])));
    p.set("to", time(ns(&body["xEnd"])));
    let exemplars: Vec<Value> = body["exemplars"]
        .as_array()
        .into_iter()
        .flatten()
        .take(5)
        .map(|e| {
            let t = e["traceId"].as_str().unwrap_or("");
            json!({"time": time(ns(&e["timeUnixNano"])), "value": e["value"], "traceId": t, "link": ctx.trace_link(t)})
        })
        .collect();
    if !exemplars.is_empty() {
        p.set("exemplars", exemplars);
    }
    if items.is_empty() {
        p.set("note", format!("no points of {name:?} in this range: an unknown name (list_metrics), a range without data, or points retention has deleted"));
    }
    p.set(
        "link",
        format!("{}/explore/metrics?metric={}", ctx.ui, enc(&name)),
    );
    p.optional = vec!["exemplars"];
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}

fn alerting_off(ctx: &Ctx<'_>, list: &'static str) -> Page {
    let mut p = Page::new(list);
    p.set("note", "alerting is not running in this Loupe");
    p.set("link", format!("{}/rules", ctx.ui));
    p
}

async fn list_alerts(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let ans = ctx.get("/api/v1/alerts".into()).await?;
    if ans.status == 404 {
        return Ok(alerting_off(ctx, "groups"));
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let mut groups: Vec<Value> = ans.body["groups"].as_array().cloned().unwrap_or_default();
    groups.sort_by_key(|g| (g["state"] != "firing", g["state"] != "pending"));
    let items: Vec<Value> = groups
        .into_iter()
        .filter(|g| g["state"] == "firing" || g["state"] == "pending")
        .map(|g| alert_item(ctx, &g))
        .collect();
    let mut p = Page::new("groups");
    p.set("firing", ans.body["firing"].clone());
    p.set("pending", ans.body["pending"].clone());
    if items.is_empty() {
        p.set("note", "no alert is firing or pending");
    }
    p.set("link", format!("{}/rules", ctx.ui));
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}

fn alert_item(ctx: &Ctx<'_>, g: &Value) -> Value {
    let mut o = Map::new();
    for k in ["rule", "ruleId", "group", "state", "labels", "value"] {
        if !g[k].is_null() {
            o.insert(k.into(), g[k].clone());
        }
    }
    if let Some(since) = g.get("sinceNs") {
        o.insert("since".into(), time(ns(since)).into());
    }
    if let Some(e) = g.get("evidence").filter(|e| !e.is_null()) {
        let mut e = e.clone();
        if let Some(t) = e["traceId"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
        {
            e["link"] = match e["spanId"].as_str().filter(|s| !s.is_empty()) {
                Some(s) => ctx.span_link(&t, s),
                None => ctx.trace_link(&t),
            }
            .into();
        }
        o.insert("evidence".into(), e);
    }
    Value::Object(o)
}

async fn alert_history(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let mut q = Vec::new();
    pair(
        &mut q,
        "rule",
        a.uint("rule", 0, i64::MAX as u64)?.map(|r| r.to_string()),
    );
    q.push((
        "limit".into(),
        a.uint("limit", 1, 5000)?.unwrap_or(50).to_string(),
    ));
    let ans = ctx
        .get(format!("/api/v1/alerts/history?{}", query(&q)))
        .await?;
    if ans.status == 404 {
        return Ok(alerting_off(ctx, "history"));
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let items: Vec<Value> = ans.body["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let mut h = h.clone();
            if let Some(o) = h.as_object_mut() {
                let times: Vec<(String, u64)> = o
                    .iter()
                    .filter(|(k, _)| k.ends_with("Ns"))
                    .map(|(k, v)| (k.trim_end_matches("Ns").to_string(), ns(v)))
                    .collect();
                for (k, t) in times {
                    o.insert(if k == "at" { "time".into() } else { k }, time(t).into());
                }
            }
            h
        })
        .collect();
    let mut p = Page::new("history");
    if items.is_empty() {
        p.set("note", "no alert transitions yet");
    }
    p.set("link", format!("{}/rules", ctx.ui));
    p.offset = a.cursor()?;
    p.items = from_offset(items, p.offset);
    Ok(p)
}
