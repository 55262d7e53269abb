//! Inferred links: the traces a trace shares a join rule's value with
//! (`loupe_model::correlation`), read from `corr_values`, which the writer
//! fills at ingest. Answering them is two index lookups per value the
//! trace carries, never a scan of spans.
//!
//! An inferred entry of `/related` is its own entry, marked with the rule
//! that inferred it; a trace already joined by a real span link gets no
//! inferred entry (the link says more than a shared value does).

use std::collections::HashSet;

use loupe_model::correlation::JoinRule;
use loupe_model::ids::SpanId;
use loupe_model::query::{Inferred, LinkDirection, LinkPair, RelatedTrace};
use rusqlite::Connection;

use super::Reader;
use crate::correlate::{ROLE_KEY, ROLE_REFERENCE};
use crate::error::StoreError;

/// Most traces one value joins a trace to: a key shared by thousands of
/// traces (a constant mistaken for an identifier) is not a correlation,
/// and the answer stays small.
pub(crate) const MAX_PER_VALUE: i64 = 50;
/// Most inferred entries in one `/related` answer.
pub(crate) const MAX_INFERRED: usize = 200;

impl Reader {
    /// The join rules, as configured, with whether each is on now.
    pub fn join_rules(&self) -> Vec<JoinRule> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Turns the join rule named `name` on or off; its values stay indexed,
    /// so turning it back on answers its links again at once. `None` when
    /// no rule has that name.
    pub fn set_join_rule(&self, name: &str, enabled: bool) -> Option<Vec<JoinRule>> {
        let mut rules = self.rules.write().unwrap_or_else(|e| e.into_inner());
        let rule = rules.iter_mut().find(|r| r.name == name)?;
        rule.enabled = enabled;
        Some(rules.clone())
    }

    pub(crate) fn enabled_rules(&self) -> Vec<JoinRule> {
        self.rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.enabled)
            .cloned()
            .collect()
    }
}

/// One other trace a value joins this one to.
struct Other {
    trace_id: Vec<u8>,
    start: i64,
    span: i64,
}

/// The inferred entries for the trace stored as row `this` (`me`: its
/// trace ID, `start`: its start), leaving out the traces in `linked`.
pub(crate) fn inferred(
    c: &Connection,
    rules: &[JoinRule],
    this: i64,
    me: &[u8],
    start: i64,
    linked: &HashSet<Vec<u8>>,
) -> Result<Vec<RelatedTrace>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut mine = c.prepare_cached(
        "SELECT rule, value, role, span FROM corr_values WHERE trace = ?1 ORDER BY rule, role, value",
    )?;
    let values = mine
        .query_map([this], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut others = c.prepare_cached(
        "SELECT t.trace_id, t.start_ns, c.span FROM corr_values c JOIN traces t ON t.id = c.trace
         WHERE c.rule = ?1 AND c.value = ?2 AND c.role = ?3 AND c.trace != ?4
         ORDER BY t.start_ns, t.id LIMIT ?5",
    )?;
    let mut out: Vec<RelatedTrace> = Vec::new();
    let mut seen: HashSet<(Vec<u8>, String)> = HashSet::new();
    let me_hex = hex::encode(me);
    for (rule_name, value, role, my_span) in values {
        let Some(rule) = rules.iter().find(|r| r.name == rule_name) else {
            continue;
        };
        // Which role the other side must have, for this side's role.
        let want = match (rule.reference.is_some(), role) {
            (false, ROLE_KEY) => ROLE_KEY,
            (true, ROLE_KEY) => ROLE_REFERENCE,
            (true, ROLE_REFERENCE) => ROLE_KEY,
            _ => continue,
        };
        let rows = others
            .query_map(
                rusqlite::params![rule_name, value, want, this, MAX_PER_VALUE],
                |r| {
                    Ok(Other {
                        trace_id: r.get(0)?,
                        start: r.get(1)?,
                        span: r.get(2)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        for o in rows {
            if o.trace_id == me || linked.contains(&o.trace_id) {
                continue;
            }
            if !seen.insert((o.trace_id.clone(), rule_name.clone())) {
                continue;
            }
            if out.len() >= MAX_INFERRED {
                return Ok(out);
            }
            // A reference points from the referring trace to the referred
            // one (as a child execution's trace links to its parent's); a
            // shared key from the later trace to the earlier one.
            let outgoing = match want {
                ROLE_KEY if rule.reference.is_some() => true,
                ROLE_REFERENCE => false,
                _ => (start, me) > (o.start, &o.trace_id[..]),
            };
            let other_hex = hex::encode(&o.trace_id);
            let mine = (me_hex.clone(), SpanId::from_i64(my_span).to_string());
            let theirs = (other_hex.clone(), SpanId::from_i64(o.span).to_string());
            let (from, to) = if outgoing {
                (mine, theirs)
            } else {
                (theirs, mine)
            };
            out.push(RelatedTrace {
                trace_id: other_hex,
                direction: if outgoing {
                    LinkDirection::Outgoing
                } else {
                    LinkDirection::Incoming
                },
                summary: None,
                links: vec![LinkPair {
                    from_trace_id: from.0,
                    from_span_id: from.1,
                    to_trace_id: to.0,
                    to_span_id: to.1,
                }],
                inferred: Some(Inferred {
                    rule: rule.name.clone(),
                    key: rule.key.clone(),
                    reference: rule.reference.clone(),
                }),
            });
        }
    }
    Ok(out)
}
