//! The in-process server behind the window: `loupe_app::run` on
//! a tokio runtime, started, restarted (after a taken port) and stopped by
//! the shell. It only tracks state; what a state means is decided in
//! `loupe_app` (errors, which process holds a port). Alerting's notifier
//! is given to it, so it knows nothing of the window or the tray.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use loupe_alerts::Notifier;
use loupe_app::ports;
use loupe_app::{self as serve, Running, ServeConfig, ServeError};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the server is doing.
#[derive(Clone)]
pub enum Status {
    Starting,
    Ready(Running),
    Failed(Problem),
    /// Stopped on request (quitting).
    Stopped,
}

/// Why the server could not start (or stopped on its own).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The error, as `loupe serve` would print it.
    pub message: String,
    /// The listening addresses that are taken, when that is the problem.
    pub ports: Vec<TakenPort>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TakenPort {
    /// "OTLP/gRPC", "OTLP/HTTP" or "API and UI".
    pub what: &'static str,
    pub addr: SocketAddr,
    pub port: u16,
    /// The process holding it, e.g. "otelcol (pid 1234)", when it can be found.
    pub holder: Option<String>,
}

/// Which of the configuration's addresses is which.
fn listeners(c: &ServeConfig) -> [(&'static str, SocketAddr); 3] {
    [
        ("OTLP/gRPC", c.grpc_addr),
        ("OTLP/HTTP", c.http_addr),
        ("API and UI", c.api_addr),
    ]
}

impl Problem {
    fn new(e: &ServeError, config: &ServeConfig) -> Problem {
        let mut ports = Vec::new();
        if let ServeError::Bind { addr: failed, .. } = e {
            // The listeners bind one after the other and the first failure
            // stops; look at all three so the page names every taken port.
            for (what, addr) in listeners(config) {
                if addr.port() != 0 && (addr == *failed || !ports::is_free(addr)) {
                    ports.push(TakenPort {
                        what,
                        addr,
                        port: addr.port(),
                        holder: ports::holder(addr).map(|h| h.to_string()),
                    });
                }
            }
        }
        Problem {
            message: e.to_string(),
            ports,
        }
    }
}

type Listener = Box<dyn Fn(&Status) + Send + Sync>;

/// The server and its state; shared by the window, the tray and the commands.
pub struct Server {
    runtime: tokio::runtime::Handle,
    /// Handed to every start: alerting runs inside the server.
    notifier: Arc<dyn Notifier>,
    inner: Mutex<Inner>,
    listener: OnceLock<Listener>,
}

struct Inner {
    config: ServeConfig,
    status: Status,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub fn new(
        runtime: tokio::runtime::Handle,
        config: ServeConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Arc<Server> {
        Arc::new(Server {
            runtime,
            notifier,
            inner: Mutex::new(Inner {
                config,
                status: Status::Stopped,
                stop: None,
                task: None,
            }),
            listener: OnceLock::new(),
        })
    }

    /// `f` is called (on any thread) after every change of status.
    pub fn on_change(&self, f: impl Fn(&Status) + Send + Sync + 'static) {
        let _ = self.listener.set(Box::new(f));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    fn set_status(&self, status: Status) {
        self.lock().status = status.clone();
        if let Some(f) = self.listener.get() {
            f(&status);
        }
    }

    /// Starts serving with the current configuration, unless it already
    /// runs or is starting.
    pub fn start(self: &Arc<Self>) {
        let mut inner = self.lock();
        if matches!(inner.status, Status::Starting | Status::Ready(_)) {
            return;
        }
        inner.status = Status::Starting;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        inner.stop = Some(stop_tx);
        let config = inner.config.clone();
        let notifier = self.notifier.clone();
        // The task holds a weak reference: the server is owned by the shell.
        let me = Arc::downgrade(self);
        inner.task = Some(self.runtime.spawn(async move {
            let ready = me.clone();
            let result = serve::run_with_notifier(
                config.clone(),
                notifier,
                async move {
                    let _ = stop_rx.await;
                },
                move |running| {
                    // As `loupe serve` does, for whoever started it from a terminal.
                    println!("{}", running.bound);
                    if let Some(s) = ready.upgrade() {
                        s.set_status(Status::Ready(running.clone()));
                    }
                },
            )
            .await;
            let status = match result {
                Ok(()) => Status::Stopped,
                Err(e) => {
                    tracing::warn!("loupe: {e}");
                    Status::Failed(Problem::new(&e, &config))
                }
            };
            if let Some(s) = me.upgrade() {
                s.set_status(status);
            }
        }));
        drop(inner);
        if let Some(f) = self.listener.get() {
            f(&Status::Starting);
        }
    }

    /// After a failure: the taken ports become 0 (any free port), then start.
    pub fn start_on_other_ports(self: &Arc<Self>) {
        {
            let mut inner = self.lock();
            let Status::Failed(problem) = &inner.status else {
                return;
            };
            let taken: Vec<SocketAddr> = problem.ports.iter().map(|p| p.addr).collect();
            let c = &mut inner.config;
            for addr in [&mut c.grpc_addr, &mut c.http_addr, &mut c.api_addr] {
                if taken.contains(addr) {
                    addr.set_port(0);
                }
            }
        }
        self.start();
    }

    /// Stops serving and waits (up to 10 s) until queued telemetry is
    /// committed. Call it from outside the runtime (the main thread).
    pub fn stop(&self) {
        let (stop, task) = {
            let mut inner = self.lock();
            (inner.stop.take(), inner.task.take())
        };
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(task) = task {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, grpc: SocketAddr) -> ServeConfig {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        ServeConfig {
            grpc_addr: grpc,
            http_addr: any,
            api_addr: any,
            data_dir: dir.to_path_buf(),
            allow_remote: false,
            receiver: Default::default(),
            writer: Default::default(),
            drop_data: false,
            ..ServeConfig::default()
        }
    }

    fn wait_for(server: &Server, what: &str, f: impl Fn(&Status) -> bool) -> Status {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = server.status();
            if f(&s) {
                return s;
            }
            assert!(
                std::time::Instant::now() < end,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A taken port fails with the port and its holder (this test process);
    /// "use other ports" then starts on a free one; stop() stops.
    #[test]
    fn taken_port_then_other_ports() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = blocker.local_addr().unwrap();
        let server = Server::new(
            rt.handle().clone(),
            config(dir.path(), taken),
            Arc::new(loupe_alerts::NoNotifier),
        );
        server.start();
        let Status::Failed(p) =
            wait_for(&server, "the failure", |s| matches!(s, Status::Failed(_)))
        else {
            unreachable!()
        };
        assert_eq!(p.ports.len(), 1, "{p:?}");
        assert_eq!(p.ports[0].addr, taken);
        assert_eq!(p.ports[0].what, "OTLP/gRPC");
        let holder = p.ports[0].holder.as_deref().unwrap_or("");
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "holder {holder:?}"
        );
        assert!(p.message.contains(&taken.to_string()), "{}", p.message);

        server.start_on_other_ports();
        let Status::Ready(r) = wait_for(&server, "ready", |s| matches!(s, Status::Ready(_))) else {
            unreachable!()
        };
        assert_ne!(r.bound.grpc, taken);
        r.writer.set_paused(true);
        assert!(r.writer.is_paused());
        server.stop();
        assert!(matches!(server.status(), Status::Stopped));
    }
}
