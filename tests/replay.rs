//! `loupe replay`: a bundle exported from one running Loupe (the demo's
//! Kestra-shaped run: an API call, an execution with a ForEachItem whose
//! child executions are linked traces, logs and metrics) is replayed by the
//! real binary into second and third running Loupes over real sockets —
//! OTLP/gRPC as it is, OTLP/HTTP with fresh IDs shifted to now at 10x — and
//! they hold the same traces: the same spans under the same parents at the
//! same offsets, and the same span links between the same traces.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Output};
use std::time::Instant;

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

/// One stored trace: its spans as (span ID, parent ID, name, start, end).
struct Trace {
    id: String,
    spans: Vec<(String, String, String, u64, u64)>,
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
        out.push(Trace { id, spans, related });
    }
    out
}

/// The shape of a trace without its IDs: each span as (name, parent's name,
/// start offset from the bundle's first start, duration), sorted.
type Shape = Vec<(String, String, u64, u64)>;

fn shapes(ts: &[Trace]) -> (HashMap<String, Shape>, u64) {
    let first = ts
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.3)
        .min()
        .expect("spans");
    let mut out = HashMap::new();
    for t in ts {
        let names: HashMap<&str, &str> = t
            .spans
            .iter()
            .map(|s| (s.0.as_str(), s.2.as_str()))
            .collect();
        let mut shape: Shape = t
            .spans
            .iter()
            .map(|s| {
                let parent = names.get(s.1.as_str()).copied().unwrap_or("");
                (s.2.clone(), parent.to_string(), s.3 - first, s.4 - s.3)
            })
            .collect();
        shape.sort();
        out.insert(t.id.clone(), shape);
    }
    (out, first)
}

/// Traces and their links as shapes: every trace's shape with the shapes
/// it links to, by direction. Equal for two stores iff they hold the same
/// traces joined the same way, whatever the IDs.
fn linked_shapes(ts: &[Trace]) -> BTreeMap<Shape, BTreeSet<(String, Shape)>> {
    let (shape, _) = shapes(ts);
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

#[tokio::test]
async fn a_replayed_bundle_yields_the_same_traces_and_links() {
    let source = Loupe::start();
    ok(&[
        "demo",
        "--grpc-endpoint",
        &format!("http://{}", source.grpc),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("capture.jsonl");
    let data = source.data_dir.to_str().unwrap().to_string();
    ok(&[
        "export",
        "--data-dir",
        &data,
        "--limit",
        "1000",
        "--logs",
        "--metrics",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    let before = traces(&source).await;
    assert!(before.len() >= 4, "the demo's traces: {}", before.len());
    let linked = before.iter().filter(|t| !t.related.is_empty()).count();
    assert!(linked >= 4, "the demo's traces are linked: {linked}");

    // 1. As it is, over gRPC, at once: the very same spans.
    let same = Loupe::start();
    let said = ok(&[
        "replay",
        bundle.to_str().unwrap(),
        "--to",
        &same.grpc.to_string(),
        "--speed",
        "max",
    ]);
    assert!(said.contains("replayed "), "{said}");
    let after = traces(&same).await;
    let by_id = |ts: &[Trace]| -> BTreeMap<String, Vec<(String, String, String, u64, u64)>> {
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

    // 2. Fresh IDs, shifted to now, over OTLP/HTTP at 10x: new IDs, the same
    // shapes at the same relative times, the links between the same traces.
    let fresh = Loupe::start();
    let (_, first_before) = shapes(&before);
    let last_end = before
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.4)
        .max()
        .unwrap();
    let started = loupe_model_now();
    let clock = Instant::now();
    let said = ok(&[
        "replay",
        bundle.to_str().unwrap(),
        "--to",
        &format!("http://{}", fresh.http),
        "--protocol",
        "http",
        "--speed",
        "10x",
        "--shift-to-now",
        "--fresh-ids",
    ]);
    let took = clock.elapsed();
    let after = traces(&fresh).await;
    let old: BTreeSet<&str> = before.iter().map(|t| t.id.as_str()).collect();
    assert!(
        after.iter().all(|t| !old.contains(t.id.as_str())),
        "fresh trace IDs"
    );
    let old_spans: BTreeSet<&str> = before
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.0.as_str())
        .collect();
    assert!(after
        .iter()
        .flat_map(|t| &t.spans)
        .all(|s| !old_spans.contains(s.0.as_str())));
    assert_eq!(linked_shapes(&after), linked_shapes(&before), "{said}");
    // Shifted: the first export (the earliest span end) is about when the
    // replay started; the shapes' offsets above are exact.
    let (_, first_after) = shapes(&after);
    let shift = first_after as i128 - first_before as i128;
    let first_end_after = after
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.4)
        .min()
        .unwrap();
    let off = first_end_after as i128 - started as i128;
    assert!(
        (-1_000_000_000..5_000_000_000).contains(&off),
        "the first export is shifted to the replay's start: {off} ns off (shift {shift})"
    );
    // Paced at 10x: the bundle's exports spread over its time / 10.
    let first_end_before = before
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.4)
        .min()
        .unwrap();
    let paced = (last_end - first_end_before) / 10;
    assert!(
        took.as_nanos() as u64 >= paced * 9 / 10,
        "10x took {took:?}, the bundle's exports span {} ns",
        last_end - first_end_before
    );
}

fn loupe_model_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
