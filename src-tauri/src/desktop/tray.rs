//! The tray icon, which stays while the window is closed (receiving goes
//! on): its menu and what it shows. What a menu item does is the shell's
//! business, handed in as a callback, so the tray depends on nothing but
//! the server's status it displays.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Wry};

use super::server::Status;

/// What the user asked for from the tray (its menu, or a left click: open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Open,
    TogglePause,
    CopyGrpcEndpoint,
    CopyHttpEndpoint,
    Quit,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::Open,
        Action::TogglePause,
        Action::CopyGrpcEndpoint,
        Action::CopyHttpEndpoint,
        Action::Quit,
    ];

    /// The menu item's id.
    fn id(self) -> &'static str {
        match self {
            Action::Open => "open",
            Action::TogglePause => "pause",
            Action::CopyGrpcEndpoint => "copy-grpc",
            Action::CopyHttpEndpoint => "copy-http",
            Action::Quit => "quit",
        }
    }

    fn from_id(id: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.id() == id)
    }
}

/// The tray's icon and the menu items whose text or state changes.
pub struct Tray {
    icon: TrayIcon,
    pause: MenuItem<Wry>,
    copy_grpc: MenuItem<Wry>,
    copy_http: MenuItem<Wry>,
}

impl Tray {
    /// Fails where the desktop has no tray (no StatusNotifier host): the
    /// shell then runs without one.
    pub fn build(
        app: &AppHandle,
        on_action: impl Fn(&AppHandle, Action) + Send + Sync + 'static,
    ) -> tauri::Result<Tray> {
        let item = |action: Action, text: &str, enabled: bool| {
            MenuItem::with_id(app, action.id(), text, enabled, None::<&str>)
        };
        let open = item(Action::Open, "Open Loupe", true)?;
        let pause = item(Action::TogglePause, "Pause ingest", false)?;
        let copy_grpc = item(Action::CopyGrpcEndpoint, "Copy OTLP/gRPC endpoint", false)?;
        let copy_http = item(Action::CopyHttpEndpoint, "Copy OTLP/HTTP endpoint", false)?;
        let quit = item(Action::Quit, "Quit Loupe", true)?;
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
        let on_action = std::sync::Arc::new(on_action);
        let on_click = on_action.clone();
        let mut builder = TrayIconBuilder::with_id("loupe")
            .tooltip("Loupe")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(move |app, event| {
                if let Some(action) = Action::from_id(event.id().as_ref()) {
                    on_action(app, action);
                }
            })
            .on_tray_icon_event(move |tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    on_click(tray.app_handle(), Action::Open);
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
        })
    }

    /// Brings menu texts, tooltip and label in line with the server;
    /// `firing` is the firing alerts' text appended to the tooltip ("" for
    /// none), `count` their number, shown beside the icon ("2 firing").
    /// The label is what Linux shows: its tray (an AppIndicator) has no
    /// tooltip, so the count would otherwise never be seen there.
    pub fn show(&self, status: &Status, firing: &str, count: usize) {
        let (state, ready) = match status {
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
        let _ = self.pause.set_enabled(ready.is_some());
        let _ = self.pause.set_text(if paused {
            "Resume ingest"
        } else {
            "Pause ingest"
        });
        for (item, label, addr) in [
            (&self.copy_grpc, "gRPC", ready.map(|r| r.bound.grpc)),
            (&self.copy_http, "HTTP", ready.map(|r| r.bound.http)),
        ] {
            let _ = item.set_enabled(addr.is_some());
            let _ = item.set_text(match addr {
                Some(a) => format!("Copy OTLP/{label} endpoint (http://{a})"),
                None => format!("Copy OTLP/{label} endpoint"),
            });
        }
        let _ = self
            .icon
            .set_tooltip(Some(format!("Loupe: {state}{firing}")));
        let _ = self
            .icon
            .set_title((count > 0).then(|| format!("{count} firing")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_name_one_action_each() {
        for a in Action::ALL {
            assert_eq!(Action::from_id(a.id()), Some(a));
        }
        assert_eq!(Action::from_id("nope"), None);
    }
}
