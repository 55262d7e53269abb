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

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v3: the 16th option).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// Part of the mimalloc library the allocator above links in.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn main() -> std::process::ExitCode {
    // Memory freed is given back to the OS at once, not after mimalloc's
    // default second: under overload requests come and go faster than
    // that, so the freed-but-kept memory added up to a quarter of the
    // peak RSS (BENCHMARKS.md "Overload": 257 → 196 MB, same throughput).
    // SAFETY: called first, before any other thread exists (the option
    // setter is not thread safe).
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    cli::main()
}
