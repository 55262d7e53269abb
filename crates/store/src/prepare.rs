//! Turns a validated batch into rows, on the submitting thread.
//!
//! Everything CPU-heavy (protobuf encoding, compression, hashing, collecting
//! index pairs) happens here so that the single writer thread only runs SQL.
//! The prepared form assumes every span is new; the writer re-encodes a chunk
//! in the rare case that some spans were already stored.

use std::collections::{HashMap, HashSet};

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::otlp::common::KeyValueList;
use loupe_model::otlp::logs::ScopeLogs;
use loupe_model::otlp::metrics::{metric::Data, Metric};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{status, ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::{self, common::InstrumentationScope};
use loupe_model::query::MetricKind;
use loupe_model::sink::Batch;

use crate::codec::{self, IndexRef, IndexValue, PreHashedBuild};
use crate::correlate::{CorrValue, Correlator};
use loupe_model::correlation::JoinRule;

/// A resource or scope, interned by content hash.
#[derive(Clone)]
pub(crate) struct Envelope {
    pub hash: i64,
    pub body: Vec<u8>,
    /// Service name for a resource, scope name for a scope.
    pub label: Option<String>,
}

/// A telemetry batch as the writer stores it.
pub(crate) enum Prepared {
    Traces(PreparedTraces),
    Logs(PreparedLogs),
    Metrics(PreparedMetrics),
}

impl Prepared {
    /// Approximate memory held, for the writer queue's byte budget.
    pub fn weight(&self) -> usize {
        match self {
            Prepared::Traces(t) => t
                .groups
                .iter()
                .map(|g| g.chunk.len() + g.spans.len() * 64)
                .sum(),
            Prepared::Logs(l) => l
                .records
                .iter()
                .map(|r| r.record.len() + r.fts_body.len() + r.fts_attrs.len() + 64)
                .sum(),
            Prepared::Metrics(m) => m
                .metrics
                .iter()
                .map(|x| x.points.iter().map(|p| p.point.len() + 64).sum::<usize>())
                .sum(),
        }
    }
}

#[derive(Default)]
struct Interner {
    envelopes: Vec<Envelope>,
    by_hash: HashMap<i64, usize>,
}

impl Interner {
    fn add(&mut self, body: Vec<u8>, label: Option<String>) -> usize {
        let hash = codec::hash(&body);
        *self.by_hash.entry(hash).or_insert_with(|| {
            self.envelopes.push(Envelope { hash, body, label });
            self.envelopes.len() - 1
        })
    }
}

fn resource_envelope(ri: &mut Interner, resource: Option<&Resource>, schema_url: &str) -> usize {
    let body = codec::encode(&ResourceSpans {
        resource: resource.cloned(),
        scope_spans: Vec::new(),
        schema_url: schema_url.to_string(),
    });
    ri.add(body, otlp::service_name(resource).map(str::to_string))
}

fn scope_envelope(
    si: &mut Interner,
    scope: Option<&InstrumentationScope>,
    schema_url: &str,
) -> usize {
    let body = codec::encode(&ScopeSpans {
        scope: scope.cloned(),
        spans: Vec::new(),
        schema_url: schema_url.to_string(),
    });
    si.add(
        body,
        Some(scope.map(|s| s.name.clone()).unwrap_or_default()),
    )
}

// ---------------------------------------------------------------- traces

pub(crate) struct PreparedSpan {
    pub span_id: i64,
    /// Byte range of this span's length-delimited record in the group's
    /// uncompressed chunk.
    pub range: std::ops::Range<usize>,
    pub start: u64,
    pub end: u64,
    pub error: bool,
    pub root: bool,
    /// The parent span's ID, when it names a valid one (a zero or
    /// malformed parent is no parent): what the trace's missing parents
    /// are counted from.
    pub parent: Option<i64>,
    pub name: String,
    pub links: Vec<([u8; 16], i64)>,
}

/// The spans of one trace under one resource and scope.
pub(crate) struct SpanGroup {
    pub resource: usize,
    pub scope: usize,
    pub service: Option<String>,
    pub spans: Vec<PreparedSpan>,
    /// Index of the trace in `PreparedTraces::traces`.
    pub trace: usize,
    /// The spans encoded as `ScopeSpans.spans` fields, uncompressed; only
    /// while preparing (queued batches keep just the compressed chunk).
    pub raw: Vec<u8>,
    /// The spans encoded as `ScopeSpans.spans` fields, compressed.
    pub chunk: Vec<u8>,
}

/// One distinct (key, value) of the batch and the traces (indices into
/// `PreparedTraces::traces`, in the order the pair was first seen for
/// them: not ascending when spans of traces interleave) that carry it.
pub(crate) struct Posting {
    pub key: String,
    pub value: IndexValue,
    pub traces: Vec<usize>,
}

pub(crate) struct PreparedTraces {
    pub resources: Vec<Envelope>,
    pub scopes: Vec<Envelope>,
    /// Distinct trace IDs of the batch, in first-seen order.
    pub traces: Vec<[u8; 16]>,
    pub groups: Vec<SpanGroup>,
    pub postings: Vec<Posting>,
    /// The join rules' values the batch's traces carry.
    pub corr: Vec<CorrValue>,
}

impl PreparedTraces {
    fn post(
        &mut self,
        seen: &mut HashMap<u64, usize, PreHashedBuild>,
        key: &str,
        v: IndexValue,
        pair: u64,
        trace: usize,
    ) {
        let slot = *seen.entry(pair).or_insert_with(|| {
            self.postings.push(Posting {
                key: key.to_string(),
                value: v,
                traces: Vec::new(),
            });
            self.postings.len() - 1
        });
        let list = &mut self.postings[slot].traces;
        if list.last() != Some(&trace) {
            list.push(trace);
        }
    }
}

/// Encodes `span` as field 2 of `ScopeSpans`, so concatenated records form a
/// valid `ScopeSpans` message.
fn encode_span_field(span: &Span, out: &mut Vec<u8>) {
    prost::encoding::message::encode(2, span, out);
}

fn prepare_traces(req: otlp::ExportTraceServiceRequest, rules: &[JoinRule]) -> PreparedTraces {
    let mut ri = Interner::default();
    let mut si = Interner::default();
    let mut corr = Correlator::new(rules);
    let mut out = PreparedTraces {
        resources: Vec::new(),
        scopes: Vec::new(),
        traces: Vec::new(),
        groups: Vec::new(),
        postings: Vec::new(),
        corr: Vec::new(),
    };
    let mut trace_index: HashMap<[u8; 16], usize> = HashMap::new();
    let mut group_index: HashMap<([u8; 16], usize, usize), usize> = HashMap::new();
    // Postings are per trace: remember which pairs each trace already has
    // (pair hash, trace) so repeated values cost one hash lookup.
    let mut seen_pairs: HashSet<(u64, usize), PreHashedBuild> = HashSet::default();
    let mut slots: HashMap<u64, usize, PreHashedBuild> = HashMap::default();

    for rs in &req.resource_spans {
        let r = resource_envelope(&mut ri, rs.resource.as_ref(), &rs.schema_url);
        let service = otlp::service_name(rs.resource.as_ref()).map(str::to_string);
        let mut envelope_pairs: Vec<(&str, IndexRef)> = Vec::new();
        if let Some(res) = &rs.resource {
            for kv in &res.attributes {
                envelope_pairs.push((&kv.key, IndexRef::of(kv.value.as_ref())));
            }
        }
        let resource_pairs = envelope_pairs.len();
        for ss in &rs.scope_spans {
            let s = scope_envelope(&mut si, ss.scope.as_ref(), &ss.schema_url);
            envelope_pairs.truncate(resource_pairs);
            if let Some(scope) = &ss.scope {
                envelope_pairs.push((codec::KEY_SCOPE_NAME, IndexRef::Text(&scope.name)));
                for kv in &scope.attributes {
                    envelope_pairs.push((&kv.key, IndexRef::of(kv.value.as_ref())));
                }
            }
            for sp in &ss.spans {
                // The receiver validated IDs; skip defensively rather than panic.
                let (Ok(tid), Ok(sid)) = (
                    TraceId::from_bytes(&sp.trace_id),
                    SpanId::from_bytes(&sp.span_id),
                ) else {
                    continue;
                };
                let ti = *trace_index.entry(tid.0).or_insert_with(|| {
                    out.traces.push(tid.0);
                    out.traces.len() - 1
                });
                let gi = *group_index.entry((tid.0, r, s)).or_insert_with(|| {
                    out.groups.push(SpanGroup {
                        trace: ti,
                        resource: r,
                        scope: s,
                        service: service.clone(),
                        spans: Vec::new(),
                        raw: Vec::new(),
                        chunk: Vec::new(),
                    });
                    out.groups.len() - 1
                });
                let pairs = envelope_pairs
                    .iter()
                    .copied()
                    .chain(std::iter::once((
                        codec::KEY_SPAN_NAME,
                        IndexRef::Text(&sp.name),
                    )))
                    .chain(
                        sp.attributes
                            .iter()
                            .map(|kv| (kv.key.as_str(), IndexRef::of(kv.value.as_ref()))),
                    );
                for (k, v) in pairs {
                    let v = v.into_value();
                    let pair = v.pair_hash(k);
                    if seen_pairs.insert((pair, ti)) {
                        out.post(&mut slots, k, v, pair, ti);
                    }
                }
                let no_attrs: &[otlp::common::KeyValue] = &[];
                let res_attrs = rs.resource.as_ref().map_or(no_attrs, |r| &r.attributes[..]);
                corr.span(&sp.attributes, res_attrs, ti, sid.to_i64());
                let g = &mut out.groups[gi];
                let startb = g.raw.len();
                encode_span_field(sp, &mut g.raw);
                let links = sp
                    .links
                    .iter()
                    .filter_map(|l| {
                        let t = TraceId::from_bytes(&l.trace_id).ok()?;
                        let s = SpanId::from_bytes(&l.span_id).ok()?;
                        Some((t.0, s.to_i64()))
                    })
                    .collect();
                g.spans.push(PreparedSpan {
                    span_id: sid.to_i64(),
                    range: startb..g.raw.len(),
                    start: sp.start_time_unix_nano,
                    end: sp.end_time_unix_nano.max(sp.start_time_unix_nano),
                    error: sp
                        .status
                        .as_ref()
                        .is_some_and(|st| st.code == status::StatusCode::Error as i32),
                    root: sp.parent_span_id.is_empty(),
                    parent: SpanId::from_bytes(&sp.parent_span_id)
                        .ok()
                        .map(SpanId::to_i64),
                    name: sp.name.clone(),
                    links,
                });
            }
        }
    }
    for g in out.groups.iter_mut() {
        g.chunk = codec::compress(&g.raw);
        g.raw = Vec::new();
    }
    out.resources = ri.envelopes;
    out.scopes = si.envelopes;
    out.corr = corr.out;
    out
}

// ---------------------------------------------------------------- logs

pub(crate) struct PreparedLog {
    pub time: u64,
    pub hash: i64,
    pub resource: usize,
    pub scope: usize,
    pub severity: i32,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
    pub body_text: String,
    pub record: Vec<u8>,
    /// Full-text index columns (`logsearch::index_text`).
    pub fts_body: String,
    pub fts_attrs: String,
}

pub(crate) struct PreparedLogs {
    pub resources: Vec<Envelope>,
    pub scopes: Vec<Envelope>,
    pub records: Vec<PreparedLog>,
}

fn prepare_logs(req: otlp::ExportLogsServiceRequest) -> PreparedLogs {
    let mut ri = Interner::default();
    let mut si = Interner::default();
    let mut records = Vec::new();
    for rl in &req.resource_logs {
        let r = resource_envelope(&mut ri, rl.resource.as_ref(), &rl.schema_url);
        for ScopeLogs {
            scope,
            log_records,
            schema_url,
        } in &rl.scope_logs
        {
            let s = scope_envelope(&mut si, scope.as_ref(), schema_url);
            for lr in log_records {
                let record = codec::encode(lr);
                // Identity of a record: its content and where it came from.
                let mut keyed = Vec::with_capacity(record.len() + 16);
                keyed.extend_from_slice(&ri.envelopes[r].hash.to_le_bytes());
                keyed.extend_from_slice(&si.envelopes[s].hash.to_le_bytes());
                keyed.extend_from_slice(&record);
                let time = if lr.time_unix_nano != 0 {
                    lr.time_unix_nano
                } else {
                    lr.observed_time_unix_nano
                };
                let (fts_body, fts_attrs) = crate::logsearch::index_text(lr);
                records.push(PreparedLog {
                    time,
                    hash: codec::hash(&keyed),
                    resource: r,
                    scope: s,
                    severity: lr.severity_number,
                    trace_id: (!lr.trace_id.is_empty()).then(|| lr.trace_id.clone()),
                    span_id: (!lr.span_id.is_empty()).then(|| lr.span_id.clone()),
                    body_text: otlp::any_value_text(lr.body.as_ref()),
                    record,
                    fts_body,
                    fts_attrs,
                });
            }
        }
    }
    PreparedLogs {
        resources: ri.envelopes,
        scopes: si.envelopes,
        records,
    }
}

// ---------------------------------------------------------------- metrics

pub(crate) struct PreparedPoint {
    pub series_hash: i64,
    pub attributes: Vec<u8>,
    pub time: u64,
    pub point: Vec<u8>,
}

pub(crate) struct PreparedMetric {
    pub name: String,
    pub kind: MetricKind,
    pub unit: String,
    pub description: String,
    pub resource: usize,
    pub scope: usize,
    pub shell: Vec<u8>,
    pub points: Vec<PreparedPoint>,
}

pub(crate) struct PreparedMetrics {
    pub resources: Vec<Envelope>,
    pub scopes: Vec<Envelope>,
    pub metrics: Vec<PreparedMetric>,
}

/// Splits a metric into its shell (everything but the data points) and its
/// points, each without attributes (those identify the series).
/// A data point split off its metric: (attributes, time, point without attributes).
type SplitPoint = (Vec<u8>, u64, Vec<u8>);

fn split_metric(m: &Metric) -> Option<(MetricKind, Metric, Vec<SplitPoint>)> {
    let mut shell = m.clone();
    macro_rules! points {
        ($dps:expr) => {{
            let pts = $dps
                .drain(..)
                .map(|mut dp| {
                    let attrs = codec::encode(&KeyValueList {
                        values: std::mem::take(&mut dp.attributes),
                    });
                    let t = dp.time_unix_nano;
                    (attrs, t, codec::encode(&dp))
                })
                .collect::<Vec<_>>();
            pts
        }};
    }
    let (kind, pts) = match shell.data.as_mut()? {
        Data::Gauge(g) => (MetricKind::Gauge, points!(g.data_points)),
        Data::Sum(s) => (MetricKind::Sum, points!(s.data_points)),
        Data::Histogram(h) => (MetricKind::Histogram, points!(h.data_points)),
        Data::ExponentialHistogram(h) => (MetricKind::ExponentialHistogram, points!(h.data_points)),
        Data::Summary(s) => (MetricKind::Summary, points!(s.data_points)),
    };
    Some((kind, shell, pts))
}

fn prepare_metrics(req: otlp::ExportMetricsServiceRequest) -> PreparedMetrics {
    let mut ri = Interner::default();
    let mut si = Interner::default();
    let mut metrics = Vec::new();
    for rm in &req.resource_metrics {
        let r = resource_envelope(&mut ri, rm.resource.as_ref(), &rm.schema_url);
        for sm in &rm.scope_metrics {
            let s = scope_envelope(&mut si, sm.scope.as_ref(), &sm.schema_url);
            for m in &sm.metrics {
                let Some((kind, shell, pts)) = split_metric(m) else {
                    continue;
                };
                let shell = codec::encode(&shell);
                let points = pts
                    .into_iter()
                    .map(|(attributes, time, point)| {
                        let mut id = shell.clone();
                        id.extend_from_slice(&attributes);
                        PreparedPoint {
                            series_hash: codec::hash(&id),
                            attributes,
                            time,
                            point,
                        }
                    })
                    .collect();
                metrics.push(PreparedMetric {
                    name: m.name.clone(),
                    kind,
                    unit: m.unit.clone(),
                    description: m.description.clone(),
                    resource: r,
                    scope: s,
                    shell,
                    points,
                });
            }
        }
    }
    PreparedMetrics {
        resources: ri.envelopes,
        scopes: si.envelopes,
        metrics,
    }
}

/// `rules`: the join rules whose values traces are indexed by.
pub(crate) fn prepare(batch: Batch, rules: &[JoinRule]) -> Prepared {
    match batch {
        Batch::Traces(r) => Prepared::Traces(prepare_traces(r, rules)),
        Batch::Logs(r) => Prepared::Logs(prepare_logs(r)),
        Batch::Metrics(r) => Prepared::Metrics(prepare_metrics(r)),
    }
}
