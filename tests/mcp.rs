//! MCP and the terminal query commands, end to end: a real `loupe serve`
//! with the `loupe demo` workload, driven by the official MCP Python SDK
//! (tests/e2e/mcp/client.py) over stdio (`loupe mcp`) and Streamable HTTP
//! (`/mcp`), and the real `loupe traces|trace|logs|metrics|alerts`.
//!
//! Needs Python 3 with `mcp` and `jsonschema` in tests/e2e/mcp/.venv
//! (`scripts/setup` with LOUPE_SETUP_MCP=1 installs them); without them the
//! MCP test fails (it never skips).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{loupe_command, run_script, Loupe};

/// `loupe demo` into `loupe`: the main trace and the linked ones.
fn demo(loupe: &Loupe) -> (String, Vec<String>) {
    let out = loupe_command()
        .args(["demo", "--grpc-endpoint", &format!("http://{}", loupe.grpc)])
        .output()
        .expect("run loupe demo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "loupe demo: {stdout}");
    let ids = |label: &str| -> Vec<String> {
        stdout
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix(label))
            .filter_map(|r| r.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let main = ids("main trace").pop().expect("main trace id");
    (main, ids("linked trace"))
}

fn python() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/mcp/.venv/bin/python")
}

#[test]
fn mcp_clients_over_stdio_and_http() {
    let py = python();
    assert!(
        py.is_file(),
        "{} is missing: run `LOUPE_SETUP_MCP=1 scripts/setup` (a venv with the `mcp` Python SDK)",
        py.display()
    );
    let loupe = Loupe::start();
    let (main, linked) = demo(&loupe);
    assert_eq!(linked.len(), 3);
    let started = Instant::now();
    let mut cmd = Command::new(py);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/mcp/client.py"))
        .args(["--loupe", env!("CARGO_BIN_EXE_loupe")])
        .args(["--api", &loupe.api_url("")])
        .args(["--otlp-http", &loupe.http_url("")])
        .args(["--main", &main])
        .args(["--linked", &linked.join(",")])
        .args(["--big-spans", "20000"]);
    let run = run_script(cmd, Duration::from_secs(600));
    assert!(
        run.status.is_some_and(|s| s.success()),
        "client.py failed after {:?}\n--- stdout\n{}\n--- stderr\n{}",
        started.elapsed(),
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("[stdio] big trace"), "{}", run.stdout);
    assert!(run.stdout.contains("[http] big trace"), "{}", run.stdout);
    eprintln!("{}", run.stdout);
}

fn loupe_cli(args: &[&str]) -> Output {
    loupe_command().args(args).output().expect("run loupe")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn terminal_commands_and_exit_codes() {
    let loupe = Loupe::start();
    let (main, _) = demo(&loupe);
    let api = loupe.api_url("");

    let o = loupe_cli(&["traces", "--api", &api, "--errors", "--since", "15m"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("TRACE "), "{out}");
    assert!(out.contains(&main), "{out}");

    let o = loupe_cli(&["traces", "--api", &api, "--service", "nobody", "--json"]);
    assert_eq!(o.status.code(), Some(1), "no match is exit 1: {}", text(&o));
    assert!(o.stdout.is_empty());

    let o = loupe_cli(&["traces", "--api", &api, "--json", "--limit", "2"]);
    assert_eq!(o.status.code(), Some(0));
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON");
        assert!(v["traceId"].is_string());
    }

    let o = loupe_cli(&["trace", &main, "--api", &api]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" ERROR: Command failed with exit code 1"),
        "{out}"
    );
    assert!(out.contains(&format!("{api}/trace/{main}")), "{out}");
    let o = loupe_cli(&["trace", "0123456789abcdef0123456789abcdef", "--api", &api]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = loupe_cli(&["logs", "--api", &api, "--severity", "error"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Command failed"));

    let o = loupe_cli(&["metrics", "--api", &api]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("kestra.worker.job.duration"));
    let o = loupe_cli(&["metrics", "kestra.worker.running.count", "--api", &api]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("MIN"));

    let o = loupe_cli(&["alerts", "--api", &api]);
    assert_eq!(o.status.code(), Some(1), "no alert is exit 1: {}", text(&o));

    // Nothing running there: exit 2 and a clear line.
    let o = loupe_cli(&["traces", "--api", "http://127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no Loupe answers at http://127.0.0.1:9"),
        "{}",
        text(&o)
    );
}

#[test]
fn logs_follow_shows_a_record_sent_after_it_started() {
    let loupe = Loupe::start();
    let mut child = loupe_command()
        .args(["logs", "--follow", "--api", &loupe.api_url("")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("loupe logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Let it start polling, then send one record.
    std::thread::sleep(Duration::from_millis(1500));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let body = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tail-svc"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": now.to_string(), "severityNumber": 9,
            "body": {"stringValue": "followed record 4242 password=hunter2"}}]}]}]});
    let status = Command::new("curl")
        .args(["-sf", "-H", "Content-Type: application/json", "-d"])
        .arg(body.to_string())
        .arg(loupe.http_url("/v1/logs"))
        .stdout(Stdio::null())
        .status()
        .expect("curl");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("tail-svc") => break Some(l),
            Ok(l) => seen.push(l),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = found.unwrap_or_else(|| panic!("the record never showed; saw {seen:?}"));
    assert!(!line.contains("hunter2"), "redacted: {line}");
}
