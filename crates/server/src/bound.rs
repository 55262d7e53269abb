//! Where a running Loupe listens: what `/health` reports, and the origin
//! deep links (MCP answers, the login URL) point at.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a running Loupe listens, after binding (ports may have been 0).
#[derive(Debug, Clone)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub api: SocketAddr,
    pub db: PathBuf,
    /// The URL that logs a browser in, when the API needs a token.
    pub login_url: Option<String>,
}

impl Bound {
    /// The UI's origin for links (`http://127.0.0.1:16686`): a wildcard
    /// listen address is reached on loopback.
    pub fn ui_base(&self) -> String {
        let ip = match self.api.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.api.port()))
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "loupe: OTLP/gRPC on {}", self.grpc)?;
        writeln!(f, "loupe: OTLP/HTTP on http://{}", self.http)?;
        writeln!(f, "loupe: API and UI on http://{}", self.api)?;
        write!(f, "loupe: data in {}", self.db.display())?;
        if let Some(u) = &self.login_url {
            write!(f, "\nloupe: the API and UI need a token: log in at {u}")?;
        }
        Ok(())
    }
}
