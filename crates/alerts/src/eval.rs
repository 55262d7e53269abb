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
use crate::rule::Rule;
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

pub(crate) fn find<'a>(list: &'a [KeyValue], key: &str) -> Option<Value<'a>> {
    list.iter().find(|kv| kv.key == key).and_then(attr_value)
}

pub(crate) fn attr_map(own: &[KeyValue], resource: &[KeyValue]) -> BTreeMap<String, String> {
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

pub(crate) fn labels_of(rule: &Rule, s: &dyn Subject) -> BTreeMap<String, String> {
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

pub(crate) fn group_key(labels: &BTreeMap<String, String>) -> String {
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

/// When and for which group a rule would have fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backtest {
    pub fired: usize,
    pub transitions: Vec<Transition>,
    /// Distinct groups that fired.
    pub groups: Vec<String>,
}

pub(crate) fn summarize(transitions: Vec<Transition>) -> Backtest {
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
