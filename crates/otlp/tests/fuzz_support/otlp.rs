//! Valid-ish OTLP requests whose every field takes arbitrary values: IDs
//! of any length, any text, nested attribute values, every metric type
//! with extreme numbers, and many empty items (the cheapest to encode and
//! the most expensive to decode). Included with `#[path]` by the fuzz
//! tests that need OTLP (ingest, export).

#![allow(dead_code)]
use loupe_model::otlp::common::{
    any_value::Value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{
    self as pm, exponential_histogram_data_point::Buckets, metric::Data, Metric, ResourceMetrics,
    ScopeMetrics,
};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{span, ResourceSpans, ScopeSpans, Span, Status};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => Just(String::new()),
        2 => "[a-z._]{1,8}",
        1 => any::<String>(),
        1 => Just("\u{0}\u{feff}🚀".to_string()),
    ]
}

fn id() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        3 => vec(any::<u8>(), 16),
        3 => vec(any::<u8>(), 8),
        1 => vec(any::<u8>(), 0..20),
        1 => Just(vec![0; 16]),
    ]
}

fn num() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MAX)
    ]
}

fn any_value() -> BoxedStrategy<AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        text().prop_map(|s| Some(Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
        num().prop_map(|d| Some(Value::DoubleValue(d))),
        vec(any::<u8>(), 0..12).prop_map(|b| Some(Value::BytesValue(b))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            vec((text(), option::of(inner)), 0..4).prop_map(|kvs| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value,
                            ..Default::default()
                        })
                        .collect(),
                })),
            }),
        ]
    })
    .boxed()
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> + Clone {
    vec((text(), option::of(any_value())), 0..4).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value,
                ..Default::default()
            })
            .collect()
    })
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    option::of(attributes().prop_map(|attributes| Resource {
        attributes,
        ..Default::default()
    }))
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::of(
        (text(), text(), attributes()).prop_map(|(name, version, attributes)| {
            InstrumentationScope {
                name,
                version,
                attributes,
                ..Default::default()
            }
        }),
    )
}

fn span() -> impl Strategy<Value = Span> {
    prop_oneof![
        1 => Just(Span::default()),
        4 => (
            (id(), id(), id(), text(), -1i32..7, any::<u64>(), any::<u64>()),
            (attributes(), vec((text(), any::<u64>(), attributes()), 0..3), vec((id(), id(), attributes()), 0..3)),
            option::of((-1i32..4, text())),
        )
            .prop_map(|((trace_id, span_id, parent_span_id, name, kind, start, end), (attributes, events, links), status)| Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                events: events
                    .into_iter()
                    .map(|(name, time_unix_nano, attributes)| span::Event {
                        name,
                        time_unix_nano,
                        attributes,
                        ..Default::default()
                    })
                    .collect(),
                links: links
                    .into_iter()
                    .map(|(trace_id, span_id, attributes)| span::Link {
                        trace_id,
                        span_id,
                        attributes,
                        ..Default::default()
                    })
                    .collect(),
                status: status.map(|(code, message)| Status { code, message }),
                ..Default::default()
            }),
    ]
}

pub fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let ss = (scope(), vec(span(), 0..8)).prop_map(|(scope, spans)| ScopeSpans {
        scope,
        spans,
        ..Default::default()
    });
    vec(
        (resource(), vec(ss, 0..3)).prop_map(|(resource, scope_spans)| ResourceSpans {
            resource,
            scope_spans,
            ..Default::default()
        }),
        0..3,
    )
    .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    prop_oneof![
        1 => Just(LogRecord::default()),
        4 => (any::<u64>(), -1i32..30, text(), option::of(any_value()), attributes(), id(), id())
            .prop_map(|(t, severity_number, severity_text, body, attributes, trace_id, span_id)| LogRecord {
                time_unix_nano: t,
                severity_number,
                severity_text,
                body,
                attributes,
                trace_id,
                span_id,
                ..Default::default()
            }),
    ]
}

pub fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let sl = (scope(), vec(log_record(), 0..8)).prop_map(|(scope, log_records)| ScopeLogs {
        scope,
        log_records,
        ..Default::default()
    });
    vec(
        (resource(), vec(sl, 0..3)).prop_map(|(resource, scope_logs)| ResourceLogs {
            resource,
            scope_logs,
            ..Default::default()
        }),
        0..3,
    )
    .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

fn number_point() -> impl Strategy<Value = pm::NumberDataPoint> {
    (
        attributes(),
        any::<u64>(),
        num(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(|(attributes, t, d, i, as_int)| pm::NumberDataPoint {
            attributes,
            time_unix_nano: t,
            value: Some(if as_int {
                pm::number_data_point::Value::AsInt(i)
            } else {
                pm::number_data_point::Value::AsDouble(d)
            }),
            ..Default::default()
        })
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    option::of(
        (
            prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -10i32..10],
            vec(any::<u64>(), 0..6),
        )
            .prop_map(|(offset, bucket_counts)| Buckets {
                offset,
                bucket_counts,
            }),
    )
}

fn metric() -> impl Strategy<Value = Metric> {
    let data = prop_oneof![
        vec(number_point(), 0..4).prop_map(|data_points| Data::Gauge(pm::Gauge { data_points })),
        (vec(number_point(), 0..4), -1i32..3, any::<bool>()).prop_map(
            |(data_points, aggregation_temporality, is_monotonic)| Data::Sum(pm::Sum {
                data_points,
                aggregation_temporality,
                is_monotonic,
            })
        ),
        vec(
            (
                attributes(),
                any::<u64>(),
                any::<u64>(),
                vec(any::<u64>(), 0..6),
                vec(num(), 0..6),
                option::of(num())
            ),
            0..3
        )
        .prop_map(|ps| Data::Histogram(pm::Histogram {
            data_points: ps
                .into_iter()
                .map(
                    |(attributes, t, count, bucket_counts, explicit_bounds, sum)| {
                        pm::HistogramDataPoint {
                            attributes,
                            time_unix_nano: t,
                            count,
                            bucket_counts,
                            explicit_bounds,
                            sum,
                            ..Default::default()
                        }
                    }
                )
                .collect(),
            aggregation_temporality: 2,
        })),
        vec(
            (
                attributes(),
                any::<u64>(),
                any::<i32>(),
                any::<u64>(),
                buckets(),
                buckets()
            ),
            0..3
        )
        .prop_map(|ps| Data::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: ps
                .into_iter()
                .map(|(attributes, t, scale, count, positive, negative)| {
                    pm::ExponentialHistogramDataPoint {
                        attributes,
                        time_unix_nano: t,
                        scale,
                        count,
                        positive,
                        negative,
                        ..Default::default()
                    }
                })
                .collect(),
            aggregation_temporality: 2,
        })),
        vec(
            (
                attributes(),
                any::<u64>(),
                any::<u64>(),
                num(),
                vec((num(), num()), 0..4)
            ),
            0..3
        )
        .prop_map(|ps| Data::Summary(pm::Summary {
            data_points: ps
                .into_iter()
                .map(|(attributes, t, count, sum, qs)| pm::SummaryDataPoint {
                    attributes,
                    time_unix_nano: t,
                    count,
                    sum,
                    quantile_values: qs
                        .into_iter()
                        .map(
                            |(quantile, value)| pm::summary_data_point::ValueAtQuantile {
                                quantile,
                                value,
                            }
                        )
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        })),
    ];
    (text(), text(), option::of(data)).prop_map(|(name, unit, data)| Metric {
        name,
        unit,
        data,
        ..Default::default()
    })
}

pub fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let sm = (scope(), vec(metric(), 0..5)).prop_map(|(scope, metrics)| ScopeMetrics {
        scope,
        metrics,
        ..Default::default()
    });
    vec(
        (resource(), vec(sm, 0..3)).prop_map(|(resource, scope_metrics)| ResourceMetrics {
            resource,
            scope_metrics,
            ..Default::default()
        }),
        0..3,
    )
    .prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
}
