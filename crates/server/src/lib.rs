//! The JSON API and the wiring of a running Loupe.
//!
//! [`app`] serves the API (`api`) and the embedded web UI (`ui`) behind the
//! `Host` check (`guard`); [`serve`] binds
//! the three listeners, opens the store and runs receiver, API and
//! retention until shutdown. Both the headless `loupe serve` and the desktop
//! shell call [`serve::run`]. [`ports`] tells which process holds a taken
//! port. [`transfer`] serves export and import (`loupe_export`).

pub mod api;
pub mod guard;
pub mod otlp_json;
pub mod ports;
pub mod serve;
pub mod transfer;
pub mod ui;

use std::sync::Arc;

/// Everything served on the API address: `/api/v1/…`, the web UI at `/`,
/// behind the `Host` check and security headers of [`guard`].
pub fn app(reader: Arc<loupe_store::Reader>, info: api::Info, allow_remote: bool) -> axum::Router {
    app_with(reader, info, allow_remote, axum::Router::new())
}

/// [`app`] with more `/api/v1` routes (export and import, in `serve`).
pub fn app_with(
    reader: Arc<loupe_store::Reader>,
    info: api::Info,
    allow_remote: bool,
    extra: axum::Router,
) -> axum::Router {
    api::router_with(reader, info, extra)
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(
            guard::Guard { allow_remote },
            guard::layer,
        ))
}
