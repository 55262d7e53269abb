//! Writing metric data points: metrics and series are interned (a series
//! is metric, resource, scope, attributes and metric shell), points keyed
//! by (series, time).

use std::collections::HashMap;

use loupe_model::time::to_sql;
use rusqlite::{params, Connection};

use super::interned::Interned;
use crate::error::StoreError;
use crate::prepare::PreparedMetrics;

/// The writer's state for metrics: row IDs of metrics and series.
#[derive(Default)]
pub(super) struct Metrics {
    /// (name, kind, unit) → (id, last description written).
    metric_ids: HashMap<(String, i64, String), (i64, String)>,
    series_ids: HashMap<(i64, i64, i64, i64), i64>,
}

impl Metrics {
    pub(super) fn clear_cache(&mut self) {
        self.metric_ids.clear();
        self.series_ids.clear();
    }

    /// Series cached (the cache that grows with the data).
    pub(super) fn series(&self) -> usize {
        self.series_ids.len()
    }

    pub(super) fn apply(
        &mut self,
        conn: &Connection,
        interned: &mut Interned,
        m: &PreparedMetrics,
        arrived: u64,
    ) -> Result<(), StoreError> {
        let resource_ids = interned.envelope_ids(conn, &m.resources, true)?;
        let scope_ids = interned.envelope_ids(conn, &m.scopes, false)?;
        for metric in &m.metrics {
            let mkey = (metric.name.clone(), metric.kind.code(), metric.unit.clone());
            let metric_id = match self.metric_ids.get(&mkey) {
                Some((id, desc))
                    if metric.description.is_empty() || *desc == metric.description =>
                {
                    *id
                }
                _ => {
                    conn
                        .prepare_cached(
                            "INSERT INTO metrics(name, kind, unit, description) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT(name, kind, unit) DO UPDATE SET description = excluded.description
                             WHERE excluded.description != ''",
                        )?
                        .execute(params![metric.name, metric.kind.code(), metric.unit, metric.description])?;
                    let id: i64 = conn
                        .prepare_cached(
                            "SELECT id FROM metrics WHERE name = ?1 AND kind = ?2 AND unit = ?3",
                        )?
                        .query_row(params![metric.name, metric.kind.code(), metric.unit], |r| {
                            r.get(0)
                        })?;
                    self.metric_ids
                        .insert(mkey, (id, metric.description.clone()));
                    id
                }
            };
            let (res, scope) = (resource_ids[metric.resource], scope_ids[metric.scope]);
            for p in &metric.points {
                let skey = (metric_id, res, scope, p.series_hash);
                let series = match self.series_ids.get(&skey) {
                    Some(id) => *id,
                    None => {
                        conn
                            .prepare_cached(
                                "INSERT OR IGNORE INTO series(metric, resource, scope, hash, shell, attributes, last_ns)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            )?
                            .execute(params![metric_id, res, scope, p.series_hash, metric.shell, p.attributes, to_sql(p.time)])?;
                        let id: i64 = conn
                            .prepare_cached(
                                "SELECT id FROM series WHERE metric = ?1 AND resource = ?2 AND scope = ?3 AND hash = ?4",
                            )?
                            .query_row(params![metric_id, res, scope, p.series_hash], |r| r.get(0))?;
                        self.series_ids.insert(skey, id);
                        id
                    }
                };
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO points(series, time_ns, point, arrived_ns) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![series, to_sql(p.time), p.point, to_sql(arrived)])?;
                conn.prepare_cached(LAST_NS_UPDATE)?
                    .execute(params![series, to_sql(p.time)])?;
            }
        }
        Ok(())
    }
}

/// Moves a series' last point time forward, comparing as unsigned
/// (`unsigned_order` spelled out, to keep it a constant).
const LAST_NS_UPDATE: &str = "UPDATE series SET last_ns = ?2 WHERE id = ?1 AND \
     ((last_ns | -9223372036854775808) & ~(last_ns & -9223372036854775808)) \
     < ((?2 | -9223372036854775808) & ~(?2 & -9223372036854775808))";
