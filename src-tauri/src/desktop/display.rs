//! Starting without a usable display: GTK aborts with a backtrace when there
//! is none and panics when it cannot open the one named, neither of which
//! tells a user on a server to run `loupe serve` instead. Both become one
//! line on stderr here.

/// The one-line hint for a machine without a display, checked before GTK
/// is touched.
pub fn missing() -> Option<&'static str> {
    if !cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        return None;
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        None
    } else {
        Some(
            "loupe: no display (neither DISPLAY nor WAYLAND_DISPLAY is set) for the desktop window: \
             run `loupe serve` instead and open http://127.0.0.1:16686/ in a browser",
        )
    }
}

/// Runs `open` (building the app, which opens the display) and turns a
/// panic into one line naming the display; `None` after a panic. The
/// default panic hook is back in place afterwards, for real bugs.
pub fn explain_panics<T>(open: impl FnOnce() -> T) -> Option<T> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        let display = std::env::var("DISPLAY")
            .or_else(|_| std::env::var("WAYLAND_DISPLAY"))
            .unwrap_or_default();
        let why = if what.to_ascii_lowercase().contains("gtk") {
            format!("GTK cannot start on display {display:?}")
        } else {
            what.lines().next().unwrap_or(what).to_string()
        };
        eprintln!(
            "loupe: cannot open the window ({why}): is the display reachable? \
             `loupe serve` runs without one"
        );
    }));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(open));
    std::panic::set_hook(default_hook);
    opened.ok()
}
