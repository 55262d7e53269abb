//! `/api/v1/settings/…`: what can be changed while Loupe runs: the log
//! filter and the ingest filters. Changes last until the process stops;
//! the configuration file is not rewritten.
//!
//! These are the API's only writes. A page on another site cannot make a
//! browser send them: `PUT` with `Content-Type: application/json` needs a
//! CORS preflight, which Loupe never grants, and the `Host` check refuses
//! DNS rebinding.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use loupe_otlp::filter::FilterRule;
use serde::Deserialize;
use serde_json::json;

use crate::ops::Ops;

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLevel {
    filter: String,
}

async fn get_log_level(State(ops): State<Arc<Ops>>) -> Response {
    match &ops.log {
        Some(h) => Json(json!({ "filter": h.get() })).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "this process does not manage its log output".into(),
        ),
    }
}

async fn put_log_level(
    State(ops): State<Arc<Ops>>,
    body: Result<Json<LogLevel>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(h) = &ops.log else {
        return error(
            StatusCode::NOT_FOUND,
            "this process does not manage its log output".into(),
        );
    };
    match h.set(&body.filter) {
        Ok(()) => Json(json!({ "filter": h.get() })).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterRules {
    filters: Vec<FilterRule>,
}

async fn get_filters(State(ops): State<Arc<Ops>>) -> Response {
    Json(json!({ "filters": ops.receiver.filters.current().rules() })).into_response()
}

async fn put_filters(
    State(ops): State<Arc<Ops>>,
    body: Result<Json<FilterRules>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match ops.receiver.filters.replace(body.filters) {
        Ok(()) => get_filters(State(ops)).await,
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The settings routes, to be nested under `/api/v1`.
pub fn router(ops: Arc<Ops>) -> Router {
    Router::new()
        .route("/settings/log-level", get(get_log_level).put(put_log_level))
        .route("/settings/filters", get(get_filters).put(put_filters))
        .with_state(ops)
}
