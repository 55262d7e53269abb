//! Native file dialogs, for the export and import work: ask the user for a
//! file to open or a place to save, from async code. Backed by Tauri's
//! dialog plugin (GTK's file chooser on Linux). Only the choice is made
//! here; reading and writing the file is the caller's business.
#![allow(dead_code)] // called by the export/import work

use std::path::PathBuf;
use std::sync::OnceLock;

use tauri::AppHandle;
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder, FilePath};

static APP: OnceLock<AppHandle> = OnceLock::new();

/// Called once by the shell when the window's app starts.
pub fn install(app: &AppHandle) {
    let _ = APP.set(app.clone());
}

/// A file type offered in a dialog, e.g. `Filter { name: "OTLP JSON", extensions: &["json"] }`.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub name: &'static str,
    pub extensions: &'static [&'static str],
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("file dialogs need the desktop window")]
    NoWindow,
}

fn dialog(title: &str, filters: &[Filter]) -> Result<FileDialogBuilder<tauri::Wry>, FilesError> {
    let app = APP.get().ok_or(FilesError::NoWindow)?;
    let mut d = app.dialog().file().set_title(title);
    if let Some(w) = tauri::Manager::get_webview_window(app, crate::desktop::WINDOW) {
        d = d.set_parent(&w);
    }
    for f in filters {
        d = d.add_filter(f.name, f.extensions);
    }
    Ok(d)
}

fn into_path(p: Option<FilePath>) -> Option<PathBuf> {
    p.and_then(|p| p.into_path().ok())
}

/// Asks for an existing file to open; `Ok(None)` when the user cancels.
pub async fn open_file(title: &str, filters: &[Filter]) -> Result<Option<PathBuf>, FilesError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog(title, filters)?.pick_file(move |p| {
        let _ = tx.send(into_path(p));
    });
    Ok(rx.await.ok().flatten())
}

/// Asks where to save, proposing `file_name`; `Ok(None)` when the user cancels.
pub async fn save_file(
    title: &str,
    file_name: &str,
    filters: &[Filter],
) -> Result<Option<PathBuf>, FilesError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog(title, filters)?
        .set_file_name(file_name)
        .save_file(move |p| {
            let _ = tx.send(into_path(p));
        });
    Ok(rx.await.ok().flatten())
}
