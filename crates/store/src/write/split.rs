//! A transaction's WAL footprint, bounded by design: every page a
//! transaction dirties is one WAL frame at its commit, and the WAL cannot
//! be truncated before that commit, so the size cap's margin must hold a
//! whole transaction's frames (ARCHITECTURE.md, "the size cap").
//!
//! The pages a batch dirties are estimated from above before it is
//! written (`pages`), and a trace batch whose estimate passes the
//! writer's budget is split here into parts of whole traces, each its own
//! transaction. Most of a span batch's pages are postings: each distinct
//! (key, value) of a batch lands on its own page of `attr_index` (values
//! are hashed, so they are scattered: 645 of 684 pages for a 1,000-span
//! request of the load generator at 9 MB of data), so a part's estimate
//! counts its distinct postings, not its spans.
//!
//! A part holds whole traces: it stores all the batch's spans of its
//! traces and their postings, as the batch would. A request whose parts
//! are not all committed (a crash in between, a failed part) is not
//! acknowledged; its retry stores only the spans not stored yet (the
//! writer skips span IDs a trace already has) and indexes only the traces
//! that got new spans, whose postings the retry carries; nothing is lost
//! or stored twice.

use std::collections::HashMap;

use crate::prepare::{Posting, Prepared, PreparedTraces};

/// Bytes of a WAL frame: a page and its header.
pub(super) const FRAME: u64 = 4096 + 24;

/// Bytes of a page's payload counted per overflow page (less than a page:
/// cell headers and fill).
const PAGE: usize = 3500;

/// Pages any transaction dirties besides its rows: the schema cookie,
/// `segments`, free-list trunk and pointer-map pages, interior pages of
/// B-trees whose leaves split.
const FIXED: u64 = 16;

/// Pages a trace's summary row dirties: the row, its `trace_id` index,
/// the old and new entries of `traces_start` and `traces_arrived`, and
/// `traces_errors`.
const TRACE_PAGES: u64 = 8;

/// The writer's budget, in frames, for one transaction under a size cap
/// of `max_bytes`: the WAL's own limit, so a commit adds at most that
/// much to the WAL (`crate::retention::wal_limit`).
pub(super) fn budget(max_bytes: u64) -> u64 {
    (crate::retention::wal_limit(max_bytes) / FRAME).max(FIXED * 2)
}

/// An upper bound of the pages writing `p` dirties (when it is not
/// split): what the writer packs transactions by.
pub(super) fn pages(p: &Prepared) -> u64 {
    match p {
        Prepared::Traces(t) => {
            let per = trace_pages(t);
            let postings: u64 = t
                .postings
                .iter()
                .map(|p| 1 + (p.traces.len() * 8 / PAGE) as u64)
                .sum();
            slack(FIXED + per.iter().sum::<u64>() + postings)
        }
        // A record's row, its two indexes, its full-text tokens.
        Prepared::Logs(l) => slack(
            FIXED
                + l.records
                    .iter()
                    .map(|r| 4 + (r.record.len() + r.fts_body.len() + r.fts_attrs.len()) / PAGE)
                    .sum::<usize>() as u64,
        ),
        // A point's row and its index; a series row.
        Prepared::Metrics(m) => slack(
            FIXED
                + m.metrics
                    .iter()
                    .map(|x| {
                        2 + x
                            .points
                            .iter()
                            .map(|p| 2 + p.point.len() / PAGE)
                            .sum::<usize>()
                    })
                    .sum::<usize>() as u64,
        ),
    }
}

/// An eighth more, for the leaves that split and the parents they dirty.
fn slack(pages: u64) -> u64 {
    pages + pages / 8
}

/// Per trace of `t`: the pages its chunks, summary row, links and
/// inferred-link values dirty (postings apart).
fn trace_pages(t: &PreparedTraces) -> Vec<u64> {
    let mut per = vec![TRACE_PAGES; t.traces.len()];
    for g in &t.groups {
        let parents = g.spans.iter().filter(|s| s.parent.is_some()).count();
        let links: usize = g.spans.iter().map(|s| s.links.len()).sum();
        // The chunk's row and its `span_chunks_trace` entry, its overflow
        // pages, the trace's missing parents (8 bytes each), each link's
        // row and index entry.
        let bytes = g.chunk.len() + 8 * g.spans.len() + 8 * parents;
        per[g.trace] += 2 + (bytes / PAGE) as u64 + 2 * links as u64;
    }
    for v in &t.corr {
        per[v.trace] += 2;
    }
    per
}

/// Splits `t` into parts of whole traces whose estimates are at most
/// `budget` pages (a trace over the budget alone is a part of its own),
/// each with its estimate. One part (no copy) when it fits.
pub(super) fn split(t: PreparedTraces, budget: u64) -> Vec<(PreparedTraces, u64)> {
    let per = trace_pages(&t);
    let mut by_trace: Vec<Vec<usize>> = vec![Vec::new(); t.traces.len()];
    for (i, p) in t.postings.iter().enumerate() {
        for &tr in &p.traces {
            if let Some(list) = by_trace.get_mut(tr) {
                list.push(i);
            }
        }
    }
    // Greedy over the traces in order: parts are ranges of trace indexes.
    // `mark[posting]` is 1 + the part that already has its row.
    let mut mark = vec![0usize; t.postings.len()];
    let mut starts = vec![0usize];
    let mut estimates = Vec::new();
    let mut current = FIXED;
    for tr in 0..t.traces.len() {
        let part = starts.len();
        let cost = |part: usize, mark: &mut [usize]| {
            let mut c = per[tr] + by_trace[tr].len().div_ceil(PAGE / 8) as u64;
            for &p in &by_trace[tr] {
                if mark[p] != part {
                    mark[p] = part;
                    c += 1;
                }
            }
            c
        };
        let c = cost(part, &mut mark);
        if tr > starts[part - 1] && slack(current + c) > budget {
            estimates.push(slack(current));
            starts.push(tr);
            // Counted again for the new part: its postings get rows there.
            current = FIXED + cost(part + 1, &mut mark);
        } else {
            current += c;
        }
    }
    estimates.push(slack(current));
    if starts.len() == 1 {
        return vec![(t, estimates[0])];
    }
    let part_of = |tr: usize| starts.partition_point(|&s| s <= tr) - 1;
    let mut parts: Vec<PreparedTraces> = (0..starts.len())
        .map(|i| {
            let end = starts.get(i + 1).copied().unwrap_or(t.traces.len());
            PreparedTraces {
                resources: Vec::new(),
                scopes: Vec::new(),
                traces: t.traces[starts[i]..end].to_vec(),
                groups: Vec::new(),
                postings: Vec::new(),
                corr: Vec::new(),
            }
        })
        .collect();
    // Resources and scopes each part names, renumbered.
    let mut envelopes: Vec<(HashMap<usize, usize>, HashMap<usize, usize>)> =
        vec![Default::default(); parts.len()];
    for mut g in t.groups {
        let i = part_of(g.trace);
        let (res, sco) = &mut envelopes[i];
        let part = &mut parts[i];
        g.trace -= starts[i];
        g.resource = *res.entry(g.resource).or_insert_with(|| {
            part.resources.push(t.resources[g.resource].clone());
            part.resources.len() - 1
        });
        g.scope = *sco.entry(g.scope).or_insert_with(|| {
            part.scopes.push(t.scopes[g.scope].clone());
            part.scopes.len() - 1
        });
        part.groups.push(g);
    }
    for mut p in t.postings {
        // Sorted, each part's traces are a run, so a part gets one row per
        // (key, value) (traces are listed in the order the pair was first
        // seen for them, which interleaved spans make non-ascending).
        p.traces.sort_unstable();
        let mut run_start = 0;
        while run_start < p.traces.len() {
            let i = part_of(p.traces[run_start]);
            let run_end = run_start + p.traces[run_start..].partition_point(|&tr| part_of(tr) == i);
            parts[i].postings.push(Posting {
                key: p.key.clone(),
                value: p.value,
                traces: p.traces[run_start..run_end]
                    .iter()
                    .map(|tr| tr - starts[i])
                    .collect(),
            });
            run_start = run_end;
        }
    }
    for mut v in t.corr {
        let i = part_of(v.trace);
        v.trace -= starts[i];
        parts[i].corr.push(v);
    }
    parts.into_iter().zip(estimates).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
    use loupe_model::otlp::ExportTraceServiceRequest;
    use loupe_model::sink::Batch;

    use super::*;
    use crate::prepare::prepare;

    /// Spans of traces A, B, C in the order A B C B C A, the last three
    /// carrying `y = 1`: the pair is listed for traces [1, 2, 0].
    fn interleaved() -> PreparedTraces {
        let span = |trace: u8, n: u8, y: bool| Span {
            trace_id: vec![trace; 16],
            span_id: vec![trace, n, 0, 0, 0, 0, 0, 1],
            name: format!("s{trace}{n}"),
            attributes: y
                .then(|| KeyValue {
                    key: "y".into(),
                    value: Some(AnyValue {
                        value: Some(Value::IntValue(1)),
                    }),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let spans = vec![
            span(1, 0, false),
            span(2, 0, false),
            span(3, 0, false),
            span(2, 1, true),
            span(3, 1, true),
            span(1, 1, true),
        ];
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        match prepare(Batch::Traces(req), &[]) {
            Prepared::Traces(t) => t,
            _ => unreachable!(),
        }
    }

    /// (key, value, trace ID) of every posting of `t`.
    fn postings(t: &PreparedTraces) -> BTreeSet<(String, String, [u8; 16])> {
        t.postings
            .iter()
            .flat_map(|p| {
                p.traces
                    .iter()
                    .map(move |&i| (p.key.clone(), format!("{:?}", p.value), t.traces[i]))
            })
            .collect()
    }

    /// Regression: a pair listed for traces out of order gave a part two
    /// rows for the same (key, value), which the index's primary key
    /// refuses. At every budget, each part has one row per pair, and the
    /// parts together hold exactly the batch's postings, spans and traces.
    #[test]
    fn interleaved_traces_split_into_one_row_per_pair_and_part() {
        let whole = interleaved();
        assert!(whole.postings.iter().any(|p| p.traces == [1, 2, 0]));
        let expected = postings(&whole);
        let spans: usize = whole.groups.iter().map(|g| g.spans.len()).sum();
        for budget in 1..=pages(&Prepared::Traces(interleaved())) {
            let parts = split(interleaved(), budget);
            let mut got = BTreeSet::new();
            let mut got_spans = 0;
            let mut traces = Vec::new();
            for (part, _) in &parts {
                let pairs: Vec<_> = part
                    .postings
                    .iter()
                    .map(|p| (p.key.clone(), format!("{:?}", p.value)))
                    .collect();
                let distinct: BTreeSet<_> = pairs.iter().collect();
                assert_eq!(distinct.len(), pairs.len(), "budget {budget}: {pairs:?}");
                got.extend(postings(part));
                got_spans += part.groups.iter().map(|g| g.spans.len()).sum::<usize>();
                traces.extend(part.traces.iter().copied());
            }
            assert_eq!(got, expected, "budget {budget}");
            assert_eq!(got_spans, spans, "budget {budget}");
            assert_eq!(traces, whole.traces, "budget {budget}");
        }
    }
}
