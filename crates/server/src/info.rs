//! `GET /api/v1/info`'s answer: where this Loupe listens. Its own module
//! because the one [`crate::AppState`] holds it and the routes answer it.

use ts_rs::TS;

/// Where this Loupe listens, for `GET /api/v1/info`: the UI's empty state
/// tells users the real OTLP endpoints, which differ from the defaults after
/// `--http-addr` or the desktop's "use other ports".
#[derive(Debug, Clone, serde::Serialize, TS)]
pub struct Info {
    pub version: &'static str,
    /// `host:port` for OTLP/gRPC.
    #[serde(rename = "otlpGrpc")]
    pub otlp_grpc: String,
    /// Base URL for OTLP/HTTP (`/v1/traces` etc. are appended by SDKs).
    #[serde(rename = "otlpHttp")]
    pub otlp_http: String,
    /// Attribute keys that name a run (config `analysis.run_keys`): the
    /// analysis routes' default for `runKeys`.
    #[serde(rename = "runKeys")]
    pub run_keys: Vec<String>,
}

impl Info {
    /// From the bound addresses; a wildcard address is reached on loopback.
    pub fn new(grpc: std::net::SocketAddr, http: std::net::SocketAddr) -> Info {
        Info {
            version: env!("CARGO_PKG_VERSION"),
            otlp_grpc: reachable(grpc),
            otlp_http: format!("http://{}", reachable(http)),
            run_keys: loupe_analysis::runs::DEFAULT_KEYS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

fn reachable(a: std::net::SocketAddr) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match a.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, a.port()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_names_reachable_endpoints() {
        let i = Info::new(
            "0.0.0.0:4317".parse().unwrap(),
            "[::]:4318".parse().unwrap(),
        );
        assert_eq!(i.otlp_grpc, "127.0.0.1:4317");
        assert_eq!(i.otlp_http, "http://[::1]:4318");
        let i = Info::new(
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.2:2".parse().unwrap(),
        );
        assert_eq!(i.otlp_grpc, "127.0.0.1:1");
        assert_eq!(i.otlp_http, "http://127.0.0.2:2");
    }
}
