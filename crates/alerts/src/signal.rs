//! What a rule watches. Its own module because conditions check their
//! fields against it as much as rules do, and neither should depend on
//! the other for it.

use serde::{Deserialize, Serialize};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Each matching span is an event.
    Spans,
    /// Each trace with a matching span is an event (one per trace).
    Traces,
    /// Each matching log record is an event.
    Logs,
    /// An aggregate over a window of a metric, compared with a threshold.
    Metrics,
}

impl Signal {
    pub fn is_event(self) -> bool {
        !matches!(self, Signal::Metrics)
    }
}
