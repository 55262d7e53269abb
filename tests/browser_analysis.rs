//! Browser end-to-end of the trace-analysis views: `ui/e2e/analysis.mjs`
//! drives headless Chromium against one real `loupe serve` holding
//! `loupe demo --repeat 2` (two runs of the Kestra-shaped workload, the
//! second with one task 1.5 s slower): pick two traces in the list to
//! compare, the compare view and the regression hint naming the slowed
//! task, run history, the critical-path toggle, the statistics sort, the
//! flame graph's zoom, and the service map's edge click. Then, on the same
//! Loupe, `ui/e2e/traceui.mjs`: the waterfall's name column (drag, fit,
//! the middle ellipsis at depth 30), context chips and list columns, linked
//! child traces folded in the list, keyboard navigation, the stitched view
//! opened from a child, and the API call in its execution's lane. Last,
//! `ui/e2e/look.mjs` walks every page in the light and the dark theme
//! (picked with the theme switch) and fails on a browser-default control, a
//! page without padding, a white slab in the dark theme or an unreadable bar
//! label. Needs what `browser.rs` needs (ui/node_modules, /usr/bin/chromium,
//! a binary built after `scripts/build-ui`).

mod common;

use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(90);
/// Both themes, twelve pages each (about 40 s on a busy 2-core machine).
const LOOK_TIMEOUT: Duration = Duration::from_secs(120);

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

    let api = format!("http://{}", loupe.api);
    let analysis: Vec<String> = mains.iter().map(|m| m.to_string()).collect();
    common::run_e2e("analysis.mjs", &[&api], &analysis, TIMEOUT);
    // The second run's main trace and one of its child executions.
    let http = format!("http://{}", loupe.http);
    let traceui = [mains[1].to_string(), children[3].to_string()];
    common::run_e2e("traceui.mjs", &[&api, &http], &traceui, TIMEOUT);
    common::run_e2e("look.mjs", &[&api], &analysis, LOOK_TIMEOUT);
}
