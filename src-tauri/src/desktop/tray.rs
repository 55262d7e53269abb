//! The tray icon, which stays while the window is closed (receiving goes
//! on): open the window, pause or resume ingest, copy the OTLP endpoints,
//! quit. [`set_firing_alerts`] shows alerting's firing count.

use std::sync::Mutex;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_clipboard_manager::ClipboardExt;

use super::server::Status;
use super::Shell;

/// The tray's icon and the menu items whose text or state changes.
pub struct Tray {
    icon: TrayIcon,
    pause: MenuItem<Wry>,
    copy_grpc: MenuItem<Wry>,
    copy_http: MenuItem<Wry>,
    alerts: Mutex<usize>,
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let open = MenuItem::with_id(app, "open", "Open Loupe", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause ingest", false, None::<&str>)?;
    let copy_grpc = MenuItem::with_id(
        app,
        "copy-grpc",
        "Copy OTLP/gRPC endpoint",
        false,
        None::<&str>,
    )?;
    let copy_http = MenuItem::with_id(
        app,
        "copy-http",
        "Copy OTLP/HTTP endpoint",
        false,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, "quit", "Quit Loupe", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &copy_grpc,
            &copy_http,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id("loupe")
        .tooltip("Loupe")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => super::show_window(app),
            "pause" => toggle_pause(app),
            "copy-grpc" => copy_endpoint(app, false),
            "copy-http" => copy_endpoint(app, true),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                super::show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    Ok(Tray {
        icon,
        pause,
        copy_grpc,
        copy_http,
        alerts: Mutex::new(0),
    })
}

fn toggle_pause(app: &AppHandle) {
    let shell = app.state::<Shell>();
    if let Status::Ready(running) = shell.server.status() {
        running.writer.set_paused(!running.writer.is_paused());
    }
    refresh(app);
}

fn copy_endpoint(app: &AppHandle, http: bool) {
    let shell = app.state::<Shell>();
    if let Status::Ready(running) = shell.server.status() {
        let endpoint = if http {
            format!("http://{}", running.bound.http)
        } else {
            format!("http://{}", running.bound.grpc)
        };
        if let Err(e) = app.clipboard().write_text(endpoint) {
            tracing::warn!("loupe: cannot copy to the clipboard: {e}");
        }
    }
}

/// Brings menu texts, tooltip and window title in line with the server.
pub fn refresh(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let Some(tray) = shell.tray.get() else {
        return;
    };
    let status = shell.server.status();
    let alerts = *tray.alerts.lock().unwrap_or_else(|e| e.into_inner());
    let (state, ready) = match &status {
        Status::Starting => ("starting".to_string(), None),
        Status::Ready(r) if r.writer.is_paused() => ("ingest paused".to_string(), Some(r)),
        Status::Ready(r) => (
            format!("receiving on {} and {}", r.bound.grpc, r.bound.http),
            Some(r),
        ),
        Status::Failed(_) => ("not running".to_string(), None),
        Status::Stopped => ("stopped".to_string(), None),
    };
    let paused = ready.is_some_and(|r| r.writer.is_paused());
    let _ = tray.pause.set_enabled(ready.is_some());
    let _ = tray.pause.set_text(if paused {
        "Resume ingest"
    } else {
        "Pause ingest"
    });
    for (item, label, addr) in [
        (&tray.copy_grpc, "gRPC", ready.map(|r| r.bound.grpc)),
        (&tray.copy_http, "HTTP", ready.map(|r| r.bound.http)),
    ] {
        let _ = item.set_enabled(addr.is_some());
        let _ = item.set_text(match addr {
            Some(a) => format!("Copy OTLP/{label} endpoint (http://{a})"),
            None => format!("Copy OTLP/{label} endpoint"),
        });
    }
    let alerts_text = match alerts {
        0 => String::new(),
        1 => " — 1 alert firing".to_string(),
        n => format!(" — {n} alerts firing"),
    };
    let _ = tray
        .icon
        .set_tooltip(Some(format!("Loupe: {state}{alerts_text}")));
    if let Some(w) = app.get_webview_window(super::WINDOW) {
        let suffix = if paused { " (ingest paused)" } else { "" };
        let _ = w.set_title(&format!("{}{suffix}{alerts_text}", super::TITLE));
    }
}

/// Hook for the alerting work: shows how many alerts fire (0 for none) in
/// the tray's tooltip and the window title.
pub fn set_firing_alerts(app: &AppHandle, count: usize) {
    let shell = app.state::<Shell>();
    if let Some(tray) = shell.tray.get() {
        *tray.alerts.lock().unwrap_or_else(|e| e.into_inner()) = count;
    }
    refresh(app);
}
