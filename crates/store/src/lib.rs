//! Loupe's storage: the only crate that names rusqlite.
//!
//! Data path: [`prepare`] turns a validated OTLP batch into rows (encoding and
//! compressing on the caller's thread, so the single writer only runs SQL);
//! [`write`] owns every write: a [`Writer`] queues commands (prepared
//! batches, the dashboard, imports) that one thread applies in
//! group-committed transactions, acknowledging each only after its commit;
//! [`read`] answers queries on separate read-only connections (WAL lets
//! them run while the writer writes) and never writes; [`retention`]
//! deletes the oldest data in small steps on the writer thread between
//! commits; [`codec`] is the blob formats (span chunks, posting lists,
//! hashes); [`correlate`] collects the join rules' values while a batch
//! is prepared (inferred links, answered by `read`'s `inferred`);
//! [`alerts`] keeps alerting's tables on a connection of its own
//! and reads what the evaluator needs; [`files`] keeps the data directory
//! 0700 and the database 0600 (and offers the same to every crate that
//! writes a private file).

pub mod alerts;
mod codec;
mod correlate;
pub mod disk;
mod error;
pub mod files;
#[doc(hidden)]
pub mod inject;
mod logsearch;
mod prepare;
pub mod read;
mod retention;
mod schema;
mod stats;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Fault, StoreError};
pub use read::imports::ImportInfo;
pub use read::{Liveness, Reader};
pub use retention::Retention;
pub use schema::SCHEMA_VERSION;
pub use stats::WriterStats;
pub use write::{ImportRecord, Writer, WriterConfig};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "loupe.db";

/// An open store: one writer, many readers.
#[derive(Clone)]
pub struct Store {
    pub writer: Arc<Writer>,
    pub reader: Arc<Reader>,
    /// Alerting's tables, on their own connection.
    pub alerts: Arc<alerts::AlertDb>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, migrates it, and
    /// starts the writer thread. The directory is made 0700 and the
    /// database 0600 first (its WAL and shared memory inherit that), so
    /// other local users cannot read telemetry or webhook URLs: see
    /// [`files`].
    pub fn open(dir: &Path, config: WriterConfig) -> Result<Store, StoreError> {
        files::ensure_private_dir(dir)
            .map_err(|e| StoreError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?
            .warn();
        let path = dir.join(DB_FILE);
        for t in files::private_database(&path).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: e,
        })? {
            t.warn();
        }
        let conn = schema::open_writer(&path)?;
        let rules = config.correlation.clone();
        let max_age = config.retention.max_age;
        let writer = Writer::start(conn, config)?;
        let reader = Reader::new(path.clone(), rules, max_age);
        let writer = Arc::new(writer);
        let alerts = alerts::AlertDb::open(&path)?;
        Ok(Store {
            writer,
            reader: Arc::new(reader),
            alerts: Arc::new(alerts),
            path,
        })
    }

    /// A reader over an existing database, without a writer: for tools
    /// that inspect a store another process owns.
    pub fn open_reader_only(dir: &Path) -> Result<Reader, StoreError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Ok(Reader::new(
            path,
            loupe_model::correlation::JoinRule::defaults(),
            retention::Retention::default().max_age,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the database takes on disk: the file plus its write-ahead log.
    pub fn file_bytes(&self) -> u64 {
        self.db_bytes() + self.wal_bytes()
    }

    /// Size of the database file alone.
    pub fn db_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Size of the write-ahead log (`loupe.db-wal`): bounded by the
    /// checkpointer, zero after a while without ingest.
    pub fn wal_bytes(&self) -> u64 {
        retention::wal_bytes(&self.path)
    }
}
