//! The start-up page's commands, its only IPC (each allowed by a permission
//! in `src-tauri/permissions/`, granted to that page alone by
//! `src-tauri/capabilities/main.json`): the page reads the server's state
//! and, when a port is taken, retries, switches to free ports or quits.

use std::sync::Arc;

use serde::Serialize;
use tauri::{AppHandle, State};

use super::server::{Problem, Server, Status};
use super::window::ui_url;

/// The server's state as the start-up page sees it.
#[derive(Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum StartupState {
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
pub fn startup_state(server: State<'_, Arc<Server>>) -> StartupState {
    match server.status() {
        Status::Starting => StartupState::Starting,
        Status::Ready(r) => StartupState::Ready {
            ui_url: ui_url(r.bound.api),
        },
        Status::Failed(problem) => StartupState::Failed { problem },
        Status::Stopped => StartupState::Stopped,
    }
}

#[tauri::command]
pub fn retry(server: State<'_, Arc<Server>>) {
    server.start();
}

#[tauri::command]
pub fn use_other_ports(server: State<'_, Arc<Server>>) {
    server.start_on_other_ports();
}

#[tauri::command]
pub fn quit(app: AppHandle) {
    app.exit(0);
}
