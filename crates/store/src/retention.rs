//! Retention: keeps the database under a size and an age, off the ingest path.
//!
//! Runs on the writer thread between group commits (so it never contends for
//! the write lock) and deletes in small batches, each its own short
//! transaction, so ingest waits at most one small batch.
//!
//! Both limits go by arrival (`arrived_ns`: when Loupe stored a log record
//! or data point, when a trace last got a new span), never by the data's
//! own timestamps: those may be a month old (an imported bug report), zero
//! or skewed, and data must not vanish right after it was acknowledged.
//! The oldest-arrived data goes first, through the `*_arrived` indexes.

use std::time::Duration;

use loupe_model::time::to_sql;
use rusqlite::{params, Connection};

use crate::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Live database size (pages in use) above which the oldest data goes.
    pub max_bytes: u64,
    /// Data that arrived longer ago than this goes (by the time Loupe
    /// stored it, not the data's own timestamps).
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_bytes: 1 << 30,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Retention {
    /// No limits: for tests and imports that must keep everything.
    pub fn unlimited() -> Self {
        Retention {
            max_bytes: u64::MAX,
            max_age: Duration::from_secs(u64::MAX / 4),
        }
    }
}

/// Traces, log records or points deleted per step.
const BATCH: i64 = 500;

/// The age limit's predicate: arrived before the cutoff (`?1`). Arrival
/// stamps come from the writer's clock, so they are never negative (no
/// unsigned comparison needed).
const AGED: &str = "arrived_ns < ?1";

/// The size limit's predicate: any row (oldest-arrived first).
const ANY: &str = "1 OR ?1";

/// Index rows examined per sweep slice.
const SWEEP: i64 = 8000;

/// Time one retention step spends on sweep slices while a pass is under way.
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_millis(30);

pub(crate) struct RetentionState {
    cfg: Retention,
    /// Rows still to delete to get back under `max_bytes`: traces, log
    /// records, data points, oldest first.
    size_debt: [i64; 3],
    /// A size deletion ran; don't measure the size again until the index
    /// sweep has completed a pass (until then freed space is not visible,
    /// and measuring would delete far more than needed).
    size_settling: bool,
    /// Where the index sweep continues: the last (key, value, segment) seen.
    cursor: Option<(i64, rusqlite::types::Value, i64)>,
    /// Segments at or below this hold only deleted traces (as of the sweep's start).
    stale_segment: i64,
    /// The data is over the cap itself: delete in bigger batches.
    urgent: bool,
    /// Free pages one step gives back at most: a third of the WAL limit's
    /// worth (a moved page is written with its parent and pointer-map
    /// page), so a step's vacuum adds no more to the WAL than a commit.
    vacuum_pages: u64,
    /// The WAL size the checkpointer keeps to ([`wal_limit`]).
    wal_limit: u64,
    /// Rows of each signal the last size deletion left.
    kept: [i64; 3],
    /// Free pages are still to be given back (see `vacuum_some`).
    vacuum_behind: bool,
    /// The last size check found the cap exceeded: the sweep gets more time.
    over_cap: bool,
    /// Free disk space is below the threshold (`crate::disk`): free pages
    /// go back to the file system whatever the cap.
    low_disk: bool,
}

impl RetentionState {
    pub(crate) fn new(cfg: Retention) -> Self {
        let cfg_max = cfg.max_bytes;
        RetentionState {
            cfg,
            size_debt: [0; 3],
            size_settling: false,
            cursor: None,
            stale_segment: 0,
            urgent: false,
            vacuum_pages: (wal_limit(cfg_max) / 3 / (4096 + 24)).max(16),
            wal_limit: wal_limit(cfg_max),
            kept: [0; 3],
            vacuum_behind: false,
            over_cap: false,
            low_disk: false,
        }
    }

    /// Deleting a trace leaves its postings in `attr_index` (they name a
    /// trace that no longer exists, which queries ignore). This sweep walks
    /// the index a bounded slice at a time and drops rows of segments whose
    /// traces are all gone, so the space comes back without an index by trace.
    fn sweep_index(&mut self, conn: &Connection) -> Result<usize, StoreError> {
        use rusqlite::types::Value;
        if self.cursor.is_none() {
            // A new pass: fix which segments are stale for its whole length.
            let min_live: Option<i64> =
                conn.query_row("SELECT min(id) FROM traces", [], |r| r.get(0))?;
            let stale: Option<i64> = match min_live {
                Some(m) => conn.query_row(
                    "SELECT max(id) FROM segments WHERE max_trace < ?1",
                    [m],
                    |r| r.get(0),
                )?,
                None => conn.query_row("SELECT max(id) FROM segments", [], |r| r.get(0))?,
            };
            match stale {
                Some(s) if s > self.stale_segment => self.stale_segment = s,
                _ => {
                    // Nothing to sweep: whatever was deleted is already visible.
                    if self.size_debt == [0; 3] {
                        self.size_settling = false;
                    }
                    return Ok(0);
                }
            }
            self.cursor = Some((i64::MIN, Value::Null, i64::MIN));
        }
        let (k, v, s) = self.cursor.clone().expect("set above");
        let rows: Vec<(i64, Value, i64)> = conn
            .prepare_cached(
                "SELECT key, value, segment FROM attr_index WHERE (key, value, segment) > (?1, ?2, ?3)
                 ORDER BY key, value, segment LIMIT ?4",
            )?
            .query_map(params![k, v, s, SWEEP], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let tx = conn.unchecked_transaction()?;
        let mut deleted = 0;
        {
            let mut del = tx.prepare_cached(
                "DELETE FROM attr_index WHERE key = ?1 AND value = ?2 AND segment = ?3",
            )?;
            for (k, v, s) in &rows {
                if *s <= self.stale_segment {
                    deleted += del.execute(params![k, v, s])?;
                }
            }
        }
        if (rows.len() as i64) < SWEEP {
            // Pass complete: the stale segments have no rows left.
            tx.execute("DELETE FROM segments WHERE id <= ?1", [self.stale_segment])?;
            self.cursor = None;
            if self.size_debt == [0; 3] {
                self.size_settling = false;
            }
        } else {
            self.cursor = rows.into_iter().last();
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Whether one more transaction fits the cap's margin by construction:
    /// the database file, plus the WAL at the larger of its size now and
    /// its limit (past the limit the writer truncates it before the next
    /// transaction, unless readers hold it), plus one transaction's frames
    /// (at most the limit: `write::split`), plus as many pages the file may
    /// grow by when they are checkpointed, at most [`MARGIN`] × the cap.
    /// Queues the size check's deletion when not.
    pub(crate) fn room_for_commit(
        &mut self,
        conn: &Connection,
        db: &std::path::Path,
    ) -> Result<bool, StoreError> {
        let m = measure(conn)?;
        let wal = wal_bytes(db).max(self.wal_limit);
        let fits = m
            .file
            .saturating_add(wal)
            .saturating_add(2 * self.wal_limit)
            <= self.margin_bytes();
        if !fits {
            self.check_size(conn)?;
        }
        Ok(fits)
    }

    /// The most database + WAL may take: [`MARGIN`] × the cap.
    fn margin_bytes(&self) -> u64 {
        fraction(self.cfg.max_bytes, MARGIN)
    }

    /// Free disk space is short by `shortfall` bytes: queues the oldest
    /// share of each signal worth that many bytes of pages in use for
    /// deletion, and from now on gives free pages back whatever the cap
    /// (until [`RetentionState::set_low_disk`] says space is back). Returns
    /// false when nothing was queued: the shortfall is larger than the whole
    /// database, which deleting could not make up for (`crate::disk`).
    pub(crate) fn free_for_disk(
        &mut self,
        conn: &Connection,
        shortfall: u64,
    ) -> Result<bool, StoreError> {
        self.low_disk = true;
        if self.size_debt != [0; 3] {
            // A deletion is already under way; it frees space too.
            return Ok(true);
        }
        let m = measure(conn)?;
        if m.used == 0 || shortfall >= m.used {
            return Ok(false);
        }
        let share = shortfall as f64 / m.used as f64;
        let mut queued = false;
        for (i, table) in ["traces", "logs", "points"].iter().enumerate() {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            self.size_debt[i] = ((n as f64 * share).ceil() as i64).clamp(0, n);
            self.kept[i] = n - self.size_debt[i];
            queued |= self.size_debt[i] > 0;
        }
        self.urgent = true;
        self.size_settling = true;
        Ok(queued)
    }

    /// Whether free disk space is below the threshold.
    pub(crate) fn set_low_disk(&mut self, low: bool) {
        self.low_disk = low;
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.cfg.max_bytes
    }

    /// Whether the WAL is past its limit (the writer truncates it next).
    fn wal_over(&self, conn: &Connection) -> bool {
        conn.path()
            .filter(|p| !p.is_empty())
            .is_some_and(|p| wal_bytes(std::path::Path::new(p)) > self.wal_limit)
    }

    /// Whether retention has work queued that should not wait for the
    /// next periodic step.
    pub(crate) fn behind(&self) -> bool {
        self.size_debt != [0; 3] || self.cursor.is_some() || self.vacuum_behind
    }

    /// One bounded step at time `now` (the writer's clock, which stamps
    /// arrivals); returns how many rows it deleted.
    pub(crate) fn step(&mut self, conn: &Connection, now: u64) -> Result<usize, StoreError> {
        let mut deleted = 0;
        let age_ns = self.cfg.max_age.as_nanos().min(u64::MAX as u128) as u64;
        if now > age_ns {
            let cutoff = to_sql(now - age_ns);
            deleted += delete_traces(conn, AGED, cutoff, BATCH)?;
            deleted += delete_logs(conn, AGED, cutoff, BATCH)?;
            deleted += delete_points(conn, AGED, cutoff, BATCH)?;
        }
        self.check_size(conn)?;
        // Over the cap itself: bigger batches, so deletion outruns ingest
        // (not much bigger: each batch rewrites its pages into the WAL).
        let batch = if self.urgent { BATCH * 2 } else { BATCH };
        for (i, debt) in self.size_debt.iter_mut().enumerate() {
            if *debt > 0 {
                let n = match i {
                    0 => delete_traces(conn, ANY, 0, (*debt).min(batch))?,
                    1 => delete_logs(conn, ANY, 0, (*debt).min(batch))?,
                    _ => delete_points(conn, ANY, 0, (*debt).min(batch))?,
                };
                deleted += n;
                *debt = if n == 0 { 0 } else { *debt - n as i64 };
            }
        }
        if self.size_debt == [0; 3] {
            self.urgent = false;
        }
        let started = std::time::Instant::now();
        loop {
            deleted += self.sweep_index(conn)?;
            // Over the cap, the sweep is what frees space: ingest waits for it.
            let budget = if self.over_cap {
                SWEEP_BUDGET * 4
            } else {
                SWEEP_BUDGET
            };
            // Each slice is a transaction of its own; past the WAL's limit
            // the rest waits for the writer to truncate it (`bound_wal`), so
            // retention adds to the WAL no more than a commit does.
            if self.cursor.is_none() || started.elapsed() >= budget || self.wal_over(conn) {
                break;
            }
        }
        if !self.wal_over(conn) {
            self.vacuum_some(conn)?;
        }
        Ok(deleted)
    }

    /// The size limit's trigger, cheap enough for every commit (three
    /// pragmas): once the database's pages in use plus the WAL's limit
    /// pass [`HIGH`] of the cap, the oldest share of each
    /// signal that brings them to [`LOW`] is queued for deletion. Until the
    /// index sweep of that deletion has completed a pass, freed postings
    /// are not visible and a new share would delete far more than needed
    /// (everything, in a 25 s run at 37,000 spans/s): meanwhile, over the
    /// cap, only what arrived since that deletion goes (the row counts it
    /// left are `kept`). The sweep runs in slices of up to
    /// [`SWEEP_BUDGET`] per step, so that phase is short.
    pub(crate) fn check_size(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.size_debt != [0; 3] {
            return Ok(());
        }
        let m = measure(conn)?;
        let cap = self.cfg.max_bytes;
        self.over_cap = m.used + self.wal_limit > cap;
        if self.size_settling {
            // Over the cap before the sweep has caught up: what arrived
            // since the last deletion goes, so the data stays at the size
            // that deletion left (never more: the unswept postings would
            // make a fresh share delete everything).
            if m.used + self.wal_limit > cap {
                for (i, table) in ["traces", "logs", "points"].iter().enumerate() {
                    let n: i64 =
                        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                    self.size_debt[i] = (n - self.kept[i]).max(0);
                }
                self.urgent = true;
            }
            return Ok(());
        }
        // The WAL counts as its limit, what the checkpointer keeps it to:
        // counting its momentary size would delete data for a burst of WAL
        // frames (and write more of them deleting it).
        let live = m.used + self.wal_limit;
        if live <= fraction(cap, HIGH) {
            return Ok(());
        }
        let target = fraction(cap, LOW);
        let share = ((live - target) as f64 / m.used.max(1) as f64).min(1.0);
        for (debt, table) in self.size_debt.iter_mut().zip(["traces", "logs", "points"]) {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            *debt = ((n as f64 * share).ceil() as i64).min(n);
        }
        for (i, table) in ["traces", "logs", "points"].iter().enumerate() {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            self.kept[i] = n - self.size_debt[i];
        }
        self.urgent = live > cap;
        self.size_settling = true;
        Ok(())
    }

    /// Gives free pages back to the file system (incremental vacuum) while
    /// the file plus the WAL's limit is over [`HIGH`] of the cap, a bounded number
    /// per step (each moved page is written to the WAL), so the file goes
    /// back under the cap after a burst without a blocking VACUUM. Below
    /// that, free pages stay: ingest reuses them, the file does not grow.
    /// (A database created before auto_vacuum=INCREMENTAL keeps them: the
    /// pragma is then a no-op, ARCHITECTURE.md.)
    fn vacuum_some(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let m = measure(conn)?;
        self.vacuum_behind = m.free_pages > 0
            && (self.low_disk || m.file + self.wal_limit > fraction(self.cfg.max_bytes, HIGH));
        if !self.vacuum_behind {
            return Ok(());
        }
        // Steps follow each other every 10 ms while this is behind, each
        // followed by the writer's WAL truncation, so the file is back under
        // the cap within seconds.
        let chunk = self.vacuum_pages.min(m.free_pages);
        conn.execute_batch(&format!("PRAGMA incremental_vacuum({chunk})"))?;
        Ok(())
    }
}

/// The WAL size the checkpointer keeps under (and `journal_size_limit`
/// truncates back to): a twentieth of the size cap, between 256 KiB and 64 MiB,
/// so database + WAL stays within the margin documented in ARCHITECTURE.md.
/// Here, beside the size limit that counts it, so the writer depends on
/// retention and not the other way round.
pub(crate) fn wal_limit(max_bytes: u64) -> u64 {
    (max_bytes / 20).clamp(256 << 10, 64 << 20)
}

/// Database + WAL stay within this many times the cap (ARCHITECTURE.md,
/// "the size cap"): the writer holds ingest until one more transaction
/// fits ([`RetentionState::room_for_commit`]).
pub(crate) const MARGIN: f64 = 1.1;

/// Share of the cap at which the size limit starts deleting.
const HIGH: f64 = 0.85;
/// Share of the cap it deletes down to (pages in use plus the WAL's limit).
const LOW: f64 = 0.7;

fn fraction(cap: u64, f: f64) -> u64 {
    (cap as f64 * f) as u64
}

/// What the size limit looks at.
struct Measure {
    /// Pages in use, in bytes.
    used: u64,
    /// The database's pages, free ones included, in bytes: the file's size
    /// once checkpointed.
    file: u64,
    free_pages: u64,
}

fn measure(conn: &Connection) -> Result<Measure, StoreError> {
    let (pages, free, size): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT page_count FROM pragma_page_count),
                (SELECT freelist_count FROM pragma_freelist_count),
                (SELECT page_size FROM pragma_page_size)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Measure {
        used: ((pages - free).max(0) * size) as u64,
        file: (pages.max(0) * size) as u64,
        free_pages: free.max(0) as u64,
    })
}

/// Size of the WAL next to the database at `db`.
pub(crate) fn wal_bytes(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_os_string();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

pub(crate) fn live_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let (pages, free, size): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT page_count FROM pragma_page_count),
                (SELECT freelist_count FROM pragma_freelist_count),
                (SELECT page_size FROM pragma_page_size)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// The keys of the oldest-arrived rows of `table` that meet `pred`, at most
/// `limit`: what one step deletes. Walks the table's `*_arrived` index, so a
/// step costs its batch, not the table (`tests` checks the plans).
fn oldest(table: &str, pred: &str, limit: i64) -> String {
    let (key, order) = match table {
        "traces" => ("id", "arrived_ns"),
        "logs" => ("time_ns, hash", "arrived_ns"),
        _ => ("series, time_ns", "arrived_ns, time_ns"),
    };
    format!("SELECT {key} FROM {table} WHERE {pred} ORDER BY {order} LIMIT {limit}")
}

fn delete_traces(conn: &Connection, pred: &str, arg: i64, limit: i64) -> Result<usize, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let ids: Vec<i64> = tx
        .prepare(&oldest("traces", pred, limit))?
        .query_map([arg], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        for sql in [
            "DELETE FROM span_chunks WHERE trace = ?1",
            "DELETE FROM span_links WHERE trace = ?1",
            "DELETE FROM corr_values WHERE trace = ?1",
            "DELETE FROM traces WHERE id = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(ids.len())
}

fn delete_logs(conn: &Connection, pred: &str, arg: i64, limit: i64) -> Result<usize, StoreError> {
    // The full-text rows go with their records (by `seq`, their FTS rowid).
    let seqs: Vec<Option<i64>> = conn
        .prepare(&format!(
            "DELETE FROM logs WHERE (time_ns, hash) IN ({}) RETURNING seq",
            oldest("logs", pred, limit)
        ))?
        .query_map(params![arg], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut del = conn.prepare_cached("DELETE FROM logs_fts WHERE rowid = ?1")?;
    for seq in seqs.iter().flatten() {
        del.execute([seq])?;
    }
    Ok(seqs.len())
}

fn delete_points(conn: &Connection, pred: &str, arg: i64, limit: i64) -> Result<usize, StoreError> {
    let n = conn.execute(
        &format!(
            "DELETE FROM points WHERE (series, time_ns) IN ({})",
            oldest("points", pred, limit)
        ),
        params![arg],
    )?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both limits' steps read their batch from the arrival indexes, in
    /// index order: no table scan, no sort of the whole table.
    #[test]
    fn steps_walk_the_arrival_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("x.db")).unwrap();
        for (table, index) in [
            ("traces", "traces_arrived"),
            ("logs", "logs_arrived"),
            ("points", "points_arrived"),
        ] {
            for pred in [AGED, ANY] {
                let sql = format!("EXPLAIN QUERY PLAN {}", oldest(table, pred, BATCH));
                let plan: Vec<String> = conn
                    .prepare(&sql)
                    .unwrap()
                    .query_map([0i64], |r| r.get(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = plan.join("; ");
                assert!(plan.contains(index), "{table} where {pred}: {plan}");
                assert!(
                    !plan.contains("TEMP B-TREE"),
                    "{table} where {pred}: {plan}"
                );
            }
        }
    }
}
