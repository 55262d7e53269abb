//! The alert tools: what fires now (with the evidence's link) and the
//! history of transitions; both say so when alerting is not running.

use serde_json::{json, Map, Value};

use super::args::{pair, Args};
use super::schema::schema;
use super::{from_offset, Ctx, ToolDef, ToolError};
use crate::answer::Page;
use crate::fmt::{ns, query, time};

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
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
    ]
}

fn alerting_off(ctx: &Ctx<'_>, list: &'static str) -> Page {
    let mut p = Page::new(list);
    p.set("note", "alerting is not running in this Loupe");
    p.set("link", format!("{}/rules", ctx.ui));
    p
}

pub(super) async fn list_alerts(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let Some(body) = ctx.get_found("/api/v1/alerts".into()).await? else {
        return Ok(alerting_off(ctx, "groups"));
    };
    let mut groups: Vec<Value> = body["groups"].as_array().cloned().unwrap_or_default();
    groups.sort_by_key(|g| (g["state"] != "firing", g["state"] != "pending"));
    let items: Vec<Value> = groups
        .into_iter()
        .filter(|g| g["state"] == "firing" || g["state"] == "pending")
        .map(|g| alert_item(ctx, &g))
        .collect();
    let mut p = Page::new("groups");
    p.set("firing", body["firing"].clone());
    p.set("pending", body["pending"].clone());
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

pub(super) async fn alert_history(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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
    let Some(body) = ctx
        .get_found(format!("/api/v1/alerts/history?{}", query(&q)))
        .await?
    else {
        return Ok(alerting_off(ctx, "history"));
    };
    let items: Vec<Value> = body["history"]
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
