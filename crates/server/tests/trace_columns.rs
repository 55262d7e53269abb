//! `GET /traces/{id}/columns` on a real loopback socket over a real SQLite
//! store: its lines decode into the contract's types, and the spans they
//! describe are exactly the OTLP answer's (`GET /traces/{id}`) — in the same
//! order when the trace has an orphan (no `preorder`), in the trace page's
//! tree order with the right parent, depth and subtree size otherwise — for a trace with a tree, an orphan, odd timestamps (end before
//! start, zero, u64::MAX), events and links, a status, several resources
//! and typed attributes; a trace of more than one chunk comes in chunks;
//! unknown and invalid IDs get the usual errors.

use loupe_model::otlp::common::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{span, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::sink::{Batch, Sink};
use loupe_server::columns_types::{TraceColumnsChunk, TraceColumnsHead};
use loupe_store::{Store, WriterConfig};
use serde_json::{json, Map, Value as J};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn tid(n: u8) -> Vec<u8> {
    let mut t = vec![0u8; 16];
    t[0] = 0xc0;
    t[15] = n;
    t
}

fn hexid(n: u8) -> String {
    format!("c0{}{n:02x}", "00".repeat(14))
}

fn sid(n: u16) -> Vec<u8> {
    let [a, b] = n.to_be_bytes();
    vec![0x5a, 0, 0, 0, 0, 0, a, b]
}

fn sp(trace: u8, id: u16, parent: Option<u16>, name: &str, start: u64, end: u64) -> Span {
    Span {
        trace_id: tid(trace),
        span_id: sid(id),
        parent_span_id: parent.map(sid).unwrap_or_default(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: vec![kv("shared", s("same everywhere"))],
        ..Default::default()
    }
}

fn rs(service: &str, scope: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(service))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: scope.into(),
                version: "1.2".into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The trace with every kind of span the columns must carry.
fn odd_trace(t0: u64) -> Vec<ResourceSpans> {
    let mut root = sp(1, 1, None, "root", t0, t0 + 10_000_000);
    root.attributes.push(kv("n", Value::IntValue(-7)));
    root.attributes.push(kv("ok", Value::BoolValue(true)));
    root.attributes.push(kv("ratio", Value::DoubleValue(0.25)));
    root.flags = 0x301;
    let mut child = sp(1, 2, Some(1), "child", t0 + 1_000, t0 + 5_000_000);
    child.status = Some(Status {
        code: 2,
        message: "boom \"quoted\"\n".into(),
    });
    child.events = vec![span::Event {
        time_unix_nano: t0 + 2_000,
        name: "checkpoint".into(),
        attributes: vec![kv("at", s("middle"))],
        ..Default::default()
    }];
    let mut grandchild = sp(1, 3, Some(2), "grandchild", t0 + 3_000, t0 + 2_000); // ends before it starts
    grandchild.links = vec![span::Link {
        trace_id: tid(9),
        span_id: sid(9),
        ..Default::default()
    }];
    grandchild.status = Some(Status::default());
    let orphan = sp(1, 4, Some(77), "orphan", t0 + 4_000, t0 + 6_000);
    let zero = sp(1, 5, Some(1), "zero start", 0, t0);
    let huge = sp(1, 6, Some(1), "huge end", t0, u64::MAX);
    let mut unnamed = sp(1, 7, Some(2), "", 0, 0);
    unnamed.attributes.clear();
    unnamed.kind = 0;
    vec![
        rs("frontend", "web", vec![root, child, zero]),
        rs("backend", "db", vec![grandchild, orphan, huge, unnamed]),
    ]
}

/// A trace of more spans than a chunk holds.
fn big_trace(t0: u64) -> Vec<ResourceSpans> {
    let n = loupe_server::trace_columns::CHUNK as u16 + 10;
    let spans = (1..=n)
        .map(|i| {
            let parent = (i > 1).then_some(i / 2);
            let mut x = sp(
                2,
                i,
                parent,
                &format!("op {}", i % 5),
                t0 + u64::from(i),
                t0 + 1_000_000,
            );
            x.attributes.push(kv("i", Value::IntValue(i64::from(i))));
            x
        })
        .collect();
    vec![rs("big", "bulk", spans)]
}

/// Two roots stored out of order, children by start time: one without a
/// start (first), two starting together (stored order).
fn roots_trace(t0: u64) -> Vec<ResourceSpans> {
    vec![
        rs("a", "x", vec![sp(3, 1, Some(2), "c", t0 + 50, t0 + 60)]),
        rs(
            "b",
            "y",
            vec![
                sp(3, 2, None, "r2", t0 + 10, t0 + 90),
                sp(3, 3, None, "r1", t0 + 20, t0 + 30),
                sp(3, 4, Some(2), "no start", 0, t0 + 60),
                sp(3, 5, Some(2), "c tie", t0 + 50, t0 + 55),
            ],
        ),
    ]
}

/// One HTTP/1.1 GET on a fresh connection: status and body (de-chunked).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    sock.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8(out).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let status = head[9..12].parse().expect("status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex size");
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// The OTLP answer's spans, each with its resource and scope.
fn otlp_spans(body: &str) -> Vec<(J, J, J)> {
    let v: J = serde_json::from_str(body).expect("OTLP JSON");
    let mut out = Vec::new();
    for rs in v["resourceSpans"].as_array().expect("resourceSpans") {
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            for span in ss["spans"].as_array().expect("spans") {
                out.push((rs["resource"].clone(), ss["scope"].clone(), span.clone()));
            }
        }
    }
    out
}

/// Each span's place in a columns answer: parent index, depth, subtree size.
type Place = (i64, u64, u64);

/// Spans (resource, scope, span), chunk lines, `preorder`, places.
type ColumnSpans = (Vec<(J, J, J)>, usize, bool, Vec<Place>);

/// The columns answer's spans rebuilt as OTLP/JSON, with their resource and
/// scope, the number of chunk lines, `preorder` and the tree columns.
fn column_spans(body: &str) -> ColumnSpans {
    let mut lines = body.lines();
    let head_line = lines.next().expect("head line");
    let head: TraceColumnsHead = serde_json::from_str(head_line).expect("typed head");
    let head_v: J = serde_json::from_str(head_line).expect("head");
    let mut strings = vec![String::new()];
    let mut attributes: Vec<J> = Vec::new();
    let mut out = Vec::new();
    let mut chunks = 0;
    let mut places = Vec::new();
    for line in lines {
        let _: TraceColumnsChunk = serde_json::from_str(line).expect("typed chunk");
        let c: J = serde_json::from_str(line).expect("chunk");
        chunks += 1;
        let col = |k: &str| c[k].as_array().unwrap_or_else(|| panic!("{k}")).clone();
        strings.extend(
            col("strings")
                .iter()
                .map(|x| x.as_str().unwrap().to_string()),
        );
        attributes.extend(col("attributes"));
        let n = col("spanId").len();
        assert!(n <= head.chunk_size as usize);
        for k in [
            "parentSpanId",
            "name",
            "kind",
            "flags",
            "loupeFlags",
            "start",
            "end",
            "resource",
            "scope",
            "statusCode",
            "statusMessage",
            "attributeCount",
        ] {
            assert_eq!(col(k).len(), n, "column {k}");
        }
        for k in ["parent", "depth", "size"] {
            assert_eq!(col(k).len(), if head.preorder { n } else { 0 }, "{k}");
        }
        if head.preorder {
            for i in 0..n {
                places.push((
                    c["parent"][i].as_i64().unwrap(),
                    c["depth"][i].as_u64().unwrap(),
                    c["size"][i].as_u64().unwrap(),
                ));
            }
        }
        let extras: Map<String, J> = col("extras")
            .iter()
            .map(|x| (x["index"].to_string(), x["span"].clone()))
            .collect();
        let ids = col("attributeIds");
        let mut a = 0;
        for i in 0..n {
            let num = |k: &str| c[k][i].as_i64().unwrap();
            let count = num("attributeCount") as usize;
            let span = match extras.get(&i.to_string()) {
                Some(x) => x.clone(),
                None => {
                    let mut m = Map::new();
                    m.insert("traceId".into(), head_v["traceId"].clone());
                    m.insert("spanId".into(), c["spanId"][i].clone());
                    if c["parentSpanId"][i] != "" {
                        m.insert("parentSpanId".into(), c["parentSpanId"][i].clone());
                    }
                    if num("flags") != 0 {
                        m.insert("flags".into(), c["flags"][i].clone());
                    }
                    // Timestamps that look wrong are flagged as in the OTLP answer.
                    if num("loupeFlags") != 0 {
                        m.insert("loupeFlags".into(), c["loupeFlags"][i].clone());
                    }
                    m.insert("name".into(), json!(strings[num("name") as usize]));
                    if num("kind") != 0 {
                        m.insert("kind".into(), c["kind"][i].clone());
                    }
                    m.insert("startTimeUnixNano".into(), c["start"][i].clone());
                    m.insert("endTimeUnixNano".into(), c["end"][i].clone());
                    if count > 0 {
                        let list: Vec<J> = (a..a + count)
                            .map(|k| attributes[ids[k].as_u64().unwrap() as usize].clone())
                            .collect();
                        m.insert("attributes".into(), J::Array(list));
                    }
                    if num("statusCode") >= 0 {
                        let mut st = Map::new();
                        let msg = &strings[num("statusMessage") as usize];
                        if !msg.is_empty() {
                            st.insert("message".into(), json!(msg));
                        }
                        if num("statusCode") != 0 {
                            st.insert("code".into(), c["statusCode"][i].clone());
                        }
                        m.insert("status".into(), J::Object(st));
                    }
                    J::Object(m)
                }
            };
            a += count;
            let r = head_v["resources"][num("resource") as usize].clone();
            let sc = head_v["scopes"][num("scope") as usize].clone();
            out.push((r, sc, span));
        }
        assert_eq!(a, ids.len(), "every attribute id is some span's");
    }
    assert_eq!(out.len(), head.span_count as usize, "spanCount");
    (out, chunks, head.preorder, places)
}

/// The pre-order `buildTree` (ui/src/tree.ts) makes of spans in OTLP order
/// (every parent present): roots then children by start time, ties in
/// stored order; with each span's parent (new index), depth and size.
fn expected_preorder(want: &[(J, J, J)]) -> (Vec<usize>, Vec<Place>) {
    let by_id: std::collections::HashMap<&str, usize> = want
        .iter()
        .enumerate()
        .map(|(i, w)| (w.2["spanId"].as_str().unwrap(), i))
        .collect();
    let start = |i: usize| -> u64 {
        want[i].2["startTimeUnixNano"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let n = want.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, w) in want.iter().enumerate() {
        match w.2["parentSpanId"].as_str() {
            None | Some("") => roots.push(i),
            Some(p) => kids[by_id[p]].push(i),
        }
    }
    let by = |v: &mut Vec<usize>| v.sort_by_key(|&i| (start(i), i));
    by(&mut roots);
    kids.iter_mut().for_each(by);
    let mut order = Vec::new();
    let mut places: Vec<Place> = Vec::new();
    // (stored index, parent's new index, depth): recursion is fine at this size.
    fn walk(
        x: usize,
        p: i64,
        d: u64,
        kids: &[Vec<usize>],
        order: &mut Vec<usize>,
        places: &mut Vec<Place>,
    ) -> u64 {
        let me = order.len();
        order.push(x);
        places.push((p, d, 0));
        let mut size = 1;
        for &c in &kids[x] {
            size += walk(c, me as i64, d + 1, kids, order, places);
        }
        places[me].2 = size;
        size
    }
    for &r in &roots {
        walk(r, -1, 0, &kids, &mut order, &mut places);
    }
    (order, places)
}

#[tokio::test]
async fn columns_agree_with_the_otlp_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), WriterConfig::default()).expect("store");
    let t0 = loupe_model::time::now_ns() - 60_000_000_000;
    let mut resource_spans = odd_trace(t0);
    resource_spans.extend(big_trace(t0));
    resource_spans.extend(roots_trace(t0));
    store
        .writer
        .submit(Batch::Traces(ExportTraceServiceRequest { resource_spans }))
        .expect("submit")
        .wait()
        .await
        .expect("stored");
    let addr = support::serve_api(&store).await;

    for (trace, want_chunks) in [(1u8, 1usize), (2, 2), (3, 1)] {
        let (status, _, otlp) = get(addr, &format!("/api/v1/traces/{}", hexid(trace))).await;
        assert_eq!(status, 200, "{otlp}");
        let (status, head, cols) =
            get(addr, &format!("/api/v1/traces/{}/columns", hexid(trace))).await;
        assert_eq!(status, 200, "{cols}");
        assert!(head.contains("application/x-ndjson"), "{head}");
        let mut want = otlp_spans(&otlp);
        let (have, chunks, preorder, places) = column_spans(&cols);
        assert_eq!(chunks, want_chunks, "chunk lines");
        assert_eq!(have.len(), want.len());
        // The trace with an orphan keeps the stored order; the big one is a
        // plain tree and comes in pre-order.
        assert_eq!(preorder, trace != 1, "preorder");
        if preorder {
            let (order, expected) = expected_preorder(&want);
            assert_eq!(places, expected, "parent, depth, size");
            want = order.into_iter().map(|i| want[i].clone()).collect();
            // Not the stored (breadth-first) order: the first chunk is the top of the tree.
            if trace == 2 {
                assert_eq!(places[0], (-1, 0, want.len() as u64), "one root");
            }
        }
        if trace == 3 {
            let h: J = serde_json::from_str(cols.lines().next().unwrap()).unwrap();
            assert_eq!(h["firstStart"], json!((t0 + 10).to_string()));
            assert_eq!(h["lastEnd"], json!((t0 + 90).to_string()));
            let names: Vec<&str> = have
                .iter()
                .map(|(_, _, s)| s["name"].as_str().unwrap_or(""))
                .collect();
            assert_eq!(names, ["r2", "no start", "c", "c tie", "r1"]);
        }
        for (i, (h, w)) in have.iter().zip(&want).enumerate() {
            assert_eq!(h, w, "span {i}");
        }
        if trace == 1 {
            // The odd ones made it through as stored.
            let names: Vec<&str> = want
                .iter()
                .map(|(_, _, s)| s["name"].as_str().unwrap_or(""))
                .collect();
            assert_eq!(names.len(), 7, "{names:?}");
            assert!(cols.contains(&u64::MAX.to_string()), "u64::MAX end");
            assert!(cols.contains(&format!("\"{}\"", hexid(1))));
            // Interned: the shared attribute is written once.
            assert_eq!(
                cols.matches("same everywhere").count(),
                1 + 2,
                "once in the table, twice in extras"
            );
        }
    }

    let (status, _, body) = get(addr, &format!("/api/v1/traces/{}/columns", hexid(200))).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no trace"), "{body}");
    let (status, _, body) = get(addr, "/api/v1/traces/nothex/columns").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("traceId"), "{body}");
}
