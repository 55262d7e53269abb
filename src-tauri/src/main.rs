//! `loupe`: the command line and, with the default feature `desktop`, the
//! desktop shell (Tauri 2: window, tray, notifications) over
//! the same core that `loupe serve` runs headless. Nothing here decides
//! anything about telemetry: that lives in the crates under `crates/`.

// No console window behind the desktop app on Windows release builds.
#![cfg_attr(
    all(feature = "desktop", not(debug_assertions)),
    windows_subsystem = "windows"
)]

mod cli;
#[cfg(feature = "desktop")]
mod desktop;
mod replay;
mod signals;
mod transfer;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
