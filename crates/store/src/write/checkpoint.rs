//! The checkpointer: copies the WAL into the database on a thread and
//! connection of its own, so the writer never stalls on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::stats::WriterStats;

/// A background thread that copies the WAL into the database.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// No commit for this long and ingest counts as idle: the WAL is truncated.
const IDLE: Duration = Duration::from_secs(1);

impl Checkpointer {
    /// Every 50 ms: a PASSIVE checkpoint while ingest is busy (never
    /// blocks the writer), and once ingest is idle a TRUNCATE, so the -wal
    /// file goes back to zero bytes. Keeping the WAL at `wal_limit` under
    /// load is the writer's (`WriterState::bound_wal`): a RESTART from this
    /// connection waits for the write lock, which a busy writer takes again
    /// at once.
    pub(super) fn start(
        path: std::path::PathBuf,
        stats: Arc<WriterStats>,
        wal_limit: u64,
    ) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(&path)?;
        // TRUNCATE holds new writers back while it waits for readers: wait
        // briefly and try again on the next round instead.
        conn.busy_timeout(Duration::from_millis(250))?;
        conn.pragma_update(None, "journal_size_limit", wal_limit as i64)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("loupe-checkpoint".into())
            .spawn(move || {
                // The commit time the last TRUNCATE followed: one per idle period.
                let mut truncated_after: Option<u64> = None;
                while !flag.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                    let last = stats.last_commit_ns().unwrap_or(0);
                    let idle =
                        loupe_model::time::now_ns().saturating_sub(last) >= IDLE.as_nanos() as u64;
                    let mode = if idle && truncated_after != Some(last) {
                        "TRUNCATE"
                    } else {
                        "PASSIVE"
                    };
                    let checkpoint = |mode: &str| {
                        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                        })
                    };
                    match checkpoint(mode) {
                        Ok((0, _)) if mode == "TRUNCATE" => truncated_after = Some(last),
                        Ok(_) => {}
                        Err(e) => tracing::debug!("checkpoint ({mode}): {e}"),
                    }
                }
            })
            .map_err(|e| StoreError::Io {
                path: "checkpoint thread".into(),
                source: e,
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
