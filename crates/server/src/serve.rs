//! A running Loupe: listeners bound, store open, receiver and API serving.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use loupe_alerts::{NoNotifier, Notifier};
use loupe_forward::{ForwardConfig, ForwardError, Forwarder};
use loupe_ingest::ReceiverConfig;
use loupe_model::sink::{DropSink, Observer, Sink, Tee};
use loupe_ops::Registry;
use loupe_store::{Store, StoreError, Writer, WriterConfig};
use tokio::net::TcpListener;

use crate::ops::Ops;
use crate::received::ReceivedMetrics;
use crate::selfmetrics::{ApiStats, BuildInfo, StoreSize};
pub use loupe_alerts::Notifier as AlertNotifier;

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
    pub log: Option<crate::logging::LogHandle>,
    /// Send what is stored on to an upstream OTLP endpoint too.
    pub forward: Option<ForwardConfig>,
    /// Attribute keys that name a run (config `analysis.run_keys`).
    pub run_keys: Vec<String>,
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
    pub api_token: Option<crate::guard::AccessToken>,
    /// Said at every start (a defence turned off on purpose).
    pub warnings: Vec<String>,
}

impl Security {
    fn host_policy(&self, allow_remote: bool) -> crate::guard::HostPolicy {
        if allow_remote {
            crate::guard::HostPolicy::remote(&self.allowed_hosts)
        } else {
            crate::guard::HostPolicy::loopback()
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
        }
    }
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
    #[error(transparent)]
    Forward(#[from] ForwardError),
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
    /// The URL that logs a browser in, when the API needs a token.
    pub login_url: Option<String>,
}

impl Bound {
    /// The UI's origin for links (`http://127.0.0.1:16686`): a wildcard
    /// listen address is reached on loopback.
    pub fn ui_base(&self) -> String {
        let ip = match self.api.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.api.port()))
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "loupe: OTLP/gRPC on {}", self.grpc)?;
        writeln!(f, "loupe: OTLP/HTTP on http://{}", self.http)?;
        writeln!(f, "loupe: API and UI on http://{}", self.api)?;
        write!(f, "loupe: data in {}", self.db.display())?;
        if let Some(u) = &self.login_url {
            write!(f, "\nloupe: the API and UI need a token: log in at {u}")?;
        }
        Ok(())
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
    let store_sink: Arc<dyn Sink> = if config.drop_data {
        Arc::new(DropSink)
    } else {
        store.writer.clone()
    };
    let forwarder = match &config.forward {
        Some(f) => Some(Forwarder::start(f.clone())?),
        None => None,
    };
    let received = config
        .ops
        .received_metrics
        .then(|| Arc::new(ReceivedMetrics::default()));
    let mut observers: Vec<Arc<dyn Observer>> = Vec::new();
    if let Some(f) = &forwarder {
        observers.push(f.clone());
    }
    if let Some(r) = &received {
        observers.push(r.clone());
    }
    let sink: Arc<dyn Sink> = Arc::new(Tee {
        inner: store_sink,
        observers,
    });
    let mut bound = Bound {
        grpc: listeners.grpc.local_addr().unwrap_or(config.grpc_addr),
        http: listeners.http.local_addr().unwrap_or(config.http_addr),
        api: listeners.api.local_addr().unwrap_or(config.api_addr),
        db: store.path().to_path_buf(),
        login_url: None,
    };
    if let Some(t) = &config.security.api_token {
        bound.login_url = Some(t.login_url(&bound.ui_base()));
    }
    for w in &config.security.warnings {
        tracing::warn!("{w}");
    }
    let hosts = config.security.host_policy(config.allow_remote);

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
    let http_app = loupe_ingest::http::router(sink.clone(), &config.receiver).layer(
        axum::middleware::from_fn_with_state(hosts.clone(), crate::guard::host_layer),
    );
    let http = tokio::spawn(
        axum::serve(listeners.http, http_app)
            .with_graceful_shutdown(stopped())
            .into_future(),
    );
    let ops = ops(&config, &store, &bound, forwarder.clone(), received);
    let mut info = crate::api::Info::new(bound.grpc, bound.http);
    info.run_keys = config.run_keys.clone();
    // Alerting: evaluation on its own task, reading through the Reader.
    let alerting = crate::alerting::Alerting::start(
        store.alerts.clone(),
        store.reader.clone(),
        bound.api,
        vec![bound.api, bound.grpc, bound.http],
        notifier,
    )?;
    tokio::spawn(alerting.clone().run(stopped()));
    let api_app = crate::app_with_ops(
        store.reader.clone(),
        info,
        crate::guard::Guard {
            hosts,
            token: config.security.api_token.clone(),
        },
        ops,
        crate::transfer::router(store.clone()),
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
    if let Some(f) = forwarder {
        f.shutdown(FORWARD_GRACE).await;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How long a stopping Loupe keeps trying to hand its forwarding queue on.
const FORWARD_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Forwarding's part of `/health`: informative, never DOWN (Loupe keeps
/// its own copy whatever the upstream does).
fn forward_health(f: &Forwarder) -> serde_json::Value {
    let s = f.stats();
    serde_json::json!({
        "status": if s.failing() { "RETRYING" } else { "UP" },
        "endpoint": f.config().endpoint,
        "protocol": f.config().protocol.as_str(),
        "queuedBatches": s.queued_batches(),
        "sent": s.sent_total(),
        "dropped": s.dropped_total(),
        "retries": s.retries(),
        "lastError": s.last_error(),
    })
}

/// Gathers what the operational endpoints report on.
fn ops(
    config: &ServeConfig,
    store: &Store,
    bound: &Bound,
    forwarder: Option<Arc<Forwarder>>,
    received: Option<Arc<ReceivedMetrics>>,
) -> Arc<Ops> {
    let registry = Registry::new();
    let api_stats = Arc::new(ApiStats::default());
    registry.register(Arc::new(BuildInfo));
    registry.register(config.receiver.stats.clone());
    registry.register(config.receiver.filters.clone());
    registry.register(store.writer.stats().clone());
    registry.register(Arc::new(StoreSize(store.clone())));
    registry.register(api_stats.clone());
    let mut health_parts: Vec<(&'static str, crate::ops::HealthPart)> = Vec::new();
    if let Some(f) = forwarder {
        registry.register(f.stats().clone());
        health_parts.push(("forward", Box::new(move || forward_health(&f))));
    }
    Arc::new(Ops {
        store: store.clone(),
        bound: bound.clone(),
        receiver: config.receiver.clone(),
        min_free_disk: config.ops.min_free_disk,
        prefix: config.ops.metrics_prefix.clone(),
        registry,
        api_stats,
        log: config.log.clone(),
        health_parts,
        received,
    })
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
