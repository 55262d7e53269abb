//! The evaluator: a pure function of a rule, the data it sees and the time
//! it is given. Nothing here reads a clock, sleeps or does I/O, so the state
//! machine is tested with tables of (time, data) steps.
//!
//! Per rule and group: inactive → pending → firing → resolved.
//! - Event rules (spans, traces, logs): a group with a new match fires at
//!   once (`for` does not apply) and resolves once `keep_firing` has passed
//!   without another match. Resolved per-trace/span/record groups are
//!   forgotten an hour later (the history keeps them), so state stays small.
//! - Metrics rules: the condition holds when the window's aggregate is a
//!   number (not NaN, not missing) that passes the threshold. It must hold
//!   for `for` before the group fires; a pending group whose condition stops
//!   holding goes back to inactive; a firing group resolves once the
//!   condition has not held for `keep_firing`. A gap (no points in the
//!   window) or NaN counts as "does not hold", never as "holds".

use std::collections::BTreeMap;

use loupe_model::otlp::common::{any_value, KeyValue};
use serde::{Deserialize, Serialize};

use crate::condition::{Compiled, Field, Subject, Value};
use crate::rule::{Aggregate, Rule};
use crate::signal::Signal;

/// Resolved event groups are forgotten this long after resolving.
pub const FORGET_RESOLVED_NS: u64 = 3_600_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Inactive,
    Pending,
    Firing,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Inactive => "inactive",
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> State {
        match s {
            "pending" => State::Pending,
            "firing" => State::Firing,
            "resolved" => State::Resolved,
            _ => State::Inactive,
        }
    }
}

/// What made an event group fire: enough to link to it and to fill a
/// message template.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub time_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Span name or log body.
    #[serde(default)]
    pub summary: String,
    /// Span/record attributes, then resource attributes not already there.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// One group's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct GroupState {
    pub group: String,
    pub labels: BTreeMap<String, String>,
    pub state: State,
    /// When the group entered `state`.
    pub since_ns: u64,
    /// The last time the condition held (or a match came).
    pub last_true_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A change of state, for the history and the notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub group: String,
    pub labels: BTreeMap<String, String>,
    pub from: State,
    pub to: State,
    pub at_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

fn attr_value(kv: &KeyValue) -> Option<Value<'_>> {
    Some(match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Value::Str(s.as_str().into()),
        any_value::Value::IntValue(i) => Value::Int(*i),
        any_value::Value::DoubleValue(d) => Value::Float(*d),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        other => Value::Str(
            loupe_model::otlp::any_value_text(Some(&loupe_model::otlp::common::AnyValue {
                value: Some(other.clone()),
            }))
            .into(),
        ),
    })
}

fn find<'a>(list: &'a [KeyValue], key: &str) -> Option<Value<'a>> {
    list.iter().find(|kv| kv.key == key).and_then(attr_value)
}

fn attr_map(own: &[KeyValue], resource: &[KeyValue]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for kv in resource.iter().chain(own) {
        m.insert(
            kv.key.clone(),
            loupe_model::otlp::any_value_text(kv.value.as_ref()),
        );
    }
    m
}

/// A span as the evaluator sees it.
#[derive(Debug, Clone, Default)]
pub struct SpanItem {
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    /// OTLP `SpanKind` number.
    pub kind: i32,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<KeyValue>,
    pub resource: Vec<KeyValue>,
}

/// A log record as the evaluator sees it.
#[derive(Debug, Clone, Default)]
pub struct LogItem {
    /// Unique per record (time and content hash).
    pub key: String,
    pub time_ns: u64,
    pub severity: i32,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Vec<KeyValue>,
    pub resource: Vec<KeyValue>,
}

fn kind_name(k: i32) -> &'static str {
    match k {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

impl Subject for SpanItem {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        match f {
            Field::Service => find(&self.resource, "service.name"),
            Field::SpanName => Some(Value::Str(self.name.as_str().into())),
            Field::SpanStatus => Some(Value::Str(
                match self.status {
                    1 => "ok",
                    2 => "error",
                    _ => "unset",
                }
                .into(),
            )),
            Field::SpanKind => Some(Value::Str(kind_name(self.kind).into())),
            Field::SpanDuration => Some(Value::Int(
                self.end_ns
                    .saturating_sub(self.start_ns)
                    .min(i64::MAX as u64) as i64,
            )),
            Field::LogSeverity | Field::LogBody => None,
            Field::Resource(k) => find(&self.resource, k),
            Field::Attr(k) => find(&self.attributes, k).or_else(|| find(&self.resource, k)),
        }
    }
}

impl Subject for LogItem {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        match f {
            Field::Service => find(&self.resource, "service.name"),
            Field::LogSeverity => Some(Value::Int(self.severity as i64)),
            Field::LogBody => Some(Value::Str(self.body.as_str().into())),
            Field::SpanName | Field::SpanStatus | Field::SpanKind | Field::SpanDuration => None,
            Field::Resource(k) => find(&self.resource, k),
            Field::Attr(k) => find(&self.attributes, k).or_else(|| find(&self.resource, k)),
        }
    }
}

/// An event that matched a rule, with its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub group: String,
    pub labels: BTreeMap<String, String>,
    pub evidence: Evidence,
}

fn labels_of(rule: &Rule, s: &dyn Subject) -> BTreeMap<String, String> {
    rule.group_by
        .iter()
        .map(|k| {
            let v = s
                .get(&Field::parse(k))
                .map(|v| v.text().into_owned())
                .unwrap_or_default();
            (k.clone(), v)
        })
        .collect()
}

fn group_key(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A rule ready to match: its condition compiled once.
pub struct Matcher<'r> {
    pub rule: &'r Rule,
    cond: Option<Compiled>,
}

impl<'r> Matcher<'r> {
    pub fn new(rule: &'r Rule) -> Result<Matcher<'r>, String> {
        let cond = match &rule.when {
            Some(c) => Some(Compiled::new(c, rule.signal)?),
            None => None,
        };
        Ok(Matcher { rule, cond })
    }

    pub fn matches(&self, s: &dyn Subject) -> bool {
        self.cond.as_ref().is_none_or(|c| c.matches(s))
    }

    /// The span rule's matches among `spans`, one per trace for `traces`
    /// rules (the first matching span of each trace, in order).
    pub fn span_matches(&self, spans: &[SpanItem]) -> Vec<Match> {
        if !matches!(self.rule.signal, Signal::Spans | Signal::Traces) {
            return Vec::new();
        }
        let mut out: Vec<Match> = Vec::new();
        for s in spans {
            if !self.matches(s) {
                continue;
            }
            let labels = labels_of(self.rule, s);
            let group = if !self.rule.group_by.is_empty() {
                group_key(&labels)
            } else if self.rule.signal == Signal::Traces {
                format!("trace={}", s.trace_id)
            } else {
                format!("span={}/{}", s.trace_id, s.span_id)
            };
            if self.rule.signal == Signal::Traces
                && out
                    .iter()
                    .any(|m| m.evidence.trace_id.as_deref() == Some(&s.trace_id))
            {
                continue;
            }
            out.push(Match {
                group,
                labels,
                evidence: Evidence {
                    time_ns: s.end_ns.max(s.start_ns),
                    trace_id: Some(s.trace_id.clone()),
                    span_id: Some(s.span_id.clone()),
                    service: find(&s.resource, "service.name").map(|v| v.text().into_owned()),
                    summary: s.name.clone(),
                    attributes: attr_map(&s.attributes, &s.resource),
                },
            });
        }
        out
    }

    pub fn log_matches(&self, logs: &[LogItem]) -> Vec<Match> {
        if self.rule.signal != Signal::Logs {
            return Vec::new();
        }
        logs.iter()
            .filter(|l| self.matches(*l))
            .map(|l| {
                let labels = labels_of(self.rule, l);
                let group = if self.rule.group_by.is_empty() {
                    format!("log={}", l.key)
                } else {
                    group_key(&labels)
                };
                Match {
                    group,
                    labels,
                    evidence: Evidence {
                        time_ns: l.time_ns,
                        trace_id: l.trace_id.clone(),
                        span_id: l.span_id.clone(),
                        service: find(&l.resource, "service.name").map(|v| v.text().into_owned()),
                        summary: l.body.clone(),
                        attributes: attr_map(&l.attributes, &l.resource),
                    },
                }
            })
            .collect()
    }
}

/// One evaluation of an event rule at `now` with the matches found since
/// the last one. Returns the new states and the transitions.
pub fn step_events(
    rule: &Rule,
    prev: &[GroupState],
    matches: &[Match],
    now: u64,
) -> (Vec<GroupState>, Vec<Transition>) {
    let mut states: BTreeMap<String, GroupState> =
        prev.iter().map(|g| (g.group.clone(), g.clone())).collect();
    let mut out = Vec::new();
    for m in matches {
        let g = states.entry(m.group.clone()).or_insert_with(|| GroupState {
            group: m.group.clone(),
            labels: m.labels.clone(),
            state: State::Inactive,
            since_ns: now,
            last_true_ns: now,
            value: None,
            evidence: None,
        });
        // A trace is one event: more of its spans arriving later do not
        // make its resolved group fire again.
        let once = rule.signal == Signal::Traces && rule.group_by.is_empty();
        if once && g.state == State::Resolved {
            continue;
        }
        g.last_true_ns = now;
        if g.state != State::Firing {
            out.push(Transition {
                group: g.group.clone(),
                labels: g.labels.clone(),
                from: g.state,
                to: State::Firing,
                at_ns: now,
                value: None,
                evidence: Some(m.evidence.clone()),
            });
            g.state = State::Firing;
            g.since_ns = now;
            g.evidence = Some(m.evidence.clone());
        }
    }
    let keep = rule.keep_firing.0;
    let matched: std::collections::BTreeSet<&str> =
        matches.iter().map(|m| m.group.as_str()).collect();
    states.retain(|key, g| {
        if g.state == State::Firing
            && !matched.contains(key.as_str())
            && now.saturating_sub(g.last_true_ns) >= keep
        {
            out.push(Transition {
                group: g.group.clone(),
                labels: g.labels.clone(),
                from: State::Firing,
                to: State::Resolved,
                at_ns: now,
                value: None,
                evidence: g.evidence.clone(),
            });
            g.state = State::Resolved;
            g.since_ns = now;
        }
        !(g.state == State::Resolved && now.saturating_sub(g.since_ns) >= FORGET_RESOLVED_NS)
    });
    (states.into_values().collect(), out)
}

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

/// A series: its attributes (data point's, then the resource's, and
/// `service.name`) and its points in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub attributes: Vec<KeyValue>,
    pub resource: Vec<KeyValue>,
    pub points: Vec<Point>,
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

/// The aggregate of each group's points in `[now - window, now]`; `None`
/// for a group without usable points (a gap). NaN values are skipped.
pub fn aggregate(
    rule: &Rule,
    m: &Matcher<'_>,
    series: &[Series],
    now: u64,
) -> Vec<(String, BTreeMap<String, String>, Option<f64>)> {
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
        let mut values: Vec<f64> = Vec::new();
        let mut rate: Option<f64> = None;
        let mut bounds: Vec<f64> = Vec::new();
        let mut merged: Vec<u64> = Vec::new();
        let mut hist_count = 0u64;
        for s in list {
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
            for p in window {
                if let PointValue::Histogram {
                    bounds: b,
                    counts,
                    count,
                    ..
                } = &p.value
                {
                    // Only well-formed points (one more count than bounds)
                    // within the cap are merged.
                    if b.len() > MAX_HISTOGRAM_BOUNDS || counts.len() != b.len() + 1 {
                        continue;
                    }
                    // The first merged point sets the layout (`merged` is
                    // never empty after it: a point has at least one count).
                    if merged.is_empty() {
                        bounds = b.clone();
                        merged = vec![0; counts.len()];
                    }
                    if *b == bounds && counts.len() == merged.len() {
                        for (m, c) in merged.iter_mut().zip(counts) {
                            *m = m.saturating_add(*c);
                        }
                        hist_count = hist_count.saturating_add(*count);
                    }
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
        out.push((key, labels, v.filter(|x| x.is_finite())));
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
    let Some(spec) = &rule.metric else {
        return (prev.to_vec(), Vec::new());
    };
    let mut states: BTreeMap<String, GroupState> =
        prev.iter().map(|g| (g.group.clone(), g.clone())).collect();
    let mut inputs: BTreeMap<String, (BTreeMap<String, String>, Option<f64>)> = BTreeMap::new();
    for (k, l, v) in values {
        inputs.insert(k.clone(), (l.clone(), *v));
    }
    for k in states.keys() {
        inputs
            .entry(k.clone())
            .or_insert_with(|| (BTreeMap::new(), None));
    }
    let mut out = Vec::new();
    for (key, (labels, value)) in inputs {
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
        if to != from {
            out.push(Transition {
                group: key.clone(),
                labels: g.labels.clone(),
                from,
                to,
                at_ns: now,
                value,
                evidence: None,
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

/// When and for which group a rule would have fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backtest {
    pub fired: usize,
    pub transitions: Vec<Transition>,
    /// Distinct groups that fired.
    pub groups: Vec<String>,
}

fn summarize(transitions: Vec<Transition>) -> Backtest {
    let mut groups: Vec<String> = transitions
        .iter()
        .filter(|t| t.to == State::Firing)
        .map(|t| t.group.clone())
        .collect();
    let fired = groups.len();
    groups.sort();
    groups.dedup();
    Backtest {
        fired,
        transitions,
        groups,
    }
}

/// Replays an event rule over past matches, evaluating at each match's own
/// time (and once more at `end` so resolutions show).
pub fn backtest_events(rule: &Rule, mut matches: Vec<Match>, end: u64) -> Backtest {
    matches.sort_by_key(|m| m.evidence.time_ns);
    let mut states = Vec::new();
    let mut all = Vec::new();
    let mut i = 0;
    while i < matches.len() {
        let t = matches[i].evidence.time_ns;
        let mut j = i;
        while j < matches.len() && matches[j].evidence.time_ns == t {
            j += 1;
        }
        // Let groups whose keep-firing ran out before `t` resolve first.
        let (s, tr) = step_events(rule, &states, &[], t.saturating_sub(1));
        all.extend(tr);
        let (s, tr) = step_events(rule, &s, &matches[i..j], t);
        states = s;
        all.extend(tr);
        i = j;
    }
    let (_, tr) = step_events(rule, &states, &[], end);
    all.extend(tr);
    summarize(all)
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
        let values = aggregate(rule, &m, series, t);
        let (s, tr) = step_metric(rule, &states, &values, t);
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
    use loupe_model::points::{self, PointRef};
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
                            points: Vec::new(),
                        });
                        out.len() - 1
                    }),
            };
            last = Some(i);
            if let Some(s) = out.get_mut(i) {
                s.points.push(Point {
                    time_ns: dp.time_unix_nano(),
                    value,
                });
            }
        }
    }
    for s in &mut out {
        s.points.sort_by_key(|p| p.time_ns);
    }
    out
}
