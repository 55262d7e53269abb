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
use axum::routing::get;
use axum::{Json, Router};
use loupe_otlp::filter::FilterRule;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::ApiError;
use crate::ops::Ops;

/// `GET` and `PUT /settings/log-level`: the log filter in force.
#[derive(Debug, Serialize, TS)]
pub struct LogLevel {
    /// `tracing` filter directives (`info`, `loupe_store=debug,info`, …).
    pub filter: String,
}

/// `GET` and `PUT /settings/filters`: the ingest filter rules in force.
#[derive(Debug, Serialize, TS)]
pub struct Filters {
    pub filters: Vec<FilterRule>,
}

type Answer<T> = Result<Json<T>, ApiError>;

fn not_managed() -> ApiError {
    ApiError::not_found("this process does not manage its log output")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLevelBody {
    filter: String,
}

async fn get_log_level(State(ops): State<Arc<Ops>>) -> Answer<LogLevel> {
    let h = ops.log.as_ref().ok_or_else(not_managed)?;
    Ok(Json(LogLevel { filter: h.get() }))
}

async fn put_log_level(
    State(ops): State<Arc<Ops>>,
    body: Result<Json<LogLevelBody>, JsonRejection>,
) -> Answer<LogLevel> {
    let Json(body) = body?;
    let h = ops.log.as_ref().ok_or_else(not_managed)?;
    h.set(&body.filter)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(LogLevel { filter: h.get() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterRules {
    filters: Vec<FilterRule>,
}

/// The rules as `json!` wrote them before they were typed: keys in
/// alphabetical order (through a `serde_json::Value`).
async fn get_filters(State(ops): State<Arc<Ops>>) -> Answer<serde_json::Value> {
    let answer = Filters {
        filters: ops.receiver.filters.current().rules().to_vec(),
    };
    Ok(Json(
        serde_json::to_value(answer).map_err(ApiError::encode)?,
    ))
}

async fn put_filters(
    State(ops): State<Arc<Ops>>,
    body: Result<Json<FilterRules>, JsonRejection>,
) -> Answer<serde_json::Value> {
    let Json(body) = body?;
    ops.receiver
        .filters
        .replace(body.filters)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    get_filters(State(ops)).await
}

/// The settings routes, relative to `/api/v1`.
pub(crate) fn routes() -> Router<crate::AppState> {
    Router::new()
        .route("/settings/log-level", get(get_log_level).put(put_log_level))
        .route("/settings/filters", get(get_filters).put(put_filters))
}
