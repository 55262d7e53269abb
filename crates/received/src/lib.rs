//! Received OTLP metrics as Prometheus text, for `GET /metrics/received`
//! (opt-in, `metrics.received`): the latest value
//! of every received OTLP metric series in the Prometheus text format, so
//! a real Prometheus can scrape Loupe where the seed puts a Collector with
//! a Prometheus exporter.
//!
//! The translation follows the OpenTelemetry → Prometheus compatibility
//! rules the Collector's exporter applies: names sanitized, the unit as a
//! suffix (`ms` → `_milliseconds`, `By` → `_bytes`, `1` → `_ratio` for
//! gauges, `{requests}` dropped, `X/Y` → `_X_per_Y`), monotonic cumulative
//! sums as counters with `_total`, histograms as `_bucket`/`_sum`/`_count`,
//! summaries with `quantile`; attributes become labels (sanitized), the
//! resource's `service.namespace/service.name` becomes `job` and
//! `service.instance.id` becomes `instance`, the scope name
//! `otel_scope_name`. Delta temporality and exponential histograms have no
//! cumulative Prometheus equivalent here and are skipped. Values are kept
//! in memory, updated as batches are stored; series not updated for
//! [`STALE_AFTER`] disappear, and at most [`MAX_SERIES`] are kept.
//!
//! An [`Observer`] of committed batches, like forwarding: it sees only
//! what the store acknowledged, and never slows ingest down.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loupe_model::otlp::common::KeyValue;
use loupe_model::otlp::metrics::{metric::Data, AggregationTemporality};
use loupe_model::otlp::{any_value_text, ExportMetricsServiceRequest};
use loupe_model::points::{self, PointRef};
use loupe_model::sink::{Batch, Observer};
use loupe_ops::{escape_label_value, Exposition, Kind};

/// Series kept at most; new ones beyond are ignored.
pub const MAX_SERIES: usize = 100_000;

/// A series not updated for this long is no longer exposed (the
/// Collector's exporter default).
pub const STALE_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
enum Value {
    Number(f64),
    Histogram {
        buckets: Vec<(f64, u64)>,
        sum: f64,
        count: u64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
struct Sample {
    time: u64,
    updated: Instant,
    value: Value,
}

#[derive(Debug)]
struct Family {
    kind: Kind,
    help: String,
    /// Rendered labels (`a="1",b="2"`, sorted) → latest sample.
    series: BTreeMap<String, Sample>,
}

/// The latest point of each received series.
#[derive(Default)]
pub struct ReceivedMetrics {
    families: Mutex<BTreeMap<String, Family>>,
}

/// A metric name or label name with every character outside
/// `[a-zA-Z0-9_]` (plus `:` in metric names) replaced by `_`, runs of `_`
/// collapsed, and a leading digit prefixed.
fn sanitize(name: &str, colons: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn unit_word(u: &str) -> Option<&'static str> {
    Some(match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit_word(u: &str) -> Option<&'static str> {
    Some(match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// The Prometheus suffix for an OTLP unit (empty when none applies).
fn unit_suffix(unit: &str, gauge: bool) -> String {
    // `{packets}` and `By{compressed}` annotations carry no unit.
    let mut u = String::new();
    let mut depth = 0;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = (depth - 1).max(0),
            c if depth == 0 => u.push(c),
            _ => {}
        }
    }
    let u = u.trim();
    if u.is_empty() {
        return String::new();
    }
    if u == "1" {
        return if gauge { "ratio".into() } else { String::new() };
    }
    let word = |w: &str, per: bool| -> String {
        let known = if per { per_unit_word(w) } else { unit_word(w) };
        known.map_or_else(|| sanitize(w, false), str::to_string)
    };
    match u.split_once('/') {
        Some((a, b)) if !b.is_empty() => {
            let a = a.trim();
            let b = word(b.trim(), true);
            if a.is_empty() {
                format!("per_{b}")
            } else {
                format!("{}_per_{b}", word(a, false))
            }
        }
        _ => word(u, false),
    }
}

/// The full Prometheus name of a metric.
fn prom_name(name: &str, unit: &str, gauge: bool, counter: bool) -> String {
    let mut n = sanitize(name, true);
    let suffix = unit_suffix(unit, gauge);
    let suffix = suffix.trim_matches('_');
    if !suffix.is_empty() && !n.ends_with(&format!("_{suffix}")) && n != suffix {
        n.push('_');
        n.push_str(suffix);
    }
    if counter && !n.ends_with("_total") {
        n.push_str("_total");
    }
    n
}

/// Rendered label set: sorted keys, equal sanitized keys joined with `;`.
fn labels(base: &BTreeMap<String, String>, attrs: &[KeyValue]) -> String {
    let mut all = base.clone();
    for kv in attrs {
        let key = sanitize(&kv.key, false);
        let key = if key.starts_with('_') && !kv.key.starts_with('_') {
            format!("key{key}")
        } else {
            key
        };
        let value = any_value_text(kv.value.as_ref());
        all.entry(key)
            .and_modify(|v| {
                v.push(';');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    all.iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn resource_labels(attrs: &[KeyValue], scope: &str) -> BTreeMap<String, String> {
    let get = |k: &str| {
        attrs
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| any_value_text(kv.value.as_ref()))
    };
    let mut m = BTreeMap::new();
    if let Some(name) = get("service.name") {
        let job = match get("service.namespace") {
            Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name,
        };
        m.insert("job".to_string(), job);
    }
    if let Some(i) = get("service.instance.id") {
        m.insert("instance".to_string(), i);
    }
    if !scope.is_empty() {
        m.insert("otel_scope_name".to_string(), scope.to_string());
    }
    m
}

impl ReceivedMetrics {
    fn update(&self, req: &ExportMetricsServiceRequest) {
        let now = Instant::now();
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut total: usize = families.values().map(|f| f.series.len()).sum();
        let cumulative = AggregationTemporality::Cumulative as i32;
        for m in points::metrics(req) {
            let metric = m.metric;
            let kind = match &metric.data {
                Some(Data::Gauge(_)) => Kind::Gauge,
                Some(Data::Sum(s)) if s.aggregation_temporality == cumulative => {
                    if s.is_monotonic {
                        Kind::Counter
                    } else {
                        Kind::Gauge
                    }
                }
                Some(Data::Histogram(h)) if h.aggregation_temporality == cumulative => {
                    Kind::Histogram
                }
                Some(Data::Summary(_)) => Kind::Summary,
                // Delta temporality and exponential histograms have no
                // cumulative Prometheus form here.
                _ => continue,
            };
            let name = prom_name(
                &metric.name,
                &metric.unit,
                kind == Kind::Gauge,
                kind == Kind::Counter,
            );
            let family = families.entry(name).or_insert_with(|| Family {
                kind,
                help: metric.description.clone(),
                series: BTreeMap::new(),
            });
            if family.kind != kind {
                continue;
            }
            if !metric.description.is_empty() {
                family.help.clone_from(&metric.description);
            }
            let base = resource_labels(m.resource_attributes(), m.scope_name());
            for p in m.points() {
                let Some(value) = sample_value(&p) else {
                    continue;
                };
                let time = p.time_unix_nano();
                let key = labels(&base, p.attributes());
                match family.series.get_mut(&key) {
                    Some(s) if s.time > time => {}
                    Some(s) => {
                        *s = Sample {
                            time,
                            updated: now,
                            value,
                        }
                    }
                    None if total < MAX_SERIES => {
                        total += 1;
                        family.series.insert(
                            key,
                            Sample {
                                time,
                                updated: now,
                                value,
                            },
                        );
                    }
                    None => {}
                }
            }
        }
    }

    /// The exposition of every live series.
    pub fn render(&self) -> String {
        let now = Instant::now();
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        families.retain(|_, f| {
            f.series
                .retain(|_, s| now.duration_since(s.updated) < STALE_AFTER);
            !f.series.is_empty()
        });
        let mut out = Exposition::new("");
        for (name, f) in families.iter() {
            out.family(name, &f.help, f.kind);
            for (labels, s) in &f.series {
                let parsed = parse_labels(labels);
                let l: Vec<(&str, &str)> = parsed
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                match &s.value {
                    Value::Number(v) => {
                        out.sample("", &l, *v);
                    }
                    Value::Histogram {
                        buckets,
                        sum,
                        count,
                    } => {
                        out.histogram_parts(&l, buckets, *sum, *count);
                    }
                    Value::Summary {
                        quantiles,
                        sum,
                        count,
                    } => {
                        for (q, v) in quantiles {
                            let q = q.to_string();
                            let mut lq = l.clone();
                            lq.push(("quantile", &q));
                            out.sample("", &lq, *v);
                        }
                        out.sample("_sum", &l, *sum);
                        out.sample("_count", &l, *count as f64);
                    }
                }
            }
        }
        out.finish()
    }
}

/// A point's value as exposed: numbers (a missing value is written 0, as
/// the Collector's exporter does), cumulative `le` buckets (saturating,
/// since a sender's counts may add up past u64::MAX), summary quantiles.
fn sample_value(p: &PointRef<'_>) -> Option<Value> {
    Some(match *p {
        PointRef::Gauge(_) | PointRef::Sum(..) => Value::Number(p.number().unwrap_or(0.0)),
        PointRef::Histogram(_, h) => {
            let mut acc = 0u64;
            let mut buckets: Vec<(f64, u64)> = h
                .explicit_bounds
                .iter()
                .zip(&h.bucket_counts)
                .map(|(b, n)| {
                    acc = acc.saturating_add(*n);
                    (*b, acc)
                })
                .collect();
            buckets.push((f64::INFINITY, h.count));
            Value::Histogram {
                buckets,
                sum: h.sum.unwrap_or(0.0),
                count: h.count,
            }
        }
        PointRef::Summary(s) => Value::Summary {
            quantiles: s
                .quantile_values
                .iter()
                .map(|q| (q.quantile, q.value))
                .collect(),
            sum: s.sum,
            count: s.count,
        },
        _ => return None,
    })
}

/// Splits a rendered label set back into (key, unescaped value) pairs.
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => {}
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((key, value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}

impl Observer for ReceivedMetrics {
    fn observe(&self, batch: &Arc<Batch>) {
        if let Batch::Metrics(req) = batch.as_ref() {
            self.update(req);
        }
    }
    fn wants(&self, batch: &Batch) -> bool {
        matches!(batch, Batch::Metrics(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_compatibility_rules() {
        assert_eq!(
            prom_name("http.server.request.duration", "s", false, false),
            "http_server_request_duration_seconds"
        );
        assert_eq!(
            prom_name(
                "kestra.executor.execution.started.count",
                "{execution}",
                false,
                true
            ),
            "kestra_executor_execution_started_count_total"
        );
        assert_eq!(
            prom_name("system.memory.usage", "By", true, false),
            "system_memory_usage_bytes"
        );
        assert_eq!(
            prom_name("cpu.utilization", "1", true, false),
            "cpu_utilization_ratio"
        );
        assert_eq!(prom_name("requests", "1", false, true), "requests_total");
        assert_eq!(
            prom_name("net.io", "By/s", true, false),
            "net_io_bytes_per_second"
        );
        assert_eq!(
            prom_name("latency_seconds", "s", true, false),
            "latency_seconds"
        );
        assert_eq!(prom_name("2xx-count", "", true, false), "_2xx_count");
    }

    #[test]
    fn labels_round_trip() {
        let base = BTreeMap::from([("job".to_string(), "a\"b\\c\nd".to_string())]);
        let l = labels(&base, &[]);
        assert_eq!(
            parse_labels(&l),
            vec![("job".to_string(), "a\"b\\c\nd".to_string())]
        );
    }
}
