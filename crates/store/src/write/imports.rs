//! Recording an import, and deleting everything one of them brought.
//!
//! Imported data carries the resource attribute `loupe.import.source` (set by
//! the importer); the `imports` table remembers each source with what it
//! held, so the UI can list imports (`read::imports`) and delete one as a
//! whole. Deleting runs on the writer thread like every write: it finds the
//! resources marked with the source and removes their log records, series
//! and points, and span chunks; traces left without spans are removed,
//! traces that still have spans from elsewhere get their summary recomputed
//! from what is left, and removed traces are taken out of the index's
//! posting lists. Resources and scopes stay interned (they are small, and
//! row IDs must stay stable for the readers' caches).

use std::collections::HashSet;

use loupe_model::otlp::common::any_value::Value;
use loupe_model::otlp::trace::{status, ResourceSpans};
use loupe_model::time::{now_ns, to_sql};
use prost::Message;
use rusqlite::{params, Connection, OptionalExtension};

use crate::codec::{self, decode_chunk};
use crate::error::StoreError;

/// The resource attribute that marks imported data with its source.
pub const SOURCE_KEY: &str = "loupe.import.source";

/// What one import stored, as the importer counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub source: String,
    pub format: String,
    pub bytes: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    pub skipped: u64,
}

pub(super) fn record(conn: &Connection, r: &ImportRecord) -> Result<(), StoreError> {
    let now = to_sql(now_ns());
    conn.prepare_cached(
        "INSERT INTO imports(source, format, bytes, spans, log_records, data_points, skipped, times, first_ns, last_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)
         ON CONFLICT(source) DO UPDATE SET format = excluded.format, bytes = excluded.bytes,
            spans = excluded.spans, log_records = excluded.log_records,
            data_points = excluded.data_points, skipped = excluded.skipped,
            times = times + 1, last_ns = excluded.last_ns",
    )?
    .execute(params![
        r.source,
        r.format,
        r.bytes as i64,
        r.spans as i64,
        r.log_records as i64,
        r.data_points as i64,
        r.skipped as i64,
        now
    ])?;
    Ok(())
}

/// Resource rows marked with `source`.
fn marked_resources(conn: &Connection, source: &str) -> Result<Vec<i64>, StoreError> {
    let mut st = conn.prepare("SELECT id, body FROM resources")?;
    let mut rows = st.query([])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        let body = ResourceSpans::decode(row.get_ref(1)?.as_blob()?)?;
        let marked = body.resource.iter().flat_map(|r| &r.attributes).any(|kv| {
            kv.key == SOURCE_KEY
                && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(Value::StringValue(s)) if s == source)
        });
        if marked {
            ids.push(row.get(0)?);
        }
    }
    Ok(ids)
}

/// Deletes what `source` brought; `Ok(false)` when no such import is known.
pub(super) fn delete(conn: &Connection, source: &str) -> Result<bool, StoreError> {
    let known = conn
        .prepare_cached("SELECT 1 FROM imports WHERE source = ?1")?
        .query_row([source], |_| Ok(()))
        .optional()?
        .is_some();
    let resources = marked_resources(conn, source)?;
    for r in &resources {
        // The full-text rows go with their records (by `seq`, their FTS rowid).
        let seqs: Vec<Option<i64>> = conn
            .prepare_cached("DELETE FROM logs WHERE resource = ?1 RETURNING seq")?
            .query_map([r], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for seq in seqs.iter().flatten() {
            conn.prepare_cached("DELETE FROM logs_fts WHERE rowid = ?1")?
                .execute([seq])?;
        }
        conn.prepare_cached(
            "DELETE FROM points WHERE series IN (SELECT id FROM series WHERE resource = ?1)",
        )?
        .execute([r])?;
        conn.prepare_cached("DELETE FROM series WHERE resource = ?1")?
            .execute([r])?;
        // Span chunks: remember their traces and span IDs, then remove.
        let chunks: Vec<(i64, i64, Vec<u8>)> = conn
            .prepare_cached("SELECT id, trace, span_ids FROM span_chunks WHERE resource = ?1")?
            .query_map([r], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut traces = HashSet::new();
        for (id, trace, span_ids) in chunks {
            traces.insert(trace);
            for sid in span_ids.chunks_exact(8) {
                let sid = i64::from_be_bytes(sid.try_into().unwrap_or([0; 8]));
                conn.prepare_cached("DELETE FROM span_links WHERE trace = ?1 AND span_id = ?2")?
                    .execute(params![trace, sid])?;
                // A join rule's value this span brought (inferred links).
                conn.prepare_cached("DELETE FROM corr_values WHERE trace = ?1 AND span = ?2")?
                    .execute(params![trace, sid])?;
            }
            conn.prepare_cached("DELETE FROM span_chunks WHERE id = ?1")?
                .execute([id])?;
        }
        let mut gone = Vec::new();
        for t in traces {
            if !resummarize(conn, t)? {
                gone.push(t);
            }
        }
        unpost(conn, &mut gone)?;
    }
    conn.prepare_cached("DELETE FROM imports WHERE source = ?1")?
        .execute([source])?;
    Ok(known || !resources.is_empty())
}

/// Removes deleted traces from the posting lists that name them. Without
/// this, a new trace that reuses a deleted row ID (SQLite reuses the highest
/// ones) would match the deleted trace's attributes. Only segments written
/// after the oldest deleted trace can name it.
fn unpost(conn: &Connection, gone: &mut [i64]) -> Result<(), StoreError> {
    let Some(&min) = gone.iter().min() else {
        return Ok(());
    };
    gone.sort_unstable();
    let rows: Vec<(i64, rusqlite::types::Value, i64, Vec<u8>)> = conn
        .prepare(
            "SELECT key, value, segment, traces FROM attr_index
             WHERE segment IN (SELECT id FROM segments WHERE max_trace >= ?1)",
        )?
        .query_map([min], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut ids = Vec::new();
    let mut blob = Vec::new();
    for (key, value, segment, traces) in rows {
        ids.clear();
        codec::decode_ids(&traces, &mut ids)?;
        let before = ids.len();
        ids.retain(|t| gone.binary_search(t).is_err());
        if ids.len() == before {
            continue;
        }
        if ids.is_empty() {
            conn.prepare_cached(
                "DELETE FROM attr_index WHERE key = ?1 AND value = ?2 AND segment = ?3",
            )?
            .execute(params![key, value, segment])?;
        } else {
            blob.clear();
            codec::encode_ids(&ids, &mut blob);
            conn.prepare_cached(
                "UPDATE attr_index SET traces = ?4 WHERE key = ?1 AND value = ?2 AND segment = ?3",
            )?
            .execute(params![key, value, segment, blob])?;
        }
    }
    Ok(())
}

/// Recomputes a trace's summary from its remaining chunks, or removes it
/// (`Ok(false)`).
fn resummarize(conn: &Connection, trace: i64) -> Result<bool, StoreError> {
    let chunks: Vec<(Option<String>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT r.service, c.body FROM span_chunks c JOIN resources r ON r.id = c.resource
             WHERE c.trace = ?1 ORDER BY c.id",
        )?
        .query_map([trace], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if chunks.is_empty() {
        conn.prepare_cached("DELETE FROM span_links WHERE trace = ?1")?
            .execute([trace])?;
        conn.prepare_cached("DELETE FROM corr_values WHERE trace = ?1")?
            .execute([trace])?;
        conn.prepare_cached("DELETE FROM traces WHERE id = ?1")?
            .execute([trace])?;
        return Ok(false);
    }
    let (mut start, mut end, mut count, mut errors) = (u64::MAX, 0u64, 0i64, 0i64);
    let mut root: Option<(bool, u64, String, Option<String>)> = None;
    let mut services: Vec<String> = Vec::new();
    for (service, body) in chunks {
        if let Some(s) = &service {
            if !services.contains(s) {
                services.push(s.clone());
            }
        }
        for sp in decode_chunk(&body)? {
            let e = sp.end_time_unix_nano.max(sp.start_time_unix_nano);
            start = start.min(sp.start_time_unix_nano);
            end = end.max(e);
            count += 1;
            errors += sp
                .status
                .as_ref()
                .is_some_and(|s| s.code == status::StatusCode::Error as i32)
                as i64;
            let is_root = sp.parent_span_id.is_empty();
            // As the writer decides: a real root beats everything earlier
            // than it; without one, the earliest span stands in.
            let better = match &root {
                None => true,
                Some((known, at, _, _)) => {
                    let earlier = sp.start_time_unix_nano < *at;
                    if is_root {
                        !known || earlier
                    } else {
                        !known && earlier
                    }
                }
            };
            if better {
                root = Some((is_root, sp.start_time_unix_nano, sp.name, service.clone()));
            }
        }
    }
    services.sort();
    let (root_known, root_start, root_name, root_service) = root
        .map(|(k, s, n, v)| (k, s, Some(n), v))
        .unwrap_or((false, 0, None, None));
    conn.prepare_cached(
        "UPDATE traces SET start_ns = ?2, end_ns = ?3, span_count = ?4, error_count = ?5,
            root_known = ?6, root_start = ?7, root_name = ?8, root_service = ?9, services = ?10
         WHERE id = ?1",
    )?
    .execute(params![
        trace,
        to_sql(start),
        to_sql(end),
        count,
        errors,
        root_known,
        to_sql(root_start),
        root_name,
        root_service,
        serde_json::to_string(&services).unwrap_or_else(|_| "[]".into()),
    ])?;
    Ok(true)
}
