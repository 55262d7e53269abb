//! The span forest: parent and children by index, built once per analysis.
//!
//! Telemetry is untrusted, so building never fails and never recurses:
//! a missing parent makes a span a root, a parent cycle is cut, duplicate
//! span IDs keep the first span as the one children attach to, and the
//! stitched view hangs each linked trace under the span its link names
//! (the same rule as the UI's `stitch.ts`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};

use crate::{Span, SpanId, TraceId};

/// A cheap hasher for span IDs: multiply-rotate per 8 bytes (as rustc's
/// FxHash), started from a per-map random seed and finished with
/// murmur3's avalanche. Without the finish, the low bits (hashbrown's
/// bucket index) ignore the high bytes of each word, and sequential IDs
/// collide into one bucket: quadratic. The random seed keeps crafted IDs
/// from colliding on purpose, since span IDs come from the network.
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds [`IdHasher`]s from one random seed.
#[derive(Clone)]
pub(crate) struct IdState(u64);

impl IdState {
    fn new() -> IdState {
        IdState(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl BuildHasher for IdState {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

type IdMap = HashMap<(TraceId, SpanId), usize, IdState>;

/// OTLP `SPAN_KIND_PRODUCER` and `SPAN_KIND_CONSUMER`.
pub const KIND_PRODUCER: i32 = 4;
pub const KIND_CONSUMER: i32 = 5;

/// Spans with parents and children resolved. Children are stored flat
/// (one allocation, not one per span) and ordered by start time.
#[derive(Debug)]
pub struct Tree<'a> {
    pub spans: &'a [Span],
    parent: Vec<Option<usize>>,
    child_off: Vec<usize>,
    child_idx: Vec<usize>,
    /// Roots ordered by start time.
    pub roots: Vec<usize>,
    /// The span the trace is "about": the main trace's true root (no parent
    /// ID) that starts first, else its first orphan.
    pub main_root: Option<usize>,
    /// Pre-order: every parent before its children, siblings by start.
    pub order: Vec<usize>,
    /// True for a span that hangs under another trace's span by a link.
    pub linked: Vec<bool>,
}

impl<'a> Tree<'a> {
    /// The forest of one trace (`main` = its ID) or, when `spans` hold
    /// several traces, the stitched view around `main`. With `main` `None`
    /// the first span's trace is the main one.
    pub fn build(spans: &'a [Span], main: Option<TraceId>) -> Tree<'a> {
        let n = spans.len();
        let main = main.or_else(|| spans.first().map(|s| s.trace_id));
        let mut index: IdMap = IdMap::with_capacity_and_hasher(n, IdState::new());
        for (i, s) in spans.iter().enumerate() {
            index.entry((s.trace_id, s.span_id)).or_insert(i);
        }
        let mut parent: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let p = *index.get(&(s.trace_id, s.parent_id?))?;
                (p != i).then_some(p)
            })
            .collect();
        let mut linked = vec![false; n];
        stitch(spans, &index, &mut parent, &mut linked, main);
        let (child_off, child_idx) = csr(spans, &parent);
        // Cut cycles: whatever no root reaches sits on or under a cycle.
        let mut seen = vec![false; n];
        let mut stack = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            if p.is_none() {
                mark(i, &child_off, &child_idx, &mut seen, &mut stack);
            }
        }
        let mut cut = false;
        for i in 0..n {
            if !seen[i] {
                parent[i] = None;
                cut = true;
                mark(i, &child_off, &child_idx, &mut seen, &mut stack);
            }
        }
        let (child_off, child_idx) = if cut {
            csr(spans, &parent)
        } else {
            (child_off, child_idx)
        };
        let mut roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
        roots.sort_by_key(|&i| (spans[i].start, i));
        let main_root = roots
            .iter()
            .copied()
            .filter(|&i| Some(spans[i].trace_id) == main)
            .min_by_key(|&i| {
                let s = &spans[i];
                (s.parent_id.is_some(), s.start, u64::MAX - s.duration(), i)
            });
        let mut order = Vec::with_capacity(n);
        // Roots in start order, each subtree in pre-order.
        stack.clear();
        stack.extend(roots.iter().rev());
        let mut tmp = Vec::new();
        while let Some(i) = stack.pop() {
            order.push(i);
            tmp.clear();
            tmp.extend_from_slice(&child_idx[child_off[i]..child_off[i + 1]]);
            stack.extend(tmp.iter().rev());
        }
        Tree {
            spans,
            parent,
            child_off,
            child_idx,
            roots,
            main_root,
            order,
            linked,
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn parent(&self, i: usize) -> Option<usize> {
        self.parent[i]
    }

    /// Children of `i`, by start time.
    pub fn children(&self, i: usize) -> &[usize] {
        &self.child_idx[self.child_off[i]..self.child_off[i + 1]]
    }

    /// The extent of `i`'s subtree: its start to the latest end of any
    /// span under it (itself included). Work that outlives the span that
    /// started it (an API call that starts a workflow execution) counts:
    /// this is what "how long did this run take" means.
    pub fn extent(&self, i: usize) -> (u64, u64) {
        let s = &self.spans[i];
        let mut end = s.end.max(s.start);
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            for &c in self.children(j) {
                end = end.max(self.spans[c].end);
                stack.push(c);
            }
        }
        (s.start, end)
    }

    /// Whether `i` was started by its parent without being waited for:
    /// a consumer under a producer (a message). OTLP has no FOLLOWS_FROM;
    /// this is the one relation it does mark as asynchronous.
    pub fn is_async(&self, i: usize) -> bool {
        self.parent[i].is_some_and(|p| {
            self.spans[i].kind == KIND_CONSUMER && self.spans[p].kind == KIND_PRODUCER
        })
    }
}

fn mark(from: usize, off: &[usize], idx: &[usize], seen: &mut [bool], stack: &mut Vec<usize>) {
    if seen[from] {
        return;
    }
    seen[from] = true;
    stack.push(from);
    while let Some(i) = stack.pop() {
        for &c in &idx[off[i]..off[i + 1]] {
            if !seen[c] {
                seen[c] = true;
                stack.push(c);
            }
        }
    }
}

/// Children lists in compressed form, each ordered by (start, end, index).
fn csr(spans: &[Span], parent: &[Option<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = spans.len();
    let mut off = vec![0usize; n + 1];
    for p in parent.iter().flatten() {
        off[p + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut fill = off.clone();
    let mut idx = vec![0usize; off[n]];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = *p {
            idx[fill[p]] = i;
            fill[p] += 1;
        }
    }
    for i in 0..n {
        idx[off[i]..off[i + 1]].sort_by_key(|&c| (spans[c].start, spans[c].end, c));
    }
    (off, idx)
}

/// Hangs the roots of each linked trace under the span of an already
/// placed trace that the link joins, breadth-first from `main`.
fn stitch(
    spans: &[Span],
    index: &IdMap,
    parent: &mut [Option<usize>],
    linked: &mut [bool],
    main: Option<TraceId>,
) {
    let Some(main) = main else { return };
    if spans.iter().all(|s| s.trace_id == main) {
        return;
    }
    // edges[P] = (T, s): trace T hangs under span s of trace P.
    let mut edges: HashMap<TraceId, Vec<(TraceId, usize)>> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        for &(t, sid) in &s.links {
            if t == s.trace_id {
                continue;
            }
            edges.entry(s.trace_id).or_default().push((t, i));
            if let Some(&j) = index.get(&(t, sid)) {
                edges.entry(t).or_default().push((s.trace_id, j));
            }
        }
    }
    for e in edges.values_mut() {
        e.sort_by_key(|&(t, i)| (spans[i].span_id, t));
    }
    let mut roots: HashMap<TraceId, Vec<usize>> = HashMap::new();
    for (i, p) in parent.iter().enumerate() {
        if p.is_none() {
            roots.entry(spans[i].trace_id).or_default().push(i);
        }
    }
    let mut placed: HashSet<TraceId> = HashSet::from([main]);
    let mut queue = VecDeque::from([main]);
    while let Some(p) = queue.pop_front() {
        let Some(list) = edges.get(&p) else { continue };
        for &(t, under) in list {
            if placed.contains(&t) {
                continue;
            }
            let Some(rs) = roots.get(&t) else { continue };
            placed.insert(t);
            for &r in rs {
                parent[r] = Some(under);
                linked[r] = true;
            }
            queue.push_back(t);
        }
    }
}
