//! Browser end-to-end: `ui/e2e/browser.mjs` starts the real `loupe serve`,
//! sends a Kestra-shaped workload with the official OpenTelemetry JS SDK and
//! drives headless Chromium through the web UI (search, waterfall, stitched
//! ForEachItem children, lanes, logs, links; then the metric explorer on a
//! counter and a histogram from `tests/e2e/node/metrics.mjs`: split, read-out,
//! drag-to-zoom, legend, percentiles; and the log explorer: search a word,
//! jump to the span, grouping, pause), saving a screenshot per check in
//! `target/browser-artifacts/`.
//!
//! Needs, and fails (never skips) without: a binary built after
//! `scripts/build-ui`, `npm ci --prefix ui` (playwright-core),
//! `npm ci --prefix tests/e2e/node`, and Debian's Chromium at /usr/bin/chromium
//! (`apt-get install -y chromium`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);
const CHROMIUM: &str = "/usr/bin/chromium";

/// `GET /` on a throwaway server, as raw HTTP/1.1 (the body is all we need).
fn front_page() -> String {
    let loupe = common::Loupe::start();
    let mut s = TcpStream::connect(loupe.api).expect("connect to the API address");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        loupe.api
    )
    .unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

#[test]
fn the_web_ui_works_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_loupe");
    let artifacts = root.join("target/browser-artifacts");

    // Prerequisites: each missing one fails with what to run.
    let mut missing = Vec::new();
    if !root
        .join("ui/node_modules/playwright-core/package.json")
        .is_file()
    {
        missing.push("ui/node_modules (playwright-core) is missing: run `scripts/build-ui` (or `npm ci --prefix ui`)".to_string());
    }
    if !Path::new(CHROMIUM).is_file() {
        missing.push(format!(
            "{CHROMIUM} is missing: run `apt-get install -y chromium` (Playwright's own browser download is not used)"
        ));
    }
    if !root
        .join("tests/e2e/node/node_modules/@opentelemetry/sdk-trace-base/package.json")
        .is_file()
    {
        missing.push(
            "tests/e2e/node/node_modules is missing: run `npm ci --prefix tests/e2e/node`"
                .to_string(),
        );
    }
    let page = front_page();
    if page.contains("built without its web UI") {
        missing.push(format!(
            "{bin} was built without its web UI: run `scripts/build-ui`, then rebuild \
             (`cargo test` rebuilds it; ui/dist is embedded at compile time)"
        ));
    } else if !page.contains("/assets/") {
        missing.push(format!("GET / did not return the built UI:\n{page}"));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run:\n  - {}",
        missing.join("\n  - ")
    );

    let mut cmd = Command::new("node");
    cmd.arg(root.join("ui/e2e/browser.mjs"))
        .arg(bin)
        .arg(&artifacts)
        .current_dir(root);
    let common::ScriptRun {
        status,
        stdout,
        stderr,
    } = common::run_script(cmd, TIMEOUT);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("stderr:\n{stderr}");
    }
    match status {
        None => panic!(
            "ui/e2e/browser.mjs did not finish within {TIMEOUT:?} (killed).\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ),
        Some(s) => assert!(
            s.success(),
            "ui/e2e/browser.mjs failed ({s}); screenshots in {}.\nstdout:\n{stdout}\nstderr:\n{stderr}",
            artifacts.display()
        ),
    }
}
