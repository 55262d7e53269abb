//! Writing log records and their rows in the full-text index.

use loupe_model::time::to_sql;
use rusqlite::{params, Connection};

use super::interned::Interned;
use crate::error::StoreError;
use crate::prepare::PreparedLogs;

/// The writer's state for log records.
pub(super) struct Logs {
    /// The next log record's `seq` (its row in `logs_fts`).
    next_seq: i64,
}

impl Logs {
    pub(super) fn open(conn: &Connection) -> Result<Logs, StoreError> {
        let next_seq: i64 =
            conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM logs", [], |r| {
                r.get(0)
            })?;
        Ok(Logs { next_seq })
    }

    pub(super) fn apply(
        &mut self,
        conn: &Connection,
        interned: &mut Interned,
        l: &PreparedLogs,
        arrived: u64,
    ) -> Result<(), StoreError> {
        let resource_ids = interned.envelope_ids(conn, &l.resources, true)?;
        let scope_ids = interned.envelope_ids(conn, &l.scopes, false)?;
        let mut ins = conn.prepare_cached(
            "INSERT OR IGNORE INTO logs(time_ns, hash, resource, scope, severity, trace_id, span_id, body_text, record, seq, arrived_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut fts =
            conn.prepare_cached("INSERT INTO logs_fts(rowid, body, attrs) VALUES (?1, ?2, ?3)")?;
        for r in &l.records {
            let seq = self.next_seq;
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
                to_sql(arrived),
            ])?;
            // A record stored before (a re-sent request) is not indexed twice.
            if inserted == 1 {
                fts.execute(params![seq, r.fts_body, r.fts_attrs])?;
                self.next_seq += 1;
            }
        }
        Ok(())
    }
}
