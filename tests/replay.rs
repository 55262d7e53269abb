//! `loupe replay`: the demo's Kestra-shaped run (an API call, an execution
//! whose ForEachItem children are traces of their own linked back to it,
//! logs in the tasks' context) is exported from one running Loupe and
//! replayed by the real binary into two more over real sockets: the JSON
//! Lines bundle over OTLP/gRPC as it is, the HTML report over OTLP/HTTP
//! with fresh IDs, shifted to now, at 10x. Both hold the same traces: the
//! same spans under the same parents at the same relative times, the same
//! log records on the same spans, and the same span links between the same
//! traces. Cheap: the bundle spans about 7 s, so the paced replay takes
//! under a second.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::Loupe;
use serde_json::Value;

fn loupe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run loupe")
}

fn ok(args: &[&str]) -> String {
    let out = loupe(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "loupe {args:?}: {text}");
    text
}

fn n(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A stored span: (span ID, parent ID, name, start, end).
type Span = (String, String, String, u64, u64);

/// One stored trace as the API answers it.
struct Trace {
    id: String,
    spans: Vec<Span>,
    /// (span ID, body) of its log records.
    logs: Vec<(String, String)>,
    /// (direction, other trace ID) of its span links.
    related: BTreeSet<(String, String)>,
}

async fn traces(l: &Loupe) -> Vec<Trace> {
    let list = l.get_json("/api/v1/traces?limit=1000").await;
    let mut out = Vec::new();
    for t in list["traces"].as_array().expect("traces") {
        let id = t["traceId"].as_str().unwrap().to_string();
        let doc = l.get_json(&format!("/api/v1/traces/{id}")).await;
        let mut spans = Vec::new();
        for rs in doc["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    let str_of = |k: &str| s[k].as_str().unwrap_or("").to_string();
                    spans.push((
                        str_of("spanId"),
                        str_of("parentSpanId"),
                        str_of("name"),
                        n(&s["startTimeUnixNano"]),
                        n(&s["endTimeUnixNano"]),
                    ));
                }
            }
        }
        let doc = l
            .get_json(&format!("/api/v1/logs?traceId={id}&limit=1000"))
            .await;
        let mut logs = Vec::new();
        for rl in doc["resourceLogs"].as_array().unwrap() {
            for sl in rl["scopeLogs"].as_array().unwrap() {
                for r in sl["logRecords"].as_array().unwrap() {
                    let span = r["spanId"].as_str().unwrap_or("").to_string();
                    logs.push((span, r["body"].to_string()));
                }
            }
        }
        let rel = l.get_json(&format!("/api/v1/traces/{id}/related")).await;
        let related = rel["related"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["direction"].as_str().unwrap().to_string(),
                    r["traceId"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.push(Trace {
            id,
            spans,
            logs,
            related,
        });
    }
    out
}

/// A trace without its IDs: each span as (name, parent's name, start offset
/// from the store's earliest start, duration), each log record as (its
/// span's name, body); sorted.
type Shape = (Vec<(String, String, u64, u64)>, Vec<(String, String)>);

fn earliest(ts: &[Trace]) -> u64 {
    ts.iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.3)
        .min()
        .expect("spans")
}

fn shapes(ts: &[Trace]) -> HashMap<String, Shape> {
    let first = earliest(ts);
    let mut out = HashMap::new();
    for t in ts {
        let names: HashMap<&str, &str> = t
            .spans
            .iter()
            .map(|s| (s.0.as_str(), s.2.as_str()))
            .collect();
        let name = |id: &str| names.get(id).copied().unwrap_or("").to_string();
        let mut spans: Vec<_> = t
            .spans
            .iter()
            .map(|s| (s.2.clone(), name(&s.1), s.3 - first, s.4 - s.3))
            .collect();
        spans.sort();
        let mut logs: Vec<_> = t.logs.iter().map(|(s, b)| (name(s), b.clone())).collect();
        logs.sort();
        out.insert(t.id.clone(), (spans, logs));
    }
    out
}

/// Traces and their links as shapes: every trace's shape with the shapes
/// it links to, by direction. Equal for two stores iff they hold the same
/// traces joined the same way, whatever the IDs.
fn linked_shapes(ts: &[Trace]) -> BTreeMap<Shape, BTreeSet<(String, Shape)>> {
    let shape = shapes(ts);
    ts.iter()
        .map(|t| {
            let links = t
                .related
                .iter()
                .map(|(dir, other)| {
                    let s = shape.get(other).cloned().unwrap_or_else(|| {
                        panic!("trace {} links to {other}, which is not stored", t.id)
                    });
                    (dir.clone(), s)
                })
                .collect();
            (shape[&t.id].clone(), links)
        })
        .collect()
}

fn span_ids(ts: &[Trace]) -> BTreeSet<String> {
    ts.iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.0.clone())
        .collect()
}

#[tokio::test]
async fn a_replayed_bundle_yields_the_same_traces_and_links() {
    let source = Loupe::start();
    let demo = ok(&[
        "demo",
        "--grpc-endpoint",
        &format!("http://{}", source.grpc),
    ]);
    let main = demo
        .lines()
        .find_map(|l| l.trim().strip_prefix("main trace"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no main trace in {demo}"))
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let data = source.data_dir.to_str().unwrap().to_string();
    let export = |file: &str| {
        let path = tmp.path().join(file);
        let p = path.to_str().unwrap();
        ok(&[
            "export",
            "--data-dir",
            &data,
            "--trace",
            &main,
            "--linked",
            "--logs",
            "-o",
            p,
        ]);
        path.to_str().unwrap().to_string()
    };
    let (jsonl, html) = (export("capture.jsonl"), export("capture.html"));
    let before = traces(&source).await;
    assert_eq!(before.len(), 4, "the main trace and its 3 linked children");
    assert!(
        before.iter().all(|t| !t.related.is_empty()),
        "the demo's traces are linked"
    );
    assert!(
        before.iter().map(|t| t.logs.len()).sum::<usize>() > 3,
        "the demo's traces have logs"
    );

    // 1. JSON Lines as they are, over OTLP/gRPC, at once: the very same
    // spans and IDs.
    let same = Loupe::start();
    let said = ok(&[
        "replay",
        &jsonl,
        "--to",
        &same.grpc.to_string(),
        "--speed",
        "max",
    ]);
    assert!(said.contains("(OTLP JSON Lines)"), "{said}");
    assert!(said.contains("replay: 100%"), "progress on stderr: {said}");
    let after = traces(&same).await;
    let by_id = |ts: &[Trace]| -> BTreeMap<String, Vec<Span>> {
        ts.iter()
            .map(|t| {
                let mut s = t.spans.clone();
                s.sort();
                (t.id.clone(), s)
            })
            .collect()
    };
    assert_eq!(by_id(&after), by_id(&before));
    assert_eq!(linked_shapes(&after), linked_shapes(&before));

    // 2. The HTML report with fresh IDs, shifted to now, over OTLP/HTTP at
    // 10x: new IDs, the same shapes at the same relative times, the links
    // between the same traces, the logs on the same spans.
    let fresh = Loupe::start();
    let started = now_ns();
    let clock = Instant::now();
    let said = ok(&[
        "replay",
        &html,
        "--to",
        &format!("http://{}/v1/traces", fresh.http),
        "--protocol",
        "http",
        "--speed",
        "10x",
        "--shift-to-now",
        "--fresh-ids",
    ]);
    let took = clock.elapsed();
    assert!(said.contains("(Loupe HTML report)"), "{said}");
    let after = traces(&fresh).await;
    let old: BTreeSet<&str> = before.iter().map(|t| t.id.as_str()).collect();
    assert!(
        after.iter().all(|t| !old.contains(t.id.as_str())),
        "fresh trace IDs"
    );
    assert!(
        span_ids(&after).is_disjoint(&span_ids(&before)),
        "fresh span IDs"
    );
    assert_eq!(linked_shapes(&after), linked_shapes(&before), "{said}");
    // Shifted: the first export (the earliest span end) is when the replay
    // started; the offsets compared above are exact.
    let first_end = |ts: &[Trace]| ts.iter().flat_map(|t| &t.spans).map(|s| s.4).min().unwrap();
    let off = i128::from(first_end(&after)) - i128::from(started);
    assert!(
        (-1_000_000_000..5_000_000_000).contains(&off),
        "the first export is shifted to the replay's start: {off} ns off"
    );
    // Paced at 10x: the exports are spread over the bundle's time / 10.
    let last_end = before
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.4)
        .max()
        .unwrap();
    let paced = (last_end - first_end(&before)) / 10;
    assert!(paced > 300_000_000, "the bundle spans seconds: {paced} ns");
    assert!(
        took.as_nanos() as u64 >= paced,
        "10x took {took:?}, the bundle's exports span {paced} ns at 10x"
    );
}
