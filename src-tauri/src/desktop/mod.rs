//! The desktop shell (feature `desktop`): one window over the same core as
//! `loupe serve`, started in-process ([`server`]), and a tray icon
//! ([`tray`]) that keeps it reachable while the window is closed.
//!
//! The window first shows the shell's own start-up page
//! (`src-tauri/shell/`, which also explains taken ports) and, once the
//! server listens, loads the web UI from the API address, exactly as a
//! browser would. That page gets no IPC access (see
//! `src-tauri/capabilities/`). Nothing here decides anything about
//! telemetry.

mod server;
pub(crate) mod tray;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use loupe_server::serve::ServeConfig;
use serde::Serialize;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

use server::{Problem, Server, Status};

pub const WINDOW: &str = "main";
pub const TITLE: &str = "Loupe — OpenTelemetry viewer";

/// The window's size and position are remembered; whether it was visible is
/// not (it always opens).
fn window_state_flags() -> StateFlags {
    StateFlags::all() & !StateFlags::VISIBLE
}

/// Shared by the commands, the tray and the event handlers.
pub struct Shell {
    server: Arc<Server>,
    tray: OnceLock<tray::Tray>,
}

/// The one-line hint for a machine without a display, checked before GTK
/// is touched (GTK would abort with a backtrace).
fn missing_display() -> Option<&'static str> {
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

/// Opens the window and runs until the user quits; the server runs inside.
pub fn run(config: ServeConfig) -> ExitCode {
    if let Some(hint) = missing_display() {
        eprintln!("{hint}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loupe-server")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loupe: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = Server::new(runtime.handle().clone(), config);
    let signals = runtime.handle().clone();

    let builder = tauri::Builder::default()
        // First: a second `loupe` hands over to this one and exits before
        // it binds anything.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_window(app)
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(window_state_flags())
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .manage(Shell {
            server: server.clone(),
            tray: OnceLock::new(),
        })
        .invoke_handler(tauri::generate_handler![
            startup_state,
            retry,
            use_other_ports,
            quit
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            crate::notify::install(&handle);
            create_window(&handle)?;
            match tray::build(&handle) {
                Ok(t) => {
                    let _ = app.state::<Shell>().tray.set(t);
                }
                // No tray (no StatusNotifier host): the window still works.
                Err(e) => tracing::warn!("loupe: no tray icon: {e}"),
            }
            // Window and tray calls wait for the main thread, which may be
            // the one waiting for the server (stop on quit): queue them.
            let on_change = handle.clone();
            server.on_change(move |status| {
                let app = on_change.clone();
                let status = status.clone();
                let _ = on_change.run_on_main_thread(move || status_changed(&app, &status));
            });
            server.start();
            // Ctrl-C or SIGTERM quit as the tray's Quit does.
            let quit = handle.clone();
            signals.spawn(async move {
                crate::signals::shutdown().await;
                quit.exit(0);
            });
            Ok(())
        });
    // GTK panics when the display cannot be opened (DISPLAY set to a dead
    // server, say): one line instead of a backtrace.
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
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder.build(tauri::generate_context!())
    }));
    std::panic::set_hook(default_hook);
    let app = match built {
        Ok(Ok(app)) => app,
        Ok(Err(e)) => {
            eprintln!("loupe: cannot open the window: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => return ExitCode::FAILURE,
    };
    let code = app.run_return(move |app, event| match event {
        // Closing the window hides it (the tray stays); only Quit exits.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            tracing::info!("loupe: quitting: saving the window state, stopping the server");
            let _ = app.save_window_state(window_state_flags());
            app.state::<Shell>().server.stop();
            tracing::info!("loupe: stopped");
        }
        _ => {}
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The URL of the shell's own start-up page.
fn startup_url() -> WebviewUrl {
    WebviewUrl::App("index.html".into())
}

/// The web UI's address for the API's bound address (a wildcard address
/// is reached on loopback).
fn ui_url(api: SocketAddr) -> String {
    let host = match api {
        SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_string(),
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => "[::1]".to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    format!("http://{host}:{}/", api.port())
}

/// Where the window opens the UI: through the login URL when the API needs
/// the access token (remote mode), so the user types nothing.
fn entry_url(bound: &loupe_server::serve::Bound) -> String {
    bound.login_url.clone().unwrap_or_else(|| ui_url(bound.api))
}

fn create_window(app: &AppHandle) -> tauri::Result<tauri::WebviewWindow> {
    let nav = app.clone();
    let window = WebviewWindowBuilder::new(app, WINDOW, startup_url())
        .title(TITLE)
        .inner_size(1280.0, 800.0)
        .min_inner_size(760.0, 480.0)
        // The window stays on the shell's page or the web UI: anything else
        // (a link in telemetry, say) does not replace Loupe in the window.
        .on_navigation(move |url| allowed_navigation(&nav, url))
        // Files dropped on the window reach the page as HTML5 drop events,
        // where the web UI imports them (Tauri's own handler would swallow them).
        .disable_drag_drop_handler()
        .build()?;
    let hide = window.clone();
    let app = app.clone();
    window.on_window_event(move |event| match event {
        WindowEvent::CloseRequested { api, .. } => {
            api.prevent_close();
            let _ = app.save_window_state(window_state_flags());
            let _ = hide.hide();
            first_close_notice(&app);
        }
        // Saved on exit too, but a killed process never gets there.
        WindowEvent::Moved(_) | WindowEvent::Resized(_) => save_window_state_soon(&app),
        _ => {}
    });
    Ok(window)
}

/// Saves the window's size and position half a second after the last move
/// or resize.
fn save_window_state_soon(app: &AppHandle) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let generation = LAST.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if LAST.load(Ordering::SeqCst) == generation {
            let _ = app.save_window_state(window_state_flags());
        }
    });
}

fn allowed_navigation(app: &AppHandle, url: &tauri::Url) -> bool {
    match url.scheme() {
        "tauri" | "about" => true,
        "http" if url.host_str() == Some("tauri.localhost") => true,
        "http" => match app.state::<Shell>().server.status() {
            Status::Ready(r) => same_origin(url, &ui_url(r.bound.api)),
            _ => false,
        },
        _ => false,
    }
}

fn same_origin(url: &tauri::Url, base: &str) -> bool {
    base.parse::<tauri::Url>()
        .is_ok_and(|b| b.origin() == url.origin())
}

/// The first time the window is closed, says that Loupe keeps receiving.
fn first_close_notice(app: &AppHandle) {
    static SAID: OnceLock<()> = OnceLock::new();
    if SAID.set(()).is_ok() && app.state::<Shell>().tray.get().is_some() {
        crate::notify::notify(
            "Loupe keeps receiving telemetry",
            "It is in the tray: open the window from there, or quit.",
        );
    }
}

/// Shows, unminimizes and focuses the window (re-creating it if it was destroyed).
pub fn show_window(app: &AppHandle) {
    let window = match app.get_webview_window(WINDOW) {
        Some(w) => w,
        None => match create_window(app) {
            Ok(w) => {
                if let Status::Ready(r) = app.state::<Shell>().server.status() {
                    navigate(&w, &entry_url(&r.bound));
                }
                w
            }
            Err(e) => {
                tracing::warn!("loupe: cannot open the window: {e}");
                return;
            }
        },
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

fn navigate(window: &tauri::WebviewWindow, url: &str) {
    match url.parse() {
        Ok(u) => {
            if let Err(e) = window.navigate(u) {
                tracing::warn!("loupe: cannot load {url}: {e}");
            }
        }
        Err(e) => tracing::warn!("loupe: bad URL {url}: {e}"),
    }
}

/// Called on the main thread after the server's status changed.
fn status_changed(app: &AppHandle, status: &Status) {
    let window = app.get_webview_window(WINDOW);
    match status {
        Status::Ready(r) => {
            if let Some(w) = &window {
                navigate(w, &entry_url(&r.bound));
            }
        }
        Status::Failed(_) | Status::Stopped => {
            // Back to the start-up page, which explains and offers a retry.
            if let Some(w) = &window {
                let on_ui = w
                    .url()
                    .is_ok_and(|u| u.scheme() == "http" && u.host_str() != Some("tauri.localhost"));
                if on_ui {
                    navigate(w, STARTUP_PAGE);
                }
                if matches!(status, Status::Failed(_)) {
                    show_window(app);
                }
            }
        }
        Status::Starting => {}
    }
    tray::refresh(app);
}

/// The start-up page's URL on this platform (Tauri's asset protocol).
const STARTUP_PAGE: &str = if cfg!(windows) {
    "http://tauri.localhost/index.html"
} else {
    "tauri://localhost/index.html"
};

// ---------------------------------------------------------------------------
// Commands of the start-up page (allowed by src-tauri/capabilities/main.json).
// ---------------------------------------------------------------------------

/// The server's state as the start-up page sees it.
#[derive(Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
enum StartupState {
    Starting,
    Ready {
        #[serde(rename = "uiUrl")]
        ui_url: String,
    },
    Failed {
        problem: Problem,
    },
    Stopped,
}

#[tauri::command]
fn startup_state(shell: tauri::State<'_, Shell>) -> StartupState {
    match shell.server.status() {
        Status::Starting => StartupState::Starting,
        Status::Ready(r) => StartupState::Ready {
            ui_url: ui_url(r.bound.api),
        },
        Status::Failed(problem) => StartupState::Failed { problem },
        Status::Stopped => StartupState::Stopped,
    }
}

#[tauri::command]
fn retry(shell: tauri::State<'_, Shell>) {
    shell.server.start();
}

#[tauri::command]
fn use_other_ports(shell: tauri::State<'_, Shell>) {
    shell.server.start_on_other_ports();
}

#[tauri::command]
fn quit(app: AppHandle) {
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_url_reaches_wildcards_on_loopback() {
        let u = |s: &str| ui_url(s.parse().unwrap());
        assert_eq!(u("127.0.0.1:16686"), "http://127.0.0.1:16686/");
        assert_eq!(u("0.0.0.0:16686"), "http://127.0.0.1:16686/");
        assert_eq!(u("[::]:1"), "http://[::1]:1/");
        assert_eq!(u("[::1]:2"), "http://[::1]:2/");
    }

    #[test]
    fn the_window_stays_on_the_ui_origin() {
        let url = |s: &str| s.parse::<tauri::Url>().unwrap();
        let base = "http://127.0.0.1:3674/";
        assert!(same_origin(
            &url("http://127.0.0.1:3674/trace/abc?x=1"),
            base
        ));
        assert!(!same_origin(&url("http://127.0.0.1:36749/"), base));
        assert!(!same_origin(&url("https://127.0.0.1:3674/"), base));
        assert!(!same_origin(&url("http://example.com:3674/"), base));
    }
}
