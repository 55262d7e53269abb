//! Browser end-to-end of the trace-analysis views: `ui/e2e/analysis.mjs`
//! drives headless Chromium against one real `loupe serve` holding
//! `loupe demo --repeat 2` (two runs of the Kestra-shaped workload, the
//! second with one task 1.5 s slower): pick two traces in the list to
//! compare, the compare view and the regression hint naming the slowed
//! task, run history, the critical-path toggle, the statistics sort, the
//! flame graph's zoom, and the service map's edge click; then, on the same
//! Loupe, `ui/e2e/traceui.mjs`: the waterfall's name column (drag, fit,
//! the middle ellipsis at depth 30), context chips and list columns, linked
//! child traces folded in the list, keyboard navigation, the stitched view
//! opened from a child, and the API call in its execution's lane. Needs what
//! `browser.rs` needs (ui/node_modules, /usr/bin/chromium, a binary built
//! after `scripts/build-ui`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn the_analysis_views_work_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "run `scripts/build-ui` (or `npm ci --prefix ui`) first"
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "run `apt-get install -y chromium`"
    );
    let loupe = common::Loupe::start();
    let out = common::loupe_command()
        .args([
            "demo",
            "--repeat",
            "2",
            "--interval",
            "100ms",
            "--grpc-endpoint",
        ])
        .arg(format!("http://{}", loupe.grpc))
        .output()
        .expect("loupe demo");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "loupe demo: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "  main trace      <32 hex>  upstream -> …", once per run.
    let mains: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("main trace"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(mains.len(), 2, "{text}");
    // "  linked trace    <32 hex>  a ForEachItem child execution …", three per run.
    let children: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("linked trace"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(children.len(), 6, "{text}");

    let mut cmd = Command::new("node");
    cmd.arg(root.join("ui/e2e/analysis.mjs"))
        .arg(format!("http://{}", loupe.api))
        .arg(root.join("target/browser-artifacts"))
        .args(&mains)
        .current_dir(root);
    let common::ScriptRun {
        status,
        stdout,
        stderr,
    } = common::run_script(cmd, TIMEOUT);
    println!("{stdout}");
    match status {
        None => panic!("ui/e2e/analysis.mjs did not finish within {TIMEOUT:?}.\n{stdout}\n{stderr}"),
        Some(s) => assert!(
            s.success(),
            "ui/e2e/analysis.mjs failed ({s}); screenshots in target/browser-artifacts.\n{stdout}\n{stderr}"
        ),
    }

    // The second run's main trace and one of its child executions.
    let mut cmd = Command::new("node");
    cmd.arg(root.join("ui/e2e/traceui.mjs"))
        .arg(format!("http://{}", loupe.api))
        .arg(format!("http://{}", loupe.http))
        .arg(root.join("target/browser-artifacts"))
        .arg(mains[1])
        .arg(children[3])
        .current_dir(root);
    let common::ScriptRun {
        status,
        stdout,
        stderr,
    } = common::run_script(cmd, TIMEOUT);
    println!("{stdout}");
    match status {
        None => panic!("ui/e2e/traceui.mjs did not finish within {TIMEOUT:?}.\n{stdout}\n{stderr}"),
        Some(s) => assert!(
            s.success(),
            "ui/e2e/traceui.mjs failed ({s}); screenshots in target/browser-artifacts.\n{stdout}\n{stderr}"
        ),
    }
}
