//! Traces: search (trace filters over the `traces` summary table, after
//! `postings` narrowed the candidates by attribute), one trace's spans, and
//! the traces its span links join.

use std::collections::{HashMap, HashSet};

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::otlp::trace::ResourceSpans;
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::query::{
    AttrCondition, AttrOp, Expr, LinkDirection, LinkPair, RelatedTrace, TraceQuery, TraceSummary,
};
use loupe_model::time::{from_sql, to_sql};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::details;
use super::inferred;
use super::linksearch::{LinkWork, Probe, Prober, PROBE_MAX};
use super::postings::{eval, plan, settle, TraceSet};
use super::Reader;
use crate::codec::{merge_chunk, KEY_SPAN_NAME};
use crate::error::StoreError;

/// How long after its last span a trace still counts as being received,
/// and how long its missing parents are waited for (config
/// `traces.receiving_window`, `traces.parent_grace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    pub receiving_ns: u64,
    pub parent_grace_ns: u64,
}

impl Default for Liveness {
    /// 5 s receiving: exporters batch every few seconds. 5 min of grace: a
    /// long-running execution sends its tasks' spans as they end, so its
    /// trace keeps arriving; five quiet minutes mean the root is lost (or
    /// the execution is stuck).
    fn default() -> Self {
        Liveness {
            receiving_ns: 5_000_000_000,
            parent_grace_ns: 300_000_000_000,
        }
    }
}

impl Liveness {
    /// Sets the fields that depend on the time: `receiving` and
    /// `awaiting_parents`, from the last arrival and `now`.
    pub fn mark(&self, t: &mut TraceSummary, now: u64) {
        let quiet = now.saturating_sub(t.last_arrival_unix_nano);
        t.receiving = quiet < self.receiving_ns;
        t.awaiting_parents = t.incomplete && quiet < self.parent_grace_ns;
    }
}

impl Reader {
    /// The receiving window and parent grace that summaries are marked with.
    pub fn set_liveness(&self, l: Liveness) {
        *self.liveness.lock().unwrap_or_else(|e| e.into_inner()) = l;
    }

    fn mark(&self, ts: &mut [TraceSummary]) {
        let l = *self.liveness.lock().unwrap_or_else(|e| e.into_inner());
        let now = loupe_model::time::now_ns();
        for t in ts {
            l.mark(t, now);
        }
    }

    pub fn search_traces(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let mut out = self.with(|c| search_traces(c, q, true))?;
        self.mark(&mut out);
        Ok(out)
    }

    /// [`Reader::search_traces`] with every link operator's inner set
    /// mapped through the links in full before the newest matches are
    /// picked (no early stop): the same answer, for tests and benchmarks
    /// to compare with.
    #[doc(hidden)]
    pub fn search_traces_in_full(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let mut out = self.with(|c| search_traces(c, q, false))?;
        self.mark(&mut out);
        Ok(out)
    }

    /// Every span of a trace, grouped by resource and scope.
    /// When the trace last got a new span (writer's clock, Unix ns): the
    /// reference its spans' own timestamps are judged against
    /// (`loupe_model::time::TimeIssue`; a span more than a day ahead of
    /// this is more than a day ahead of its own arrival too).
    pub fn trace_arrived(&self, id: TraceId) -> Result<Option<u64>, StoreError> {
        self.with(|c| {
            Ok(
                c.prepare_cached("SELECT arrived_ns FROM traces WHERE trace_id = ?1")?
                    .query_row([&id.0[..]], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(from_sql),
            )
        })
    }

    pub fn trace(&self, id: TraceId) -> Result<Option<ExportTraceServiceRequest>, StoreError> {
        self.with(|c| {
            let Some(trace) = c
                .prepare_cached("SELECT id FROM traces WHERE trace_id = ?1")?
                .query_row([&id.0[..]], |r| r.get::<_, i64>(0))
                .optional()?
            else {
                return Ok(None);
            };
            // Spans per (resource, scope) from the chunks' ID lists (8 bytes a
            // span; SQLite reads a blob's length from the record header), so
            // each list is allocated once at its size instead of doubling
            // (and copying) its way to a million spans.
            let mut sizes: HashMap<(i64, i64), usize> = HashMap::new();
            let mut st = c.prepare_cached(
                "SELECT resource, scope, length(span_ids) FROM span_chunks WHERE trace = ?1",
            )?;
            let mut rows = st.query([trace])?;
            while let Some(row) = rows.next()? {
                let n = usize::try_from(row.get::<_, i64>(2)?).unwrap_or(0) / 8;
                let e = sizes.entry((row.get(0)?, row.get(1)?)).or_default();
                *e = e.saturating_add(n);
            }
            drop(rows);
            let mut st = c.prepare_cached(
                "SELECT resource, scope, body FROM span_chunks WHERE trace = ?1 ORDER BY id",
            )?;
            let mut rows = st.query([trace])?;
            let mut out: Vec<ResourceSpans> = Vec::new();
            let mut index: HashMap<(i64, i64), (usize, usize)> = HashMap::new();
            let mut res_index: HashMap<i64, usize> = HashMap::new();
            while let Some(row) = rows.next()? {
                let (r, s): (i64, i64) = (row.get(0)?, row.get(1)?);
                let (ri, si) = match index.get(&(r, s)) {
                    Some(x) => *x,
                    None => {
                        let ri = match res_index.get(&r) {
                            Some(i) => *i,
                            None => {
                                out.push(self.resource(c, r)?);
                                res_index.insert(r, out.len() - 1);
                                out.len() - 1
                            }
                        };
                        let mut scope = self.scope(c, s)?;
                        // Bounded by the chunks' real bytes (8 a span), never by a count in them.
                        scope
                            .spans
                            .reserve(sizes.get(&(r, s)).copied().unwrap_or(0));
                        out[ri].scope_spans.push(scope);
                        let si = out[ri].scope_spans.len() - 1;
                        index.insert((r, s), (ri, si));
                        (ri, si)
                    }
                };
                merge_chunk(row.get_ref(2)?.as_blob()?, &mut out[ri].scope_spans[si])?;
            }
            Ok(Some(ExportTraceServiceRequest {
                resource_spans: out,
            }))
        })
    }

    /// Which of `among` a search expression holds for (link operators
    /// included): what a traces alert rule's `query` asks of the traces
    /// it is looking at. In `among`'s order.
    pub fn traces_matching(
        &self,
        expr: &Expr,
        among: &[TraceId],
    ) -> Result<Vec<TraceId>, StoreError> {
        if among.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let (set, negated) = match eval(c, expr, &mut LinkWork::default())? {
                TraceSet::Only(ids) => (ids, false),
                TraceSet::AllBut(ids) => (ids, true),
            };
            let mut row = c.prepare_cached("SELECT id FROM traces WHERE trace_id = ?1")?;
            let mut out = Vec::new();
            for id in among {
                let Some(r) = row
                    .query_row([&id.0[..]], |r| r.get::<_, i64>(0))
                    .optional()?
                else {
                    continue;
                };
                if set.binary_search(&r).is_ok() != negated {
                    out.push(*id);
                }
            }
            Ok(out)
        })
    }

    /// `ids` and the traces joined to them by span links in either
    /// direction, up to `hops` links away, at most `cap` in all (`ids`
    /// first): the traces whose answer to a linked search may have changed
    /// when spans of `ids` arrived.
    pub fn linked_neighbourhood(
        &self,
        ids: &[TraceId],
        hops: usize,
        cap: usize,
    ) -> Result<Vec<TraceId>, StoreError> {
        self.with(|c| {
            let mut seen: Vec<TraceId> = Vec::new();
            for id in ids {
                if !seen.contains(id) && seen.len() < cap {
                    seen.push(*id);
                }
            }
            let mut frontier = seen.clone();
            for _ in 0..hops {
                let mut next = Vec::new();
                for id in &frontier {
                    for other in neighbours(c, id)? {
                        if seen.len() >= cap {
                            return Ok(seen);
                        }
                        if !seen.contains(&other) {
                            seen.push(other);
                            next.push(other);
                        }
                    }
                }
                frontier = next;
            }
            Ok(seen)
        })
    }

    pub fn trace_summary(&self, id: TraceId) -> Result<Option<TraceSummary>, StoreError> {
        let mut out = self.with(|c| summary_of(c, &id.0))?;
        self.mark(out.as_mut_slice());
        Ok(out)
    }

    /// Traces joined to this one by span links, in both directions, then
    /// the traces the join rules that are on infer links to (entries of
    /// their own, marked `inferred`; none for a trace a span link joins).
    pub fn related(&self, id: TraceId) -> Result<Vec<RelatedTrace>, StoreError> {
        let mut out = self.related_unmarked(id)?;
        for r in &mut out {
            self.mark(r.summary.as_mut_slice());
        }
        Ok(out)
    }

    fn related_unmarked(&self, id: TraceId) -> Result<Vec<RelatedTrace>, StoreError> {
        let rules = self.enabled_rules();
        self.with(|c| {
            let row = c
                .prepare_cached("SELECT id, start_ns FROM traces WHERE trace_id = ?1")?
                .query_row([&id.0[..]], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .optional()?;
            let this = row.map(|(r, _)| r);
            let mut by_trace: Vec<(Vec<u8>, LinkDirection, Vec<LinkPair>)> = Vec::new();
            let mut add = |other: Vec<u8>, dir: LinkDirection, pair: LinkPair| {
                match by_trace.iter_mut().find(|(t, d, _)| *t == other && *d == dir) {
                    Some((_, _, pairs)) => pairs.push(pair),
                    None => by_trace.push((other, dir, vec![pair])),
                }
            };
            let me = id.to_string();
            if let Some(this) = this {
                let mut st = c.prepare_cached(
                    "SELECT span_id, linked_trace, linked_span FROM span_links WHERE trace = ?1 ORDER BY span_id",
                )?;
                let rows = st.query_map([this], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?))
                })?;
                for row in rows {
                    let (span, other, other_span) = row?;
                    if other == id.0 {
                        continue;
                    }
                    add(
                        other.clone(),
                        LinkDirection::Outgoing,
                        LinkPair {
                            from_trace_id: me.clone(),
                            from_span_id: SpanId::from_i64(span).to_string(),
                            to_trace_id: hex::encode(&other),
                            to_span_id: SpanId::from_i64(other_span).to_string(),
                        },
                    );
                }
            }
            let mut st = c.prepare_cached(
                "SELECT t.trace_id, l.span_id, l.linked_span FROM span_links l JOIN traces t ON t.id = l.trace
                 WHERE l.linked_trace = ?1 ORDER BY t.id, l.span_id",
            )?;
            let rows = st.query_map([&id.0[..]], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })?;
            for row in rows {
                let (other, span, my_span) = row?;
                if other == id.0 {
                    continue;
                }
                add(
                    other.clone(),
                    LinkDirection::Incoming,
                    LinkPair {
                        from_trace_id: hex::encode(&other),
                        from_span_id: SpanId::from_i64(span).to_string(),
                        to_trace_id: me.clone(),
                        to_span_id: SpanId::from_i64(my_span).to_string(),
                    },
                );
            }
            let linked: HashSet<Vec<u8>> = by_trace.iter().map(|(t, _, _)| t.clone()).collect();
            let mut out = by_trace
                .into_iter()
                .map(|(other, direction, links)| {
                    Ok(RelatedTrace {
                        trace_id: hex::encode(&other),
                        direction,
                        summary: summary_of(c, &other)?,
                        links,
                        inferred: None,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            if let Some((this, start)) = row {
                for mut e in inferred::inferred(c, &rules, this, &id.0, start, &linked)? {
                    let other = hex::decode(&e.trace_id).unwrap_or_default();
                    e.summary = summary_of(c, &other)?;
                    out.push(e);
                }
            }
            Ok(out)
        })
    }
}

/// The stored traces one trace's span links join it to, both directions.
fn neighbours(c: &Connection, id: &TraceId) -> Result<Vec<TraceId>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT l.linked_trace FROM traces t JOIN span_links l ON l.trace = t.id WHERE t.trace_id = ?1
         UNION
         SELECT t.trace_id FROM span_links l JOIN traces t ON t.id = l.trace WHERE l.linked_trace = ?1",
    )?;
    let rows = st.query_map([&id.0[..]], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Ok(t) = TraceId::from_bytes(&r?) {
            if t != *id {
                out.push(t);
            }
        }
    }
    Ok(out)
}

const SUMMARY_COLUMNS: &str =
    "t.trace_id, t.root_service, t.root_name, t.start_ns, t.end_ns, t.span_count, t.error_count, t.services,
     t.missing_parents, t.root_known, t.arrived_ns";

fn summary_row(r: &rusqlite::Row) -> rusqlite::Result<TraceSummary> {
    summary_row_at(r, 0)
}

/// A summary from [`SUMMARY_COLUMNS`] starting at column `o`.
fn summary_row_at(r: &rusqlite::Row, o: usize) -> rusqlite::Result<TraceSummary> {
    let tid: Vec<u8> = r.get(o)?;
    let start = from_sql(r.get(o + 3)?);
    let end = from_sql(r.get(o + 4)?);
    let services: String = r.get(o + 7)?;
    let missing_parents = r.get::<_, i64>(o + 8)?.max(0) as u64;
    let root_known: bool = r.get(o + 9)?;
    Ok(TraceSummary {
        trace_id: hex::encode(tid),
        root_service: r.get(o + 1)?,
        root_name: r.get(o + 2)?,
        start_time_unix_nano: start,
        duration_nano: end.saturating_sub(start),
        span_count: r.get::<_, i64>(o + 5)? as u64,
        error_count: r.get::<_, i64>(o + 6)? as u64,
        services: serde_json::from_str(&services).unwrap_or_default(),
        context: None,
        error_message: None,
        links_to: None,
        linked_from: None,
        incomplete: missing_parents > 0 || !root_known,
        missing_parents,
        // Set by `Liveness::mark`, which knows the time and the windows.
        receiving: false,
        awaiting_parents: false,
        last_arrival_unix_nano: from_sql(r.get(o + 10)?),
    })
}

fn summary_of(c: &Connection, trace_id: &[u8]) -> Result<Option<TraceSummary>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM traces t WHERE t.trace_id = ?1"
    ))?
    .query_row([trace_id], summary_row)
    .optional()?)
}

/// Candidate traces fetched per SQL statement when conditions narrowed the search.
const CANDIDATE_CHUNK: usize = 400;

/// Above this many candidates, a search walks the traces newest first
/// instead of fetching every candidate.
const FEW_CANDIDATES: usize = 2000;

fn search_traces(
    c: &Connection,
    q: &TraceQuery,
    early: bool,
) -> Result<Vec<TraceSummary>, StoreError> {
    let mut out = search_summaries(c, q, early)?;
    if let Some(d) = &q.details {
        details::fill(c, &mut out, d)?;
    }
    Ok(out)
}

/// `early`: let link operators stop early (see [`probe_newest`]); off,
/// every expression is evaluated in full, which gives the same answer.
fn search_summaries(
    c: &Connection,
    q: &TraceQuery,
    early: bool,
) -> Result<Vec<TraceSummary>, StoreError> {
    let mut filter = String::from("t.span_count > 0 AND ");
    let (range, [lo, hi]) = q.range.sql("t.start_ns");
    filter.push_str(&range);
    let mut args: Vec<SqlValue> = vec![lo.into(), hi.into()];
    if q.errors_only {
        filter.push_str(" AND t.error_count > 0");
    }
    if let Some(min) = q.min_duration_ns {
        filter.push_str(" AND (t.end_ns - t.start_ns) >= ?");
        args.push(to_sql(min).into());
    }
    if let Some(max) = q.max_duration_ns {
        filter.push_str(" AND (t.end_ns - t.start_ns) <= ?");
        args.push(to_sql(max).into());
    }
    let mut conds: Vec<Expr> = Vec::new();
    let cond = |key: &str, op: AttrOp| {
        Expr::Cond(AttrCondition {
            key: key.to_string(),
            op,
        })
    };
    if let Some(s) = &q.service {
        conds.push(cond("service.name", AttrOp::Eq(s.clone())));
    }
    if let Some(n) = &q.span_name {
        conds.push(cond(KEY_SPAN_NAME, AttrOp::Eq(n.clone())));
    }
    conds.extend(q.attrs.iter().map(|a| Expr::Cond(a.clone())));
    conds.extend(q.expr.iter().cloned());
    let limit = q.limit.max(1);

    if conds.is_empty() {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM traces t WHERE {filter} ORDER BY t.start_ns DESC LIMIT {limit}");
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), summary_row)?;
        return Ok(rows.collect::<Result<_, _>>()?);
    }

    // Narrow down with the attribute index, then apply the trace filters to
    // the candidates. The link operators of the top-level AND are tested
    // one candidate at a time, newest first, when mapping their inner sets
    // through the links would cost more than a few lookups.
    let mut work = LinkWork::default();
    let expr = Expr::And(conds);
    let (mut set, probes) = if early {
        plan(c, &expr, &mut work)?
    } else {
        (eval(c, &expr, &mut work)?, Vec::new())
    };
    if !probes.is_empty() {
        let cost = probes
            .iter()
            .fold(0usize, |n, p| n.saturating_add(p.follow_cost().0));
        if cost >= PROBE_MIN {
            // About what mapping the sets in full costs, so that giving up
            // at most doubles the work (and at least a few hundred lookups).
            let budget = cost.clamp(4 * PROBE_MIN, PROBE_MAX);
            if let Some(out) = probe_newest(c, &set, &probes, &filter, &args, limit, budget)? {
                return Ok(out);
            }
        }
        // Too few traces to follow to be worth it, or the budget ran out:
        // map the inner sets in full.
        for p in probes {
            set = set.and(settle(c, p, &mut work)?);
        }
    }
    let (candidates, negated) = match set {
        TraceSet::Only(ids) => (ids, false),
        TraceSet::AllBut(ids) => (ids, true),
    };
    if !negated && candidates.is_empty() {
        return Ok(Vec::new());
    }
    if negated || candidates.len() > FEW_CANDIDATES {
        // Many matches (or all but some): walk the traces newest first and
        // keep the matching ones; matches are dense, so this stops early.
        let mut st = c.prepare(&walk_sql(&filter))?;
        let mut rows = st.query(params_from_iter(args))?;
        let mut out: Vec<TraceSummary> = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if candidates.binary_search(&id).is_ok() != negated {
                out.push(summary_row_at(row, 1)?);
                if out.len() >= limit {
                    break;
                }
            }
        }
        return Ok(out);
    }
    // Few matches: fetch them all and order exactly.
    let mut out: Vec<TraceSummary> = fetch_newest(c, &candidates, &filter, &args)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    out.truncate(limit);
    Ok(out)
}

/// Below this many lookups, following a link operator's inner set in full
/// is cheap enough: no early stop.
const PROBE_MIN: usize = 256;

/// Every trace that passes `filter`, newest first (ties: the later row
/// first), with its row id: the order both ways of answering a search
/// return matches in.
fn walk_sql(filter: &str) -> String {
    format!(
        "SELECT t.id, {SUMMARY_COLUMNS} FROM traces t WHERE {filter} ORDER BY t.start_ns DESC, t.id DESC"
    )
}

/// The traces of `ids` that pass `filter`, newest first (ties: the later
/// row first), with their row ids.
fn fetch_newest(
    c: &Connection,
    ids: &[i64],
    filter: &str,
    args: &[SqlValue],
) -> Result<Vec<(i64, TraceSummary)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CANDIDATE_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT t.id, {SUMMARY_COLUMNS} FROM traces t WHERE t.id IN ({marks}) AND {filter}"
        );
        let mut st = c.prepare_cached(&sql)?;
        let all = chunk
            .iter()
            .map(|&i| SqlValue::Integer(i))
            .chain(args.iter().cloned());
        let rows = st.query_map(params_from_iter(all), |r| {
            Ok((r.get::<_, i64>(0)?, summary_row_at(r, 1)?))
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    out.sort_by_key(|(id, t)| std::cmp::Reverse((t.start_time_unix_nano, *id)));
    Ok(out)
}

/// The early stop: the candidates of `set` that pass `filter`, newest
/// first, tested against the probes (link operators) one at a time until
/// `limit` match, in the order and with the result the full evaluation
/// gives. None when that would take more than `budget` lookups and link
/// rows (walking 16 traces counting as one): then the caller maps the
/// inner sets in full, so the work stays bounded whatever the query.
fn probe_newest(
    c: &Connection,
    set: &TraceSet,
    probes: &[Probe],
    filter: &str,
    args: &[SqlValue],
    limit: usize,
    budget: usize,
) -> Result<Option<Vec<TraceSummary>>, StoreError> {
    let mut prober = Prober::new(c, budget);
    let holds = |prober: &mut Prober, id: i64| -> Result<Option<bool>, StoreError> {
        for p in probes {
            match prober.holds(p, id)? {
                Some(true) => {}
                other => return Ok(other),
            }
        }
        Ok(Some(true))
    };
    let mut out = Vec::new();
    match set {
        TraceSet::Only(ids) if ids.len() <= FEW_CANDIDATES => {
            // Few candidates: fetch them (ordered) and test newest first.
            for (id, t) in fetch_newest(c, ids, filter, args)? {
                match holds(&mut prober, id)? {
                    None => return Ok(None),
                    Some(false) => {}
                    Some(true) => {
                        out.push(t);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        _ => {
            let (ids, negated) = match set {
                TraceSet::Only(ids) => (ids, false),
                TraceSet::AllBut(ids) => (ids, true),
            };
            let mut st = c.prepare(&walk_sql(filter))?;
            let mut rows = st.query(params_from_iter(args.iter()))?;
            let mut walked = 0usize;
            while let Some(row) = rows.next()? {
                walked += 1;
                if walked.is_multiple_of(16) && !prober.charge(1) {
                    return Ok(None);
                }
                let id: i64 = row.get(0)?;
                if ids.binary_search(&id).is_ok() == negated {
                    continue;
                }
                match holds(&mut prober, id)? {
                    None => return Ok(None),
                    Some(false) => {}
                    Some(true) => {
                        out.push(summary_row_at(row, 1)?);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
    }
    Ok(Some(out))
}
