//! Binding the three listeners before anything else starts, so a taken
//! port is a clear error naming it (and, on Linux, the process holding it)
//! instead of one hidden inside tonic or axum.

use std::net::SocketAddr;

use loupe_forward::ForwardError;
use loupe_store::StoreError;
use tokio::net::TcpListener;

use crate::config::ServeConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for {what} on {addr}: {source}{hint}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
        hint: String,
    },
    #[error("refusing to listen for {what} on {addr}, which is not a loopback address: pass --allow-remote to accept telemetry from other machines")]
    NotLoopback {
        what: &'static str,
        addr: SocketAddr,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error("{what} stopped: {message}")]
    Server { what: &'static str, message: String },
}

/// The three listeners, bound. Binding first (before anything else starts)
/// gives a clear error naming the port, which tonic's own bind would hide.
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: TcpListener,
    pub api: TcpListener,
}

async fn bind(
    what: &'static str,
    flag: &str,
    addr: SocketAddr,
    allow_remote: bool,
) -> Result<TcpListener, ServeError> {
    if !allow_remote && !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback { what, addr });
    }
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
            let who = match crate::ports::holder(addr) {
                Some(h) => format!("it is taken by {h}"),
                None => "another Loupe, Jaeger or OpenTelemetry Collector may be running".into(),
            };
            format!(" ({who}; stop it or pass {flag} with another port)")
        } else {
            String::new()
        };
        ServeError::Bind {
            what,
            addr,
            source,
            hint,
        }
    })
}

impl Listeners {
    pub async fn bind(c: &ServeConfig) -> Result<Listeners, ServeError> {
        Ok(Listeners {
            grpc: bind("OTLP/gRPC", "--grpc-addr", c.grpc_addr, c.allow_remote).await?,
            http: bind("OTLP/HTTP", "--http-addr", c.http_addr, c.allow_remote).await?,
            api: bind("the API and UI", "--api-addr", c.api_addr, c.allow_remote).await?,
        })
    }
}
