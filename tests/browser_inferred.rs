//! Browser end-to-end of inferred links: `ui/e2e/inferred.mjs` sends two
//! traces of one Kestra execution that share `kestra.executionId` and no
//! span link to a real `loupe serve`, then checks in headless Chromium that
//! each shows the other as a dashed chip labelled "inferred by
//! kestra.executionId" (apart from span-link chips), that the stitched view
//! hangs it with a dashed, labelled badge both ways, and that turning the
//! rule off on the settings page removes it. Needs ui/node_modules
//! (playwright-core), /usr/bin/chromium and a binary built after
//! `scripts/build-ui`.

mod common;

use std::path::Path;
use std::time::Duration;

/// The script's own waits are shorter; this only stops a hung Chromium.
const TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn inferred_links_are_dashed_labelled_and_switchable_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "run `scripts/build-ui` (or `npm ci --prefix ui`) first"
    );
    let loupe = common::Loupe::start();
    common::run_e2e(
        "inferred.mjs",
        &[
            &format!("http://{}", loupe.api),
            &format!("http://{}", loupe.http),
        ],
        &[],
        TIMEOUT,
    );
}
