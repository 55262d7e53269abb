//! The writer thread: takes queued commands, applies them in
//! group-committed transactions, acknowledges each after its commit, and
//! runs retention between commits.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe_model::sink::SinkError;
use loupe_model::time::now_ns;
use rusqlite::Connection;

use super::command::{Command, Job};
use super::interned::Interned;
use super::logs::Logs;
use super::metrics::Metrics;
use super::traces::Traces;
use super::{dashboard, imports, split};
use crate::disk::{LowDisk, Refusal};
use crate::error::StoreError;
use crate::prepare::Prepared;
use crate::retention::{Retention, RetentionState};
use crate::stats::WriterStats;

pub(super) struct WriterState {
    conn: Connection,
    interned: Interned,
    traces: Traces,
    logs: Logs,
    metrics: Metrics,
    retention: RetentionState,
    stats: Arc<WriterStats>,
    /// Injected page cap (tests), and the one applied last.
    page_limit: Arc<AtomicU64>,
    page_limit_applied: u64,
    /// Nanoseconds the writer's clock runs ahead of the system's (tests).
    clock_ahead: Arc<AtomicU64>,
    /// When the open transaction's data arrived: one clock reading per
    /// transaction, stamped on its traces, log records and data points.
    arrived: u64,
    /// The writer's busy timeout (`WriterConfig::busy_timeout`).
    busy_timeout: Duration,
    /// Free-space threshold and probe (`crate::disk`).
    low_disk: LowDisk,
    /// Where the free-space episode is.
    disk: DiskState,
    last_disk_check: Instant,
    /// Shared with `Writer::submit`: refusing for lack of space.
    refusal: Arc<Refusal>,
}

/// How long the writer holds ingest back, at most, while the files are
/// over the size cap (see `hold_under_cap`): long enough for a few
/// retention steps, short enough that a cap smaller than what can be
/// deleted only slows ingest.
const CAP_HOLD: Duration = Duration::from_millis(500);

/// When a batch refused for the size cap may be sent again.
const CAP_RETRY: Duration = Duration::from_secs(1);

/// The writer's view of free space (`crate::disk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskState {
    /// Above the threshold (or unknown).
    Enough,
    /// Below it since then: retention is deleting the oldest data.
    Freeing(Instant),
    /// Still below it after that: ingest is refused.
    Refusing,
}

/// How often free space is measured (one `statvfs`).
const DISK_CHECK: Duration = Duration::from_millis(100);

/// Longest time ingest goes on below the threshold while retention frees
/// space (under heavy ingest, freed pages are reused as fast as they are
/// given back): then it is refused all the same, before the disk fills.
const FREEING_AT_MOST: Duration = Duration::from_secs(10);

/// How long the writer's own WAL checkpoint waits for readers.
const WAL_WAIT: Duration = Duration::from_millis(100);

/// Caches above this many entries are dropped and rebuilt on demand.
const CACHE_LIMIT: usize = 200_000;

impl WriterState {
    pub(super) fn new(
        conn: Connection,
        retention: Retention,
        stats: Arc<WriterStats>,
        page_limit: Arc<AtomicU64>,
        clock_ahead: Arc<AtomicU64>,
        busy_timeout: Duration,
        (low_disk, refusal): (LowDisk, Arc<Refusal>),
    ) -> Result<Self, StoreError> {
        Ok(WriterState {
            traces: Traces::open(&conn)?,
            logs: Logs::open(&conn)?,
            conn,
            interned: Interned::default(),
            metrics: Metrics::default(),
            retention: RetentionState::new(retention),
            stats,
            page_limit,
            page_limit_applied: 0,
            clock_ahead,
            arrived: 0,
            busy_timeout,
            low_disk,
            disk: DiskState::Enough,
            last_disk_check: Instant::now() - DISK_CHECK,
            refusal,
        })
    }

    /// The writer's time: arrival stamps and retention's cutoff read the
    /// same clock, so a test that moves it moves both.
    fn now(&self) -> u64 {
        now_ns().saturating_add(self.clock_ahead.load(Ordering::Relaxed))
    }

    fn clear_caches(&mut self) {
        self.interned.clear();
        self.metrics.clear_cache();
        self.traces.clear_cache();
    }

    pub(super) fn run(
        &mut self,
        rx: mpsc::Receiver<Job>,
        queued: Arc<AtomicUsize>,
        max_group: usize,
    ) {
        let mut last_retention = Instant::now();
        // A disk already low at start counts before the first batch.
        self.check_disk();
        loop {
            let wait = if self.retention.behind() { 10 } else { 500 };
            let first = match rx.recv_timeout(Duration::from_millis(wait)) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.retention_step(&mut last_retention, true);
                    self.check_disk();
                    self.bound_wal();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut jobs = vec![first];
            while jobs.len() < max_group {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let weight: usize = jobs.iter().map(|j| j.weight).sum();
            let started = Instant::now();
            for j in &jobs {
                self.stats
                    .queue_wait
                    .observe_duration(started.saturating_duration_since(j.queued_at));
            }
            let batches = jobs.len();
            // Out of the queue now: counted before the first acknowledgement
            // (commit_group acknowledges each job as its parts commit, while
            // the rest of the group is still being written).
            self.stats.queued_batches.add(-(batches as i64));
            let failed = self.commit_group(jobs, &mut last_retention);
            let left = queued.fetch_sub(weight, Ordering::SeqCst) - weight;
            let stats = &self.stats;
            stats.commit_duration.observe_duration(started.elapsed());
            stats.commit_batches.observe(batches as f64);
            stats.commits.inc();
            stats.queued_bytes.set(left as i64);
            stats.failed_batches.add(failed as u64);
            self.retention_step(&mut last_retention, false);
            self.check_disk();
            self.bound_wal();
            // Waits here, between groups, rather than with a batch in hand.
            self.hold_under_cap(&mut last_retention);
        }
    }

    /// The size cap bounds the disk by design, not only on average: before
    /// every transaction, the database file plus the WAL (counted at its
    /// bound) plus what one transaction may add must fit the cap's margin
    /// (`RetentionState::room_for_commit`). Until they do, the writer keeps
    /// deleting, sweeping and vacuuming instead of writing, for at most
    /// [`CAP_HOLD`]; ingest waits meanwhile and the queue behind it fills
    /// and is answered with the retryable refusal. Returns false when the
    /// files are still over after that: the caller refuses the batches in
    /// hand (retryable) rather than overshoot.
    fn hold_under_cap(&mut self, last: &mut Instant) -> bool {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else {
            return true;
        };
        let path = std::path::PathBuf::from(path);
        let started = Instant::now();
        loop {
            match self.retention.room_for_commit(&self.conn, &path) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!("size check failed: {e}");
                    return true;
                }
            }
            if started.elapsed() >= CAP_HOLD {
                return false;
            }
            *last = Instant::now();
            self.step_now();
            self.bound_wal();
        }
    }

    /// Measures free space under the data directory (at most every
    /// [`DISK_CHECK`]) and moves through `crate::disk`'s steps: below the
    /// threshold, the oldest data worth the shortfall is queued for
    /// deletion (retention deletes it in steps, gives the pages back and
    /// the WAL is truncated); still below once that is done, ingest is
    /// refused; above it again, accepted.
    fn check_disk(&mut self) {
        if self.low_disk.min_free == 0 || self.last_disk_check.elapsed() < DISK_CHECK {
            return;
        }
        self.last_disk_check = Instant::now();
        let Some(dir) = self
            .conn
            .path()
            .filter(|p| !p.is_empty())
            .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
        else {
            return;
        };
        let min = self.low_disk.min_free;
        // Once refusing, accept again only with room to spare (no flapping).
        let needed = match self.disk {
            DiskState::Refusing => crate::disk::resume_at(min),
            _ => min,
        };
        let free = match self.low_disk.probe.space(&dir) {
            Some(space) if space.free < needed => space.free,
            _ => {
                if self.disk != DiskState::Enough {
                    tracing::info!(
                        "free disk space is back above {} MiB: accepting telemetry",
                        needed >> 20
                    );
                }
                self.disk = DiskState::Enough;
                self.retention.set_low_disk(false);
                self.refusal.set(None);
                return;
            }
        };
        match self.disk {
            DiskState::Enough => {
                let queued = match self.retention.free_for_disk(&self.conn, min - free) {
                    Ok(q) => q,
                    Err(e) => {
                        tracing::debug!("low disk: cannot measure the database: {e}");
                        false
                    }
                };
                tracing::warn!(
                    "low disk space: {} MiB free under {}, below {} MiB (--min-free-disk): {}",
                    free >> 20,
                    dir.display(),
                    min >> 20,
                    if queued {
                        "deleting the oldest data"
                    } else {
                        "the database is smaller than the shortfall; keeping it"
                    }
                );
                self.disk = DiskState::Freeing(Instant::now());
            }
            DiskState::Freeing(since)
                if !self.retention.behind() || since.elapsed() >= FREEING_AT_MOST =>
            {
                self.truncate_wal();
                // The truncated WAL and the pages given back may be enough.
                let free = match self.low_disk.probe.space(&dir) {
                    Some(space) if space.free < min => space.free,
                    _ => {
                        tracing::info!(
                            "free disk space is back above {} MiB after retention",
                            min >> 20
                        );
                        self.disk = DiskState::Enough;
                        self.retention.set_low_disk(false);
                        return;
                    }
                };
                tracing::warn!(
                    "low disk space: {} MiB free, still below {} MiB (--min-free-disk) after \
                     retention: refusing telemetry (retryable) until space is freed",
                    free >> 20,
                    min >> 20
                );
                self.disk = DiskState::Refusing;
                self.refusal.set(Some(free));
            }
            DiskState::Freeing(_) => {}
            DiskState::Refusing => self.refusal.set(Some(free)),
        }
    }

    /// Copies the WAL into the database and truncates it to zero bytes,
    /// waiting briefly for readers.
    fn truncate_wal(&mut self) {
        let _ = self.conn.busy_timeout(WAL_WAIT);
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::debug!("writer checkpoint (TRUNCATE): {e}");
        }
        let _ = self.conn.busy_timeout(self.busy_timeout);
    }

    /// Keeps the WAL at its limit: once a commit leaves it over, the writer
    /// copies and truncates it itself before taking the next batch (a
    /// short stall of ingest). The checkpointer's PASSIVE rounds cannot:
    /// a WAL only wraps around once a checkpoint has caught up with the
    /// writer, and a RESTART from another connection waits for the write
    /// lock, which a busy writer takes again at once (it timed out while
    /// the WAL grew to many times the cap). If the checkpointer holds the
    /// checkpoint lock at that moment, this is tried after the next commit.
    fn bound_wal(&mut self) {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else {
            return;
        };
        let limit = crate::retention::wal_limit(self.retention.max_bytes());
        if crate::retention::wal_bytes(std::path::Path::new(path)) <= limit {
            return;
        }
        // Readers still in the WAL hold it back: wait for them briefly (new
        // readers do not, once it is all copied), not the writer's whole
        // busy timeout; an ingest stall is bounded by this.
        self.truncate_wal();
    }

    pub(super) fn close(&mut self) {
        let _ = self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
    }

    fn retention_step(&mut self, last: &mut Instant, idle: bool) {
        // The size trigger is cheap and runs after every commit, so a burst
        // cannot outgrow the cap between checks; the rest runs once a second
        // while busy, every wake-up when idle, and after every commit while
        // retention is behind.
        if !idle && !self.retention.behind() {
            if let Err(e) = self.retention.check_size(&self.conn) {
                tracing::debug!("size check failed: {e}");
            }
        }
        if !idle && !self.retention.behind() && last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = Instant::now();
        self.step_now();
    }

    fn step_now(&mut self) {
        match self.retention.step(&self.conn, self.now()) {
            Ok(n) => self.stats.retention_deleted.add(n as u64),
            Err(e) if e.fault().is_some_and(|f| f.is_transient()) => {
                tracing::debug!("retention step failed: {e}")
            }
            Err(e) => tracing::warn!("retention step failed: {e}"),
        }
    }

    /// Commits the jobs' commands in as few transactions as the budget
    /// allows (`super::split`): every transaction's estimated pages, what
    /// its commit adds to the WAL, stay within [`split::budget`], so a
    /// large trace batch is split into parts of whole traces; between
    /// transactions the WAL is bounded and ingest held while the files are
    /// over the cap, as between groups. A job is acknowledged once all its
    /// parts are committed (a failed part fails it: its retry stores only
    /// what is missing). If a transaction fails, it is rolled back and each
    /// of its parts is retried in a transaction of its own, so a bad batch
    /// fails alone. (Savepoints per batch would isolate failures too, but
    /// copy every touched page into a sub-journal: a third of the writer's
    /// time in profiles.) Returns how many jobs failed.
    fn commit_group(&mut self, jobs: Vec<Job>, last: &mut Instant) -> usize {
        let budget = split::budget(self.retention.max_bytes());
        let mut parts: Vec<(usize, Command, u64)> = Vec::new();
        let mut acks = Vec::with_capacity(jobs.len());
        let mut remaining = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.into_iter().enumerate() {
            let before = parts.len();
            match job.command {
                Command::Batch(Prepared::Traces(t)) => parts.extend(
                    split::split(t, budget)
                        .into_iter()
                        .map(|(t, pages)| (i, Command::Batch(Prepared::Traces(t)), pages)),
                ),
                Command::Batch(p) => {
                    let pages = split::pages(&p);
                    parts.push((i, Command::Batch(p), pages));
                }
                c => parts.push((i, c, 0)),
            }
            remaining.push(parts.len() - before);
            acks.push(Some(job.ack));
        }
        let mut errors: Vec<Option<SinkError>> = vec![None; acks.len()];
        let mut failed = 0;
        let mut refusing = false;
        let mut start = 0;
        while start < parts.len() {
            // As many parts as fit the budget (at least one).
            let mut end = start + 1;
            let mut pages = parts[start].2;
            while end < parts.len() && pages.saturating_add(parts[end].2) <= budget {
                pages += parts[end].2;
                end += 1;
            }
            if start > 0 {
                self.bound_wal();
            }
            let tx = &parts[start..end];
            // Telemetry only: a deleted import or a saved dashboard goes
            // through (they are small, and a deletion frees space).
            let telemetry = tx.iter().all(|p| matches!(p.1, Command::Batch(_)));
            if telemetry && !refusing && !self.hold_under_cap(last) {
                tracing::debug!("over the size cap after {CAP_HOLD:?} of retention: refusing");
                refusing = true;
            }
            let results: Vec<Result<(), SinkError>> = if telemetry && refusing {
                // Retention could not make room in time: the rest of the
                // group is refused, retryable, without holding again (what
                // is stored of a job stays; its retry adds the rest).
                tx.iter()
                    .map(|_| {
                        Err(SinkError::Busy {
                            retry_after: CAP_RETRY,
                        })
                    })
                    .collect()
            } else {
                match self.transaction(|w| tx.iter().try_for_each(|p| w.apply(&p.1))) {
                    Ok(()) => tx.iter().map(|_| Ok(())).collect(),
                    // A storage fault (disk full, locked) fails every part
                    // alike: retrying them one by one would only wait out
                    // the busy timeout once per part.
                    Err(e) if tx.len() > 1 && e.fault().is_none() => tx
                        .iter()
                        .map(|p| {
                            self.transaction(|w| w.apply(&p.1))
                                .map_err(|e| self.sink_error(&e))
                        })
                        .collect(),
                    Err(e) => {
                        let answer = self.sink_error(&e);
                        tx.iter().map(|_| Err(answer.clone())).collect()
                    }
                }
            };
            if results.iter().any(|r| r.is_ok()) {
                self.stats.committed_now();
            }
            for (p, result) in tx.iter().zip(results) {
                let job = p.0;
                if let Err(e) = result {
                    errors[job].get_or_insert(e);
                }
                remaining[job] -= 1;
                if remaining[job] == 0 {
                    // All its parts are in: acknowledged now, not after
                    // the rest of the group.
                    let answer = match errors[job].take() {
                        Some(e) => {
                            failed += 1;
                            Err(e)
                        }
                        None => Ok(()),
                    };
                    if let Some(ack) = acks[job].take() {
                        let _ = ack.send(answer);
                    }
                }
            }
            start = end;
        }
        failed
    }

    /// Classifies a failed write once: storage faults are remembered for
    /// /health, transient ones answered retryable.
    fn sink_error(&self, e: &StoreError) -> SinkError {
        if let Some(f) = e.fault() {
            self.stats.failed_now(f);
        }
        e.to_sink_error()
    }

    fn transaction(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let limit = self.page_limit.load(Ordering::SeqCst);
        if limit != self.page_limit_applied {
            self.conn
                .query_row(&format!("PRAGMA max_page_count = {limit}"), [], |_| Ok(()))?;
            self.page_limit_applied = limit;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.arrived = self.now();
        let result = f(self).and_then(|_| Ok(self.conn.execute_batch("COMMIT")?));
        if let Err(e) = &result {
            match e.fault() {
                // Expected while another process holds the lock or the disk
                // is full; /health and the answers say so.
                Some(f) if f.is_transient() => tracing::debug!("write failed, rolled back: {e}"),
                _ => tracing::warn!("write failed, rolled back: {e}"),
            }
            let _ = self.conn.execute_batch("ROLLBACK");
            self.clear_caches();
        }
        self.traces.trim_cache();
        if self.interned.keys() + self.metrics.series() > CACHE_LIMIT {
            self.clear_caches();
        }
        result
    }

    fn apply(&mut self, c: &Command) -> Result<(), StoreError> {
        let (conn, at) = (&self.conn, self.arrived);
        match c {
            Command::Batch(Prepared::Traces(t)) => {
                self.traces.apply(conn, &mut self.interned, t, at)
            }
            Command::Batch(Prepared::Logs(l)) => self.logs.apply(conn, &mut self.interned, l, at),
            Command::Batch(Prepared::Metrics(m)) => {
                self.metrics.apply(conn, &mut self.interned, m, at)
            }
            Command::SaveDashboard(panels) => dashboard::save(conn, panels),
            Command::RecordImport(r) => imports::record(conn, r),
            Command::DeleteImport(source) => {
                imports::delete(conn, source)?;
                // Span IDs and series of the deleted data are cached.
                self.clear_caches();
                Ok(())
            }
        }
    }
}
