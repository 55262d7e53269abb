//! A running Loupe, assembled from its configuration: the three listeners
//! (bound first, so a taken port is a clear error), the store, the OTLP
//! receivers, the API, alerting, forwarding and the other observers of
//! committed batches. `loupe serve` and the desktop shell both call
//! [`run`]; neither decides anything else about telemetry.
//!
//! `config` (what a running Loupe is made of, from `loupe-config`'s
//! layers), `listen` (binding, and the errors that name a port), `ports`
//! (which process holds a taken port), `collectors` (metrics no single
//! layer owns), `run` (start, serve until shutdown, drain).

mod collectors;
pub mod config;
pub mod listen;
pub mod ports;
mod run;

pub use config::{OpsConfig, Security, ServeConfig};
pub use listen::{Listeners, ServeError};
pub use loupe_server::Bound;
pub use run::{run, run_with_notifier, Running};
