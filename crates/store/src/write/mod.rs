//! The single writer: a bounded queue of [`Command`]s in, group-committed
//! transactions out.
//!
//! Invariants:
//! - Only the writer thread writes telemetry, imports and the dashboard
//!   (retention included), so there is never writer-lock contention among
//!   them and caches of row IDs stay true.
//! - A ticket resolves `Ok` only after the transaction holding its command
//!   (every one, for a trace batch split into parts) has committed to the
//!   WAL (`synchronous = NORMAL`: durable when the process is killed; an OS
//!   crash may lose the last commits).
//! - No transaction's WAL exceeds the size cap's WAL limit (by an estimate
//!   from above, `split`), and none starts unless database + WAL + one more
//!   fit 1.1 × the cap (`thread::hold_under_cap`).
//! - The queue is bounded in batches and in bytes: when either is full,
//!   `submit` answers `Busy` at once and memory stays bounded.
//!
//! Where things are: this file is the handle ([`Writer`]: queue, pause,
//! shutdown); `command` what can be queued; `thread` the loop, group commit
//! and transactions; `traces`, `logs`, `metrics`, `dashboard`, `imports`
//! how each command becomes rows; `interned` the resource, scope and
//! attribute-key IDs they share; `split` a batch's pages and its parts;
//! `checkpoint` the WAL checkpointer; `footprint` (tests) WAL frames per
//! commit, measured.

mod checkpoint;
mod command;
mod dashboard;
#[cfg(test)]
mod footprint;
mod imports;
mod interned;
mod logs;
mod metrics;
mod split;
mod thread;
mod traces;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loupe_model::query::DashboardPanel;
use loupe_model::sink::{Batch, Sink, SinkError, Ticket};
use rusqlite::Connection;
use tokio::sync::oneshot;

use self::checkpoint::Checkpointer;
pub(crate) use self::command::Command;
use self::command::Job;
pub use self::imports::ImportRecord;
use self::thread::WriterState;
use crate::disk::{low_disk_reason, DiskSpace, LowDisk, Refusal};
use crate::error::StoreError;
use crate::prepare;
pub(crate) use crate::retention::wal_limit;
use crate::retention::Retention;
use crate::stats::WriterStats;
use loupe_model::correlation::JoinRule;

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Batches waiting for the writer, at most.
    pub queue_batches: usize,
    /// Prepared bytes waiting for the writer, at most.
    pub queue_bytes: usize,
    /// Batches committed together in one transaction, at most.
    pub max_group: usize,
    pub retention: Retention,
    /// How long a write waits for a lock held by another connection or
    /// process (`busy_timeout`) before its batches are answered retryable.
    /// Short enough that the wait plus the queue stays inside an exporter's
    /// usual 10 s deadline, long enough to ride out a checkpoint or an
    /// alert-state write.
    pub busy_timeout: Duration,
    /// Join rules whose values are indexed at ingest (inferred links);
    /// whether each is answered can change at run time (`Reader`).
    pub correlation: Vec<JoinRule>,
    /// What happens when free disk space runs low (`crate::disk`); off
    /// (threshold 0) by default, set from `--min-free-disk` by the app.
    pub low_disk: LowDisk,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_batches: 64,
            queue_bytes: 48 << 20,
            max_group: 64,
            retention: Retention::default(),
            busy_timeout: Duration::from_secs(2),
            correlation: JoinRule::defaults(),
            low_disk: LowDisk::default(),
        }
    }
}

/// The handle the receiver submits batches to.
pub struct Writer {
    tx: Mutex<Option<SyncSender<Job>>>,
    queued_bytes: Arc<AtomicUsize>,
    queue_bytes: usize,
    paused: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<WriterStats>,
    /// See [`Writer::inject_page_limit`]; 0: never set.
    page_limit: Arc<AtomicU64>,
    /// See [`Writer::inject_clock_ahead`].
    clock_ahead: Arc<AtomicU64>,
    /// The join rules, as batches are prepared with them.
    correlation: Arc<[JoinRule]>,
    /// Free-space threshold and probe, and whether ingest is refused for
    /// lack of space (`crate::disk`).
    low_disk: LowDisk,
    refusal: Arc<Refusal>,
}

const RETRY_AFTER: Duration = Duration::from_secs(1);

impl Writer {
    pub(crate) fn start(conn: Connection, config: WriterConfig) -> Result<Writer, StoreError> {
        // Checkpoints run on their own thread and connection, so the writer
        // never stalls copying the WAL into the database; the writer's own
        // autocheckpoint is the safety net when that one falls behind (a
        // commit rewrites many pages, so the WAL grows much faster than the
        // data): at the WAL limit, so the WAL stays within the cap's margin.
        // With a small cap that means frequent checkpoints on the writer:
        // the price of the bound.
        let wal_limit = wal_limit(config.retention.max_bytes);
        let frames = (wal_limit / 4096).clamp(64, 16384);
        conn.pragma_update(None, "wal_autocheckpoint", frames as i64)?;
        conn.busy_timeout(config.busy_timeout)?;
        conn.pragma_update(None, "journal_size_limit", wal_limit as i64)?;
        let stats = Arc::new(WriterStats::default());
        let checkpointer = match conn.path() {
            Some(p) if !p.is_empty() => Some(Checkpointer::start(
                std::path::PathBuf::from(p),
                stats.clone(),
                wal_limit,
            )?),
            _ => None,
        };
        let (tx, rx) = mpsc::sync_channel::<Job>(config.queue_batches.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let page_limit = Arc::new(AtomicU64::new(0));
        let clock_ahead = Arc::new(AtomicU64::new(0));
        let refusal = Arc::new(Refusal::default());
        let mut state = WriterState::new(
            conn,
            config.retention.clone(),
            stats.clone(),
            page_limit.clone(),
            clock_ahead.clone(),
            config.busy_timeout,
            (config.low_disk.clone(), refusal.clone()),
        )?;
        let qb = queued_bytes.clone();
        let max_group = config.max_group.max(1);
        let thread = std::thread::Builder::new()
            .name("loupe-writer".into())
            .spawn(move || {
                state.run(rx, qb, max_group);
                drop(checkpointer);
                state.close();
            })
            .map_err(|e| StoreError::Io {
                path: "writer thread".into(),
                source: e,
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            queued_bytes,
            queue_bytes: config.queue_bytes,
            paused: AtomicBool::new(false),
            thread: Mutex::new(Some(thread)),
            stats,
            page_limit,
            clock_ahead,
            correlation: config
                .correlation
                .iter()
                .cloned()
                .map(JoinRule::named)
                .collect(),
            low_disk: config.low_disk,
            refusal,
        })
    }

    /// Free space under the directory of the database at `db`, by the
    /// configured probe (`crate::disk`).
    pub fn disk_space(&self, db: &std::path::Path) -> Option<DiskSpace> {
        self.low_disk.probe.space(db.parent()?)
    }

    /// Why telemetry is refused for lack of disk space, while it is.
    pub fn low_disk_refusal(&self) -> Option<String> {
        self.refusal
            .get()
            .map(|free| low_disk_reason(free, self.low_disk.min_free))
    }

    /// Time travel for tests: the writer's clock (arrival stamps and
    /// retention's age cutoff) runs `ahead` of the system clock from now
    /// on, so data can age past `max_age` without waiting for it.
    #[doc(hidden)]
    pub fn inject_clock_ahead(&self, ahead: Duration) {
        let ns = ahead.as_nanos().min(u64::MAX as u128) as u64;
        self.clock_ahead.store(ns, Ordering::SeqCst);
    }

    /// Fault injection for tests: caps the database at `pages` pages
    /// (`PRAGMA max_page_count`, applied before the next transaction), so
    /// writes fail with a real `SQLITE_FULL` without filling a disk; `None`
    /// lifts the cap. SQLite never sets the cap below the current size.
    #[doc(hidden)]
    pub fn inject_page_limit(&self, pages: Option<u64>) {
        self.page_limit
            .store(pages.unwrap_or(0xFFFF_FFFE).max(1), Ordering::SeqCst);
    }

    /// The writer's queue, commit and retention statistics.
    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    /// Stops accepting batches; while paused `submit` answers `Paused`.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Records an import in the list of imports (after its data was stored).
    pub fn record_import(&self, record: ImportRecord) -> Result<Ticket, SinkError> {
        self.admin(Command::RecordImport(record))
    }

    /// Deletes everything imported from `source`, and its entry in the list.
    pub fn delete_import(&self, source: &str) -> Result<Ticket, SinkError> {
        self.admin(Command::DeleteImport(source.to_string()))
    }

    /// Queues a non-telemetry write; waits for room instead of answering
    /// `Busy` (these are rare and come from a user's action), and works
    /// while ingest is paused.
    fn admin(&self, command: Command) -> Result<Ticket, SinkError> {
        let (ack, rx) = oneshot::channel();
        let job = Job {
            command,
            weight: 0,
            ack,
            queued_at: Instant::now(),
        };
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(SinkError::Closed)?;
        tx.send(job).map_err(|_| SinkError::Closed)?;
        Ok(Ticket(rx))
    }

    /// Lets queued batches commit, then stops the writer thread.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Writer {
    /// Replaces the dashboard's panels (on the writer thread, like every
    /// write); the ticket resolves after the commit. Not refused while
    /// ingest is paused: pausing is about telemetry.
    pub fn save_dashboard(&self, panels: Vec<DashboardPanel>) -> Result<Ticket, SinkError> {
        self.enqueue(Command::SaveDashboard(panels))
    }

    fn enqueue(&self, command: Command) -> Result<Ticket, SinkError> {
        let weight = command.weight();
        let before = self.queued_bytes.fetch_add(weight, Ordering::SeqCst);
        // One batch may always enter an empty queue, however large.
        if before > 0 && before + weight > self.queue_bytes {
            self.queued_bytes.fetch_sub(weight, Ordering::SeqCst);
            return Err(SinkError::Busy {
                retry_after: RETRY_AFTER,
            });
        }
        let (ack, rx) = oneshot::channel();
        let job = Job {
            command,
            weight,
            queued_at: Instant::now(),
            ack,
        };
        // Counted before sending, so the writer never uncounts it first.
        self.stats.queued_batches.add(1);
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let result = match guard.as_ref() {
            None => Err(SinkError::Closed),
            Some(tx) => tx.try_send(job).map_err(|e| match e {
                TrySendError::Full(_) => SinkError::Busy {
                    retry_after: RETRY_AFTER,
                },
                TrySendError::Disconnected(_) => SinkError::Closed,
            }),
        };
        drop(guard);
        match result {
            Ok(()) => {
                self.stats
                    .queued_bytes
                    .set(self.queued_bytes.load(Ordering::Relaxed) as i64);
                Ok(Ticket(rx))
            }
            Err(e) => {
                self.stats.queued_batches.add(-1);
                self.queued_bytes.fetch_sub(weight, Ordering::SeqCst);
                Err(e)
            }
        }
    }
}

impl Sink for Writer {
    fn submit(&self, batch: Batch) -> Result<Ticket, SinkError> {
        if self.is_paused() {
            return Err(SinkError::Paused {
                retry_after: RETRY_AFTER,
            });
        }
        if let Some(reason) = self.low_disk_refusal() {
            return Err(SinkError::Unavailable {
                reason,
                retry_after: crate::Fault::DiskFull.retry_after(),
            });
        }
        self.enqueue(Command::Batch(prepare::prepare(batch, &self.correlation)))
    }
}
