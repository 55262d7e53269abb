//! The metric tools: the list of metrics, and one metric as the chart
//! shows it reduced to statistics and a few points (raw points would not
//! fit an agent's budget).

use serde_json::{json, Value};

use super::args::{pair, Args};
use super::schema::{schema, with_time};
use super::{from_offset, Ctx, ToolDef, ToolError};
use crate::answer::Page;
use crate::fmt::{enc, ns, query, time};

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
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
    ]
}

pub(super) async fn list_metrics(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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

pub(super) async fn metric_series(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
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
