//! Forwarding between two real `loupe serve` processes on loopback: what
//! the first one stores (after its filters) reaches the second over
//! OTLP/gRPC and OTLP/HTTP, survives the second one restarting, and what
//! cannot be queued while the upstream is down is counted as dropped.

mod common;
mod fixtures;

use std::time::{Duration, Instant};

use common::Loupe;
use fixtures::*;
use prost::Message;

async fn post_traces(l: &Loupe, req: &loupe_model::otlp::ExportTraceServiceRequest) {
    let resp = reqwest::Client::new()
        .post(l.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);
}

/// The trace's span count on `l`, once it has `want` spans; panics after
/// a generous deadline (forwarding is asynchronous).
async fn wait_for_trace(l: &Loupe, tid: &[u8; 16], want: usize) {
    let url = l.api_url(&format!("/api/v1/traces/{}", hex::encode(tid)));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = reqwest::get(&url).await.expect("GET");
        if resp.status() == 200 {
            let v: serde_json::Value = resp.json().await.expect("json");
            if span_names(&v).len() == want {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "trace {} never reached {} on {}",
            hex::encode(tid),
            want,
            l.api
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn forwards_to_a_second_loupe_and_survives_its_restart() {
    let up_dir = tempfile::tempdir().expect("tempdir");
    let upstream = Loupe::start_in(up_dir.path(), &[]);
    let (up_grpc, up_http) = (upstream.grpc, upstream.http);
    let grpc_endpoint = format!("http://{up_grpc}");
    let http_endpoint = format!("http://{up_http}");
    let via_grpc = Loupe::start_with(&["--forward-endpoint", &grpc_endpoint]);
    let via_http = Loupe::start_with(&[
        "--forward-endpoint",
        &http_endpoint,
        "--forward-protocol",
        "http",
    ]);

    let (t1, req) = trace_request("forwarded", 3);
    post_traces(&via_grpc, &req).await;
    let (t2, req) = trace_request("forwarded", 2);
    post_traces(&via_http, &req).await;
    wait_for_trace(&upstream, &t1, 3).await;
    wait_for_trace(&upstream, &t2, 2).await;
    // Loupe keeps its own copy.
    wait_for_trace(&via_grpc, &t1, 3).await;

    // The upstream goes away; the forwarders keep accepting and storing.
    upstream.stop();
    let (t3, req) = trace_request("while-down", 4);
    post_traces(&via_grpc, &req).await;
    let (t4, req) = trace_request("while-down", 1);
    post_traces(&via_http, &req).await;
    wait_for_trace(&via_grpc, &t3, 4).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = via_grpc.get_json("/health").await;
        assert_eq!(
            h["status"], "UP",
            "the upstream does not make Loupe DOWN: {h}"
        );
        if h["details"]["forward"]["status"] == "RETRYING" {
            assert!(h["details"]["forward"]["lastError"].is_string(), "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "forwarding never noticed: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back on the same ports and data: the queued batches arrive.
    let upstream = Loupe::start_in(
        up_dir.path(),
        &[
            "--grpc-addr",
            &up_grpc.to_string(),
            "--http-addr",
            &up_http.to_string(),
        ],
    );
    wait_for_trace(&upstream, &t3, 4).await;
    wait_for_trace(&upstream, &t4, 1).await;
    wait_for_trace(&upstream, &t1, 3).await;
    // The upstream answers after committing, so the count follows shortly.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = via_grpc.get_json("/health").await;
        assert_eq!(h["details"]["forward"]["dropped"], 0, "{h}");
        if h["details"]["forward"]["sent"] == 7 {
            break;
        }
        assert!(Instant::now() < deadline, "sent never reached 7: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    // Nothing listens on this port: bind one, note it, close it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    // Bounded in batches, then in bytes (one batch always enters an empty queue).
    for bound in ["queue_batches = 1", "queue_bytes = \"1B\""] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("loupe.toml");
        std::fs::write(
            &config,
            format!("[forward]\nendpoint = \"http://{dead}\"\n{bound}\n"),
        )
        .expect("write");
        let l = Loupe::start_with(&["--config", config.to_str().expect("utf-8")]);
        for _ in 0..5 {
            let (_, req) = trace_request("dropped", 1);
            post_traces(&l, &req).await;
        }
        // One batch is being retried, at most one waits: at least three are dropped.
        let h = l.get_json("/health").await;
        let dropped = h["details"]["forward"]["dropped"]
            .as_u64()
            .expect("dropped");
        assert!(dropped >= 3, "{bound}: {h}");
        assert_eq!(h["details"]["forward"]["sent"], 0, "{h}");
        let text = reqwest::get(l.api_url("/metrics"))
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(
                    "loupe_forward_items_dropped_total{signal=\"traces\",reason=\"queue_full\"}",
                )
            })
            .unwrap_or_else(|| panic!("{text}"));
        let n: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("value");
        assert_eq!(n as u64, dropped);
        // Stored locally all the same.
        let traces = l.get_json("/api/v1/traces?service=dropped").await;
        assert_eq!(
            traces["traces"].as_array().map(|a| a.len()),
            Some(5),
            "{traces}"
        );
    }
}
