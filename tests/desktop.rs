//! Desktop end-to-end: `src-tauri/e2e/desktop.mjs` drives the real app (this
//! package's binary, built with the default `desktop` feature) in a real
//! window under Xvfb over WebDriver (tauri-driver + WebKitWebDriver): a
//! taken port is explained with its holder, Retry loads the web UI from the
//! API address, telemetry from the OpenTelemetry JS SDK shows up in the
//! window and opens as a waterfall, a rule that fires on it raises an OS
//! notification (a Notify answered by `notification-daemon` on the test's
//! session bus) and puts "1 firing" on the tray (its StatusNotifierItem
//! label, read on that bus) and in the window title, and a second launch
//! hands over to the first (single instance). Screenshots go to
//! `target/desktop-artifacts/`.
//!
//! Needs, and fails (never skips) without: `tauri-driver`
//! (`cargo install tauri-driver --locked`), `WebKitWebDriver`
//! (`webkit2gtk-driver`), `Xvfb`, `dbus-daemon`, `dbus-monitor`, `busctl`,
//! `notification-daemon`, `xprop`/`xwininfo` (`x11-utils`), a binary built after
//! `scripts/build-ui`, and `npm ci --prefix tests/e2e/node`. `scripts/setup`
//! installs them all.

#![cfg(feature = "desktop")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(240);
const WEBKIT_DRIVER: &str = "/usr/bin/WebKitWebDriver";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn tauri_driver() -> Option<PathBuf> {
    on_path("tauri-driver").or_else(|| {
        let p = PathBuf::from(std::env::var_os("HOME")?).join(".cargo/bin/tauri-driver");
        p.is_file().then_some(p)
    })
}

/// Runs the window without a working display: `display` is `None` (unset)
/// or a display nobody serves. Answers the exit code and stderr.
fn window_without_display(display: Option<&str>) -> (Option<i32>, String) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cmd = common::loupe_command();
    match display {
        Some(d) => cmd.env("DISPLAY", d),
        None => cmd.env_remove("DISPLAY"),
    };
    let out = cmd
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("LOUPE_DATA_DIR", data.path())
        .env("LOUPE_API_ADDR", "127.0.0.1:0")
        .env("LOUPE_GRPC_ADDR", "127.0.0.1:0")
        .env("LOUPE_HTTP_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .output()
        .expect("run loupe");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.trim().lines().count(), 1, "one line, got: {stderr}");
    (out.status.code(), stderr)
}

#[test]
fn no_display_gives_a_one_line_hint() {
    let (code, stderr) = window_without_display(None);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("loupe serve") && stderr.contains("DISPLAY"),
        "the hint should name the missing display and `loupe serve`: {stderr}"
    );
}

#[test]
fn a_dead_display_gives_a_one_line_error() {
    // No X server listens there (Xvfb -displayfd starts at :0).
    let (code, stderr) = window_without_display(Some(":64999"));
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(":64999") && stderr.contains("loupe serve"),
        "the error should name the display and `loupe serve`: {stderr}"
    );
}

#[test]
fn the_desktop_window_works() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_loupe");
    let artifacts = root.join("target/desktop-artifacts");

    // Prerequisites: each missing one fails with what to run.
    let mut missing = Vec::new();
    if tauri_driver().is_none() {
        missing.push(
            "tauri-driver is missing: run `cargo install tauri-driver --locked` (scripts/setup does)"
                .to_string(),
        );
    }
    for (path, package) in [
        (WEBKIT_DRIVER, "webkit2gtk-driver"),
        ("Xvfb", "xvfb"),
        ("dbus-daemon", "dbus-daemon"),
        ("dbus-monitor", "dbus-bin"),
        ("busctl", "systemd"),
        ("xprop", "x11-utils"),
        ("xwininfo", "x11-utils"),
        (
            "/usr/lib/notification-daemon/notification-daemon",
            "notification-daemon",
        ),
    ] {
        let found = if path.starts_with('/') {
            Path::new(path).is_file()
        } else {
            on_path(path).is_some()
        };
        if !found {
            missing.push(format!(
                "{path} is missing: run `apt-get install -y {package}` (scripts/setup does)"
            ));
        }
    }
    missing.extend(common::e2e_prerequisites(root, bin));
    assert!(
        missing.is_empty(),
        "the desktop test cannot run:\n  - {}",
        missing.join("\n  - ")
    );

    let mut cmd = Command::new("node");
    cmd.arg(root.join("src-tauri/e2e/desktop.mjs"))
        .arg(bin)
        .arg(&artifacts)
        .current_dir(root);
    if let Some(driver) = tauri_driver() {
        cmd.env("LOUPE_TAURI_DRIVER", driver);
    }
    // Its own process group: Xvfb, dbus-daemon, tauri-driver,
    // WebKitWebDriver and the app all go with it at the end.
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
            "src-tauri/e2e/desktop.mjs did not finish within {TIMEOUT:?} (killed).\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ),
        Some(s) => assert!(
            s.success(),
            "src-tauri/e2e/desktop.mjs failed ({s}); screenshots in {}.\nstdout:\n{stdout}\nstderr:\n{stderr}",
            artifacts.display()
        ),
    }
}
