//! The list of imported files (what `GET /api/v1/imports` answers).

use loupe_model::time::from_sql;
use rusqlite::Connection;

use super::Reader;
use crate::error::StoreError;

/// A row of `GET /api/v1/imports`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportInfo {
    pub source: String,
    pub format: String,
    pub bytes: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    pub skipped: u64,
    /// How many times the file was imported (re-imports store nothing twice).
    pub times: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub first_imported_unix_nano: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub last_imported_unix_nano: u64,
    /// When retention's age limit deletes this import's data: the age is
    /// counted from when Loupe stored it (the last import), never from the
    /// data's own timestamps, so a month-old bundle stays its full
    /// `--max-age` after it was imported.
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub expires_unix_nano: u64,
}

impl Reader {
    /// Imported files, most recent first.
    pub fn imports(&self) -> Result<Vec<ImportInfo>, StoreError> {
        let max_age = u64::try_from(self.max_age.as_nanos()).unwrap_or(u64::MAX);
        self.with(|c| list(c, max_age))
    }
}

fn list(conn: &Connection, max_age_ns: u64) -> Result<Vec<ImportInfo>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT source, format, bytes, spans, log_records, data_points, skipped, times, first_ns, last_ns
         FROM imports ORDER BY last_ns DESC, source",
    )?;
    let rows = st.query_map([], |r| {
        let last: u64 = from_sql(r.get(9)?);
        Ok(ImportInfo {
            source: r.get(0)?,
            format: r.get(1)?,
            bytes: r.get::<_, i64>(2)? as u64,
            spans: r.get::<_, i64>(3)? as u64,
            log_records: r.get::<_, i64>(4)? as u64,
            data_points: r.get::<_, i64>(5)? as u64,
            skipped: r.get::<_, i64>(6)? as u64,
            times: r.get::<_, i64>(7)? as u64,
            first_imported_unix_nano: from_sql(r.get(8)?),
            last_imported_unix_nano: last,
            expires_unix_nano: last.saturating_add(max_age_ns),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
