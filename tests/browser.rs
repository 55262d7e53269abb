//! Browser end-to-end: `ui/e2e/browser.mjs` starts the real `loupe serve`,
//! sends a Kestra-shaped workload with the official OpenTelemetry JS SDK and
//! drives headless Chromium through the web UI (search, waterfall, stitched
//! ForEachItem children, lanes, logs, links; then the metric explorer on a
//! counter and a histogram from `tests/e2e/node/metrics.mjs`: split, read-out,
//! drag-to-zoom, legend, percentiles; and the log explorer: search a word,
//! jump to the span, grouping, pause; an incomplete trace whose root arrives
//! after its children: placeholders, then the full tree without a reload, and
//! "never arrived" after a short parent grace), saving a screenshot per check in
//! `target/browser-artifacts/`.
//!
//! Needs, and fails (never skips) without: a binary built after
//! `scripts/build-ui`, `npm ci --prefix ui` (playwright-core),
//! `npm ci --prefix tests/e2e/node`, and Debian's Chromium at /usr/bin/chromium
//! (`apt-get install -y chromium`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);
const CHROMIUM: &str = "/usr/bin/chromium";

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
    missing.extend(common::e2e_prerequisites(root, bin));
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
