//! Measurement (ignored test): WAL pages one trace commit writes, by table.
//! `cargo test -p loupe-store --release --lib footprint -- --ignored --nocapture`

use std::collections::HashMap;

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::sink::Batch;

use super::interned::Interned;
use super::traces::Traces;
use crate::prepare::{prepare, Prepared};

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(x: impl Into<String>) -> Value {
    Value::StringValue(x.into())
}

/// The load generator's request: `spans` spans, 20 per trace, 10 attributes.
pub(crate) fn request(n: u64, spans: usize) -> ExportTraceServiceRequest {
    let mut out = Vec::new();
    for i in 0..spans {
        let trace = i / 20;
        let k = i % 20;
        let exec = format!("5{:021x}", (trace as u128 + 1) * 0x9E37_79B9_7F4A_7C15);
        let mut tid = [0u8; 16];
        tid[..8].copy_from_slice(&n.to_be_bytes());
        tid[8..16].copy_from_slice(&(trace as u64 + 1).to_be_bytes());
        out.push(Span {
            trace_id: tid.to_vec(),
            span_id: ((n << 20) | (i as u64 + 1)).to_be_bytes().to_vec(),
            parent_span_id: if k == 0 {
                vec![]
            } else {
                ((n << 20) | ((i - k) as u64 + 1)).to_be_bytes().to_vec()
            },
            name: format!("WORKER - io.kestra.plugin.core.task{}", k % 8),
            start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000_000 + k as u64,
            end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000_000 + k as u64 + 5000,
            attributes: vec![
                kv("kestra.namespace", s(format!("company.ns{}", trace % 5))),
                kv("kestra.flowId", s(format!("flow_{}", trace % 20))),
                kv("kestra.executionId", s(exec.clone())),
                kv("kestra.taskId", s(format!("task_{}", k % 20))),
                kv("kestra.taskRunId", s(format!("{}{:06}", &exec[..16], k))),
                kv(
                    "http.request.method",
                    s(if k % 3 == 0 { "POST" } else { "GET" }),
                ),
                kv(
                    "http.response.status_code",
                    Value::IntValue(if k % 17 == 5 { 500 } else { 200 }),
                ),
                kv("thread.name", s(format!("worker-{}", k % 8))),
                kv(
                    "code.function",
                    s(format!("io.kestra.core.runners.Worker.run{}", k % 4)),
                ),
                kv("kestra.attempt", Value::IntValue((k % 2) as i64 + 1)),
            ],
            ..Default::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("kestra")),
                    kv("host.name", s("worker-host-1")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: out,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn prepared(n: u64, spans: usize) -> crate::prepare::PreparedTraces {
    match prepare(Batch::Traces(request(n, spans)), &[]) {
        Prepared::Traces(t) => t,
        _ => unreachable!(),
    }
}

/// Page numbers of the frames in the WAL at `wal` (all of them: the WAL was
/// truncated before the one transaction measured).
fn wal_pages(wal: &std::path::Path) -> Vec<u32> {
    let b = std::fs::read(wal).unwrap_or_default();
    let page = 4096;
    let mut out = Vec::new();
    let mut at = 32;
    while at + 24 + page <= b.len() {
        out.push(u32::from_be_bytes(b[at..at + 4].try_into().unwrap()));
        at += 24 + page;
    }
    out
}

/// WAL frames of one transaction applying `parts`, and the pages each
/// table and index got (the WAL is truncated first).
fn commit_frames(
    conn: &rusqlite::Connection,
    traces: &mut Traces,
    interned: &mut Interned,
    parts: &[&crate::prepare::PreparedTraces],
    wal: &std::path::Path,
    n: u64,
) -> (usize, Vec<(String, usize)>) {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for t in parts {
        traces.apply(conn, interned, t, n).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let pages = wal_pages(wal);
    let owner: HashMap<u32, String> = conn
        .prepare("SELECT pageno, name FROM dbstat")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut by: HashMap<String, usize> = HashMap::new();
    for p in &pages {
        *by.entry(owner.get(p).cloned().unwrap_or_else(|| "?".into()))
            .or_default() += 1;
    }
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by_key(|b| std::cmp::Reverse(b.1));
    (pages.len(), by)
}

struct Db {
    _dir: tempfile::TempDir,
    conn: rusqlite::Connection,
    wal: std::path::PathBuf,
    traces: Traces,
    interned: Interned,
    n: u64,
}

/// A database holding `prefill` load-generator requests.
fn filled(prefill: u64) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let conn = crate::schema::open_writer(&path).unwrap();
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
    let mut traces = Traces::open(&conn).unwrap();
    let mut interned = Interned::default();
    for n in 1..=prefill {
        let t = prepared(n, 1000);
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        traces.apply(&conn, &mut interned, &t, n).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        if n % 10 == 0 {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
    }
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    Db {
        _dir: dir,
        conn,
        wal: wal.into(),
        traces,
        interned,
        n: prefill + 1,
    }
}

/// Issue 13, item 4: a transaction's WAL (one frame per page it dirties)
/// stays within the estimate the writer packs and splits by, so the size
/// cap's margin holds one commit by construction. Load-generator requests
/// (1,000 spans, 10 attributes each, a 1,000-value attribute), split for a
/// 20 MiB cap, on a database already holding some.
#[test]
fn a_split_part_writes_no_more_wal_frames_than_its_estimate() {
    let mut db = filled(15);
    let budget = super::split::budget(20 << 20);
    for _ in 0..3 {
        let t = prepared(db.n, 1000);
        db.n += 1;
        let whole = super::split::pages(&crate::prepare::Prepared::Traces(prepared(db.n, 1000)));
        let parts = super::split::split(t, budget);
        assert!(parts.len() > 1, "{whole} pages in one part");
        for (part, estimate) in &parts {
            assert!(*estimate <= budget, "{estimate} > {budget}");
            let (frames, by) = commit_frames(
                &db.conn,
                &mut db.traces,
                &mut db.interned,
                &[part],
                &db.wal,
                db.n,
            );
            assert!(
                frames as u64 <= *estimate,
                "{frames} frames, estimated {estimate}: {by:?}"
            );
        }
    }
    // Every span is stored once, in its trace.
    let spans: i64 = db
        .conn
        .query_row("SELECT sum(span_count) FROM traces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(spans, 18 * 1000);
}

#[test]
#[ignore = "measurement, prints figures"]
fn footprint() {
    let prefill: u64 = std::env::var("PREFILL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut db = filled(prefill);
    let size: i64 = db
        .conn
        .query_row("SELECT page_count * 4096 FROM pragma_page_count", [], |r| {
            r.get(0)
        })
        .unwrap();
    println!("prefilled {prefill} requests of 1000 spans: {size} B");
    for (requests, spans) in [
        (1, 1000),
        (1, 1000),
        (4, 1000),
        (16, 1000),
        (1, 500),
        (1, 100),
    ] {
        let ts: Vec<_> = (0..requests).map(|i| prepared(db.n + i, spans)).collect();
        db.n += requests;
        let refs: Vec<_> = ts.iter().collect();
        let estimate: u64 = ts
            .iter()
            .map(|t| {
                super::split::pages(&crate::prepare::Prepared::Traces(prepared(
                    0,
                    t.groups.iter().map(|g| g.spans.len()).sum(),
                )))
            })
            .sum();
        let (frames, by) = commit_frames(
            &db.conn,
            &mut db.traces,
            &mut db.interned,
            &refs,
            &db.wal,
            db.n,
        );
        println!("{requests} × {spans} spans: {frames} frames (estimate {estimate}) = {:.0} B/span; {by:?}", frames as f64 * 4120.0 / (requests as usize * spans) as f64);
    }
    let budget = super::split::budget(20 << 20);
    for _ in 0..3 {
        let parts = super::split::split(prepared(db.n, 1000), budget);
        db.n += 1;
        let mut line = Vec::new();
        for (part, estimate) in &parts {
            let (frames, _) = commit_frames(
                &db.conn,
                &mut db.traces,
                &mut db.interned,
                &[part],
                &db.wal,
                db.n,
            );
            line.push(format!("{frames}/{estimate}"));
        }
        println!(
            "1000 spans split for 20 MiB (budget {budget}): {} parts, frames/estimate {}",
            parts.len(),
            line.join(" ")
        );
    }
}
