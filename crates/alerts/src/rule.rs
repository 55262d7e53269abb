//! The rule model and its YAML form.
//!
//! The YAML written by [`to_yaml`] is canonical: optional fields at their
//! defaults are left out and durations are written in their largest exact
//! unit, so `to_yaml(from_yaml(y)) == y` for canonical text and
//! `from_yaml(to_yaml(r)) == r` for every rule. That is what lets the editor
//! show the tree and the text side by side without either drifting.
//! Webhook URLs never appear here: rules name channels, and channels (with
//! their secret URLs) live only in the database.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::condition::Condition;
pub use crate::duration::Dur;
pub use crate::signal::Signal;

/// How a metric's points in the window become one number per group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    /// Increase per second (last minus first over their time apart), summed
    /// over a group's series.
    Rate,
    /// A percentile (0–100) of histogram observations or of the values.
    Percentile(f64),
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregate::Avg => f.write_str("avg"),
            Aggregate::Min => f.write_str("min"),
            Aggregate::Max => f.write_str("max"),
            Aggregate::Sum => f.write_str("sum"),
            Aggregate::Count => f.write_str("count"),
            Aggregate::Rate => f.write_str("rate"),
            Aggregate::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

impl Aggregate {
    pub fn parse(s: &str) -> Result<Aggregate, String> {
        Ok(match s {
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "sum" => Aggregate::Sum,
            "count" => Aggregate::Count,
            "rate" => Aggregate::Rate,
            p if p.starts_with('p') => {
                let v: f64 = p[1..]
                    .parse()
                    .map_err(|_| format!("{s:?} is not a percentile like p95 or p99.9"))?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(format!("{s:?}: a percentile is between p0 and p100"));
                }
                Aggregate::Percentile(v)
            }
            _ => {
                return Err(format!(
                    "unknown aggregate {s:?} (avg, min, max, sum, count, rate, or a percentile like p95)"
                ))
            }
        })
    }
}

impl Serialize for Aggregate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Aggregate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Aggregate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("avg, min, max, sum, count, rate or a percentile like p95")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Aggregate, E> {
                Aggregate::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A threshold comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Compare {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Ne,
}

impl Compare {
    pub fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Compare::Gt => v > t,
            Compare::Gte => v >= t,
            Compare::Lt => v < t,
            Compare::Lte => v <= t,
            Compare::Eq => v == t,
            Compare::Ne => v != t,
        }
    }
}

/// The metric part of a metrics rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// The metric's name.
    pub name: String,
    /// `avg`, `min`, `max`, `sum`, `count`, `rate` or `p<0-100>`.
    #[ts(type = "string")]
    pub aggregate: Aggregate,
    /// A duration (`5m`).
    #[ts(type = "string")]
    pub window: Dur,
    pub op: Compare,
    pub threshold: f64,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// One alert rule.
/// Fields with a default are optional in TypeScript too: the editor sends
/// rules without them, and the canonical form leaves them out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[ts(as = "Option<String>", optional)]
    pub description: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[ts(as = "Option<bool>", optional)]
    pub enabled: bool,
    pub signal: Signal,
    /// Which spans, logs or series the rule looks at; none = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub when: Option<Condition>,
    /// Traces rules only: a trace search in the trace list's `q=`
    /// language that the trace must match as well, evaluated on the store
    /// (so it can follow span links: `linked_from(span.status = error)`
    /// fires for the API call whose execution, a trace of its own, failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub query: Option<String>,
    /// Metrics rules only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub metric: Option<MetricSpec>,
    /// Attributes whose values split the rule into groups that alert on
    /// their own. Without it an event rule's group is the trace (traces),
    /// the span (spans) or the record (logs); a metrics rule has one group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub group_by: Vec<String>,
    /// How long a metrics rule's condition must hold before it fires.
    #[serde(rename = "for", default, skip_serializing_if = "Dur::is_zero")]
    #[ts(as = "Option<String>", optional)]
    pub pending: Dur,
    /// How long a group keeps firing after its condition stopped holding.
    #[serde(default, skip_serializing_if = "Dur::is_zero")]
    #[ts(as = "Option<String>", optional)]
    pub keep_firing: Dur,
    /// Channel names to notify (configured in Loupe, never in the file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub notify: Vec<String>,
    /// Notify when a group resolves too, not only when it fires.
    #[serde(default, skip_serializing_if = "is_false")]
    #[ts(as = "Option<bool>", optional)]
    pub send_resolved: bool,
}

/// A rule file: one rule, or `rules:` with a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub rules: Vec<Rule>,
}

/// A problem in a rule's text, where the parser found it.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[error("{}{message}", line.map(|l| format!("line {l}{}: ", column.map(|c| format!(", column {c}")).unwrap_or_default())).unwrap_or_default())]
pub struct RuleError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl RuleError {
    pub fn msg(message: impl Into<String>) -> RuleError {
        RuleError {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn from_yaml(e: serde_norway::Error) -> RuleError {
        let loc = e.location();
        let mut message = e.to_string();
        // The library appends " at line L column C"; the fields carry it.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        RuleError {
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    }
}

/// Largest rule text parsed (one rule or a file of rules), in bytes:
/// rules come from the network (the editor, imports), and a YAML parser
/// holds the whole document's events in memory.
pub const MAX_RULE_YAML_BYTES: usize = 1 << 20;

fn check_yaml_size(text: &str) -> Result<(), RuleError> {
    if text.len() > MAX_RULE_YAML_BYTES {
        return Err(RuleError::msg(format!(
            "the rule text is {} bytes, more than the limit of {MAX_RULE_YAML_BYTES} bytes",
            text.len()
        )));
    }
    Ok(())
}

/// Parses one rule and checks it ([`Rule::validate`]): at most
/// [`MAX_RULE_YAML_BYTES`], a condition within
/// [`crate::condition::MAX_CONDITION_DEPTH`].
pub fn from_yaml(text: &str) -> Result<Rule, RuleError> {
    check_yaml_size(text)?;
    let rule: Rule = serde_norway::from_str(text).map_err(RuleError::from_yaml)?;
    rule.validate()?;
    Ok(rule)
}

/// The canonical YAML of a rule.
pub fn to_yaml(rule: &Rule) -> String {
    serde_norway::to_string(rule).unwrap_or_default()
}

/// Parses a file of rules: `rules: [...]`, or a single rule. Every rule is
/// validated; errors name the line of the rule they are about.
pub fn file_from_yaml(text: &str) -> Result<Vec<Rule>, Vec<RuleError>> {
    check_yaml_size(text).map_err(|e| vec![e])?;
    let value: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| vec![RuleError::from_yaml(e)])?;
    let is_file = matches!(&value, serde_norway::Value::Mapping(m) if m.contains_key("rules"));
    let rules = if is_file {
        serde_norway::from_str::<RuleFile>(text)
            .map_err(|e| vec![RuleError::from_yaml(e)])?
            .rules
    } else {
        vec![serde_norway::from_str::<Rule>(text).map_err(|e| vec![RuleError::from_yaml(e)])?]
    };
    let starts = rule_lines(text, is_file);
    let mut errors = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if let Err(mut e) = r.validate() {
            e.line = starts.get(i).copied().or(e.line);
            e.message = format!("rule {:?}: {}", r.name, e.message);
            errors.push(e);
        }
    }
    let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    for w in names.windows(2) {
        if w[0] == w[1] {
            errors.push(RuleError::msg(format!("two rules are named {:?}", w[0])));
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// The 1-based line where each rule of a file starts (best effort: list
/// items at the indentation of the first one).
fn rule_lines(text: &str, is_file: bool) -> Vec<usize> {
    if !is_file {
        return vec![1];
    }
    let mut indent = None;
    let mut out = Vec::new();
    let mut in_rules = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ind = line.len() - trimmed.len();
        if !in_rules {
            in_rules = line.starts_with("rules:");
            continue;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => {
                    indent = Some(ind);
                    out.push(i + 1);
                }
                Some(n) if n == ind => out.push(i + 1),
                _ => {}
            }
        }
    }
    out
}

/// Several rules as one file.
pub fn file_to_yaml(rules: &[Rule]) -> String {
    serde_norway::to_string(&RuleFile {
        rules: rules.to_vec(),
    })
    .unwrap_or_default()
}

impl Rule {
    /// Checks what the types cannot: fields that fit the signal, regexes
    /// that compile, a metric part exactly for metrics rules.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.name.trim().is_empty() {
            return Err(RuleError::msg("a rule needs a name"));
        }
        match (self.signal, &self.metric) {
            (Signal::Metrics, None) => {
                return Err(RuleError::msg(
                    "a metrics rule needs `metric:` (name, aggregate, window, op, threshold)",
                ))
            }
            (Signal::Metrics, Some(m)) => {
                if m.name.trim().is_empty() {
                    return Err(RuleError::msg("metric.name is empty"));
                }
                if m.window.is_zero() {
                    return Err(RuleError::msg("metric.window must be longer than 0s"));
                }
                if !m.threshold.is_finite() {
                    return Err(RuleError::msg("metric.threshold must be a finite number"));
                }
            }
            (s, Some(_)) => {
                return Err(RuleError::msg(format!(
                    "`metric:` is only for metrics rules, not {s:?} rules"
                )))
            }
            (_, None) => {}
        }
        if self.signal.is_event() && !self.pending.is_zero() {
            return Err(RuleError::msg(
                "`for:` is only for metrics rules: span and log rules fire on the first match",
            ));
        }
        if let Some(c) = &self.when {
            crate::condition::Compiled::new(c, self.signal).map_err(RuleError::msg)?;
        }
        if self.query.is_some() && self.signal != Signal::Traces {
            return Err(RuleError::msg(format!(
                "`query:` is only for traces rules, not {:?} rules",
                self.signal
            )));
        }
        if let Some(Err(e)) = self.query_expr() {
            return Err(RuleError::msg(e));
        }
        Ok(())
    }

    /// The parsed `query`, if the rule has one: the trace search it must
    /// also match, or why it does not parse.
    pub fn query_expr(&self) -> Option<Result<loupe_model::query::Expr, String>> {
        let q = self.query.as_deref()?;
        Some(
            loupe_query::parse_expr(q)
                .map_err(|e| format!("query: {} (at character {})", e.message, e.position)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_in_largest_exact_unit() {
        for (text, ns, canon) in [
            ("5m", 300_000_000_000u64, "5m"),
            ("300s", 300_000_000_000, "5m"),
            ("1h30m", 5_400_000_000_000, "90m"),
            ("250ms", 250_000_000, "250ms"),
            ("0", 0, "0s"),
            ("1.5s", 1_500_000_000, "1500ms"),
        ] {
            let d = Dur::parse(text).unwrap();
            assert_eq!(d.0, ns, "{text}");
            assert_eq!(d.to_string(), canon);
            assert_eq!(Dur::parse(canon).unwrap(), d);
        }
        for bad in ["", "5", "m", "5 parsecs", "-1s"] {
            assert!(Dur::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_carry_line_numbers() {
        let text = "name: x\nsignal: traces\nwhen:\n  all:\n    - field: span.status\n      op: sometimes\n";
        let e = from_yaml(text).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("sometimes"), "{e}");
        let e = from_yaml("name: x\nsignal: metrics\n").unwrap_err();
        assert!(e.message.contains("metric"), "{e}");
    }

    #[test]
    fn file_errors_point_at_the_rule() {
        let text = "rules:\n  - name: ok\n    signal: traces\n  - name: bad\n    signal: logs\n    for: 5m\n";
        let errs = file_from_yaml(text).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(4));
        assert!(errs[0].to_string().starts_with("line 4"), "{}", errs[0]);
    }
}
