//! `search_logs`: log records with links to the span that wrote them, and
//! a link to the same search in the UI.

use serde_json::{json, Value};

use super::args::{pair, Args};
use super::schema::{schema, with_time};
use super::{Ctx, ToolDef, ToolError};
use crate::answer::Page;
use crate::fmt::query;
use crate::otlp;

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
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
    ]
}

pub(super) async fn search_logs(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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
