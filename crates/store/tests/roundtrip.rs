//! Property tests: OTLP in → store → read out returns the same data.
//!
//! Every case writes randomly generated export requests through the real
//! writer (the `Sink`) into a real SQLite file in a fresh temporary
//! directory, waits for the commit tickets, reads everything back through
//! the `Reader` and compares after normalization: each signal is flattened
//! into (resource envelope, scope envelope, item) rows, every part encoded to
//! protobuf bytes, and the sorted row lists must be equal. Comparing encoded
//! bytes is bit-exact (NaN payloads, -0.0 in `AnyValue`s) and gives a total
//! order; grouping and order of the answer are free.
//!
//! `PROPTEST_CASES=n` overrides the number of cases per property.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Debug;
use std::sync::Mutex;
use std::thread::JoinHandle;

use loupe_model::ids::TraceId;
use loupe_model::otlp::common::{
    any_value::Value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{
    self as pm, exponential_histogram_data_point::Buckets, metric::Data,
    summary_data_point::ValueAtQuantile, Metric, ResourceMetrics, ScopeMetrics,
};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{span, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::query::{LogQuery, TraceQuery};
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::NanoRange;
use loupe_store::read::Counts;
use loupe_store::{Retention, Store, WriterConfig};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost::Message;

// ------------------------------------------------------------ generators

fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => Just(String::new()),
        3 => "[a-z._]{1,8}",
        2 => "\\PC{1,8}",
        1 => Just("ü日本語🚀\u{200d}x\u{0}".to_string()),
    ]
}

/// Nanosecond timestamps, including 0 and values at and above `i64::MAX`.
fn nanos() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        3 => 1_600_000_000_000_000_000u64..1_800_000_000_000_000_000,
        2 => any::<u64>(),
        1 => Just(0u64),
        1 => Just(i64::MAX as u64),
        1 => Just(i64::MAX as u64 + 1),
        1 => Just(u64::MAX),
    ]
}

/// Doubles, NaN included: rows are compared as encoded bytes.
fn double() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        3 => -1e6f64..1e6,
        2 => any::<f64>(),
        1 => Just(-0.0f64),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(1e300),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
    ]
}

fn int() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        3 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(0i64),
        1 => Just(-1i64),
    ]
}

fn dropped() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![3 => Just(0u32), 1 => any::<u32>()]
}

fn key_value<S>(value: S) -> impl Strategy<Value = KeyValue> + Clone
where
    S: Strategy<Value = AnyValue> + Clone,
{
    (
        prop_oneof![4 => text(), 1 => Just("service.name".to_string())],
        option::weighted(0.9, value),
        prop_oneof![9 => Just(0i32), 1 => any::<i32>()],
    )
        .prop_map(|(key, value, key_strindex)| KeyValue {
            key,
            value,
            key_strindex,
        })
}

/// Every `AnyValue` shape: empty, scalars, bytes, nested arrays and kvlists.
fn any_value() -> BoxedStrategy<AnyValue> {
    let leaf = prop_oneof![
        1 => Just(None),
        4 => text().prop_map(|s| Some(Value::StringValue(s))),
        1 => any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        2 => int().prop_map(|i| Some(Value::IntValue(i))),
        2 => double().prop_map(|d| Some(Value::DoubleValue(d))),
        1 => vec(any::<u8>(), 0..12).prop_map(|b| Some(Value::BytesValue(b))),
        1 => any::<i32>().prop_map(|i| Some(Value::StringValueStrindex(i))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            vec(key_value(inner), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList { values })),
            }),
        ]
    })
    .boxed()
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> + Clone {
    vec(key_value(any_value()), 0..4)
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    let entity = (text(), text(), vec(text(), 0..3), vec(text(), 0..2)).prop_map(
        |(schema_url, r#type, id_keys, description_keys)| EntityRef {
            schema_url,
            r#type,
            id_keys,
            description_keys,
        },
    );
    option::weighted(
        0.9,
        (attributes(), dropped(), vec(entity, 0..2)).prop_map(
            |(attributes, dropped_attributes_count, entity_refs)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs,
            },
        ),
    )
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::weighted(
        0.9,
        (text(), text(), attributes(), dropped()).prop_map(
            |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            },
        ),
    )
}

fn nonzero<const N: usize>(mut b: [u8; N]) -> [u8; N] {
    if b.iter().all(|x| *x == 0) {
        b[N - 1] = 1;
    }
    b
}

fn trace_id() -> impl Strategy<Value = [u8; 16]> + Clone {
    any::<[u8; 16]>().prop_map(nonzero)
}

fn span_id() -> impl Strategy<Value = [u8; 8]> + Clone {
    any::<[u8; 8]>().prop_map(nonzero)
}

/// Empty or a valid trace ID.
fn opt_trace_id() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![Just(Vec::new()), trace_id().prop_map(|b| b.to_vec())]
}

/// Empty or a valid span ID.
fn opt_span_id() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![Just(Vec::new()), span_id().prop_map(|b| b.to_vec())]
}

fn event() -> impl Strategy<Value = span::Event> {
    (nanos(), text(), attributes(), dropped()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

fn link() -> impl Strategy<Value = span::Link> {
    (
        prop_oneof![6 => trace_id().prop_map(|b| b.to_vec()), 1 => Just(Vec::new())],
        span_id(),
        text(),
        attributes(),
        dropped(),
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
                span::Link {
                    trace_id,
                    span_id: span_id.to_vec(),
                    trace_state,
                    attributes,
                    dropped_attributes_count,
                    flags,
                }
            },
        )
}

/// A span whose trace ID is an index into the request's pool of trace IDs.
fn span() -> impl Strategy<Value = (Index, Span)> {
    let head = (
        any::<Index>(),
        span_id(),
        opt_span_id(),
        text(),
        any::<u32>(),
        text(),
        0i32..=5,
        nanos(),
        nanos(),
    );
    let tail = (
        attributes(),
        dropped(),
        vec(event(), 0..3),
        dropped(),
        vec(link(), 0..3),
        dropped(),
        option::of((0i32..=2, text()).prop_map(|(code, message)| Status { message, code })),
    );
    (head, tail).prop_map(
        |(
            (trace, span_id, parent_span_id, trace_state, flags, name, kind, start, end),
            (attributes, da, events, de, links, dl, status),
        )| {
            (
                trace,
                Span {
                    trace_id: Vec::new(),
                    span_id: span_id.to_vec(),
                    trace_state,
                    parent_span_id,
                    flags,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    dropped_attributes_count: da,
                    events,
                    dropped_events_count: de,
                    links,
                    dropped_links_count: dl,
                    status,
                },
            )
        },
    )
}

fn bump(id: [u8; 8]) -> [u8; 8] {
    nonzero(u64::from_be_bytes(id).wrapping_add(1).to_be_bytes())
}

/// 1-3 resources × 1-3 scopes × 1-10 spans over a pool of 1-3 trace IDs
/// (so traces spread over resources and scopes); span IDs unique per trace.
fn trace_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope_spans = (scope(), text(), vec(span(), 1..=10));
    let resource_spans = (resource(), text(), vec(scope_spans, 1..=3));
    (vec(trace_id(), 1..=3), vec(resource_spans, 1..=3)).prop_map(|(pool, rss)| {
        let mut seen = HashSet::new();
        let resource_spans = rss
            .into_iter()
            .map(|(resource, schema_url, sss)| ResourceSpans {
                resource,
                schema_url,
                scope_spans: sss
                    .into_iter()
                    .map(|(scope, schema_url, spans)| ScopeSpans {
                        scope,
                        schema_url,
                        spans: spans
                            .into_iter()
                            .map(|(ti, mut sp)| {
                                let tid = pool[ti.index(pool.len())];
                                let mut sid: [u8; 8] = sp.span_id[..].try_into().unwrap();
                                while !seen.insert((tid, sid)) {
                                    sid = bump(sid);
                                }
                                sp.trace_id = tid.to_vec();
                                sp.span_id = sid.to_vec();
                                sp
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    let head = (
        nanos(),
        nanos(),
        0i32..=24,
        text(),
        option::weighted(0.9, any_value()),
    );
    let tail = (
        attributes(),
        dropped(),
        any::<u32>(),
        opt_trace_id(),
        opt_span_id(),
        text(),
    );
    (head, tail).prop_map(
        |(
            (time, observed, severity_number, severity_text, body),
            (attributes, dropped_attributes_count, flags, trace_id, span_id, event_name),
        )| LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            flags,
            trace_id,
            span_id,
            event_name,
        },
    )
}

/// Log records are identified by content: identical records under the same
/// resource and scope are one record (the check de-duplicates the expected
/// rows, and shrinking does produce such duplicates).
fn log_request() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope_logs =
        (scope(), text(), vec(log_record(), 0..6)).prop_map(|(scope, schema_url, log_records)| {
            ScopeLogs {
                scope,
                log_records,
                schema_url,
            }
        });
    let resource_logs = (resource(), text(), vec(scope_logs, 1..=3)).prop_map(
        |(resource, schema_url, scope_logs)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        },
    );
    vec(resource_logs, 1..=3).prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

fn exemplar() -> impl Strategy<Value = pm::Exemplar> {
    (
        attributes(),
        nanos(),
        opt_span_id(),
        opt_trace_id(),
        option::of(prop_oneof![
            double().prop_map(pm::exemplar::Value::AsDouble),
            int().prop_map(pm::exemplar::Value::AsInt),
        ]),
    )
        .prop_map(
            |(filtered_attributes, time_unix_nano, span_id, trace_id, value)| pm::Exemplar {
                filtered_attributes,
                time_unix_nano,
                span_id,
                trace_id,
                value,
            },
        )
}

fn exemplars() -> impl Strategy<Value = Vec<pm::Exemplar>> {
    vec(exemplar(), 0..3)
}

fn number_point() -> impl Strategy<Value = pm::NumberDataPoint> {
    (
        nanos(),
        nanos(),
        exemplars(),
        any::<u32>(),
        option::of(prop_oneof![
            double().prop_map(pm::number_data_point::Value::AsDouble),
            int().prop_map(pm::number_data_point::Value::AsInt),
        ]),
    )
        .prop_map(
            |(start_time_unix_nano, time_unix_nano, exemplars, flags, value)| pm::NumberDataPoint {
                attributes: Vec::new(),
                start_time_unix_nano,
                time_unix_nano,
                exemplars,
                flags,
                value,
            },
        )
}

fn histogram_point() -> impl Strategy<Value = pm::HistogramDataPoint> {
    (
        (nanos(), nanos(), any::<u64>(), option::of(double())),
        (
            vec(any::<u64>(), 0..5),
            vec(double(), 0..4),
            exemplars(),
            any::<u32>(),
            option::of(double()),
            option::of(double()),
        ),
    )
        .prop_map(
            |(
                (start, time, count, sum),
                (bucket_counts, explicit_bounds, exemplars, flags, min, max),
            )| {
                pm::HistogramDataPoint {
                    attributes: Vec::new(),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count,
                    sum,
                    bucket_counts,
                    explicit_bounds,
                    exemplars,
                    flags,
                    min,
                    max,
                }
            },
        )
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    option::of(
        (any::<i32>(), vec(any::<u64>(), 0..5)).prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        }),
    )
}

fn exp_histogram_point() -> impl Strategy<Value = pm::ExponentialHistogramDataPoint> {
    (
        (
            nanos(),
            nanos(),
            any::<u64>(),
            option::of(double()),
            prop_oneof![-10i32..=20, any::<i32>()],
        ),
        (
            any::<u64>(),
            buckets(),
            buckets(),
            any::<u32>(),
            exemplars(),
        ),
        (option::of(double()), option::of(double()), double()),
    )
        .prop_map(
            |(
                (start, time, count, sum, scale),
                (zero_count, positive, negative, flags, exemplars),
                (min, max, zero_threshold),
            )| pm::ExponentialHistogramDataPoint {
                attributes: Vec::new(),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count,
                sum,
                scale,
                zero_count,
                positive,
                negative,
                flags,
                exemplars,
                min,
                max,
                zero_threshold,
            },
        )
}

fn summary_point() -> impl Strategy<Value = pm::SummaryDataPoint> {
    (
        nanos(),
        nanos(),
        any::<u64>(),
        double(),
        vec(
            (double(), double()).prop_map(|(quantile, value)| ValueAtQuantile { quantile, value }),
            0..4,
        ),
        any::<u32>(),
    )
        .prop_map(
            |(start, time, count, sum, quantile_values, flags)| pm::SummaryDataPoint {
                attributes: Vec::new(),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count,
                sum,
                quantile_values,
                flags,
            },
        )
}

/// 0-4 points, their attributes drawn from a pool of 1-2 sets, so a metric
/// has several series and a series several points.
fn points<P: Debug + Clone + 'static>(
    point: impl Strategy<Value = P> + 'static,
    set: fn(&mut P, Vec<KeyValue>),
) -> impl Strategy<Value = Vec<P>> {
    (vec(attributes(), 1..=2), vec((any::<Index>(), point), 0..5)).prop_map(move |(pool, pts)| {
        pts.into_iter()
            .map(|(i, mut p)| {
                set(&mut p, pool[i.index(pool.len())].clone());
                p
            })
            .collect()
    })
}

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        points(number_point(), |p, a| p.attributes = a)
            .prop_map(|data_points| Data::Gauge(pm::Gauge { data_points })),
        (
            points(number_point(), |p, a| p.attributes = a),
            0i32..=2,
            any::<bool>()
        )
            .prop_map(
                |(data_points, aggregation_temporality, is_monotonic)| Data::Sum(pm::Sum {
                    data_points,
                    aggregation_temporality,
                    is_monotonic,
                })
            ),
        (points(histogram_point(), |p, a| p.attributes = a), 0i32..=2).prop_map(
            |(data_points, aggregation_temporality)| Data::Histogram(pm::Histogram {
                data_points,
                aggregation_temporality,
            })
        ),
        (
            points(exp_histogram_point(), |p, a| p.attributes = a),
            0i32..=2
        )
            .prop_map(|(data_points, aggregation_temporality)| {
                Data::ExponentialHistogram(pm::ExponentialHistogram {
                    data_points,
                    aggregation_temporality,
                })
            }),
        points(summary_point(), |p, a| p.attributes = a)
            .prop_map(|data_points| Data::Summary(pm::Summary { data_points })),
    ]
}

fn metric() -> impl Strategy<Value = Metric> {
    (
        prop_oneof![Just("m0".to_string()), Just("m1".to_string()), "\\PC{0,6}"],
        prop_oneof![3 => Just(String::new()), 1 => text()],
        prop_oneof![Just(String::new()), Just("ms".to_string()), text()],
        prop_oneof![3 => Just(Vec::new()), 1 => attributes()],
        data(),
    )
        .prop_map(|(name, description, unit, metadata, data)| Metric {
            name,
            description,
            unit,
            metadata,
            data: Some(data),
        })
}

/// Runs `$body` on every data point of a metric, bound mutably to `$p`.
macro_rules! for_points {
    ($data:expr, |$p:ident| $body:expr) => {
        match $data {
            Data::Gauge(g) => g.data_points.iter_mut().for_each(|$p| $body),
            Data::Sum(s) => s.data_points.iter_mut().for_each(|$p| $body),
            Data::Histogram(h) => h.data_points.iter_mut().for_each(|$p| $body),
            Data::ExponentialHistogram(h) => h.data_points.iter_mut().for_each(|$p| $body),
            Data::Summary(s) => s.data_points.iter_mut().for_each(|$p| $body),
        }
    };
}

/// Metrics of all five types; timestamps are made distinct within each
/// series (resource, scope, metric shell, attributes) — the store keeps one
/// point per series and time — but repeat freely across series.
fn metric_request() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let scope_metrics =
        (scope(), text(), vec(metric(), 1..=4)).prop_map(|(scope, schema_url, metrics)| {
            ScopeMetrics {
                scope,
                metrics,
                schema_url,
            }
        });
    let resource_metrics = (resource(), text(), vec(scope_metrics, 1..=3)).prop_map(
        |(resource, schema_url, scope_metrics)| ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        },
    );
    vec(resource_metrics, 1..=3).prop_map(|mut resource_metrics| {
        let mut seen: HashSet<(Vec<u8>, u64)> = HashSet::new();
        for rm in &mut resource_metrics {
            let renv = resource_env(&rm.resource, &rm.schema_url);
            for sm in &mut rm.scope_metrics {
                let senv = scope_env(&sm.scope, &sm.schema_url);
                for m in &mut sm.metrics {
                    let shell = shell_of(m).encode_to_vec();
                    let data = m.data.as_mut().expect("generated with data");
                    for_points!(data, |p| {
                        let mut key = Vec::new();
                        for part in [&renv, &senv, &shell] {
                            key.extend_from_slice(&(part.len() as u64).to_le_bytes());
                            key.extend_from_slice(part);
                        }
                        key.extend(attrs_bytes(&p.attributes));
                        while !seen.insert((key.clone(), p.time_unix_nano)) {
                            p.time_unix_nano = p.time_unix_nano.wrapping_add(1);
                        }
                    });
                }
            }
        }
        ExportMetricsServiceRequest { resource_metrics }
    })
}

// ------------------------------------------------------------ normalization

/// A flattened item: its parts, each encoded to protobuf.
type Row = Vec<Vec<u8>>;

fn resource_env(resource: &Option<Resource>, schema_url: &str) -> Vec<u8> {
    ResourceSpans {
        resource: resource.clone(),
        scope_spans: Vec::new(),
        schema_url: schema_url.to_string(),
    }
    .encode_to_vec()
}

fn scope_env(scope: &Option<InstrumentationScope>, schema_url: &str) -> Vec<u8> {
    ScopeSpans {
        scope: scope.clone(),
        spans: Vec::new(),
        schema_url: schema_url.to_string(),
    }
    .encode_to_vec()
}

fn attrs_bytes(attributes: &[KeyValue]) -> Vec<u8> {
    KeyValueList {
        values: attributes.to_vec(),
    }
    .encode_to_vec()
}

/// The metric without its data points, as the store keeps it per series.
fn shell_of(m: &Metric) -> Metric {
    let mut shell = m.clone();
    if let Some(d) = shell.data.as_mut() {
        match d {
            Data::Gauge(g) => g.data_points.clear(),
            Data::Sum(s) => s.data_points.clear(),
            Data::Histogram(h) => h.data_points.clear(),
            Data::ExponentialHistogram(h) => h.data_points.clear(),
            Data::Summary(s) => s.data_points.clear(),
        }
    }
    shell
}

/// Per trace ID: rows of (span_id, resource, scope, span).
fn span_rows(req: &ExportTraceServiceRequest) -> BTreeMap<Vec<u8>, Vec<Row>> {
    let mut out: BTreeMap<Vec<u8>, Vec<Row>> = BTreeMap::new();
    for rs in &req.resource_spans {
        let r = resource_env(&rs.resource, &rs.schema_url);
        for ss in &rs.scope_spans {
            let s = scope_env(&ss.scope, &ss.schema_url);
            for sp in &ss.spans {
                out.entry(sp.trace_id.clone()).or_default().push(vec![
                    sp.span_id.clone(),
                    r.clone(),
                    s.clone(),
                    sp.encode_to_vec(),
                ]);
            }
        }
    }
    out
}

fn show_span(row: &Row) -> String {
    format!(
        "resource {:?}\n  scope {:?}\n  span {:?}",
        ResourceSpans::decode(row[1].as_slice()),
        ScopeSpans::decode(row[2].as_slice()),
        Span::decode(row[3].as_slice())
    )
}

/// Rows of (resource, scope, record).
fn log_rows(req: &ExportLogsServiceRequest) -> Vec<Row> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let r = resource_env(&rl.resource, &rl.schema_url);
        for sl in &rl.scope_logs {
            let s = scope_env(&sl.scope, &sl.schema_url);
            for lr in &sl.log_records {
                out.push(vec![r.clone(), s.clone(), lr.encode_to_vec()]);
            }
        }
    }
    out
}

fn show_log(row: &Row) -> String {
    format!(
        "resource {:?}\n  scope {:?}\n  record {:?}",
        ResourceSpans::decode(row[0].as_slice()),
        ScopeSpans::decode(row[1].as_slice()),
        LogRecord::decode(row[2].as_slice())
    )
}

/// Per metric name: rows of (resource, scope, shell, kind, data point).
fn metric_rows(req: &ExportMetricsServiceRequest) -> BTreeMap<String, Vec<Row>> {
    let mut out: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for rm in &req.resource_metrics {
        let r = resource_env(&rm.resource, &rm.schema_url);
        for sm in &rm.scope_metrics {
            let s = scope_env(&sm.scope, &sm.schema_url);
            for m in &sm.metrics {
                let shell = shell_of(m).encode_to_vec();
                let rows = out.entry(m.name.clone()).or_default();
                let mut push = |kind: u8, point: Vec<u8>| {
                    rows.push(vec![r.clone(), s.clone(), shell.clone(), vec![kind], point])
                };
                match &m.data {
                    None => {}
                    Some(Data::Gauge(g)) => g
                        .data_points
                        .iter()
                        .for_each(|p| push(0, p.encode_to_vec())),
                    Some(Data::Sum(x)) => x
                        .data_points
                        .iter()
                        .for_each(|p| push(1, p.encode_to_vec())),
                    Some(Data::Histogram(h)) => h
                        .data_points
                        .iter()
                        .for_each(|p| push(2, p.encode_to_vec())),
                    Some(Data::ExponentialHistogram(h)) => h
                        .data_points
                        .iter()
                        .for_each(|p| push(3, p.encode_to_vec())),
                    Some(Data::Summary(x)) => x
                        .data_points
                        .iter()
                        .for_each(|p| push(4, p.encode_to_vec())),
                }
            }
        }
    }
    out
}

fn show_metric(row: &Row) -> String {
    let point = match row[3][0] {
        0 | 1 => format!("{:?}", pm::NumberDataPoint::decode(row[4].as_slice())),
        2 => format!("{:?}", pm::HistogramDataPoint::decode(row[4].as_slice())),
        3 => format!(
            "{:?}",
            pm::ExponentialHistogramDataPoint::decode(row[4].as_slice())
        ),
        _ => format!("{:?}", pm::SummaryDataPoint::decode(row[4].as_slice())),
    };
    format!(
        "resource {:?}\n  scope {:?}\n  metric {:?}\n  point {point}",
        ResourceSpans::decode(row[0].as_slice()),
        ScopeSpans::decode(row[1].as_slice()),
        Metric::decode(row[2].as_slice()),
    )
}

fn clip(mut s: String) -> String {
    if s.len() > 3000 {
        let mut end = 3000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …");
    }
    s
}

/// Fails unless `actual` holds exactly the rows of `expected`, in any order.
fn same_rows(
    what: &str,
    mut expected: Vec<Row>,
    mut actual: Vec<Row>,
    show: fn(&Row) -> String,
) -> Result<(), TestCaseError> {
    expected.sort();
    actual.sort();
    if expected == actual {
        return Ok(());
    }
    // Multiset differences, for the report.
    let (mut i, mut j) = (0, 0);
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    while i < expected.len() || j < actual.len() {
        match (expected.get(i), actual.get(j)) {
            (Some(e), Some(a)) if e == a => {
                i += 1;
                j += 1;
            }
            (Some(e), Some(a)) if e < a => {
                missing.push(e);
                i += 1;
            }
            (Some(_), Some(a)) | (None, Some(a)) => {
                extra.push(a);
                j += 1;
            }
            (Some(e), None) => {
                missing.push(e);
                i += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    let mut msg = format!(
        "{what}: expected {} rows, read back {}; {} missing, {} unexpected",
        expected.len(),
        actual.len(),
        missing.len(),
        extra.len()
    );
    for r in missing.iter().take(3) {
        msg.push_str(&format!("\nMISSING {}", clip(show(r))));
    }
    for r in extra.iter().take(3) {
        msg.push_str(&format!("\nREAD BACK {}", clip(show(r))));
    }
    Err(TestCaseError::fail(msg))
}

// ------------------------------------------------------------ expected state

fn expected_counts(
    traces: &ExportTraceServiceRequest,
    logs: &ExportLogsServiceRequest,
    metrics: &ExportMetricsServiceRequest,
) -> Counts {
    let spans = span_rows(traces);
    let log_records: BTreeSet<Row> = log_rows(logs).into_iter().collect();
    Counts {
        traces: spans.len() as u64,
        spans: spans.values().map(|v| v.len() as u64).sum(),
        log_records: log_records.len() as u64,
        data_points: metric_rows(metrics).values().map(|v| v.len() as u64).sum(),
    }
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn check_traces(store: &Store, req: &ExportTraceServiceRequest) -> Result<(), TestCaseError> {
    let expected = span_rows(req);
    for (tid, rows) in &expected {
        let id = TraceId::from_bytes(tid).map_err(fail)?;
        let got = store
            .reader
            .trace(id)
            .map_err(fail)?
            .ok_or_else(|| fail(format!("trace {id} not found")))?;
        let mut got_rows = span_rows(&got);
        let actual = got_rows.remove(&tid[..]).unwrap_or_default();
        prop_assert!(
            got_rows.is_empty(),
            "trace {id} answered spans of other traces"
        );
        same_rows(&format!("trace {id}"), rows.clone(), actual, show_span)?;
    }

    // The summaries agree with the spans.
    let found = store
        .reader
        .search_traces(&TraceQuery {
            limit: 10_000,
            ..Default::default()
        })
        .map_err(fail)?;
    let found_ids: BTreeSet<String> = found.iter().map(|s| s.trace_id.clone()).collect();
    let want_ids: BTreeSet<String> = expected.keys().map(hex::encode).collect();
    prop_assert_eq!(&found_ids, &want_ids, "search over all time");
    prop_assert_eq!(found.len(), want_ids.len(), "search answered a trace twice");
    for s in &found {
        let spans: Vec<Span> = expected[&hex::decode(&s.trace_id).unwrap()]
            .iter()
            .map(|r| Span::decode(r[3].as_slice()).unwrap())
            .collect();
        let start = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap();
        let end = spans
            .iter()
            .map(|s| s.end_time_unix_nano.max(s.start_time_unix_nano))
            .max()
            .unwrap();
        let errors = spans
            .iter()
            .filter(|s| s.status.as_ref().is_some_and(|st| st.code == 2))
            .count() as u64;
        prop_assert_eq!(
            s.span_count,
            spans.len() as u64,
            "span count of {}",
            s.trace_id
        );
        prop_assert_eq!(s.error_count, errors, "error count of {}", s.trace_id);
        prop_assert_eq!(s.start_time_unix_nano, start, "start of {}", s.trace_id);
        prop_assert_eq!(s.duration_nano, end - start, "duration of {}", s.trace_id);
    }
    Ok(())
}

fn check_logs(store: &Store, req: &ExportLogsServiceRequest) -> Result<(), TestCaseError> {
    let mut expected = log_rows(req);
    expected.sort();
    expected.dedup();
    let got = store
        .reader
        .logs(&LogQuery {
            limit: 10_000,
            ..Default::default()
        })
        .map_err(fail)?;
    same_rows("logs", expected, log_rows(&got), show_log)
}

fn check_metrics(store: &Store, req: &ExportMetricsServiceRequest) -> Result<(), TestCaseError> {
    let expected = metric_rows(req);
    for (name, rows) in &expected {
        let got = store
            .reader
            .metric_points(name, NanoRange::default())
            .map_err(fail)?;
        let mut got_rows = metric_rows(&got);
        let actual = got_rows.remove(name).unwrap_or_default();
        prop_assert!(
            got_rows.is_empty(),
            "metric_points({name:?}) answered other metrics"
        );
        same_rows(
            &format!("metric {name:?}"),
            rows.clone(),
            actual,
            show_metric,
        )?;
    }

    // The catalogue lists each (name, kind, unit) with its number of series.
    let mut want: BTreeMap<(String, i64, String), BTreeSet<Row>> = BTreeMap::new();
    for rm in &req.resource_metrics {
        let r = resource_env(&rm.resource, &rm.schema_url);
        for sm in &rm.scope_metrics {
            let s = scope_env(&sm.scope, &sm.schema_url);
            for m in &sm.metrics {
                let kind = match &m.data {
                    Some(Data::Gauge(_)) => 0,
                    Some(Data::Sum(_)) => 1,
                    Some(Data::Histogram(_)) => 2,
                    Some(Data::ExponentialHistogram(_)) => 3,
                    Some(Data::Summary(_)) => 4,
                    None => continue,
                };
                let series = want
                    .entry((m.name.clone(), kind, m.unit.clone()))
                    .or_default();
                let shell = shell_of(m).encode_to_vec();
                let mut m = m.clone();
                for_points!(m.data.as_mut().unwrap(), |p| {
                    series.insert(vec![
                        r.clone(),
                        s.clone(),
                        shell.clone(),
                        attrs_bytes(&p.attributes),
                    ]);
                });
            }
        }
    }
    let want: BTreeMap<(String, i64, String), u64> =
        want.into_iter().map(|(k, v)| (k, v.len() as u64)).collect();
    let got: BTreeMap<(String, i64, String), u64> = store
        .reader
        .metrics()
        .map_err(fail)?
        .into_iter()
        .map(|m| ((m.name, m.kind.code(), m.unit), m.series))
        .collect();
    prop_assert_eq!(got, want, "metrics(): (name, kind, unit) -> series");
    Ok(())
}

// ------------------------------------------------------------ harness

fn open_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .expect("open store");
    (store, dir)
}

/// Stores being closed in the background; `run` joins them.
static CLOSING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Closes the store off the test thread (closing waits up to 200 ms for the
/// checkpoint thread to notice), then removes its directory.
fn dispose(store: Store, dir: tempfile::TempDir) {
    let handle = std::thread::spawn(move || {
        drop(store);
        drop(dir);
    });
    CLOSING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(handle);
}

fn join_closing() {
    let handles = std::mem::take(&mut *CLOSING.lock().unwrap_or_else(|e| e.into_inner()));
    for h in handles {
        let _ = h.join();
    }
}

/// Submits every batch, then waits for all tickets.
fn submit(store: &Store, batches: Vec<Batch>) -> Result<(), TestCaseError> {
    let tickets = batches
        .into_iter()
        .map(|b| store.writer.submit(b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(fail)?;
    rt.block_on(async {
        for t in tickets {
            t.wait().await.map_err(fail)?;
        }
        Ok(())
    })
}

fn run<S>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, test);
    join_closing();
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn empty_traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::default()
}
fn empty_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest::default()
}
fn empty_metrics() -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest::default()
}

// ------------------------------------------------------------ properties

#[test]
fn traces_round_trip() {
    run(64, trace_request(), |req| {
        let (store, dir) = open_store();
        let result = (|| {
            submit(&store, vec![Batch::Traces(req.clone())])?;
            check_traces(&store, &req)?;
            let counts = store.reader.counts().map_err(fail)?;
            prop_assert_eq!(
                counts,
                expected_counts(&req, &empty_logs(), &empty_metrics())
            );
            Ok(())
        })();
        dispose(store, dir);
        result
    });
}

#[test]
fn logs_round_trip() {
    run(64, log_request(), |req| {
        let (store, dir) = open_store();
        let result = (|| {
            submit(&store, vec![Batch::Logs(req.clone())])?;
            check_logs(&store, &req)?;
            let counts = store.reader.counts().map_err(fail)?;
            prop_assert_eq!(
                counts,
                expected_counts(&empty_traces(), &req, &empty_metrics())
            );
            Ok(())
        })();
        dispose(store, dir);
        result
    });
}

#[test]
fn metrics_round_trip() {
    run(64, metric_request(), |req| {
        let (store, dir) = open_store();
        let result = (|| {
            submit(&store, vec![Batch::Metrics(req.clone())])?;
            check_metrics(&store, &req)?;
            let counts = store.reader.counts().map_err(fail)?;
            prop_assert_eq!(
                counts,
                expected_counts(&empty_traces(), &empty_logs(), &req)
            );
            Ok(())
        })();
        dispose(store, dir);
        result
    });
}

/// Keeps the items whose running index hits `true` in `mask` (cycled).
struct Mask<'a> {
    mask: &'a [bool],
    i: usize,
}

impl Mask<'_> {
    fn keep(&mut self) -> bool {
        self.i += 1;
        self.mask[(self.i - 1) % self.mask.len()]
    }
}

fn subset_traces(req: &ExportTraceServiceRequest, mask: &[bool]) -> ExportTraceServiceRequest {
    let mut m = Mask { mask, i: 0 };
    let mut out = req.clone();
    for rs in &mut out.resource_spans {
        for ss in &mut rs.scope_spans {
            ss.spans.retain(|_| m.keep());
        }
    }
    out
}

fn subset_logs(req: &ExportLogsServiceRequest, mask: &[bool]) -> ExportLogsServiceRequest {
    let mut m = Mask { mask, i: 0 };
    let mut out = req.clone();
    for rl in &mut out.resource_logs {
        for sl in &mut rl.scope_logs {
            sl.log_records.retain(|_| m.keep());
        }
    }
    out
}

fn subset_metrics(req: &ExportMetricsServiceRequest, mask: &[bool]) -> ExportMetricsServiceRequest {
    let mut m = Mask { mask, i: 0 };
    let mut out = req.clone();
    for rm in &mut out.resource_metrics {
        for sm in &mut rm.scope_metrics {
            for metric in &mut sm.metrics {
                match metric.data.as_mut() {
                    None => {}
                    Some(Data::Gauge(g)) => g.data_points.retain(|_| m.keep()),
                    Some(Data::Sum(s)) => s.data_points.retain(|_| m.keep()),
                    Some(Data::Histogram(h)) => h.data_points.retain(|_| m.keep()),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.retain(|_| m.keep()),
                    Some(Data::Summary(s)) => s.data_points.retain(|_| m.keep()),
                }
            }
        }
    }
    out
}

/// Re-sending never stores anything twice: a random part of each request
/// first, then the whole request twice (possibly committed in one group).
/// After the first whole request the store holds exactly the request; after
/// the second, counts and read-back are unchanged.
#[test]
fn resubmitting_stores_nothing_twice() {
    let strategy = (
        trace_request(),
        log_request(),
        metric_request(),
        vec(any::<bool>(), 1..8),
        any::<bool>(),
    );
    run(
        32,
        strategy,
        |(traces, logs, metrics, mask, wait_between)| {
            let (store, dir) = open_store();
            let result = (|| {
                let part = vec![
                    Batch::Traces(subset_traces(&traces, &mask)),
                    Batch::Logs(subset_logs(&logs, &mask)),
                    Batch::Metrics(subset_metrics(&metrics, &mask)),
                ];
                let whole = || {
                    vec![
                        Batch::Traces(traces.clone()),
                        Batch::Logs(logs.clone()),
                        Batch::Metrics(metrics.clone()),
                    ]
                };
                if wait_between {
                    submit(&store, part)?;
                    submit(&store, whole())?;
                } else {
                    submit(&store, part.into_iter().chain(whole()).collect())?;
                }
                let want = expected_counts(&traces, &logs, &metrics);
                let counts = store.reader.counts().map_err(fail)?;
                prop_assert_eq!(counts, want, "after part + whole");
                check_traces(&store, &traces)?;
                check_logs(&store, &logs)?;
                check_metrics(&store, &metrics)?;

                submit(&store, whole())?;
                let again = store.reader.counts().map_err(fail)?;
                prop_assert_eq!(again, counts, "after sending the whole again");
                check_traces(&store, &traces)?;
                check_logs(&store, &logs)?;
                check_metrics(&store, &metrics)?;
                Ok(())
            })();
            dispose(store, dir);
            result
        },
    );
}

// ------------------------------------------------------------ fixed cases

const BIG: [u64; 3] = [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX];

/// Timestamps at and beyond `i64::MAX` survive every signal, and all-time
/// and late ranges still find them.
#[test]
fn huge_timestamps_survive() {
    let (store, dir) = open_store();
    let resource = Some(Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue("late".into())),
            }),
            key_strindex: 0,
        }],
        ..Default::default()
    });
    let spans: Vec<Span> = BIG
        .iter()
        .enumerate()
        .map(|(i, &t)| Span {
            trace_id: [i as u8 + 1; 16].to_vec(),
            span_id: [i as u8 + 1; 8].to_vec(),
            name: format!("span {i}"),
            start_time_unix_nano: t,
            end_time_unix_nano: t,
            ..Default::default()
        })
        .collect();
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource.clone(),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource.clone(),
            scope_logs: vec![ScopeLogs {
                log_records: BIG
                    .iter()
                    .map(|&t| LogRecord {
                        time_unix_nano: t,
                        observed_time_unix_nano: t,
                        body: Some(AnyValue {
                            value: Some(Value::StringValue(format!("at {t}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource,
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "late.gauge".into(),
                    data: Some(Data::Gauge(pm::Gauge {
                        data_points: BIG
                            .iter()
                            .map(|&t| pm::NumberDataPoint {
                                start_time_unix_nano: t,
                                time_unix_nano: t,
                                value: Some(pm::number_data_point::Value::AsInt(t as i64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let result = (|| {
        submit(
            &store,
            vec![
                Batch::Traces(traces.clone()),
                Batch::Logs(logs.clone()),
                Batch::Metrics(metrics.clone()),
            ],
        )?;
        check_traces(&store, &traces)?;
        check_logs(&store, &logs)?;
        check_metrics(&store, &metrics)?;

        // The default search (all time, limit 20) finds all three.
        let found = store
            .reader
            .search_traces(&TraceQuery::default())
            .map_err(fail)?;
        let mut starts: Vec<u64> = found.iter().map(|s| s.start_time_unix_nano).collect();
        starts.sort_unstable();
        prop_assert_eq!(starts, BIG.to_vec());

        // Ranges beyond i64::MAX select exactly the late items.
        let late = NanoRange {
            start: i64::MAX as u64 + 1,
            end: u64::MAX,
        };
        let early = NanoRange {
            start: 0,
            end: i64::MAX as u64,
        };
        let n_traces = |range| {
            store
                .reader
                .search_traces(&TraceQuery {
                    range,
                    ..Default::default()
                })
                .map(|v| v.len())
        };
        prop_assert_eq!(n_traces(late).map_err(fail)?, 2);
        prop_assert_eq!(n_traces(early).map_err(fail)?, 1);
        let n_logs = |range| {
            store
                .reader
                .logs(&LogQuery {
                    range,
                    limit: 100,
                    ..Default::default()
                })
                .map(|r| log_rows(&r).len())
        };
        prop_assert_eq!(n_logs(late).map_err(fail)?, 2);
        prop_assert_eq!(n_logs(early).map_err(fail)?, 1);
        let n_points = |range| {
            store
                .reader
                .metric_points("late.gauge", range)
                .map(|r| metric_rows(&r).values().map(Vec::len).sum::<usize>())
        };
        prop_assert_eq!(n_points(late).map_err(fail)?, 2);
        prop_assert_eq!(n_points(early).map_err(fail)?, 1);
        Ok(())
    })();
    drop(store);
    drop(dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Attribute values that the trace index stores as the same value must not
/// make a batch fail: bool `true` and string "true" both index as the hash of
/// "true"; int 5 and double 5.0 are equal SQLite numbers; NaN indexes as the
/// key-only marker, like arrays, bytes and missing values. Each pair here is
/// one batch of one trace whose two spans carry attribute `k` with the two
/// values; it must store both spans, and a search on `k` must find the trace.
#[test]
fn values_the_index_stores_alike_share_a_posting() {
    use loupe_model::query::{AttrCondition, AttrOp};
    let pairs: Vec<(&str, Option<Value>, Option<Value>)> = vec![
        (
            "int vs double",
            Some(Value::IntValue(5)),
            Some(Value::DoubleValue(5.0)),
        ),
        (
            "int 0 vs double -0.0",
            Some(Value::IntValue(0)),
            Some(Value::DoubleValue(-0.0)),
        ),
        (
            "bool vs string",
            Some(Value::BoolValue(true)),
            Some(Value::StringValue("true".into())),
        ),
        ("NaN vs no value", Some(Value::DoubleValue(f64::NAN)), None),
        (
            "NaN vs array",
            Some(Value::DoubleValue(f64::NAN)),
            Some(Value::ArrayValue(ArrayValue::default())),
        ),
        (
            "NaN vs -NaN",
            Some(Value::DoubleValue(f64::NAN)),
            Some(Value::DoubleValue(-f64::NAN)),
        ),
    ];
    let mut failures = Vec::new();
    for (what, a, b) in pairs {
        let (store, dir) = open_store();
        let spans = [a, b]
            .into_iter()
            .enumerate()
            .map(|(i, value)| Span {
                trace_id: [7; 16].to_vec(),
                span_id: [i as u8 + 1; 8].to_vec(),
                attributes: vec![KeyValue {
                    key: "k".into(),
                    value: Some(AnyValue { value }),
                    key_strindex: 0,
                }],
                ..Default::default()
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let result = submit(&store, vec![Batch::Traces(req.clone())])
            .and_then(|()| check_traces(&store, &req))
            .and_then(|()| {
                let found = store
                    .reader
                    .search_traces(&TraceQuery {
                        attrs: vec![AttrCondition {
                            key: "k".into(),
                            op: AttrOp::Exists,
                        }],
                        ..Default::default()
                    })
                    .map_err(fail)?;
                prop_assert_eq!(found.len(), 1, "search k exists");
                Ok(())
            });
        if let Err(e) = result {
            failures.push(format!("{what}: {e}"));
        }
        drop(store);
        drop(dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
