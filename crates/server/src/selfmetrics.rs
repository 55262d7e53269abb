//! `GET /metrics`: Loupe's own metrics in the Prometheus text format, from
//! the collectors each layer registered; `GET /metrics/received`, the
//! received metrics (`loupe-received`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ops::Ops;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn handler(State(ops): State<Arc<Ops>>) -> Response {
    let body = ops.registry.render(&ops.prefix);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// `GET /metrics/received`: 404 with the setting's name when it is off.
pub async fn received(State(ops): State<Arc<Ops>>) -> Response {
    match &ops.received {
        Some(r) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], r.render()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "received metrics are not exposed; enable metrics.received in the configuration (or pass --received-metrics)",
        )
            .into_response(),
    }
}
