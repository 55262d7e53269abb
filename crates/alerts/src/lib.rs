//! Alert rules for Loupe: what a rule is and how it is written (`rule`,
//! `condition`, and the `signal` and `duration` both use), what can be
//! known about it before it runs (`analysis`: conditions that can never
//! match), how it is evaluated (`eval`, and `metric` for metrics rules: a pure
//! function of rule, data and time, so it is tested without clocks), and how
//! its notifications are written and sent (`template`, `deliver`, and
//! `target`: where a webhook may point).
//!
//! This crate does no storage and no scheduling: `loupe-server` reads data
//! through the store's reader, calls the evaluator on its own task (so
//! evaluation never blocks ingest) and keeps states in the store.

pub mod analysis;
pub mod condition;
pub mod deliver;
pub mod duration;
pub mod eval;
pub mod metric;
pub mod rule;
pub mod signal;
pub mod target;
pub mod template;

pub use analysis::{analyse, Analysis, Finding};
pub use condition::{Condition, Op, Predicate, Scalar};
pub use eval::{GroupState, State, Transition};
pub use rule::{from_yaml, to_yaml, Rule, RuleError, Signal};

/// Where desktop notifications go: the desktop shell implements it with its
/// native notifications and tray; headless Loupe uses [`NoNotifier`]. A trait
/// here (not a Tauri call) keeps the core free of the shell.
pub trait Notifier: Send + Sync {
    /// A rule's group started firing or resolved.
    fn notify(&self, title: &str, body: &str);
    /// How many groups fire now, over all rules (for a badge or tray).
    fn firing(&self, _count: usize) {}
}

/// Notifies nobody.
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn notify(&self, _title: &str, _body: &str) {}
}
