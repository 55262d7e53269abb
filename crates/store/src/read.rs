//! Queries, on read-only connections of their own.
//!
//! WAL mode lets these run while the writer writes; each query sees the
//! state as of its last committed transaction, so whatever was acknowledged
//! is visible.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::otlp::common::KeyValueList;
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{metric::Data, Metric, ResourceMetrics, ScopeMetrics};
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::query::{
    AttrCondition, AttrOp, DashboardPanel, Expr, LinkDirection, LinkPair, LogQuery, MetricFilter,
    MetricInfo, MetricKind, RelatedTrace, TraceQuery, TraceSummary,
};
use loupe_model::time::{from_sql, to_sql, NanoRange};
use prost::Message;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::codec::{decode_ids, text_hash, KEY_SPAN_NAME};
use crate::prepare::decode_chunk;
use crate::{schema, StoreError};

/// Counts of what is stored, for health and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub traces: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
}

pub struct Reader {
    path: PathBuf,
    /// The store's writer, for the few writes the API makes (the dashboard).
    writer: std::sync::OnceLock<std::sync::Weak<crate::Writer>>,
    pool: Mutex<Vec<Connection>>,
    resources: Mutex<HashMap<i64, ResourceSpans>>,
    scopes: Mutex<HashMap<i64, ScopeSpans>>,
}

/// Read connections kept open for reuse.
const POOL: usize = 4;

impl Reader {
    pub(crate) fn new(path: PathBuf) -> Reader {
        Reader {
            path,
            writer: std::sync::OnceLock::new(),
            pool: Mutex::new(Vec::new()),
            resources: Mutex::new(HashMap::new()),
            scopes: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => schema::open_reader(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL {
            pool.push(conn);
        }
        out
    }

    pub(crate) fn resource(&self, conn: &Connection, id: i64) -> Result<ResourceSpans, StoreError> {
        cached_envelope(&self.resources, conn, "resources", id)
    }

    fn scope(&self, conn: &Connection, id: i64) -> Result<ScopeSpans, StoreError> {
        cached_envelope(&self.scopes, conn, "scopes", id)
    }

    pub(crate) fn attach_writer(&self, w: &std::sync::Arc<crate::Writer>) {
        let _ = self.writer.set(std::sync::Arc::downgrade(w));
    }

    /// The dashboard's panels, in grid order.
    pub fn dashboard(&self) -> Result<Vec<DashboardPanel>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT title, chart FROM dashboard_panels ORDER BY position, id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(DashboardPanel {
                    title: r.get(0)?,
                    chart: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Replaces the dashboard's panels through the store's writer; `Closed`
    /// for a reader without one (`Store::open_reader_only`).
    pub fn save_dashboard(
        &self,
        panels: Vec<DashboardPanel>,
    ) -> Result<loupe_model::sink::Ticket, loupe_model::sink::SinkError> {
        match self.writer.get().and_then(std::sync::Weak::upgrade) {
            Some(w) => w.save_dashboard(panels),
            None => Err(loupe_model::sink::SinkError::Closed),
        }
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.with(|c| {
            let q = |sql: &str| -> Result<u64, StoreError> {
                Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            Ok(Counts {
                traces: q("SELECT count(*) FROM traces")?,
                spans: q("SELECT coalesce(sum(span_count), 0) FROM traces")?,
                log_records: q("SELECT count(*) FROM logs")?,
                data_points: q("SELECT count(*) FROM points")?,
            })
        })
    }

    /// Records in the full-text log index (one per stored record).
    pub fn log_index_rows(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row("SELECT count(*) FROM logs_fts", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    /// Imported files, most recent first.
    pub fn imports(&self) -> Result<Vec<crate::ImportInfo>, StoreError> {
        self.with(crate::imports::list)
    }

    /// Bytes of database pages in use (what retention's size limit counts).
    pub fn live_bytes(&self) -> Result<u64, StoreError> {
        self.with(crate::retention::live_bytes)
    }

    /// Attribute keys seen on spans, resources or scopes (for autocompletion
    /// and group-by pickers), without Loupe's internal pseudo keys.
    pub fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT key FROM attr_keys WHERE key NOT LIKE ':%' ORDER BY key")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Values seen for the attribute `key` in recent data (the newest span
    /// chunks and log records, their resources included), most frequent
    /// first, at most `limit`. For autocompletion: a sample is enough, and
    /// the index keeps only hashes of text values.
    pub fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        use loupe_model::otlp::common::{any_value::Value, KeyValue};
        const SAMPLE: i64 = 500;
        fn tally(counts: &mut HashMap<String, u64>, key: &str, attrs: &[KeyValue]) {
            for kv in attrs.iter().filter(|kv| kv.key == key) {
                let text = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::DoubleValue(d)) => d.to_string(),
                    Some(Value::BoolValue(b)) => b.to_string(),
                    _ => continue,
                };
                *counts.entry(text).or_default() += 1;
            }
        }
        self.with(|c| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut resources: HashMap<i64, u64> = HashMap::new();
            let mut st = c.prepare_cached(
                "SELECT resource, body FROM span_chunks ORDER BY id DESC LIMIT ?1",
            )?;
            let mut rows = st.query([SAMPLE])?;
            while let Some(r) = rows.next()? {
                *resources.entry(r.get(0)?).or_default() += 1;
                for span in decode_chunk(r.get_ref(1)?.as_blob()?)? {
                    tally(&mut counts, key, &span.attributes);
                }
            }
            let mut st = c.prepare_cached(
                "SELECT resource, record FROM logs ORDER BY time_ns DESC LIMIT ?1",
            )?;
            let mut rows = st.query([SAMPLE])?;
            while let Some(r) = rows.next()? {
                *resources.entry(r.get(0)?).or_default() += 1;
                let record = LogRecord::decode(r.get_ref(1)?.as_blob()?)?;
                tally(&mut counts, key, &record.attributes);
            }
            for id in resources.into_keys() {
                if let Some(res) = self.resource(c, id)?.resource {
                    tally(&mut counts, key, &res.attributes);
                }
            }
            let mut values: Vec<(String, u64)> = counts.into_iter().collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Ok(values.into_iter().take(limit).map(|(v, _)| v).collect())
        })
    }

    /// Service names of every resource that sent anything.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT service FROM resources WHERE service IS NOT NULL ORDER BY service",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn search_traces(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        self.with(|c| search_traces(c, q))
    }

    /// Every span of a trace, grouped by resource and scope.
    pub fn trace(&self, id: TraceId) -> Result<Option<ExportTraceServiceRequest>, StoreError> {
        self.with(|c| {
            let Some(trace) = c
                .prepare_cached("SELECT id FROM traces WHERE trace_id = ?1")?
                .query_row([&id.0[..]], |r| r.get::<_, i64>(0))
                .optional()?
            else {
                return Ok(None);
            };
            let mut st = c.prepare_cached(
                "SELECT resource, scope, body FROM span_chunks WHERE trace = ?1 ORDER BY id",
            )?;
            let mut rows = st.query([trace])?;
            let mut out: Vec<ResourceSpans> = Vec::new();
            let mut index: HashMap<(i64, i64), (usize, usize)> = HashMap::new();
            let mut res_index: HashMap<i64, usize> = HashMap::new();
            while let Some(row) = rows.next()? {
                let (r, s): (i64, i64) = (row.get(0)?, row.get(1)?);
                let spans = decode_chunk(row.get_ref(2)?.as_blob()?)?;
                let (ri, si) = match index.get(&(r, s)) {
                    Some(x) => *x,
                    None => {
                        let ri = match res_index.get(&r) {
                            Some(i) => *i,
                            None => {
                                out.push(self.resource(c, r)?);
                                res_index.insert(r, out.len() - 1);
                                out.len() - 1
                            }
                        };
                        out[ri].scope_spans.push(self.scope(c, s)?);
                        let si = out[ri].scope_spans.len() - 1;
                        index.insert((r, s), (ri, si));
                        (ri, si)
                    }
                };
                out[ri].scope_spans[si].spans.extend(spans);
            }
            Ok(Some(ExportTraceServiceRequest {
                resource_spans: out,
            }))
        })
    }

    pub fn trace_summary(&self, id: TraceId) -> Result<Option<TraceSummary>, StoreError> {
        self.with(|c| summary_of(c, &id.0))
    }

    /// Traces joined to this one by span links, in both directions.
    pub fn related(&self, id: TraceId) -> Result<Vec<RelatedTrace>, StoreError> {
        self.with(|c| {
            let this = c
                .prepare_cached("SELECT id FROM traces WHERE trace_id = ?1")?
                .query_row([&id.0[..]], |r| r.get::<_, i64>(0))
                .optional()?;
            let mut by_trace: Vec<(Vec<u8>, LinkDirection, Vec<LinkPair>)> = Vec::new();
            let mut add = |other: Vec<u8>, dir: LinkDirection, pair: LinkPair| {
                match by_trace.iter_mut().find(|(t, d, _)| *t == other && *d == dir) {
                    Some((_, _, pairs)) => pairs.push(pair),
                    None => by_trace.push((other, dir, vec![pair])),
                }
            };
            let me = id.to_string();
            if let Some(this) = this {
                let mut st = c.prepare_cached(
                    "SELECT span_id, linked_trace, linked_span FROM span_links WHERE trace = ?1 ORDER BY span_id",
                )?;
                let rows = st.query_map([this], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?))
                })?;
                for row in rows {
                    let (span, other, other_span) = row?;
                    if other == id.0 {
                        continue;
                    }
                    add(
                        other.clone(),
                        LinkDirection::Outgoing,
                        LinkPair {
                            from_trace_id: me.clone(),
                            from_span_id: SpanId::from_i64(span).to_string(),
                            to_trace_id: hex::encode(&other),
                            to_span_id: SpanId::from_i64(other_span).to_string(),
                        },
                    );
                }
            }
            let mut st = c.prepare_cached(
                "SELECT t.trace_id, l.span_id, l.linked_span FROM span_links l JOIN traces t ON t.id = l.trace
                 WHERE l.linked_trace = ?1 ORDER BY t.id, l.span_id",
            )?;
            let rows = st.query_map([&id.0[..]], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })?;
            for row in rows {
                let (other, span, my_span) = row?;
                if other == id.0 {
                    continue;
                }
                add(
                    other.clone(),
                    LinkDirection::Incoming,
                    LinkPair {
                        from_trace_id: hex::encode(&other),
                        from_span_id: SpanId::from_i64(span).to_string(),
                        to_trace_id: me.clone(),
                        to_span_id: SpanId::from_i64(my_span).to_string(),
                    },
                );
            }
            by_trace
                .into_iter()
                .map(|(other, direction, links)| {
                    Ok(RelatedTrace {
                        trace_id: hex::encode(&other),
                        direction,
                        summary: summary_of(c, &other)?,
                        links,
                    })
                })
                .collect()
        })
    }

    pub fn logs(&self, q: &LogQuery) -> Result<ExportLogsServiceRequest, StoreError> {
        self.with(|c| {
            let rows = select_logs(c, q)?;
            let mut out: Vec<ResourceLogs> = Vec::new();
            let mut index: HashMap<(i64, i64), (usize, usize)> = HashMap::new();
            let mut res_index: HashMap<i64, usize> = HashMap::new();
            for (r, s, record) in rows {
                let (ri, si) = match index.get(&(r, s)) {
                    Some(x) => *x,
                    None => {
                        let ri = match res_index.get(&r) {
                            Some(i) => *i,
                            None => {
                                let env = self.resource(c, r)?;
                                out.push(ResourceLogs {
                                    resource: env.resource,
                                    scope_logs: Vec::new(),
                                    schema_url: env.schema_url,
                                });
                                res_index.insert(r, out.len() - 1);
                                out.len() - 1
                            }
                        };
                        let env = self.scope(c, s)?;
                        out[ri].scope_logs.push(ScopeLogs {
                            scope: env.scope,
                            log_records: Vec::new(),
                            schema_url: env.schema_url,
                        });
                        let si = out[ri].scope_logs.len() - 1;
                        index.insert((r, s), (ri, si));
                        (ri, si)
                    }
                };
                out[ri].scope_logs[si].log_records.push(record);
            }
            Ok(ExportLogsServiceRequest { resource_logs: out })
        })
    }

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
                crate::writer::unsigned_order("s.last_ns")
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

/// An interned resource or scope by row ID, decoded once: they never change
/// once written.
fn cached_envelope<M: Message + Default + Clone>(
    cache: &Mutex<HashMap<i64, M>>,
    conn: &Connection,
    table: &str,
    id: i64,
) -> Result<M, StoreError> {
    if let Some(m) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return Ok(m.clone());
    }
    let body: Vec<u8> = conn
        .prepare_cached(&format!("SELECT body FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| r.get(0))?;
    let m = M::decode(body.as_slice())?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, m.clone());
    Ok(m)
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

/// Records examined at most by one log search before it answers with what
/// it found: bounds the time of a search whose conditions the index cannot
/// narrow.
const LOG_SCAN_LIMIT: usize = 200_000;

/// (resource id, scope id, record), newest first.
type LogRow = (i64, i64, LogRecord);

/// The records a log query selects. With words to find (or attribute
/// equality conditions) the full-text index drives: matches are walked in
/// arrival order, newest first, filtered and checked exactly, until `limit`
/// are found; the page is then ordered by time. Without, records are
/// walked by time, newest first.
fn select_logs(c: &Connection, q: &LogQuery) -> Result<Vec<LogRow>, StoreError> {
    let mut filter = String::new();
    let (range, [lo, hi]) = q.range.sql("l.time_ns");
    filter.push_str(&range);
    let mut args: Vec<SqlValue> = vec![lo.into(), hi.into()];
    if let Some(t) = &q.trace_id {
        filter.push_str(" AND l.trace_id = ?");
        args.push(t.0.to_vec().into());
    }
    if let Some(s) = &q.span_id {
        filter.push_str(" AND l.span_id = ?");
        args.push(s.0.to_vec().into());
    }
    if let Some(sev) = q.min_severity {
        filter.push_str(" AND l.severity >= ?");
        args.push(i64::from(sev).into());
    }
    if let Some(svc) = &q.service {
        filter.push_str(" AND l.resource IN (SELECT id FROM resources WHERE service = ?)");
        args.push(svc.clone().into());
    }
    if let Some(text) = &q.text {
        filter.push_str(" AND l.body_text LIKE ? ESCAPE '\\'");
        args.push(format!("%{}%", like_escape(text)).into());
    }
    let indexable: Vec<(String, Option<String>)> = q
        .attrs
        .iter()
        .filter_map(|a| match &a.op {
            AttrOp::Eq(v) => Some((a.key.clone(), Some(v.clone()))),
            AttrOp::Exists => Some((a.key.clone(), None)),
            _ => None,
        })
        .collect();
    let fts = crate::logsearch::match_query(q.search.as_deref().unwrap_or(""), &indexable)?;
    let limit = q.limit.max(1);
    let sql = match &fts {
        Some(_) => format!(
            "SELECT l.resource, l.scope, l.record FROM logs_fts JOIN logs l ON l.seq = logs_fts.rowid
             WHERE logs_fts MATCH ? AND {filter} ORDER BY logs_fts.rowid DESC"
        ),
        None => format!(
            "SELECT l.resource, l.scope, l.record FROM logs l WHERE {filter} ORDER BY l.time_ns DESC, l.hash"
        ),
    };
    if let Some(m) = fts {
        args.insert(0, m.into());
    }
    let mut st = c.prepare(&sql)?;
    // FTS5 parses the MATCH text when the statement runs: its syntax
    // errors surface here and are the query's fault (`fts_error`).
    let fts_error = crate::logsearch::fts_error;
    let mut rows = st.query(params_from_iter(args)).map_err(fts_error)?;
    let mut out: Vec<LogRow> = Vec::new();
    let mut examined = 0;
    while let Some(row) = rows.next().map_err(fts_error)? {
        examined += 1;
        let record = LogRecord::decode(row.get_ref(2)?.as_blob()?)?;
        if q.attrs.iter().all(|a| log_attr_matches(&record, a)) {
            out.push((row.get(0)?, row.get(1)?, record));
            if out.len() >= limit {
                break;
            }
        }
        if examined >= LOG_SCAN_LIMIT {
            break;
        }
    }
    out.sort_by_key(|(_, _, r)| {
        std::cmp::Reverse(if r.time_unix_nano != 0 {
            r.time_unix_nano
        } else {
            r.observed_time_unix_nano
        })
    });
    Ok(out)
}

/// Whether a record's attributes meet a condition (text compared exactly,
/// numbers numerically, like trace search).
fn log_attr_matches(r: &LogRecord, cond: &AttrCondition) -> bool {
    use loupe_model::otlp::common::any_value::Value;
    let values = r.attributes.iter().filter(|kv| kv.key == cond.key);
    let num = |v: Option<&Value>| -> Option<f64> {
        match v? {
            Value::IntValue(i) => Some(*i as f64),
            Value::DoubleValue(d) => Some(*d),
            _ => None,
        }
    };
    let text = |kv: &loupe_model::otlp::common::KeyValue| {
        loupe_model::otlp::any_value_text(kv.value.as_ref())
    };
    let mut values = values.peekable();
    match &cond.op {
        AttrOp::Exists => values.peek().is_some(),
        AttrOp::Eq(v) => values.any(|kv| {
            text(kv) == *v
                || v.parse::<f64>()
                    .ok()
                    .zip(num(kv.value.as_ref().and_then(|x| x.value.as_ref())))
                    .is_some_and(|(a, b)| a == b)
        }),
        AttrOp::Ne(v) => values.any(|kv| text(kv) != *v),
        AttrOp::Gt(x) | AttrOp::Ge(x) | AttrOp::Lt(x) | AttrOp::Le(x) => values.any(|kv| {
            num(kv.value.as_ref().and_then(|v| v.value.as_ref())).is_some_and(|n| match &cond.op {
                AttrOp::Gt(_) => n > *x,
                AttrOp::Ge(_) => n >= *x,
                AttrOp::Lt(_) => n < *x,
                _ => n <= *x,
            })
        }),
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

const SUMMARY_COLUMNS: &str =
    "t.trace_id, t.root_service, t.root_name, t.start_ns, t.end_ns, t.span_count, t.error_count, t.services";

fn summary_row(r: &rusqlite::Row) -> rusqlite::Result<TraceSummary> {
    summary_row_at(r, 0)
}

/// A summary from [`SUMMARY_COLUMNS`] starting at column `o`.
fn summary_row_at(r: &rusqlite::Row, o: usize) -> rusqlite::Result<TraceSummary> {
    let tid: Vec<u8> = r.get(o)?;
    let start = from_sql(r.get(o + 3)?);
    let end = from_sql(r.get(o + 4)?);
    let services: String = r.get(o + 7)?;
    Ok(TraceSummary {
        trace_id: hex::encode(tid),
        root_service: r.get(o + 1)?,
        root_name: r.get(o + 2)?,
        start_time_unix_nano: start,
        duration_nano: end.saturating_sub(start),
        span_count: r.get::<_, i64>(o + 5)? as u64,
        error_count: r.get::<_, i64>(o + 6)? as u64,
        services: serde_json::from_str(&services).unwrap_or_default(),
    })
}

fn summary_of(c: &Connection, trace_id: &[u8]) -> Result<Option<TraceSummary>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM traces t WHERE t.trace_id = ?1"
    ))?
    .query_row([trace_id], summary_row)
    .optional()?)
}

/// The index forms of a query value: the text's hash, and the number it
/// spells if any, so `http.status_code=500` matches the integer attribute
/// as well as the string "500".
fn eq_values(v: &str) -> Vec<SqlValue> {
    let mut out = vec![SqlValue::Blob(text_hash(v).to_vec())];
    if let Ok(i) = v.parse::<i64>() {
        out.push(SqlValue::Integer(i));
        out.push(SqlValue::Real(i as f64));
    } else if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() {
            out.push(SqlValue::Real(f));
        }
    }
    out
}

/// Traces whose postings match one condition, ascending and distinct.
fn matching_traces(c: &Connection, key: i64, op: &AttrOp) -> Result<Vec<i64>, StoreError> {
    let mut args: Vec<SqlValue> = vec![key.into()];
    let pred = match op {
        AttrOp::Exists => String::new(),
        AttrOp::Eq(v) | AttrOp::Ne(v) => {
            let vals = eq_values(v);
            let marks = vec!["?"; vals.len()].join(", ");
            args.extend(vals);
            let not = if matches!(op, AttrOp::Ne(_)) {
                "NOT "
            } else {
                ""
            };
            format!(" AND value {not}IN ({marks})")
        }
        AttrOp::Gt(x) | AttrOp::Ge(x) | AttrOp::Lt(x) | AttrOp::Le(x) => {
            let cmp = match op {
                AttrOp::Gt(_) => ">",
                AttrOp::Ge(_) => ">=",
                AttrOp::Lt(_) => "<",
                _ => "<=",
            };
            args.push((*x).into());
            // Numbers sort before text and blobs in SQLite: `value < ''`
            // keeps numbers only.
            format!(" AND value {cmp} ? AND value < ''")
        }
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT traces FROM attr_index WHERE key = ?{pred}"
    ))?;
    let mut rows = st.query(params_from_iter(args))?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        decode_ids(row.get_ref(0)?.as_blob()?, &mut ids)?;
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A set of traces: the listed ones, or every trace but the listed ones
/// (what NOT produces without enumerating all traces).
enum TraceSet {
    Only(Vec<i64>),
    AllBut(Vec<i64>),
}

impl TraceSet {
    fn not(self) -> TraceSet {
        match self {
            TraceSet::Only(v) => TraceSet::AllBut(v),
            TraceSet::AllBut(v) => TraceSet::Only(v),
        }
    }

    fn and(self, other: TraceSet) -> TraceSet {
        use TraceSet::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(intersect(&a, &b)),
            (Only(a), AllBut(b)) | (AllBut(b), Only(a)) => Only(difference(&a, &b)),
            (AllBut(a), AllBut(b)) => AllBut(union(&a, &b)),
        }
    }

    fn or(self, other: TraceSet) -> TraceSet {
        // De Morgan: a ∪ b = ¬(¬a ∩ ¬b).
        self.not().and(other.not()).not()
    }
}

/// Evaluates an expression against the attribute index. Recursive: its
/// depth is the expression's, which `loupe_query::parse_expr` bounds to
/// `MAX_EXPR_DEPTH` (plus the one AND that `search_traces` wraps around it;
/// repeated `q`s are one flat AND).
fn eval(c: &Connection, e: &Expr) -> Result<TraceSet, StoreError> {
    Ok(match e {
        Expr::Cond(AttrCondition { key, op }) => {
            let key_id: Option<i64> = c
                .prepare_cached("SELECT id FROM attr_keys WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            match key_id {
                // No span ever had this key: no trace meets the condition.
                None => TraceSet::Only(Vec::new()),
                Some(k) => TraceSet::Only(matching_traces(c, k, op)?),
            }
        }
        Expr::Not(inner) => eval(c, inner)?.not(),
        Expr::And(items) => {
            let mut acc = TraceSet::AllBut(Vec::new());
            for item in items {
                acc = acc.and(eval(c, item)?);
                if matches!(&acc, TraceSet::Only(v) if v.is_empty()) {
                    break;
                }
            }
            acc
        }
        Expr::Or(items) => {
            let mut acc = TraceSet::Only(Vec::new());
            for item in items {
                acc = acc.or(eval(c, item)?);
            }
            acc
        }
    })
}

fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y => {
                i += 1;
                *x
            }
            (Some(x), Some(y)) if y < x => {
                j += 1;
                *y
            }
            (Some(x), Some(_)) => {
                i += 1;
                j += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => break,
        };
        out.push(next);
    }
    out
}

fn difference(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter()
        .copied()
        .filter(|x| b.binary_search(x).is_err())
        .collect()
}

fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Candidate traces fetched per SQL statement when conditions narrowed the search.
const CANDIDATE_CHUNK: usize = 400;

/// Above this many candidates, a search walks the traces newest first
/// instead of fetching every candidate.
const FEW_CANDIDATES: usize = 2000;

fn search_traces(c: &Connection, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
    let mut filter = String::from("t.span_count > 0 AND ");
    let (range, [lo, hi]) = q.range.sql("t.start_ns");
    filter.push_str(&range);
    let mut args: Vec<SqlValue> = vec![lo.into(), hi.into()];
    if q.errors_only {
        filter.push_str(" AND t.error_count > 0");
    }
    if let Some(min) = q.min_duration_ns {
        filter.push_str(" AND (t.end_ns - t.start_ns) >= ?");
        args.push(to_sql(min).into());
    }
    if let Some(max) = q.max_duration_ns {
        filter.push_str(" AND (t.end_ns - t.start_ns) <= ?");
        args.push(to_sql(max).into());
    }
    let mut conds: Vec<Expr> = Vec::new();
    let cond = |key: &str, op: AttrOp| {
        Expr::Cond(AttrCondition {
            key: key.to_string(),
            op,
        })
    };
    if let Some(s) = &q.service {
        conds.push(cond("service.name", AttrOp::Eq(s.clone())));
    }
    if let Some(n) = &q.span_name {
        conds.push(cond(KEY_SPAN_NAME, AttrOp::Eq(n.clone())));
    }
    conds.extend(q.attrs.iter().map(|a| Expr::Cond(a.clone())));
    conds.extend(q.expr.iter().cloned());
    let limit = q.limit.max(1);

    if conds.is_empty() {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM traces t WHERE {filter} ORDER BY t.start_ns DESC LIMIT {limit}");
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), summary_row)?;
        return Ok(rows.collect::<Result<_, _>>()?);
    }

    // Narrow down with the attribute index, then apply the trace filters to
    // the candidates.
    let (candidates, negated) = match eval(c, &Expr::And(conds))? {
        TraceSet::Only(ids) => (ids, false),
        TraceSet::AllBut(ids) => (ids, true),
    };
    if !negated && candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<TraceSummary> = Vec::new();
    if negated || candidates.len() > FEW_CANDIDATES {
        // Many matches (or all but some): walk the traces newest first and
        // keep the matching ones; matches are dense, so this stops early.
        let sql = format!(
            "SELECT t.id, {SUMMARY_COLUMNS} FROM traces t WHERE {filter} ORDER BY t.start_ns DESC"
        );
        let mut st = c.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if candidates.binary_search(&id).is_ok() != negated {
                out.push(summary_row_at(row, 1)?);
                if out.len() >= limit {
                    break;
                }
            }
        }
        return Ok(out);
    }
    // Few matches: fetch them all and order exactly.
    for chunk in candidates.chunks(CANDIDATE_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql =
            format!("SELECT {SUMMARY_COLUMNS} FROM traces t WHERE t.id IN ({marks}) AND {filter}");
        let mut st = c.prepare_cached(&sql)?;
        let all = chunk
            .iter()
            .map(|&i| SqlValue::Integer(i))
            .chain(args.iter().cloned());
        let rows = st.query_map(params_from_iter(all), summary_row)?;
        for r in rows {
            out.push(r?);
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.start_time_unix_nano));
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(v: &[i64]) -> TraceSet {
        TraceSet::Only(v.to_vec())
    }

    /// Materializes a set over a universe, to compare with plain set logic.
    fn members(s: TraceSet, universe: &[i64]) -> Vec<i64> {
        match s {
            TraceSet::Only(v) => v,
            TraceSet::AllBut(v) => difference(universe, &v),
        }
    }

    #[test]
    fn set_algebra_matches_plain_sets() {
        let u: Vec<i64> = (1..=8).collect();
        let a = [1, 2, 3, 5];
        let b = [2, 5, 7];
        assert_eq!(members(only(&a).and(only(&b)), &u), vec![2, 5]);
        assert_eq!(members(only(&a).or(only(&b)), &u), vec![1, 2, 3, 5, 7]);
        assert_eq!(members(only(&a).not(), &u), vec![4, 6, 7, 8]);
        assert_eq!(members(only(&a).and(only(&b).not()), &u), vec![1, 3]);
        assert_eq!(
            members(only(&a).not().and(only(&b).not()), &u),
            vec![4, 6, 8]
        );
        assert_eq!(
            members(only(&a).not().or(only(&b)), &u),
            vec![2, 4, 5, 6, 7, 8]
        );
        assert_eq!(union(&[1, 4], &[2, 4, 9]), vec![1, 2, 4, 9]);
    }
}
