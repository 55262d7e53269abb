//! The schema and its migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations are embedded and
//! each runs in one transaction together with its version bump, so a crash
//! mid-migration leaves the previous version intact. A database from a newer
//! Loupe is refused instead of being half-understood.
//!
//! Layout (why each table looks the way it does is in ARCHITECTURE.md):
//! spans are stored as zstd-compressed chunks of protobuf per trace, resource
//! and scope, each chunk listing its span IDs for de-duplication; `attr_index` is an inverted index of attribute values with one
//! row per distinct (key, value) per ingested batch (a "segment"), holding
//! the list of traces that carry it.

use std::path::Path;

use loupe_model::time::{now_ns, to_sql};
use rusqlite::Connection;

use crate::error::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE resources (
    id      INTEGER PRIMARY KEY,
    hash    INTEGER NOT NULL UNIQUE,
    service TEXT,
    body    BLOB NOT NULL           -- ResourceSpans{resource, schema_url}, protobuf
);
CREATE TABLE scopes (
    id   INTEGER PRIMARY KEY,
    hash INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    body BLOB NOT NULL              -- ScopeSpans{scope, schema_url}, protobuf
);
CREATE TABLE attr_keys (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);
CREATE TABLE traces (
    id          INTEGER PRIMARY KEY,
    trace_id    BLOB NOT NULL UNIQUE,
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER NOT NULL,
    span_count  INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    root_known  INTEGER NOT NULL,   -- 1 once a span without parent arrived
    root_start  INTEGER NOT NULL,
    root_name   TEXT,
    root_service TEXT,
    services    TEXT NOT NULL       -- JSON array of service names
);
CREATE INDEX traces_start ON traces(start_ns);
CREATE TABLE span_chunks (
    id       INTEGER PRIMARY KEY,
    trace    INTEGER NOT NULL,
    resource INTEGER NOT NULL,
    scope    INTEGER NOT NULL,
    span_ids BLOB NOT NULL,         -- the chunk's span IDs, 8 bytes each
    body     BLOB NOT NULL          -- zstd(ScopeSpans{spans}), protobuf
);
CREATE INDEX span_chunks_trace ON span_chunks(trace);
CREATE TABLE span_links (
    trace        INTEGER NOT NULL,
    span_id      INTEGER NOT NULL,
    linked_trace BLOB NOT NULL,
    linked_span  INTEGER NOT NULL,
    PRIMARY KEY (trace, span_id, linked_trace, linked_span)
) WITHOUT ROWID;
CREATE INDEX span_links_linked ON span_links(linked_trace);
CREATE TABLE segments (
    id        INTEGER PRIMARY KEY,
    max_trace INTEGER NOT NULL      -- highest traces.id the segment's postings name
);
CREATE TABLE attr_index (
    key     INTEGER NOT NULL,
    value,                          -- INTEGER/REAL numbers, 8-byte BLOB hash of text, NULL = key only
    segment INTEGER NOT NULL,
    traces  BLOB NOT NULL,          -- traces.id list, ascending, varint deltas
    PRIMARY KEY (key, value, segment)
) WITHOUT ROWID;
CREATE TABLE logs (
    time_ns   INTEGER NOT NULL,
    hash      INTEGER NOT NULL,
    resource  INTEGER NOT NULL,
    scope     INTEGER NOT NULL,
    severity  INTEGER NOT NULL,
    trace_id  BLOB,
    span_id   BLOB,
    body_text TEXT NOT NULL,
    record    BLOB NOT NULL,        -- LogRecord, protobuf
    PRIMARY KEY (time_ns, hash)
) WITHOUT ROWID;
CREATE INDEX logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
CREATE TABLE metrics (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        INTEGER NOT NULL,
    unit        TEXT NOT NULL,
    description TEXT NOT NULL,
    UNIQUE (name, kind, unit)
);
CREATE TABLE series (
    id         INTEGER PRIMARY KEY,
    metric     INTEGER NOT NULL,
    resource   INTEGER NOT NULL,
    scope      INTEGER NOT NULL,
    hash       INTEGER NOT NULL,
    shell      BLOB NOT NULL,       -- Metric without data points, protobuf
    attributes BLOB NOT NULL,       -- KeyValueList, protobuf
    last_ns    INTEGER NOT NULL,
    UNIQUE (metric, resource, scope, hash)
);
CREATE TABLE points (
    series  INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    point   BLOB NOT NULL,          -- the data point without attributes, protobuf
    PRIMARY KEY (series, time_ns)
) WITHOUT ROWID;
CREATE INDEX points_time ON points(time_ns);
"#,
    // 2: full-text search of logs, and the dashboard. `seq` numbers log
    // records in arrival order and is their row in `logs_fts` (contentless:
    // the text lives only in `logs`, the index holds just tokens), so a
    // search walks matches newest-arrived first and stops at its limit.
    // Existing records get `seq` in time order; `logsearch::backfill`
    // (run right after this SQL, in the same transaction) indexes them.
    r#"
ALTER TABLE logs ADD COLUMN seq INTEGER;
UPDATE logs SET seq = r.n
  FROM (SELECT time_ns AS t, hash AS h, row_number() OVER (ORDER BY time_ns, hash) AS n FROM logs) r
  WHERE logs.time_ns = r.t AND logs.hash = r.h;
CREATE INDEX logs_seq ON logs(seq);
CREATE VIRTUAL TABLE logs_fts USING fts5(
    body, attrs,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE dashboard_panels (
    id       INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    title    TEXT NOT NULL,
    chart    TEXT NOT NULL          -- the chart's query string (metric, split, aggregate, range)
);
"#,
    // 3: imported files (export/import). The data itself carries the
    // resource attribute `loupe.import.source`; this lists the sources.
    r#"
CREATE TABLE imports (
    source      TEXT PRIMARY KEY,   -- the file name, = resource attribute loupe.import.source
    format      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    spans       INTEGER NOT NULL,
    log_records INTEGER NOT NULL,
    data_points INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,   -- units of the file that could not be read
    times       INTEGER NOT NULL,   -- imports of this source (re-imports store nothing twice)
    first_ns    INTEGER NOT NULL,
    last_ns     INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 4: alerting (rules, group states, history, channels, delivery log,
    // evaluation watermarks). Written on alerting's own connection.
    r#"
CREATE TABLE alert_rules (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    yaml       TEXT NOT NULL,           -- the rule's canonical YAML
    enabled    INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE TABLE alert_states (
    rule  INTEGER NOT NULL,
    grp   TEXT NOT NULL,
    state TEXT NOT NULL,                -- pending | firing | resolved
    body  TEXT NOT NULL,                -- the group's state, JSON
    PRIMARY KEY (rule, grp)
) WITHOUT ROWID;
CREATE TABLE alert_history (
    id         INTEGER PRIMARY KEY,
    rule       INTEGER NOT NULL,
    rule_name  TEXT NOT NULL,
    grp        TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    at_ns      INTEGER NOT NULL,
    body       TEXT NOT NULL            -- the transition, JSON
);
CREATE INDEX alert_history_rule ON alert_history(rule, id);
CREATE TABLE alert_channels (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,        -- webhook | slack | desktop
    url           TEXT NOT NULL,        -- a secret: never exported or answered
    allow_private INTEGER NOT NULL,
    template      TEXT NOT NULL
);
CREATE TABLE alert_deliveries (
    id           INTEGER PRIMARY KEY,
    job          INTEGER NOT NULL,
    channel      INTEGER NOT NULL,
    channel_name TEXT NOT NULL,
    rule         TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    result       TEXT NOT NULL,         -- delivered | retrying | failed
    status       INTEGER,
    error        TEXT NOT NULL,
    at_ns        INTEGER NOT NULL
);
CREATE TABLE alert_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL              -- evaluation watermarks
) WITHOUT ROWID;
"#,
    // 5: retention by arrival. Traces (their last new span), log records
    // and data points remember when Loupe stored them, and age retention
    // counts from then instead of from the data's own timestamps, which may
    // be days old (an imported bundle), zero or skewed. Rows stored before
    // this migration count as arrived when it ran: `{now}` is that time and
    // the columns' default, so adding them rewrites no row (a big database
    // migrates in the time its indexes take to build) and nothing is
    // deleted sooner than before the upgrade. The writer always sets the
    // column itself. `points_time` served only retention: its place is
    // taken by `points_arrived` (time second, so points that arrived
    // together go oldest first under the size cap).
    r#"
ALTER TABLE traces ADD COLUMN arrived_ns INTEGER NOT NULL DEFAULT {now};
CREATE INDEX traces_arrived ON traces(arrived_ns);
ALTER TABLE logs ADD COLUMN arrived_ns INTEGER NOT NULL DEFAULT {now};
CREATE INDEX logs_arrived ON logs(arrived_ns);
ALTER TABLE points ADD COLUMN arrived_ns INTEGER NOT NULL DEFAULT {now};
DROP INDEX points_time;
CREATE INDEX points_arrived ON points(arrived_ns, time_ns);
"#,
    // 6: incomplete traces. A trace remembers the parent span IDs its spans
    // name that it does not have (`pending_parents`, 8 bytes each, NULL when
    // none) and how many (`missing_parents`), kept by the writer as spans
    // arrive, so the trace list can mark a trace whose root is still running
    // without reading its spans.
    r#"
ALTER TABLE traces ADD COLUMN missing_parents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE traces ADD COLUMN pending_parents BLOB;
"#,
    // 7: correlation. `traces_errors` lists the traces with an ERROR span
    // (`span.status = error` in a search, inside a link operator or not)
    // without reading the summary of every trace. `corr_values` is the
    // inferred-link index: per join rule, the values of its correlation
    // key a trace carries (role 0) and the values its reference attribute
    // names (role 1, e.g. a parent execution's ID), written at ingest, so
    // the traces a trace shares a value with are index lookups, never a
    // scan; `corr_values_trace` serves reading one trace's values and
    // deleting them with the trace. Written with IF NOT EXISTS so that
    // renumbering it beside another branch's migration 6 stays safe.
    r#"
CREATE INDEX IF NOT EXISTS traces_errors ON traces(id) WHERE error_count > 0;
CREATE TABLE IF NOT EXISTS corr_values (
    rule  TEXT NOT NULL,                -- the join rule's name (its key, by default)
    value BLOB NOT NULL,                -- 8-byte hash of the value's text
    role  INTEGER NOT NULL,             -- 0: the trace carries the key; 1: it names it (a reference)
    trace INTEGER NOT NULL,
    span  INTEGER NOT NULL,             -- the first span that carried it (where the stitched view hangs)
    PRIMARY KEY (rule, value, role, trace)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS corr_values_trace ON corr_values(trace);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// SQLite's heap in this process, all connections together (page caches,
/// statements), as far as SQLite can keep it: past this soft limit each
/// page cache recycles its own pages instead of growing. The writer's
/// cache (`cache_size`, 16 MB) plus the readers' would otherwise be
/// bounded only by how many connections are open (ARCHITECTURE.md "Where
/// memory goes").
pub const SQLITE_HEAP_LIMIT: i64 = 48 << 20;

fn pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = OFF;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;",
    )?;
    limit_heap(conn)
}

/// Sets [`SQLITE_HEAP_LIMIT`] (process-wide: setting it again is harmless).
fn limit_heap(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row(
        &format!("PRAGMA soft_heap_limit = {SQLITE_HEAP_LIMIT}"),
        [],
        |_| Ok(()),
    )
}

/// Opens the writer connection: sets pragmas and migrates.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        // Only possible before the first table exists: lets retention give
        // freed pages back to the file system in small steps.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    pragmas(&conn)?;
    migrate(&mut conn, version)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, from: i64) -> Result<(), StoreError> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        // `{now}` in a migration is the time it runs (stored nanoseconds).
        tx.execute_batch(&sql.replace("{now}", &to_sql(now_ns()).to_string()))?;
        if i + 1 == crate::logsearch::FTS_MIGRATION {
            crate::logsearch::backfill(&tx)?;
        }
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Opens a read-only connection for queries.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16000;")?;
    limit_heap(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_heap_is_limited_once_a_store_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("x.db")).unwrap();
        let limit: i64 = conn
            .query_row("PRAGMA soft_heap_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, SQLITE_HEAP_LIMIT);
        let reader = open_reader(&dir.path().join("x.db")).unwrap();
        let limit: i64 = reader
            .query_row("PRAGMA soft_heap_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, SQLITE_HEAP_LIMIT);
    }

    #[test]
    fn refuses_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        {
            let conn = open_writer(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = open_writer(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer Loupe"));
    }

    /// A version-1 database with log records: migrating indexes them.
    #[test]
    fn existing_logs_are_indexed_by_the_migration() {
        use loupe_model::otlp::common::{any_value::Value, AnyValue};
        use loupe_model::otlp::logs::LogRecord;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            for (t, body) in [
                (20i64, "second payment refused"),
                (10, "first payment accepted"),
            ] {
                let r = LogRecord {
                    time_unix_nano: t as u64,
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(body.into())),
                    }),
                    ..Default::default()
                };
                conn.execute(
                    "INSERT INTO logs(time_ns, hash, resource, scope, severity, body_text, record) VALUES (?1, ?1, 1, 1, 9, ?2, ?3)",
                    rusqlite::params![t, body, crate::codec::encode(&r)],
                )
                .unwrap();
            }
        }
        let conn = open_writer(&path).unwrap();
        let seqs: Vec<(i64, i64)> = conn
            .prepare("SELECT time_ns, seq FROM logs ORDER BY time_ns")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            seqs,
            vec![(10, 1), (20, 2)],
            "existing records numbered in time order"
        );
        let hits: Vec<i64> = conn
            .prepare("SELECT rowid FROM logs_fts WHERE logs_fts MATCH 'payment' ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(hits, vec![1, 2]);
        let refused: i64 = conn
            .query_row(
                "SELECT rowid FROM logs_fts WHERE logs_fts MATCH 'refused'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(refused, 2);
    }

    #[test]
    fn a_version_1_database_gains_every_later_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "INSERT INTO attr_keys(key) VALUES ('kept');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        for table in [
            "logs_fts",
            "dashboard_panels",
            "imports",
            "alert_rules",
            "alert_meta",
        ] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        let kept: String = conn
            .query_row("SELECT key FROM attr_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "kept");
    }

    /// Rows stored before retention went by arrival count as arrived at
    /// the upgrade, whatever their own timestamps, without being rewritten.
    #[test]
    fn a_version_4_database_counts_its_rows_as_arrived_at_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let month_ago = to_sql(now_ns() - 30 * 24 * 3600 * 1_000_000_000);
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch("PRAGMA user_version = 4;").unwrap();
            conn.execute(
                "INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count,
                    root_known, root_start, services) VALUES (x'01', ?1, ?1, 1, 0, 1, ?1, '[]')",
                [month_ago],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO logs(time_ns, hash, resource, scope, severity, body_text, record, seq)
                 VALUES (?1, 1, 1, 1, 9, 'old', x'', 1)",
                [month_ago],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO points(series, time_ns, point) VALUES (1, ?1, x'')",
                [month_ago],
            )
            .unwrap();
        }
        let before = to_sql(now_ns());
        let conn = open_writer(&path).unwrap();
        let after = to_sql(now_ns());
        for table in ["traces", "logs", "points"] {
            let arrived: i64 = conn
                .query_row(&format!("SELECT arrived_ns FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert!(before <= arrived && arrived <= after, "{table}: {arrived}");
        }
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'points%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, vec!["points_arrived".to_string()]);
    }

    #[test]
    fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        drop(open_writer(&path).unwrap());
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let av: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap();
        assert_eq!(av, 2, "incremental auto_vacuum");
    }
}
