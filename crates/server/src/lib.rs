//! The JSON API and the wiring of a running Loupe.
//!
//! [`app`] serves the API (`api`) and the embedded web UI (`ui`) behind the
//! `Host` check (`guard`); [`app_with_ops`] adds the operational endpoints
//! (`health`, `selfmetrics`, `received`, `settings`, gathered in `ops`);
//! `logging` owns the process's log filter; [`serve`] binds
//! the three listeners, opens the store and runs receiver, API and
//! retention until shutdown. Both the headless `loupe serve` and the desktop
//! shell call [`serve::run`]. [`ports`] tells which process holds a taken
//! port. [`transfer`] serves export and import (`loupe_export`).
//! port. [`alerting`] evaluates alert rules on a task of its own and
//! [`alerts_api`] serves them. `/mcp` (Streamable HTTP MCP, `loupe_mcp`)
//! answers through the same routes.

pub mod alerting;
pub mod alerts_api;
pub mod api;
pub mod contract;
pub mod guard;
pub mod health;
pub mod logging;
pub mod ops;
pub mod otlp_json;
pub mod ports;
pub mod received;
pub mod selfmetrics;
pub mod serve;
pub mod settings;
pub mod transfer;
pub mod ui;

use std::sync::Arc;

/// Everything served on the API address: `/api/v1/…`, the web UI at `/`,
/// behind the `Host` check and security headers of [`guard`].
pub fn app(reader: Arc<loupe_store::Reader>, info: api::Info, guard: guard::Guard) -> axum::Router {
    guarded(api::router(reader, info), guard)
}

/// [`app`] plus `/health`, `/metrics`, `/metrics/received` and
/// `/api/v1/settings/…`, `extra` `/api/v1` routes (export and import, from
/// `serve`) and alerting's routes, with every answer's duration measured.
pub fn app_with_ops(
    reader: Arc<loupe_store::Reader>,
    info: api::Info,
    guard: guard::Guard,
    ops: Arc<ops::Ops>,
    extra: axum::Router,
    alerting: Option<Arc<alerting::Alerting>>,
) -> axum::Router {
    let mut routes = api::router_with(reader, info, settings::router(ops.clone()).merge(extra))
        .merge(ops::router(ops.clone()));
    if let Some(a) = alerting {
        routes = routes.merge(alerts_api::router(a));
    }
    // `/mcp`: the MCP tools answer through these same routes, in-process.
    let routes = routes
        .clone()
        .merge(loupe_mcp::router(routes, ops.bound.ui_base()));
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        ops.api_stats.clone(),
        selfmetrics::measure,
    ));
    guarded(routes, guard)
}

/// The one place the guard wraps the API address: routes, UI fallback and
/// all, so nothing served there escapes it.
fn guarded(routes: axum::Router, guard: guard::Guard) -> axum::Router {
    routes
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(guard, guard::layer))
}
