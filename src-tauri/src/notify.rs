//! Native notifications, for the alerting work: `notify(title, body)` from
//! any thread. Backed by Tauri's notification plugin (the desktop's
//! notification service); without a running window, or when the desktop
//! has no notification service, it logs and returns. [`DesktopNotifier`]
//! is alerting's way in: the core calls the `Notifier` trait and never
//! names Tauri.

use std::sync::OnceLock;

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

static APP: OnceLock<AppHandle> = OnceLock::new();

/// Called once by the shell when the window's app starts.
pub fn install(app: &AppHandle) {
    let _ = APP.set(app.clone());
}

/// Shows a native notification. Best effort: a failure is logged, never
/// returned, because nothing a caller could do about it.
pub fn notify(title: &str, body: &str) {
    let Some(app) = APP.get() else {
        tracing::info!("loupe: (no window) {title}: {body}");
        return;
    };
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!("loupe: cannot show the notification {title:?}: {e}");
    }
}

/// Alert notifications on the desktop: native notifications, and the
/// number of firing alerts on the tray (through the main thread, where
/// Tauri wants tray and window calls).
pub struct DesktopNotifier;

impl loupe_alerts::Notifier for DesktopNotifier {
    fn notify(&self, title: &str, body: &str) {
        notify(title, body);
    }

    fn firing(&self, count: usize) {
        let Some(app) = APP.get() else { return };
        let handle = app.clone();
        let _ =
            app.run_on_main_thread(move || crate::desktop::tray::set_firing_alerts(&handle, count));
    }
}
