//! End-to-end: the official OpenTelemetry Node SDK (tests/e2e/node) sends
//! Kestra-shaped traces, metrics and logs to a real `loupe serve` over
//! OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON, and everything it says it
//! sent (its manifest) must come back intact through Loupe's JSON API.
//!
//! Needs Node.js and `npm ci --prefix tests/e2e/node` first; without them the
//! tests fail (they never skip).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Loupe;
use serde_json::{json, Value};

#[tokio::test]
async fn node_sdk_over_otlp_grpc() {
    run_protocol("grpc").await;
}

#[tokio::test]
async fn node_sdk_over_otlp_http_protobuf() {
    run_protocol("http/protobuf").await;
}

#[tokio::test]
async fn node_sdk_over_otlp_http_json() {
    run_protocol("http/json").await;
}

/// The shared body: a fresh server, one workload run, every check.
async fn run_protocol(protocol: &str) {
    let started = Instant::now();
    let loupe = Loupe::start();
    let m = run_workload(&loupe, protocol);
    let ctx = format!("[{protocol}]");
    assert_eq!(m["protocol"], protocol, "{ctx} manifest protocol");

    check_services(&loupe, &m, &ctx).await;
    check_traces(&loupe, &m, &ctx).await;
    check_unknown_trace(&loupe, &ctx).await;
    check_related(&loupe, &m, &ctx).await;
    check_search(&loupe, &m, &ctx).await;
    check_logs(&loupe, &m, &ctx).await;
    check_metrics(&loupe, &m, &ctx).await;

    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "{ctx} e2e run took {took:?}"
    );
}

// ---------------------------------------------------------------------------
// Running the Node workload.
// ---------------------------------------------------------------------------

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node")
}

/// Runs `node tests/e2e/node/workload.mjs` against `loupe` and returns its manifest.
fn run_workload(loupe: &Loupe, protocol: &str) -> Value {
    let dir = node_dir();
    let marker = dir.join("node_modules/@opentelemetry/sdk-trace-base/package.json");
    assert!(
        marker.is_file(),
        "the Node e2e workload's dependencies are not installed ({} is missing): \
         run `npm ci --prefix tests/e2e/node` from the repository root first \
         (needs Node.js >= 20.6 and npm)",
        dir.join("node_modules").display()
    );
    let run = format!(
        "{}-{}-{}",
        protocol.replace('/', "-"),
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("workload.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The exporters are configured explicitly; keep the caller's OTEL_* out of it.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("LOUPE_PROTOCOL", protocol)
        .env("LOUPE_GRPC_ENDPOINT", format!("http://{}", loupe.grpc))
        .env("LOUPE_HTTP_ENDPOINT", format!("http://{}", loupe.http))
        .env("LOUPE_RUN", &run);
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run `node` ({e}): the Node e2e test needs Node.js >= 20.6 on PATH")
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("[{protocol}] the Node workload did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    assert!(
        status.success(),
        "[{protocol}] the Node workload failed ({status}).\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("[{protocol}] no manifest on stdout; stderr:\n{stderr}"));
    let m: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("[{protocol}] manifest is not JSON ({e}): {line}"));
    assert_eq!(m["run"], run.as_str(), "[{protocol}] manifest run");
    m
}

// ---------------------------------------------------------------------------
// Helpers: OTLP JSON with defaults, canonical attribute values, queries.
// ---------------------------------------------------------------------------

/// A string field, "" when absent or null (proto3 JSON omits defaults).
fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(x)) => x.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => panic!("field {key} is not a string: {other}"),
    }
}

/// An integer field given as a number or a decimal string, 0 when absent.
fn n(v: &Value, key: &str) -> i128 {
    match v.get(key) {
        None | Some(Value::Null) => 0,
        Some(Value::Number(x)) => x
            .as_i64()
            .map(i128::from)
            .or_else(|| x.as_u64().map(i128::from))
            .unwrap_or_else(|| panic!("field {key} is not an integer: {x}")),
        Some(Value::String(x)) => x
            .parse()
            .unwrap_or_else(|_| panic!("field {key} is not an integer: {x:?}")),
        Some(other) => panic!("field {key} is not an integer: {other}"),
    }
}

/// A floating-point field (number, or a string such as "NaN"), 0 when absent.
fn f(v: &Value, key: &str) -> f64 {
    match v.get(key) {
        None | Some(Value::Null) => 0.0,
        Some(Value::Number(x)) => x.as_f64().unwrap(),
        Some(Value::String(x)) => x.parse().unwrap(),
        Some(other) => panic!("field {key} is not a number: {other}"),
    }
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    match v.get(key) {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => &[],
        Some(other) => panic!("field {key} is not an array: {other}"),
    }
}

/// An OTLP JSON AnyValue in a canonical, type-tagged form.
fn any_value(v: &Value) -> Value {
    if let Some(x) = v.get("stringValue") {
        json!({ "string": x })
    } else if let Some(x) = v.get("boolValue") {
        json!({ "bool": x })
    } else if v.get("intValue").is_some() {
        json!({ "int": n(v, "intValue") as i64 })
    } else if v.get("doubleValue").is_some() {
        json!({ "double": f(v, "doubleValue") })
    } else if let Some(a) = v.get("arrayValue") {
        json!({ "array": arr(a, "values").iter().map(any_value).collect::<Vec<_>>() })
    } else if let Some(kv) = v.get("kvlistValue") {
        json!({ "kvlist": attrs(kv.get("values").unwrap_or(&Value::Null)) })
    } else if let Some(b) = v.get("bytesValue") {
        json!({ "bytes": b })
    } else {
        Value::Null
    }
}

/// A plain JSON value from the manifest (as the JS SDK maps it) in the same form.
fn js_value(v: &Value) -> Value {
    match v {
        Value::String(x) => json!({ "string": x }),
        Value::Bool(x) => json!({ "bool": x }),
        Value::Number(x) if x.is_i64() || x.is_u64() => json!({ "int": x.as_i64().unwrap() }),
        Value::Number(x) => json!({ "double": x.as_f64().unwrap() }),
        Value::Array(a) => json!({ "array": a.iter().map(js_value).collect::<Vec<_>>() }),
        other => panic!("unexpected manifest attribute value {other}"),
    }
}

/// OTLP KeyValue list → canonical map.
fn attrs(list: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Value::Array(items) = list {
        for kv in items {
            let key = s(kv, "key");
            let value = kv.get("value").map(any_value).unwrap_or(Value::Null);
            assert!(
                out.insert(key.clone(), value).is_none(),
                "duplicate attribute {key}"
            );
        }
    }
    out
}

fn attrs_of(v: &Value) -> BTreeMap<String, Value> {
    attrs(v.get("attributes").unwrap_or(&Value::Null))
}

/// Manifest attribute object → canonical map.
fn js_attrs(obj: &Value) -> BTreeMap<String, Value> {
    obj.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), js_value(v))).collect())
        .unwrap_or_default()
}

/// Percent-encodes a query-string component.
fn enc(x: &str) -> String {
    let mut out = String::new();
    for b in x.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn strs(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

/// A span as returned by the API, with where it sits.
struct SeenSpan {
    service: String,
    resource: BTreeMap<String, Value>,
    scope: String,
    span: Value,
}

fn flatten_spans(doc: &Value) -> Vec<SeenSpan> {
    let mut out = Vec::new();
    for rs in arr(doc, "resourceSpans") {
        let resource = attrs_of(rs.get("resource").unwrap_or(&Value::Null));
        let service = match resource.get("service.name") {
            Some(v) => v["string"].as_str().unwrap_or_default().to_string(),
            None => String::new(),
        };
        for ss in arr(rs, "scopeSpans") {
            let scope = s(ss.get("scope").unwrap_or(&Value::Null), "name");
            for span in arr(ss, "spans") {
                out.push(SeenSpan {
                    service: service.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    span: span.clone(),
                });
            }
        }
    }
    out
}

/// A log record as returned by the API, flattened to the manifest's shape.
fn flatten_logs(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for rl in arr(doc, "resourceLogs") {
        let resource = attrs_of(rl.get("resource").unwrap_or(&Value::Null));
        let service = resource
            .get("service.name")
            .and_then(|v| v["string"].as_str())
            .unwrap_or_default()
            .to_string();
        for sl in arr(rl, "scopeLogs") {
            let scope = s(sl.get("scope").unwrap_or(&Value::Null), "name");
            for r in arr(sl, "logRecords") {
                out.push(json!({
                    "service": service,
                    "scope": scope,
                    "severityNumber": n(r, "severityNumber") as i64,
                    "severityText": s(r, "severityText"),
                    "body": r.get("body").map(any_value).unwrap_or(Value::Null),
                    "attributes": attrs_of(r),
                    "traceId": s(r, "traceId"),
                    "spanId": s(r, "spanId"),
                    "timeUnixNano": n(r, "timeUnixNano").to_string(),
                }));
            }
        }
    }
    out
}

/// The manifest's log record in the same flattened shape.
fn expected_log(l: &Value) -> Value {
    json!({
        "service": l["service"],
        "scope": l["scope"],
        "severityNumber": l["severityNumber"],
        "severityText": l["severityText"],
        "body": js_value(&l["body"]),
        "attributes": js_attrs(&l["attributes"]),
        "traceId": l["traceId"],
        "spanId": l["spanId"],
        "timeUnixNano": l["timeUnixNano"],
    })
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

fn manifest_spans<'a>(m: &'a Value, trace_id: &str) -> Vec<&'a Value> {
    arr(m, "spans")
        .iter()
        .filter(|sp| sp["traceId"] == trace_id)
        .collect()
}

fn role(m: &Value, key: &str) -> String {
    m["roles"][key]
        .as_str()
        .unwrap_or_else(|| panic!("manifest role {key}"))
        .to_string()
}

fn role_list(m: &Value, key: &str) -> Vec<String> {
    strs(
        m["roles"][key]
            .as_array()
            .unwrap_or_else(|| panic!("manifest role {key}")),
    )
}

/// `GET /api/v1/traces?…` → the trace IDs, in the order returned.
async fn search(loupe: &Loupe, query: &str) -> Vec<String> {
    let doc = loupe.get_json(&format!("/api/v1/traces?{query}")).await;
    arr(&doc, "traces")
        .iter()
        .map(|t| s(t, "traceId"))
        .collect()
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

async fn check_services(loupe: &Loupe, m: &Value, ctx: &str) {
    let doc = loupe.get_json("/api/v1/services").await;
    let services = strs(arr(&doc, "services"));
    let mut expected: Vec<String> = m["resources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(services, expected, "{ctx} /api/v1/services");

    // The keys the workload set are offered for autocompletion, Loupe's
    // internal pseudo keys are not.
    let keys = strs(arr(&loupe.get_json("/api/v1/attributes").await, "keys"));
    for k in [
        "service.name",
        "kestra.namespace",
        "kestra.flowId",
        "kestra.executionId",
    ] {
        assert!(
            keys.iter().any(|x| x == k),
            "{ctx} /api/v1/attributes lacks {k}: {keys:?}"
        );
    }
    assert!(keys.iter().all(|k| !k.starts_with(':')), "{ctx} {keys:?}");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{ctx} keys are sorted");
}

/// Every trace and every span of the manifest, field by field.
async fn check_traces(loupe: &Loupe, m: &Value, ctx: &str) {
    let traces = arr(m, "traces");
    assert_eq!(traces.len(), 4, "{ctx} manifest traces");
    for t in traces {
        let trace_id = t["traceId"].as_str().unwrap();
        let doc = loupe.get_json(&format!("/api/v1/traces/{trace_id}")).await;
        let seen = flatten_spans(&doc);
        let want = manifest_spans(m, trace_id);
        let seen_ids: BTreeSet<String> = seen.iter().map(|x| s(&x.span, "spanId")).collect();
        let want_ids: BTreeSet<String> = want
            .iter()
            .map(|x| x["spanId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            seen_ids, want_ids,
            "{ctx} span IDs of trace {trace_id} ({})",
            t["label"]
        );
        assert_eq!(
            seen.len(),
            want.len(),
            "{ctx} span count of trace {trace_id}: duplicates?"
        );

        for w in want {
            let id = w["spanId"].as_str().unwrap();
            let name = w["name"].as_str().unwrap();
            let what = format!("{ctx} span {id} {name:?}");
            let got = seen.iter().find(|x| s(&x.span, "spanId") == id).unwrap();
            let sp = &got.span;
            assert_eq!(s(sp, "traceId"), trace_id, "{what}: traceId");
            assert_eq!(
                s(sp, "parentSpanId"),
                w["parentSpanId"].as_str().unwrap(),
                "{what}: parentSpanId"
            );
            assert_eq!(s(sp, "name"), name, "{what}: name");
            assert_eq!(
                n(sp, "kind"),
                w["kind"].as_i64().unwrap() as i128,
                "{what}: kind"
            );
            assert_eq!(
                got.service,
                w["service"].as_str().unwrap(),
                "{what}: service"
            );
            assert_eq!(
                got.scope,
                w["scope"].as_str().unwrap(),
                "{what}: scope name"
            );
            assert_eq!(
                attrs_of(sp),
                js_attrs(&w["attributes"]),
                "{what}: attributes"
            );
            assert_eq!(
                n(sp, "startTimeUnixNano").to_string(),
                w["startTimeUnixNano"].as_str().unwrap(),
                "{what}: startTimeUnixNano"
            );
            assert_eq!(
                n(sp, "endTimeUnixNano").to_string(),
                w["endTimeUnixNano"].as_str().unwrap(),
                "{what}: endTimeUnixNano"
            );
            // The resource: everything the workload set is there.
            let want_res = js_attrs(&m["resources"][w["service"].as_str().unwrap()]);
            for (k, v) in &want_res {
                assert_eq!(
                    got.resource.get(k),
                    Some(v),
                    "{what}: resource attribute {k}"
                );
            }
            // Status.
            let status = sp.get("status").cloned().unwrap_or(Value::Null);
            assert_eq!(
                n(&status, "code"),
                w["status"]["code"].as_i64().unwrap() as i128,
                "{what}: status code"
            );
            assert_eq!(
                s(&status, "message"),
                w["status"]["message"].as_str().unwrap(),
                "{what}: status message"
            );
            // Events, in order.
            let events: Vec<Value> = arr(sp, "events")
                .iter()
                .map(|e| {
                    json!({
                        "name": s(e, "name"),
                        "attributes": attrs_of(e),
                        "timeUnixNano": n(e, "timeUnixNano").to_string(),
                    })
                })
                .collect();
            let want_events: Vec<Value> = arr(w, "events")
                .iter()
                .map(|e| {
                    json!({
                        "name": e["name"],
                        "attributes": js_attrs(&e["attributes"]),
                        "timeUnixNano": e["timeUnixNano"],
                    })
                })
                .collect();
            assert_eq!(events, want_events, "{what}: events");
            // Links.
            let links: Vec<Value> = arr(sp, "links")
                .iter()
                .map(|l| json!({ "traceId": s(l, "traceId"), "spanId": s(l, "spanId"), "attributes": attrs_of(l) }))
                .collect();
            let want_links: Vec<Value> = arr(w, "links")
                .iter()
                .map(|l| json!({ "traceId": l["traceId"], "spanId": l["spanId"], "attributes": js_attrs(&l["attributes"]) }))
                .collect();
            assert_eq!(links, want_links, "{what}: links");
        }
    }

    // The roles, spelled out: the failed task, the ForEachItem links, the HTTP hop.
    let main = role(m, "mainTraceId");
    let doc = loupe.get_json(&format!("/api/v1/traces/{main}")).await;
    let seen = flatten_spans(&doc);
    let span = |id: &str| -> &SeenSpan {
        seen.iter()
            .find(|x| s(&x.span, "spanId") == id)
            .unwrap_or_else(|| panic!("{ctx} span {id} not in trace {main}"))
    };

    let failed = span(&role(m, "failedSpanId"));
    assert_eq!(
        s(&failed.span, "name"),
        "WORKER - io.kestra.plugin.scripts.shell.Commands"
    );
    assert_eq!(
        n(&failed.span["status"], "code"),
        2,
        "{ctx} failed span status is ERROR"
    );
    assert_eq!(
        s(&failed.span["status"], "message"),
        role(m, "failedStatusMessage"),
        "{ctx} failed span status message"
    );
    let exception = arr(&failed.span, "events")
        .iter()
        .find(|e| s(e, "name") == "exception")
        .unwrap_or_else(|| panic!("{ctx} no exception event on the failed span"));
    let ea = attrs_of(exception);
    assert_eq!(
        ea.get("exception.message"),
        Some(&json!({ "string": role(m, "exceptionMessage") })),
        "{ctx} exception.message"
    );
    assert_eq!(
        ea.get("exception.type"),
        Some(&json!({ "string": "Error" })),
        "{ctx} exception.type"
    );
    assert!(
        ea.get("exception.stacktrace")
            .and_then(|v| v["string"].as_str())
            .is_some_and(|st| st.contains("workload.mjs")),
        "{ctx} exception.stacktrace: {ea:?}"
    );

    let client = span(&role(m, "httpClientSpanId"));
    let downstream = span(&role(m, "downstreamSpanId"));
    assert_eq!(s(&client.span, "name"), "GET");
    assert_eq!(
        n(&client.span, "kind"),
        3,
        "{ctx} HTTP client span is CLIENT"
    );
    assert_eq!(client.service, "kestra");
    assert_eq!(
        s(&client.span, "parentSpanId"),
        role(m, "httpTaskSpanId"),
        "{ctx} GET under the Request task"
    );
    assert_eq!(downstream.service, "downstream", "{ctx} downstream service");
    assert_eq!(
        n(&downstream.span, "kind"),
        2,
        "{ctx} downstream span is SERVER"
    );
    assert_eq!(
        s(&downstream.span, "traceId"),
        main,
        "{ctx} downstream span shares the trace"
    );
    assert_eq!(
        s(&downstream.span, "parentSpanId"),
        role(m, "httpClientSpanId"),
        "{ctx} downstream parent is the GET span"
    );
    // The workload really went through traceparent headers.
    let tp: Vec<String> = arr(m, "propagations")
        .iter()
        .map(|p| p["traceparent"].as_str().unwrap().to_string())
        .collect();
    assert!(
        tp.contains(&format!("00-{main}-{}-01", role(m, "httpClientSpanId"))),
        "{ctx} traceparent of the GET span in {tp:?}"
    );

    let web = span(&role(m, "webserverSpanId"));
    assert_eq!(web.service, "kestra-webserver");
    assert_eq!(n(&web.span, "kind"), 2, "{ctx} webserver span is SERVER");
    assert_eq!(
        s(&web.span, "parentSpanId"),
        role(m, "upstreamSpanId"),
        "{ctx} webserver under upstream"
    );
    let wa = attrs_of(&web.span);
    assert_eq!(
        wa.get("http.route"),
        Some(&json!({ "string": "/api/v1/executions/{namespace}/{flowId}" }))
    );

    let for_each = role(m, "forEachItemSpanId");
    for (item, root) in role_list(m, "itemTraceIds")
        .iter()
        .zip(role_list(m, "itemRootSpanIds"))
    {
        let doc = loupe.get_json(&format!("/api/v1/traces/{item}")).await;
        let seen = flatten_spans(&doc);
        let r = seen.iter().find(|x| s(&x.span, "spanId") == root).unwrap();
        assert_eq!(
            s(&r.span, "parentSpanId"),
            "",
            "{ctx} item root {root} is a root"
        );
        let links = arr(&r.span, "links");
        assert_eq!(links.len(), 1, "{ctx} item root {root} links");
        assert_eq!(s(&links[0], "traceId"), main, "{ctx} link trace");
        assert_eq!(s(&links[0], "spanId"), for_each, "{ctx} link span");
        assert_eq!(
            attrs_of(&links[0]).get("kestra.link"),
            Some(&json!({ "string": "foreach-item" })),
            "{ctx} link attribute"
        );
    }
}

async fn check_unknown_trace(loupe: &Loupe, ctx: &str) {
    let url = loupe.api_url("/api/v1/traces/0123456789abcdef0123456789abcdef");
    let resp = reqwest::get(url).await.expect("GET unknown trace");
    assert_eq!(resp.status().as_u16(), 404, "{ctx} unknown trace");
}

async fn check_related(loupe: &Loupe, m: &Value, ctx: &str) {
    let main = role(m, "mainTraceId");
    let for_each = role(m, "forEachItemSpanId");
    let items = role_list(m, "itemTraceIds");
    let roots = role_list(m, "itemRootSpanIds");
    let pair = |item: &str, root: &str| json!({ "fromTraceId": item, "fromSpanId": root, "toTraceId": main, "toSpanId": for_each });
    let links_of = |r: &Value| -> Vec<Value> {
        arr(r, "links")
            .iter()
            .map(|l| {
                json!({
                    "fromTraceId": s(l, "fromTraceId"),
                    "fromSpanId": s(l, "fromSpanId"),
                    "toTraceId": s(l, "toTraceId"),
                    "toSpanId": s(l, "toSpanId"),
                })
            })
            .collect()
    };

    // From the parent: the three item traces, incoming.
    let doc = loupe
        .get_json(&format!("/api/v1/traces/{main}/related"))
        .await;
    assert_eq!(s(&doc, "traceId"), main, "{ctx} related traceId");
    let related = arr(&doc, "related");
    let got: BTreeSet<String> = related.iter().map(|r| s(r, "traceId")).collect();
    assert_eq!(got, set(&items), "{ctx} related of the parent trace: {doc}");
    for (item, root) in items.iter().zip(&roots) {
        let r = related.iter().find(|r| s(r, "traceId") == *item).unwrap();
        assert_eq!(
            s(r, "direction"),
            "incoming",
            "{ctx} direction of {item} from the parent"
        );
        assert_eq!(
            links_of(r),
            vec![pair(item, root)],
            "{ctx} link pairs of {item} from the parent"
        );
        let summary = &r["summary"];
        assert!(summary.is_object(), "{ctx} summary of {item}: {r}");
        assert_eq!(s(summary, "traceId"), *item, "{ctx} summary traceId");
        assert_eq!(
            s(summary, "rootName"),
            "EXECUTOR - io.kestra.plugin.core.flow.Sequential"
        );
    }

    // From each child: the parent, outgoing.
    for (item, root) in items.iter().zip(&roots) {
        let doc = loupe
            .get_json(&format!("/api/v1/traces/{item}/related"))
            .await;
        let related = arr(&doc, "related");
        assert_eq!(related.len(), 1, "{ctx} related of {item}: {doc}");
        let r = &related[0];
        assert_eq!(s(r, "traceId"), main, "{ctx} related of {item}");
        assert_eq!(
            s(r, "direction"),
            "outgoing",
            "{ctx} direction of the parent from {item}"
        );
        assert_eq!(
            links_of(r),
            vec![pair(item, root)],
            "{ctx} link pairs of the parent from {item}"
        );
        assert_eq!(
            s(&r["summary"], "rootService"),
            "upstream",
            "{ctx} parent summary from {item}: {r}"
        );
    }
}

async fn check_search(loupe: &Loupe, m: &Value, ctx: &str) {
    let main = role(m, "mainTraceId");
    let items = role_list(m, "itemTraceIds");
    let mut kestra_traces = items.clone();
    kestra_traces.push(main.clone());
    let all = set(&kestra_traces);
    let run = m["run"].as_str().unwrap();

    // Everything, newest first: the items started after the parent, in order.
    let doc = loupe.get_json("/api/v1/traces").await;
    let list = arr(&doc, "traces");
    let ids: Vec<String> = list.iter().map(|t| s(t, "traceId")).collect();
    let newest_first = vec![
        items[2].clone(),
        items[1].clone(),
        items[0].clone(),
        main.clone(),
    ];
    assert_eq!(
        ids, newest_first,
        "{ctx} /api/v1/traces order (newest first)"
    );

    // The parent's summary.
    let t = list.iter().find(|t| s(t, "traceId") == main).unwrap();
    let root = arr(m, "spans")
        .iter()
        .find(|sp| sp["spanId"] == role(m, "upstreamSpanId").as_str())
        .unwrap();
    let start: i128 = root["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: i128 = root["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert_eq!(s(t, "rootService"), "upstream", "{ctx} rootService");
    assert_eq!(
        s(t, "rootName"),
        "POST /api/v1/executions/company.team/opentelemetry_parent",
        "{ctx} rootName"
    );
    assert_eq!(n(t, "startTimeUnixNano"), start, "{ctx} startTimeUnixNano");
    assert_eq!(n(t, "durationNano"), end - start, "{ctx} durationNano");
    assert_eq!(
        n(t, "spanCount"),
        manifest_spans(m, &main).len() as i128,
        "{ctx} spanCount"
    );
    assert_eq!(n(t, "errorCount"), 1, "{ctx} errorCount");
    assert_eq!(
        strs(arr(t, "services")),
        vec!["downstream", "kestra", "kestra-webserver", "upstream"],
        "{ctx} services of the parent trace"
    );

    // The brief's searches.
    let q = format!(
        "attr={}&service=kestra",
        enc("kestra.namespace=company.team")
    );
    assert_eq!(set(&search(loupe, &q).await), all, "{ctx} search {q}");
    assert_eq!(
        search(loupe, "errors=true").await,
        vec![main.clone()],
        "{ctx} errors=true"
    );
    let q = format!(
        "errors=true&service=kestra&attr={}",
        enc("kestra.namespace=company.team")
    );
    assert_eq!(
        search(loupe, &q).await,
        vec![main.clone()],
        "{ctx} search {q}"
    );

    // A few more, each with an unambiguous answer on this data.
    let cases: Vec<(String, Vec<String>)> = vec![
        ("service=downstream".to_string(), vec![main.clone()]),
        ("service=upstream".to_string(), vec![main.clone()]),
        (
            format!("spanName={}", enc("GET /items")),
            vec![main.clone()],
        ),
        (
            format!(
                "spanName={}",
                enc("EXECUTOR - io.kestra.plugin.core.flow.ForEachItem")
            ),
            vec![main.clone()],
        ),
        (
            format!("attr={}", enc("kestra.flowId=opentelemetry_item")),
            items.clone(),
        ),
        (
            format!(
                "attr={}",
                enc(&format!("kestra.executionId=exec-item-1-{run}"))
            ),
            vec![items[1].clone()],
        ),
        (
            format!(
                "attr={}",
                enc(&format!("kestra.executionId=exec-basic-{run}"))
            ),
            vec![main.clone()],
        ),
        (
            format!("attr={}", enc("kestra.forEachItem.index")),
            items.clone(),
        ),
        (
            format!("attr={}", enc("kestra.forEachItem.index>=1")),
            vec![items[1].clone(), items[2].clone()],
        ),
        (
            format!("attr={}", enc("http.response.status_code>=200")),
            vec![main.clone()],
        ),
        (format!("attr={}", enc("app.items.returned>=26")), vec![]),
        // A resource attribute.
        (
            format!(
                "attr={}",
                enc(&format!("service.instance.id=standalone-{run}"))
            ),
            kestra_traces.clone(),
        ),
        (
            format!(
                "attr={}&attr={}",
                enc("kestra.namespace=company.team"),
                enc("kestra.flowId=opentelemetry_basic")
            ),
            vec![main.clone()],
        ),
        ("minDuration=1s".to_string(), vec![main.clone()]),
        ("maxDuration=500ms".to_string(), items.clone()),
        (
            "minDuration=50ms&maxDuration=150ms".to_string(),
            items.clone(),
        ),
        ("service=nope".to_string(), vec![]),
        (
            "limit=2".to_string(),
            vec![items[2].clone(), items[1].clone()],
        ),
    ];
    for (q, want) in cases {
        let got = search(loupe, &q).await;
        assert_eq!(set(&got), set(&want), "{ctx} search {q}: got {got:?}");
        assert_eq!(
            got.len(),
            want.len(),
            "{ctx} search {q}: duplicates in {got:?}"
        );
    }

    // Time windows that hold all traces, or none, whatever the overlap rule.
    let ms = 1_000_000i128;
    let window = |a: i128, b: i128| format!("start={a}&end={b}");
    assert_eq!(
        set(&search(loupe, &window(start - 1000 * ms, end + 5000 * ms)).await),
        all,
        "{ctx} wide window"
    );
    assert!(
        search(loupe, &window(start - 5000 * ms, start - 1000 * ms))
            .await
            .is_empty(),
        "{ctx} window before"
    );
    assert!(
        search(loupe, &window(end + 5000 * ms, end + 9000 * ms))
            .await
            .is_empty(),
        "{ctx} window after"
    );
}

async fn check_logs(loupe: &Loupe, m: &Value, ctx: &str) {
    let main = role(m, "mainTraceId");
    let failed = role(m, "failedSpanId");
    let want_all: Vec<Value> = arr(m, "logs").iter().map(expected_log).collect();
    assert_eq!(want_all.len(), 4, "{ctx} manifest logs");
    let want = |pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        sorted(want_all.iter().filter(|l| pred(l)).cloned().collect())
    };
    let get = |q: String| async move {
        let doc = loupe.get_json(&format!("/api/v1/logs{q}")).await;
        flatten_logs(&doc)
    };

    // All of them, newest first.
    let all = get(String::new()).await;
    assert_eq!(
        sorted(all.clone()),
        sorted(want_all.clone()),
        "{ctx} /api/v1/logs"
    );
    let times: Vec<i128> = all
        .iter()
        .map(|l| l["timeUnixNano"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "{ctx} logs newest first: {times:?}"
    );

    let error = want(&|l| l["severityNumber"] == 17);
    assert_eq!(error.len(), 1);
    assert_eq!(
        error[0]["traceId"],
        main.as_str(),
        "{ctx} the ERROR log carries the trace"
    );
    assert_eq!(
        error[0]["spanId"],
        failed.as_str(),
        "{ctx} the ERROR log carries the span"
    );

    let cases: Vec<(String, Vec<Value>)> = vec![
        (
            format!("?traceId={main}"),
            want(&|l| l["traceId"] == main.as_str()),
        ),
        (format!("?spanId={failed}"), error.clone()),
        (format!("?traceId={main}&spanId={failed}"), error.clone()),
        ("?minSeverity=17".to_string(), error.clone()),
        ("?minSeverity=9".to_string(), want_all.clone()),
        ("?service=kestra".to_string(), want_all.clone()),
        ("?service=upstream".to_string(), vec![]),
        (
            format!("?text={}", enc("Executor started")),
            want(&|l| l["traceId"] == ""),
        ),
        (
            format!("?text={}&minSeverity=17", enc("exit code 1")),
            error.clone(),
        ),
        ("?limit=1".to_string(), vec![all[0].clone()]),
    ];
    for (q, want) in cases {
        let got = get(q.clone()).await;
        assert_eq!(sorted(got), sorted(want), "{ctx} /api/v1/logs{q}");
    }
}

async fn check_metrics(loupe: &Loupe, m: &Value, ctx: &str) {
    let want = arr(m, "metrics");
    assert_eq!(want.len(), 3, "{ctx} manifest metrics");

    // The catalogue; the reader's final export on shutdown may trail the
    // workload's exit only by moments, so poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    let catalogue = loop {
        let doc = loupe.get_json("/api/v1/metrics").await;
        let all_there = want
            .iter()
            .all(|w| arr(&doc, "metrics").iter().any(|c| c["name"] == w["name"]));
        if all_there || Instant::now() > deadline {
            break doc;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for w in want {
        let name = w["name"].as_str().unwrap();
        let c = arr(&catalogue, "metrics")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{ctx} metric {name} not in the catalogue: {catalogue}"));
        assert_eq!(
            s(c, "type"),
            w["type"].as_str().unwrap(),
            "{ctx} type of {name}"
        );
        assert_eq!(
            s(c, "unit"),
            w["unit"].as_str().unwrap(),
            "{ctx} unit of {name}"
        );
        let series = n(c, "series");
        assert_eq!(
            series,
            arr(w, "points").len() as i128,
            "{ctx} series of {name}"
        );
        assert!(
            n(c, "lastPointUnixNano") > 0,
            "{ctx} lastPointUnixNano of {name}"
        );

        let doc = loupe
            .get_json(&format!("/api/v1/metrics/{}", enc(name)))
            .await;
        let key = match w["type"].as_str().unwrap() {
            "sum" => "sum",
            "gauge" => "gauge",
            "histogram" => "histogram",
            other => panic!("unexpected type {other}"),
        };
        // Every data point of this metric, with where it sits.
        let mut points = Vec::new();
        for rm in arr(&doc, "resourceMetrics") {
            let resource = attrs_of(rm.get("resource").unwrap_or(&Value::Null));
            for sm in arr(rm, "scopeMetrics") {
                let scope = s(sm.get("scope").unwrap_or(&Value::Null), "name");
                for metric in arr(sm, "metrics") {
                    assert_eq!(
                        s(metric, "name"),
                        name,
                        "{ctx} /api/v1/metrics/{name} returned another metric"
                    );
                    let data = metric
                        .get(key)
                        .unwrap_or_else(|| panic!("{ctx} {name} is not a {key}: {metric}"));
                    if key == "sum" {
                        assert_eq!(
                            data.get("isMonotonic"),
                            Some(&json!(true)),
                            "{ctx} {name} is monotonic"
                        );
                        assert_eq!(
                            n(data, "aggregationTemporality"),
                            2,
                            "{ctx} {name} is cumulative"
                        );
                    }
                    if key == "histogram" {
                        assert_eq!(
                            n(data, "aggregationTemporality"),
                            2,
                            "{ctx} {name} is cumulative"
                        );
                    }
                    for p in arr(data, "dataPoints") {
                        points.push((resource.clone(), scope.clone(), p.clone()));
                    }
                }
            }
        }
        assert!(!points.is_empty(), "{ctx} no points for {name}: {doc}");
        for (resource, scope, _) in &points {
            assert_eq!(
                resource.get("service.name"),
                Some(&json!({ "string": "kestra" })),
                "{ctx} {name} resource"
            );
            assert_eq!(
                scope, "io.kestra.core.metrics.MetricRegistry",
                "{ctx} {name} scope"
            );
        }
        for wp in arr(w, "points") {
            let wa = js_attrs(&wp["attributes"]);
            let matching: Vec<&Value> = points
                .iter()
                .filter(|(_, _, p)| attrs_of(p) == wa)
                .map(|(_, _, p)| p)
                .collect();
            assert!(
                !matching.is_empty(),
                "{ctx} {name}: no point with attributes {wa:?} in {doc}"
            );
            for p in matching {
                if key == "histogram" {
                    assert_eq!(
                        n(p, "count"),
                        wp["count"].as_i64().unwrap() as i128,
                        "{ctx} {name} count for {wa:?}"
                    );
                    assert!(
                        (f(p, "sum") - wp["sum"].as_f64().unwrap()).abs() < 1e-9,
                        "{ctx} {name} sum for {wa:?}: {p}"
                    );
                    let buckets: i128 = arr(p, "bucketCounts")
                        .iter()
                        .map(|b| n(&json!({ "b": b }), "b"))
                        .sum();
                    assert_eq!(
                        buckets,
                        n(p, "count"),
                        "{ctx} {name} bucket counts add up: {p}"
                    );
                    assert_eq!(
                        arr(p, "bucketCounts").len(),
                        arr(p, "explicitBounds").len() + 1,
                        "{ctx} {name} buckets: {p}"
                    );
                } else {
                    let v = if p.get("asDouble").is_some() {
                        f(p, "asDouble")
                    } else {
                        n(p, "asInt") as f64
                    };
                    assert_eq!(
                        v,
                        wp["value"].as_f64().unwrap(),
                        "{ctx} {name} value for {wa:?}: {p}"
                    );
                }
                assert!(n(p, "timeUnixNano") > 0, "{ctx} {name} point time: {p}");
            }
        }
    }
}
