//! Compares two traces (or two stitched views): one merged tree whose nodes
//! are in A only, in B only, or in both, with durations and deltas.
//!
//! Spans are matched by their path of (service, span name) from the root
//! and by occurrence among siblings. Siblings (ordered by start) are
//! aligned with a longest common subsequence of their labels, so one
//! inserted task does not shift every later match; siblings left over on
//! both sides with equal labels are then paired in order and marked
//! `moved` (reordered). Common prefixes and suffixes are matched before
//! the LCS, and a remaining block too large for the quadratic table
//! (ForEachItem with thousands of iterations) is paired by occurrence only,
//! so the comparison stays near-linear on real traces.

use std::collections::HashMap;

use serde::Serialize;

use crate::stats::self_times;
use crate::tree::Tree;
use crate::{display, ns, ns_signed, AnalysisError, SpanId, TraceId};

/// Largest LCS table (cells) before falling back to pairing by occurrence.
const MAX_LCS_CELLS: usize = 4_000_000;
/// LCS cells for a whole comparison: many medium sibling lists must not add
/// up to quadratic time either; past it, lists are paired by occurrence.
const LCS_BUDGET: usize = 32_000_000;
/// Regressions listed in the summary.
const TOP: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    Both,
    OnlyA,
    OnlyB,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum StatusChange {
    /// OK in A, error in B.
    NewError,
    /// Error in A, OK in B.
    Fixed,
}

/// One side of a merged node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "CompareSide")]
pub struct Side {
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub trace_id: TraceId,
    #[ts(type = "string")]
    #[serde(serialize_with = "display")]
    pub span_id: SpanId,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub start: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub duration: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub self_time: u64,
    pub error: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "CompareNode")]
pub struct Node<'a> {
    pub id: usize,
    pub parent: Option<usize>,
    pub depth: u32,
    pub service: &'a str,
    pub name: &'a str,
    pub presence: Presence,
    /// Matched although siblings were reordered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[ts(as = "Option<bool>", optional)]
    pub moved: bool,
    pub a: Option<Side>,
    pub b: Option<Side>,
    /// B's duration minus A's (both sides present), nanoseconds.
    #[ts(type = "string | null")]
    #[serde(serialize_with = "ns_signed_opt")]
    pub delta: Option<i128>,
    #[ts(type = "string | null")]
    #[serde(serialize_with = "ns_signed_opt")]
    pub self_delta: Option<i128>,
    pub status_change: Option<StatusChange>,
}

fn ns_signed_opt<S: serde::Serializer>(v: &Option<i128>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => ns_signed(v, s),
        None => s.serialize_none(),
    }
}

/// A node that got slower, by the growth of its self time (so the span
/// doing the extra work is named, not each of its ancestors).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Regression {
    pub node: usize,
    pub service: String,
    pub name: String,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub a: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub b: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_signed")]
    pub delta: i128,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_signed")]
    pub self_delta: i128,
    /// B's duration over A's (`null` when A's is zero).
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "CompareSummary")]
pub struct Summary {
    pub matched: u64,
    pub added: u64,
    pub removed: u64,
    /// Matched nodes whose status changed or whose duration moved by at
    /// least 10% and 1 ms.
    pub changed: u64,
    pub status_changes: u64,
    /// Each trace's extent: its root's start to the end of the last span
    /// under it (work that outlived the root included).
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub duration_a: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub duration_b: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns_signed")]
    pub delta: i128,
    pub regressions: Vec<Regression>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Comparison<'a> {
    pub summary: Summary,
    /// Pre-order: parents before children.
    pub nodes: Vec<Node<'a>>,
}

/// One pending pairing: a merged node to create under `parent`.
struct Item {
    parent: Option<usize>,
    depth: u32,
    a: Option<usize>,
    b: Option<usize>,
    moved: bool,
}

/// Compares A with B (B is "now", A the baseline).
pub fn compare<'a>(a: &Tree<'a>, b: &Tree<'a>) -> Result<Comparison<'a>, AnalysisError> {
    let (ra, rb) = match (a.main_root, b.main_root) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(AnalysisError::Empty),
    };
    // Labels interned to numbers: the alignment compares integers.
    let mut labels: HashMap<(&str, &str), u32> = HashMap::new();
    let mut la = Vec::with_capacity(a.len());
    for s in a.spans {
        let n = labels.len() as u32;
        la.push(
            *labels
                .entry((s.service.as_str(), s.name.as_str()))
                .or_insert(n),
        );
    }
    let mut lb = Vec::with_capacity(b.len());
    for s in b.spans {
        let n = labels.len() as u32;
        lb.push(
            *labels
                .entry((s.service.as_str(), s.name.as_str()))
                .or_insert(n),
        );
    }
    let sa = self_times(a);
    let sb = self_times(b);
    let side = |t: &Tree, st: &[u64], i: usize| {
        let s = &t.spans[i];
        Side {
            trace_id: s.trace_id,
            span_id: s.span_id,
            start: s.start,
            duration: s.duration(),
            self_time: st[i],
            error: s.error,
        }
    };
    // Other roots (orphans) are aligned too, after the main roots.
    let others_a: Vec<usize> = a.roots.iter().copied().filter(|&r| r != ra).collect();
    let others_b: Vec<usize> = b.roots.iter().copied().filter(|&r| r != rb).collect();
    let mut stack: Vec<Item> = Vec::new();
    let mut budget = LCS_BUDGET;
    for (x, y, moved) in align(&others_a, &others_b, &la, &lb, &mut budget)
        .into_iter()
        .rev()
    {
        stack.push(Item {
            parent: None,
            depth: 0,
            a: x,
            b: y,
            moved,
        });
    }
    stack.push(Item {
        parent: None,
        depth: 0,
        a: Some(ra),
        b: Some(rb),
        moved: false,
    });
    let mut nodes: Vec<Node<'a>> = Vec::with_capacity(a.len().max(b.len()));
    let empty: &[usize] = &[];
    while let Some(it) = stack.pop() {
        let id = nodes.len();
        let any = it.b.map(|i| &b.spans[i]).or(it.a.map(|i| &a.spans[i]));
        let Some(any) = any else { continue };
        let sda = it.a.map(|i| side(a, &sa, i));
        let sdb = it.b.map(|i| side(b, &sb, i));
        let (presence, delta, self_delta, status_change) = match (&sda, &sdb) {
            (Some(x), Some(y)) => (
                Presence::Both,
                Some(i128::from(y.duration) - i128::from(x.duration)),
                Some(i128::from(y.self_time) - i128::from(x.self_time)),
                match (x.error, y.error) {
                    (false, true) => Some(StatusChange::NewError),
                    (true, false) => Some(StatusChange::Fixed),
                    _ => None,
                },
            ),
            (Some(_), None) => (Presence::OnlyA, None, None, None),
            _ => (Presence::OnlyB, None, None, None),
        };
        nodes.push(Node {
            id,
            parent: it.parent,
            depth: it.depth,
            service: &any.service,
            name: &any.name,
            presence,
            moved: it.moved,
            a: sda,
            b: sdb,
            delta,
            self_delta,
            status_change,
        });
        let ca = it.a.map_or(empty, |i| a.children(i));
        let cb = it.b.map_or(empty, |i| b.children(i));
        let depth = it.depth.saturating_add(1);
        for (x, y, moved) in align(ca, cb, &la, &lb, &mut budget).into_iter().rev() {
            stack.push(Item {
                parent: Some(id),
                depth,
                a: x,
                b: y,
                moved,
            });
        }
    }
    let extent = |t: &Tree, r: usize| {
        let (s, e) = t.extent(r);
        e - s
    };
    Ok(Comparison {
        summary: summarize(&nodes, extent(a, ra), extent(b, rb)),
        nodes,
    })
}

/// `duration_a`/`duration_b`: the extents of the two traces (see
/// [`Tree::extent`]), not their roots' durations.
fn summarize(nodes: &[Node<'_>], duration_a: u64, duration_b: u64) -> Summary {
    let mut s = Summary {
        matched: 0,
        added: 0,
        removed: 0,
        changed: 0,
        status_changes: 0,
        duration_a,
        duration_b,
        delta: 0,
        regressions: Vec::new(),
    };
    s.delta = i128::from(s.duration_b) - i128::from(s.duration_a);
    let mut regs: Vec<&Node<'_>> = Vec::new();
    for n in nodes {
        match n.presence {
            Presence::OnlyA => s.removed += 1,
            Presence::OnlyB => s.added += 1,
            Presence::Both => {
                s.matched += 1;
                let (Some(x), Some(d)) = (&n.a, n.delta) else {
                    continue;
                };
                let big = d.unsigned_abs() >= 1_000_000
                    && d.unsigned_abs() * 10 >= u128::from(x.duration);
                if n.status_change.is_some() {
                    s.status_changes += 1;
                }
                if big || n.status_change.is_some() {
                    s.changed += 1;
                }
                if n.self_delta.is_some_and(|d| d > 0) {
                    regs.push(n);
                }
            }
        }
    }
    regs.sort_by(|x, y| y.self_delta.cmp(&x.self_delta).then(x.id.cmp(&y.id)));
    s.regressions = regs
        .into_iter()
        .take(TOP)
        .filter_map(|n| {
            let (x, y) = (n.a.as_ref()?, n.b.as_ref()?);
            Some(Regression {
                node: n.id,
                service: n.service.to_string(),
                name: n.name.to_string(),
                a: x.duration,
                b: y.duration,
                delta: n.delta?,
                self_delta: n.self_delta?,
                ratio: (x.duration > 0).then(|| y.duration as f64 / x.duration as f64),
            })
        })
        .collect();
    s
}

/// Aligns two sibling lists; the answer is in display order: A's removed
/// siblings before B's added ones between two matches, reordered matches
/// where B has them.
fn align(
    a: &[usize],
    b: &[usize],
    la: &[u32],
    lb: &[u32],
    budget: &mut usize,
) -> Vec<(Option<usize>, Option<usize>, bool)> {
    let (n, m) = (a.len(), b.len());
    // anchor_a[i] = Some(j): LCS pair; ma/mb: any pairing (LCS or moved).
    let mut anchor_a: Vec<Option<usize>> = vec![None; n];
    let mut ma: Vec<Option<usize>> = vec![None; n];
    let mut mb: Vec<Option<usize>> = vec![None; m];
    let mut pre = 0;
    while pre < n && pre < m && la[a[pre]] == lb[b[pre]] {
        anchor_a[pre] = Some(pre);
        pre += 1;
    }
    let mut suf = 0;
    while suf < n - pre && suf < m - pre && la[a[n - 1 - suf]] == lb[b[m - 1 - suf]] {
        anchor_a[n - 1 - suf] = Some(m - 1 - suf);
        suf += 1;
    }
    let (x0, x1, y0, y1) = (pre, n - suf, pre, m - suf);
    let (w, h) = (x1 - x0, y1 - y0);
    let cells = w.saturating_mul(h);
    let table = w > 0 && h > 0 && cells <= MAX_LCS_CELLS && cells <= *budget;
    if table {
        *budget -= cells;
        // Suffix LCS lengths, then a forward walk.
        let cols = h + 1;
        let mut t = vec![0u32; (w + 1) * cols];
        for i in (0..w).rev() {
            for j in (0..h).rev() {
                t[i * cols + j] = if la[a[x0 + i]] == lb[b[y0 + j]] {
                    t[(i + 1) * cols + j + 1] + 1
                } else {
                    t[(i + 1) * cols + j].max(t[i * cols + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < w && j < h {
            if la[a[x0 + i]] == lb[b[y0 + j]] {
                anchor_a[x0 + i] = Some(y0 + j);
                i += 1;
                j += 1;
            } else if t[(i + 1) * cols + j] >= t[i * cols + j + 1] {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    for (i, an) in anchor_a.iter().enumerate() {
        if let Some(j) = *an {
            ma[i] = Some(j);
            mb[j] = Some(i);
        }
    }
    // Leftovers with equal labels, k-th with k-th: reordered siblings, or
    // everything when the block was too large for the table.
    let mut pending: HashMap<u32, std::collections::VecDeque<usize>> = HashMap::new();
    for i in 0..n {
        if ma[i].is_none() {
            pending.entry(la[a[i]]).or_default().push_back(i);
        }
    }
    let mut moved = vec![false; m];
    for j in 0..m {
        if mb[j].is_none() {
            if let Some(i) = pending.get_mut(&lb[b[j]]).and_then(|q| q.pop_front()) {
                ma[i] = Some(j);
                mb[j] = Some(i);
                moved[j] = table;
            }
        }
    }
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    loop {
        while i < n && anchor_a[i].is_none() {
            if ma[i].is_none() {
                out.push((Some(a[i]), None, false));
            }
            i += 1;
        }
        let stop_j = if i < n { anchor_a[i].unwrap_or(m) } else { m };
        while j < stop_j {
            match mb[j] {
                Some(ai) => out.push((Some(a[ai]), Some(b[j]), moved[j])),
                None => out.push((None, Some(b[j]), false)),
            }
            j += 1;
        }
        if i < n {
            out.push((Some(a[i]), Some(b[j]), false));
            i += 1;
            j += 1;
        } else {
            break;
        }
    }
    out
}
