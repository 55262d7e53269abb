//! A running Loupe: listeners bound, store open, receiver, API, alerting
//! and forwarding running until shutdown, then the writer drained.

use std::future::Future;
use std::sync::Arc;

use crate::collectors::{BuildInfo, StoreSize};
use loupe_alerting::Alerting;
use loupe_alerts::{NoNotifier, Notifier};
use loupe_forward::Forwarder;
use loupe_model::sink::{DropSink, Observer, Sink, Tee};
use loupe_ops::Registry;
use loupe_received::ReceivedMetrics;
use loupe_server::api_stats::ApiStats;
use loupe_server::ops::Ops;
use loupe_server::Bound;
use loupe_store::{Store, Writer};

use crate::config::ServeConfig;
use crate::listen::{Listeners, ServeError};

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
    // One threshold for /health and the writer's low-disk steps
    // (`loupe_store::disk`), the writer's probe kept (tests inject one).
    let mut writer = config.writer.clone();
    writer.low_disk.min_free = config.ops.min_free_disk;
    let store = Store::open(&config.data_dir, writer)?;
    store.reader.set_liveness(config.liveness);
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
        axum::middleware::from_fn_with_state(hosts.clone(), loupe_server::guard::host_layer),
    );
    let http = tokio::spawn(loupe_ingest::conn::serve(
        listeners.http,
        http_app,
        stopped(),
    ));
    let ops = ops(&config, &store, &bound, forwarder.clone(), received);
    let mut info = loupe_server::api::Info::new(bound.grpc, bound.http);
    info.run_keys = config.run_keys.clone();
    // Alerting: evaluation on its own task, reading through the Reader.
    let alerting = Alerting::start(
        store.alerts.clone(),
        store.reader.clone(),
        bound.api,
        vec![bound.api, bound.grpc, bound.http],
        notifier,
    )?;
    tokio::spawn(alerting.clone().run(stopped()));
    let state = loupe_server::AppState {
        store: store.clone(),
        info: Arc::new(info),
        ops,
        alerting,
    };
    let api_app = loupe_server::app(
        state,
        loupe_server::guard::Guard {
            hosts,
            token: config.security.api_token.clone(),
        },
    );
    // The API on a runtime of its own: its handlers never wait for a
    // worker that is decoding or preparing an export, so readers do not
    // queue behind ingest (API p95 under saturation: BENCHMARKS.md).
    // The listener moves too, so accepting does not wait on the
    // ingest runtime's I/O driver either.
    let api_runtime = api_runtime()?;
    let api_listener = listeners.api.into_std().map_err(api_error)?;
    let api_stopped = stopped();
    let api = api_runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(api_listener)?;
        axum::serve(listener, api_app)
            .with_graceful_shutdown(api_stopped)
            .await
    });
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
    drop(api_runtime);
    if let Some(f) = forwarder {
        f.shutdown(FORWARD_GRACE).await;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Two workers for the API (and its blocking pool for queries), apart from
/// the runtime that receives and decodes telemetry.
fn api_runtime() -> Result<ApiRuntime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loupe-api")
        .enable_all()
        .build()
        .map(|r| ApiRuntime(Some(r)))
        .map_err(api_error)
}

/// The API's runtime, shut down without blocking when dropped (it is
/// dropped on the caller's runtime, where blocking is not allowed).
struct ApiRuntime(Option<tokio::runtime::Runtime>);

impl ApiRuntime {
    fn spawn<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(r) => r.spawn(f),
            None => tokio::spawn(f),
        }
    }
}

impl Drop for ApiRuntime {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.shutdown_background();
        }
    }
}

fn api_error(e: std::io::Error) -> ServeError {
    ServeError::Server {
        what: "API",
        message: format!("cannot start: {e}"),
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
    registry.register(config.receiver.budget.clone());
    registry.register(config.receiver.filters.clone());
    registry.register(store.writer.stats().clone());
    registry.register(Arc::new(StoreSize(store.clone())));
    registry.register(api_stats.clone());
    let mut health_parts: Vec<(&'static str, loupe_server::ops::HealthPart)> = Vec::new();
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
