//! Evaluating a search expression over the attribute index's posting lists:
//! AND is intersection, OR union, NOT "all but", so NOT never enumerates
//! all traces. `span.status = error` reads the traces with errors from
//! `traces_errors`, and a link operator maps the set its expression
//! stands for through the span links (`linksearch`).

use loupe_model::query::{AttrCondition, AttrOp, Expr, LinkDir, SPAN_STATUS_KEY};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::linksearch::{follow, LinkWork, Probe};
use crate::codec::{decode_ids, text_hash};
use crate::error::StoreError;

/// The index forms of a query value: the text's hash, and the number it
/// spells if any, so `http.status_code=500` matches the integer attribute
/// as well as the string "500".
fn eq_values(v: &str) -> Vec<SqlValue> {
    let mut out = vec![SqlValue::Blob(text_hash(v).to_vec())];
    if let Ok(i) = v.parse::<i64>() {
        out.push(SqlValue::Integer(i));
        out.push(SqlValue::Real(i as f64));
    } else if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() {
            out.push(SqlValue::Real(f));
        }
    }
    out
}

/// Traces whose postings match one condition, ascending and distinct.
fn matching_traces(c: &Connection, key: i64, op: &AttrOp) -> Result<Vec<i64>, StoreError> {
    let mut args: Vec<SqlValue> = vec![key.into()];
    let pred = match op {
        AttrOp::Exists => String::new(),
        AttrOp::Eq(v) | AttrOp::Ne(v) => {
            let vals = eq_values(v);
            let marks = vec!["?"; vals.len()].join(", ");
            args.extend(vals);
            let not = if matches!(op, AttrOp::Ne(_)) {
                "NOT "
            } else {
                ""
            };
            format!(" AND value {not}IN ({marks})")
        }
        AttrOp::Gt(x) | AttrOp::Ge(x) | AttrOp::Lt(x) | AttrOp::Le(x) => {
            let cmp = match op {
                AttrOp::Gt(_) => ">",
                AttrOp::Ge(_) => ">=",
                AttrOp::Lt(_) => "<",
                _ => "<=",
            };
            args.push((*x).into());
            // Numbers sort before text and blobs in SQLite: `value < ''`
            // keeps numbers only.
            format!(" AND value {cmp} ? AND value < ''")
        }
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT traces FROM attr_index WHERE key = ?{pred}"
    ))?;
    let mut rows = st.query(params_from_iter(args))?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        decode_ids(row.get_ref(0)?.as_blob()?, &mut ids)?;
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A set of traces: the listed ones, or every trace but the listed ones
/// (what NOT produces without enumerating all traces).
pub(super) enum TraceSet {
    Only(Vec<i64>),
    AllBut(Vec<i64>),
}

impl TraceSet {
    fn not(self) -> TraceSet {
        match self {
            TraceSet::Only(v) => TraceSet::AllBut(v),
            TraceSet::AllBut(v) => TraceSet::Only(v),
        }
    }

    pub(super) fn and(self, other: TraceSet) -> TraceSet {
        use TraceSet::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(intersect(&a, &b)),
            (Only(a), AllBut(b)) | (AllBut(b), Only(a)) => Only(difference(&a, &b)),
            (AllBut(a), AllBut(b)) => AllBut(union(&a, &b)),
        }
    }

    fn or(self, other: TraceSet) -> TraceSet {
        // De Morgan: a ∪ b = ¬(¬a ∩ ¬b).
        self.not().and(other.not()).not()
    }
}

/// Evaluates an expression against the attribute index. Recursive: its
/// depth is the expression's, which `loupe_query::parse_expr` bounds to
/// `MAX_EXPR_DEPTH` (plus the one AND that `search_traces` wraps around it;
/// repeated `q`s are one flat AND). `work` counts the link rows read.
pub(super) fn eval(c: &Connection, e: &Expr, work: &mut LinkWork) -> Result<TraceSet, StoreError> {
    Ok(match e {
        Expr::Cond(AttrCondition { key, .. }) if key == SPAN_STATUS_KEY => {
            // The parser makes `span.status` only `= error`.
            let mut st =
                c.prepare_cached("SELECT id FROM traces WHERE error_count > 0 ORDER BY id")?;
            let ids = st
                .query_map([], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            TraceSet::Only(ids)
        }
        Expr::Cond(AttrCondition { key, op }) => {
            let key_id: Option<i64> = c
                .prepare_cached("SELECT id FROM attr_keys WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            match key_id {
                // No span ever had this key: no trace meets the condition.
                None => TraceSet::Only(Vec::new()),
                Some(k) => TraceSet::Only(matching_traces(c, k, op)?),
            }
        }
        Expr::Not(inner) => eval(c, inner, work)?.not(),
        Expr::And(items) => {
            let mut acc = TraceSet::AllBut(Vec::new());
            for item in items {
                acc = acc.and(eval(c, item, work)?);
                if matches!(&acc, TraceSet::Only(v) if v.is_empty()) {
                    break;
                }
            }
            acc
        }
        Expr::Or(items) => {
            let mut acc = TraceSet::Only(Vec::new());
            for item in items {
                acc = acc.or(eval(c, item, work)?);
            }
            acc
        }
        Expr::Linked(dir, inner) => {
            let set = eval(c, inner, work)?;
            linked(c, *dir, set, work)?
        }
    })
}

/// The traces joined in direction `dir` to a member of `set`.
fn linked(
    c: &Connection,
    dir: LinkDir,
    set: TraceSet,
    work: &mut LinkWork,
) -> Result<TraceSet, StoreError> {
    Ok(match set {
        TraceSet::Only(ids) if ids.is_empty() => TraceSet::Only(ids),
        TraceSet::Only(ids) => TraceSet::Only(follow(c, dir, &ids, false, work)?),
        TraceSet::AllBut(ids) => TraceSet::Only(follow(c, dir, &ids, true, work)?),
    })
}

/// Evaluates a search's expression but for the link operators of its
/// top-level AND (ANDs nested in it included), which come back as
/// [`Probe`]s for the search to test candidates against one at a time:
/// the set the other terms stand for, and the probes. The set and the
/// probes [`settle`]d intersect to what `eval` gives.
pub(super) fn plan(
    c: &Connection,
    e: &Expr,
    work: &mut LinkWork,
) -> Result<(TraceSet, Vec<Probe>), StoreError> {
    let mut terms = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(items) => stack.extend(items.iter().rev()),
            other => terms.push(other),
        }
    }
    let mut acc = TraceSet::AllBut(Vec::new());
    let mut probes = Vec::new();
    for term in terms {
        if let Expr::Linked(dir, inner) = term {
            probes.push(Probe::Linked(*dir, Box::new(probe(c, inner, work)?)));
            continue;
        }
        acc = acc.and(eval(c, term, work)?);
        if matches!(&acc, TraceSet::Only(v) if v.is_empty()) {
            return Ok((acc, Vec::new()));
        }
    }
    Ok((acc, probes))
}

/// A link operator's inner expression as a probe: link operators directly
/// inside it stay unevaluated, anything else is evaluated.
fn probe(c: &Connection, e: &Expr, work: &mut LinkWork) -> Result<Probe, StoreError> {
    Ok(match e {
        Expr::Linked(dir, inner) => Probe::Linked(*dir, Box::new(probe(c, inner, work)?)),
        other => Probe::Set(eval(c, other, work)?),
    })
}

/// The set a probe stands for, as `eval` computes it.
pub(super) fn settle(
    c: &Connection,
    p: Probe,
    work: &mut LinkWork,
) -> Result<TraceSet, StoreError> {
    Ok(match p {
        Probe::Set(s) => s,
        Probe::Linked(dir, inner) => {
            let set = settle(c, *inner, work)?;
            linked(c, dir, set, work)?
        }
    })
}

fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y => {
                i += 1;
                *x
            }
            (Some(x), Some(y)) if y < x => {
                j += 1;
                *y
            }
            (Some(x), Some(_)) => {
                i += 1;
                j += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => break,
        };
        out.push(next);
    }
    out
}

fn difference(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter()
        .copied()
        .filter(|x| b.binary_search(x).is_err())
        .collect()
}

fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(v: &[i64]) -> TraceSet {
        TraceSet::Only(v.to_vec())
    }

    /// Materializes a set over a universe, to compare with plain set logic.
    fn members(s: TraceSet, universe: &[i64]) -> Vec<i64> {
        match s {
            TraceSet::Only(v) => v,
            TraceSet::AllBut(v) => difference(universe, &v),
        }
    }

    #[test]
    fn set_algebra_matches_plain_sets() {
        let u: Vec<i64> = (1..=8).collect();
        let a = [1, 2, 3, 5];
        let b = [2, 5, 7];
        assert_eq!(members(only(&a).and(only(&b)), &u), vec![2, 5]);
        assert_eq!(members(only(&a).or(only(&b)), &u), vec![1, 2, 3, 5, 7]);
        assert_eq!(members(only(&a).not(), &u), vec![4, 6, 7, 8]);
        assert_eq!(members(only(&a).and(only(&b).not()), &u), vec![1, 3]);
        assert_eq!(
            members(only(&a).not().and(only(&b).not()), &u),
            vec![4, 6, 8]
        );
        assert_eq!(
            members(only(&a).not().or(only(&b)), &u),
            vec![2, 4, 5, 6, 7, 8]
        );
        assert_eq!(union(&[1, 4], &[2, 4, 9]), vec![1, 2, 4, 9]);
    }
}
