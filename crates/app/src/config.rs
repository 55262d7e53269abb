//! What a running Loupe is made of, as values: listen addresses, the
//! store's limits, the receiver's filters and keys, the guards' policy,
//! forwarding. [`ServeConfig::from_loaded`] turns the layered configuration
//! (`loupe-config`, which knows nothing of HTTP) into it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use loupe_config::{ConfigError, ForwardProtocol, Loaded};
use loupe_forward::{ForwardConfig, Protocol};
use loupe_ingest::budget::Budget;
use loupe_ingest::{ApiKey, ReceiverConfig};
use loupe_server::guard::{AccessToken, HostPolicy};
use loupe_server::logging::LogHandle;
use loupe_store::{Retention, WriterConfig};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Listening on non-loopback addresses needs this.
    pub allow_remote: bool,
    /// Who may talk to the listeners: accepted `Host` names, the access
    /// token and the OTLP API key (`receiver.api_key`) in remote mode.
    pub security: Security,
    pub receiver: ReceiverConfig,
    pub writer: WriterConfig,
    /// Decode and acknowledge without storing (the ingest benchmark's baseline).
    pub drop_data: bool,
    /// `/health`, `/metrics` and `/metrics/received`.
    pub ops: OpsConfig,
    /// The process's log filter, when it installed Loupe's subscriber
    /// (`logging::init`); makes the log level changeable through the API.
    pub log: Option<LogHandle>,
    /// Send what is stored on to an upstream OTLP endpoint too.
    pub forward: Option<ForwardConfig>,
    /// Attribute keys that name a run (config `analysis.run_keys`).
    pub run_keys: Vec<String>,
    /// When a trace counts as still receiving and how long its missing
    /// parents are waited for (config `traces.*`).
    pub liveness: loupe_store::Liveness,
}

/// The defences that depend on the mode (SECURITY.md). The configuration
/// layer fills them: it owns the token files.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Names accepted in `Host` besides loopback names and IP literals,
    /// with `allow_remote`.
    pub allowed_hosts: Vec<String>,
    /// The access token the UI and API require, when they are reachable
    /// beyond loopback.
    pub api_token: Option<AccessToken>,
    /// Said at every start (a defence turned off on purpose).
    pub warnings: Vec<String>,
}

impl Security {
    pub(crate) fn host_policy(&self, allow_remote: bool) -> HostPolicy {
        if allow_remote {
            HostPolicy::remote(&self.allowed_hosts)
        } else {
            HostPolicy::loopback()
        }
    }
}

/// Settings of the operational endpoints.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// `/health` is DOWN when the data directory's disk has less free space (bytes).
    pub min_free_disk: u64,
    /// Prefix of Loupe's own metric names in `/metrics`.
    pub metrics_prefix: String,
    /// Serve the latest received metric values at `/metrics/received`.
    pub received_metrics: bool,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            min_free_disk: 100 << 20,
            metrics_prefix: "loupe_".into(),
            received_metrics: false,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            api_addr: SocketAddr::from(([127, 0, 0, 1], 16686)),
            data_dir: PathBuf::from(".loupe"),
            allow_remote: false,
            security: Security::default(),
            receiver: ReceiverConfig::default(),
            writer: WriterConfig::default(),
            drop_data: false,
            ops: OpsConfig::default(),
            log: None,
            forward: None,
            run_keys: loupe_analysis::runs::DEFAULT_KEYS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            liveness: loupe_store::Liveness::default(),
        }
    }
}

impl ServeConfig {
    /// What `run` takes, from the layered configuration. `log` is the
    /// handle of the installed log subscriber, if any.
    pub fn from_loaded(
        loaded: &Loaded,
        log: Option<LogHandle>,
    ) -> Result<ServeConfig, ConfigError> {
        loaded.check()?;
        let c = &loaded.config;
        let filters = loaded.filters()?;
        let access = loaded.access()?;
        let receiver = ReceiverConfig {
            cors_origins: c.cors_origins.clone(),
            filters: Arc::new(filters),
            api_key: access.otlp_key.map(ApiKey::new),
            budget: Arc::new(Budget::new(
                usize::try_from(c.receiver.max_in_flight.bytes).unwrap_or(usize::MAX),
            )),
            ..ReceiverConfig::default()
        };
        let forward = loaded.forward_protocol()?.map(|p| ForwardConfig {
            endpoint: c.forward.endpoint.clone(),
            protocol: match p {
                ForwardProtocol::Grpc => Protocol::Grpc,
                ForwardProtocol::Http => Protocol::Http,
            },
            queue_batches: c.forward.queue_batches.max(1),
            queue_bytes: usize::try_from(c.forward.queue_bytes.bytes).unwrap_or(usize::MAX),
            max_backoff: c.forward.max_backoff.duration,
            timeout: c.forward.timeout.duration,
        });
        Ok(ServeConfig {
            grpc_addr: c.grpc_addr,
            http_addr: c.http_addr,
            api_addr: c.api_addr,
            data_dir: c.data_dir.clone(),
            allow_remote: c.allow_remote,
            security: Security {
                allowed_hosts: c.allowed_hosts.clone(),
                api_token: access.api_token.map(AccessToken::new),
                warnings: access.warnings,
            },
            receiver,
            writer: WriterConfig {
                retention: Retention {
                    max_bytes: c.max_db_size.bytes,
                    max_age: c.max_age.duration,
                },
                correlation: c.correlation.clone(),
                ..WriterConfig::default()
            },
            drop_data: false,
            ops: OpsConfig {
                min_free_disk: c.health.min_free_disk.bytes,
                metrics_prefix: c.metrics.prefix.clone(),
                received_metrics: c.metrics.received,
            },
            log,
            forward,
            run_keys: c.analysis.run_keys.clone(),
            liveness: loupe_store::Liveness {
                receiving_ns: duration_ns(c.traces.receiving_window.duration),
                parent_grace_ns: duration_ns(c.traces.parent_grace.duration),
            },
        })
    }
}

/// Nanoseconds of a configured duration, saturating (a grace of centuries
/// is "forever").
fn duration_ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
