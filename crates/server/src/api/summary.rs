//! `GET /traces/{traceId}/summary`: one trace's summary, which the trace
//! page polls while the trace is incomplete (placeholders for parents that
//! have not arrived, "still receiving", "never arrived" after the grace).

use std::sync::Arc;

use axum::extract::{Path, State};
use loupe_model::query::TraceSummary;
use loupe_store::Reader;
use serde::Serialize;
use ts_rs::TS;

use super::{blocking, json_sorted, trace_id, ApiError, ApiResult};

/// `GET /traces/{traceId}/summary`.
#[derive(Debug, Serialize, TS)]
pub struct Summary {
    pub summary: TraceSummary,
}

pub(crate) async fn summary(State(r): State<Arc<Reader>>, Path(id): Path<String>) -> ApiResult {
    let id = trace_id(&id)?;
    match blocking(&r, move |r| r.trace_summary(id)).await? {
        Some(summary) => json_sorted(&Summary { summary }, 1024),
        None => Err(ApiError::not_found(format!("no trace {id}"))),
    }
}
