//! Following span links in a search: the traces joined to a set of traces,
//! in one direction or both, over the `span_links` index.
//!
//! A small set is followed one trace at a time through the indexes (the
//! link rows a trace carries by primary key, the rows pointing at it by
//! `span_links_linked`), so `linked_from(span.status = error)` costs a few
//! lookups per failed trace whatever the store's size. A large set, or
//! "all traces but these" (under NOT), is answered by one pass over the
//! link rows instead. Either way a search reads at most
//! [`MAX_LINK_ROWS`] link rows in all, and says so when it would read more
//! rather than run on.
//!
//! A link operator of a search's top-level AND is not mapped in full when
//! that would cost more than a few hundred lookups: the search walks its
//! candidates newest first and tests each one's links ([`Prober`]),
//! stopping at `limit` matches, and maps the set in full only when the
//! walk would cost about as much ([`PROBE_MAX`] at most).

use std::collections::HashMap;

use loupe_model::query::LinkDir;
use rusqlite::Connection;

use super::postings::TraceSet;
use crate::error::StoreError;

/// Above this many traces, a set is followed by one pass over the link
/// rows rather than by lookups (one lookup costs about as much as reading
/// a few dozen rows in order).
const LOOKUP_MAX: usize = 20_000;

/// Most link rows one search reads, over all its link operators: 8
/// operators (the parser's limit) each passing over a store of 500k links.
pub const MAX_LINK_ROWS: usize = 4_000_000;

/// The link rows a search has read so far.
#[derive(Default)]
pub(super) struct LinkWork {
    rows: usize,
}

impl LinkWork {
    fn add(&mut self, n: usize) -> Result<(), StoreError> {
        self.rows = self.rows.saturating_add(n);
        if self.rows > MAX_LINK_ROWS {
            return Err(StoreError::BadQuery(format!(
                "the search follows more than {MAX_LINK_ROWS} span links; narrow what the link operators look for"
            )));
        }
        Ok(())
    }
}

/// The traces joined by a span link (not counting a trace's links to
/// itself), in direction `dir`, to a member of the set: `ids` (ascending)
/// or, when `negated`, every trace but `ids`. Ascending and distinct.
pub(super) fn follow(
    c: &Connection,
    dir: LinkDir,
    ids: &[i64],
    negated: bool,
    work: &mut LinkWork,
) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::new();
    if !negated && ids.len() <= LOOKUP_MAX {
        // Traces whose spans link to `t` (they are `links_to` a member).
        let mut to = c.prepare_cached(
            "SELECT l.trace FROM traces t JOIN span_links l ON l.linked_trace = t.trace_id WHERE t.id = ?1",
        )?;
        // Traces that spans of `t` link to (they are `linked_from` a member).
        let mut from = c.prepare_cached(
            "SELECT t.id FROM span_links l JOIN traces t ON t.trace_id = l.linked_trace
             WHERE l.trace = ?1 AND t.span_count > 0",
        )?;
        for &t in ids {
            let mut n = 0;
            if matches!(dir, LinkDir::To | LinkDir::Any) {
                let mut rows = to.query([t])?;
                while let Some(r) = rows.next()? {
                    n += 1;
                    let o: i64 = r.get(0)?;
                    if o != t {
                        out.push(o);
                    }
                }
            }
            if matches!(dir, LinkDir::From | LinkDir::Any) {
                let mut rows = from.query([t])?;
                while let Some(r) = rows.next()? {
                    n += 1;
                    let o: i64 = r.get(0)?;
                    if o != t {
                        out.push(o);
                    }
                }
            }
            // A lookup counts as a row even when it finds none.
            work.add(n.max(1))?;
        }
    } else {
        let member = |t: i64| ids.binary_search(&t).is_ok() != negated;
        let mut st = c.prepare_cached(
            "SELECT l.trace, t.id FROM span_links l JOIN traces t ON t.trace_id = l.linked_trace
             WHERE t.span_count > 0",
        )?;
        let mut rows = st.query([])?;
        let mut n = 0usize;
        while let Some(r) = rows.next()? {
            let (carrier, target): (i64, i64) = (r.get(0)?, r.get(1)?);
            n += 1;
            if n.is_multiple_of(4096) {
                work.add(4096)?;
            }
            if carrier == target {
                continue;
            }
            if matches!(dir, LinkDir::To | LinkDir::Any) && member(target) {
                out.push(carrier);
            }
            if matches!(dir, LinkDir::From | LinkDir::Any) && member(carrier) {
                out.push(target);
            }
        }
        work.add(n % 4096)?;
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A link operator of a search's top-level AND, kept unevaluated so the
/// search can test it one candidate trace at a time (newest first) and
/// stop once it has `limit` matches, instead of mapping the whole inner
/// set through the links first: `name = "POST …" AND
/// linked_from(span.status = error)` then costs a few lookups per
/// candidate looked at, not one per failed trace in the store.
pub(super) enum Probe {
    /// The inner expression, evaluated (it holds no link operator at its
    /// top, or one under AND/OR/NOT).
    Set(TraceSet),
    /// A link operator directly inside another.
    Linked(LinkDir, Box<Probe>),
}

impl Probe {
    /// About how many lookups mapping this probe's inner set through the
    /// links costs (a pass over the link rows counting as [`LOOKUP_MAX`]),
    /// and about how many traces the result holds: what the early stop
    /// saves, and so how much it may spend before giving up.
    pub(super) fn follow_cost(&self) -> (usize, usize) {
        match self {
            Probe::Set(TraceSet::Only(v)) => (0, v.len()),
            Probe::Set(TraceSet::AllBut(_)) => (0, usize::MAX),
            Probe::Linked(dir, inner) => {
                let (cost, size) = inner.follow_cost();
                let step = if size == 0 {
                    0
                } else if size <= LOOKUP_MAX {
                    // One lookup per member and direction.
                    size * if matches!(dir, LinkDir::Any) { 2 } else { 1 }
                } else {
                    LOOKUP_MAX
                };
                // A trace seldom has more than a link or two: the result
                // is about as large as the set it comes from.
                (cost.saturating_add(step), size)
            }
        }
    }
}

/// Most lookups (and link rows read) one search's early stop spends
/// before it gives up and maps the inner sets in full: as much as mapping
/// [`LOOKUP_MAX`] traces, whatever the candidates.
pub(super) const PROBE_MAX: usize = LOOKUP_MAX;

/// Tests candidate traces against [`Probe`]s through the link indexes,
/// within a budget of lookups and link rows read.
pub(super) struct Prober<'c> {
    c: &'c Connection,
    budget: usize,
    spent: usize,
    /// Answers of link operators nested in others, by operator and trace:
    /// a trace reached from several candidates is looked up once.
    memo: HashMap<(usize, i64), bool>,
    /// What each lookup found, by lookup and trace.
    found: HashMap<(usize, i64), Vec<i64>>,
}

impl<'c> Prober<'c> {
    pub(super) fn new(c: &'c Connection, budget: usize) -> Self {
        Prober {
            c,
            budget,
            spent: 0,
            memo: HashMap::new(),
            found: HashMap::new(),
        }
    }

    /// Charges `n` units of work; false once the budget is spent.
    pub(super) fn charge(&mut self, n: usize) -> bool {
        self.spent = self.spent.saturating_add(n);
        self.spent <= self.budget
    }

    /// Whether trace `id` is in the set `p` stands for (as `eval` would
    /// have it), or None when answering would exceed the budget.
    pub(super) fn holds(&mut self, p: &Probe, id: i64) -> Result<Option<bool>, StoreError> {
        let (dir, inner) = match p {
            Probe::Set(TraceSet::Only(v)) => return Ok(Some(v.binary_search(&id).is_ok())),
            Probe::Set(TraceSet::AllBut(v)) => return Ok(Some(v.binary_search(&id).is_err())),
            Probe::Linked(dir, inner) => (*dir, inner),
        };
        if matches!(&**inner, Probe::Set(TraceSet::Only(v)) if v.is_empty()) {
            return Ok(Some(false));
        }
        let key = (p as *const Probe as usize, id);
        if let Some(&b) = self.memo.get(&key) {
            return Ok(Some(b));
        }
        let mut others = Vec::new();
        // `follow` with `To` yields the traces whose spans link to a
        // member: `id` qualifies when a trace it links to is a member
        // (and has spans, as the pass over the link rows requires).
        if matches!(dir, LinkDir::To | LinkDir::Any) && !self.lookup(OUTGOING, id, &mut others)? {
            return Ok(None);
        }
        // With `From`, the traces a member's spans link to (those with
        // spans): `id` qualifies when it has spans and a member links to it.
        if matches!(dir, LinkDir::From | LinkDir::Any) && !self.lookup(INCOMING, id, &mut others)? {
            return Ok(None);
        }
        others.retain(|&o| o != id);
        others.sort_unstable();
        others.dedup();
        let mut found = false;
        for o in others {
            match self.holds(inner, o)? {
                None => return Ok(None),
                Some(true) => {
                    found = true;
                    break;
                }
                Some(false) => {}
            }
        }
        self.memo.insert(key, found);
        Ok(Some(found))
    }

    /// Adds the traces lookup `which` finds for `id` to `out`, looking
    /// them up once per search; false once the budget is spent (a lookup
    /// counts as a row even when it finds none, as in [`follow`]).
    fn lookup(&mut self, which: usize, id: i64, out: &mut Vec<i64>) -> Result<bool, StoreError> {
        if let Some(found) = self.found.get(&(which, id)) {
            out.extend_from_slice(found);
            return Ok(true);
        }
        if !self.charge(1) {
            return Ok(false);
        }
        let mut st = self.c.prepare_cached(LOOKUPS[which])?;
        let mut rows = st.query([id])?;
        let mut found = Vec::new();
        while let Some(r) = rows.next()? {
            if !self.charge(1) {
                return Ok(false);
            }
            found.push(r.get(0)?);
        }
        out.extend_from_slice(&found);
        self.found.insert((which, id), found);
        Ok(true)
    }
}

/// The traces a trace's spans link to (those with spans), and the traces
/// whose spans link to it (when it has spans): what [`follow`] reads per
/// member, read per candidate instead.
const LOOKUPS: [&str; 2] = [
    "SELECT t.id FROM span_links l JOIN traces t ON t.trace_id = l.linked_trace
     WHERE l.trace = ?1 AND t.span_count > 0",
    "SELECT l.trace FROM traces t JOIN span_links l ON l.linked_trace = t.trace_id
     WHERE t.id = ?1 AND t.span_count > 0",
];
const OUTGOING: usize = 0;
const INCOMING: usize = 1;
