//! The HTTP layer of Loupe: routers and thin handlers (parse, call,
//! answer) over the store, alerting and export crates. Nothing here
//! decides anything about telemetry; `loupe-app` wires a running Loupe.
//!
//! [`app`] serves, from one [`AppState`] (`state`), the API (`api`), the
//! operational endpoints (`health`, `selfmetrics`, `settings`, over the
//! state in `ops`), alerting's routes (`alerts_api`) and the embedded web
//! UI (`ui`) behind the `Host` check (`guard`); `api_stats` times every
//! answer;
//! `logging` owns the process's reloadable log filter; [`transfer`] serves
//! export and import (`loupe_export`). `/mcp` (Streamable HTTP MCP,
//! `loupe_mcp`) answers through the same routes.

pub mod alerts_api;
pub mod api;
pub mod api_stats;
pub mod bound;
pub mod columns_types;
pub mod contract;
pub mod guard;
pub mod health;
pub mod info;
pub mod logging;
pub mod ops;
pub mod otlp_json;
pub mod otlp_types;
pub mod selfmetrics;
pub mod settings;
pub mod state;
pub mod trace_columns;
pub mod transfer;
pub mod ui;

pub use bound::Bound;
pub use state::AppState;

/// Everything served on the API address: `/api/v1/…` (the store's
/// routes, export and import, settings, alerting), `/health`, `/metrics`,
/// `/metrics/received`, `/mcp` and the web UI at `/`, behind the `Host`
/// check and security headers of [`guard`], with every answer's duration
/// measured.
pub fn app(state: AppState, guard: guard::Guard) -> axum::Router {
    let ui_base = state.ops.bound.ui_base();
    let api_stats = state.ops.api_stats.clone();
    let routes = axum::Router::new()
        .nest("/api/v1", api_routes())
        .merge(ops_router())
        .with_state(state);
    // `/mcp`: the MCP tools answer through these same routes, in-process.
    let routes = routes.clone().merge(loupe_mcp::router(routes, ui_base));
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        api_stats,
        api_stats::measure,
    ));
    guarded(routes, guard)
}

/// Every `/api/v1` route, relative to `/api/v1`: one table per area.
pub fn api_routes() -> axum::Router<AppState> {
    api::routes()
        .merge(transfer::routes())
        .merge(settings::routes())
        .merge(alerts_api::routes())
        .fallback(api::not_found)
}

/// `/api/v1` alone, without the guard, the UI or `/mcp`: what unit tests
/// call.
#[cfg(test)]
pub(crate) fn test_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .nest("/api/v1", api_routes())
        .with_state(state)
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
fn ops_router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/health", get(health::handler))
        .route("/metrics", get(selfmetrics::handler))
        .route("/metrics/received", get(selfmetrics::received))
}
