//! Serving OTLP/HTTP connections with bounded buffers.
//!
//! Why not `axum::serve`: hyper lets each HTTP/1 connection's read buffer
//! grow to about 400 KiB, and it offers no limit on connections. Under the
//! overload run's 80 uploading connections those buffers held 25–30 MB
//! (heaptrack, BENCHMARKS.md "Overload") that the in-flight budget does not
//! see, since they fill before a request is admitted. Here each connection
//! reads through at most [`READ_BUFFER`] bytes and at most
//! [`MAX_CONNECTIONS`] are open (more wait in the listen backlog), so these
//! buffers stay under `READ_BUFFER × MAX_CONNECTIONS` whatever the clients
//! do (ARCHITECTURE.md "Where memory goes").
//!
//! A limit on connections is also something to hold: a peer that opens
//! connections and sends nothing would keep the slots forever. An HTTP/1
//! connection that has not sent a request head within [`HEAD_TIMEOUT`]
//! (the first, or the next on a kept-alive connection) is closed, and a
//! body must arrive within `http::BODY_MAX_TIME`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A connection's read buffer, at most (hyper's floor is 8 KiB; a larger
/// buffer did not read a loopback upload faster).
pub const READ_BUFFER: usize = 64 << 10;

/// Connections served at once; the next waits until one closes.
pub const MAX_CONNECTIONS: usize = 256;

/// Longest wait for a request head on an HTTP/1 connection, idle
/// keep-alive included, before the connection is closed and its slot freed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, HEAD_TIMEOUT).await
}

async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    head_timeout: Duration,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(READ_BUFFER)
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    // Connections that have not spoken yet stop waiting at shutdown.
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => tokio::select! {
                    _ = &mut shutdown => break,
                    r = listener.accept() => r.map(|(s, _)| (s, slot)),
                },
                Err(_) => break,
            },
        };
        let (stream, slot) = match accepted {
            Ok(a) => a,
            // Out of file descriptors, a connection reset before accept…:
            // the listener itself is fine; wait a little and go on.
            Err(e) => {
                tracing::debug!("OTLP/HTTP accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let app = app.clone();
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            // hyper's head timer starts once it knows the protocol, which
            // the auto builder learns from the first bytes: a peer that
            // sends none is closed here.
            // (`peek`, not `readable`: readiness may be reported before
            // any byte has come.)
            let mut first = [0u8; 1];
            tokio::select! {
                got = tokio::time::timeout(head_timeout, stream.peek(&mut first)) => {
                    if !matches!(got, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                }
                _ = stopping.changed() => return,
            }
            let conn = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                .into_owned();
            let _ = watcher.watch(conn).await;
            drop(slot);
        });
    }
    let _ = stopping_tx.send(true);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A body many times the read buffer still arrives whole: the bound is
    /// on the buffer, not on the request.
    #[tokio::test]
    async fn body_larger_than_the_read_buffer_arrives_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/n",
            post(|b: bytes::Bytes| async move { b.len().to_string() }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        let body = vec![b'x'; 16 * READ_BUFFER];
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /n HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&body.len().to_string()), "{answer}");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    /// A connection that sends nothing, or nothing more after a request,
    /// is closed after the head timeout: idle peers cannot keep the
    /// connection slots.
    #[tokio::test]
    async fn idle_connections_are_closed_after_the_head_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/n", post(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let timeout = Duration::from_millis(300);
        let server = tokio::spawn(serve_with(
            listener,
            app,
            async {
                let _ = stopped.await;
            },
            timeout,
        ));
        // Silent from the start.
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        // One request, then kept alive and silent.
        let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"POST /n HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = kept.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        for (what, s) in [("silent", &mut silent), ("kept alive", &mut kept)] {
            let closed = tokio::time::timeout(Duration::from_secs(5), async {
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).await.map(|_| ())
            })
            .await;
            assert!(closed.is_ok(), "the server kept a {what} connection open");
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
