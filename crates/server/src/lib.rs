//! The HTTP layer of Loupe: routers and thin handlers (parse, call,
//! answer) over the store, alerting and export crates. Nothing here
//! decides anything about telemetry; `loupe-app` wires a running Loupe.
//!
//! [`app`] serves the API (`api`) and the embedded web UI (`ui`) behind the
//! `Host` check (`guard`); [`app_with_ops`] adds the operational endpoints
//! (`health`, `selfmetrics`, `settings`, over the state in `ops`) and
//! alerting's routes (`alerts_api`); `api_stats` times every answer;
//! `logging` owns the process's reloadable log filter; [`transfer`] serves
//! export and import (`loupe_export`). `/mcp` (Streamable HTTP MCP,
//! `loupe_mcp`) answers through the same routes.

pub mod alerts_api;
pub mod api;
pub mod api_stats;
pub mod bound;
pub mod contract;
pub mod guard;
pub mod health;
pub mod logging;
pub mod ops;
pub mod otlp_json;
pub mod selfmetrics;
pub mod settings;
pub mod transfer;
pub mod ui;

pub use bound::Bound;

use std::sync::Arc;

/// Everything served on the API address: `/api/v1/…`, the web UI at `/`,
/// behind the `Host` check and security headers of [`guard`].
pub fn app(
    reader: Arc<loupe_store::Reader>,
    writer: Option<Arc<loupe_store::Writer>>,
    info: api::Info,
    guard: guard::Guard,
) -> axum::Router {
    guarded(api::router(reader, writer, info), guard)
}

/// [`app`] plus `/health`, `/metrics`, `/metrics/received` and
/// `/api/v1/settings/…`, `extra` `/api/v1` routes (export and import, from
/// `serve`) and alerting's routes, with every answer's duration measured.
pub fn app_with_ops(
    reader: Arc<loupe_store::Reader>,
    writer: Option<Arc<loupe_store::Writer>>,
    info: api::Info,
    guard: guard::Guard,
    ops: Arc<ops::Ops>,
    extra: axum::Router,
    alerting: Option<Arc<loupe_alerting::Alerting>>,
) -> axum::Router {
    let mut routes = api::router_with(
        reader,
        writer,
        info,
        settings::router(ops.clone()).merge(extra),
    )
    .merge(ops_router(ops.clone()));
    if let Some(a) = alerting {
        routes = routes.merge(alerts_api::router(a));
    }
    // `/mcp`: the MCP tools answer through these same routes, in-process.
    let routes = routes
        .clone()
        .merge(loupe_mcp::router(routes, ops.bound.ui_base()));
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        ops.api_stats.clone(),
        api_stats::measure,
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

/// `/health`, `/metrics` and `/metrics/received` (outside `/api/v1`, where
/// monitoring tools expect them).
fn ops_router(ops: Arc<ops::Ops>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/health", get(health::handler))
        .route("/metrics", get(selfmetrics::handler))
        .route("/metrics/received", get(selfmetrics::received))
        .with_state(ops)
}
