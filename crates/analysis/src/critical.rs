//! The critical path: the chain of span segments that determined when the
//! trace's work ended. The walk is Jaeger UI's (`TracePage/CriticalPath`):
//! start at the end, step into the child that finished last before the
//! cursor, and when a span has no such child, its own time up to the cursor
//! is on the path and the cursor moves to its start, back in its parent.
//!
//! Where Loupe differs is what "the end" is. Jaeger walks back from the
//! root's end and clips every child to its parent, so work the root started
//! and did not wait for (an API call that starts a workflow execution and
//! answers at once, a fire-and-forget job) is cut off: for a Kestra
//! execution started by a 71 ms API call, Jaeger's path is the 71 ms call
//! and the 10 s of tasks are invisible. Loupe walks the trace's *extent*:
//!
//! - each span's interval is extended to the end of its latest-ending
//!   descendant (the work it started belongs to it, waited for or not), so
//!   a child outliving its parent is never clipped and extends the parent;
//! - the path therefore runs from the root's start to the end of the
//!   last-finishing span under it, and ends in that span;
//! - the time a span holds the path after its own end (waiting for nothing
//!   it knows of while work it started is scheduled) is its self time on
//!   the path: for the Kestra case, the gaps between tasks are billed to the
//!   API span that started the execution, which is where they come from.
//!
//! When nothing outlives its parent, this is exactly Jaeger's path.
//! [`CriticalPath::duration`] is the extent and
//! [`CriticalPath::root_duration`] the root's own duration, so a UI can say
//! "the path covers 9.9 s; the root span took 71 ms".
//!
//! Before walking, a *cross-service* child starting before its parent (clock
//! skew between hosts) is shifted forward to its parent's start with its
//! subtree; a same-service child starting before its parent is clamped to
//! the parent's start (dropped if it ended before the parent started).
//! Producer → consumer (message) children are walked like any other: when
//! the message's processing is what ended last, it is the answer.
//!
//! One deliberate difference: Jaeger takes a child that ends strictly
//! before the cursor; Loupe also takes one ending exactly at it, so two
//! back-to-back tasks (common with nanosecond clocks in tests and in
//! engines that start the next task on the previous one's end) are both on
//! the path instead of the gap being billed to the parent.

use serde::Serialize;

use crate::tree::Tree;
use crate::{display, ns, AnalysisError, SpanId, TraceId};

/// One stretch of the path: `span` was the one holding the trace up
/// between `start` and `end` (adjusted times, see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Segment<'a> {
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub trace_id: TraceId,
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub span_id: SpanId,
    pub service: &'a str,
    pub name: &'a str,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub start: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub end: u64,
    #[serde(skip)]
    pub index: usize,
}

/// A span's share of the path: the sum of its segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "OnPathSpan")]
pub struct OnPath<'a> {
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub trace_id: TraceId,
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub span_id: SpanId,
    pub service: &'a str,
    pub name: &'a str,
    /// Time on the path spent in this span itself (not in its children).
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub self_time: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct CriticalPath<'a> {
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub root_span_id: SpanId,
    /// The trace's extent under the root: from the root's start to the end
    /// of the last-finishing span (adjusted times).
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub duration: u64,
    /// The root span's own duration (shorter than `duration` when work it
    /// started outlived it).
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub root_duration: u64,
    /// In time order.
    pub segments: Vec<Segment<'a>>,
    /// Spans on the path by self time on the path, largest first.
    pub spans: Vec<OnPath<'a>>,
}

/// Adjusted intervals: `None` for spans left out of the walk. Each kept
/// span's end is extended to its latest-ending kept descendant's.
pub(crate) fn adjusted(tree: &Tree, root: usize) -> Vec<Option<(u64, u64)>> {
    let spans = tree.spans;
    let mut iv: Vec<Option<(u64, u64)>> = vec![None; spans.len()];
    // Per span, how far its subtree was shifted forward (clock skew).
    let mut shift = vec![0u64; spans.len()];
    let r = &spans[root];
    iv[root] = Some((r.start, r.end.max(r.start)));
    // Kept spans in pre-order: reversed, children come before parents.
    let mut kept = vec![root];
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        let Some((ps, _)) = iv[p] else { continue };
        for &c in tree.children(p) {
            let s = &spans[c];
            let mut sh = shift[p];
            let mut cs = s.start.saturating_add(sh);
            let mut ce = s.end.max(s.start).saturating_add(sh);
            if cs < ps && s.service != spans[p].service {
                let d = ps - cs;
                sh = sh.saturating_add(d);
                cs = ps;
                ce = ce.saturating_add(d);
            }
            if ce < ps {
                continue;
            }
            shift[c] = sh;
            iv[c] = Some((cs.max(ps), ce));
            kept.push(c);
            stack.push(c);
        }
    }
    for &c in kept.iter().rev() {
        let (Some(p), Some((_, ce))) = (tree.parent(c), iv[c]) else {
            continue;
        };
        if let Some((ps, pe)) = iv[p] {
            iv[p] = Some((ps, pe.max(ce)));
        }
    }
    iv
}

/// The critical path of the tree's main root.
pub fn critical_path<'a>(tree: &Tree<'a>) -> Result<CriticalPath<'a>, AnalysisError> {
    let root = tree.main_root.ok_or(AnalysisError::Empty)?;
    let spans = tree.spans;
    let iv = adjusted(tree, root);
    // Each span's kept children by end, latest first, walked with a cursor
    // that only moves forward: when the walk comes back to a span, its
    // cursor time is earlier than last time, so children skipped before
    // stay skipped and the whole walk is linear after the sort.
    let mut kids: Vec<Vec<usize>> = Vec::new();
    kids.resize_with(spans.len(), Vec::new);
    let mut next = vec![0usize; spans.len()];
    let kids_of = |i: usize, kids: &mut Vec<Vec<usize>>| {
        if kids[i].is_empty() {
            let mut k: Vec<usize> = tree
                .children(i)
                .iter()
                .copied()
                .filter(|&c| iv[c].is_some())
                .collect();
            k.sort_by_key(|&c| (std::cmp::Reverse(iv[c].map_or(0, |v| v.1)), c));
            kids[i] = k;
        }
    };
    let mut raw: Vec<(usize, u64, u64)> = Vec::new();
    let (_, root_end) = iv[root].unwrap_or((0, 0));
    let mut cur = root;
    let mut cursor = root_end;
    loop {
        kids_of(cur, &mut kids);
        let list = &kids[cur];
        let mut k = next[cur];
        while k < list.len() && iv[list[k]].map_or(0, |v| v.1) > cursor {
            k += 1;
        }
        if k < list.len() {
            let c = list[k];
            next[cur] = k + 1;
            let (_, ce) = iv[c].unwrap_or((0, 0));
            if ce < cursor {
                raw.push((cur, ce, cursor));
            }
            cur = c;
            cursor = ce;
        } else {
            next[cur] = k;
            let (cs, _) = iv[cur].unwrap_or((0, 0));
            if cs < cursor {
                raw.push((cur, cs, cursor));
            }
            match tree.parent(cur) {
                Some(p) if cur != root => {
                    cursor = cs;
                    cur = p;
                }
                _ => break,
            }
        }
    }
    raw.reverse();
    let mut self_time: Vec<u64> = vec![0; spans.len()];
    let mut on_path: Vec<usize> = Vec::new();
    let segments: Vec<Segment<'a>> = raw
        .into_iter()
        .map(|(i, s, e)| {
            if self_time[i] == 0 {
                on_path.push(i);
            }
            self_time[i] += e - s;
            let sp = &spans[i];
            Segment {
                trace_id: sp.trace_id,
                span_id: sp.span_id,
                service: &sp.service,
                name: &sp.name,
                start: s,
                end: e,
                index: i,
            }
        })
        .collect();
    let mut on: Vec<(usize, u64)> = on_path.into_iter().map(|i| (i, self_time[i])).collect();
    on.sort_by_key(|&(i, t)| (std::cmp::Reverse(t), i));
    let (rs, re) = iv[root].unwrap_or((0, 0));
    Ok(CriticalPath {
        root_span_id: spans[root].span_id,
        duration: re - rs,
        root_duration: spans[root].duration(),
        segments,
        spans: on
            .into_iter()
            .map(|(i, t)| {
                let sp = &spans[i];
                OnPath {
                    trace_id: sp.trace_id,
                    span_id: sp.span_id,
                    service: &sp.service,
                    name: &sp.name,
                    self_time: t,
                }
            })
            .collect(),
    })
}
