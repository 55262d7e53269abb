//! The MCP tools: names, input schemas, and what each answers.
//!
//! Each tool asks the JSON API (through a [`Backend`]) exactly what the UI
//! asks, then shapes a compact answer for an agent: summaries instead of
//! OTLP dumps, deep links into the UI, notes when something is missing,
//! and a [`Page`] that [`answer::render`] fits into the budget.
//!
//! This module is the table: every tool's definition and where a call
//! goes. The tools live by what they ask about — [`services`], [`traces`]
//! (with the folded span [`tree`]), [`logs`], [`metrics`], [`alerts`] and
//! the trace [`analysis`] over the API's analysis routes — and share the
//! checked [`args`] and the input [`schema`] builders.

use serde_json::{Map, Value};

use crate::answer::{self, Page};
use crate::backend::{Answer, Backend, BackendError};

mod alerts;
mod analysis;
mod args;
mod logs;
mod metrics;
mod schema;
mod services;
mod traces;
mod tree;

use args::Args;

pub use metrics::series_summary;
pub use traces::{run_keys, RUN_KEYS};
pub use tree::tree_lines;

/// Why a tool call failed (answered to the agent as a tool error).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The arguments are wrong; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The API refused (a bad `q=`, a bad time): its own message.
    #[error("Loupe's API refused the request: {0}")]
    Api(String),
    #[error("no tool named {0:?}; tools/list has them")]
    Unknown(String),
}

/// Where a call runs: the API, and the UI's base URL for deep links.
pub struct Ctx<'a> {
    pub backend: &'a dyn Backend,
    /// `http://127.0.0.1:16686`, no trailing slash.
    pub ui: String,
}

impl Ctx<'_> {
    async fn get(&self, path: String) -> Result<Answer, ToolError> {
        Ok(self.backend.get(path).await?)
    }

    async fn get_ok(&self, path: String) -> Result<Value, ToolError> {
        let a = self.get(path).await?;
        if a.ok() {
            Ok(a.body)
        } else {
            Err(ToolError::Api(a.error_text()))
        }
    }

    /// The body of a 2xx answer, `None` for a 404 (a trace retention has
    /// deleted, alerting not running): the tools answer that with a note,
    /// not an error, so an agent knows what to do next.
    async fn get_found(&self, path: String) -> Result<Option<Value>, ToolError> {
        let a = self.get(path).await?;
        if a.status == 404 {
            Ok(None)
        } else if a.ok() {
            Ok(Some(a.body))
        } else {
            Err(ToolError::Api(a.error_text()))
        }
    }

    fn trace_link(&self, trace: &str) -> String {
        format!("{}/trace/{trace}", self.ui)
    }

    fn span_link(&self, trace: &str, span: &str) -> String {
        format!("{}/trace/{trace}?span={span}", self.ui)
    }
}

/// A tool as `tools/list` shows it.
pub struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

/// Every tool, in a stable order with stable names.
pub fn definitions() -> Vec<ToolDef> {
    let mut defs = services::definitions();
    defs.extend(traces::definitions());
    defs.extend(logs::definitions());
    defs.extend(metrics::definitions());
    defs.extend(alerts::definitions());
    defs.extend(analysis::definitions());
    defs
}

/// Runs tool `name`; the answer is JSON text within its budget, redacted.
pub async fn call(
    ctx: &Ctx<'_>,
    name: &str,
    args: Map<String, Value>,
) -> Result<String, ToolError> {
    let (page, max) = run(ctx, name, args).await?;
    Ok(answer::render(page, max))
}

/// Runs tool `name` without fitting its answer: the page and the budget
/// asked for. The terminal commands print the page's items whole.
pub async fn run(
    ctx: &Ctx<'_>,
    name: &str,
    args: Map<String, Value>,
) -> Result<(Page, usize), ToolError> {
    let a = Args::new(name, args)?;
    let max = a.max_bytes()?;
    let page = match name {
        "list_services" => services::list_services(ctx, &a).await?,
        "search_traces" => traces::search_traces(ctx, &a).await?,
        "get_trace" => traces::get_trace(ctx, &a).await?,
        "get_span" => traces::get_span(ctx, &a).await?,
        "get_related_traces" => traces::get_related(ctx, &a).await?,
        "search_logs" => logs::search_logs(ctx, &a).await?,
        "list_metrics" => metrics::list_metrics(ctx, &a).await?,
        "get_metric_series" => metrics::metric_series(ctx, &a).await?,
        "list_alerts" => alerts::list_alerts(ctx, &a).await?,
        "alert_history" => alerts::alert_history(ctx, &a).await?,
        "get_critical_path" => analysis::get_critical_path(ctx, &a).await?,
        "get_statistics" => analysis::get_statistics(ctx, &a).await?,
        "compare_traces" => analysis::compare_traces(ctx, &a).await?,
        "compare_with_previous_run" => analysis::compare_with_previous(ctx, &a).await?,
        other => return Err(ToolError::Unknown(other.to_string())),
    };
    Ok((page, max))
}

/// A listing from the cursor's offset on (the cursor counts items).
fn from_offset(items: Vec<Value>, offset: usize) -> Vec<Value> {
    items.into_iter().skip(offset).collect()
}

/// The answer about a trace Loupe does not have: a note saying why that
/// happens, instead of an error (the analysis tools answer it too).
fn not_found_trace(ctx: &Ctx<'_>, id: &str, list: &'static str) -> Page {
    let mut p = Page::new(list);
    p.set("traceId", id);
    p.set("found", false);
    p.set(
        "note",
        format!("Loupe has no trace {id}: it was never received, or retention (max age / database size) has already deleted it. search_traces lists what is there."),
    );
    p.set("link", ctx.trace_link(id));
    p
}
