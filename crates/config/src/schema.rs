//! The configuration file's shape. Every key has a default; an unknown key
//! is an error that names it (`deny_unknown_fields`), so a typo never
//! silently does nothing.

use std::net::SocketAddr;
use std::path::PathBuf;

use loupe_model::correlation::JoinRule;
use loupe_otlp::filter::FilterRule;
use serde::{Deserialize, Serialize};

use crate::units::{Age, Size};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// OTLP/gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address.
    pub http_addr: SocketAddr,
    /// JSON API, UI, `/health` and `/metrics` listen address.
    pub api_addr: SocketAddr,
    /// Allow listening on addresses other than loopback.
    pub allow_remote: bool,
    /// Browser origins allowed to send OTLP/HTTP.
    pub cors_origins: Vec<String>,
    /// With `allow_remote`: host names accepted in `Host` besides loopback
    /// names and IP addresses (e.g. this machine's `laptop.local`).
    pub allowed_hosts: Vec<String>,
    pub auth: Auth,
    pub receiver: Receiver,
    /// Largest database size before the oldest data is deleted.
    pub max_db_size: Size,
    /// How long data is kept after it arrived (not by its own timestamps).
    pub max_age: Age,
    /// Log filter, `RUST_LOG` syntax (`info`, `warn,loupe_store=debug`).
    pub log: String,
    pub health: Health,
    pub metrics: Metrics,
    pub forward: Forward,
    /// Ingest filter rules (`[[filters]]`), applied before storage.
    pub filters: Vec<FilterRule>,
    pub analysis: Analysis,
    pub traces: Traces,
    /// Join rules (`[[correlation]]`): traces sharing a correlation key's
    /// value, or naming another's in a reference attribute, are shown as
    /// related, marked inferred. Default: one rule on `kestra.executionId`;
    /// `correlation = []` indexes none, `enabled = false` keeps a rule
    /// indexed but unanswered (it can be turned on while Loupe runs).
    pub correlation: Vec<JoinRule>,
}

/// Incomplete traces (docs/api.md, "Incomplete traces").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Traces {
    /// A trace whose last span arrived this recently is "still receiving".
    pub receiving_window: Age,
    /// How long after a trace's last span its missing parents are waited
    /// for; then the UI says they never arrived.
    pub parent_grace: Age,
}

impl Default for Traces {
    fn default() -> Self {
        Traces {
            receiving_window: age("5s"),
            parent_grace: age("5m"),
        }
    }
}

/// Trace analysis (docs/api.md, "Trace analysis").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Analysis {
    /// Attribute keys that name "the same run" (the run key: previous run,
    /// run history) when a span of the trace carries all of them; else the
    /// root's service and span name is the key. Empty: always the root.
    pub run_keys: Vec<String>,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            run_keys: vec!["kestra.namespace".into(), "kestra.flowId".into()],
        }
    }
}

/// What a listener reachable beyond loopback requires (SECURITY.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// The UI and API require the access token (file `api-token`).
    pub api: bool,
    /// OTLP exports require the API key (file `otlp-api-key`).
    pub otlp: bool,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            api: true,
            otlp: true,
        }
    }
}

/// The OTLP receivers (gRPC and HTTP alike).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receiver {
    /// Bytes of export requests in flight (read, decoded, waiting for the
    /// store) before more are refused with a retryable answer.
    pub max_in_flight: Size,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            max_in_flight: size("16MiB"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// `/health` is DOWN when the data directory's disk has less free space.
    pub min_free_disk: Size,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Prefix of Loupe's own metric names in `/metrics`.
    pub prefix: String,
    /// Serve the latest received metric values at `/metrics/received`.
    pub received: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Forward {
    /// Upstream OTLP endpoint (`http://collector:4317`); empty: no forwarding.
    pub endpoint: String,
    /// `grpc` or `http` (OTLP/HTTP protobuf; `/v1/traces`… are appended).
    pub protocol: String,
    /// Batches waiting to be forwarded, at most; more are dropped and counted.
    pub queue_batches: usize,
    /// Bytes waiting to be forwarded, at most (protobuf size).
    pub queue_bytes: Size,
    /// Longest wait between two attempts while the upstream is down.
    pub max_backoff: Age,
    /// Time allowed for one export call.
    pub timeout: Age,
}

fn size(s: &str) -> Size {
    Size::new(s).unwrap_or(Size {
        text: s.to_string(),
        bytes: 0,
    })
}

fn age(s: &str) -> Age {
    Age::new(s).unwrap_or(Age {
        text: s.to_string(),
        duration: std::time::Duration::ZERO,
    })
}

/// The platform data directory (e.g. `~/.local/share/loupe`).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("loupe"))
        .unwrap_or_else(|| PathBuf::from(".loupe"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            api_addr: SocketAddr::from(([127, 0, 0, 1], 16686)),
            allow_remote: false,
            cors_origins: loupe_otlp::DEFAULT_CORS_ORIGINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            allowed_hosts: Vec::new(),
            auth: Auth::default(),
            receiver: Receiver::default(),
            max_db_size: size("1GiB"),
            max_age: age("7d"),
            log: "info".into(),
            health: Health::default(),
            metrics: Metrics::default(),
            forward: Forward::default(),
            filters: Vec::new(),
            analysis: Analysis::default(),
            traces: Traces::default(),
            correlation: JoinRule::defaults(),
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health {
            min_free_disk: size("100MiB"),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            prefix: "loupe_".into(),
            received: false,
        }
    }
}

impl Default for Forward {
    fn default() -> Self {
        Forward {
            endpoint: String::new(),
            protocol: "grpc".into(),
            queue_batches: 1000,
            queue_bytes: size("256MiB"),
            max_backoff: age("30s"),
            timeout: age("10s"),
        }
    }
}
