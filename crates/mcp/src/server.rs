//! MCP over the two transports of the specification, with rmcp (the
//! official Rust SDK): stdio for `loupe mcp`, which agents launch and which
//! asks a running Loupe's API over HTTP, and Streamable HTTP at `/mcp` on
//! the API address, which answers in-process through the API router. One
//! handler, [`LoupeMcp`], generic over the [`Backend`]: the tools are the
//! same on both.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::backend::{Backend, HttpBackend, RouterBackend};
use crate::tools::{self, Ctx, ToolError};

const INSTRUCTIONS: &str = "Loupe is the local OpenTelemetry viewer that receives this machine's traces, logs and metrics (often from Kestra). \
Start with search_traces (errors=true, since=15m) or search_logs, then get_trace for a bounded summary (errors with exceptions and logs, slowest spans, folded tree), \
get_span for one span whole, get_related_traces for linked runs (Kestra ForEachItem/subflows). \
To explain slowness: get_critical_path (what decided when the trace ended), get_statistics (time per operation or service), \
compare_with_previous_run (what changed since the last run of the same flow) or compare_traces (any two). Answers are JSON within max_bytes (default 16000); \
when cut they say so and give nextCursor. Every answer has links into Loupe's UI to show the user. Secrets are masked as [REDACTED].";

/// The MCP server: tools over a backend. Cheap to clone.
pub struct LoupeMcp<B> {
    backend: Arc<B>,
    /// The UI base for deep links when the request does not tell (stdio).
    ui: String,
}

impl<B> Clone for LoupeMcp<B> {
    fn clone(&self) -> Self {
        LoupeMcp {
            backend: self.backend.clone(),
            ui: self.ui.clone(),
        }
    }
}

impl<B: Backend> LoupeMcp<B> {
    pub fn new(backend: B, ui: String) -> LoupeMcp<B> {
        LoupeMcp {
            backend: Arc::new(backend),
            ui: ui.trim_end_matches('/').to_string(),
        }
    }
}

/// The tool list as MCP describes it.
pub fn tool_list() -> Vec<Tool> {
    tools::definitions()
        .into_iter()
        .map(|d| {
            let schema = match d.schema {
                serde_json::Value::Object(o) => o,
                _ => serde_json::Map::new(),
            };
            let mut ann = rmcp::model::ToolAnnotations::new();
            ann.read_only_hint = Some(true);
            ann.open_world_hint = Some(false);
            Tool::new(d.name, d.description, Arc::new(schema))
                .with_title(d.title)
                .with_annotations(ann)
        })
        .collect()
}

impl<B: Backend> ServerHandler for LoupeMcp<B> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("loupe", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_list()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_list().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Over HTTP the links use the address the client reached.
        let ui = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.headers.get(http::header::HOST))
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}"))
            .unwrap_or_else(|| self.ui.clone());
        let ctx = Ctx {
            backend: self.backend.as_ref(),
            ui,
        };
        let args = request.arguments.unwrap_or_default();
        let result = match tools::call(&ctx, &request.name, args).await {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(ToolError::Unknown(name)) => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named {name:?}"),
                    None,
                ))
            }
            Err(e) => {
                let mut v = serde_json::json!({ "error": e.to_string() });
                crate::redact::redact(&mut v);
                CallToolResult::error(vec![ContentBlock::text(v.to_string())])
            }
        };
        Ok(result.into())
    }
}

/// Why `loupe mcp` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("MCP session failed: {0}")]
    Session(String),
}

/// `loupe mcp`: MCP on stdin/stdout until the client closes it, answering
/// from the Loupe whose API is at `api` (`http://127.0.0.1:16686`).
/// Whether Loupe runs is checked at start (a line on stderr, which clients
/// show in their logs) and at every call (the tool's error says it).
pub async fn serve_stdio(api: &str, token: Option<String>) -> Result<(), ServeError> {
    let backend = HttpBackend::new(api).with_token(token);
    let ui = backend.base().to_string();
    if let Err(e) = backend.get("/api/v1/info".into()).await {
        eprintln!("loupe mcp: {e}; tools will say so until it runs");
    }
    let server = LoupeMcp::new(backend, ui);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| ServeError::Session(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| ServeError::Session(e.to_string()))?;
    Ok(())
}

/// `/mcp`: Streamable HTTP, stateless (no session to keep or expire: every
/// POST carries one JSON-RPC message and gets its JSON answer), answering
/// through `api`, the API router of this process. The caller mounts it
/// behind its Host guard, which is why rmcp's own Host check is off: one
/// check, the same as for the rest of the API. `ui` is the UI's origin,
/// for the answers' deep links.
pub fn router(api: axum::Router, ui: String) -> axum::Router {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let handler = LoupeMcp::new(RouterBackend::new(api), ui);
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        // One JSON-RPC message per POST: 1 MiB is far above any tool call
        // (rmcp answers 413 beyond it; serde_json bounds the nesting at 128).
        .with_max_request_body_bytes(1 << 20)
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().route_service("/mcp", service)
}
