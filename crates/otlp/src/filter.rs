//! Ingest filters: rules that drop telemetry before it is stored or
//! forwarded, the seed's "turn this span category off" switches made
//! general.
//!
//! A rule names conditions (service, instrumentation scope, span name,
//! attribute); an item matches when all of them hold. `drop` rules remove
//! what they match; when a signal has `keep` rules, only items matching one
//! of them stay. Drop wins over keep. Items are spans, log records and
//! metric data points; containers left empty are removed. Rules are
//! replaced as a whole at run time ([`Filters::replace`]), so a request
//! sees one consistent set.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use loupe_model::otlp::common::{any_value, KeyValue};
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::{
    service_name, ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use serde::{Deserialize, Serialize};

/// What a rule does with the items it matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "FilterAction")]
pub enum Action {
    /// Matching items are not stored.
    #[default]
    Drop,
    /// Once a signal has keep rules, only items matching one are stored.
    Keep,
}

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    Traces,
    Metrics,
    Logs,
}

impl SignalKind {
    pub const ALL: [SignalKind; 3] = [SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Traces => "traces",
            SignalKind::Metrics => "metrics",
            SignalKind::Logs => "logs",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// An attribute condition: the key is present (on the item or its
/// resource) and, if `value` is given, its text form matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct AttributeMatch {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One filter rule. Text conditions match exactly, or by prefix when they
/// end in `*` (`io.kestra.core.runners.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    /// The name counted in `/metrics` (default: the rule's position, from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub action: Action,
    /// The signals the rule applies to (default: all; a rule with
    /// `span_name` applies to traces only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Vec<SignalKind>>,
    /// The resource's `service.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The instrumentation scope's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<AttributeMatch>,
}

/// Why a rule set is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error(
        "filter {0}: a rule needs at least one condition (service, scope, span_name or attribute)"
    )]
    NoCondition(String),
    #[error("filter {0}: span_name applies to traces only, but signals excludes traces")]
    SpanNameWithoutTraces(String),
    #[error("filter {0}: signals is empty")]
    NoSignals(String),
}

fn text_matches(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => pattern == text,
    }
}

fn value_text(kv: &KeyValue) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(Cow::Borrowed(s)),
        any_value::Value::BoolValue(b) => Some(Cow::Owned(b.to_string())),
        any_value::Value::IntValue(i) => Some(Cow::Owned(i.to_string())),
        any_value::Value::DoubleValue(d) => Some(Cow::Owned(d.to_string())),
        _ => None,
    }
}

/// What an item is matched on.
struct Item<'a> {
    service: Option<&'a str>,
    scope: &'a str,
    span_name: Option<&'a str>,
    attributes: &'a [KeyValue],
    resource_attributes: &'a [KeyValue],
}

impl FilterRule {
    /// The name used in `/metrics` and errors.
    pub fn label(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| index.to_string())
    }

    fn applies_to(&self, signal: SignalKind) -> bool {
        if self.span_name.is_some() && signal != SignalKind::Traces {
            return false;
        }
        self.signals.as_ref().is_none_or(|s| s.contains(&signal))
    }

    fn matches(&self, item: &Item<'_>) -> bool {
        if let Some(p) = &self.service {
            if !item.service.is_some_and(|s| text_matches(p, s)) {
                return false;
            }
        }
        if let Some(p) = &self.scope {
            if !text_matches(p, item.scope) {
                return false;
            }
        }
        if let Some(p) = &self.span_name {
            if !item.span_name.is_some_and(|s| text_matches(p, s)) {
                return false;
            }
        }
        if let Some(a) = &self.attribute {
            let hit = item
                .attributes
                .iter()
                .chain(item.resource_attributes)
                .filter(|kv| kv.key == a.key)
                .any(|kv| match &a.value {
                    None => true,
                    Some(p) => value_text(kv).is_some_and(|t| text_matches(p, &t)),
                });
            if !hit {
                return false;
            }
        }
        true
    }
}

/// A validated rule set, ready to apply.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<FilterRule>,
    labels: Vec<String>,
    /// Whether each signal has keep rules.
    keep: [bool; 3],
}

/// The label counted when an item is dropped for matching no keep rule.
pub const NO_KEEP_MATCH: &str = "no keep rule matched";

impl RuleSet {
    pub fn new(rules: Vec<FilterRule>) -> Result<RuleSet, FilterError> {
        let mut keep = [false; 3];
        let mut labels = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            let label = r.label(i);
            if r.service.is_none()
                && r.scope.is_none()
                && r.span_name.is_none()
                && r.attribute.is_none()
            {
                return Err(FilterError::NoCondition(label));
            }
            if let Some(s) = &r.signals {
                if s.is_empty() {
                    return Err(FilterError::NoSignals(label));
                }
                if r.span_name.is_some() && !s.contains(&SignalKind::Traces) {
                    return Err(FilterError::SpanNameWithoutTraces(label));
                }
            }
            if r.action == Action::Keep {
                for s in SignalKind::ALL {
                    if r.applies_to(s) {
                        keep[s.index()] = true;
                    }
                }
            }
            labels.push(label);
        }
        Ok(RuleSet {
            rules,
            labels,
            keep,
        })
    }

    pub fn rules(&self) -> &[FilterRule] {
        &self.rules
    }

    /// `None` keeps the item; `Some(i)` drops it because of rule `i`
    /// (`rules.len()` for "no keep rule matched").
    fn decide(&self, signal: SignalKind, item: &Item<'_>) -> Option<usize> {
        let mut kept = !self.keep[signal.index()];
        for (i, r) in self.rules.iter().enumerate() {
            if !r.applies_to(signal) {
                continue;
            }
            match r.action {
                Action::Drop if r.matches(item) => return Some(i),
                Action::Keep if !kept && r.matches(item) => kept = true,
                _ => {}
            }
        }
        (!kept).then_some(self.rules.len())
    }

    fn label(&self, i: usize) -> &str {
        self.labels.get(i).map_or(NO_KEEP_MATCH, |s| s.as_str())
    }
}

/// Items dropped by one application, per rule index.
#[derive(Debug, Default)]
struct Tally(BTreeMap<usize, u64>);

impl Tally {
    fn hit(&mut self, rule: usize) {
        *self.0.entry(rule).or_default() += 1;
    }
}

impl loupe_ops::Collect for Filters {
    fn collect(&self, out: &mut loupe_ops::Exposition) {
        out.family(
            "ingest_items_filtered_total",
            "Items dropped by ingest filters, by rule.",
            loupe_ops::Kind::Counter,
        );
        for ((rule, signal), n) in self.dropped() {
            out.sample(
                "",
                &[("rule", &rule), ("signal", signal.as_str())],
                n as f64,
            );
        }
    }
}

/// The live rule set and what it dropped. Shared by both transports and
/// the settings API.
#[derive(Debug, Default)]
pub struct Filters {
    set: RwLock<Arc<RuleSet>>,
    /// Items dropped, by (rule label, signal), since start.
    dropped: Mutex<BTreeMap<(String, SignalKind), u64>>,
}

impl Filters {
    pub fn new(rules: Vec<FilterRule>) -> Result<Filters, FilterError> {
        Ok(Filters {
            set: RwLock::new(Arc::new(RuleSet::new(rules)?)),
            dropped: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replaces every rule at once; requests in flight finish with the old set.
    pub fn replace(&self, rules: Vec<FilterRule>) -> Result<(), FilterError> {
        let set = Arc::new(RuleSet::new(rules)?);
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }

    pub fn current(&self) -> Arc<RuleSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Items dropped so far, by (rule label, signal).
    pub fn dropped(&self) -> BTreeMap<(String, SignalKind), u64> {
        self.dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, set: &RuleSet, signal: SignalKind, tally: Tally) -> u64 {
        if tally.0.is_empty() {
            return 0;
        }
        let mut total = 0;
        let mut d = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        for (rule, n) in tally.0 {
            *d.entry((set.label(rule).to_string(), signal)).or_default() += n;
            total += n;
        }
        total
    }

    /// Removes filtered spans; returns how many.
    pub fn traces(&self, req: &mut ExportTraceServiceRequest) -> u64 {
        let set = self.current();
        if set.rules.is_empty() {
            return 0;
        }
        let mut tally = Tally::default();
        req.resource_spans.retain_mut(|rs| {
            let service = service_name(rs.resource.as_ref());
            let res_attrs = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes);
            rs.scope_spans.retain_mut(|ss| {
                let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
                ss.spans.retain(|span| {
                    let item = Item {
                        service,
                        scope,
                        span_name: Some(&span.name),
                        attributes: &span.attributes,
                        resource_attributes: res_attrs,
                    };
                    match set.decide(SignalKind::Traces, &item) {
                        None => true,
                        Some(rule) => {
                            tally.hit(rule);
                            false
                        }
                    }
                });
                !ss.spans.is_empty()
            });
            !rs.scope_spans.is_empty()
        });
        self.record(&set, SignalKind::Traces, tally)
    }

    /// Removes filtered log records; returns how many.
    pub fn logs(&self, req: &mut ExportLogsServiceRequest) -> u64 {
        let set = self.current();
        if set.rules.is_empty() {
            return 0;
        }
        let mut tally = Tally::default();
        req.resource_logs.retain_mut(|rl| {
            let service = service_name(rl.resource.as_ref());
            let res_attrs = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes);
            rl.scope_logs.retain_mut(|sl| {
                let scope = sl.scope.as_ref().map_or("", |s| s.name.as_str());
                sl.log_records.retain(|rec| {
                    let item = Item {
                        service,
                        scope,
                        span_name: None,
                        attributes: &rec.attributes,
                        resource_attributes: res_attrs,
                    };
                    match set.decide(SignalKind::Logs, &item) {
                        None => true,
                        Some(rule) => {
                            tally.hit(rule);
                            false
                        }
                    }
                });
                !sl.log_records.is_empty()
            });
            !rl.scope_logs.is_empty()
        });
        self.record(&set, SignalKind::Logs, tally)
    }

    /// Removes filtered data points (and metrics left without any); returns how many.
    pub fn metrics(&self, req: &mut ExportMetricsServiceRequest) -> u64 {
        let set = self.current();
        if set.rules.is_empty() {
            return 0;
        }
        let mut tally = Tally::default();
        req.resource_metrics.retain_mut(|rm| {
            let service = service_name(rm.resource.as_ref());
            let res_attrs = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes);
            rm.scope_metrics.retain_mut(|sm| {
                let scope = sm.scope.as_ref().map_or("", |s| s.name.as_str());
                sm.metrics.retain_mut(|m| {
                    let mut keep = |attributes: &[KeyValue]| {
                        let item = Item {
                            service,
                            scope,
                            span_name: None,
                            attributes,
                            resource_attributes: res_attrs,
                        };
                        match set.decide(SignalKind::Metrics, &item) {
                            None => true,
                            Some(rule) => {
                                tally.hit(rule);
                                false
                            }
                        }
                    };
                    match &mut m.data {
                        None => {}
                        Some(Data::Gauge(g)) => g.data_points.retain(|p| keep(&p.attributes)),
                        Some(Data::Sum(s)) => s.data_points.retain(|p| keep(&p.attributes)),
                        Some(Data::Histogram(h)) => h.data_points.retain(|p| keep(&p.attributes)),
                        Some(Data::ExponentialHistogram(h)) => {
                            h.data_points.retain(|p| keep(&p.attributes))
                        }
                        Some(Data::Summary(s)) => s.data_points.retain(|p| keep(&p.attributes)),
                    }
                    loupe_model::otlp_points(m) > 0
                });
                !sm.metrics.is_empty()
            });
            !rm.scope_metrics.is_empty()
        });
        self.record(&set, SignalKind::Metrics, tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::common::{AnyValue, InstrumentationScope};
    use loupe_model::otlp::resource::Resource;
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn req() -> ExportTraceServiceRequest {
        let span = |name: &str, attrs: Vec<KeyValue>| Span {
            name: name.into(),
            attributes: attrs,
            ..Default::default()
        };
        let rs = |service: &str, scope: &str, spans: Vec<Span>| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                rs(
                    "kestra",
                    "io.kestra.core.runners.Executor",
                    vec![span("execute", vec![]), span("poll", vec![])],
                ),
                rs(
                    "kestra",
                    "io.kestra.core.runners.Worker",
                    vec![span("task", vec![kv("http.route", "/health")])],
                ),
                rs("web", "http", vec![span("GET /", vec![])]),
            ],
        }
    }

    fn names(r: &ExportTraceServiceRequest) -> Vec<String> {
        r.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    fn run(rules: Vec<FilterRule>) -> (Vec<String>, Filters) {
        let f = Filters::new(rules).expect("valid rules");
        let mut r = req();
        f.traces(&mut r);
        (names(&r), f)
    }

    #[test]
    fn scope_rule_drops_exactly_its_scope() {
        let (left, f) = run(vec![FilterRule {
            scope: Some("io.kestra.core.runners.Executor".into()),
            ..Default::default()
        }]);
        assert_eq!(left, ["task", "GET /"]);
        assert_eq!(f.dropped()[&("0".to_string(), SignalKind::Traces)], 2);
    }

    #[test]
    fn prefix_span_name_attribute_and_keep() {
        let (left, _) = run(vec![FilterRule {
            scope: Some("io.kestra.*".into()),
            span_name: Some("po*".into()),
            ..Default::default()
        }]);
        assert_eq!(left, ["execute", "task", "GET /"]);
        let (left, _) = run(vec![FilterRule {
            attribute: Some(AttributeMatch {
                key: "http.route".into(),
                value: Some("/health".into()),
            }),
            ..Default::default()
        }]);
        assert_eq!(left, ["execute", "poll", "GET /"]);
        let (left, f) = run(vec![FilterRule {
            name: Some("only web".into()),
            action: Action::Keep,
            service: Some("web".into()),
            ..Default::default()
        }]);
        assert_eq!(left, ["GET /"]);
        assert_eq!(
            f.dropped()[&(NO_KEEP_MATCH.to_string(), SignalKind::Traces)],
            3
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(Filters::new(vec![FilterRule::default()]).is_err());
        assert!(Filters::new(vec![FilterRule {
            span_name: Some("x".into()),
            signals: Some(vec![SignalKind::Logs]),
            ..Default::default()
        }])
        .is_err());
    }
}
