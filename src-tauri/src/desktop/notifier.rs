//! Alerting's way into the desktop: [`DesktopNotifier`] implements
//! `loupe_alerts::Notifier`, so the core calls a trait and never names
//! Tauri. It is a value handed to the in-process server when it starts,
//! not something looked up, so this module needs nothing else of the shell.

use std::sync::Arc;

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// What to do when the number of firing alerts changes (0 for none); called
/// on the main thread, where Tauri wants tray and window calls.
pub type FiringHook = Arc<dyn Fn(&AppHandle, usize) + Send + Sync>;

/// Native notifications (Tauri's notification plugin, the desktop's
/// notification service), and the firing count handed to a hook.
#[derive(Clone)]
pub struct DesktopNotifier {
    app: AppHandle,
    on_firing: FiringHook,
}

impl DesktopNotifier {
    pub fn new(app: AppHandle, on_firing: FiringHook) -> DesktopNotifier {
        DesktopNotifier { app, on_firing }
    }

    /// Shows a native notification. Best effort: a desktop without a
    /// notification service must not stop alerting, and no caller could do
    /// anything about it, so a failure is logged, never returned.
    pub fn notify(&self, title: &str, body: &str) {
        if let Err(e) = self
            .app
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show()
        {
            tracing::warn!("loupe: cannot show the notification {title:?}: {e}");
        }
    }
}

impl loupe_alerts::Notifier for DesktopNotifier {
    fn notify(&self, title: &str, body: &str) {
        DesktopNotifier::notify(self, title, body);
    }

    /// Called on alerting's task: queued to the main thread, which may be
    /// busy waiting for the server to stop (quitting), so never waited for.
    fn firing(&self, count: usize) {
        let app = self.app.clone();
        let hook = self.on_firing.clone();
        let _ = self.app.run_on_main_thread(move || hook(&app, count));
    }
}
