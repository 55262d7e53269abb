//! `GET /traces/{traceId}/columns`: one trace for the trace page, as
//! newline-delimited JSON columns (shape: [`crate::columns_types`]).
//!
//! The OTLP/JSON answer repeats every span's keys, its resource's place and
//! every attribute in full: 50 MB for 100k spans, which the page's worker
//! parsed only to throw most of it away. Here a head line carries the
//! resources and scopes once, and each later line is one chunk of at most
//! [`CHUNK`] spans as columns, with names, status messages and attributes
//! interned (a chunk adds only the strings and attributes it is the first
//! to use). Chunks are written one at a time and sent as they are made, so
//! the worker parses one while the next is on the wire, and the server
//! holds at most a few encoded chunks beside the decoded trace.

use foldhash::HashMap;
use foldhash::HashMapExt;

use loupe_model::otlp::common::KeyValue;
use loupe_model::otlp::trace::Span;
use loupe_model::otlp::ExportTraceServiceRequest;

use loupe_model::time::{span_flags, TimeIssue};

use crate::otlp_json::W;

/// Spans a chunk: about 0.5 MB of JSON, a few ms to parse in the worker.
pub const CHUNK: usize = 4096;

/// Writes a trace's head line, then its chunks one at a time.
pub struct Encoder<'t> {
    trace: &'t ExportTraceServiceRequest,
    /// Every span with its resource and (global) scope index, in answer order.
    spans: Vec<(u32, u32, &'t Span)>,
    /// When the answer is in the trace page's pre-order ([`preorder`]): per
    /// span (answer order) its parent's answer index (-1: a root), depth and
    /// subtree size (itself included). Empty otherwise.
    tree: Option<Tree>,
    /// Interned: hashed with foldhash, as SipHash over a million
    /// attributes was most of the encoding.
    strings: HashMap<&'t str, u32>,
    /// Attributes by their encoded JSON.
    attributes: HashMap<Vec<u8>, u32>,
    next: usize,
    /// When the trace last received a span: spans whose own timestamps look
    /// wrong next to it are flagged (`loupeFlags`), as in the OTLP answer.
    received: u64,
}

impl<'t> Encoder<'t> {
    pub fn new(trace: &'t ExportTraceServiceRequest, received: u64) -> Self {
        let mut spans = Vec::new();
        let mut scope = 0u32;
        for (r, rs) in trace.resource_spans.iter().enumerate() {
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().map(|s| (r as u32, scope, s)));
                scope += 1;
            }
        }
        let tree = preorder(&spans).map(|(order, tree)| {
            spans = order.iter().map(|&i| spans[i as usize]).collect();
            tree
        });
        // About one attribute a span is new (typically an ID or a counter).
        let attributes = HashMap::with_capacity(spans.len().min(1 << 20));
        let mut strings = HashMap::with_capacity(64);
        strings.insert("", 0);
        Self {
            trace,
            spans,
            strings,
            attributes,
            tree,
            next: 0,
            received,
        }
    }

    /// The earliest non-zero start and the latest non-zero start or end
    /// (0 when none): the page's time axis before every chunk has arrived.
    fn extent(&self) -> (u64, u64) {
        let mut first = u64::MAX;
        let mut last = 0;
        for (_, _, s) in &self.spans {
            for t in [s.start_time_unix_nano, s.end_time_unix_nano] {
                last = last.max(t);
            }
            if s.start_time_unix_nano != 0 {
                first = first.min(s.start_time_unix_nano);
            }
        }
        (if first == u64::MAX { 0 } else { first }, last)
    }

    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The head line (with its newline).
    pub fn head(&self, trace_id: &str, out: &mut Vec<u8>) {
        let mut w = W(out, Some(self.received));
        w.raw("{\"traceId\":");
        w.str(trace_id);
        w.raw(",\"spanCount\":");
        w.num(self.spans.len());
        w.raw(",\"chunkSize\":");
        w.num(CHUNK);
        w.raw(if self.tree.is_some() {
            ",\"preorder\":true"
        } else {
            ",\"preorder\":false"
        });
        let (first, last) = self.extent();
        w.raw(",\"firstStart\":");
        w.u64s(first);
        w.raw(",\"lastEnd\":");
        w.u64s(last);
        w.raw(",\"resources\":[");
        for (i, rs) in self.trace.resource_spans.iter().enumerate() {
            if i > 0 {
                w.0.push(b',');
            }
            match &rs.resource {
                Some(r) => w.resource(r),
                None => w.raw("{}"),
            }
        }
        w.raw("],\"scopes\":[");
        let mut first = true;
        for ss in self
            .trace
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
        {
            if !first {
                w.0.push(b',');
            }
            first = false;
            match &ss.scope {
                Some(s) => w.scope(s),
                None => w.raw("{}"),
            }
        }
        w.raw("]}\n");
    }

    /// The next chunk's line (with its newline); false when every span is written.
    pub fn chunk(&mut self, out: &mut Vec<u8>) -> bool {
        let from = self.next;
        let to = self.spans.len().min(from + CHUNK);
        if from >= to {
            return false;
        }
        self.next = to;
        let spans: Vec<(u32, u32, &'t Span)> = self.spans[from..to].to_vec();

        // The tables first: what this chunk is the first to use.
        let mut new_strings: Vec<&'t str> = Vec::new();
        let mut names = Vec::with_capacity(spans.len());
        let mut messages = Vec::with_capacity(spans.len());
        for (_, _, s) in &spans {
            names.push(self.intern(&s.name, &mut new_strings));
            let m = s.status.as_ref().map_or("", |st| st.message.as_str());
            messages.push(self.intern(m, &mut new_strings));
        }
        let mut new_attributes: Vec<&'t KeyValue> = Vec::new();
        let mut ids = Vec::new();
        let mut scratch = Vec::new();
        for (_, _, s) in &spans {
            for kv in &s.attributes {
                scratch.clear();
                W(&mut scratch, None).kv(kv);
                let id = match self.attributes.get(&scratch[..]) {
                    Some(&id) => id,
                    None => {
                        let id = self.attributes.len() as u32;
                        self.attributes.insert(scratch.clone(), id);
                        new_attributes.push(kv);
                        id
                    }
                };
                ids.push(id);
            }
        }

        let mut w = W(out, Some(self.received));
        w.raw("{\"strings\":[");
        list(&mut w, &new_strings, |w, s| w.str(s));
        w.raw("],\"attributes\":[");
        list(&mut w, &new_attributes, |w, kv| w.kv(kv));
        w.raw("],\"spanId\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.hex(&s.span_id));
        w.raw("],\"parentSpanId\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.hex(&s.parent_span_id));
        w.raw("],\"name\":[");
        list(&mut w, &names, |w, i| w.num(i));
        w.raw("],\"kind\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.kind));
        w.raw("],\"flags\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.flags));
        w.raw("],\"loupeFlags\":[");
        let received = self.received;
        list(&mut w, &spans, |w, (_, _, s)| {
            let suspect =
                TimeIssue::of_span(s.start_time_unix_nano, s.end_time_unix_nano, received)
                    .is_some();
            w.num(if suspect { span_flags::TIME_SUSPECT } else { 0 })
        });
        w.raw("],\"start\":[");
        list(&mut w, &spans, |w, (_, _, s)| {
            w.u64s(s.start_time_unix_nano)
        });
        w.raw("],\"end\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.u64s(s.end_time_unix_nano));
        w.raw("],\"resource\":[");
        list(&mut w, &spans, |w, (r, _, _)| w.num(r));
        w.raw("],\"scope\":[");
        list(&mut w, &spans, |w, (_, sc, _)| w.num(sc));
        w.raw("],\"statusCode\":[");
        list(&mut w, &spans, |w, (_, _, s)| {
            w.num(s.status.as_ref().map_or(-1, |st| st.code))
        });
        w.raw("],\"statusMessage\":[");
        list(&mut w, &messages, |w, i| w.num(i));
        w.raw("],\"attributeCount\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.attributes.len()));
        w.raw("],\"attributeIds\":[");
        list(&mut w, &ids, |w, i| w.num(i));
        w.raw("],\"parent\":[");
        if let Some(t) = &self.tree {
            list(&mut w, &t.parent[from..to], |w, p| w.num(p));
            w.raw("],\"depth\":[");
            list(&mut w, &t.depth[from..to], |w, d| w.num(d));
            w.raw("],\"size\":[");
            list(&mut w, &t.size[from..to], |w, z| w.num(z));
        } else {
            w.raw("],\"depth\":[],\"size\":[");
        }
        w.raw("],\"extras\":[");
        let mut first = true;
        for (i, (_, _, s)) in spans.iter().enumerate() {
            if !needs_whole(s) {
                continue;
            }
            if !first {
                w.0.push(b',');
            }
            first = false;
            w.raw("{\"index\":");
            w.num(i);
            w.raw(",\"span\":");
            w.span(s);
            w.0.push(b'}');
        }
        w.raw("]}\n");
        true
    }

    fn intern(&mut self, s: &'t str, new: &mut Vec<&'t str>) -> u32 {
        let next = self.strings.len() as u32;
        *self.strings.entry(s).or_insert_with(|| {
            new.push(s);
            next
        })
    }
}

/// Each span's place in the tree, by answer index.
pub struct Tree {
    pub parent: Vec<i32>,
    pub depth: Vec<u32>,
    pub size: Vec<u32>,
}

/// The largest start offset (ns) the trace page's doubles compare exactly.
const EXACT: u64 = 1 << 52;

/// The order in which the trace page's `buildTree` (ui/src/tree.ts) lists
/// the spans, when the trace is plain enough to be sure of it: one trace
/// ID, unique span IDs, every parent present, no cycle, start offsets
/// below 2^52 ns. Pre-order; roots, then each node's children, by start
/// time (a span without a start counts as the earliest start), ties by
/// stored order. Otherwise `None`, and the answer keeps the stored order
/// (orphans, placeholders, duplicates and cycles are the page's to sort
/// out, as before). Returns the stored indices in that order and the tree
/// by new index. Memory: a few words per stored span.
fn preorder(spans: &[(u32, u32, &Span)]) -> Option<(Vec<u32>, Tree)> {
    let n = spans.len();
    let n32 = u32::try_from(n).ok().filter(|&n| n < i32::MAX as u32)?;
    let trace_id = &spans.first()?.2.trace_id;
    let mut ids: HashMap<&[u8], u32> = HashMap::with_capacity(n);
    let mut base = u64::MAX;
    for (i, (_, _, s)) in (0..n32).zip(spans) {
        if &s.trace_id != trace_id || ids.insert(&s.span_id, i).is_some() {
            return None;
        }
        if s.start_time_unix_nano != 0 {
            base = base.min(s.start_time_unix_nano);
        }
    }
    // Sort keys: start offsets from the earliest start (0 for no start).
    let mut key = Vec::with_capacity(n);
    for (_, _, s) in spans {
        let t = s.start_time_unix_nano;
        let off = if t == 0 { 0 } else { t.checked_sub(base)? };
        if off >= EXACT {
            return None;
        }
        key.push(off);
    }
    // Parents (stored index, u32::MAX for a root), then children as one
    // array with offsets.
    let mut parent = vec![u32::MAX; n];
    let mut count = vec![0u32; n + 1];
    for (i, (_, _, s)) in spans.iter().enumerate() {
        let p = &s.parent_span_id;
        if p.iter().all(|&b| b == 0) {
            continue;
        }
        let &j = ids.get(&p[..])?;
        if j as usize == i {
            return None;
        }
        parent[i] = j;
        count[j as usize] += 1;
    }
    drop(ids);
    let mut at = vec![0u32; n + 1];
    for i in 0..n {
        at[i + 1] = at[i] + count[i];
    }
    let mut fill = at.clone();
    let mut children = vec![0u32; at[n] as usize];
    let mut roots = Vec::new();
    for i in 0..n32 {
        match parent[i as usize] {
            u32::MAX => roots.push(i),
            p => {
                children[fill[p as usize] as usize] = i;
                fill[p as usize] += 1;
            }
        }
    }
    drop(fill);
    drop(count);
    let by_start = |a: &u32, b: &u32| key[*a as usize].cmp(&key[*b as usize]).then(a.cmp(b));
    roots.sort_unstable_by(by_start);
    for i in 0..n {
        children[at[i] as usize..at[i + 1] as usize].sort_unstable_by(by_start);
    }
    // Depth-first, no recursion.
    let mut order = Vec::with_capacity(n);
    let mut new_of = vec![u32::MAX; n];
    let mut depth = Vec::with_capacity(n);
    let mut new_parent = Vec::with_capacity(n);
    let mut stack: Vec<(u32, u32)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((x, d)) = stack.pop() {
        new_of[x as usize] = order.len() as u32;
        order.push(x);
        depth.push(d);
        new_parent.push(match parent[x as usize] {
            u32::MAX => -1,
            p => new_of[p as usize] as i32,
        });
        let ch = &children[at[x as usize] as usize..at[x as usize + 1] as usize];
        stack.extend(ch.iter().rev().map(|&c| (c, d + 1)));
    }
    if order.len() != n {
        // A parent cycle: some spans are not under any root.
        return None;
    }
    let mut size = vec![1u32; n];
    for j in (0..n).rev() {
        if let Ok(p) = usize::try_from(new_parent[j]) {
            size[p] += size[j];
        }
    }
    Some((
        order,
        Tree {
            parent: new_parent,
            depth,
            size,
        },
    ))
}

/// What the columns do not carry: such a span goes whole in `extras`.
fn needs_whole(s: &Span) -> bool {
    !s.events.is_empty()
        || !s.links.is_empty()
        || !s.trace_state.is_empty()
        || s.dropped_attributes_count != 0
        || s.dropped_events_count != 0
        || s.dropped_links_count != 0
}

/// `[a,b,…]`'s inside.
fn list<T>(w: &mut W<'_>, items: &[T], mut each: impl FnMut(&mut W<'_>, &T)) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            w.0.push(b',');
        }
        each(w, x);
    }
}
