//! From the OTLP points of one metric to the series a chart plots.
//!
//! Each stored series (resource, scope, attributes) is first turned into
//! values by the metric's type: gauges as they are; monotonic cumulative
//! sums as a rate per second ([`math::rate`], resets handled); delta sums as
//! the value per interval; other sums as values; histograms as percentiles
//! of each interval's buckets (cumulative histograms are differenced first);
//! summaries as their own quantiles. Then series are filtered by attribute
//! values and, when the user splits by some attributes, grouped by those
//! attributes' values and combined per pixel column (sum, avg, min or max;
//! histogram buckets are merged before percentiles are taken, because
//! percentiles cannot be averaged).
//!
//! Stored data is not trusted to be sane (imports and older databases may
//! hold points the receiver would refuse today): every count is summed with
//! saturation or in `u128`, bucket indices are aligned in `i64`, merged
//! exponential histograms stay within [`math::MAX_BUCKETS_PER_SIDE`] per
//! side, and the answer is capped ([`MAX_SERIES`], [`MAX_KEYS`],
//! [`MAX_LABEL_CHARS`], [`MAX_DISTRIBUTION_BUCKETS`]) with a note in
//! [`Plot::truncated`] instead of growing with the data.

use std::collections::{BTreeMap, BTreeSet};

use loupe_model::otlp::common::{any_value::Value, KeyValue};
use loupe_model::otlp::metrics::{
    exemplar, metric::Data, number_data_point, AggregationTemporality, Exemplar, Metric,
};
use loupe_model::otlp::ExportMetricsServiceRequest;
use loupe_model::points;
use serde::Serialize;

use crate::dist::{coarsen, intervals, Dist, Merged};
pub use crate::dist::{Bucket, MAX_DISTRIBUTION_BUCKETS};
use crate::math::{self, Cumulative, ExpBuckets, ExpHistogram};
use crate::unit::Unit;
use crate::Point;

/// Most lines a chart has. Beyond it the remaining series are left out and
/// [`Plot::truncated`] says how many there were: a hundred lines are
/// already unreadable, and each costs up to four points per pixel column.
pub const MAX_SERIES: usize = 100;

/// Most attribute keys listed for the split and filter pickers.
pub const MAX_KEYS: usize = 100;

/// Most values listed per key.
pub const MAX_VALUES_PER_KEY: usize = 50;

/// Longest series label and listed value, in characters (longer ones end
/// in `…`): attribute values can be megabytes long.
pub const MAX_LABEL_CHARS: usize = 200;

/// The exponential histogram scales the OTLP data model allows (the same
/// range the receiver enforces); stored points outside it are not charted.
pub const EXP_SCALES: std::ops::RangeInclusive<i32> = -10..=20;

/// How series that share the split attributes' values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    #[default]
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    pub fn parse(s: &str) -> Option<Aggregate> {
        Some(match s {
            "sum" => Aggregate::Sum,
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            _ => return None,
        })
    }

    fn combine(self, values: &[f64]) -> f64 {
        match self {
            Aggregate::Sum => values.iter().sum(),
            Aggregate::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Aggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// What to plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub start: u64,
    pub end: u64,
    /// Only series whose resource or point attributes have these values.
    pub filters: Vec<(String, String)>,
    /// `None`: one line per stored series. `Some(keys)`: one line per
    /// distinct value of `keys` (all series in one line when empty),
    /// combined with `aggregate`.
    pub split_by: Option<Vec<String>>,
    pub aggregate: Aggregate,
    /// Percentiles of histograms, 0..=1.
    pub quantiles: Vec<f64>,
    /// Pixel columns of the chart: the resolution of combining.
    pub columns: usize,
}

impl Selection {
    pub fn new(start: u64, end: u64) -> Selection {
        Selection {
            start,
            end,
            filters: Vec::new(),
            split_by: None,
            aggregate: Aggregate::Sum,
            quantiles: vec![0.5, 0.9, 0.99],
            columns: 800,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlotSeries {
    pub label: String,
    #[serde(skip)]
    pub points: Vec<Point>,
}

/// A mark on the chart that opens a trace.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PlotExemplar {
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub time_unix_nano: u64,
    pub value: f64,
    pub trace_id: String,
    pub span_id: String,
    /// Whether `value` is on the chart's scale (gauges, histograms); a rate
    /// chart marks exemplars on its time axis only.
    #[serde(skip)]
    pub on_scale: bool,
}

/// What [`select`] produces: lines, exemplars, and for histograms the
/// bucket distribution of the whole window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plot {
    /// What the values mean ("rate per second", "p50, p90, p99", …).
    pub meaning: String,
    /// The values' unit (the metric's, per second for rates).
    pub unit: Unit,
    pub series: Vec<PlotSeries>,
    pub exemplars: Vec<PlotExemplar>,
    pub distribution: Option<Vec<Bucket>>,
    /// How the distribution combined series with different bucket layouts
    /// (re-bucketed onto common bounds, or what was left out); `None` when
    /// they all had the same.
    pub distribution_note: Option<String>,
    /// Attribute keys of the matching series (for split and filter pickers).
    pub keys: Vec<String>,
    /// Values of each key, at most [`MAX_VALUES_PER_KEY`] per key.
    pub values: BTreeMap<String, Vec<String>>,
    /// What was left out or merged to keep the answer within its caps, one
    /// sentence each; empty when everything is shown.
    pub truncated: Vec<String>,
}

/// `s` cut to [`MAX_LABEL_CHARS`] characters.
fn short(s: &str) -> String {
    match s.char_indices().nth(MAX_LABEL_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// The values one stored series contributes.
enum Values {
    /// (sub-label, points): one line, or one per summary quantile.
    Lines(Vec<(String, Vec<Point>)>),
    /// Interval distributions (time, buckets).
    Dists(Vec<(u64, Dist)>),
}

struct StoredSeries {
    attrs: BTreeMap<String, String>,
    values: Values,
}

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        _ => loupe_model::otlp::any_value_text(kv.value.as_ref()),
    }
}

/// A number point's value; a point without one is a gap (NaN).
fn number(v: Option<&number_data_point::Value>) -> f64 {
    points::number_value(v).unwrap_or(f64::NAN)
}

fn exemplar_of(e: &Exemplar, on_scale: bool) -> Option<PlotExemplar> {
    if e.trace_id.len() != 16 {
        return None;
    }
    let value = match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => f64::NAN,
    };
    Some(PlotExemplar {
        time_unix_nano: e.time_unix_nano,
        value,
        trace_id: hex(&e.trace_id),
        span_id: hex(&e.span_id),
        on_scale,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A stored series' resource and point attributes as text, sorted.
type AttrKey = Vec<(String, String)>;

/// Collects the stored series of `req` (every metric in it is taken as the
/// same metric) that pass the filters, turned into values by type.
fn stored_series(
    req: &ExportMetricsServiceRequest,
    sel: &Selection,
) -> (String, Unit, Vec<StoredSeries>, Vec<PlotExemplar>) {
    let mut unit: Option<Unit> = None;
    let mut out = Vec::new();
    let mut exemplars = Vec::new();
    let mut meaning = String::new();
    let in_range = |t: u64| t >= sel.start && t <= sel.end;
    for m in points::metrics(req) {
        let res_attrs = m.resource_attributes();
        // The first stored shell's unit speaks for the metric.
        let metric_unit = Unit::parse(&m.metric.unit);
        unit.get_or_insert_with(|| metric_unit.clone());
        let Metric {
            data: Some(data), ..
        } = m.metric
        else {
            continue;
        };
        // Group the metric's points by their attributes: one stored series
        // each, as indices into its typed points (the walk yields them in
        // stored order).
        let mut groups: BTreeMap<AttrKey, Vec<usize>> = BTreeMap::new();
        let attrs_of = |a: &[KeyValue]| -> AttrKey {
            let mut v: Vec<(String, String)> = res_attrs
                .iter()
                .map(|kv| (kv.key.clone(), text(kv)))
                .chain(a.iter().map(|kv| (kv.key.clone(), text(kv))))
                .collect();
            v.sort();
            v
        };
        let pass = |attrs: &[(String, String)]| {
            sel.filters
                .iter()
                .all(|(k, v)| attrs.iter().any(|(ak, av)| ak == k && av == v))
        };
        // Points of one series usually come together (the store answers
        // them so): building the attribute set once per run of equal
        // attributes, not per point, is most of a large chart's time.
        let mut last: Option<(&[KeyValue], AttrKey)> = None;
        for (i, dp) in m.points().enumerate() {
            let attributes = dp.attributes();
            match &last {
                Some((a, key)) if *a == attributes => {
                    if let Some(g) = groups.get_mut(key) {
                        g.push(i);
                    }
                }
                _ => {
                    let key = attrs_of(attributes);
                    groups.entry(key.clone()).or_default().push(i);
                    last = Some((attributes, key));
                }
            }
        }
        for (attrs, idx) in groups {
            if !pass(&attrs) {
                continue;
            }
            let values = match data {
                Data::Gauge(g) => {
                    meaning = "value".into();
                    let mut pts: Vec<Point> = idx
                        .iter()
                        .map(|&i| &g.data_points[i])
                        .map(|p| {
                            exemplars
                                .extend(p.exemplars.iter().filter_map(|e| exemplar_of(e, true)));
                            Point::new(p.time_unix_nano, number(p.value.as_ref()))
                        })
                        .collect();
                    pts.sort_by_key(|p| p.t);
                    Values::Lines(vec![(String::new(), pts)])
                }
                Data::Sum(s) => {
                    let cumulative =
                        s.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                    let mut raw: Vec<_> = idx.iter().map(|&i| &s.data_points[i]).collect();
                    raw.sort_by_key(|p| p.time_unix_nano);
                    for p in &raw {
                        exemplars.extend(
                            p.exemplars
                                .iter()
                                .filter_map(|e| exemplar_of(e, !(cumulative && s.is_monotonic))),
                        );
                    }
                    let pts = if cumulative && s.is_monotonic {
                        meaning = "rate per second".into();
                        unit = Some(metric_unit.clone().rate());
                        let c: Vec<Cumulative> = raw
                            .iter()
                            .map(|p| Cumulative {
                                start: p.start_time_unix_nano,
                                t: p.time_unix_nano,
                                v: number(p.value.as_ref()),
                            })
                            .collect();
                        match c.as_slice() {
                            // One point (an exporter every 60 s, seen
                            // once): its average rate since its start,
                            // rather than nothing.
                            [one] if one.start != 0 && one.start < one.t => vec![Point::new(
                                one.t,
                                one.v / ((one.t - one.start) as f64 / 1e9),
                            )],
                            _ => math::rate(&c),
                        }
                    } else {
                        meaning = if cumulative {
                            "value"
                        } else {
                            "value per interval"
                        }
                        .into();
                        raw.iter()
                            .map(|p| Point::new(p.time_unix_nano, number(p.value.as_ref())))
                            .collect()
                    };
                    Values::Lines(vec![(String::new(), pts)])
                }
                Data::Histogram(h) => {
                    let cumulative =
                        h.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                    let mut raw: Vec<_> = idx.iter().map(|&i| &h.data_points[i]).collect();
                    raw.sort_by_key(|p| p.time_unix_nano);
                    let pts = raw
                        .iter()
                        .map(|p| {
                            exemplars
                                .extend(p.exemplars.iter().filter_map(|e| exemplar_of(e, true)));
                            let counts = if p.bucket_counts.len() == p.explicit_bounds.len() + 1 {
                                p.bucket_counts.clone()
                            } else {
                                // No buckets sent: all values in one overflow bucket.
                                vec![p.count]
                            };
                            let bounds = if counts.len() == 1 {
                                Vec::new()
                            } else {
                                p.explicit_bounds.clone()
                            };
                            (
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                Dist::Explicit { bounds, counts },
                            )
                        })
                        .collect();
                    Values::Dists(intervals(pts, cumulative, sel.start))
                }
                Data::ExponentialHistogram(h) => {
                    let cumulative =
                        h.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                    let mut raw: Vec<_> = idx.iter().map(|&i| &h.data_points[i]).collect();
                    raw.sort_by_key(|p| p.time_unix_nano);
                    let side = |b: &Option<
                        loupe_model::otlp::metrics::exponential_histogram_data_point::Buckets,
                    >| {
                        b.as_ref()
                            .map(|b| ExpBuckets {
                                offset: b.offset,
                                counts: b.bucket_counts.clone(),
                            })
                            .unwrap_or_default()
                    };
                    let pts = raw
                        .iter()
                        // A scale the data model does not allow has no
                        // meaningful bucket edges (the receiver refuses it).
                        .filter(|p| EXP_SCALES.contains(&p.scale))
                        .map(|p| {
                            exemplars
                                .extend(p.exemplars.iter().filter_map(|e| exemplar_of(e, true)));
                            let mut d = ExpHistogram {
                                scale: p.scale,
                                zero_count: p.zero_count,
                                positive: side(&p.positive),
                                negative: side(&p.negative),
                            };
                            // A point stored before the ingest caps may
                            // have more buckets than merging keeps.
                            d.fit();
                            (p.start_time_unix_nano, p.time_unix_nano, Dist::Exp(d))
                        })
                        .collect();
                    Values::Dists(intervals(pts, cumulative, sel.start))
                }
                Data::Summary(s) => {
                    meaning = "quantiles".into();
                    let mut raw: Vec<_> = idx.iter().map(|&i| &s.data_points[i]).collect();
                    raw.sort_by_key(|p| p.time_unix_nano);
                    let mut lines: BTreeMap<u64, Vec<Point>> = BTreeMap::new();
                    for p in raw {
                        for qv in &p.quantile_values {
                            let key = (qv.quantile.clamp(0.0, 1.0) * 1e6) as u64;
                            lines
                                .entry(key)
                                .or_default()
                                .push(Point::new(p.time_unix_nano, qv.value));
                        }
                    }
                    Values::Lines(
                        lines
                            .into_iter()
                            .map(|(q, pts)| (quantile_label(q as f64 / 1e6), pts))
                            .collect(),
                    )
                }
            };
            if matches!(values, Values::Dists(_)) {
                meaning = sel
                    .quantiles
                    .iter()
                    .map(|q| quantile_label(*q))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            out.push(StoredSeries {
                attrs: attrs.into_iter().collect(),
                values,
            });
        }
    }
    exemplars.retain(|e| in_range(e.time_unix_nano));
    exemplars.sort_by_key(|e| e.time_unix_nano);
    exemplars.truncate(500);
    (meaning, unit.unwrap_or_default(), out, exemplars)
}

/// A quantile's name: `p99`, `p99.9`; 1 is `max` and 0 `min`.
pub fn quantile_label(q: f64) -> String {
    match q {
        q if q >= 1.0 => "max".into(),
        q if q <= 0.0 => "min".into(),
        q => format!("p{}", (q * 1000.0).round() / 10.0),
    }
}

/// A line's label from attribute pairs.
fn label(pairs: &[(String, String)], fallback: &str) -> String {
    if pairs.is_empty() {
        return fallback.to_string();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_sub(label: String, sub: &str) -> String {
    match (label.is_empty(), sub.is_empty()) {
        (_, true) => label,
        (true, false) => sub.to_string(),
        // The percentile first: a cut label still tells p50 from p99.
        (false, false) => format!("{sub} · {label}"),
    }
}

/// Whether an attribute is noise in a legend: it names the process or
/// machine that sent the data rather than what was measured, so it is
/// shown only when the user splits by it or when nothing else tells two
/// lines apart.
pub fn is_noise(key: &str) -> bool {
    key == "service.instance.id"
        || key == "process.pid"
        || [
            "telemetry.sdk.",
            "telemetry.distro.",
            "host.",
            "os.",
            "process.runtime.",
        ]
        .iter()
        .any(|p| key.starts_with(p))
}

/// The attribute keys that label one line per stored series: those whose
/// values differ between the series, noise left out unless without it two
/// series would get the same label.
fn legend_keys<'a>(keys: &'a BTreeSet<String>, stored: &[StoredSeries]) -> BTreeSet<&'a String> {
    let varying: BTreeSet<&String> = keys
        .iter()
        .filter(|k| {
            let mut vals = stored.iter().map(|s| s.attrs.get(*k));
            let first = vals.next().flatten();
            vals.any(|v| v != first)
        })
        .collect();
    let quiet: BTreeSet<&String> = varying.iter().copied().filter(|k| !is_noise(k)).collect();
    let mut seen = BTreeSet::new();
    let distinct = stored.iter().all(|s| {
        let label: Vec<(&String, &String)> =
            s.attrs.iter().filter(|(k, _)| quiet.contains(k)).collect();
        seen.insert(label)
    });
    if distinct {
        quiet
    } else {
        varying
    }
}

/// The pixel column of a time, for combining.
fn column(t: u64, sel: &Selection) -> usize {
    let span = sel.end.saturating_sub(sel.start).max(1) as f64;
    let c = (t.saturating_sub(sel.start) as f64 / span * sel.columns.max(1) as f64) as usize;
    c.min(sel.columns.max(1) - 1)
}

/// Combines lines per pixel column: in each column, each line's last value,
/// combined across lines; the point's time is the latest contributing one.
fn combine_lines(lines: &[&Vec<Point>], sel: &Selection) -> Vec<Point> {
    let mut cols: BTreeMap<usize, (u64, Vec<f64>)> = BTreeMap::new();
    for line in lines {
        let mut last: BTreeMap<usize, Point> = BTreeMap::new();
        for p in line
            .iter()
            .filter(|p| p.t >= sel.start && p.t <= sel.end && !p.v.is_nan())
        {
            last.insert(column(p.t, sel), *p);
        }
        for (c, p) in last {
            let e = cols.entry(c).or_insert((0, Vec::new()));
            e.0 = e.0.max(p.t);
            e.1.push(p.v);
        }
    }
    cols.into_values()
        .map(|(t, vs)| Point::new(t, sel.aggregate.combine(&vs)))
        .collect()
}

/// Merges interval distributions per pixel column and takes percentiles;
/// a note when series with different bucket layouts had to be combined.
fn combine_dists(
    dists: &[&Vec<(u64, Dist)>],
    sel: &Selection,
) -> (Vec<(String, Vec<Point>)>, Option<String>) {
    let mut cols: BTreeMap<usize, (u64, Merged)> = BTreeMap::new();
    for ds in dists {
        for (t, d) in ds.iter().filter(|(t, _)| *t >= sel.start && *t <= sel.end) {
            let e = cols.entry(column(*t, sel)).or_default();
            e.0 = e.0.max(*t);
            e.1.add(d);
        }
    }
    let note = cols.values().find_map(|(_, m)| m.note());
    let lines = sel
        .quantiles
        .iter()
        .map(|&q| {
            let pts = cols
                .values()
                .map(|(t, m)| {
                    let v = m.dist.as_ref().and_then(|d| d.quantile(q));
                    Point::new(*t, v.unwrap_or(f64::NAN))
                })
                .collect();
            (quantile_label(q), pts)
        })
        .collect();
    (lines, note)
}

/// Turns the OTLP points of one metric into the lines to plot.
pub fn select(req: &ExportMetricsServiceRequest, metric_name: &str, sel: &Selection) -> Plot {
    let (meaning, unit, stored, exemplars) = stored_series(req, sel);
    let mut truncated = Vec::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut more_keys = false;
    for s in &stored {
        for (k, v) in &s.attrs {
            if !keys.contains(k) {
                if keys.len() >= MAX_KEYS {
                    more_keys = true;
                    continue;
                }
                keys.insert(k.clone());
            }
            let set = values.entry(k.clone()).or_default();
            if set.len() < MAX_VALUES_PER_KEY {
                set.insert(short(v));
            }
        }
    }
    if more_keys {
        truncated.push(format!(
            "only the first {MAX_KEYS} attribute keys are listed"
        ));
    }
    // The window's bucket distribution, over every selected series.
    let mut merged = Merged::default();
    for s in &stored {
        if let Values::Dists(ds) = &s.values {
            for (_, d) in ds.iter().filter(|(t, _)| *t >= sel.start && *t <= sel.end) {
                merged.add(d);
            }
        }
    }
    let distribution_note = merged.note();
    let distribution = merged.dist;
    let mut line_notes: BTreeSet<String> = BTreeSet::new();
    let mut series = Vec::new();
    // Lines that would have been drawn beyond MAX_SERIES.
    let mut left_out = 0usize;
    match &sel.split_by {
        None => {
            // Label each stored series by the attributes that tell it apart.
            let varying = legend_keys(&keys, &stored);
            for s in &stored {
                if series.len() >= MAX_SERIES {
                    left_out += match &s.values {
                        Values::Lines(l) => l.len(),
                        Values::Dists(_) => sel.quantiles.len(),
                    };
                    continue;
                }
                let pairs: Vec<(String, String)> = s
                    .attrs
                    .iter()
                    .filter(|(k, _)| varying.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let base = label(
                    &pairs,
                    if matches!(s.values, Values::Lines(ref l) if l.len() > 1)
                        || matches!(s.values, Values::Dists(_))
                    {
                        ""
                    } else {
                        metric_name
                    },
                );
                match &s.values {
                    Values::Lines(lines) => {
                        for (sub, pts) in lines {
                            series.push(PlotSeries {
                                label: with_sub(base.clone(), sub),
                                points: pts.clone(),
                            });
                        }
                    }
                    Values::Dists(ds) => {
                        let (lines, note) = combine_dists(&[ds], sel);
                        line_notes.extend(note);
                        for (sub, pts) in lines {
                            series.push(PlotSeries {
                                label: with_sub(base.clone(), &sub),
                                points: pts,
                            });
                        }
                    }
                }
            }
        }
        Some(split) => {
            let mut groups: BTreeMap<Vec<(String, String)>, Vec<&StoredSeries>> = BTreeMap::new();
            for s in &stored {
                let key = split
                    .iter()
                    .map(|k| {
                        (
                            k.clone(),
                            s.attrs.get(k).cloned().unwrap_or_else(|| "(none)".into()),
                        )
                    })
                    .collect();
                groups.entry(key).or_default().push(s);
            }
            for (key, members) in groups {
                if series.len() >= MAX_SERIES {
                    left_out += 1;
                    continue;
                }
                let base = label(&key, "");
                let dists: Vec<&Vec<(u64, Dist)>> = members
                    .iter()
                    .filter_map(|s| match &s.values {
                        Values::Dists(d) => Some(d),
                        _ => None,
                    })
                    .collect();
                if !dists.is_empty() {
                    let (lines, note) = combine_dists(&dists, sel);
                    line_notes.extend(note);
                    for (sub, pts) in lines {
                        series.push(PlotSeries {
                            label: with_sub(base.clone(), &sub),
                            points: pts,
                        });
                    }
                    continue;
                }
                let mut subs: BTreeMap<&str, Vec<&Vec<Point>>> = BTreeMap::new();
                for s in &members {
                    if let Values::Lines(lines) = &s.values {
                        for (sub, pts) in lines {
                            subs.entry(sub.as_str()).or_default().push(pts);
                        }
                    }
                }
                for (sub, lines) in subs {
                    let base = if base.is_empty() && sub.is_empty() {
                        metric_name.to_string()
                    } else {
                        base.clone()
                    };
                    series.push(PlotSeries {
                        label: with_sub(base, sub),
                        points: combine_lines(&lines, sel),
                    });
                }
            }
        }
    }
    if series.len() > MAX_SERIES {
        left_out += series.len() - MAX_SERIES;
        series.truncate(MAX_SERIES);
    }
    truncated.extend(line_notes.into_iter().map(|n| format!("percentiles: {n}")));
    if left_out > 0 {
        truncated.push(format!(
            "{left_out} more series are not drawn (at most {MAX_SERIES} lines); filter or split to narrow the chart"
        ));
    }
    for s in &mut series {
        s.points = math::mark_gaps(&s.points);
        s.label = short(&s.label);
    }
    let distribution = distribution.map(|d| {
        let mut b = d.buckets();
        truncated.extend(coarsen(&mut b));
        b
    });
    Plot {
        meaning,
        unit,
        distribution_note,
        series,
        exemplars,
        distribution,
        truncated,
        keys: keys.into_iter().collect(),
        values: values
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect(),
    }
}
