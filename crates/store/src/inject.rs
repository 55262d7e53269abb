//! Faults from outside Loupe, for the fault-injection tests (`tests/faults.rs`
//! at the root, which may not name rusqlite): another connection — in
//! another process as far as Loupe is concerned — holding the database's
//! write lock, as `sqlite3` or a backup tool does.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;

/// The write lock of a database, held until dropped.
pub struct WriteLock(Option<Connection>);

/// Takes the write lock of the database at `db` (waiting up to 5 s for
/// it) and holds it: Loupe's writer then waits its busy budget and answers
/// retryable.
pub fn hold_write_lock(db: &Path) -> Result<WriteLock, StoreError> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS fault_intruder(x);")?;
    Ok(WriteLock(Some(conn)))
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.execute_batch("ROLLBACK");
        }
    }
}
