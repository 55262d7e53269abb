// The stitched view: which traces to pull in (span links, transitively, both
// directions) and under which span each one hangs.

import type { Attachment } from './tree';

export type { RelatedTrace as RelatedEntry, LinkPair as RelatedLink, Related as RelatedAnswer, TraceSummary } from './generated/api';
import type { Related as RelatedAnswer, RelatedTrace as RelatedEntry } from './generated/api';

export interface StitchPlan {
  /** Traces to show, main first, in discovery (BFS) order. */
  traces: string[];
  /** Where each non-main trace hangs. */
  attachments: Attachment[];
  /** Linked traces that Loupe has not received. */
  missing: string[];
  /** True when the limit cut the walk short. */
  truncated: boolean;
  /** Every /related answer fetched, by trace. */
  related: Map<string, RelatedAnswer>;
}

/**
 * The span of `placed` that a related trace hangs under: for an outgoing link,
 * the span of `placed` carrying the link; for an incoming one, the span of
 * `placed` it points at. Links are tried in a stable order (by span IDs).
 */
export function attachmentFor(placed: string, entry: RelatedEntry): Attachment | null {
  const links = [...entry.links].sort((a, b) => (a.fromSpanId + a.toSpanId < b.fromSpanId + b.toSpanId ? -1 : 1));
  for (const l of links) {
    if (entry.direction === 'outgoing' && l.fromTraceId === placed) return { traceId: entry.traceId, underTraceId: placed, underSpanId: l.fromSpanId };
    if (entry.direction === 'incoming' && l.toTraceId === placed) return { traceId: entry.traceId, underTraceId: placed, underSpanId: l.toSpanId };
  }
  return null;
}

/** Breadth-first walk over `/related` from `main`, both directions, at most `limit` traces (main included). */
export async function planStitch(main: string, fetchRelated: (traceId: string) => Promise<RelatedAnswer>, limit = 20): Promise<StitchPlan> {
  const placed = new Set<string>([main]);
  const plan: StitchPlan = { traces: [main], attachments: [], missing: [], truncated: false, related: new Map() };
  let level = [main];
  while (level.length > 0) {
    const answers = await Promise.all(level.map((t) => fetchRelated(t).catch(() => ({ traceId: t, related: [] }) as RelatedAnswer)));
    const next: string[] = [];
    answers.forEach((ans, i) => {
      const p = level[i]!;
      plan.related.set(p, ans);
      for (const entry of ans.related) {
        if (placed.has(entry.traceId)) continue;
        if (!entry.summary) {
          if (!plan.missing.includes(entry.traceId)) plan.missing.push(entry.traceId);
          continue;
        }
        if (placed.size >= limit) {
          plan.truncated = true;
          continue;
        }
        const a = attachmentFor(p, entry);
        if (!a) continue;
        placed.add(entry.traceId);
        plan.traces.push(entry.traceId);
        plan.attachments.push(a);
        next.push(entry.traceId);
      }
    });
    level = next;
  }
  return plan;
}

/**
 * The root-most linked ancestor of `start`: following outgoing links (a
 * child execution's spans link to the span of the parent that started it)
 * to a trace Loupe has, until none is left, a trace repeats or `limit`
 * steps are taken. A trace with several parents follows the earliest-started.
 */
export async function rootAncestor(start: string, fetchRelated: (traceId: string) => Promise<RelatedAnswer>, limit = 20): Promise<string> {
  let cur = start;
  const seen = new Set([start]);
  for (let i = 0; i < limit; i++) {
    const ans = await fetchRelated(cur).catch(() => null);
    const parents = (ans?.related ?? []).filter((e) => e.direction === 'outgoing' && e.summary && !seen.has(e.traceId));
    if (parents.length === 0) break;
    parents.sort((a, b) => (BigInt(a.summary!.startTimeUnixNano) < BigInt(b.summary!.startTimeUnixNano) ? -1 : 1));
    cur = parents[0]!.traceId;
    seen.add(cur);
  }
  return cur;
}
