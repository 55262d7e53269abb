//! Conditions: a tree of `all` (AND), `any` (OR) and `not` over predicates,
//! and how they are matched against a span, a log record or a series.
//!
//! In YAML a group is `all: [...]`, `any: [...]` or `not: {...}`; a
//! predicate is `{field, op, value}`. Fields are `service`, `span.name`,
//! `span.status` (unset/ok/error), `span.kind`, `span.duration`,
//! `log.severity`, `log.body`, `resource.<key>` (resource attributes only),
//! or any other name: an attribute of the span or record, else of its
//! resource. A missing field fails every operator except `not_equals`
//! (so `not_equals` means "anything else, or absent").

use std::fmt;

use regex::Regex;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::Dur;
use crate::signal::Signal;

/// A condition tree.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(untagged)]
pub enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Not { not: Box<Condition> },
    Pred(Predicate),
}

/// A comparison of one field with a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    pub field: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub value: Option<Scalar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Prefix,
    Contains,
    Regex,
    Exists,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Op {
    pub fn is_numeric(self) -> bool {
        matches!(self, Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    }
}

/// A value as written: its YAML type is kept so text round-trips exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CondVisitor)
    }
}

/// Checks a condition while its mapping is being read, so that an error
/// carries the mapping's line (YAML errors raised after it would point at
/// the enclosing rule instead).
struct CondVisitor;

impl<'de> serde::de::Visitor<'de> for CondVisitor {
    type Value = Condition;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a condition: `all: [...]`, `any: [...]`, `not: {...}` or `{field, op, value}`")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Condition, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            all: Option<Vec<Condition>>,
            any: Option<Vec<Condition>>,
            not: Option<Box<Condition>>,
            field: Option<String>,
            op: Option<Op>,
            value: Option<Scalar>,
        }
        let r = Raw::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        raw_to_cond(r.all, r.any, r.not, r.field, r.op, r.value).map_err(A::Error::custom)
    }
}

fn raw_to_cond(
    all: Option<Vec<Condition>>,
    any: Option<Vec<Condition>>,
    not: Option<Box<Condition>>,
    field: Option<String>,
    op: Option<Op>,
    value: Option<Scalar>,
) -> Result<Condition, String> {
    let groups = all.is_some() as u8 + any.is_some() as u8 + not.is_some() as u8;
    let pred = field.is_some() || op.is_some() || value.is_some();
    if groups + pred as u8 != 1 {
        return Err("a condition is exactly one of `all: [...]`, `any: [...]`, `not: {...}` or a predicate `{field, op, value}`".into());
    }
    if let Some(all) = all {
        return Ok(Condition::All { all });
    }
    if let Some(any) = any {
        return Ok(Condition::Any { any });
    }
    if let Some(not) = not {
        return Ok(Condition::Not { not });
    }
    let field = field.ok_or("a predicate needs `field`")?;
    let op = op.ok_or_else(|| format!("the predicate on {field:?} needs `op`"))?;
    if op != Op::Exists && value.is_none() {
        return Err(format!("the predicate on {field:?} needs a `value`"));
    }
    if op == Op::Exists && value.is_some() {
        return Err(format!("`exists` on {field:?} takes no value"));
    }
    Ok(Condition::Pred(Predicate { field, op, value }))
}

/// Deepest condition tree a rule may hold (`all`, `any` and `not` each
/// count one level). Rules arrive from the network (save, import, parse,
/// backtest) and everything that walks a tree — compiling, matching, the
/// analysis, writing YAML — recurses, so [`Condition::check_size`] refuses
/// deeper trees before any of them runs. The deserializers already stop at
/// their own recursion limit (128 for serde_norway and serde_json); this is
/// the tighter bound the rest of the crate relies on.
pub const MAX_CONDITION_DEPTH: usize = 32;

/// Most groups and predicates in one condition tree: bounds the analysis,
/// whose contradiction check is quadratic in an AND's members.
pub const MAX_CONDITION_NODES: usize = 1000;

impl Condition {
    /// Checks the tree against [`MAX_CONDITION_DEPTH`] and
    /// [`MAX_CONDITION_NODES`] without recursing (an explicit stack), so
    /// it is safe on any tree a deserializer produced.
    pub fn check_size(&self) -> Result<(), String> {
        let mut stack: Vec<(&Condition, usize)> = vec![(self, 1)];
        let mut nodes = 0usize;
        while let Some((c, depth)) = stack.pop() {
            nodes += 1;
            if depth > MAX_CONDITION_DEPTH {
                return Err(format!(
                    "the condition nests deeper than the limit of {MAX_CONDITION_DEPTH} levels of all/any/not"
                ));
            }
            if nodes > MAX_CONDITION_NODES {
                return Err(format!(
                    "the condition has more than the limit of {MAX_CONDITION_NODES} groups and predicates"
                ));
            }
            match c {
                Condition::All { all: v } | Condition::Any { any: v } => {
                    stack.extend(v.iter().map(|c| (c, depth + 1)))
                }
                Condition::Not { not } => stack.push((not, depth + 1)),
                Condition::Pred(_) => {}
            }
        }
        Ok(())
    }

    pub fn pred(field: &str, op: Op, value: Option<Scalar>) -> Condition {
        Condition::Pred(Predicate {
            field: field.into(),
            op,
            value,
        })
    }
}

/// A field a predicate reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Service,
    SpanName,
    SpanStatus,
    SpanKind,
    SpanDuration,
    LogSeverity,
    LogBody,
    Resource(String),
    Attr(String),
}

impl Field {
    pub fn parse(s: &str) -> Field {
        match s {
            "service" | "service.name" => Field::Service,
            "span.name" => Field::SpanName,
            "span.status" => Field::SpanStatus,
            "span.kind" => Field::SpanKind,
            "span.duration" => Field::SpanDuration,
            "log.severity" => Field::LogSeverity,
            "log.body" => Field::LogBody,
            _ => match s.strip_prefix("resource.") {
                Some(k) if !k.is_empty() => Field::Resource(k.into()),
                _ => Field::Attr(s.into()),
            },
        }
    }

    fn fits(&self, signal: Signal) -> bool {
        match self {
            Field::SpanName | Field::SpanStatus | Field::SpanKind | Field::SpanDuration => {
                matches!(signal, Signal::Spans | Signal::Traces)
            }
            Field::LogSeverity | Field::LogBody => signal == Signal::Logs,
            _ => true,
        }
    }

    /// Fields whose values compare as numbers.
    pub fn numeric(&self) -> bool {
        matches!(self, Field::SpanDuration | Field::LogSeverity)
    }
}

/// A field's value on one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(std::borrow::Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value<'_> {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::Str(s) => std::borrow::Cow::Borrowed(s.as_ref()),
            Value::Int(i) => i.to_string().into(),
            Value::Float(f) => f.to_string().into(),
            Value::Bool(b) => b.to_string().into(),
        }
    }
}

/// Something a condition is matched against.
pub trait Subject {
    fn get(&self, field: &Field) -> Option<Value<'_>>;
}

/// A predicate's value, ready to compare.
#[derive(Debug, Clone)]
pub enum Want {
    None,
    Text(String),
    Num(f64),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub struct CompiledPred {
    pub field: Field,
    pub op: Op,
    pub want: Want,
    /// The value as text (for equality on text, prefix, contains).
    pub text: String,
}

/// A condition with fields resolved, numbers parsed and regexes compiled.
#[derive(Debug, Clone)]
pub enum Compiled {
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
    Pred(CompiledPred),
}

fn number_for(field: &Field, v: &Scalar) -> Result<Option<f64>, String> {
    Ok(match (field, v) {
        (_, Scalar::Int(i)) => Some(*i as f64),
        (_, Scalar::Float(f)) => Some(*f),
        (Field::SpanDuration, Scalar::Str(s)) => Some(Dur::parse(s)?.0 as f64),
        (Field::LogSeverity, Scalar::Str(s)) => match loupe_model::severity::from_name(s) {
            Some(n) => Some(f64::from(n)),
            None => s.parse().ok(),
        },
        (_, Scalar::Str(s)) => s.trim().parse().ok(),
        (_, Scalar::Bool(_)) => None,
    })
}

impl Compiled {
    /// Resolves and checks a condition for a rule on `signal`. Recursive:
    /// the depth is the tree's, bounded by [`MAX_CONDITION_DEPTH`], which
    /// this checks first (iteratively) at the root.
    pub fn new(c: &Condition, signal: Signal) -> Result<Compiled, String> {
        c.check_size()?;
        Self::compile(c, signal)
    }

    /// [`Compiled::new`] below the root, whose size was checked.
    fn compile(c: &Condition, signal: Signal) -> Result<Compiled, String> {
        Ok(match c {
            Condition::All { all } => Compiled::All(
                all.iter()
                    .map(|c| Compiled::compile(c, signal))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Any { any } => {
                if any.is_empty() {
                    return Err("`any: []` has nothing to match: it never matches".into());
                }
                Compiled::Any(
                    any.iter()
                        .map(|c| Compiled::compile(c, signal))
                        .collect::<Result<_, _>>()?,
                )
            }
            Condition::Not { not } => Compiled::Not(Box::new(Compiled::compile(not, signal)?)),
            Condition::Pred(p) => Compiled::Pred(compile_pred(p, signal)?),
        })
    }

    /// Recursive; a compiled tree is no deeper than
    /// [`MAX_CONDITION_DEPTH`] (checked by [`Compiled::new`]).
    pub fn matches(&self, s: &dyn Subject) -> bool {
        match self {
            Compiled::All(v) => v.iter().all(|c| c.matches(s)),
            Compiled::Any(v) => v.iter().any(|c| c.matches(s)),
            Compiled::Not(c) => !c.matches(s),
            Compiled::Pred(p) => p.matches(s),
        }
    }
}

pub fn compile_pred(p: &Predicate, signal: Signal) -> Result<CompiledPred, String> {
    let field = Field::parse(&p.field);
    if p.field.trim().is_empty() {
        return Err("a predicate has an empty `field`".into());
    }
    if !field.fits(signal) {
        return Err(format!(
            "field {:?} does not exist on {} rules",
            p.field,
            format!("{signal:?}").to_lowercase()
        ));
    }
    let text = p.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let want = match (p.op, &p.value) {
        (Op::Exists, _) => Want::None,
        (_, None) => return Err(format!("the predicate on {:?} needs a value", p.field)),
        (Op::Regex, Some(v)) => Want::Regex(
            Regex::new(&v.to_string()).map_err(|e| format!("bad regex for {:?}: {e}", p.field))?,
        ),
        (op, Some(v)) => match number_for(&field, v)? {
            Some(n) if op.is_numeric() || field.numeric() => Want::Num(n),
            None if op.is_numeric() => {
                return Err(format!(
                    "{:?} on {:?} needs a number, not {v}",
                    format!("{op:?}").to_lowercase(),
                    p.field
                ))
            }
            None if field.numeric() && matches!(op, Op::Equals | Op::NotEquals) => {
                return Err(format!("{:?} compares numbers; {v} is not one", p.field))
            }
            _ => Want::Text(v.to_string()),
        },
    };
    if field == Field::SpanStatus && matches!(p.op, Op::Equals | Op::NotEquals) {
        if let Want::Text(t) = &want {
            if !["unset", "ok", "error"].contains(&t.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "span.status is unset, ok or error, not {t:?} (an engine's own status, like FAILED, is an attribute: use its key)"
                ));
            }
        }
    }
    Ok(CompiledPred {
        field,
        op: p.op,
        want,
        text,
    })
}

impl CompiledPred {
    pub fn matches(&self, s: &dyn Subject) -> bool {
        let v = s.get(&self.field);
        if self.op == Op::NotEquals {
            return match v {
                None => true,
                Some(v) => !self.equals(&v),
            };
        }
        let Some(v) = v else { return false };
        match self.op {
            Op::Exists => true,
            Op::Equals => self.equals(&v),
            Op::NotEquals => unreachable_ne(),
            Op::Prefix => v.text().starts_with(self.text.as_str()),
            Op::Contains => v.text().contains(self.text.as_str()),
            Op::Regex => match &self.want {
                Want::Regex(r) => r.is_match(&v.text()),
                _ => false,
            },
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                let (Some(x), Want::Num(t)) = (v.as_f64(), &self.want) else {
                    return false;
                };
                match self.op {
                    Op::Gt => x > *t,
                    Op::Gte => x >= *t,
                    Op::Lt => x < *t,
                    _ => x <= *t,
                }
            }
        }
    }

    fn equals(&self, v: &Value) -> bool {
        match &self.want {
            Want::Num(n) => v.as_f64() == Some(*n),
            _ => {
                let t = v.text();
                if self.field == Field::SpanStatus || self.field == Field::SpanKind {
                    t.eq_ignore_ascii_case(&self.text)
                } else {
                    t == self.text.as_str()
                }
            }
        }
    }
}

/// `not_equals` is answered before the match; kept total without a panic.
fn unreachable_ne() -> bool {
    false
}
