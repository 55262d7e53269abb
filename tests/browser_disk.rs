//! Browser check of the low-disk banner: `ui/e2e/disk.mjs` runs against a
//! real `loupe serve` whose `--min-free-disk` no disk meets, so its real
//! disk counts as low (`loupe_store::disk`): an OTLP/HTTP export gets the
//! retryable 503 saying "low disk space", and the traces and settings
//! pages show the banner saying why and what to do. Needs ui/node_modules
//! (playwright-core), /usr/bin/chromium and a binary built after
//! `scripts/build-ui`.

mod common;

use std::path::Path;
use std::time::Duration;

/// The script's own waits are shorter; this only stops a hung Chromium.
const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn low_disk_banner_shows_on_every_page_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "run `scripts/build-ui` (or `npm ci --prefix ui`) first"
    );
    let loupe = common::Loupe::start_with(&["--min-free-disk", "1000TiB"]);
    common::run_e2e(
        "disk.mjs",
        &[
            &format!("http://{}", loupe.api),
            &format!("http://{}", loupe.http),
        ],
        &[],
        TIMEOUT,
    );
}
