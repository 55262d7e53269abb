//! Loupe's view of itself: the counters, gauges and histograms every layer
//! keeps about its own work, and their rendering in the Prometheus text
//! format for `GET /metrics`.
//!
//! Each layer owns its statistics (a plain struct of [`Counter`]s and
//! [`Histogram`]s, updated with relaxed atomics on the hot path, never a
//! lock) and implements [`Collect`] to write them out. The server gathers
//! the collectors of the running layers in a [`Registry`]; a future layer
//! (alert evaluations, notification deliveries) adds its own collector
//! without touching the others. No dependency: the `prometheus` and
//! `metrics` crates bring global registries and more machinery than a
//! handful of atomics need.

mod expo;
mod primitives;

pub use expo::{escape_label_value, Exposition, Kind};
pub use primitives::{Counter, Gauge, Histogram, DURATION_BUCKETS, SIZE_BUCKETS};

use std::sync::{Arc, RwLock};

/// Something that writes metric families into an exposition.
pub trait Collect: Send + Sync {
    fn collect(&self, out: &mut Exposition);
}

/// The collectors of a running Loupe, rendered together under one prefix.
#[derive(Default)]
pub struct Registry {
    collectors: RwLock<Vec<Arc<dyn Collect>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a collector; its families follow those already registered.
    pub fn register(&self, c: Arc<dyn Collect>) {
        self.collectors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(c);
    }

    /// The text exposition of every collector, names prefixed with `prefix`.
    pub fn render(&self, prefix: &str) -> String {
        let mut out = Exposition::new(prefix);
        let collectors = self
            .collectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for c in collectors {
            c.collect(&mut out);
        }
        out.finish()
    }
}

/// Whether `prefix` can start a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_prefix(prefix: &str) -> bool {
    let mut chars = prefix.chars();
    match chars.next() {
        None => true,
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
        Some(_) => false,
    }
}
