//! The trace analysis tools: critical path, statistics, comparisons.
//!
//! Why here and thin: the analysis is `loupe-analysis`'s, answered by the
//! API routes the UI uses (docs/api.md, "Trace analysis"); these tools only
//! ask those routes through the same [`Backend`](crate::Backend) and shape
//! a budgeted answer: the path's spans with their self time, the top
//! regressions, deep links to `/trace/…` and `/compare?a=…&b=…`.

use serde_json::{json, Map, Value};

use super::args::Args;
use super::schema::schema;
use super::{not_found_trace, Ctx, ToolDef, ToolError};
use crate::answer::Page;
use crate::fmt::{duration, enc, ns, query, time};

const TRACE_ID: &str = "^[0-9a-fA-F]{32}$";
/// Segments listed in time order in a critical path answer (the spans
/// list, largest self time first, is the paged list).
const MAX_SEGMENTS: usize = 40;
/// Added or removed subtrees listed in a comparison (the regressions and
/// status changes always come first).
const MAX_MOVES: usize = 30;

fn linked_prop() -> Value {
    json!({"type": "boolean", "description": "true: the stitched view, the trace plus the traces joined to it by span links (Kestra ForEachItem/subflow runs), at most 20 traces. Default false."})
}

pub(super) fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef {
            name: "get_critical_path",
            title: "Get a trace's critical path",
            description: "The chain of spans that determined when the trace's work ended (Jaeger's critical path, over the trace's extent: from the root's start to the end of the last span, so work the root started and did not wait for, such as the tasks of a Kestra execution an API call started, is on it): per span on the path, its service, name and self time on the path (time not spent waiting for a child), largest first, with its share of the path; and the path's segments in time order. Speeding up anything off this path does not make the trace end sooner. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\", \"linked\": true}",
            schema: schema(
                json!({
                    "trace_id": {"type": "string", "pattern": TRACE_ID, "description": "32 hex digits."},
                    "linked": linked_prop()
                }),
                &["trace_id"],
            ),
        },
        ToolDef {
            name: "get_statistics",
            title: "Get a trace's statistics",
            description: "Where a trace's time goes, per operation (service and span name) or per service, largest total first: count, total, self time (not in children; parallel children count once), min, avg, max, and ERROR spans. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\", \"group_by\": \"service\"}",
            schema: schema(
                json!({
                    "trace_id": {"type": "string", "pattern": TRACE_ID, "description": "32 hex digits."},
                    "linked": linked_prop(),
                    "group_by": {"type": "string", "enum": ["operation", "service"], "description": "operation (default): one row per service and span name; service: one row per service."}
                }),
                &["trace_id"],
            ),
        },
        ToolDef {
            name: "compare_traces",
            title: "Compare two traces",
            description: "What changed from trace a (the baseline) to trace b (now): matched, added, removed and changed spans, status changes (new errors, fixed), the duration change, and the top regressions by growth of self time, so the span doing the extra work is named rather than each ancestor. Spans match by their (service, span name) path from the root. Example: {\"a\": \"5b8efff798038103d269b633813fc60c\", \"b\": \"7f3a9c2e41d84b6f9a0e2c5d8b1f4a37\"}",
            schema: schema(
                json!({
                    "a": {"type": "string", "pattern": TRACE_ID, "description": "The baseline trace (before)."},
                    "b": {"type": "string", "pattern": TRACE_ID, "description": "The trace to explain (now)."},
                    "linked": linked_prop()
                }),
                &["a", "b"],
            ),
        },
        ToolDef {
            name: "compare_with_previous_run",
            title: "Compare with the previous run",
            description: "Finds the previous run of the same thing (the latest earlier trace with the same run key: kestra.namespace and kestra.flowId by default, else the root's service and span name) and answers what changed since, as compare_traces does. Says so when there is no previous run. Example: {\"trace_id\": \"5b8efff798038103d269b633813fc60c\"}",
            schema: schema(
                json!({
                    "trace_id": {"type": "string", "pattern": TRACE_ID, "description": "The run to explain (now)."},
                    "linked": linked_prop(),
                    "run_keys": {"type": "array", "items": {"type": "string"}, "maxItems": 8, "description": "Attribute keys that identify a run (default [\"kestra.namespace\", \"kestra.flowId\"])."}
                }),
                &["trace_id"],
            ),
        },
    ]
}

/// `linked=true` for the API when asked.
fn linked_q(linked: bool) -> Vec<(String, String)> {
    if linked {
        vec![("linked".into(), "true".into())]
    } else {
        Vec::new()
    }
}

fn trace_view(ctx: &Ctx<'_>, id: &str, linked: bool) -> String {
    if linked {
        format!("{}?stitched=1", ctx.trace_link(id))
    } else {
        ctx.trace_link(id)
    }
}

/// The UI's comparison page (ui/src/query.ts, `compareUrl`).
fn compare_link(ctx: &Ctx<'_>, a: &str, b: &str, linked: bool) -> String {
    format!(
        "{}/compare?a={}&b={}{}",
        ctx.ui,
        enc(a),
        enc(b),
        if linked { "&linked=1" } else { "" }
    )
}

fn pct(part: u64, whole: u64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(format!("{:.1}%", part as f64 * 100.0 / whole as f64))
    }
}

/// A signed nanosecond delta (a decimal string) as `+1.2s` / `-300ms`.
fn signed(v: &Value) -> String {
    let n: i128 = match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0) as i128,
        _ => 0,
    };
    let d = duration(n.unsigned_abs().min(u64::MAX as u128) as u64);
    if n < 0 {
        format!("-{d}")
    } else {
        format!("+{d}")
    }
}

/// The critical path of a trace, or `None` when there is no such trace.
pub(super) async fn critical_path(
    ctx: &Ctx<'_>,
    id: &str,
    linked: bool,
) -> Result<Option<Value>, ToolError> {
    ctx.get_found(format!(
        "/api/v1/traces/{id}/critical-path?{}",
        query(&linked_q(linked))
    ))
    .await
}

/// The path's spans, largest self time first, as compact items.
pub(super) fn path_spans(ctx: &Ctx<'_>, cp: &Value) -> Vec<Value> {
    let total = ns(&cp["duration"]);
    cp["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let t = s["traceId"].as_str().unwrap_or("");
            let sp = s["spanId"].as_str().unwrap_or("");
            let own = ns(&s["selfTime"]);
            json!({
                "service": s["service"], "name": s["name"],
                "selfTime": duration(own), "share": pct(own, total),
                "spanId": sp, "traceId": t,
                "link": ctx.span_link(t, sp),
            })
        })
        .collect()
}

pub(super) async fn get_critical_path(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let linked = a.bool("linked")?.unwrap_or(false);
    let Some(body) = critical_path(ctx, &id, linked).await? else {
        return Ok(not_found_trace(ctx, &id, "path"));
    };
    let cp = &body["criticalPath"];
    let total = ns(&cp["duration"]);
    let mut p = Page::new("path");
    p.set("traceId", id.as_str());
    p.set("linked", linked);
    p.set("traces", body["traces"].clone());
    p.set("duration", duration(total));
    p.set("rootSpanId", cp["rootSpanId"].clone());
    let segs: Vec<&Value> = cp["segments"].as_array().into_iter().flatten().collect();
    let first = segs.first().map_or(0, |s| ns(&s["start"]));
    let lines: Vec<Value> = segs
        .iter()
        .take(MAX_SEGMENTS)
        .map(|s| {
            let (st, en) = (ns(&s["start"]), ns(&s["end"]));
            json!(format!(
                "+{} {} [{}] {}",
                duration(st.saturating_sub(first)),
                s["name"].as_str().unwrap_or("?"),
                s["service"].as_str().unwrap_or("?"),
                duration(en.saturating_sub(st))
            ))
        })
        .collect();
    p.set(
        "meaning",
        format!(
            "path: the spans on the critical path, largest self time on the path first (share of the path's {}, the trace's extent: from the root's start to the end of the last span, work that outlived the root included); segments: the path in time order, +offset from its start, name [service] time on the path. Only speeding up these spans makes the trace end sooner.",
            duration(total)
        ),
    );
    if segs.len() > MAX_SEGMENTS {
        p.set(
            "segmentsNote",
            format!(
                "{} of {} segments shown; the UI shows all",
                MAX_SEGMENTS,
                segs.len()
            ),
        );
    }
    p.set("segments", lines);
    p.set("link", trace_view(ctx, &id, linked));
    p.optional = vec!["segments", "segmentsNote"];
    p.offset = a.cursor()?;
    p.items = path_spans(ctx, cp).into_iter().skip(p.offset).collect();
    Ok(p)
}

pub(super) async fn get_statistics(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let linked = a.bool("linked")?.unwrap_or(false);
    let by = a.str("group_by")?.unwrap_or_else(|| "operation".into());
    let list = match by.as_str() {
        "operation" => "operations",
        "service" => "services",
        other => {
            return Err(ToolError::Invalid(format!(
                "group_by must be operation or service, not {other:?}"
            )))
        }
    };
    let Some(body) = ctx
        .get_found(format!(
            "/api/v1/traces/{id}/statistics?{}",
            query(&linked_q(linked))
        ))
        .await?
    else {
        return Ok(not_found_trace(ctx, &id, list));
    };
    let st = &body["statistics"];
    let items: Vec<Value> = st[list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut o = Map::new();
            o.insert("service".into(), r["service"].clone());
            if list == "operations" {
                o.insert("name".into(), r["name"].clone());
            }
            o.insert("count".into(), r["count"].clone());
            for k in ["total", "selfTime", "min", "avg", "max"] {
                o.insert(k.into(), duration(ns(&r[k])).into());
            }
            o.insert("errors".into(), r["errors"].clone());
            Value::Object(o)
        })
        .collect();
    let mut p = Page::new(list);
    p.set("traceId", id.as_str());
    p.set("linked", linked);
    p.set("traces", body["traces"].clone());
    p.set("spanCount", st["spanCount"].clone());
    p.set("meaning", "largest total first; selfTime is time not spent in children (parallel children count once); errors counts ERROR spans");
    p.set("link", trace_view(ctx, &id, linked));
    p.offset = a.cursor()?;
    p.items = items.into_iter().skip(p.offset).collect();
    Ok(p)
}

/// The compact changes of a comparison: regressions (by self time growth),
/// then status changes, then added and removed subtrees (their top node,
/// with its size).
fn changes(ctx: &Ctx<'_>, c: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let nodes: Vec<&Value> = c["nodes"].as_array().into_iter().flatten().collect();
    let side_link = |n: &Value, side: &str| -> Value {
        let s = &n[side];
        match (s["traceId"].as_str(), s["spanId"].as_str()) {
            (Some(t), Some(sp)) => ctx.span_link(t, sp).into(),
            _ => Value::Null,
        }
    };
    for r in c["summary"]["regressions"].as_array().into_iter().flatten() {
        // `node` is a node's id (at most 10 regressions: a scan is cheap).
        let link = nodes
            .iter()
            .find(|n| n["id"] == r["node"])
            .map_or(Value::Null, |n| side_link(n, "b"));
        out.push(json!({
            "kind": "regression",
            "service": r["service"], "name": r["name"],
            "before": duration(ns(&r["a"])), "after": duration(ns(&r["b"])),
            "delta": signed(&r["delta"]), "selfDelta": signed(&r["selfDelta"]),
            "ratio": r["ratio"],
            "link": link,
        }));
    }
    for n in &nodes {
        if let Some(sc) = n["statusChange"].as_str() {
            out.push(json!({
                "kind": sc, "service": n["service"], "name": n["name"],
                "before": (!n["a"].is_null()).then(|| duration(ns(&n["a"]["duration"]))),
                "after": (!n["b"].is_null()).then(|| duration(ns(&n["b"]["duration"]))),
                "link": side_link(n, "b"),
            }));
        }
    }
    // Pre-order: a node's subtree is the run of deeper nodes after it.
    let mut moves = 0;
    let mut i = 0;
    while i < nodes.len() {
        let n = nodes[i];
        let presence = n["presence"].as_str().unwrap_or("both");
        if presence == "both" {
            i += 1;
            continue;
        }
        let depth = n["depth"].as_u64().unwrap_or(0);
        let mut j = i + 1;
        while j < nodes.len() && nodes[j]["depth"].as_u64().unwrap_or(0) > depth {
            j += 1;
        }
        if moves < MAX_MOVES {
            let (kind, side) = if presence == "onlyB" {
                ("added", "b")
            } else {
                ("removed", "a")
            };
            out.push(json!({
                "kind": kind, "service": n["service"], "name": n["name"],
                "duration": duration(ns(&n[side]["duration"])),
                "spans": j - i,
                "link": side_link(n, side),
            }));
        }
        moves += 1;
        i = j;
    }
    out
}

/// A comparison page from `/api/v1/compare`: b against a.
async fn comparison(
    ctx: &Ctx<'_>,
    a_id: &str,
    b_id: &str,
    linked: bool,
    offset: usize,
) -> Result<Page, ToolError> {
    let mut q = vec![
        ("a".to_string(), a_id.to_string()),
        ("b".to_string(), b_id.to_string()),
    ];
    q.extend(linked_q(linked));
    let ans = ctx.get(format!("/api/v1/compare?{}", query(&q))).await?;
    let mut p = Page::new("changes");
    p.set("a", a_id);
    p.set("b", b_id);
    p.set("linked", linked);
    if ans.status == 404 {
        p.set("found", false);
        p.set(
            "note",
            format!(
                "{}: never received, or retention (max age / database size) has deleted it. search_traces lists what is there.",
                ans.error_text()
            ),
        );
        return Ok(p);
    }
    if !ans.ok() {
        return Err(ToolError::Api(ans.error_text()));
    }
    let s = &ans.body["summary"];
    let count = |k: &str| s[k].as_u64().unwrap_or(0);
    let none = count("added") + count("removed") + count("changed") + count("statusChanges") == 0;
    p.set(
        "summary",
        json!({
            "durationA": duration(ns(&s["durationA"])),
            "durationB": duration(ns(&s["durationB"])),
            "delta": signed(&s["delta"]),
            "matched": s["matched"], "added": s["added"], "removed": s["removed"],
            "changed": s["changed"], "statusChanges": s["statusChanges"],
        }),
    );
    let verdict = if none {
        "no changes: every span matched, with the same status and no duration moved by 10% and 1 ms or more".to_string()
    } else {
        let top = s["regressions"].as_array().and_then(|r| r.first());
        let mut v = format!(
            "{} → {} ({}): {} changed, {} added, {} removed, {} status changes",
            duration(ns(&s["durationA"])),
            duration(ns(&s["durationB"])),
            signed(&s["delta"]),
            count("changed"),
            count("added"),
            count("removed"),
            count("statusChanges")
        );
        if let Some(r) = top {
            v.push_str(&format!(
                "; most self time grew in {} [{}] ({})",
                r["name"].as_str().unwrap_or("?"),
                r["service"].as_str().unwrap_or("?"),
                signed(&r["selfDelta"])
            ));
        }
        v
    };
    p.set("verdict", verdict);
    p.set("meaning", "a is the baseline, b is now; deltas are b minus a. changes: regressions (largest growth of self time first), then newError/fixed status changes, then added and removed subtrees (their top span and size).");
    p.set("link", compare_link(ctx, a_id, b_id, linked));
    p.offset = offset;
    p.items = changes(ctx, &ans.body).into_iter().skip(offset).collect();
    Ok(p)
}

pub(super) async fn compare_traces(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let x = a.hex("a", 32)?.unwrap_or_default();
    let y = a.hex("b", 32)?.unwrap_or_default();
    let linked = a.bool("linked")?.unwrap_or(false);
    comparison(ctx, &x, &y, linked, a.cursor()?).await
}

fn run_key_text(k: &Value) -> String {
    match k["kind"].as_str() {
        Some("attributes") => k["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}={}",
                    p[0].as_str().unwrap_or(""),
                    p[1].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some("root") => format!(
            "root span {} [{}]",
            k["name"].as_str().unwrap_or("?"),
            k["service"].as_str().unwrap_or("?")
        ),
        _ => "none".into(),
    }
}

pub(super) async fn compare_with_previous(ctx: &Ctx<'_>, a: &Args) -> Result<Page, ToolError> {
    let id = a.hex("trace_id", 32)?.unwrap_or_default();
    let linked = a.bool("linked")?.unwrap_or(false);
    let mut q = linked_q(linked);
    let keys = a.strs("run_keys")?;
    if !keys.is_empty() {
        q.push(("runKeys".into(), keys.join(",")));
    }
    let Some(body) = ctx
        .get_found(format!("/api/v1/traces/{id}/previous?{}", query(&q)))
        .await?
    else {
        return Ok(not_found_trace(ctx, &id, "changes"));
    };
    let key = &body["runKey"];
    let prev = &body["previous"];
    let Some(prev_id) = prev["traceId"].as_str() else {
        let mut p = Page::new("changes");
        p.set("traceId", id.as_str());
        p.set("previous", Value::Null);
        p.set("runKey", run_key_text(key));
        p.set(
            "note",
            if key.is_null() {
                "no previous run: this trace has no run key (no root span), so there is nothing to look for. compare_traces compares it with a trace you choose.".to_string()
            } else {
                format!(
                    "no previous run: no earlier trace has the same run key ({}) among the 50 latest such traces; older runs may have been deleted by retention. compare_traces compares it with a trace you choose.",
                    run_key_text(key)
                )
            },
        );
        p.set("link", trace_view(ctx, &id, linked));
        return Ok(p);
    };
    let mut p = comparison(ctx, prev_id, &id, linked, a.cursor()?).await?;
    p.set("traceId", id.as_str());
    p.set(
        "previous",
        json!({
            "traceId": prev_id,
            "start": time(ns(&prev["start"])),
            "reason": prev["reason"],
            "link": trace_view(ctx, prev_id, linked),
        }),
    );
    p.set("runKey", run_key_text(key));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::*;
    use crate::backend::{Answer, Backend, BackendError, BoxFut};

    /// Canned API answers by path prefix, as the analysis routes give them.
    struct Canned(Vec<(&'static str, u16, Value)>);

    impl Backend for Canned {
        fn get(&self, path: String) -> BoxFut<'_, Result<Answer, BackendError>> {
            let a = self
                .0
                .iter()
                .find(|(p, _, _)| path.starts_with(p))
                .map(|(_, status, body)| Answer {
                    status: *status,
                    body: body.clone(),
                })
                .unwrap_or(Answer {
                    status: 404,
                    body: json!({"error": format!("no {path}")}),
                });
            Box::pin(async move { Ok(a) })
        }
    }

    const A: &str = "5b8efff798038103d269b633813fc60c";
    const B: &str = "7f3a9c2e41d84b6f9a0e2c5d8b1f4a37";

    async fn ask(b: Canned, tool: &str, args: Value) -> Value {
        let ctx = Ctx {
            backend: &b,
            ui: "http://ui".into(),
        };
        let text = call(&ctx, tool, args.as_object().cloned().unwrap())
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[tokio::test]
    async fn critical_path_names_the_spans_with_self_time_and_masks_secrets() {
        let cp = json!({"traceId": A, "linked": false, "traces": 1, "criticalPath": {
            "rootSpanId": "b7ad6b7169203331", "duration": "1000000000",
            "segments": [{"traceId": A, "spanId": "b7ad6b7169203331", "service": "kestra", "name": "root", "start": "10", "end": "100000010"},
                         {"traceId": A, "spanId": "51a2c8e0d3f47b96", "service": "worker", "name": "export_report password=MARKER-s3cr3t", "start": "100000010", "end": "1000000000"}],
            "spans": [{"traceId": A, "spanId": "51a2c8e0d3f47b96", "service": "worker", "name": "export_report password=MARKER-s3cr3t", "selfTime": "900000000"}]}});
        let v = ask(
            Canned(vec![("/api/v1/traces/", 200, cp)]),
            "get_critical_path",
            json!({"trace_id": A}),
        )
        .await;
        let text = v.to_string();
        assert!(!text.contains("MARKER"), "{text}");
        assert_eq!(v["path"][0]["selfTime"], "900ms");
        assert_eq!(v["path"][0]["share"], "90.0%");
        assert_eq!(
            v["path"][0]["link"],
            format!("http://ui/trace/{A}?span=51a2c8e0d3f47b96")
        );
        assert_eq!(v["segments"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn no_previous_run_is_said_plainly() {
        let prev = json!({"traceId": A, "linked": false,
            "runKey": {"kind": "attributes", "values": [["kestra.namespace", "company.team"], ["kestra.flowId", "orders_pipeline"]]},
            "previous": null, "comparison": null});
        let v = ask(
            Canned(vec![("/api/v1/traces/", 200, prev)]),
            "compare_with_previous_run",
            json!({"trace_id": A}),
        )
        .await;
        let note = v["note"].as_str().unwrap();
        assert!(note.starts_with("no previous run"), "{note}");
        assert!(note.contains("kestra.flowId=orders_pipeline"), "{note}");
        assert_eq!(v["changes"], json!([]));
    }

    #[tokio::test]
    async fn a_comparison_links_the_compare_page_and_lists_regressions_first() {
        let side = |t: &str, d: &str| json!({"traceId": t, "spanId": "51a2c8e0d3f47b96", "start": "0", "duration": d, "selfTime": d, "error": false});
        let cmp = json!({"a": A, "b": B, "linked": false,
            "summary": {"matched": 1, "added": 1, "removed": 0, "changed": 1, "statusChanges": 0,
                "durationA": "1000000000", "durationB": "3000000000", "delta": "2000000000",
                "regressions": [{"node": 0, "service": "worker", "name": "load", "a": "1000000000", "b": "3000000000",
                                 "delta": "2000000000", "selfDelta": "1500000000", "ratio": 3.0}]},
            "nodes": [
                {"id": 0, "parent": null, "depth": 0, "service": "worker", "name": "load", "presence": "both",
                 "a": side(A, "1000000000"), "b": side(B, "3000000000"), "delta": "2000000000", "selfDelta": "1500000000", "statusChange": null},
                {"id": 1, "parent": 0, "depth": 1, "service": "worker", "name": "retry", "presence": "onlyB",
                 "a": null, "b": side(B, "500000000"), "delta": null, "selfDelta": null, "statusChange": null},
                {"id": 2, "parent": 1, "depth": 2, "service": "worker", "name": "sleep", "presence": "onlyB",
                 "a": null, "b": side(B, "400000000"), "delta": null, "selfDelta": null, "statusChange": null}]});
        let v = ask(
            Canned(vec![("/api/v1/compare", 200, cmp)]),
            "compare_traces",
            json!({"a": A, "b": B}),
        )
        .await;
        assert_eq!(v["link"], format!("http://ui/compare?a={A}&b={B}"));
        assert_eq!(v["changes"][0]["kind"], "regression");
        assert_eq!(v["changes"][0]["selfDelta"], "+1.5s");
        assert_eq!(
            v["changes"][0]["link"],
            format!("http://ui/trace/{B}?span=51a2c8e0d3f47b96")
        );
        assert_eq!(v["changes"][1]["kind"], "added");
        assert_eq!(v["changes"][1]["spans"], 2);
        assert_eq!(v["changes"].as_array().unwrap().len(), 2);
        assert!(v["verdict"].as_str().unwrap().contains("load [worker]"));
    }
}
