//! `/api/v1/export…` and `/api/v1/imports…`: bug-report bundles over HTTP.
//! The work is `loupe_export`'s; this maps parameters and answers.
//! Documented in `docs/api.md`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use futures_util::StreamExt;
use loupe_export::import::MAX_FILE_BYTES;
use loupe_export::{ExportError, ExportRequest, ExportSpec, Format, Selection};
use loupe_model::ids::TraceId;
use loupe_query::QueryError;
use loupe_store::{ImportInfo, Store};
use serde::Serialize;
use ts_rs::TS;

use crate::api::{pairs, ApiError};

/// `GET /imports`: the imported files.
#[derive(Debug, Serialize, TS)]
pub struct Imports {
    pub imports: Vec<ImportInfo>,
}

/// `DELETE /imports/{source}`: the import whose data was deleted.
#[derive(Debug, Serialize, TS)]
pub struct Deleted {
    pub deleted: String,
}

/// Parameters of `GET /api/v1/export` that are not the trace search's.
const OWN: &[&str] = &[
    "traceId",
    "linked",
    "window",
    "logs",
    "metrics",
    "format",
    "redact",
    "redactPattern",
];

fn flag(k: &str, v: &str) -> Result<bool, QueryError> {
    match v {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(QueryError::new(k, format!("{v:?} is not true or false"))),
    }
}

/// The export a query string asks for: the parameters parsed into
/// `loupe_export`'s typed [`ExportRequest`], which the CLI builds from its
/// flags.
pub fn export_spec(params: &[(String, String)]) -> Result<ExportSpec, QueryError> {
    export_request(params).map(ExportRequest::into_spec)
}

/// [`export_spec`]'s parsing.
fn export_request(params: &[(String, String)]) -> Result<ExportRequest, QueryError> {
    let (own, rest): (Vec<_>, Vec<_>) = params
        .iter()
        .cloned()
        .partition(|(k, _)| OWN.contains(&k.as_str()));
    let mut ids = Vec::new();
    let (mut linked, mut window, mut logs, mut metrics, mut redact) =
        (false, false, false, false, true);
    let mut format = Format::JsonLines;
    let mut patterns = Vec::new();
    for (k, v) in &own {
        match k.as_str() {
            "traceId" => {
                ids.push(TraceId::parse_hex(v).map_err(|e| QueryError::new(k, e.to_string()))?)
            }
            "linked" => linked = flag(k, v)?,
            "window" => window = flag(k, v)?,
            "logs" => logs = flag(k, v)?,
            "metrics" => metrics = flag(k, v)?,
            "redact" => redact = flag(k, v)?,
            "redactPattern" => patterns.push(v.clone()),
            "format" => {
                format = Format::parse(v)
                    .ok_or_else(|| QueryError::new(k, format!("{v:?} is not jsonl or html")))?
            }
            _ => {}
        }
    }
    let selection = if !ids.is_empty() {
        Selection::traces(ids, linked)
    } else if window {
        let (services, times): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|(k, _)| k == "service");
        Selection::window(
            loupe_query::metric_range(&times)?,
            services.into_iter().map(|(_, v)| v).collect(),
        )
    } else {
        let q = loupe_query::trace_query(&rest)?;
        let limit = rest.iter().any(|(k, _)| k == "limit").then_some(q.limit);
        Selection::search(q, limit)
    };
    Ok(ExportRequest {
        selection,
        logs,
        metrics,
        redact,
        redact_patterns: patterns,
        format,
    })
}

/// Set when the request's future is dropped (the client went away or
/// aborted): the export or import running on a blocking thread stops at its
/// next step.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce(Arc<AtomicBool>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    tokio::task::spawn_blocking(move || f(cancel))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Chunks of a streamed export, or why it stopped.
enum Piece {
    Data(Bytes),
    Failed(ExportError),
}

/// An `io::Write` that sends 64 KiB chunks to the response body: the
/// download starts while the export runs (the UI shows its progress), and
/// when the client goes away the next write fails, which stops the export.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Piece>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Piece::Data(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

async fn export(State(store): State<Store>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let spec = export_spec(&pairs(q))?;
    let format = spec.format;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Piece>(4);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(64 << 10),
        };
        let closed = tx.clone();
        let r =
            loupe_export::export::write(&store.reader, &spec, &mut w, &mut |_| !closed.is_closed())
                .and_then(|_| Ok(std::io::Write::flush(&mut w)?));
        if let Err(e) = r {
            let _ = tx.blocking_send(Piece::Failed(e));
        }
    });
    // Errors before the first byte (nothing matches, a bad trace) get a
    // proper answer; later ones can only cut the download short.
    let first = match rx.recv().await {
        Some(Piece::Data(b)) => b,
        Some(Piece::Failed(e)) => return Err(e.into()),
        None => return Err(ApiError::internal("the export stopped")),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Some(Piece::Data(b)) => Some((Ok(b), rx)),
            Some(Piece::Failed(e)) => Some((Err(std::io::Error::other(e.to_string())), rx)),
            None => None,
        }
    });
    let body = axum::body::Body::from_stream(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(rest),
    );
    let name = format!(
        "loupe-export-{}.{}",
        loupe_model::time::now_ns() / 1_000_000_000,
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

async fn preview(State(store): State<Store>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let spec = export_spec(&pairs(q))?;
    let summary =
        run_blocking(move |_| Ok(loupe_export::export::preview(&store.reader, &spec)?)).await?;
    Ok(Json(summary).into_response())
}

/// The body arrives whole (at most [`MAX_FILE_BYTES`], the route's body
/// limit); a larger one is refused while it is read, with the importer's
/// JSON 413 rather than axum's plain-text one.
async fn import(
    State(store): State<Store>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let name = pairs(q)
        .into_iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v)
        .ok_or_else(|| QueryError::new("name", "the file's name is required"))?;
    let source = loupe_export::source_name(&name);
    let report = run_blocking(move |cancel| {
        Ok(loupe_export::import_into(
            &store,
            &body,
            &source,
            &mut |_| !cancel.load(Ordering::SeqCst),
        )?)
    })
    .await?;
    Ok(Json(report).into_response())
}

async fn list(State(store): State<Store>) -> Result<Response, ApiError> {
    let imports = run_blocking(move |_| {
        store
            .reader
            .imports()
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    crate::api::json_sorted(&Imports { imports }, 4096)
}

async fn remove(
    State(store): State<Store>,
    Path(source): Path<String>,
) -> Result<Response, ApiError> {
    let known = {
        let store = store.clone();
        let source = source.clone();
        run_blocking(move |_| {
            store
                .reader
                .imports()
                .map(|l| l.iter().any(|i| i.source == source))
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?
    };
    if !known {
        return Err(ApiError::not_found(format!("no import {source:?}")));
    }
    let s = source.clone();
    run_blocking(move |_| {
        let failed = |e: loupe_model::sink::SinkError| ApiError::internal(e.to_string());
        let ticket = store.writer.delete_import(&s).map_err(failed)?;
        ticket.wait_blocking().map_err(failed)
    })
    .await?;
    Ok(Json(Deleted { deleted: source }).into_response())
}

/// The export and import routes, relative to `/api/v1`.
pub(crate) fn routes() -> Router<crate::AppState> {
    Router::new()
        .route("/export", get(export))
        .route("/export/preview", get(preview))
        .route(
            "/imports",
            get(list)
                .post(import)
                .layer(DefaultBodyLimit::max(MAX_FILE_BYTES)),
        )
        .route("/imports/{source}", delete(remove))
}
