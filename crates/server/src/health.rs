//! `GET /health`: is this Loupe able to do its job? The store must answer
//! a query and the disk under the data directory must have more free space
//! than the threshold; receivers report where they listen and what they
//! took. Answers 503 when anything is DOWN, so a supervisor can act on the
//! status code alone.

use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use loupe_ingest::stats::Transport;
use serde_json::{json, Value};

use crate::ops::Ops;
use std::sync::Arc;

fn status(up: bool) -> &'static str {
    if up {
        "UP"
    } else {
        "DOWN"
    }
}

/// Total and available bytes of the file system holding `path`.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // field types differ between platforms
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` only writes into the struct we own, and `c` is a
    // valid NUL-terminated path for the duration of the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((
        (st.f_blocks as u64).saturating_mul(unit),
        (st.f_bavail as u64).saturating_mul(unit),
    ))
}

/// Unknown elsewhere: reported, never DOWN.
#[cfg(not(unix))]
pub fn disk_space(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// The health document and whether everything is UP.
pub async fn report(ops: &Ops) -> (bool, Value) {
    let reader = ops.store.reader.clone();
    let reachable = tokio::task::spawn_blocking(move || reader.live_bytes())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let stats = ops.store.writer.stats();
    let store_up = reachable.is_ok();
    let mut store = json!({
        "status": status(store_up),
        "reachable": store_up,
        "path": ops.store.path().display().to_string(),
        "fileBytes": ops.store.file_bytes(),
        "lastCommit": stats.last_commit_ns().map(|n| n.to_string()),
        "queue": {
            "batches": stats.queued_batches.get().max(0),
            "bytes": stats.queued_bytes.get().max(0),
        },
    });
    if let Err(e) = &reachable {
        store["error"] = json!(e);
    }

    let dir = ops.store.path().parent().unwrap_or(Path::new("."));
    let threshold = ops.min_free_disk;
    let (disk_up, disk) = match disk_space(dir) {
        Some((total, free)) => {
            let up = free >= threshold;
            (
                up,
                json!({
                    "status": status(up),
                    "path": dir.display().to_string(),
                    "total": total,
                    "free": free,
                    "threshold": threshold,
                }),
            )
        }
        None => (
            true,
            json!({
                "status": "UNKNOWN",
                "path": dir.display().to_string(),
                "threshold": threshold,
            }),
        ),
    };

    let receiver = |t: Transport, addr: std::net::SocketAddr| {
        let s = &ops.receiver.stats;
        json!({
            "status": "UP",
            "address": addr.to_string(),
            "accepted": s.accepted_total(t),
            "refused": s.refused_total(t),
            "refusedRequests": s.refused_requests(t),
        })
    };
    let mut details = json!({
        "store": store,
        "disk": disk,
        "receivers": {
            "grpc": receiver(Transport::Grpc, ops.bound.grpc),
            "http": receiver(Transport::Http, ops.bound.http),
        },
    });
    for (name, part) in ops.extra_health() {
        details[name] = part;
    }
    let up = store_up && disk_up;
    (up, json!({ "status": status(up), "details": details }))
}

pub async fn handler(State(ops): State<Arc<Ops>>) -> Response {
    let (up, body) = report(&ops).await;
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}
