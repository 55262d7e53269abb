//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use loupe_model::sink::Sink;
use prost::Message;

use crate::admit::over_budget;
use crate::budget::{Budget, Charge, DECODED_FACTOR};
use crate::stats::{Outcome, Transport};

use crate::pipeline::{self, Signal};
use crate::status::IngestError;
use crate::{cors, ReceiverConfig};
use loupe_otlp::decode::{decode_message, BodySink, DecodeError, Encoding};

/// A refused body (too large, bad gzip) is still read and thrown away, up
/// to this much and this long, before the error is answered. Otherwise the
/// server closes with unread data, the TCP reset can destroy the answer
/// before the client reads it (RFC 9112 §9.6), and clients that finish
/// sending before reading (hyper, reqwest, so Rust exporters) see a broken
/// pipe instead of a 413 they would not retry. Past these bounds the
/// connection is simply closed.
const DRAIN_MAX_BYTES: usize = 256 << 20;
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// Longest time a request body may take to arrive (64 MiB at about 1 MB/s):
/// a body trickled byte by byte would otherwise hold one of the
/// connection slots (`conn`) and its budget charge for as long as it likes.
pub const BODY_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Clone)]
struct HttpState {
    cx: pipeline::Context,
    limit: usize,
    budget: Arc<Budget>,
    api_key: Option<crate::ApiKey>,
}

/// The OTLP/HTTP receiver as a router, CORS included.
pub fn router(sink: Arc<dyn Sink>, config: &ReceiverConfig) -> Router {
    let state = HttpState {
        cx: pipeline::Context::new(sink, config),
        limit: config.max_decoded_bytes,
        budget: config.budget.clone(),
        api_key: config.api_key.clone(),
    };
    Router::new()
        .route("/v1/traces", post(handle::<pipeline::Traces>))
        .route("/v1/metrics", post(handle::<pipeline::Metrics>))
        .route("/v1/logs", post(handle::<pipeline::Logs>))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors::layer(&config.cors_origins))
        .with_state(state)
}

fn request_encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Encoding::from_content_type(ct).ok_or_else(|| IngestError::UnsupportedMediaType(ct.to_string()))
}

async fn method_not_allowed(req: Request) -> Response {
    let enc = request_encoding(req.headers()).unwrap_or(Encoding::Json);
    IngestError::MethodNotAllowed(req.method().to_string()).to_http(enc)
}

async fn handle<S: Signal>(State(st): State<HttpState>, req: Request) -> Response {
    let stats = &st.cx.stats;
    let enc = match request_encoding(req.headers()) {
        Ok(e) => e,
        // The request's encoding is unknown: answer in JSON, readable by people.
        Err(e) => {
            stats.request(S::KIND, Transport::Http, Outcome::of(&e));
            return e.to_http(Encoding::Json);
        }
    };
    match export::<S>(&st, req, enc).await {
        Ok(resp) => {
            stats.request(S::KIND, Transport::Http, Outcome::Ok);
            resp
        }
        Err(e) => {
            stats.request(S::KIND, Transport::Http, Outcome::of(&e));
            e.to_http(enc)
        }
    }
}

/// Refuses a request over the in-flight budget: the body is read and
/// thrown away first (no memory needed), so the client sees the 503.
async fn refuse(st: &HttpState, body: Body) -> IngestError {
    st.budget.count_refusal(Transport::Http);
    drain(body).await;
    over_budget(&st.budget)
}

/// Reads the body into memory, charging the budget as the (decompressed)
/// buffer grows, [`DECODED_FACTOR`] times over: the decoded request is
/// about to take that much, and charging it only after decoding would let
/// every admitted body overshoot the budget by the factor at once. Refused
/// as soon as it does not fit.
async fn read_body(st: &HttpState, charge: &Charge, req: Request) -> Result<Vec<u8>, IngestError> {
    let ce = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("invalid").to_string());
    let mut sink = BodySink::new(ce.as_deref(), st.limit)?;
    if ce.is_none() {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(n) = declared.filter(|n| *n > st.limit) {
            // A client waiting for `100 Continue` has not sent the body and
            // will not: answer at once.
            let expects_continue = req
                .headers()
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            if !expects_continue && n <= DRAIN_MAX_BYTES {
                drain(req.into_body()).await;
            }
            return Err(DecodeError::TooLarge { limit: st.limit }.into());
        }
        // Known size: charge it all before reading a byte.
        if let Some(n) = declared {
            if !charge.try_add(n.saturating_mul(DECODED_FACTOR)) {
                return Err(refuse(st, req.into_body()).await);
            }
        }
    }
    let mut body: Body = req.into_body();
    let read = async move {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| DecodeError::Body(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                if let Err(e) = sink.push(data) {
                    drain(body).await;
                    return Err(e.into());
                }
                let grown = sink
                    .len()
                    .saturating_mul(DECODED_FACTOR)
                    .saturating_sub(charge.bytes());
                if grown > 0 && !charge.try_add(grown) {
                    drop(sink);
                    return Err(refuse(st, body).await);
                }
            }
        }
        Ok(sink.finish()?)
    };
    tokio::time::timeout(BODY_MAX_TIME, read)
        .await
        .unwrap_or_else(|_| {
            Err(DecodeError::Body(format!(
                "the request body did not arrive within {} s",
                BODY_MAX_TIME.as_secs()
            ))
            .into())
        })
}

/// Reads and discards the rest of a refused body, within
/// [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`].
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
        let mut left = DRAIN_MAX_BYTES;
        while let Some(Ok(frame)) = body.frame().await {
            let n = frame.data_ref().map_or(0, |d| d.len());
            if n >= left {
                break;
            }
            left -= n;
        }
    })
    .await;
}

async fn export<S: Signal>(
    st: &HttpState,
    req: Request,
    enc: Encoding,
) -> Result<Response, IngestError> {
    if let Some(key) = &st.api_key {
        if !key.admits(req.headers()) {
            drain(req.into_body()).await;
            return Err(IngestError::Unauthenticated);
        }
    }
    let Some(charge) = st.budget.admit() else {
        return Err(refuse(st, req.into_body()).await);
    };
    let bytes = read_body(st, &charge, req).await?;
    let msg: S::Request = decode_message(&bytes, enc)?;
    drop(bytes);
    // Protobuf size, whatever the encoding: what the decoded structs are
    // proportional to (JSON is larger on the wire than in memory).
    let size = prost::Message::encoded_len(&msg);
    let accepted = pipeline::export::<S>(&st.cx, Transport::Http, size, Some(&charge), msg).await?;
    let body = match enc {
        Encoding::Protobuf => S::response(accepted.rejected, accepted.message).encode_to_vec(),
        Encoding::Json => {
            let v = if accepted.rejected > 0 {
                serde_json::json!({ "partialSuccess": {
                    S::REJECTED_KEY: accepted.rejected.to_string(),
                    "errorMessage": accepted.message,
                }})
            } else {
                serde_json::json!({})
            };
            serde_json::to_vec(&v).unwrap_or_default()
        }
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    Ok(resp)
}
