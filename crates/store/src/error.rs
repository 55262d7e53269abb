use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database {path} was written by a newer Loupe (schema version {found}; this build knows up to {known}). \
         Upgrade Loupe, or point --data-dir at another directory."
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The query itself cannot be run (a log search with a NUL byte, or
    /// that the full-text engine cannot parse): the caller's fault, so the
    /// API answers 400, not 500.
    #[error("bad query: {0}")]
    BadQuery(String),
}

impl From<prost::DecodeError> for StoreError {
    fn from(e: prost::DecodeError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Why SQLite could not write, classified once from its extended result
/// codes, so every writer (ingest, alerts, dashboard) answers the same way:
/// transient faults are retryable answers and health says why; the rest are
/// permanent failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `SQLITE_FULL`: the file system (or `max_page_count`) is full. SQLite
    /// reports a write that failed with `ENOSPC` as `SQLITE_FULL` too.
    DiskFull,
    /// `SQLITE_BUSY` / `SQLITE_LOCKED`: another connection or process holds
    /// the lock for longer than the busy timeout.
    Locked,
    /// `SQLITE_READONLY*`: the file or file system is read-only.
    ReadOnly,
    /// `SQLITE_IOERR*`: the operating system failed a read, write or sync.
    /// Treated as permanent: rusqlite's error carries no errno, and SQLite
    /// already turns a write's `ENOSPC` into `SQLITE_FULL`.
    Io,
    /// `SQLITE_CORRUPT` / `SQLITE_NOTADB`.
    Corrupt,
}

impl Fault {
    /// The fault behind a rusqlite error, if it is a storage fault at all.
    pub fn of_sqlite(e: &rusqlite::Error) -> Option<Fault> {
        use rusqlite::ErrorCode;
        let rusqlite::Error::SqliteFailure(f, _) = e else {
            return None;
        };
        Some(match f.code {
            ErrorCode::DiskFull => Fault::DiskFull,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Fault::Locked,
            ErrorCode::ReadOnly => Fault::ReadOnly,
            ErrorCode::SystemIoFailure => Fault::Io,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Fault::Corrupt,
            _ => return None,
        })
    }

    /// Whether the fault passes by itself (space freed, lock released), so
    /// the sender should retry.
    pub fn is_transient(self) -> bool {
        matches!(self, Fault::DiskFull | Fault::Locked)
    }

    /// What to tell the user, in /health and in the retryable answer.
    pub fn reason(self) -> &'static str {
        match self {
            Fault::DiskFull => "disk full",
            Fault::Locked => "database locked by another connection or process",
            Fault::ReadOnly => "database is read-only",
            Fault::Io => "disk I/O error",
            Fault::Corrupt => "database is corrupt",
        }
    }

    /// The delay suggested to senders: a lock is usually short, space takes
    /// a retention pass or the user's action to come back.
    pub fn retry_after(self) -> std::time::Duration {
        match self {
            Fault::Locked => std::time::Duration::from_secs(2),
            _ => std::time::Duration::from_secs(5),
        }
    }
}

impl StoreError {
    /// The storage fault behind this error, if any.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            StoreError::Sql(e) => Fault::of_sqlite(e),
            _ => None,
        }
    }

    /// The answer a sender gets for this error: retryable for transient
    /// faults, `Failed` for everything else.
    pub fn to_sink_error(&self) -> loupe_model::sink::SinkError {
        use loupe_model::sink::SinkError;
        match self.fault() {
            Some(f) if f.is_transient() => SinkError::Unavailable {
                reason: f.reason().to_string(),
                retry_after: f.retry_after(),
            },
            _ => SinkError::Failed(self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn classifies_extended_codes() {
        use rusqlite::ffi;
        let cases = [
            (ffi::SQLITE_FULL, Some(Fault::DiskFull)),
            (ffi::SQLITE_BUSY, Some(Fault::Locked)),
            (ffi::SQLITE_BUSY_SNAPSHOT, Some(Fault::Locked)),
            (ffi::SQLITE_LOCKED, Some(Fault::Locked)),
            (ffi::SQLITE_READONLY_DBMOVED, Some(Fault::ReadOnly)),
            (ffi::SQLITE_IOERR_FSYNC, Some(Fault::Io)),
            (ffi::SQLITE_CORRUPT, Some(Fault::Corrupt)),
            (ffi::SQLITE_NOTADB, Some(Fault::Corrupt)),
            (ffi::SQLITE_CONSTRAINT, None),
        ];
        for (code, want) in cases {
            assert_eq!(sqlite(code).fault(), want, "code {code}");
        }
        use loupe_model::sink::SinkError;
        assert!(matches!(
            sqlite(ffi::SQLITE_FULL).to_sink_error(),
            SinkError::Unavailable { .. }
        ));
        assert!(matches!(
            sqlite(ffi::SQLITE_IOERR_WRITE).to_sink_error(),
            SinkError::Failed(_)
        ));
    }
}
