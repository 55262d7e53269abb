//! Browser end-to-end of the cross-site defences: `ui/e2e/security.mjs`
//! serves an attacker's page from another origin and has headless Chromium
//! try every state-changing route of the route table (no-cors fetches with
//! each simple content type, forms, CORS requests) and hostile `q=` through
//! `<img>`/`<script>`. Nothing may change, nothing may be read, and Loupe
//! stays up. Needs what `browser.rs` needs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_page_on_another_origin_can_neither_change_nor_read_loupe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "run `scripts/build-ui` (or `npm ci --prefix ui`) first"
    );
    let loupe = common::Loupe::start();
    let routes: Vec<_> = common::api_routes()
        .into_iter()
        .map(|(p, m)| serde_json::json!([p, m]))
        .collect();
    assert!(routes.len() > 20, "{routes:?}");
    let mut cmd = Command::new("node");
    cmd.arg(root.join("ui/e2e/security.mjs"))
        .arg(format!("http://{}", loupe.api))
        .arg(format!("http://{}", loupe.http))
        .arg(serde_json::Value::Array(routes).to_string())
        .arg(root.join("target/browser-artifacts"))
        .current_dir(root);
    let run = common::run_script(cmd, Duration::from_secs(240));
    println!("{}", run.stdout);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "ui/e2e/security.mjs failed ({:?}):\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("all attacks refused"), "{}", run.stdout);
}
