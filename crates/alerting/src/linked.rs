//! A traces rule with a `query`: the trace must match the rule's `when`
//! (some span of it) and the search expression, which the store answers
//! and which may follow span links. Links make arrival order matter: the
//! API call's trace arrives first and its execution fails later, in
//! another trace. So each evaluation looks at the traces that got new
//! spans *and* the traces linked to them (as many hops as the expression
//! nests link operators), and asks the store which of those match now.

use std::collections::HashSet;

use loupe_alerts::eval::{Match, Matcher, SpanItem};
use loupe_model::ids::TraceId;
use loupe_model::query::Expr;
use loupe_store::{Reader, StoreError};

use crate::items::request_items;

/// Most traces looked at per evaluation beyond those with new spans.
const NEIGHBOURS_PER_TICK: usize = 1000;
/// Most linked traces whose spans are read back per evaluation (to check
/// `when` on a trace that got no new span itself).
const READ_PER_TICK: usize = 200;

/// The rule's matches among `spans` and the traces linked to theirs.
pub(crate) fn linked_matches(
    reader: &Reader,
    m: &Matcher,
    expr: &Expr,
    spans: &[SpanItem],
) -> Result<Vec<Match>, StoreError> {
    let mut touched: Vec<TraceId> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for s in spans {
        if seen.insert(&s.trace_id) {
            if let Ok(t) = TraceId::parse_hex(&s.trace_id) {
                touched.push(t);
            }
        }
    }
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let hops = expr.link_ops().1;
    let around =
        reader.linked_neighbourhood(&touched, hops, touched.len() + NEIGHBOURS_PER_TICK)?;
    let hits: HashSet<String> = reader
        .traces_matching(expr, &around)?
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut out: Vec<Match> = m
        .span_matches(spans)
        .into_iter()
        .filter(|x| {
            x.evidence
                .trace_id
                .as_ref()
                .is_some_and(|t| hits.contains(t))
        })
        .collect();
    let mut read = 0;
    for t in around.iter().skip(touched.len()) {
        let hex = t.to_string();
        if !hits.contains(&hex) || read >= READ_PER_TICK {
            continue;
        }
        read += 1;
        if let Some(req) = reader.trace(*t)? {
            out.extend(m.span_matches(&request_items(&req)).into_iter().take(1));
        }
    }
    Ok(out)
}
