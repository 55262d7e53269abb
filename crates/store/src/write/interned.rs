//! Row IDs of interned values (resources, scopes, attribute keys), shared
//! by every signal's writes.
//!
//! Interned rows are never deleted, so a cached ID stays true until a
//! rolled-back transaction (which may have created the row) clears it.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::prepare::Envelope;

/// Bytes of attribute keys cached, at most: keys are as long as senders
/// make them, so the writer's count limit alone (200,000 entries) does
/// not bound their memory. Past it the key cache starts over (IDs are
/// read back from `attr_keys` on demand).
const KEY_BYTES_LIMIT: usize = 8 << 20;

#[derive(Default)]
pub(super) struct Interned {
    key_ids: HashMap<String, i64>,
    /// Bytes of the keys in `key_ids`.
    key_bytes: usize,
    resource_ids: HashMap<i64, i64>,
    scope_ids: HashMap<i64, i64>,
}

impl Interned {
    pub(super) fn clear(&mut self) {
        self.key_ids.clear();
        self.key_bytes = 0;
        self.resource_ids.clear();
        self.scope_ids.clear();
    }

    /// Attribute keys cached (the cache that grows with the data).
    pub(super) fn keys(&self) -> usize {
        self.key_ids.len()
    }

    /// Row IDs of a batch's resources (`resources`) or scopes, in order,
    /// inserting those not stored yet.
    pub(super) fn envelope_ids(
        &mut self,
        conn: &Connection,
        envs: &[Envelope],
        resources: bool,
    ) -> Result<Vec<i64>, StoreError> {
        let (cache, insert, select) = if resources {
            (
                &mut self.resource_ids,
                "INSERT OR IGNORE INTO resources(hash, service, body) VALUES (?1, ?2, ?3)",
                "SELECT id FROM resources WHERE hash = ?1",
            )
        } else {
            (
                &mut self.scope_ids,
                "INSERT OR IGNORE INTO scopes(hash, name, body) VALUES (?1, coalesce(?2, ''), ?3)",
                "SELECT id FROM scopes WHERE hash = ?1",
            )
        };
        let mut ids = Vec::with_capacity(envs.len());
        for e in envs {
            if let Some(id) = cache.get(&e.hash) {
                ids.push(*id);
                continue;
            }
            conn.prepare_cached(insert)?
                .execute(params![e.hash, e.label, e.body])?;
            let id: i64 = conn
                .prepare_cached(select)?
                .query_row([e.hash], |r| r.get(0))?;
            cache.insert(e.hash, id);
            ids.push(id);
        }
        Ok(ids)
    }

    pub(super) fn key_id(&mut self, conn: &Connection, key: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.key_ids.get(key) {
            return Ok(*id);
        }
        conn.prepare_cached("INSERT OR IGNORE INTO attr_keys(key) VALUES (?1)")?
            .execute([key])?;
        let id: i64 = conn
            .prepare_cached("SELECT id FROM attr_keys WHERE key = ?1")?
            .query_row([key], |r| r.get(0))?;
        if self.key_bytes.saturating_add(key.len()) > KEY_BYTES_LIMIT {
            self.key_ids.clear();
            self.key_bytes = 0;
        }
        self.key_bytes = self.key_bytes.saturating_add(key.len());
        self.key_ids.insert(key.to_string(), id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_cache_bounded_by_bytes_of_long_keys() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE attr_keys(id INTEGER PRIMARY KEY, key TEXT UNIQUE);")
            .unwrap();
        let mut interned = Interned::default();
        let long = "k".repeat(1 << 20);
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(interned.key_id(&conn, &format!("{long}{i}")).unwrap());
            assert!(interned.key_bytes <= KEY_BYTES_LIMIT);
        }
        assert!(interned.keys() < 20, "the cache started over");
        // IDs stay true across the restart: read back from the table.
        assert_eq!(interned.key_id(&conn, &format!("{long}0")).unwrap(), ids[0]);
        assert_eq!(
            interned.key_id(&conn, &format!("{long}19")).unwrap(),
            ids[19]
        );
    }
}
