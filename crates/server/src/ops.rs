//! What the operational endpoints (`/health`, `/metrics`, the settings
//! API) need from a running Loupe, gathered once by `loupe-app`. A leaf:
//! the handlers read it, it names none of them.

use std::sync::Arc;

use loupe_ingest::ReceiverConfig;
use loupe_ops::Registry;
use loupe_store::Store;
use serde_json::Value;

use crate::api_stats::ApiStats;
use crate::bound::Bound;
use crate::logging::LogHandle;

/// A part of `/health` contributed by an optional layer (forwarding…).
pub type HealthPart = Box<dyn Fn() -> Value + Send + Sync>;

pub struct Ops {
    pub store: Store,
    pub bound: Bound,
    /// The receiver's live filters and counters.
    pub receiver: ReceiverConfig,
    /// `/health` is DOWN when the data directory's disk has less free space.
    pub min_free_disk: u64,
    /// Prefix of the names in `/metrics`.
    pub prefix: String,
    /// Every collector `/metrics` renders. Later layers (alert evaluations,
    /// notification deliveries) register theirs here.
    pub registry: Registry,
    pub api_stats: Arc<ApiStats>,
    /// Present when the process installed Loupe's log subscriber.
    pub log: Option<LogHandle>,
    /// Extra `/health` details, by name; informative (never DOWN).
    pub health_parts: Vec<(&'static str, HealthPart)>,
    /// `GET /metrics/received`, when enabled.
    pub received: Option<Arc<loupe_received::ReceivedMetrics>>,
}

impl Ops {
    pub(crate) fn extra_health(&self) -> Vec<(&'static str, Value)> {
        self.health_parts.iter().map(|(n, f)| (*n, f())).collect()
    }
}
