//! Loupe for coding agents and terminals: the MCP tools and the terminal
//! query commands, both answered from Loupe's JSON API.
//!
//! Why over the API: the tools must give the answers the UI gives, so they
//! call the same handlers, never a second implementation of a query. A
//! [`backend::Backend`] is the API seen from here: [`backend::HttpBackend`]
//! talks to a running Loupe (`loupe mcp` over stdio, the terminal commands),
//! [`backend::RouterBackend`] sends the same requests in-process through the
//! API router (`/mcp`, mounted by `loupe-server`). [`tools`] turns API
//! answers into compact, budgeted, redacted answers ([`answer`],
//! [`redact`]); [`server`] speaks MCP (rmcp, the official Rust SDK) over
//! stdio and Streamable HTTP; [`term`] prints the same answers as tables or
//! NDJSON.

pub mod answer;
pub mod backend;
pub mod fmt;
pub mod otlp;
pub mod redact;
pub mod server;
pub mod term;
pub mod tools;

pub use backend::{Backend, BackendError, HttpBackend, RouterBackend};
pub use server::{router, serve_stdio, LoupeMcp};
