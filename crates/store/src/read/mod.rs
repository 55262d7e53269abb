//! Queries, on read-only connections of their own.
//!
//! WAL mode lets these run while the writer writes; each query sees the
//! state as of its last committed transaction, so whatever was acknowledged
//! is visible. The reader never writes: every write goes through the
//! writer's queue (`write::Command`).
//!
//! Where things are: this file is the [`Reader`] (its connection pool and
//! the caches of interned resources and scopes) and store-wide counts;
//! `traces` (search, one trace, links), `inferred` (the traces join rules
//! relate a trace to, and which rules are on), `postings` (evaluating a search
//! expression over `attr_index`), `linksearch` (a search's link operators
//! over `span_links`), `logs`, `metrics`, `attributes` (keys,
//! values and services for pickers), `dashboard` and `imports` answer the
//! queries of their name.

mod attributes;
mod dashboard;
mod details;
pub(crate) mod imports;
mod inferred;
mod linksearch;
mod logs;
mod metrics;
mod postings;
mod traces;

pub use traces::Liveness;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

use loupe_model::correlation::JoinRule;

use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans};
use prost::Message;
use rusqlite::Connection;

use crate::error::StoreError;
use crate::schema;

/// Counts of what is stored, for health and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub traces: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
}

pub struct Reader {
    path: PathBuf,
    /// Retention's age limit, counted from arrival: what the list of
    /// imports says each import's data is kept until.
    max_age: std::time::Duration,
    pool: Mutex<Vec<Connection>>,
    resources: Mutex<HashMap<i64, ResourceSpans>>,
    scopes: Mutex<HashMap<i64, ScopeSpans>>,
    liveness: Mutex<traces::Liveness>,
    /// The join rules (inferred links), named; which are on can change
    /// while Loupe runs ([`Reader::set_join_rule`]).
    rules: RwLock<Vec<JoinRule>>,
}

/// Read connections kept open for reuse.
const POOL: usize = 4;

impl Reader {
    pub(crate) fn new(path: PathBuf, rules: Vec<JoinRule>, max_age: std::time::Duration) -> Reader {
        Reader {
            path,
            max_age,
            pool: Mutex::new(Vec::new()),
            resources: Mutex::new(HashMap::new()),
            scopes: Mutex::new(HashMap::new()),
            liveness: Mutex::new(traces::Liveness::default()),
            rules: RwLock::new(rules.into_iter().map(JoinRule::named).collect()),
        }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => schema::open_reader(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL {
            pool.push(conn);
        }
        out
    }

    pub(crate) fn resource(&self, conn: &Connection, id: i64) -> Result<ResourceSpans, StoreError> {
        cached_envelope(&self.resources, conn, "resources", id)
    }

    fn scope(&self, conn: &Connection, id: i64) -> Result<ScopeSpans, StoreError> {
        cached_envelope(&self.scopes, conn, "scopes", id)
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.with(|c| {
            let q = |sql: &str| -> Result<u64, StoreError> {
                Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            Ok(Counts {
                traces: q("SELECT count(*) FROM traces")?,
                spans: q("SELECT coalesce(sum(span_count), 0) FROM traces")?,
                log_records: q("SELECT count(*) FROM logs")?,
                data_points: q("SELECT count(*) FROM points")?,
            })
        })
    }

    /// Records in the full-text log index (one per stored record).
    pub fn log_index_rows(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row("SELECT count(*) FROM logs_fts", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    /// `PRAGMA integrity_check`'s verdict: `"ok"`, or its first findings.
    /// For the fault-injection tests and support: a read-only check.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check(20)")?;
            let lines: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(lines.join("\n"))
        })
    }

    /// Bytes of database pages in use (what retention's size limit counts).
    pub fn live_bytes(&self) -> Result<u64, StoreError> {
        self.with(crate::retention::live_bytes)
    }
}

/// An interned resource or scope by row ID, decoded once: they never change
/// once written.
fn cached_envelope<M: Message + Default + Clone>(
    cache: &Mutex<HashMap<i64, M>>,
    conn: &Connection,
    table: &str,
    id: i64,
) -> Result<M, StoreError> {
    if let Some(m) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return Ok(m.clone());
    }
    let body: Vec<u8> = conn
        .prepare_cached(&format!("SELECT body FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| r.get(0))?;
    let m = M::decode(body.as_slice())?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, m.clone());
    Ok(m)
}
