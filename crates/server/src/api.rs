//! `/api/v1/…`: what the UI and users query. Documented in `docs/api.md`.

pub(crate) mod analysis;
pub(crate) mod chart;
pub mod error;
pub mod summary;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use loupe_model::ids::TraceId;
use loupe_model::query::{DashboardPanel, MetricInfo, RelatedTrace, TraceSummary};
use loupe_query::QueryError;
use loupe_store::{Reader, Store, StoreError};

use crate::AppState;
use serde::Serialize;
use ts_rs::TS;

pub use crate::info::Info;
pub use error::{ApiError, ErrorBody, ErrorDetail, ErrorPosition};

type ApiResult = Result<Response, ApiError>;

/// Serializes straight into the response body: building a
/// `serde_json::Value` first tripled the cost of a 10k-span trace.
fn json<T: serde::Serialize>(v: &T) -> Result<Response, ApiError> {
    json_sized(v, 4096)
}

/// [`json`] with a size hint, so a large answer is not copied while its
/// buffer grows.
fn json_sized<T: serde::Serialize>(v: &T, hint: usize) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(hint);
    serde_json::to_writer(&mut body, v).map_err(ApiError::encode)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// [`json_sized`] with the keys of every object in alphabetical order, as
/// the answers that were built with `json!` always had them: the answer
/// goes through a `serde_json::Value` first. Used where that was so, and
/// the answer is small, so the bytes on the wire stay the same.
pub(crate) fn json_sorted<T: serde::Serialize>(v: &T, hint: usize) -> Result<Response, ApiError> {
    json_sized(&serde_json::to_value(v).map_err(ApiError::encode)?, hint)
}

/// Parses a raw query string into ordered, decoded pairs (names may
/// repeat): `application/x-www-form-urlencoded`, `+` as a space.
pub(crate) fn pairs(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Runs a store query off the async threads.
async fn blocking<T: Send + 'static>(
    reader: &Arc<Reader>,
    f: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = reader.clone();
    tokio::task::spawn_blocking(move || f(&reader))
        .await
        .map_err(|_| ApiError::interrupted())?
        .map_err(ApiError::from)
}

fn trace_id(s: &str) -> Result<TraceId, ApiError> {
    TraceId::parse_hex(s).map_err(|e| QueryError::new("traceId", e.to_string()).into())
}

/// `GET /services`.
#[derive(Debug, Serialize, TS)]
pub struct Services {
    pub services: Vec<String>,
}

/// `GET /attributes`: attribute keys seen.
#[derive(Debug, Serialize, TS)]
pub struct AttributeKeys {
    pub keys: Vec<String>,
}

/// `GET /attributes/{key}/values`: recent values, most frequent first.
#[derive(Debug, Serialize, TS)]
pub struct AttributeValues {
    pub key: String,
    pub values: Vec<String>,
}

/// `GET /traces`: the search's traces, newest first.
#[derive(Debug, Serialize, TS)]
pub struct Traces {
    pub traces: Vec<TraceSummary>,
}

/// `GET /traces/{traceId}/related`: traces joined to it by span links.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Related {
    pub related: Vec<RelatedTrace>,
    pub trace_id: String,
}

/// `GET /metrics`: the metric catalogue.
#[derive(Debug, Serialize, TS)]
pub struct Metrics {
    pub metrics: Vec<MetricInfo>,
}

/// `GET` and `PUT /dashboard`.
#[derive(Debug, Serialize, TS)]
pub struct Dashboard {
    pub panels: Vec<DashboardPanel>,
}

async fn info(State(i): State<Arc<Info>>) -> Json<Info> {
    Json((*i).clone())
}

async fn services(State(r): State<Arc<Reader>>) -> ApiResult {
    let services = blocking(&r, |r| r.services()).await?;
    json_sorted(&Services { services }, 4096)
}

async fn attributes(State(r): State<Arc<Reader>>) -> ApiResult {
    let keys = blocking(&r, |r| r.attribute_keys()).await?;
    json_sorted(&AttributeKeys { keys }, 4096)
}

/// Recent values of one attribute, for autocompletion (rule editor).
async fn attribute_values(State(r): State<Arc<Reader>>, Path(key): Path<String>) -> ApiResult {
    let k = key.clone();
    let values = blocking(&r, move |r| r.attribute_values(&k, 100)).await?;
    json_sorted(&AttributeValues { key, values }, 4096)
}

async fn traces(State(r): State<Arc<Reader>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = loupe_query::trace_query(&pairs(q))?;
    let traces = blocking(&r, move |r| r.search_traces(&q)).await?;
    json_sorted(&Traces { traces }, 16 * 1024)
}

async fn trace(State(r): State<Arc<Reader>>, Path(id): Path<String>) -> ApiResult {
    let id = trace_id(&id)?;
    // Decode, encode and free on one thread: freeing a large decoded trace
    // from another thread cost more than encoding it.
    let body = blocking(&r, move |r| {
        let received = r.trace_arrived(id)?;
        Ok(r.trace(id)?.map(|t| {
            let spans: usize = t
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            // About 1 KiB of OTLP/JSON per span with a handful of attributes.
            let mut body = Vec::with_capacity(spans * 1024 + 1024);
            // Spans whose own timestamps look wrong carry `loupeFlags`.
            crate::otlp_json::traces_flagged(
                &t,
                Some(received.unwrap_or_else(loupe_model::time::now_ns)),
                &mut body,
            );
            body
        }))
    })
    .await?;
    match body {
        Some(body) => Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()),
        None => Err(ApiError::not_found(format!("no trace {id}"))),
    }
}

/// `GET /traces/{traceId}/columns`: the trace for the trace page, as
/// newline-delimited JSON columns sent a chunk at a time
/// ([`crate::trace_columns`]). A missing trace or a store error before the
/// first line is an ordinary error answer; a later one cuts the answer
/// short (the worker sees fewer spans than the head announced).
async fn trace_columns(State(r): State<Arc<Reader>>, Path(id): Path<String>) -> ApiResult {
    let id = trace_id(&id)?;
    // Two lines in flight at most: the server holds the decoded trace and a
    // few chunks, whatever the client's pace.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, StoreError>>(2);
    let reader = r.clone();
    tokio::task::spawn_blocking(move || {
        // Decoded, encoded and freed on this thread (see `trace`).
        let received = match reader.trace_arrived(id) {
            Ok(at) => at.unwrap_or_else(loupe_model::time::now_ns),
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let trace = match reader.trace(id) {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut enc = crate::trace_columns::Encoder::new(&trace, received);
        let mut head = Vec::with_capacity(4096);
        enc.head(&id.to_string(), &mut head);
        if tx.blocking_send(Ok(head)).is_err() {
            return;
        }
        loop {
            let mut line = Vec::with_capacity(crate::trace_columns::CHUNK * 160);
            if !enc.chunk(&mut line) || tx.blocking_send(Ok(line)).is_err() {
                return;
            }
        }
    });
    let head = match rx.recv().await {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(ApiError::not_found(format!("no trace {id}"))),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Some(Ok(b)) => Some((Ok(b), rx)),
            Some(Err(e)) => Some((Err(std::io::Error::other(e.to_string())), rx)),
            None => None,
        }
    });
    use futures_util::StreamExt;
    let body = axum::body::Body::from_stream(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest),
    );
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response())
}

async fn related(State(r): State<Arc<Reader>>, Path(id): Path<String>) -> ApiResult {
    let id = trace_id(&id)?;
    let related = blocking(&r, move |r| r.related(id)).await?;
    json_sorted(
        &Related {
            related,
            trace_id: id.to_string(),
        },
        4096,
    )
}

async fn logs(State(r): State<Arc<Reader>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = loupe_query::log_query(&pairs(q))?;
    let body = blocking(&r, move |r| {
        let l = r.logs(&q)?;
        let mut body = Vec::with_capacity(64 * 1024);
        // Records whose own time looks wrong carry `loupeFlags`, judged
        // against now (after their arrival: a record more than a day ahead
        // of now was so at arrival too).
        crate::otlp_json::logs_flagged(&l, Some(loupe_model::time::now_ns()), &mut body);
        Ok(body)
    })
    .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

async fn metrics(State(r): State<Arc<Reader>>, RawQuery(q): RawQuery) -> ApiResult {
    let f = loupe_query::metric_filter(&pairs(q))?;
    let metrics = blocking(&r, move |r| r.metric_catalogue(&f)).await?;
    json_sorted(&Metrics { metrics }, 16 * 1024)
}

async fn metric(
    State(r): State<Arc<Reader>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let range = loupe_query::metric_range(&pairs(q))?;
    let m = blocking(&r, move |r| r.metric_points(&name, range)).await?;
    json(&m)
}

async fn dashboard(State(r): State<Arc<Reader>>) -> ApiResult {
    let panels = blocking(&r, |r| r.dashboard()).await?;
    json_sorted(&Dashboard { panels }, 4096)
}

/// Panels a dashboard may hold, and the longest title and chart query.
const MAX_PANELS: usize = 100;
const MAX_FIELD: usize = 4096;

/// Saves through the writer (every write goes through its queue); a
/// stopped writer answers 503.
async fn save_dashboard(State(store): State<Store>, body: axum::body::Bytes) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Body {
        panels: Vec<loupe_model::query::DashboardPanel>,
    }
    let b: Body = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not {{\"panels\": [{{\"title\": …, \"chart\": …}}]}}: {e}"
        ))
    })?;
    if b.panels.len() > MAX_PANELS
        || b.panels
            .iter()
            .any(|p| p.title.len() > MAX_FIELD || p.chart.len() > MAX_FIELD)
    {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_PANELS} panels of at most {MAX_FIELD} bytes each"
        )));
    }
    let ticket = store
        .writer
        .save_dashboard(b.panels)
        .map_err(|e| ApiError::unavailable(format!("saving failed: {e}")))?;
    ticket
        .wait()
        .await
        .map_err(|e| ApiError::unavailable(format!("saving failed: {e}")))?;
    dashboard(State(store.reader)).await
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint; see docs/api.md")
}

/// The store's routes, relative to `/api/v1`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/services", get(services))
        .route("/attributes", get(attributes))
        .route("/attributes/{key}/values", get(attribute_values))
        .route("/traces", get(traces))
        .route("/traces/{trace_id}", get(trace))
        .route("/traces/{trace_id}/columns", get(trace_columns))
        .route("/traces/{trace_id}/related", get(related))
        .route("/traces/{trace_id}/summary", get(summary::summary))
        .route("/logs", get(logs))
        .route("/metrics", get(metrics))
        .route("/metrics/{name}", get(metric))
        .route("/metrics/{name}/chart", get(chart::chart))
        .route("/dashboard", get(dashboard).put(save_dashboard))
        .merge(analysis::routes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    async fn put_dashboard(app: &Router, body: &str) -> (StatusCode, serde_json::Value) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = axum::http::Request::put("/api/v1/dashboard")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    /// The dashboard is saved through the store's writer, and a stopped
    /// writer refuses to save.
    #[tokio::test]
    async fn the_dashboard_saves_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = loupe_store::Store::open(dir.path(), Default::default()).unwrap();
        let state = AppState::standalone(store.clone(), "127.0.0.1:4317".parse().unwrap()).unwrap();
        let app = crate::test_router(state);
        let body = r#"{"panels": [{"title": "CPU", "chart": "metric=cpu"}]}"#;
        let (status, answer) = put_dashboard(&app, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["panels"][0]["title"], "CPU");
        assert_eq!(store.reader.dashboard().unwrap().len(), 1);
        let writer = store.writer.clone();
        tokio::task::spawn_blocking(move || writer.shutdown())
            .await
            .unwrap();
        let (status, _) = put_dashboard(&app, r#"{"panels": []}"#).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(store.reader.dashboard().unwrap().len(), 1);
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            pairs(Some("attr=a%3Db&x=%2B1+2&bad=%+1&end=%4".into())),
            vec![
                ("attr".to_string(), "a=b".to_string()),
                ("x".to_string(), "+1 2".to_string()),
                ("bad".to_string(), "% 1".to_string()),
                ("end".to_string(), "%4".to_string()),
            ]
        );
    }
}
