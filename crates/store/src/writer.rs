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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loupe_model::sink::{Batch, Sink, SinkError, Ticket};
use loupe_model::time::to_sql;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::codec::IndexValue;
use crate::prepare::{self, Envelope, Prepared, PreparedLogs, PreparedMetrics, PreparedTraces};
use crate::retention::{Retention, RetentionState};
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
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_batches: 64,
            queue_bytes: 48 << 20,
            max_group: 64,
            retention: Retention::default(),
        }
    }
}

struct Job {
    prepared: Prepared,
    weight: usize,
    ack: oneshot::Sender<Result<(), SinkError>>,
}

/// The handle the receiver submits batches to.
pub struct Writer {
    tx: Mutex<Option<SyncSender<Job>>>,
    queued_bytes: Arc<AtomicUsize>,
    queue_bytes: usize,
    paused: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

const RETRY_AFTER: Duration = Duration::from_secs(1);

impl Writer {
    pub(crate) fn start(conn: Connection, config: WriterConfig) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(config.queue_batches.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let mut state = WriterState::new(conn, config.retention.clone())?;
        let qb = queued_bytes.clone();
        let max_group = config.max_group.max(1);
        let thread = std::thread::Builder::new()
            .name("loupe-writer".into())
            .spawn(move || state.run(rx, qb, max_group))
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
        })
    }

    /// Stops accepting batches; while paused `submit` answers `Paused`.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
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

impl Sink for Writer {
    fn submit(&self, batch: Batch) -> Result<Ticket, SinkError> {
        if self.is_paused() {
            return Err(SinkError::Paused {
                retry_after: RETRY_AFTER,
            });
        }
        let prepared = prepare::prepare(batch);
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
            ack,
        };
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
            Ok(()) => Ok(Ticket(rx)),
            Err(e) => {
                self.queued_bytes.fetch_sub(weight, Ordering::SeqCst);
                Err(e)
            }
        }
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
    metric_ids: HashMap<(String, i64, String), i64>,
    series_ids: HashMap<(i64, i64, i64, i64), i64>,
    next_chunk: i64,
    retention: RetentionState,
}

/// Caches above this many entries are dropped and rebuilt on demand.
const CACHE_LIMIT: usize = 200_000;

impl WriterState {
    fn new(conn: Connection, retention: Retention) -> Result<Self, StoreError> {
        let next_chunk: i64 = conn.query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM span_chunks",
            [],
            |r| r.get(0),
        )?;
        Ok(WriterState {
            conn,
            key_ids: HashMap::new(),
            resource_ids: HashMap::new(),
            scope_ids: HashMap::new(),
            metric_ids: HashMap::new(),
            series_ids: HashMap::new(),
            next_chunk,
            retention: RetentionState::new(retention),
        })
    }

    fn clear_caches(&mut self) {
        self.key_ids.clear();
        self.resource_ids.clear();
        self.scope_ids.clear();
        self.metric_ids.clear();
        self.series_ids.clear();
    }

    fn run(&mut self, rx: mpsc::Receiver<Job>, queued: Arc<AtomicUsize>, max_group: usize) {
        let mut last_retention = Instant::now();
        loop {
            let first = match rx.recv_timeout(Duration::from_millis(500)) {
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
            let results = self.commit_group(&jobs);
            queued.fetch_sub(weight, Ordering::SeqCst);
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.ack.send(result);
            }
            self.retention_step(&mut last_retention, false);
        }
        let _ = self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
    }

    fn retention_step(&mut self, last: &mut Instant, idle: bool) {
        // Busy writers check once a second; idle ones every wake-up.
        if !idle && last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = Instant::now();
        if let Err(e) = self.retention.step(&self.conn) {
            tracing::warn!("retention step failed: {e}");
        }
    }

    /// Applies each job in its own savepoint inside one transaction, so a bad
    /// batch fails alone, then commits once.
    fn commit_group(&mut self, jobs: &[Job]) -> Vec<Result<(), SinkError>> {
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            return jobs
                .iter()
                .map(|_| Err(SinkError::Failed(msg.clone())))
                .collect();
        }
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let r = self
                .conn
                .execute_batch("SAVEPOINT batch")
                .map_err(StoreError::from)
                .and_then(|_| self.apply(&job.prepared));
            match r {
                Ok(()) => {
                    let _ = self.conn.execute_batch("RELEASE batch");
                    results.push(Ok(()));
                }
                Err(e) => {
                    tracing::warn!("batch failed: {e}");
                    let _ = self.conn.execute_batch("ROLLBACK TO batch; RELEASE batch");
                    self.clear_caches();
                    results.push(Err(SinkError::Failed(e.to_string())));
                }
            }
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            tracing::error!("commit failed: {e}");
            let _ = self.conn.execute_batch("ROLLBACK");
            self.clear_caches();
            let msg = e.to_string();
            return jobs
                .iter()
                .map(|_| Err(SinkError::Failed(msg.clone())))
                .collect();
        }
        if self.key_ids.len() + self.series_ids.len() > CACHE_LIMIT {
            self.clear_caches();
        }
        results
    }

    fn apply(&mut self, p: &Prepared) -> Result<(), StoreError> {
        match p {
            Prepared::Traces(t) => self.apply_traces(t),
            Prepared::Logs(l) => self.apply_logs(l),
            Prepared::Metrics(m) => self.apply_metrics(m),
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
        let mut rows: HashMap<[u8; 16], TraceRow> = HashMap::new();
        for g in &t.groups {
            if !rows.contains_key(&g.trace_id) {
                let row = self.load_trace(&g.trace_id)?;
                rows.insert(g.trace_id, row);
            }
            let trace = rows[&g.trace_id].id;
            let chunk_id = self.next_chunk;
            let mut new = Vec::with_capacity(g.spans.len());
            {
                let mut ins = self.conn.prepare_cached(
                    "INSERT OR IGNORE INTO spans(trace, span_id, chunk) VALUES (?1, ?2, ?3)",
                )?;
                for (i, s) in g.spans.iter().enumerate() {
                    if ins.execute(params![trace, s.span_id, chunk_id])? == 1 {
                        new.push(i);
                    }
                }
            }
            if new.is_empty() {
                continue;
            }
            let rebuilt;
            let body: &[u8] = if new.len() == g.spans.len() {
                &g.chunk
            } else {
                // Some spans were stored before (a re-sent request): keep
                // only the new ones so nothing is stored twice.
                let mut raw = Vec::new();
                for &i in &new {
                    raw.extend_from_slice(&g.raw[g.spans[i].range.clone()]);
                }
                rebuilt = prepare::chunk_of(&raw);
                &rebuilt
            };
            self.conn
                .prepare_cached(
                    "INSERT INTO span_chunks(id, trace, resource, scope, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![chunk_id, trace, resource_ids[g.resource], scope_ids[g.scope], body])?;
            self.next_chunk += 1;

            for &i in &new {
                let s = &g.spans[i];
                for (lt, ls) in &s.links {
                    self.conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO span_links(trace, span_id, linked_trace, linked_span)
                             VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![trace, s.span_id, &lt[..], ls])?;
                }
            }
            for (k, v) in &g.attrs {
                let key = self.key_id(k)?;
                let v = match v {
                    IndexValue::Real(f) if f.is_nan() => &IndexValue::Null,
                    v => v,
                };
                self.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO trace_attrs(key, value, trace) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![key, v, trace])?;
            }

            let row = rows.get_mut(&g.trace_id).expect("loaded above");
            if let Some(svc) = &g.service {
                if !row.services.contains(svc) {
                    row.services.push(svc.clone());
                    row.services.sort();
                }
            }
            for &i in &new {
                let s = &g.spans[i];
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
        for row in rows.values() {
            if row.span_count == 0 {
                continue;
            }
            self.conn
                .prepare_cached(
                    "UPDATE traces SET start_ns = ?2, end_ns = ?3, span_count = ?4, error_count = ?5,
                        root_known = ?6, root_start = ?7, root_name = ?8, root_service = ?9, services = ?10
                     WHERE id = ?1",
                )?
                .execute(params![
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
        // A trace row whose spans all turned out to be duplicates of nothing
        // (only possible if every span was skipped) must not linger empty.
        for row in rows.values() {
            if row.span_count == 0 {
                self.conn
                    .prepare_cached("DELETE FROM traces WHERE id = ?1 AND span_count = 0")?
                    .execute([row.id])?;
            }
        }
        Ok(())
    }

    fn apply_logs(&mut self, l: &PreparedLogs) -> Result<(), StoreError> {
        let resource_ids = self.envelope_ids(&l.resources, true)?;
        let scope_ids = self.envelope_ids(&l.scopes, false)?;
        let mut ins = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO logs(time_ns, hash, resource, scope, severity, trace_id, span_id, body_text, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in &l.records {
            ins.execute(params![
                to_sql(r.time),
                r.hash,
                resource_ids[r.resource],
                scope_ids[r.scope],
                r.severity,
                r.trace_id,
                r.span_id,
                r.body_text,
                r.record,
            ])?;
        }
        Ok(())
    }

    fn apply_metrics(&mut self, m: &PreparedMetrics) -> Result<(), StoreError> {
        let resource_ids = self.envelope_ids(&m.resources, true)?;
        let scope_ids = self.envelope_ids(&m.scopes, false)?;
        for metric in &m.metrics {
            let mkey = (metric.name.clone(), metric.kind.code(), metric.unit.clone());
            let metric_id = match self.metric_ids.get(&mkey) {
                Some(id) => *id,
                None => {
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
                    self.metric_ids.insert(mkey, id);
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
                    .prepare_cached(
                        "UPDATE series SET last_ns = ?2 WHERE id = ?1 AND last_ns < ?2",
                    )?
                    .execute(params![series, to_sql(p.time)])?;
            }
        }
        Ok(())
    }
}
