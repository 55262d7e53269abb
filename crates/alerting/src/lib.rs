//! Alerting in a running Loupe, apart from HTTP: the evaluation loop
//! (`engine`: rules evaluated once a second from committed data, states and
//! watermarks kept in the store, notices to the delivery queue and the
//! desktop `Notifier`), the translation of stored rows into the
//! evaluator's items (`items`), a traces rule's `query` evaluated on the
//! store over the traces linked to the new ones (`linked`), and the rules and channels service
//! (`service`) whose operations keep the engine's states consistent
//! themselves, so no caller has to remember to reset or reload.
//!
//! The pure parts (rule model, conditions, evaluator, templates, webhook
//! delivery) are `loupe-alerts`; this crate gives them a store and a clock.

mod engine;
mod error;
mod items;
mod linked;
pub mod service;

pub use engine::{Alerting, LoadedRule, INTERVAL};
pub use error::AlertingError;
