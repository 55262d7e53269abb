//! How `loupe` reacts to being asked to stop (Ctrl-C, SIGTERM), in one
//! place so `loupe serve`, the desktop shell and the terminal commands stop
//! the same way: the caller decides what stopping means (drain the writer,
//! quit the window, end an export at its next step), this only says when.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Resolves on Ctrl-C or SIGTERM: SIGTERM is what service managers and
/// `docker stop` send, and it must drain queued telemetry like Ctrl-C does.
pub async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Without a SIGTERM handler (it cannot be installed), Ctrl-C still works.
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A flag set by Ctrl-C, for synchronous work (export, import) that checks
/// it between steps: once handled, Ctrl-C no longer kills the process, so
/// the work stops at its next step and cleans up after itself. The signal
/// is awaited on a thread of its own because that work has no runtime.
pub fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                f.store(true, Ordering::SeqCst);
            }
        });
    flag
}
