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

use loupe_model::query::LinkDir;
use rusqlite::Connection;

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
