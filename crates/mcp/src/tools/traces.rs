//! The trace tools: search, one trace summarised, one span whole, and the
//! traces joined to one by span links.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::args::{pair, Args};
use super::schema::{schema, with_time};
use super::tree::tree_lines;
use super::{analysis, from_offset, not_found_trace, Ctx, ToolDef, ToolError};
use crate::answer::Page;
use crate::fmt::{duration, ns, query, time};
use crate::otlp::{self, Span};

/// Attributes that identify a Kestra run, shown in trace summaries.
pub const RUN_KEYS: &[&str] = &["kestra.namespace", "kestra.flowId", "kestra.executionId"];

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
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
            description: "Traces joined to this one by span links, both ways: from a Kestra parent run, its ForEachItem/subflow child executions (incoming); from a child, its parent (outgoing). Then traces related only by a shared correlation key such as kestra.executionId (marked inferredBy). Each with its summary and link, plus the UI link of the stitched view. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\"}",
            schema: schema(
                json!({"trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}),
                &["trace_id"],
            ),
        },
    ]
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

pub(super) async fn search_traces(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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

pub(super) async fn get_trace(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let offset = a.cursor()?;
    let fold = a.bool("fold")?.unwrap_or(true);
    let slowest_n = a.uint("slowest", 0, 100)?.unwrap_or(10) as usize;
    let Some(body) = ctx.get_found(format!("/api/v1/traces/{id}")).await? else {
        return Ok(not_found_trace(ctx, &id, "tree"));
    };
    let spans = otlp::spans(&body);
    drop(body);
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
            .filter(|l| l.severity_number >= i64::from(loupe_model::severity::ERROR))
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

pub(super) async fn get_span(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let span_id = a.hex("span_id", 16)?.unwrap_or_default();
    let Some(body) = ctx.get_found(format!("/api/v1/traces/{id}")).await? else {
        return Ok(not_found_trace(ctx, &id, "logs"));
    };
    let spans = otlp::spans(&body);
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

pub(super) async fn get_related(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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
            "incoming: the other trace's spans link to this one (e.g. Kestra ForEachItem children of this run); outgoing: this trace's spans link to it (e.g. the parent run). An entry with inferredBy has no span link: the traces share the value of that correlation key (e.g. kestra.executionId), the later pointing at the earlier",
        );
    }
    let items: Vec<Value> = related
        .iter()
        .map(|r| {
            let t = r["traceId"].as_str().unwrap_or("");
            let mut o = Map::new();
            o.insert("traceId".into(), t.into());
            o.insert("direction".into(), r["direction"].clone());
            if let Some(rule) = r["inferred"]["rule"].as_str() {
                o.insert("inferredBy".into(), rule.into());
            }
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
