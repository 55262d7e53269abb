//! `loupe demo`: the real binary sends its workload to a real `loupe serve`
//! over OTLP/gRPC, and everything a new user is meant to see is there through
//! the API; without a server it fails with one clear line.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use common::Loupe;
use serde_json::Value;

fn demo(endpoint: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(["demo", "--grpc-endpoint", endpoint])
        .env_remove("LOUPE_DEMO_ENDPOINT")
        .output()
        .expect("run loupe demo")
}

/// The 32-hex-digit IDs on the lines of `stdout` starting with `label`.
fn ids_after(stdout: &str, label: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(label))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        .inspect(|id| {
            assert!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{label} {id:?}"
            )
        })
        .collect()
}

fn enc(x: &str) -> String {
    x.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn trace_ids(doc: &Value) -> BTreeSet<String> {
    doc["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["traceId"].as_str().expect("traceId").to_string())
        .collect()
}

#[tokio::test]
async fn demo_fills_a_running_loupe() {
    let loupe = Loupe::start();
    let out = demo(&format!("http://{}", loupe.grpc));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loupe demo: {stdout}{stderr}");
    assert!(stdout.contains("http://127.0.0.1:16686/"), "hint: {stdout}");
    let main = ids_after(&stdout, "main trace");
    assert_eq!(main.len(), 1, "{stdout}");
    let main = &main[0];
    let linked: BTreeSet<String> = ids_after(&stdout, "linked trace").into_iter().collect();
    assert_eq!(linked.len(), 3, "{stdout}");

    let services = loupe.get_json("/api/v1/services").await;
    let services: BTreeSet<&str> = services["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for s in ["upstream", "kestra-webserver", "kestra", "downstream"] {
        assert!(services.contains(s), "service {s} in {services:?}");
    }

    let by_q = loupe
        .get_json(&format!(
            "/api/v1/traces?q={}",
            enc("kestra.flowId = orders_pipeline")
        ))
        .await;
    assert_eq!(trace_ids(&by_q), BTreeSet::from([main.clone()]), "q=");
    let by_attr = loupe
        .get_json(&format!(
            "/api/v1/traces?attr={}",
            enc("kestra.flowId=orders_pipeline")
        ))
        .await;
    assert_eq!(trace_ids(&by_attr), BTreeSet::from([main.clone()]), "attr=");

    let related = loupe
        .get_json(&format!("/api/v1/traces/{main}/related"))
        .await;
    let incoming: BTreeSet<String> = related["related"]
        .as_array()
        .expect("related")
        .iter()
        .filter(|r| r["direction"] == "incoming")
        .map(|r| r["traceId"].as_str().expect("traceId").to_string())
        .collect();
    assert_eq!(incoming, linked, "related: {related}");

    let errors = loupe.get_json("/api/v1/traces?errors=true").await;
    assert_eq!(trace_ids(&errors), BTreeSet::from([main.clone()]), "errors");

    let logs = loupe
        .get_json(&format!("/api/v1/logs?traceId={main}&minSeverity=ERROR"))
        .await;
    let records: Vec<&Value> = logs["resourceLogs"]
        .as_array()
        .expect("resourceLogs")
        .iter()
        .flat_map(|r| r["scopeLogs"].as_array().expect("scopeLogs"))
        .flat_map(|s| s["logRecords"].as_array().expect("logRecords"))
        .collect();
    assert_eq!(records.len(), 1, "{logs}");
    assert_eq!(records[0]["severityText"], "ERROR");
    assert_eq!(records[0]["traceId"], main.as_str());
    // Its span is the failed one.
    let trace = loupe.get_json(&format!("/api/v1/traces/{main}")).await;
    let failed: Vec<&Value> = trace["resourceSpans"]
        .as_array()
        .expect("resourceSpans")
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().expect("scopeSpans"))
        .flat_map(|s| s["spans"].as_array().expect("spans"))
        .filter(|s| s["status"]["code"] == 2)
        .collect();
    assert_eq!(failed.len(), 1, "one failed span");
    assert_eq!(records[0]["spanId"], failed[0]["spanId"]);

    let metrics = loupe.get_json("/api/v1/metrics").await;
    let names: BTreeSet<&str> = metrics["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for m in [
        "kestra.executor.execution.started.count",
        "kestra.worker.job.duration",
        "kestra.worker.running.count",
    ] {
        assert!(names.contains(m), "metric {m} in {names:?}");
    }
}

#[test]
fn demo_without_a_server_says_so() {
    let out = demo("http://127.0.0.1:1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert!(
        stderr.contains(
            "loupe: cannot reach http://127.0.0.1:1: is loupe serve (or the desktop app) running?"
        ),
        "stderr: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
