//! Durability and start-up failures of the real `loupe serve` binary: what
//! was acknowledged survives a SIGKILL right after the ack; a database from
//! a newer Loupe and a port in use stop it with a clear message.

mod common;
mod fixtures;

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::Loupe;
use fixtures::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;

async fn trace_names(l: &Loupe, tid: &[u8]) -> Vec<String> {
    span_names(
        &l.get_json(&format!("/api/v1/traces/{}", hex::encode(tid)))
            .await,
    )
}

async fn log_count(l: &Loupe, service: &str) -> usize {
    count_log_records(&l.get_json(&format!("/api/v1/logs?service={service}")).await)
}

async fn point_count(l: &Loupe, metric: &str) -> usize {
    count_data_points(&l.get_json(&format!("/api/v1/metrics/{metric}")).await)
}

async fn post_ok(l: &Loupe, path: &str, content_type: &str, body: Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(l.http_url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = resp.status();
    assert_eq!(status, reqwest::StatusCode::OK, "{:?}", resp.text().await);
}

#[tokio::test]
async fn acknowledged_data_survives_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();

    // Traces over gRPC: several exports, SIGKILL right after the last ack.
    let l = Loupe::start_in(dir, &[]);
    let mut client = TraceServiceClient::connect(format!("http://{}", l.grpc))
        .await
        .expect("connect");
    let mut trace_ids = Vec::new();
    for i in 0..5 {
        let (tid, req) = trace_request("restart", i + 1);
        client.export(req).await.expect("export traces");
        trace_ids.push(tid);
    }
    drop(client);
    l.kill();

    let l = Loupe::start_in(dir, &[]);
    for (i, tid) in trace_ids.iter().enumerate() {
        assert_eq!(trace_names(&l, tid).await.len(), i + 1, "trace {i}");
    }

    // Logs over OTLP/HTTP JSON.
    let records = (0..10)
        .map(|i| log_record(&format!("line {i}"), &trace_ids[0]))
        .collect();
    post_ok(
        &l,
        "/v1/logs",
        "application/json",
        serde_json::to_vec(&logs("restart", records)).expect("json"),
    )
    .await;
    l.kill();

    let l = Loupe::start_in(dir, &[]);
    assert_eq!(log_count(&l, "restart").await, 10);
    assert_eq!(trace_names(&l, &trace_ids[4]).await.len(), 5);

    // Metrics over OTLP/HTTP protobuf.
    post_ok(
        &l,
        "/v1/metrics",
        "application/x-protobuf",
        metrics_request("restart", "restart.gauge", 7).encode_to_vec(),
    )
    .await;
    l.kill();

    let l = Loupe::start_in(dir, &[]);
    assert_eq!(point_count(&l, "restart.gauge").await, 7);
    assert_eq!(log_count(&l, "restart").await, 10);
    let v = l.get_json("/api/v1/traces?service=restart").await;
    assert_eq!(v["traces"].as_array().map(Vec::len), Some(5), "{v}");
    drop(l);
}

/// Runs `loupe serve` to its end (or fails the test after `limit`).
fn run_serve(dir: &Path, addrs: [&str; 3], limit: Duration) -> (ExitStatus, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--grpc-addr", addrs[0], "--http-addr", addrs[1]])
        .args(["--api-addr", addrs[2]])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loupe serve");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loupe serve still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    (status, reader.join().expect("stderr reader"), elapsed)
}

const ANY_PORT: &str = "127.0.0.1:0";

#[tokio::test]
async fn a_database_from_a_newer_loupe_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let l = Loupe::start_in(dir, &[]);
    let (_, req) = trace_request("newer", 1);
    post_ok(
        &l,
        "/v1/traces",
        "application/x-protobuf",
        req.encode_to_vec(),
    )
    .await;
    // A clean stop checkpoints the WAL, so the file header is current.
    l.stop();

    let db = dir.join(loupe_store::DB_FILE);
    let newer = loupe_store::SCHEMA_VERSION + 1;
    // `PRAGMA user_version` is the big-endian u32 at offset 60 of the
    // SQLite header; patching it keeps SQL out of this crate's tests.
    write_user_version(&db, newer as u32);

    let (status, stderr, _) = run_serve(dir, [ANY_PORT; 3], Duration::from_secs(15));
    assert!(!status.success(), "{status}: {stderr}");
    assert!(stderr.contains("newer Loupe"), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");

    // Refused, not touched.
    assert_eq!(read_user_version(&db), newer as u32);
}

fn write_user_version(db: &std::path::Path, v: u32) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(db)
        .expect("open the database");
    f.seek(SeekFrom::Start(60)).expect("seek");
    f.write_all(&v.to_be_bytes()).expect("write user_version");
}

fn read_user_version(db: &std::path::Path) -> u32 {
    let bytes = std::fs::read(db).expect("read the database");
    u32::from_be_bytes(bytes[60..64].try_into().expect("header"))
}

#[tokio::test]
async fn a_port_in_use_stops_loupe_with_the_flag_to_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();

    let (status, stderr, elapsed) = run_serve(
        tmp.path(),
        [&addr, ANY_PORT, ANY_PORT],
        Duration::from_secs(15),
    );
    assert!(!status.success(), "{status}: {stderr}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("--grpc-addr"), "{stderr}");
    drop(taken);
}
