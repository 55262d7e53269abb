//! The query language of the JSON API: URL parameters into typed filters.
//!
//! Parsing lives here, apart from the HTTP layer, so the UI's search box,
//! alert rules and the CLI can share it. Every error names the parameter it
//! is about, because the API answers it verbatim with a 400.

mod expr;
mod params;
mod time;

pub use expr::{parse_expr, ExprError, MAX_EXPR_DEPTH, MAX_EXPR_LEN, MAX_LINK_DEPTH, MAX_LINK_OPS};
pub use params::{
    chart_query, log_query, metric_filter, metric_range, trace_query, Params, MAX_ATTRS,
    MAX_LOG_SEARCH_LEN,
};
pub use time::{parse_duration, parse_time};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter `{param}`: {message}")]
pub struct QueryError {
    pub param: String,
    pub message: String,
    /// Character offset into the parameter's value, for `q` expressions.
    pub position: Option<usize>,
}

impl QueryError {
    pub fn new(param: &str, message: impl Into<String>) -> Self {
        QueryError {
            param: param.to_string(),
            message: message.into(),
            position: None,
        }
    }
}
