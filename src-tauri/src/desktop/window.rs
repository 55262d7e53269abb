//! The one window: it opens on the shell's own start-up page
//! (`src-tauri/shell/`, which also explains taken ports) and, once the
//! server listens, loads the web UI from the API address, exactly as a
//! browser would; it goes back to the start-up page when the server stops.
//! Closing it only hides it (the tray stays). Everything it needs from the
//! rest of the shell is in [`Window`], so it depends on the server alone.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

use super::server::{Server, Status};

pub const LABEL: &str = "main";
pub const TITLE: &str = "Loupe — OpenTelemetry viewer";

/// The start-up page's URL on this platform (Tauri's asset protocol).
const STARTUP_PAGE: &str = if cfg!(windows) {
    "http://tauri.localhost/index.html"
} else {
    "tauri://localhost/index.html"
};

/// The window's size and position are remembered; whether it was visible is
/// not (it always opens).
pub fn state_flags() -> StateFlags {
    StateFlags::all() & !StateFlags::VISIBLE
}

/// Creates, shows and steers the window. Cloned into the window's event
/// handlers, which outlive any one call.
#[derive(Clone)]
pub struct Window {
    server: Arc<Server>,
    /// Called after closing hid the window.
    on_hidden: Arc<dyn Fn(&AppHandle) + Send + Sync>,
    /// Counts moves and resizes, so only the last of a burst saves.
    moves: Arc<AtomicU64>,
}

impl Window {
    pub fn new(
        server: Arc<Server>,
        on_hidden: impl Fn(&AppHandle) + Send + Sync + 'static,
    ) -> Window {
        Window {
            server,
            on_hidden: Arc::new(on_hidden),
            moves: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Opens the window on the start-up page.
    pub fn create(&self, app: &AppHandle) -> tauri::Result<WebviewWindow> {
        let server = self.server.clone();
        let window = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
            .title(TITLE)
            .inner_size(1280.0, 800.0)
            .min_inner_size(760.0, 480.0)
            // The window stays on the shell's page or the web UI: anything else
            // (a link in telemetry, say) does not replace Loupe in the window.
            .on_navigation(move |url| allowed_navigation(&server, url))
            // Files dropped on the window reach the page as HTML5 drop events,
            // where the web UI imports them (Tauri's own handler would swallow them).
            .disable_drag_drop_handler()
            .build()?;
        let hide = window.clone();
        let app = app.clone();
        let me = self.clone();
        window.on_window_event(move |event| match event {
            WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                let _ = app.save_window_state(state_flags());
                let _ = hide.hide();
                (me.on_hidden)(&app);
            }
            // Saved on exit too, but a killed process never gets there.
            WindowEvent::Moved(_) | WindowEvent::Resized(_) => me.save_state_soon(&app),
            _ => {}
        });
        Ok(window)
    }

    /// Shows, unminimizes and focuses the window (re-creating it if it was
    /// destroyed).
    pub fn show(&self, app: &AppHandle) {
        let window = match app.get_webview_window(LABEL) {
            Some(w) => w,
            None => match self.create(app) {
                Ok(w) => {
                    if let Status::Ready(r) = self.server.status() {
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

    /// After the server's status changed (on the main thread): the web UI
    /// once it listens, else the start-up page, which explains a failure
    /// and offers a retry (shown, so the user sees it).
    pub fn follow(&self, app: &AppHandle, status: &Status) {
        let Some(w) = app.get_webview_window(LABEL) else {
            return;
        };
        match status {
            Status::Ready(r) => navigate(&w, &entry_url(&r.bound)),
            Status::Failed(_) | Status::Stopped => {
                let on_ui = w
                    .url()
                    .is_ok_and(|u| u.scheme() == "http" && u.host_str() != Some("tauri.localhost"));
                if on_ui {
                    navigate(&w, STARTUP_PAGE);
                }
                if matches!(status, Status::Failed(_)) {
                    self.show(app);
                }
            }
            Status::Starting => {}
        }
    }

    /// Saves the window's size and position half a second after the last
    /// move or resize.
    fn save_state_soon(&self, app: &AppHandle) {
        let generation = self.moves.fetch_add(1, Ordering::SeqCst) + 1;
        let moves = self.moves.clone();
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if moves.load(Ordering::SeqCst) == generation {
                let _ = app.save_window_state(state_flags());
            }
        });
    }
}

/// The title says what the tray's tooltip says, for a window without a
/// look at the tray: paused ingest, firing alerts (`firing`, "" for none).
pub fn set_title(app: &AppHandle, paused: bool, firing: &str) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let suffix = if paused { " (ingest paused)" } else { "" };
        let _ = w.set_title(&format!("{TITLE}{suffix}{firing}"));
    }
}

/// The web UI's address for the API's bound address (a wildcard address
/// is reached on loopback).
pub fn ui_url(api: SocketAddr) -> String {
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
fn entry_url(bound: &loupe_app::Bound) -> String {
    bound.login_url.clone().unwrap_or_else(|| ui_url(bound.api))
}

fn navigate(window: &WebviewWindow, url: &str) {
    match url.parse() {
        Ok(u) => {
            if let Err(e) = window.navigate(u) {
                tracing::warn!("loupe: cannot load {url}: {e}");
            }
        }
        Err(e) => tracing::warn!("loupe: bad URL {url}: {e}"),
    }
}

fn allowed_navigation(server: &Server, url: &tauri::Url) -> bool {
    match url.scheme() {
        "tauri" | "about" => true,
        "http" if url.host_str() == Some("tauri.localhost") => true,
        "http" => match server.status() {
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
