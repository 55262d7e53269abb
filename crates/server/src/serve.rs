//! A running Loupe: listeners bound, store open, receiver and API serving.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use loupe_alerts::{NoNotifier, Notifier};
use loupe_ingest::ReceiverConfig;
use loupe_model::sink::{DropSink, Sink};
use loupe_store::{Store, StoreError, Writer, WriterConfig};
use tokio::net::TcpListener;

pub use loupe_alerts::Notifier as AlertNotifier;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Listening on non-loopback addresses needs this.
    pub allow_remote: bool,
    pub receiver: ReceiverConfig,
    pub writer: WriterConfig,
    /// Decode and acknowledge without storing (the ingest benchmark's baseline).
    pub drop_data: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for {what} on {addr}: {source}{hint}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
        hint: String,
    },
    #[error("refusing to listen for {what} on {addr}, which is not a loopback address: pass --allow-remote to accept telemetry from other machines")]
    NotLoopback {
        what: &'static str,
        addr: SocketAddr,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what} stopped: {message}")]
    Server { what: &'static str, message: String },
}

/// The three listeners, bound. Binding first (before anything else starts)
/// gives a clear error naming the port, which tonic's own bind would hide.
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: TcpListener,
    pub api: TcpListener,
}

async fn bind(
    what: &'static str,
    flag: &str,
    addr: SocketAddr,
    allow_remote: bool,
) -> Result<TcpListener, ServeError> {
    if !allow_remote && !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback { what, addr });
    }
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
            let who = match crate::ports::holder(addr) {
                Some(h) => format!("it is taken by {h}"),
                None => "another Loupe, Jaeger or OpenTelemetry Collector may be running".into(),
            };
            format!(" ({who}; stop it or pass {flag} with another port)")
        } else {
            String::new()
        };
        ServeError::Bind {
            what,
            addr,
            source,
            hint,
        }
    })
}

impl Listeners {
    pub async fn bind(c: &ServeConfig) -> Result<Listeners, ServeError> {
        Ok(Listeners {
            grpc: bind("OTLP/gRPC", "--grpc-addr", c.grpc_addr, c.allow_remote).await?,
            http: bind("OTLP/HTTP", "--http-addr", c.http_addr, c.allow_remote).await?,
            api: bind("the API and UI", "--api-addr", c.api_addr, c.allow_remote).await?,
        })
    }
}

/// Where a running Loupe listens, after binding (ports may have been 0).
#[derive(Debug, Clone)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub api: SocketAddr,
    pub db: PathBuf,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "loupe: OTLP/gRPC on {}", self.grpc)?;
        writeln!(f, "loupe: OTLP/HTTP on http://{}", self.http)?;
        writeln!(f, "loupe: API and UI on http://{}", self.api)?;
        write!(f, "loupe: data in {}", self.db.display())
    }
}

/// Handed to `run`'s `on_ready` once everything listens: where Loupe
/// listens, and the handles a front end (the desktop shell's tray) may act on
/// while it runs. Cloning it is cheap; the handles stay valid after `run`
/// returns but then do nothing useful.
#[derive(Clone)]
pub struct Running {
    pub bound: Bound,
    /// The store's writer: `writer.set_paused(true)` makes the receivers
    /// refuse telemetry (OTLP "unavailable, retry later") until resumed.
    pub writer: Arc<Writer>,
}

/// Runs Loupe until `shutdown` resolves, then lets queued batches commit.
/// `on_ready` is called once everything listens (before that, a taken port
/// ends `run` with [`ServeError::Bind`] and nothing started).
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Running),
) -> Result<(), ServeError> {
    run_with_notifier(config, Arc::new(NoNotifier), shutdown, on_ready).await
}

/// [`run`], with alert notifications also shown through `notifier` (the
/// desktop shell passes its native notifications and tray badge).
pub async fn run_with_notifier(
    config: ServeConfig,
    notifier: Arc<dyn Notifier>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Running),
) -> Result<(), ServeError> {
    let listeners = Listeners::bind(&config).await?;
    let store = Store::open(&config.data_dir, config.writer.clone())?;
    let sink: Arc<dyn Sink> = if config.drop_data {
        Arc::new(DropSink)
    } else {
        store.writer.clone()
    };
    let bound = Bound {
        grpc: listeners.grpc.local_addr().unwrap_or(config.grpc_addr),
        http: listeners.http.local_addr().unwrap_or(config.http_addr),
        api: listeners.api.local_addr().unwrap_or(config.api_addr),
        db: store.path().to_path_buf(),
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let grpc = tokio::spawn(loupe_ingest::grpc::serve(
        listeners.grpc,
        sink.clone(),
        config.receiver.clone(),
        stopped(),
    ));
    let http_app = loupe_ingest::http::router(sink.clone(), &config.receiver);
    let http = tokio::spawn(
        axum::serve(listeners.http, http_app)
            .with_graceful_shutdown(stopped())
            .into_future(),
    );
    let info = crate::api::Info::new(bound.grpc, bound.http);
    // Alerting: evaluation on its own task, reading through the Reader.
    let alerting = crate::alerting::Alerting::start(
        store.alerts.clone(),
        store.reader.clone(),
        bound.api,
        vec![bound.api, bound.grpc, bound.http],
        notifier,
    )?;
    tokio::spawn(alerting.clone().run(stopped()));
    let api_app = crate::app_with_alerts(
        store.reader.clone(),
        info,
        config.allow_remote,
        Some(alerting),
    );
    let api = tokio::spawn(
        axum::serve(listeners.api, api_app)
            .with_graceful_shutdown(stopped())
            .into_future(),
    );
    on_ready(&Running {
        bound,
        writer: store.writer.clone(),
    });

    // Stop when asked, or as soon as any server fails.
    let mut first_error = None;
    tokio::select! {
        _ = shutdown => {}
        r = futures_util::future::select_all([grpc_result(grpc), axum_result("OTLP/HTTP", http), axum_result("API", api)]) => {
            first_error = r.0.err();
        }
    }
    let _ = stop_tx.send(true);
    // Give in-flight requests a moment, then let the writer drain.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let writer = store.writer.clone();
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .ok();
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

type ServerFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), ServeError>> + Send>>;

fn grpc_result(h: tokio::task::JoinHandle<Result<(), tonic_error::Error>>) -> ServerFuture {
    Box::pin(async move {
        match h.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServeError::Server {
                what: "OTLP/gRPC",
                message: e.to_string(),
            }),
            Err(e) => Err(ServeError::Server {
                what: "OTLP/gRPC",
                message: e.to_string(),
            }),
        }
    })
}

fn axum_result(
    what: &'static str,
    h: tokio::task::JoinHandle<std::io::Result<()>>,
) -> ServerFuture {
    Box::pin(async move {
        match h.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServeError::Server {
                what,
                message: e.to_string(),
            }),
            Err(e) => Err(ServeError::Server {
                what,
                message: e.to_string(),
            }),
        }
    })
}

mod tonic_error {
    pub use loupe_ingest::grpc::TransportError as Error;
}
