//! Alerting's tables (rules, group states, history, channels, delivery log,
//! watermarks) and the reads the evaluator needs (spans committed since a
//! watermark, recent logs).
//!
//! Alerting writes on a connection of its own, not through the ingest
//! writer's queue: its writes are a few small transactions per evaluation,
//! and queueing them behind telemetry batches would make the UI's "save
//! rule" wait for ingest. SQLite serialises the two writers (the ingest
//! writer's `BEGIN IMMEDIATE` waits on `busy_timeout`), and these
//! transactions touch only alerting's own small tables, so ingest waits at
//! most one of them. The store stays rule-agnostic: rules are kept as their
//! YAML text and states as JSON; `loupe-alerts` gives them meaning.

use std::path::Path;
use std::sync::Mutex;

use loupe_model::otlp::common::KeyValue;
use loupe_model::otlp::logs::LogRecord;
use loupe_model::otlp::trace::Span;
use loupe_model::time::{from_sql, to_sql};
use prost::Message;
use rusqlite::{params, Connection, OptionalExtension};

use crate::codec::decode_chunk;
use crate::error::StoreError;
use crate::read::Reader;

/// A stored rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub yaml: String,
    pub enabled: bool,
    pub updated_ns: u64,
}

/// A stored group state (`body` is the evaluator's JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct StateRow {
    pub rule: i64,
    pub group: String,
    pub state: String,
    pub body: String,
}

/// One history entry (`body` is the transition's JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub id: i64,
    pub rule: i64,
    pub rule_name: String,
    pub group: String,
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub at_ns: u64,
    pub body: String,
}

/// A notification channel; `url` is a secret the API masks.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub allow_private: bool,
    pub template: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRow {
    pub id: i64,
    pub job: i64,
    pub channel: i64,
    pub channel_name: String,
    pub rule: String,
    pub attempt: i64,
    pub result: String,
    pub status: Option<i64>,
    pub error: String,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub at_ns: u64,
}

/// What one evaluation changed: written in one transaction.
#[derive(Debug, Default)]
pub struct EvalCommit {
    /// Rules whose states are replaced by the listed ones.
    pub states: Vec<(i64, Vec<StateRow>)>,
    pub history: Vec<HistoryRow>,
    pub meta: Vec<(String, i64)>,
}

/// Alerting's own connection.
pub struct AlertDb {
    conn: Mutex<Connection>,
}

/// History entries kept (the oldest are deleted past this).
const HISTORY_KEEP: i64 = 10_000;
const DELIVERIES_KEEP: i64 = 2_000;

impl AlertDb {
    pub(crate) fn open(path: &Path) -> Result<AlertDb, StoreError> {
        let conn = Connection::open(path)?;
        // The same bounded wait as the ingest writer: a lock held longer
        // is a `Fault::Locked` the alert loop reports once per episode.
        conn.busy_timeout(crate::write::WriterConfig::default().busy_timeout)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        Ok(AlertDb {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c)
    }

    pub fn rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, name, yaml, enabled, updated_ns FROM alert_rules ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(RuleRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    yaml: r.get(2)?,
                    enabled: r.get::<_, i64>(3)? != 0,
                    updated_ns: from_sql(r.get(4)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Inserts (`id` = None) or replaces a rule; returns its ID. Names are
    /// unique: a clash is [`StoreError::Conflict`].
    pub fn save_rule(
        &self,
        id: Option<i64>,
        name: &str,
        yaml: &str,
        enabled: bool,
        now_ns: u64,
    ) -> Result<i64, StoreError> {
        self.with(|c| {
            let taken: Option<i64> = c
                .query_row("SELECT id FROM alert_rules WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if taken.is_some() && taken != id {
                return Err(StoreError::Conflict(format!(
                    "a rule named {name:?} exists already"
                )));
            }
            match id {
                Some(id) => {
                    let n = c.execute(
                        "UPDATE alert_rules SET name = ?2, yaml = ?3, enabled = ?4, updated_ns = ?5 WHERE id = ?1",
                        params![id, name, yaml, enabled as i64, to_sql(now_ns)],
                    )?;
                    if n == 0 {
                        return Err(StoreError::NotFound(format!("rule {id}")));
                    }
                    Ok(id)
                }
                None => {
                    c.execute(
                        "INSERT INTO alert_rules(name, yaml, enabled, created_ns, updated_ns) VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![name, yaml, enabled as i64, to_sql(now_ns)],
                    )?;
                    Ok(c.last_insert_rowid())
                }
            }
        })
    }

    /// Deletes a rule and its states (its history stays, by name).
    pub fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM alert_rules WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM alert_states WHERE rule = ?1", [id])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    pub fn states(&self) -> Result<Vec<StateRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT rule, grp, state, body FROM alert_states ORDER BY rule, grp",
            )?;
            let rows = st.query_map([], |r| {
                Ok(StateRow {
                    rule: r.get(0)?,
                    group: r.get(1)?,
                    state: r.get(2)?,
                    body: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Writes an evaluation's results in one transaction.
    pub fn commit(&self, e: &EvalCommit) -> Result<(), StoreError> {
        if e.states.is_empty() && e.history.is_empty() && e.meta.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            for (rule, rows) in &e.states {
                tx.execute("DELETE FROM alert_states WHERE rule = ?1", [rule])?;
                let mut ins = tx.prepare_cached(
                    "INSERT OR REPLACE INTO alert_states(rule, grp, state, body) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for r in rows {
                    ins.execute(params![rule, r.group, r.state, r.body])?;
                }
            }
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO alert_history(rule, rule_name, grp, from_state, to_state, at_ns, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for h in &e.history {
                    ins.execute(params![
                        h.rule,
                        h.rule_name,
                        h.group,
                        h.from,
                        h.to,
                        to_sql(h.at_ns),
                        h.body
                    ])?;
                }
            }
            if !e.history.is_empty() {
                tx.execute(
                    "DELETE FROM alert_history WHERE id <= (SELECT max(id) FROM alert_history) - ?1",
                    [HISTORY_KEEP],
                )?;
            }
            for (k, v) in &e.meta {
                tx.execute(
                    "INSERT OR REPLACE INTO alert_meta(key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// History, newest first.
    pub fn history(&self, rule: Option<i64>, limit: usize) -> Result<Vec<HistoryRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, rule, rule_name, grp, from_state, to_state, at_ns, body FROM alert_history
                 WHERE ?1 IS NULL OR rule = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![rule, limit as i64], |r| {
                Ok(HistoryRow {
                    id: r.get(0)?,
                    rule: r.get(1)?,
                    rule_name: r.get(2)?,
                    group: r.get(3)?,
                    from: r.get(4)?,
                    to: r.get(5)?,
                    at_ns: from_sql(r.get(6)?),
                    body: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<i64>, StoreError> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT value FROM alert_meta WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    pub fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, name, kind, url, allow_private, template FROM alert_channels ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(ChannelRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    kind: r.get(2)?,
                    url: r.get(3)?,
                    allow_private: r.get::<_, i64>(4)? != 0,
                    template: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Inserts (`id` 0) or updates a channel; an empty `url` on update keeps
    /// the stored one (the API never hands the secret back to be re-sent).
    pub fn save_channel(&self, ch: &ChannelRow) -> Result<i64, StoreError> {
        self.with(|c| {
            let taken: Option<i64> = c
                .query_row(
                    "SELECT id FROM alert_channels WHERE name = ?1",
                    [&ch.name],
                    |r| r.get(0),
                )
                .optional()?;
            if taken.is_some_and(|t| t != ch.id) {
                return Err(StoreError::Conflict(format!(
                    "a channel named {:?} exists already",
                    ch.name
                )));
            }
            if ch.id == 0 {
                c.execute(
                    "INSERT INTO alert_channels(name, kind, url, allow_private, template) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![ch.name, ch.kind, ch.url, ch.allow_private as i64, ch.template],
                )?;
                return Ok(c.last_insert_rowid());
            }
            let n = c.execute(
                "UPDATE alert_channels SET name = ?2, kind = ?3, url = CASE WHEN ?4 = '' THEN url ELSE ?4 END,
                 allow_private = ?5, template = ?6 WHERE id = ?1",
                params![ch.id, ch.name, ch.kind, ch.url, ch.allow_private as i64, ch.template],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("channel {}", ch.id)));
            }
            Ok(ch.id)
        })
    }

    pub fn delete_channel(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM alert_channels WHERE id = ?1", [id])? > 0))
    }

    pub fn add_delivery(&self, d: &DeliveryRow) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO alert_deliveries(job, channel, channel_name, rule, attempt, result, status, error, at_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.job,
                    d.channel,
                    d.channel_name,
                    d.rule,
                    d.attempt,
                    d.result,
                    d.status,
                    d.error,
                    to_sql(d.at_ns)
                ],
            )?;
            c.execute(
                "DELETE FROM alert_deliveries WHERE id <= (SELECT max(id) FROM alert_deliveries) - ?1",
                [DELIVERIES_KEEP],
            )?;
            Ok(())
        })
    }

    /// The delivery log, newest first.
    pub fn deliveries(&self, limit: usize) -> Result<Vec<DeliveryRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, job, channel, channel_name, rule, attempt, result, status, error, at_ns
                 FROM alert_deliveries ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit as i64], |r| {
                Ok(DeliveryRow {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    channel: r.get(2)?,
                    channel_name: r.get(3)?,
                    rule: r.get(4)?,
                    attempt: r.get(5)?,
                    result: r.get(6)?,
                    status: r.get(7)?,
                    error: r.get(8)?,
                    at_ns: from_sql(r.get(9)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// Spans of one chunk, with what the evaluator needs around them.
#[derive(Debug, Clone)]
pub struct SpanBatch {
    pub chunk: i64,
    pub trace_id: Vec<u8>,
    pub resource: Vec<KeyValue>,
    pub spans: Vec<Span>,
}

/// A log record with its resource's attributes.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub time_ns: u64,
    pub hash: i64,
    pub resource: Vec<KeyValue>,
    pub record: LogRecord,
}

impl Reader {
    /// The highest span chunk ID (0 when empty): where a fresh evaluator
    /// starts, so it does not alert on what was stored before its rules.
    pub fn last_chunk(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT coalesce(max(id), 0) FROM span_chunks", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// Span chunks committed after chunk `after`, oldest first, at most
    /// `limit` chunks. Chunk IDs only grow, so "after the watermark" is
    /// exactly "committed since the last evaluation".
    pub fn spans_after(&self, after: i64, limit: usize) -> Result<Vec<SpanBatch>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT s.id, t.trace_id, s.resource, s.body FROM span_chunks s JOIN traces t ON t.id = s.trace
                 WHERE s.id > ?1 ORDER BY s.id LIMIT ?2",
            )?;
            let rows = st.query(params![after, limit as i64])?;
            self.span_batches(c, rows)
        })
    }

    /// Rows of `(chunk id, trace id, resource, chunk body)` as batches.
    fn span_batches(
        &self,
        c: &Connection,
        mut rows: rusqlite::Rows<'_>,
    ) -> Result<Vec<SpanBatch>, StoreError> {
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let resource = self.resource(c, r.get(2)?)?;
            out.push(SpanBatch {
                chunk: r.get(0)?,
                trace_id: r.get(1)?,
                resource: resource.resource.map(|r| r.attributes).unwrap_or_default(),
                spans: decode_chunk(r.get_ref(3)?.as_blob()?)?,
            });
        }
        Ok(out)
    }

    /// Spans whose chunks belong to traces starting in `[start, end]`
    /// (for backtests), at most `limit` chunks, newest traces last.
    pub fn spans_between(
        &self,
        start: u64,
        end: u64,
        limit: usize,
    ) -> Result<Vec<SpanBatch>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT s.id, t.trace_id, s.resource, s.body FROM traces t JOIN span_chunks s ON s.trace = t.id
                 WHERE t.end_ns >= ?1 AND t.start_ns <= ?2 ORDER BY s.id LIMIT ?3",
            )?;
            let rows = st.query(params![to_sql(start), to_sql(end), limit as i64])?;
            self.span_batches(c, rows)
        })
    }

    /// Log records with timestamps in `[start, end]`, oldest first.
    pub fn logs_between(
        &self,
        start: u64,
        end: u64,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT time_ns, hash, resource, record FROM logs WHERE time_ns >= ?1 AND time_ns <= ?2
                 ORDER BY time_ns, hash LIMIT ?3",
            )?;
            let mut rows = st.query(params![to_sql(start), to_sql(end), limit as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let resource = self.resource(c, r.get(2)?)?;
                out.push(LogRow {
                    time_ns: from_sql(r.get(0)?),
                    hash: r.get(1)?,
                    resource: resource.resource.map(|r| r.attributes).unwrap_or_default(),
                    record: LogRecord::decode(r.get_ref(3)?.as_blob()?)?,
                });
            }
            Ok(out)
        })
    }
}
