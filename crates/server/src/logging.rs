//! Loupe's own log output: `RUST_LOG`-style filters on stderr, changeable
//! while running (`PUT /api/v1/settings/log-level`).

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Why a log filter was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid log filter {filter:?}: {message}")]
    Invalid { filter: String, message: String },
    #[error("the log filter cannot be changed: {0}")]
    Reload(String),
    #[error("logging is already set up")]
    AlreadySet,
}

/// Changes the filter of the running subscriber.
#[derive(Clone)]
pub struct LogHandle {
    handle: reload::Handle<EnvFilter, Registry>,
    current: Arc<Mutex<String>>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("filter", &self.get())
            .finish()
    }
}

fn parse(filter: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::builder()
        .parse(filter)
        .map_err(|e| LogError::Invalid {
            filter: filter.to_string(),
            message: e.to_string(),
        })
}

/// Checks a filter without applying it (for configuration).
pub fn check(filter: &str) -> Result<(), LogError> {
    parse(filter).map(|_| ())
}

impl LogHandle {
    /// The filter in effect.
    pub fn get(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the filter; the old one stays if `filter` is invalid.
    pub fn set(&self, filter: &str) -> Result<(), LogError> {
        let f = parse(filter)?;
        self.handle
            .reload(f)
            .map_err(|e| LogError::Reload(e.to_string()))?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = filter.to_string();
        tracing::info!("log filter is now {filter:?}");
        Ok(())
    }
}

/// Installs the global subscriber (stderr) with `filter`, and returns the
/// handle that changes it later.
pub fn init(filter: &str) -> Result<LogHandle, LogError> {
    let (layer, handle) = reload::Layer::new(parse(filter)?);
    tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init()
        .map_err(|_| LogError::AlreadySet)?;
    Ok(LogHandle {
        handle,
        current: Arc::new(Mutex::new(filter.to_string())),
    })
}
