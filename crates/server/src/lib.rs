//! The JSON API and the wiring of a running Loupe.
//!
//! [`app`] serves the API (`api`) and the embedded web UI (`ui`) behind the
//! `Host` check (`guard`); [`serve`] binds
//! the three listeners, opens the store and runs receiver, API and
//! retention until shutdown. Both the headless `loupe serve` and the desktop
//! shell call [`serve::run`]. [`ports`] tells which process holds a taken
//! port. [`alerting`] evaluates alert rules on a task of its own and
//! [`alerts_api`] serves them.

pub mod alerting;
pub mod alerts_api;
pub mod api;
pub mod guard;
pub mod otlp_json;
pub mod ports;
pub mod serve;
pub mod ui;

use std::sync::Arc;

/// Everything served on the API address: `/api/v1/…`, the web UI at `/`,
/// behind the `Host` check and security headers of [`guard`].
pub fn app(reader: Arc<loupe_store::Reader>, info: api::Info, allow_remote: bool) -> axum::Router {
    app_with_alerts(reader, info, allow_remote, None)
}

/// [`app`] with alerting's routes when `alerting` is given.
pub fn app_with_alerts(
    reader: Arc<loupe_store::Reader>,
    info: api::Info,
    allow_remote: bool,
    alerting: Option<Arc<alerting::Alerting>>,
) -> axum::Router {
    let mut router = api::router(reader, info);
    if let Some(a) = alerting {
        router = router.merge(alerts_api::router(a));
    }
    router
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(
            guard::Guard { allow_remote },
            guard::layer,
        ))
}
