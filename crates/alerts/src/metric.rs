//! Metrics rules: series from stored OTLP points, the window's aggregate
//! per group, the pending → firing → resolved steps, backtests.
//!
//! - A cumulative histogram (OTLP's default temporality) counts every
//!   observation since its start, so its window is the *increase*: the
//!   last point in the window minus the last one before it (or the first
//!   in it), as Prometheus' `histogram_quantile(rate(…))`; a reset (a count
//!   going down) takes the last point as it is. Delta points are summed.
//! - A group's evidence is the exemplar that best shows the condition (the
//!   highest value for `gt`/`gte`, the lowest for `lt`/`lte`, else the
//!   latest) in the window: an alert on a p99 links the trace of a slow
//!   request. Exemplars without a trace are not kept.

use std::collections::BTreeMap;

use loupe_model::otlp::common::KeyValue;

use crate::condition::{Field, Subject, Value};
use crate::eval::{
    attr_map, find, group_key, labels_of, summarize, Backtest, Evidence, GroupState, Matcher,
    State, Transition,
};
use crate::rule::{Aggregate, Compare, Rule};

/// Exemplars kept per series at most (the newest): enough for any window,
/// bounded whatever a sender attaches to its points.
pub const MAX_EXEMPLARS: usize = 256;

/// A metric data point's value.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    Number(f64),
    /// Explicit-bucket histogram: total count and sum, bounds and counts.
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
        counts: Vec<u64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub time_ns: u64,
    pub value: PointValue,
}

/// A measurement with the trace it was made in (OTLP's exemplar).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub time_ns: u64,
    pub value: f64,
    /// Lowercase hex, never all zeros.
    pub trace_id: String,
    pub span_id: Option<String>,
}

/// A series: its attributes (data point's, then the resource's, and
/// `service.name`) and its points in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub attributes: Vec<KeyValue>,
    pub resource: Vec<KeyValue>,
    pub points: Vec<Point>,
    /// Its histograms are cumulative (counts since a start), not deltas.
    pub cumulative: bool,
    /// The newest [`MAX_EXEMPLARS`] exemplars with a trace, in time order.
    pub exemplars: Vec<Exemplar>,
}

impl Subject for Series {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        match f {
            Field::Service => find(&self.resource, "service.name"),
            Field::Resource(k) => find(&self.resource, k),
            Field::Attr(k) => find(&self.attributes, k).or_else(|| find(&self.resource, k)),
            _ => None,
        }
    }
}

fn percentile_of(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    // Clamped (NaN → 0): the index stays inside `sorted` whatever `p` is.
    let rank = ((p / 100.0) * last as f64).clamp(0.0, last as f64);
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let frac = rank - lo as f64;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (b - a) * frac)
}

/// The percentile of merged histogram buckets, interpolated linearly within
/// the bucket (the first bucket from 0, the last at its lower bound).
///
/// Counts are summed in `u128` (no overflow with `u64::MAX` counts) and
/// bounds are read with `get`, so counts that do not match the bounds give
/// an answer or `None`, never a panic.
fn histogram_percentile(bounds: &[f64], counts: &[u64], p: f64) -> Option<f64> {
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    if total == 0 {
        return None;
    }
    let target = (p / 100.0).clamp(0.0, 1.0) * total as f64;
    let mut seen = 0u128;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if (seen + u128::from(c)) as f64 >= target {
            let lo = match i.checked_sub(1) {
                None => 0f64.min(bounds.first().copied().unwrap_or(0.0)),
                Some(j) => *bounds.get(j)?,
            };
            let Some(&hi) = bounds.get(i) else {
                return Some(lo);
            };
            let frac = ((target - seen as f64) / c as f64).clamp(0.0, 1.0);
            return Some(lo + (hi - lo) * frac);
        }
        seen += u128::from(c);
    }
    bounds.last().copied()
}

/// Most explicit bounds a histogram point may have to be merged for a
/// percentile (the receiver's cap, `loupe_otlp::validate`); points stored
/// before that cap with more are left out of percentiles, so one point
/// cannot make every evaluation walk millions of buckets.
pub const MAX_HISTOGRAM_BOUNDS: usize = 2048;

/// One group's aggregate over a window, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupValue {
    pub group: String,
    pub labels: BTreeMap<String, String>,
    /// `None`: no usable points (a gap).
    pub value: Option<f64>,
    /// The exemplar that best shows the condition, when there is one.
    pub evidence: Option<Evidence>,
}

/// The aggregate of each group's points in `[now - window, now]`; `None`
/// for a group without usable points (a gap). NaN values are skipped.
pub fn aggregate(
    rule: &Rule,
    m: &Matcher<'_>,
    series: &[Series],
    now: u64,
) -> Vec<(String, BTreeMap<String, String>, Option<f64>)> {
    evaluate(rule, m, series, now)
        .into_iter()
        .map(|g| (g.group, g.labels, g.value))
        .collect()
}

/// A well-formed histogram point's (bounds, counts, count): one more count
/// than bounds, within the cap; others are left out of percentiles.
fn histogram(p: &Point) -> Option<(&[f64], &[u64], u64)> {
    match &p.value {
        PointValue::Histogram {
            bounds,
            counts,
            count,
            ..
        } if bounds.len() <= MAX_HISTOGRAM_BOUNDS && counts.len() == bounds.len() + 1 => {
            Some((bounds, counts, *count))
        }
        _ => None,
    }
}

/// The histogram observations of one series in `[from, now]`: delta points
/// each, or a cumulative series' increase over the window (see the module
/// doc), as (bounds, counts, count) to merge.
fn window_histograms(s: &Series, from: u64, now: u64) -> Vec<(&[f64], Vec<u64>, u64)> {
    let inside = || {
        s.points
            .iter()
            .filter(move |p| p.time_ns >= from && p.time_ns <= now)
            .filter_map(histogram)
    };
    if !s.cumulative {
        return inside().map(|(b, c, n)| (b, c.to_vec(), n)).collect();
    }
    let Some((bounds, last, last_count)) = inside().next_back() else {
        return Vec::new();
    };
    let before = s
        .points
        .iter()
        .filter(|p| p.time_ns < from)
        .filter_map(histogram)
        .next_back();
    let base = before.or_else(|| {
        let mut it = inside();
        let first = it.next();
        // Only a first point that is not also the last is a baseline.
        it.next().and(first)
    });
    match base {
        Some((b, counts, count)) if b == bounds => {
            let delta: Option<Vec<u64>> = last
                .iter()
                .zip(counts)
                .map(|(l, c)| l.checked_sub(*c))
                .collect();
            match (delta, last_count.checked_sub(count)) {
                (Some(d), Some(n)) => vec![(bounds, d, n)],
                // A reset: the counts started again within the window.
                _ => vec![(bounds, last.to_vec(), last_count)],
            }
        }
        _ => vec![(bounds, last.to_vec(), last_count)],
    }
}

/// The exemplar that best shows the condition among `list`'s in `[from, now]`.
fn best_exemplar<'a>(
    list: &[&'a Series],
    op: Compare,
    from: u64,
    now: u64,
) -> Option<(&'a Series, &'a Exemplar)> {
    let all = list.iter().flat_map(|s| {
        s.exemplars
            .iter()
            .filter(|e| e.time_ns >= from && e.time_ns <= now && e.value.is_finite())
            .map(move |e| (*s, e))
    });
    match op {
        Compare::Gt | Compare::Gte => all.max_by(|a, b| a.1.value.total_cmp(&b.1.value)),
        Compare::Lt | Compare::Lte => all.min_by(|a, b| a.1.value.total_cmp(&b.1.value)),
        Compare::Eq | Compare::Ne => all.max_by_key(|(_, e)| e.time_ns),
    }
}

/// A number for a message: at most 4 decimals, no trailing zeros.
fn short(v: f64) -> String {
    let t = format!("{v:.4}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    if t.is_empty() || t == "-0" {
        "0".into()
    } else {
        t.into()
    }
}

/// [`aggregate`] with each group's evidence.
pub fn evaluate(rule: &Rule, m: &Matcher<'_>, series: &[Series], now: u64) -> Vec<GroupValue> {
    let Some(spec) = &rule.metric else {
        return Vec::new();
    };
    let from = now.saturating_sub(spec.window.0);
    let mut groups: BTreeMap<String, (BTreeMap<String, String>, Vec<&Series>)> = BTreeMap::new();
    for s in series.iter().filter(|s| m.matches(*s)) {
        let labels = labels_of(rule, s);
        groups
            .entry(group_key(&labels))
            .or_insert_with(|| (labels, Vec::new()))
            .1
            .push(s);
    }
    let mut out = Vec::new();
    for (key, (labels, list)) in groups {
        let exemplar = best_exemplar(&list, spec.op, from, now);
        let mut values: Vec<f64> = Vec::new();
        let mut rate: Option<f64> = None;
        let mut bounds: Vec<f64> = Vec::new();
        let mut merged: Vec<u64> = Vec::new();
        let mut hist_count = 0u64;
        for s in &list {
            let window: Vec<&Point> = s
                .points
                .iter()
                .filter(|p| p.time_ns >= from && p.time_ns <= now)
                .collect();
            let nums: Vec<(u64, f64)> = window
                .iter()
                .filter_map(|p| match &p.value {
                    PointValue::Number(v) if v.is_finite() => Some((p.time_ns, *v)),
                    PointValue::Histogram { count, sum, .. } => {
                        let v = if spec.aggregate == Aggregate::Count {
                            *count as f64
                        } else if *count > 0 {
                            sum / *count as f64
                        } else {
                            f64::NAN
                        };
                        v.is_finite().then_some((p.time_ns, v))
                    }
                    _ => None,
                })
                .collect();
            values.extend(nums.iter().map(|(_, v)| *v));
            if let (Some(first), Some(last)) = (nums.first(), nums.last()) {
                if last.0 > first.0 {
                    let r = (last.1 - first.1) / ((last.0 - first.0) as f64 / 1e9);
                    rate = Some(rate.unwrap_or(0.0) + r);
                }
            }
            for (b, counts, count) in window_histograms(s, from, now) {
                // The first merged point sets the layout (`merged` is
                // never empty after it: a point has at least one count).
                if merged.is_empty() {
                    bounds = b.to_vec();
                    merged = vec![0; counts.len()];
                }
                if *b == bounds[..] && counts.len() == merged.len() {
                    for (m, c) in merged.iter_mut().zip(&counts) {
                        *m = m.saturating_add(*c);
                    }
                    hist_count = hist_count.saturating_add(count);
                }
            }
        }
        let v = match spec.aggregate {
            _ if values.is_empty() && hist_count == 0 => None,
            Aggregate::Avg => Some(values.iter().sum::<f64>() / values.len() as f64),
            Aggregate::Min => values.iter().copied().reduce(f64::min),
            Aggregate::Max => values.iter().copied().reduce(f64::max),
            Aggregate::Sum => Some(values.iter().sum()),
            Aggregate::Count => Some(values.len() as f64),
            Aggregate::Rate => rate,
            Aggregate::Percentile(p) => {
                if hist_count > 0 {
                    histogram_percentile(&bounds, &merged, p)
                } else {
                    let mut v = values.clone();
                    v.sort_by(|a, b| a.total_cmp(b));
                    percentile_of(&v, p)
                }
            }
        };
        let value = v.filter(|x| x.is_finite());
        let evidence = exemplar.map(|(s, e)| Evidence {
            time_ns: e.time_ns,
            trace_id: Some(e.trace_id.clone()),
            span_id: e.span_id.clone(),
            service: find(&s.resource, "service.name").map(|v| v.text().into_owned()),
            summary: format!(
                "{} of {} = {} (exemplar {})",
                spec.aggregate,
                spec.name,
                value.map(short).unwrap_or_else(|| "no data".into()),
                short(e.value)
            ),
            attributes: attr_map(&s.attributes, &s.resource),
        });
        out.push(GroupValue {
            group: key,
            labels,
            value,
            evidence,
        });
    }
    out
}

/// One evaluation of a metrics rule at `now` with each group's aggregate.
/// Groups in `prev` that are missing from `values` are a gap (no data).
pub fn step_metric(
    rule: &Rule,
    prev: &[GroupState],
    values: &[(String, BTreeMap<String, String>, Option<f64>)],
    now: u64,
) -> (Vec<GroupState>, Vec<Transition>) {
    let values: Vec<GroupValue> = values
        .iter()
        .map(|(group, labels, value)| GroupValue {
            group: group.clone(),
            labels: labels.clone(),
            value: *value,
            evidence: None,
        })
        .collect();
    step_metric_values(rule, prev, &values, now)
}

/// [`step_metric`] with evidence: a group that starts firing keeps the
/// evidence of that evaluation (the exemplar's trace), and its transitions
/// carry it, so the notice links the trace.
pub fn step_metric_values(
    rule: &Rule,
    prev: &[GroupState],
    values: &[GroupValue],
    now: u64,
) -> (Vec<GroupState>, Vec<Transition>) {
    let Some(spec) = &rule.metric else {
        return (prev.to_vec(), Vec::new());
    };
    let mut states: BTreeMap<String, GroupState> =
        prev.iter().map(|g| (g.group.clone(), g.clone())).collect();
    type Input = (BTreeMap<String, String>, Option<f64>, Option<Evidence>);
    let mut inputs: BTreeMap<String, Input> = BTreeMap::new();
    for g in values {
        inputs.insert(
            g.group.clone(),
            (g.labels.clone(), g.value, g.evidence.clone()),
        );
    }
    for k in states.keys() {
        inputs
            .entry(k.clone())
            .or_insert_with(|| (BTreeMap::new(), None, None));
    }
    let mut out = Vec::new();
    for (key, (labels, value, evidence)) in inputs {
        let holds = value.is_some_and(|v| v.is_finite() && spec.op.holds(v, spec.threshold));
        let g = states.entry(key.clone()).or_insert_with(|| GroupState {
            group: key.clone(),
            labels: labels.clone(),
            state: State::Inactive,
            since_ns: now,
            last_true_ns: 0,
            value: None,
            evidence: None,
        });
        g.value = value;
        let from = g.state;
        if holds {
            g.last_true_ns = now;
        }
        let to = match (from, holds) {
            (State::Inactive | State::Resolved, true) if rule.pending.is_zero() => State::Firing,
            (State::Inactive | State::Resolved, true) => State::Pending,
            (State::Pending, true) if now.saturating_sub(g.since_ns) >= rule.pending.0 => {
                State::Firing
            }
            (State::Pending, false) => State::Inactive,
            (State::Firing, false) if now.saturating_sub(g.last_true_ns) >= rule.keep_firing.0 => {
                State::Resolved
            }
            (s, _) => s,
        };
        // The evidence is the one that made it fire; a pending group
        // shows the latest.
        if holds && evidence.is_some() && (to != State::Firing || from != State::Firing) {
            g.evidence = evidence;
        }
        if to != from {
            out.push(Transition {
                group: key.clone(),
                labels: g.labels.clone(),
                from,
                to,
                at_ns: now,
                value,
                evidence: g.evidence.clone(),
            });
            g.state = to;
            g.since_ns = now;
        }
    }
    // Inactive groups are the default: not kept.
    let kept = states
        .into_values()
        .filter(|g| g.state != State::Inactive)
        .collect();
    (kept, out)
}

/// Replays a metrics rule over `[start, end]` every `tick` nanoseconds.
pub fn backtest_metric(
    rule: &Rule,
    series: &[Series],
    start: u64,
    end: u64,
    tick: u64,
) -> Backtest {
    let Ok(m) = Matcher::new(rule) else {
        return summarize(Vec::new());
    };
    let mut states = Vec::new();
    let mut all = Vec::new();
    let mut t = start;
    let tick = tick.max(1);
    while t <= end {
        let values = evaluate(rule, &m, series, t);
        let (s, tr) = step_metric_values(rule, &states, &values, t);
        states = s;
        all.extend(tr);
        t = match t.checked_add(tick) {
            Some(n) => n,
            None => break,
        };
    }
    summarize(all)
}

/// The series of an OTLP metrics answer (as the store returns a metric's
/// points): one per resource and point attributes, points in time order.
pub fn series_from_otlp(req: &loupe_model::otlp::ExportMetricsServiceRequest) -> Vec<Series> {
    use loupe_model::otlp::metrics::ResourceMetrics;
    use loupe_model::points::{self, exemplar_value, PointRef};
    let mut out: Vec<Series> = Vec::new();
    // Series by (resource, attributes) in their debug form: a lookup per
    // point, not a scan of every series so far (which made a metric with
    // many series quadratic in its series count, every evaluation).
    let mut index: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    // The resource's attributes and key, formatted once per resource.
    let mut current: Option<(&ResourceMetrics, Vec<KeyValue>, String)> = None;
    for m in points::metrics(req) {
        if current
            .as_ref()
            .is_none_or(|(r, _, _)| !std::ptr::eq(*r, m.resource))
        {
            let resource = m.resource_attributes().to_vec();
            let key = format!("{resource:?}");
            current = Some((m.resource, resource, key));
        }
        let Some((_, resource, resource_key)) = &current else {
            continue;
        };
        // Points of one series usually come together: the last series
        // (of this metric, so of this resource) is tried before
        // formatting a key.
        let mut last: Option<usize> = None;
        for dp in m.points() {
            let value = match dp {
                PointRef::Gauge(_) | PointRef::Sum(..) => {
                    PointValue::Number(dp.number().unwrap_or(f64::NAN))
                }
                PointRef::Histogram(_, p) => PointValue::Histogram {
                    count: p.count,
                    sum: p.sum.unwrap_or(f64::NAN),
                    bounds: p.explicit_bounds.clone(),
                    counts: p.bucket_counts.clone(),
                },
                PointRef::Summary(p) => PointValue::Number(if p.count > 0 {
                    p.sum / p.count as f64
                } else {
                    f64::NAN
                }),
                // Not evaluated by rules.
                PointRef::ExponentialHistogram(..) => continue,
            };
            let attrs = dp.attributes();
            let i = match last {
                Some(i) if out.get(i).is_some_and(|s| s.attributes == attrs) => i,
                _ => *index
                    .entry((resource_key.clone(), format!("{attrs:?}")))
                    .or_insert_with(|| {
                        out.push(Series {
                            attributes: attrs.to_vec(),
                            resource: resource.clone(),
                            ..Series::default()
                        });
                        out.len() - 1
                    }),
            };
            last = Some(i);
            if let Some(s) = out.get_mut(i) {
                if let PointRef::Histogram(h, _) = dp {
                    s.cumulative |= h.aggregation_temporality == CUMULATIVE;
                }
                s.points.push(Point {
                    time_ns: dp.time_unix_nano(),
                    value,
                });
                for e in dp.exemplars() {
                    let (Some(value), Some(trace_id)) =
                        (exemplar_value(e.value.as_ref()), hex_id(&e.trace_id, 16))
                    else {
                        continue;
                    };
                    if s.exemplars.len() >= MAX_EXEMPLARS {
                        s.exemplars.remove(0);
                    }
                    s.exemplars.push(Exemplar {
                        time_ns: e.time_unix_nano,
                        value,
                        trace_id,
                        span_id: hex_id(&e.span_id, 8),
                    });
                }
            }
        }
    }
    for s in &mut out {
        s.points.sort_by_key(|p| p.time_ns);
        s.exemplars.sort_by_key(|e| e.time_ns);
    }
    out
}

/// OTLP's `AGGREGATION_TEMPORALITY_CUMULATIVE`.
const CUMULATIVE: i32 = 2;

/// An ID of `len` bytes as lowercase hex; `None` when it has another
/// length or is all zeros (no trace).
fn hex_id(b: &[u8], len: usize) -> Option<String> {
    if b.len() != len || b.iter().all(|x| *x == 0) {
        return None;
    }
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}
