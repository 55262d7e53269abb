//! Writing spans: one chunk per (trace, resource, scope) of a batch, the
//! trace's summary row, span links, and the batch's segment of the
//! attribute index.
//!
//! A span whose ID its trace already has is skipped (a re-sent request
//! stores nothing twice); the stored IDs come from a cache of recent traces
//! or from the trace's chunks.

use std::collections::{HashMap, HashSet};

use loupe_model::time::to_sql;
use rusqlite::{params, Connection, OptionalExtension};

use super::interned::Interned;
use crate::codec;
use crate::error::StoreError;
use crate::prepare::PreparedTraces;

/// Traces whose span IDs are cached (a few MB for typical traces).
const SPAN_CACHE_TRACES: usize = 20_000;

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
    /// Parent span IDs named by its spans and not (yet) received.
    pending: Vec<i64>,
}

/// Missing parent IDs a trace remembers, at most: past this many (a trace
/// of unrelated fragments), more are not tracked, so one trace's row stays
/// small (80 KB) however many orphans it gets. `missing_parents` then
/// counts the tracked ones.
const MAX_PENDING_PARENTS: usize = 10_000;

/// The writer's state for spans.
pub(super) struct Traces {
    /// Span IDs of recently written traces, so spans arriving in later
    /// batches are de-duplicated without reading their chunks back.
    span_ids: HashMap<i64, HashSet<i64>>,
    next_chunk: i64,
}

impl Traces {
    pub(super) fn open(conn: &Connection) -> Result<Traces, StoreError> {
        let next_chunk: i64 = conn.query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM span_chunks",
            [],
            |r| r.get(0),
        )?;
        Ok(Traces {
            span_ids: HashMap::new(),
            next_chunk,
        })
    }

    pub(super) fn clear_cache(&mut self) {
        self.span_ids.clear();
    }

    /// Drops the span-ID cache once it holds too many traces.
    pub(super) fn trim_cache(&mut self) {
        if self.span_ids.len() > SPAN_CACHE_TRACES {
            self.span_ids.clear();
        }
    }

    pub(super) fn apply(
        &mut self,
        conn: &Connection,
        interned: &mut Interned,
        t: &PreparedTraces,
        arrived: u64,
    ) -> Result<(), StoreError> {
        let resource_ids = interned.envelope_ids(conn, &t.resources, true)?;
        let scope_ids = interned.envelope_ids(conn, &t.scopes, false)?;
        let mut rows: Vec<TraceRow> = Vec::with_capacity(t.traces.len());
        for tid in &t.traces {
            rows.push(load_trace(conn, tid)?);
        }
        // Traces that got at least one new span: only they are indexed, so
        // a re-sent batch adds nothing.
        let mut touched = vec![false; t.traces.len()];
        // Span IDs already stored, per trace of the batch: empty for new
        // traces (nothing to compare with), else loaded once.
        let mut known: Vec<Option<HashSet<i64>>> = vec![None; t.traces.len()];
        for (i, row) in rows.iter().enumerate() {
            if row.span_count > 0 {
                known[i] = Some(self.stored_span_ids(conn, row.id)?);
            }
        }
        {
            let mut ins_chunk = conn.prepare_cached(
                "INSERT INTO span_chunks(id, trace, resource, scope, span_ids, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut ins_link = conn.prepare_cached(
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
                    rebuilt = codec::compress(&raw);
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
                    if let Some(p) = s.parent {
                        // Checked against every stored and new ID once the
                        // batch is in (the parent may come later in it).
                        if row.pending.len() < MAX_PENDING_PARENTS && !seen.contains(&p) {
                            row.pending.push(p);
                        }
                    }
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
        // A parent is missing when no stored or new span of its trace has its ID.
        for ((row, ids), touched) in rows.iter_mut().zip(&known).zip(&touched) {
            if *touched {
                let ids = ids.as_ref();
                row.pending.sort_unstable();
                row.pending.dedup();
                row.pending
                    .retain(|p| !ids.is_some_and(|ids| ids.contains(p)));
            }
        }
        {
            let mut update = conn.prepare_cached(
                "UPDATE traces SET start_ns = ?2, end_ns = ?3, span_count = ?4, error_count = ?5,
                    root_known = ?6, root_start = ?7, root_name = ?8, root_service = ?9, services = ?10,
                    arrived_ns = ?11, missing_parents = ?12, pending_parents = ?13
                 WHERE id = ?1",
            )?;
            let mut delete =
                conn.prepare_cached("DELETE FROM traces WHERE id = ?1 AND span_count = 0")?;
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
                        to_sql(arrived),
                        row.pending.len() as i64,
                        pending_blob(&row.pending),
                    ])?;
                }
            }
        }
        for (row, ids) in rows.iter().zip(known) {
            if let Some(ids) = ids {
                self.span_ids.insert(row.id, ids);
            }
        }
        index_postings(conn, interned, t, &rows, &touched)
    }

    /// The span IDs stored for a trace, from the cache or its chunks.
    fn stored_span_ids(
        &mut self,
        conn: &Connection,
        trace: i64,
    ) -> Result<HashSet<i64>, StoreError> {
        if let Some(ids) = self.span_ids.remove(&trace) {
            return Ok(ids);
        }
        let mut ids = HashSet::new();
        let mut st = conn.prepare_cached("SELECT span_ids FROM span_chunks WHERE trace = ?1")?;
        let mut rows = st.query([trace])?;
        while let Some(row) = rows.next()? {
            for id in row.get_ref(0)?.as_blob()?.chunks_exact(8) {
                ids.insert(i64::from_be_bytes(id.try_into().expect("8 bytes")));
            }
        }
        Ok(ids)
    }
}

/// The trace's summary row, created empty for a trace not seen before.
fn load_trace(conn: &Connection, trace_id: &[u8; 16]) -> Result<TraceRow, StoreError> {
    let existing = conn
        .prepare_cached(
            "SELECT id, start_ns, end_ns, span_count, error_count, root_known, root_start,
                        root_name, root_service, services, pending_parents
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
                pending: r
                    .get_ref(10)?
                    .as_blob_or_null()?
                    .unwrap_or_default()
                    .chunks_exact(8)
                    .map(|b| i64::from_be_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
            })
        })
        .optional()?;
    if let Some(row) = existing {
        return Ok(row);
    }
    conn.prepare_cached(
        "INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count,
                                    root_known, root_start, services, arrived_ns)
                 VALUES (?1, 0, 0, 0, 0, 0, 0, '[]', 0)",
    )?
    .execute([&trace_id[..]])?;
    Ok(TraceRow {
        id: conn.last_insert_rowid(),
        start: u64::MAX,
        end: 0,
        span_count: 0,
        error_count: 0,
        root_known: false,
        root_start: u64::MAX,
        root_name: None,
        root_service: None,
        services: Vec::new(),
        pending: Vec::new(),
    })
}

/// The stored form of a trace's missing parent IDs: 8 big-endian bytes
/// each, NULL when none.
fn pending_blob(ids: &[i64]) -> Option<Vec<u8>> {
    (!ids.is_empty()).then(|| ids.iter().flat_map(|p| p.to_be_bytes()).collect())
}

/// Writes this batch's segment of the attribute index: one row per
/// distinct (key, value) with the traces that carry it.
fn index_postings(
    conn: &Connection,
    interned: &mut Interned,
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
    conn.prepare_cached("INSERT INTO segments(max_trace) VALUES (?1)")?
        .execute([max_trace])?;
    let segment = conn.last_insert_rowid();
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
        let key = interned.key_id(conn, &p.key)?;
        conn.prepare_cached(
            "INSERT INTO attr_index(key, value, segment, traces) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![key, p.value, segment, blob])?;
    }
    Ok(())
}
