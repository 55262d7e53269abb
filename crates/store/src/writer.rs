//! The single writer: a bounded queue in, group-committed transactions out.
//!
//! Invariants:
//! - Only this thread writes to the database (retention included), so there
//!   is never writer-lock contention and caches of row IDs stay true.
//! - A ticket resolves `Ok` only after the transaction holding its batch has
//!   committed to the WAL (`synchronous = NORMAL`: durable when the process
//!   is killed; an OS crash may lose the last commits).
//! - The queue is bounded in batches and in bytes: when either is full,
//!   `submit` answers `Busy` at once and memory stays bounded.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loupe_model::sink::{Batch, Sink, SinkError, Ticket};
use loupe_model::time::to_sql;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::codec;
use crate::prepare::{self, Envelope, Prepared, PreparedLogs, PreparedMetrics, PreparedTraces};
use crate::retention::{Retention, RetentionState};
use crate::stats::WriterStats;
use crate::StoreError;

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
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_batches: 64,
            queue_bytes: 48 << 20,
            max_group: 64,
            retention: Retention::default(),
            busy_timeout: Duration::from_secs(2),
        }
    }
}

struct Job {
    prepared: Prepared,
    weight: usize,
    queued_at: Instant,
    ack: oneshot::Sender<Result<(), SinkError>>,
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
}

const RETRY_AFTER: Duration = Duration::from_secs(1);

impl Writer {
    pub(crate) fn start(conn: Connection, config: WriterConfig) -> Result<Writer, StoreError> {
        // Checkpoints run on their own thread and connection, so the writer
        // never stalls copying the WAL into the database; the writer's own
        // autocheckpoint stays only as a safety net if this one falls behind.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.busy_timeout(config.busy_timeout)?;
        let wal_limit = wal_limit(config.retention.max_bytes);
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
        let mut state = WriterState::new(conn, config.retention.clone(), stats.clone())?;
        state.page_limit = page_limit.clone();
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
        })
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
    pub fn record_import(&self, record: crate::ImportRecord) -> Result<Ticket, SinkError> {
        self.admin(crate::imports::Admin::Record(record))
    }

    /// Deletes everything imported from `source`, and its entry in the list.
    pub fn delete_import(&self, source: &str) -> Result<Ticket, SinkError> {
        self.admin(crate::imports::Admin::Delete(source.to_string()))
    }

    /// Queues a non-telemetry write; waits for room instead of answering
    /// `Busy` (these are rare and come from a user's action), and works
    /// while ingest is paused.
    fn admin(&self, admin: crate::imports::Admin) -> Result<Ticket, SinkError> {
        let (ack, rx) = oneshot::channel();
        let job = Job {
            prepared: Prepared::Admin(admin),
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
    pub fn save_dashboard(
        &self,
        panels: Vec<loupe_model::query::DashboardPanel>,
    ) -> Result<Ticket, SinkError> {
        self.enqueue(Prepared::Dashboard(panels))
    }

    fn enqueue(&self, prepared: Prepared) -> Result<Ticket, SinkError> {
        let weight = prepared.weight();
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
            prepared,
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
        self.enqueue(prepare::prepare(batch))
    }
}

#[derive(Debug, Clone)]
struct TraceRow {
    id: i64,
    start: u64,
    end: u64,
    span_count: i64,
    error_count: i64,
    root_known: bool,
    root_start: u64,
    root_name: Option<String>,
    root_service: Option<String>,
    services: Vec<String>,
}

struct WriterState {
    conn: Connection,
    key_ids: HashMap<String, i64>,
    resource_ids: HashMap<i64, i64>,
    scope_ids: HashMap<i64, i64>,
    /// (name, kind, unit) → (id, last description written).
    metric_ids: HashMap<(String, i64, String), (i64, String)>,
    series_ids: HashMap<(i64, i64, i64, i64), i64>,
    /// Span IDs of recently written traces, so spans arriving in later
    /// batches are de-duplicated without reading their chunks back.
    span_ids: HashMap<i64, HashSet<i64>>,
    next_chunk: i64,
    /// The next log record's `seq` (its row in `logs_fts`).
    next_log_seq: i64,
    retention: RetentionState,
    stats: Arc<WriterStats>,
    /// Injected page cap (tests), and the one applied last.
    page_limit: Arc<AtomicU64>,
    page_limit_applied: u64,
}

/// Caches above this many entries are dropped and rebuilt on demand.
const CACHE_LIMIT: usize = 200_000;

/// Traces whose span IDs are cached (a few MB for typical traces).
const SPAN_CACHE_TRACES: usize = 20_000;

impl WriterState {
    fn new(
        conn: Connection,
        retention: Retention,
        stats: Arc<WriterStats>,
    ) -> Result<Self, StoreError> {
        let next_chunk: i64 = conn.query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM span_chunks",
            [],
            |r| r.get(0),
        )?;
        let next_log_seq: i64 =
            conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM logs", [], |r| {
                r.get(0)
            })?;
        Ok(WriterState {
            next_log_seq,
            conn,
            key_ids: HashMap::new(),
            resource_ids: HashMap::new(),
            scope_ids: HashMap::new(),
            metric_ids: HashMap::new(),
            series_ids: HashMap::new(),
            span_ids: HashMap::new(),
            next_chunk,
            retention: RetentionState::new(retention),
            stats,
            page_limit: Arc::new(AtomicU64::new(0)),
            page_limit_applied: 0,
        })
    }

    fn clear_caches(&mut self) {
        self.key_ids.clear();
        self.resource_ids.clear();
        self.scope_ids.clear();
        self.metric_ids.clear();
        self.series_ids.clear();
        self.span_ids.clear();
    }

    fn run(&mut self, rx: mpsc::Receiver<Job>, queued: Arc<AtomicUsize>, max_group: usize) {
        let mut last_retention = Instant::now();
        loop {
            let wait = if self.retention.behind() { 10 } else { 500 };
            let first = match rx.recv_timeout(Duration::from_millis(wait)) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.retention_step(&mut last_retention, true);
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
            let results = self.commit_group(&jobs);
            let left = queued.fetch_sub(weight, Ordering::SeqCst) - weight;
            let stats = &self.stats;
            stats.commit_duration.observe_duration(started.elapsed());
            stats.commit_batches.observe(jobs.len() as f64);
            stats.commits.inc();
            stats.queued_batches.add(-(jobs.len() as i64));
            stats.queued_bytes.set(left as i64);
            let failed = results.iter().filter(|r| r.is_err()).count();
            stats.failed_batches.add(failed as u64);
            if failed < jobs.len() {
                stats.committed_now();
            }
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.ack.send(result);
            }
            self.retention_step(&mut last_retention, false);
        }
    }

    fn close(&mut self) {
        let _ = self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
    }

    fn retention_step(&mut self, last: &mut Instant, idle: bool) {
        // Busy writers check once a second, idle ones every wake-up, and
        // both after every commit while retention is behind.
        if !idle && !self.retention.behind() && last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = Instant::now();
        match self.retention.step(&self.conn) {
            Ok(n) => self.stats.retention_deleted.add(n as u64),
            Err(e) if e.fault().is_some_and(|f| f.is_transient()) => {
                tracing::debug!("retention step failed: {e}")
            }
            Err(e) => tracing::warn!("retention step failed: {e}"),
        }
    }

    /// Applies all jobs in one transaction and commits once. If any job
    /// fails, the transaction is rolled back and each job is retried in a
    /// transaction of its own, so a bad batch fails alone. (Savepoints per
    /// batch would isolate failures too, but copy every touched page into a
    /// sub-journal: a third of the writer's time in profiles.)
    fn commit_group(&mut self, jobs: &[Job]) -> Vec<Result<(), SinkError>> {
        match self.transaction(|w| jobs.iter().try_for_each(|j| w.apply(&j.prepared))) {
            Ok(()) => jobs.iter().map(|_| Ok(())).collect(),
            // A storage fault (disk full, locked) fails every batch alike:
            // retrying them one by one would only wait out the busy timeout
            // once per batch.
            Err(e) if jobs.len() > 1 && e.fault().is_none() => jobs
                .iter()
                .map(|j| {
                    self.transaction(|w| w.apply(&j.prepared))
                        .map_err(|e| self.sink_error(&e))
                })
                .collect(),
            Err(e) => {
                let answer = self.sink_error(&e);
                jobs.iter().map(|_| Err(answer.clone())).collect()
            }
        }
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
        if self.span_ids.len() > SPAN_CACHE_TRACES {
            self.span_ids.clear();
        }
        if self.key_ids.len() + self.series_ids.len() > CACHE_LIMIT {
            self.clear_caches();
        }
        result
    }

    fn apply(&mut self, p: &Prepared) -> Result<(), StoreError> {
        match p {
            Prepared::Traces(t) => self.apply_traces(t),
            Prepared::Logs(l) => self.apply_logs(l),
            Prepared::Metrics(m) => self.apply_metrics(m),
            Prepared::Dashboard(d) => {
                self.conn.execute("DELETE FROM dashboard_panels", [])?;
                let mut ins = self.conn.prepare_cached(
                    "INSERT INTO dashboard_panels(position, title, chart) VALUES (?1, ?2, ?3)",
                )?;
                for (i, p) in d.iter().enumerate() {
                    ins.execute(params![i as i64, p.title, p.chart])?;
                }
                Ok(())
            }
            Prepared::Admin(a) => {
                match a {
                    crate::imports::Admin::Record(r) => crate::imports::record(&self.conn, r)?,
                    crate::imports::Admin::Delete(source) => {
                        crate::imports::delete(&self.conn, source)?;
                        // Span IDs and series of the deleted data are cached.
                        self.clear_caches();
                    }
                }
                Ok(())
            }
        }
    }

    fn envelope_ids(&mut self, envs: &[Envelope], resources: bool) -> Result<Vec<i64>, StoreError> {
        let (cache, insert, select) = if resources {
            (
                &mut self.resource_ids,
                "INSERT OR IGNORE INTO resources(hash, service, body) VALUES (?1, ?2, ?3)",
                "SELECT id FROM resources WHERE hash = ?1",
            )
        } else {
            (
                &mut self.scope_ids,
                "INSERT OR IGNORE INTO scopes(hash, name, body) VALUES (?1, coalesce(?2, ''), ?3)",
                "SELECT id FROM scopes WHERE hash = ?1",
            )
        };
        let mut ids = Vec::with_capacity(envs.len());
        for e in envs {
            if let Some(id) = cache.get(&e.hash) {
                ids.push(*id);
                continue;
            }
            self.conn
                .prepare_cached(insert)?
                .execute(params![e.hash, e.label, e.body])?;
            let id: i64 = self
                .conn
                .prepare_cached(select)?
                .query_row([e.hash], |r| r.get(0))?;
            cache.insert(e.hash, id);
            ids.push(id);
        }
        Ok(ids)
    }

    fn key_id(&mut self, key: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.key_ids.get(key) {
            return Ok(*id);
        }
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO attr_keys(key) VALUES (?1)")?
            .execute([key])?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM attr_keys WHERE key = ?1")?
            .query_row([key], |r| r.get(0))?;
        self.key_ids.insert(key.to_string(), id);
        Ok(id)
    }

    fn load_trace(&mut self, trace_id: &[u8; 16]) -> Result<TraceRow, StoreError> {
        let existing = self
            .conn
            .prepare_cached(
                "SELECT id, start_ns, end_ns, span_count, error_count, root_known, root_start,
                        root_name, root_service, services
                 FROM traces WHERE trace_id = ?1",
            )?
            .query_row([&trace_id[..]], |r| {
                let services: String = r.get(9)?;
                Ok(TraceRow {
                    id: r.get(0)?,
                    start: r.get::<_, i64>(1)? as u64,
                    end: r.get::<_, i64>(2)? as u64,
                    span_count: r.get(3)?,
                    error_count: r.get(4)?,
                    root_known: r.get(5)?,
                    root_start: r.get::<_, i64>(6)? as u64,
                    root_name: r.get(7)?,
                    root_service: r.get(8)?,
                    services: serde_json::from_str(&services).unwrap_or_default(),
                })
            })
            .optional()?;
        if let Some(row) = existing {
            return Ok(row);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count,
                                    root_known, root_start, services)
                 VALUES (?1, 0, 0, 0, 0, 0, 0, '[]')",
            )?
            .execute([&trace_id[..]])?;
        Ok(TraceRow {
            id: self.conn.last_insert_rowid(),
            start: u64::MAX,
            end: 0,
            span_count: 0,
            error_count: 0,
            root_known: false,
            root_start: u64::MAX,
            root_name: None,
            root_service: None,
            services: Vec::new(),
        })
    }

    fn apply_traces(&mut self, t: &PreparedTraces) -> Result<(), StoreError> {
        let resource_ids = self.envelope_ids(&t.resources, true)?;
        let scope_ids = self.envelope_ids(&t.scopes, false)?;
        let mut rows: Vec<TraceRow> = Vec::with_capacity(t.traces.len());
        for tid in &t.traces {
            rows.push(self.load_trace(tid)?);
        }
        // Traces that got at least one new span: only they are indexed, so
        // a re-sent batch adds nothing.
        let mut touched = vec![false; t.traces.len()];
        // Span IDs already stored, per trace of the batch: empty for new
        // traces (nothing to compare with), else loaded once.
        let mut known: Vec<Option<HashSet<i64>>> = vec![None; t.traces.len()];
        for (i, row) in rows.iter().enumerate() {
            if row.span_count > 0 {
                known[i] = Some(self.stored_span_ids(row.id)?);
            }
        }
        {
            let mut ins_chunk = self.conn.prepare_cached(
                "INSERT INTO span_chunks(id, trace, resource, scope, span_ids, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut ins_link = self.conn.prepare_cached(
                "INSERT OR IGNORE INTO span_links(trace, span_id, linked_trace, linked_span) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut new = Vec::new();
            let mut ids_blob: Vec<u8> = Vec::new();
            for g in &t.groups {
                let row = &mut rows[g.trace];
                let chunk_id = self.next_chunk;
                let seen = known[g.trace].get_or_insert_with(HashSet::new);
                new.clear();
                for (i, s) in g.spans.iter().enumerate() {
                    if seen.insert(s.span_id) {
                        new.push(i);
                    }
                }
                if new.is_empty() {
                    continue;
                }
                touched[g.trace] = true;
                let rebuilt;
                let body: &[u8] = if new.len() == g.spans.len() {
                    &g.chunk
                } else {
                    // Some spans were stored before (a re-sent request): keep
                    // only the new ones so nothing is stored twice.
                    let all = codec::decompress(&g.chunk)?;
                    let mut raw = Vec::new();
                    for &i in &new {
                        raw.extend_from_slice(&all[g.spans[i].range.clone()]);
                    }
                    rebuilt = prepare::chunk_of(&raw);
                    &rebuilt
                };
                ids_blob.clear();
                for &i in &new {
                    ids_blob.extend_from_slice(&g.spans[i].span_id.to_be_bytes());
                }
                ins_chunk.execute(params![
                    chunk_id,
                    row.id,
                    resource_ids[g.resource],
                    scope_ids[g.scope],
                    ids_blob,
                    body
                ])?;
                self.next_chunk += 1;
                if let Some(svc) = &g.service {
                    if !row.services.contains(svc) {
                        row.services.push(svc.clone());
                        row.services.sort();
                    }
                }
                for &i in &new {
                    let s = &g.spans[i];
                    for (lt, ls) in &s.links {
                        ins_link.execute(params![row.id, s.span_id, &lt[..], ls])?;
                    }
                    row.start = row.start.min(s.start);
                    row.end = row.end.max(s.end);
                    row.span_count += 1;
                    row.error_count += s.error as i64;
                    let better = if s.root {
                        !row.root_known || s.start < row.root_start
                    } else {
                        !row.root_known && s.start < row.root_start
                    };
                    if better {
                        row.root_known |= s.root;
                        row.root_start = s.start;
                        row.root_name = Some(s.name.clone());
                        row.root_service = g.service.clone();
                    }
                }
            }
        }
        {
            let mut update = self.conn.prepare_cached(
                "UPDATE traces SET start_ns = ?2, end_ns = ?3, span_count = ?4, error_count = ?5,
                    root_known = ?6, root_start = ?7, root_name = ?8, root_service = ?9, services = ?10
                 WHERE id = ?1",
            )?;
            let mut delete = self
                .conn
                .prepare_cached("DELETE FROM traces WHERE id = ?1 AND span_count = 0")?;
            for (row, touched) in rows.iter().zip(&touched) {
                if row.span_count == 0 {
                    // Created above for spans that all turned out to exist: impossible
                    // for a new trace, but never leave an empty row behind.
                    delete.execute([row.id])?;
                } else if *touched {
                    update.execute(params![
                        row.id,
                        to_sql(row.start),
                        to_sql(row.end),
                        row.span_count,
                        row.error_count,
                        row.root_known,
                        to_sql(row.root_start),
                        row.root_name,
                        row.root_service,
                        serde_json::to_string(&row.services).unwrap_or_else(|_| "[]".into()),
                    ])?;
                }
            }
        }
        for (row, ids) in rows.iter().zip(known) {
            if let Some(ids) = ids {
                self.span_ids.insert(row.id, ids);
            }
        }
        self.index_postings(t, &rows, &touched)
    }

    /// The span IDs stored for a trace, from the cache or its chunks.
    fn stored_span_ids(&mut self, trace: i64) -> Result<HashSet<i64>, StoreError> {
        if let Some(ids) = self.span_ids.remove(&trace) {
            return Ok(ids);
        }
        let mut ids = HashSet::new();
        let mut st = self
            .conn
            .prepare_cached("SELECT span_ids FROM span_chunks WHERE trace = ?1")?;
        let mut rows = st.query([trace])?;
        while let Some(row) = rows.next()? {
            for id in row.get_ref(0)?.as_blob()?.chunks_exact(8) {
                ids.insert(i64::from_be_bytes(id.try_into().expect("8 bytes")));
            }
        }
        Ok(ids)
    }

    /// Writes this batch's segment of the attribute index: one row per
    /// distinct (key, value) with the traces that carry it.
    fn index_postings(
        &mut self,
        t: &PreparedTraces,
        rows: &[TraceRow],
        touched: &[bool],
    ) -> Result<(), StoreError> {
        let max_trace = rows
            .iter()
            .zip(touched)
            .filter(|(_, t)| **t)
            .map(|(r, _)| r.id)
            .max();
        let Some(max_trace) = max_trace else {
            return Ok(());
        };
        self.conn
            .prepare_cached("INSERT INTO segments(max_trace) VALUES (?1)")?
            .execute([max_trace])?;
        let segment = self.conn.last_insert_rowid();
        let mut ids: Vec<i64> = Vec::new();
        let mut blob = Vec::new();
        for p in &t.postings {
            ids.clear();
            ids.extend(
                p.traces
                    .iter()
                    .filter(|&&i| touched[i])
                    .map(|&i| rows[i].id),
            );
            if ids.is_empty() {
                continue;
            }
            ids.sort_unstable();
            ids.dedup();
            blob.clear();
            codec::encode_ids(&ids, &mut blob);
            let key = self.key_id(&p.key)?;
            self.conn
                .prepare_cached(
                    "INSERT INTO attr_index(key, value, segment, traces) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![key, p.value, segment, blob])?;
        }
        Ok(())
    }

    fn apply_logs(&mut self, l: &PreparedLogs) -> Result<(), StoreError> {
        let resource_ids = self.envelope_ids(&l.resources, true)?;
        let scope_ids = self.envelope_ids(&l.scopes, false)?;
        let mut ins = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO logs(time_ns, hash, resource, scope, severity, trace_id, span_id, body_text, record, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut fts = self
            .conn
            .prepare_cached("INSERT INTO logs_fts(rowid, body, attrs) VALUES (?1, ?2, ?3)")?;
        for r in &l.records {
            let seq = self.next_log_seq;
            let inserted = ins.execute(params![
                to_sql(r.time),
                r.hash,
                resource_ids[r.resource],
                scope_ids[r.scope],
                r.severity,
                r.trace_id,
                r.span_id,
                r.body_text,
                r.record,
                seq,
            ])?;
            // A record stored before (a re-sent request) is not indexed twice.
            if inserted == 1 {
                fts.execute(params![seq, r.fts_body, r.fts_attrs])?;
                self.next_log_seq += 1;
            }
        }
        Ok(())
    }

    fn apply_metrics(&mut self, m: &PreparedMetrics) -> Result<(), StoreError> {
        let resource_ids = self.envelope_ids(&m.resources, true)?;
        let scope_ids = self.envelope_ids(&m.scopes, false)?;
        for metric in &m.metrics {
            let mkey = (metric.name.clone(), metric.kind.code(), metric.unit.clone());
            let metric_id = match self.metric_ids.get(&mkey) {
                Some((id, desc))
                    if metric.description.is_empty() || *desc == metric.description =>
                {
                    *id
                }
                _ => {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO metrics(name, kind, unit, description) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT(name, kind, unit) DO UPDATE SET description = excluded.description
                             WHERE excluded.description != ''",
                        )?
                        .execute(params![metric.name, metric.kind.code(), metric.unit, metric.description])?;
                    let id: i64 = self
                        .conn
                        .prepare_cached(
                            "SELECT id FROM metrics WHERE name = ?1 AND kind = ?2 AND unit = ?3",
                        )?
                        .query_row(params![metric.name, metric.kind.code(), metric.unit], |r| {
                            r.get(0)
                        })?;
                    self.metric_ids
                        .insert(mkey, (id, metric.description.clone()));
                    id
                }
            };
            let (res, scope) = (resource_ids[metric.resource], scope_ids[metric.scope]);
            for p in &metric.points {
                let skey = (metric_id, res, scope, p.series_hash);
                let series = match self.series_ids.get(&skey) {
                    Some(id) => *id,
                    None => {
                        self.conn
                            .prepare_cached(
                                "INSERT OR IGNORE INTO series(metric, resource, scope, hash, shell, attributes, last_ns)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            )?
                            .execute(params![metric_id, res, scope, p.series_hash, metric.shell, p.attributes, to_sql(p.time)])?;
                        let id: i64 = self
                            .conn
                            .prepare_cached(
                                "SELECT id FROM series WHERE metric = ?1 AND resource = ?2 AND scope = ?3 AND hash = ?4",
                            )?
                            .query_row(params![metric_id, res, scope, p.series_hash], |r| r.get(0))?;
                        self.series_ids.insert(skey, id);
                        id
                    }
                };
                self.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO points(series, time_ns, point) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![series, to_sql(p.time), p.point])?;
                self.conn
                    .prepare_cached(LAST_NS_UPDATE)?
                    .execute(params![series, to_sql(p.time)])?;
            }
        }
        Ok(())
    }
}

/// A background thread that copies the WAL into the database.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The WAL size the checkpointer keeps under (and `journal_size_limit`
/// truncates back to): a twentieth of the size cap, between 1 and 64 MiB,
/// so database + WAL stays within the margin documented in ARCHITECTURE.md.
pub(crate) fn wal_limit(max_bytes: u64) -> u64 {
    (max_bytes / 20).clamp(1 << 20, 64 << 20)
}

/// No commit for this long and ingest counts as idle: the WAL is truncated.
const IDLE: Duration = Duration::from_secs(1);

impl Checkpointer {
    /// Every 200 ms: a PASSIVE checkpoint while ingest is busy (never blocks
    /// the writer); a RESTART once the WAL is over `wal_limit`, so readers
    /// that are always in the WAL cannot keep the writer from wrapping
    /// around (the WAL would grow without bound); and once ingest is idle a
    /// TRUNCATE, so the -wal file goes back to zero bytes.
    fn start(
        path: std::path::PathBuf,
        stats: Arc<WriterStats>,
        wal_limit: u64,
    ) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(&path)?;
        // RESTART and TRUNCATE hold new writers back while they wait for
        // readers: wait briefly and try again on the next round instead.
        conn.busy_timeout(Duration::from_millis(250))?;
        conn.pragma_update(None, "journal_size_limit", wal_limit as i64)?;
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64;
        let limit_frames = (wal_limit / page_size.max(512)) as i64;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("loupe-checkpoint".into())
            .spawn(move || {
                // The commit time the last TRUNCATE followed: one per idle period.
                let mut truncated_after: Option<u64> = None;
                while !flag.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
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
                        Ok((_, log)) if mode == "PASSIVE" && log > limit_frames => {
                            if let Err(e) = checkpoint("RESTART") {
                                tracing::debug!("checkpoint (RESTART): {e}");
                            }
                        }
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

/// Moves a series' last point time forward, comparing as unsigned
/// (`unsigned_order` spelled out, to keep it a constant).
const LAST_NS_UPDATE: &str = "UPDATE series SET last_ns = ?2 WHERE id = ?1 AND \
     ((last_ns | -9223372036854775808) & ~(last_ns & -9223372036854775808)) \
     < ((?2 | -9223372036854775808) & ~(?2 & -9223372036854775808))";

/// An SQL expression that orders stored nanosecond timestamps (bit-cast
/// `u64`) correctly as unsigned: it flips the sign bit, `x XOR i64::MIN`,
/// written with the operators SQLite has.
pub(crate) fn unsigned_order(x: &str) -> String {
    format!("(({x} | -9223372036854775808) & ~({x} & -9223372036854775808))")
}
