//! Browser end-to-end of the rule editor: `ui/e2e/alerts.mjs` drives
//! headless Chromium against a real `loupe serve` holding the Node SDK's
//! Kestra-shaped workload — builds the seed's rule, sees the never-matches
//! warning, previews the fix (before and after, each backtested), applies
//! the OR of whole branches, backtests and saves. Needs what `browser.rs`
//! needs (ui/node_modules, tests/e2e/node/node_modules, /usr/bin/chromium).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The script's own waits are shorter; this only stops a hung Chromium.
const TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn the_rule_editor_works_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "run `scripts/build-ui` (or `npm ci --prefix ui`) first"
    );
    let loupe = common::Loupe::start();
    // The workload: one Kestra-shaped run with a failed task.
    let node = root.join("tests/e2e/node");
    let out = Command::new("node")
        .arg(node.join("workload.mjs"))
        .current_dir(&node)
        .env("LOUPE_PROTOCOL", "http/protobuf")
        .env("LOUPE_HTTP_ENDPOINT", format!("http://{}", loupe.http))
        .env("LOUPE_RUN", format!("ui{}", std::process::id()))
        .stdin(Stdio::null())
        .output()
        .expect("node on PATH (and `npm ci --prefix tests/e2e/node`)");
    assert!(
        out.status.success(),
        "workload: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    common::run_e2e(
        "alerts.mjs",
        &[&format!("http://{}", loupe.api)],
        &[],
        TIMEOUT,
    );
}
