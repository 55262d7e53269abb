//! Metrics: the catalogue (names, kinds, series counts, last point) and a
//! metric's points in a time range, reassembled as OTLP.

use std::collections::HashMap;

use loupe_model::otlp::common::KeyValueList;
use loupe_model::otlp::metrics::{metric::Data, Metric, ResourceMetrics, ScopeMetrics};
use loupe_model::otlp::ExportMetricsServiceRequest;
use loupe_model::query::{MetricFilter, MetricInfo, MetricKind};
use loupe_model::time::{from_sql, NanoRange};
use prost::Message;
use rusqlite::params;

use super::Reader;
use crate::codec::unsigned_order;
use crate::error::StoreError;

impl Reader {
    pub fn metrics(&self) -> Result<Vec<MetricInfo>, StoreError> {
        self.metric_catalogue(&MetricFilter::default())
    }

    /// Metrics whose name contains `f.name` (any case) and, with
    /// `f.service`, that have series from that service (counting only those).
    pub fn metric_catalogue(&self, f: &MetricFilter) -> Result<Vec<MetricInfo>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT m.name, m.kind, m.unit, m.description, count(s.id), max({})
                 FROM metrics m LEFT JOIN series s ON s.metric = m.id
                   AND (?2 IS NULL OR s.resource IN (SELECT id FROM resources WHERE service = ?2))
                 WHERE (?1 IS NULL OR instr(lower(m.name), lower(?1)) > 0)
                 GROUP BY m.id HAVING ?2 IS NULL OR count(s.id) > 0
                 ORDER BY m.name, m.kind, m.unit",
                unsigned_order("s.last_ns")
            ))?;
            let rows = st.query_map(params![f.name, f.service], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, kind, unit, description, series, last) = row?;
                let kind = MetricKind::from_code(kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("metric kind {kind}")))?;
                out.push(MetricInfo {
                    name,
                    kind,
                    unit,
                    description,
                    series: series as u64,
                    // Flip the sign bit back (see `unsigned_order`).
                    last_point_unix_nano: last.map(|v| from_sql(v) ^ (1 << 63)).unwrap_or(0),
                });
            }
            Ok(out)
        })
    }

    /// The points of every series of the metric `name` within `range`.
    pub fn metric_points(
        &self,
        name: &str,
        range: NanoRange,
    ) -> Result<ExportMetricsServiceRequest, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT s.id, s.resource, s.scope, s.shell, s.attributes FROM series s
                 JOIN metrics m ON m.id = s.metric WHERE m.name = ?1 ORDER BY s.id",
            )?;
            let series: Vec<SeriesRow> = st
                .query_map([name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            let (pred, [lo, hi]) = range.sql("time_ns");
            let mut points_st = c.prepare(&format!(
                "SELECT point FROM points WHERE series = ? AND {pred} ORDER BY time_ns"
            ))?;
            let mut out: Vec<ResourceMetrics> = Vec::new();
            let mut res_index: HashMap<i64, usize> = HashMap::new();
            let mut scope_index: HashMap<(i64, i64), usize> = HashMap::new();
            // (resource, scope, shell) -> index of the metric in its scope
            let mut metric_index: HashMap<(i64, i64, Vec<u8>), usize> = HashMap::new();
            for (sid, r, s, shell_bytes, attrs) in series {
                let attributes = KeyValueList::decode(attrs.as_slice())?.values;
                let points: Vec<Vec<u8>> = points_st
                    .query_map(params![sid, lo, hi], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                if points.is_empty() {
                    continue;
                }
                let ri = match res_index.get(&r) {
                    Some(i) => *i,
                    None => {
                        let env = self.resource(c, r)?;
                        out.push(ResourceMetrics {
                            resource: env.resource,
                            scope_metrics: Vec::new(),
                            schema_url: env.schema_url,
                        });
                        res_index.insert(r, out.len() - 1);
                        out.len() - 1
                    }
                };
                let si = match scope_index.get(&(r, s)) {
                    Some(i) => *i,
                    None => {
                        let env = self.scope(c, s)?;
                        out[ri].scope_metrics.push(ScopeMetrics {
                            scope: env.scope,
                            metrics: Vec::new(),
                            schema_url: env.schema_url,
                        });
                        scope_index.insert((r, s), out[ri].scope_metrics.len() - 1);
                        out[ri].scope_metrics.len() - 1
                    }
                };
                let metrics = &mut out[ri].scope_metrics[si].metrics;
                let mi = match metric_index.get(&(r, s, shell_bytes.clone())) {
                    Some(i) => *i,
                    None => {
                        metrics.push(Metric::decode(shell_bytes.as_slice())?);
                        metric_index.insert((r, s, shell_bytes), metrics.len() - 1);
                        metrics.len() - 1
                    }
                };
                add_points(&mut metrics[mi], &attributes, &points)?;
            }
            Ok(ExportMetricsServiceRequest {
                resource_metrics: out,
            })
        })
    }
}

/// (series id, resource id, scope id, metric shell, attributes).
type SeriesRow = (i64, i64, i64, Vec<u8>, Vec<u8>);

fn add_points(
    m: &mut Metric,
    attributes: &[loupe_model::otlp::common::KeyValue],
    points: &[Vec<u8>],
) -> Result<(), StoreError> {
    macro_rules! fill {
        ($dps:expr, $ty:ty) => {{
            for p in points {
                let mut dp = <$ty>::decode(p.as_slice())?;
                dp.attributes = attributes.to_vec();
                $dps.push(dp);
            }
        }};
    }
    use loupe_model::otlp::metrics as pm;
    match m.data.as_mut() {
        Some(Data::Gauge(g)) => fill!(g.data_points, pm::NumberDataPoint),
        Some(Data::Sum(s)) => fill!(s.data_points, pm::NumberDataPoint),
        Some(Data::Histogram(h)) => fill!(h.data_points, pm::HistogramDataPoint),
        Some(Data::ExponentialHistogram(h)) => {
            fill!(h.data_points, pm::ExponentialHistogramDataPoint)
        }
        Some(Data::Summary(s)) => fill!(s.data_points, pm::SummaryDataPoint),
        None => return Err(StoreError::Corrupt("metric shell without data".into())),
    }
    Ok(())
}
