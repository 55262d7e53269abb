//! The desktop shell (feature `desktop`): one window over the same core as
//! `loupe serve`, started in-process, and a tray icon that keeps it
//! reachable while the window is closed. Nothing here decides anything
//! about telemetry.
//!
//! This module only wires the parts together and owns what they share
//! ([`Shell`], Tauri state). Each part has a module that knows no other
//! part but the server, and gets what it calls as values (the notifier,
//! the tray's actions, the firing-alerts hook), so there is no cycle:
//! [`server`] (the in-process server and its status), [`window`],
//! [`tray`], [`notifier`] (alerting's notifications), [`commands`] (the
//! start-up page's IPC; the web UI gets none, see `src-tauri/capabilities/`)
//! and [`display`] (no usable display).

mod commands;
mod display;
mod notifier;
mod server;
mod tray;
mod window;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use loupe_app::ServeConfig;
use tauri::{AppHandle, Manager, RunEvent};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_window_state::AppHandleExt;

use notifier::{DesktopNotifier, FiringHook};
use server::{Server, Status};
use tray::{Action, Tray};
use window::Window;

/// What the event handlers share, as Tauri state (the commands see only
/// the server, managed on its own).
struct Shell {
    server: Arc<Server>,
    window: Window,
    /// `None` where the desktop has no tray: the window still works.
    tray: Option<Tray>,
    notifier: DesktopNotifier,
    /// How many alerts fire, as alerting last said.
    firing: AtomicUsize,
    /// Whether the window was closed before (the tray notice is said once).
    closed_before: AtomicBool,
}

/// Opens the window and runs until the user quits; the server runs inside.
pub fn run(config: ServeConfig) -> ExitCode {
    if let Some(hint) = display::missing() {
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
    let server_runtime = runtime.handle().clone();

    let builder = tauri::Builder::default()
        // First: a second `loupe` hands over to this one and exits before
        // it binds anything.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(shell) = app.try_state::<Shell>() {
                shell.window.show(app);
            }
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(window::state_flags())
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(tauri::generate_handler![
            commands::startup_state,
            commands::retry,
            commands::use_other_ports,
            commands::quit
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            // The notifier needs the app, so the server is made here.
            let on_firing: FiringHook = Arc::new(set_firing_alerts);
            let notifier = DesktopNotifier::new(handle.clone(), on_firing);
            let server = Server::new(server_runtime.clone(), config, Arc::new(notifier.clone()));
            let window = Window::new(server.clone(), first_close_notice);
            window.create(&handle)?;
            let tray = Tray::build(&handle, on_tray_action)
                .inspect_err(|e| tracing::warn!("loupe: no tray icon: {e}"))
                .ok();
            app.manage(server.clone());
            app.manage(Shell {
                server: server.clone(),
                window,
                tray,
                notifier,
                firing: AtomicUsize::new(0),
                closed_before: AtomicBool::new(false),
            });
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
            server_runtime.spawn(async move {
                crate::signals::shutdown().await;
                quit.exit(0);
            });
            Ok(())
        });
    let app = match display::explain_panics(|| builder.build(tauri::generate_context!())) {
        Some(Ok(app)) => app,
        Some(Err(e)) => {
            eprintln!("loupe: cannot open the window: {e}");
            return ExitCode::FAILURE;
        }
        None => return ExitCode::FAILURE,
    };
    let code = app.run_return(move |app, event| match event {
        // Closing the window hides it (the tray stays); only Quit exits.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            tracing::info!("loupe: quitting: saving the window state, stopping the server");
            let _ = app.save_window_state(window::state_flags());
            if let Some(shell) = app.try_state::<Shell>() {
                shell.server.stop();
            }
            tracing::info!("loupe: stopped");
        }
        _ => {}
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Called on the main thread after the server's status changed.
fn status_changed(app: &AppHandle, status: &Status) {
    app.state::<Shell>().window.follow(app, status);
    refresh(app);
}

/// Brings the tray and the window title in line with the server and the
/// firing alerts.
fn refresh(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let status = shell.server.status();
    let count = shell.firing.load(Ordering::SeqCst);
    let firing = firing_text(count);
    // Without a tray the window title still carries the count.
    if let Some(tray) = &shell.tray {
        tray.show(&status, &firing, count);
    }
    let paused = matches!(&status, Status::Ready(r) if r.writer.is_paused());
    window::set_title(app, paused, &firing);
}

/// Alerting's hook (through the notifier, on the main thread): how many
/// alerts fire, 0 for none.
fn set_firing_alerts(app: &AppHandle, count: usize) {
    app.state::<Shell>().firing.store(count, Ordering::SeqCst);
    refresh(app);
}

/// Appended to the tray's tooltip and the window title (the tray's label
/// shows the count alone).
fn firing_text(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => " — 1 alert firing".to_string(),
        n => format!(" — {n} alerts firing"),
    }
}

fn on_tray_action(app: &AppHandle, action: Action) {
    let shell = app.state::<Shell>();
    match action {
        Action::Open => shell.window.show(app),
        Action::TogglePause => {
            if let Status::Ready(running) = shell.server.status() {
                running.writer.set_paused(!running.writer.is_paused());
            }
            refresh(app);
        }
        Action::CopyGrpcEndpoint | Action::CopyHttpEndpoint => {
            if let Status::Ready(running) = shell.server.status() {
                let addr = if action == Action::CopyHttpEndpoint {
                    running.bound.http
                } else {
                    running.bound.grpc
                };
                if let Err(e) = app.clipboard().write_text(format!("http://{addr}")) {
                    tracing::warn!("loupe: cannot copy to the clipboard: {e}");
                }
            }
        }
        Action::Quit => app.exit(0),
    }
}

/// The first time the window is closed, says that Loupe keeps receiving
/// (only with a tray, which is where it went).
fn first_close_notice(app: &AppHandle) {
    let shell = app.state::<Shell>();
    if !shell.closed_before.swap(true, Ordering::SeqCst) && shell.tray.is_some() {
        shell.notifier.notify(
            "Loupe keeps receiving telemetry",
            "It is in the tray: open the window from there, or quit.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_alerts_are_counted_in_words() {
        assert_eq!(firing_text(0), "");
        assert_eq!(firing_text(1), " — 1 alert firing");
        assert_eq!(firing_text(3), " — 3 alerts firing");
    }
}
