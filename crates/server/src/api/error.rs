//! The one error answer of the JSON API: a status and an [`ErrorBody`],
//! the same shape on every route (docs/api.md, "Errors").
//!
//! Every failure a handler can meet converts into an [`ApiError`] with `?`
//! (query parameters, the store, export and import, bodies axum refuses);
//! anything else is `ApiError::new(status, message)` plus what it knows
//! (`with_param`, `with_position`, `with_limit`, `with_errors`).

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loupe_export::import::{ImportError, MAX_FILE_BYTES};
use loupe_export::ExportError;
use loupe_query::QueryError;
use loupe_store::StoreError;
use serde::Serialize;
use ts_rs::TS;

/// The body of every error answer. Only `error` is always there; the
/// other fields say more where the failure has it. Fields are in
/// alphabetical order, as the answers always had them.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ErrorBody {
    /// What went wrong, in one sentence for people.
    pub error: String,
    /// Line-numbered problems (the rule editor marks them in its text).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub errors: Option<Vec<ErrorDetail>>,
    /// The size limit that was exceeded, in bytes or units (413).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u64>,
    /// The query parameter at fault (400).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub param: Option<String>,
    /// Where in the parameter's value or in the uploaded file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub position: Option<ErrorPosition>,
}

/// A place in what the caller sent.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(untagged)]
pub enum ErrorPosition {
    /// A character offset into the parameter's value (`q` expressions).
    Char(u64),
    /// A place in an uploaded file: `{line, column}` or `{byte}`.
    File(loupe_export::import::Position),
}

/// One problem with a line and column where known (rule YAML).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ErrorDetail {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl ErrorDetail {
    /// A problem without a place.
    pub fn msg(message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl From<&loupe_alerts::RuleError> for ErrorDetail {
    fn from(e: &loupe_alerts::RuleError) -> Self {
        ErrorDetail {
            line: e.line.map(|v| v as u64),
            column: e.column.map(|v| v as u64),
            message: e.message.clone(),
        }
    }
}

/// Everything an API call can fail with: a status and the one body shape
/// (boxed, so a `Result` with it stays small).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: message.into(),
                errors: None,
                limit: None,
                param: None,
                position: None,
            }),
        }
    }

    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: Loupe failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 503: Loupe cannot do it now (the store cannot write).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// A blocking task that did not finish.
    pub fn interrupted() -> ApiError {
        ApiError::internal("the query was interrupted")
    }

    /// An answer that could not be encoded (or drawn).
    pub fn encode(e: impl std::fmt::Display) -> ApiError {
        ApiError::internal(format!("encoding the answer failed: {e}"))
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.body.param = Some(param.into());
        self
    }

    pub fn with_position(mut self, position: ErrorPosition) -> ApiError {
        self.body.position = Some(position);
        self
    }

    pub fn with_limit(mut self, limit: u64) -> ApiError {
        self.body.limit = Some(limit);
        self
    }

    pub fn with_errors(mut self, errors: Vec<ErrorDetail>) -> ApiError {
        self.body.errors = Some(errors);
        self
    }

    /// The sentence in `error`.
    pub fn message(&self) -> &str {
        &self.body.error
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.body.error, self.status.as_u16())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(*self.body)).into_response()
    }
}

impl From<QueryError> for ApiError {
    fn from(q: QueryError) -> Self {
        let e = ApiError::bad_request(q.to_string()).with_param(q.param);
        match q.position {
            Some(p) => e.with_position(ErrorPosition::Char(p as u64)),
            None => e,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            // A query the store cannot run (a log search with a NUL byte or
            // that FTS5 cannot parse) is the caller's fault, like a bad
            // parameter.
            StoreError::BadQuery(_) => StatusCode::BAD_REQUEST,
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        let status = match &e {
            ExportError::Empty(_) => StatusCode::NOT_FOUND,
            ExportError::Cancelled => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let status = if e.is_too_large() {
            StatusCode::PAYLOAD_TOO_LARGE
        } else if let ImportError::Sink(_) = e {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let out = ApiError::new(status, e.to_string());
        match e {
            ImportError::TooManyUnits { limit } => out.with_limit(limit as u64),
            e if e.is_too_large() => out.with_limit(MAX_FILE_BYTES as u64),
            ImportError::Unreadable { position, .. } => {
                out.with_position(ErrorPosition::File(position))
            }
            ImportError::NothingValid { first, .. } => {
                out.with_position(ErrorPosition::File(first.position))
            }
            _ => out,
        }
    }
}

impl From<BytesRejection> for ApiError {
    /// The body limit layer's refusal (plain text by default) becomes the
    /// same JSON answer as the importer's own size errors.
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the file is larger than the import limit of {MAX_FILE_BYTES} bytes ({} MiB)",
                    MAX_FILE_BYTES >> 20
                ),
            )
            .with_limit(MAX_FILE_BYTES as u64)
        } else {
            ApiError::new(
                status,
                format!("reading the upload failed: {}", r.body_text()),
            )
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// A body that is not the JSON a route takes: 400 with axum's reason.
    fn from(r: JsonRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_body_shape_in_alphabetical_order() {
        let e: ApiError = QueryError {
            param: "q".into(),
            message: "expected a condition".into(),
            position: Some(27),
        }
        .into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let body = serde_json::to_string(&e.body).unwrap();
        assert_eq!(
            body,
            r#"{"error":"invalid parameter `q`: expected a condition","param":"q","position":27}"#
        );
        let e = ApiError::bad_request("bad rule").with_errors(vec![ErrorDetail {
            line: Some(3),
            column: None,
            message: "unknown field".into(),
        }]);
        assert_eq!(
            serde_json::to_string(&e.body).unwrap(),
            r#"{"error":"bad rule","errors":[{"line":3,"column":null,"message":"unknown field"}]}"#
        );
    }
}
