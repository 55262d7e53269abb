//! The never-matches analysis: predicates under one AND that cannot hold
//! together (the seed's pitfall: two conditions listed without an OR), and
//! the OR that was probably meant.
//!
//! Sound, not complete: a warning is given only when a contradiction is
//! certain (two different `equals` on one field, `equals` outside a
//! `prefix`/`contains`/`regex`/range, prefixes that diverge, ranges that do
//! not overlap, `exists` against its negation), so a satisfiable rule never
//! gets one. `any` groups and negated groups are not looked into from the
//! outside (they are checked on their own), which is where it gives up
//! completeness for that guarantee.

use serde::Serialize;

use crate::condition::{compile_pred, CompiledPred, Condition, Field, Op, Predicate, Want};
use crate::signal::Signal;

/// One contradiction found under an AND.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Child indexes from the root to the AND group (empty: the root).
    pub path: Vec<usize>,
    /// The predicates that contradict each other, as text.
    pub conflicts: Vec<String>,
    pub message: String,
    /// The whole condition with that AND rewritten into an OR of whole
    /// branches: what was probably meant (see [`branches`]).
    pub suggestion: Condition,
    /// Other readings of the same AND, most likely first: the plain OR of
    /// the conflicting members, and the identity predicates placed with
    /// another branch. The editor shows each with its backtest count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<Condition>>", optional)]
    pub alternatives: Vec<Condition>,
}

/// The analysis of a rule's condition.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// Nothing can ever match: the rule can never fire.
    pub never_matches: bool,
    pub findings: Vec<Finding>,
}

/// Most contradictions reported for one condition. Each finding's
/// suggestion is a copy of the whole tree, so without a cap a tree of many
/// small contradictory ANDs would be copied once per AND (quadratic).
pub const MAX_FINDINGS: usize = 20;

/// Analyses a condition (`None` matches everything). Recursive (`walk`,
/// `atoms`, `replace_at`): callers pass validated rules, whose trees are
/// within `condition::MAX_CONDITION_DEPTH`.
pub fn analyse(cond: Option<&Condition>, signal: Signal) -> Analysis {
    let Some(c) = cond else {
        return Analysis {
            never_matches: false,
            findings: Vec::new(),
        };
    };
    let mut findings = Vec::new();
    let sat = walk(c, c, signal, &mut Vec::new(), &mut findings);
    Analysis {
        never_matches: !sat,
        findings,
    }
}

/// What one predicate (or a negated one) requires of its field.
#[derive(Debug, Clone)]
enum Need {
    Eq(CompiledPred),
    Ne(CompiledPred),
    Prefix(String),
    Contains(String),
    Regex(CompiledPred),
    Range {
        lo: f64,
        lo_strict: bool,
        hi: f64,
        hi_strict: bool,
    },
    Exists,
    Absent,
}

struct Atom {
    child: usize,
    field: Field,
    need: Need,
    text: String,
}

fn describe(p: &Predicate, negated: bool) -> String {
    let op = format!("{:?}", p.op);
    let mut s = format!("{} {}", p.field, to_snake(&op));
    if let Some(v) = &p.value {
        s.push(' ');
        s.push_str(&v.to_string());
    }
    if negated {
        format!("not ({s})")
    } else {
        s
    }
}

fn to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn atom_of(p: &Predicate, negated: bool, signal: Signal, child: usize) -> Option<Atom> {
    let cp = compile_pred(p, signal).ok()?;
    let num = |w: &Want| match w {
        Want::Num(n) => Some(*n),
        _ => None,
    };
    let need = match (cp.op, negated) {
        (Op::Equals, false) | (Op::NotEquals, true) => Need::Eq(cp.clone()),
        (Op::NotEquals, false) | (Op::Equals, true) => Need::Ne(cp.clone()),
        (Op::Exists, false) => Need::Exists,
        (Op::Exists, true) => Need::Absent,
        (Op::Prefix, false) => Need::Prefix(cp.text.clone()),
        (Op::Contains, false) => Need::Contains(cp.text.clone()),
        (Op::Regex, false) => Need::Regex(cp.clone()),
        (Op::Gt, false) => Need::Range {
            lo: num(&cp.want)?,
            lo_strict: true,
            hi: f64::INFINITY,
            hi_strict: false,
        },
        (Op::Gte, false) => Need::Range {
            lo: num(&cp.want)?,
            lo_strict: false,
            hi: f64::INFINITY,
            hi_strict: false,
        },
        (Op::Lt, false) => Need::Range {
            lo: f64::NEG_INFINITY,
            lo_strict: false,
            hi: num(&cp.want)?,
            hi_strict: true,
        },
        (Op::Lte, false) => Need::Range {
            lo: f64::NEG_INFINITY,
            lo_strict: false,
            hi: num(&cp.want)?,
            hi_strict: false,
        },
        // A negated prefix/contains/regex/range still leaves room.
        _ => return None,
    };
    Some(Atom {
        child,
        field: cp.field.clone(),
        need,
        text: describe(p, negated),
    })
}

/// The atoms an AND child contributes: itself, a negated predicate, or the
/// atoms of a nested AND (flattened).
fn atoms(c: &Condition, signal: Signal, child: usize, out: &mut Vec<Atom>) {
    match c {
        Condition::Pred(p) => out.extend(atom_of(p, false, signal, child)),
        Condition::Not { not } => {
            if let Condition::Pred(p) = not.as_ref() {
                out.extend(atom_of(p, true, signal, child));
            }
        }
        Condition::All { all } => {
            for c in all {
                atoms(c, signal, child, out);
            }
        }
        Condition::Any { .. } => {}
    }
}

/// The text an `equals` compares, normalised like the matcher does.
fn eq_text(p: &CompiledPred) -> String {
    if matches!(p.field, Field::SpanStatus | Field::SpanKind) {
        p.text.to_ascii_lowercase()
    } else {
        p.text.clone()
    }
}

fn in_range(x: f64, lo: f64, lo_strict: bool, hi: f64, hi_strict: bool) -> bool {
    (if lo_strict { x > lo } else { x >= lo }) && (if hi_strict { x < hi } else { x <= hi })
}

/// Whether two needs on the same field can never hold together.
fn conflict(a: &Need, b: &Need) -> bool {
    use Need::*;
    match (a, b) {
        (Absent, Absent) | (Absent, Ne(_)) | (Ne(_), Absent) => false,
        (Absent, _) | (_, Absent) => true,
        (Eq(x), Eq(y)) => match (&x.want, &y.want) {
            (Want::Num(p), Want::Num(q)) => p != q,
            (Want::Text(_), Want::Text(_)) => eq_text(x) != eq_text(y),
            _ => false,
        },
        (Eq(x), Ne(y)) | (Ne(y), Eq(x)) => match (&x.want, &y.want) {
            (Want::Num(p), Want::Num(q)) => p == q,
            (Want::Text(_), Want::Text(_)) => eq_text(x) == eq_text(y),
            _ => false,
        },
        (Eq(x), Prefix(p)) | (Prefix(p), Eq(x)) => {
            matches!(x.want, Want::Text(_)) && !x.text.starts_with(p.as_str())
        }
        (Eq(x), Contains(s)) | (Contains(s), Eq(x)) => {
            matches!(x.want, Want::Text(_)) && !x.text.contains(s.as_str())
        }
        (Eq(x), Regex(r)) | (Regex(r), Eq(x)) => match (&x.want, &r.want) {
            (Want::Text(_), Want::Regex(re)) => !re.is_match(&x.text),
            _ => false,
        },
        (
            Eq(x),
            Range {
                lo,
                lo_strict,
                hi,
                hi_strict,
            },
        )
        | (
            Range {
                lo,
                lo_strict,
                hi,
                hi_strict,
            },
            Eq(x),
        ) => {
            let v = match &x.want {
                Want::Num(n) => Some(*n),
                Want::Text(t) => t.trim().parse::<f64>().ok(),
                _ => return false,
            };
            match v {
                Some(v) => !in_range(v, *lo, *lo_strict, *hi, *hi_strict),
                None => true,
            }
        }
        (Prefix(p), Prefix(q)) => !p.starts_with(q.as_str()) && !q.starts_with(p.as_str()),
        (
            Range {
                lo: l1,
                lo_strict: ls1,
                hi: h1,
                hi_strict: hs1,
            },
            Range {
                lo: l2,
                lo_strict: ls2,
                hi: h2,
                hi_strict: hs2,
            },
        ) => {
            let (lo, lo_strict) = if l1 > l2 || (l1 == l2 && *ls1) {
                (*l1, *ls1)
            } else {
                (*l2, *ls2)
            };
            let (hi, hi_strict) = if h1 < h2 || (h1 == h2 && *hs1) {
                (*h1, *hs1)
            } else {
                (*h2, *hs2)
            };
            lo > hi || (lo == hi && (lo_strict || hi_strict))
        }
        _ => false,
    }
}

/// Returns whether `c` can match; records findings for contradictory ANDs.
fn walk(
    root: &Condition,
    c: &Condition,
    signal: Signal,
    path: &mut Vec<usize>,
    out: &mut Vec<Finding>,
) -> bool {
    match c {
        Condition::Pred(_) => true,
        Condition::Not { not } => {
            path.push(0);
            walk(root, not, signal, path, out);
            path.pop();
            true
        }
        Condition::Any { any } => {
            let mut sat = false;
            for (i, ch) in any.iter().enumerate() {
                path.push(i);
                sat |= walk(root, ch, signal, path, out);
                path.pop();
            }
            sat
        }
        Condition::All { all } => {
            let mut sat = true;
            for (i, ch) in all.iter().enumerate() {
                path.push(i);
                sat &= walk(root, ch, signal, path, out);
                path.pop();
            }
            let mut list = Vec::new();
            for (i, ch) in all.iter().enumerate() {
                atoms(ch, signal, i, &mut list);
            }
            let mut involved: Vec<usize> = Vec::new();
            let mut conflicts: Vec<String> = Vec::new();
            let mut add = |t: &str| {
                if !conflicts.iter().any(|c| c == t) {
                    conflicts.push(t.to_string());
                }
            };
            for (i, a) in list.iter().enumerate() {
                for b in &list[i + 1..] {
                    // A contradiction inside one child is that child's own finding.
                    if a.child == b.child || a.field != b.field || !conflict(&a.need, &b.need) {
                        continue;
                    }
                    add(&a.text);
                    add(&b.text);
                    for ch in [a.child, b.child] {
                        if !involved.contains(&ch) {
                            involved.push(ch);
                        }
                    }
                }
            }
            if involved.is_empty() {
                return sat;
            }
            if out.len() >= MAX_FINDINGS {
                // Each finding carries a copy of the whole tree: past the
                // cap, only the verdict is kept.
                return false;
            }
            involved.sort_unstable();
            let mut readings: Vec<Condition> = branches(all, &involved)
                .iter()
                .map(|placement| replace_at(root, path, &or_of(all, &involved, placement)))
                .collect();
            readings.dedup();
            let suggestion = readings.remove(0);
            readings.retain(|r| r != &suggestion);
            readings.truncate(MAX_ALTERNATIVES);
            out.push(Finding {
                path: path.clone(),
                message: format!(
                    "never matches: {} cannot all hold at once (they are under one AND). \
                     Did you mean any of them (OR)?",
                    conflicts
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                conflicts,
                suggestion,
                alternatives: readings,
            });
            false
        }
    }
}

/// Other readings offered beside the suggestion, at most.
const MAX_ALTERNATIVES: usize = 4;

/// Where the AND's other members go in the OR: `placement[j]` is the
/// branch (an index into `involved`) that member `j` joins, or `None` to
/// stay common to all branches. The first placement is the likeliest.
type Placement = Vec<Option<usize>>;

/// Whether a member narrows *which* thing matches (a service, a flow, a
/// namespace) rather than *how* it went (status, duration, severity):
/// only those can belong to one branch. The seed's `flowId = cleanup`
/// belongs with `namespace = company.system`, while `status = error`
/// applies to every branch.
fn identity(c: &Condition) -> bool {
    match c {
        Condition::Pred(p) => {
            matches!(
                Field::parse(&p.field),
                Field::Service | Field::SpanName | Field::Resource(_) | Field::Attr(_)
            ) && matches!(p.op, Op::Equals | Op::Prefix)
        }
        _ => false,
    }
}

/// How specific a branch is: an exact value (or a group, which already
/// pins several) is one thing, a prefix or pattern a family of things. An
/// identity member joins the single most specific branch: "the cleanup
/// flow in company.system" reads as one flow, "company.product" as the
/// whole namespace.
fn specificity(c: &Condition) -> u8 {
    match c {
        Condition::Pred(p) if p.op == Op::Equals => 2,
        Condition::All { .. } => 2,
        _ => 1,
    }
}

/// The readings of an AND whose `involved` members contradict each other:
/// first the likeliest (identity members with the single most specific
/// branch, when there is one), then the plain OR (every other member
/// common), then each identity member moved to each other branch.
fn branches(all: &[Condition], involved: &[usize]) -> Vec<Placement> {
    let movable: Vec<usize> = (0..all.len())
        .filter(|j| !involved.contains(j) && identity(&all[*j]))
        .collect();
    let plain: Placement = vec![None; all.len()];
    let best = involved
        .iter()
        .map(|&i| specificity(&all[i]))
        .max()
        .unwrap_or(0);
    let most_specific: Vec<usize> = (0..involved.len())
        .filter(|&b| specificity(&all[involved[b]]) == best)
        .collect();
    let mut out = Vec::new();
    if let ([b], false) = (most_specific.as_slice(), movable.is_empty()) {
        let mut p = plain.clone();
        for &j in &movable {
            p[j] = Some(*b);
        }
        out.push(p);
    }
    out.push(plain.clone());
    for &j in &movable {
        for b in 0..involved.len() {
            let mut p = plain.clone();
            p[j] = Some(b);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The AND's children with the `involved` ones moved under one `any`, placed
/// where the first of them was; members placed with a branch join it (as
/// an `all` with the branch's own member).
fn or_of(all: &[Condition], involved: &[usize], placement: &[Option<usize>]) -> Condition {
    let branch = |b: usize| -> Condition {
        let own = &all[involved[b]];
        let extra: Vec<Condition> = (0..all.len())
            .filter(|&j| placement[j] == Some(b))
            .map(|j| all[j].clone())
            .collect();
        if extra.is_empty() {
            return own.clone();
        }
        let mut members = match own {
            Condition::All { all } => all.clone(),
            c => vec![c.clone()],
        };
        members.extend(extra);
        Condition::All { all: members }
    };
    let any = Condition::Any {
        any: (0..involved.len()).map(branch).collect(),
    };
    let mut rest = Vec::new();
    let mut placed = false;
    for (i, c) in all.iter().enumerate() {
        if involved.contains(&i) {
            if !placed {
                rest.push(any.clone());
                placed = true;
            }
        } else if placement[i].is_none() {
            rest.push(c.clone());
        }
    }
    if rest.len() == 1 {
        rest.pop().unwrap_or(any)
    } else {
        Condition::All { all: rest }
    }
}

fn replace_at(c: &Condition, path: &[usize], with: &Condition) -> Condition {
    let Some((&i, rest)) = path.split_first() else {
        return with.clone();
    };
    // The children with child `i` replaced further down `rest`.
    let replaced = |children: &[Condition]| -> Vec<Condition> {
        children
            .iter()
            .enumerate()
            .map(|(j, ch)| {
                if j == i {
                    replace_at(ch, rest, with)
                } else {
                    ch.clone()
                }
            })
            .collect()
    };
    match c {
        Condition::All { all } => Condition::All { all: replaced(all) },
        Condition::Any { any } => Condition::Any { any: replaced(any) },
        Condition::Not { not } => Condition::Not {
            not: Box::new(replace_at(not, rest, with)),
        },
        Condition::Pred(_) => c.clone(),
    }
}
