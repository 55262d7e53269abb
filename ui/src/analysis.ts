// Trace analysis answers (docs/api.md, "Trace analysis"): their types and the
// pure logic the views need (sorting the statistics table, the regression
// hint, which rows are on the critical path). The analysis itself runs on
// the server; nothing here recomputes it.

import { formatDuration } from './format';

export type {
  CompareAnswer,
  CompareNode,
  CompareSide,
  CompareSummary,
  CriticalPathAnswer,
  PreviousAnswer,
  Regression,
  RunKey,
  Segment,
  ServiceEdge,
  ServiceMapAnswer,
  Stat,
  StatisticsAnswer,
} from './generated/api';
import type { CompareNode, CompareSummary, RunKey, Segment, Stat } from './generated/api';

export type StatColumn = 'name' | 'count' | 'total' | 'selfTime' | 'min' | 'avg' | 'max' | 'errors';

/** Nanosecond strings compared exactly (they exceed 2^53). */
function cmpBig(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A sorted copy of the statistics rows; ties keep service then name order. */
export function sortStats(rows: readonly Stat[], col: StatColumn, desc: boolean): Stat[] {
  const label = (s: Stat) => `${s.service}\u0000${s.name ?? ''}`;
  const by = (a: Stat, b: Stat): number => {
    switch (col) {
      case 'name':
        return label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0;
      case 'count':
      case 'errors':
        return a[col] - b[col];
      default:
        return cmpBig(a[col], b[col]);
    }
  };
  return [...rows].sort((a, b) => {
    const r = desc ? by(b, a) : by(a, b);
    if (r !== 0) return r;
    return label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0;
  });
}

/**
 * What the critical path covers, in words: "path 9.9s · 21 segments", and
 * when work outlived the root, "… · root span 71.4ms".
 */
export function criticalPathInfo(cp: { duration: string; rootDuration: string; segments: readonly unknown[] }): string {
  const d = formatDuration(Number(cp.duration));
  const onPath = `${cp.segments.length} segment${cp.segments.length === 1 ? '' : 's'}`;
  if (BigInt(cp.rootDuration) < BigInt(cp.duration)) return `path ${d} · ${onPath} · root span ${formatDuration(Number(cp.rootDuration))}`;
  return `path ${d} · ${onPath}`;
}

/** A signed nanosecond delta as `+5m12s` / `-3ms`. */
export function formatDelta(ns: string): string {
  const v = BigInt(ns);
  const sign = v < 0n ? '-' : '+';
  const abs = v < 0n ? -v : v;
  return `${sign}${formatDuration(Number(abs))}`;
}

/**
 * The one-line hint of what changed the most since the previous run:
 * "worker - shell.Commands +5m12s (3.1×) vs run of 02:00", or null when
 * nothing got slower by at least 1 ms.
 */
export function regressionHint(summary: CompareSummary | null, previousAt: string): string | null {
  const r = summary?.regressions[0];
  if (!r || BigInt(r.delta) < 1_000_000n) return null;
  const ratio = r.ratio !== null && Number.isFinite(r.ratio) ? ` (${r.ratio.toFixed(1)}×)` : '';
  return `${r.service} - ${r.name} ${formatDelta(r.delta)}${ratio} vs run of ${previousAt}`;
}

/**
 * The critical path by node: which nodes are on it, and each node's
 * segments as offsets from `base` (ns). `indexOf` finds a node by trace and
 * span ID (undefined for spans the page does not show).
 */
export function criticalByNode(
  segments: readonly Segment[],
  base: string,
  count: number,
  indexOf: (traceId: string, spanId: string) => number | undefined,
): { onPath: Uint8Array; segs: Map<number, [number, number][]> } {
  const onPath = new Uint8Array(count);
  const segs = new Map<number, [number, number][]>();
  const b = BigInt(base);
  for (const s of segments) {
    const i = indexOf(s.traceId, s.spanId);
    if (i === undefined || i < 0 || i >= count) continue;
    onPath[i] = 1;
    const list = segs.get(i) ?? [];
    list.push([Number(BigInt(s.start) - b), Number(BigInt(s.end) - b)]);
    segs.set(i, list);
  }
  return { onPath, segs };
}

/** Rows of the compare tree that are visible when `collapsed` nodes hide their subtrees (pre-order input). */
export function visibleCompareRows(nodes: readonly CompareNode[], collapsed: ReadonlySet<number>): CompareNode[] {
  const out: CompareNode[] = [];
  const hidden = new Uint8Array(nodes.length);
  for (const n of nodes) {
    if (n.parent !== null && (hidden[n.parent] || collapsed.has(n.parent))) {
      hidden[n.id] = 1;
      continue;
    }
    out.push(n);
  }
  return out;
}

/** A run in the run-history scatter: x and y in [0, 1] (y = 1 the slowest), with what the point links to. */
export interface RunPoint {
  traceId: string;
  x: number;
  y: number;
  error: boolean;
  current: boolean;
  durationNs: number;
  start: string;
}

/** The search parameters that find the runs of a run key (docs/api.md: `/traces`). */
export function runSearchParams(key: RunKey, limit = 100): URLSearchParams {
  const p = new URLSearchParams();
  if (key.kind === 'attributes') for (const [k, v] of key.values) p.append('attr', `${k}=${v}`);
  else {
    p.set('service', key.service);
    p.set('spanName', key.name);
  }
  p.set('limit', String(limit));
  return p;
}

/** A string as a quoted value of the attribute expression language (`q`): backslash escapes. */
function quoteQ(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The trace-list search (fields of the search form) that lists the runs of a
 * run key: its attributes as an expression, or the root's service and span name.
 */
export function runKeySearch(key: RunKey): { service: string; name: string; q: string } {
  if (key.kind === 'root') return { service: key.service, name: key.name, q: '' };
  return { service: '', name: '', q: key.values.map(([k, v]) => `${k} = ${quoteQ(v)}`).join(' AND ') };
}

/**
 * The two traces picked in the list to compare, as A (the earlier start) and
 * B (the later), or null unless exactly two are picked.
 */
export function comparePair(picked: ReadonlyMap<string, string>): { a: string; b: string } | null {
  if (picked.size !== 2) return null;
  const [x, y] = [...picked.entries()] as [[string, string], [string, string]];
  const later = BigInt(y[1]) > BigInt(x[1]) || (BigInt(y[1]) === BigInt(x[1]) && y[0] > x[0]);
  return later ? { a: x[0], b: y[0] } : { a: y[0], b: x[0] };
}

/** Scatter positions of runs (time → x, duration → y); with a root key, traces whose root differs are left out; `null`: every trace (the trace list's search). */
export function runPoints(
  traces: readonly { traceId: string; rootService: string | null; rootName: string | null; startTimeUnixNano: string; durationNano: string; errorCount: number }[],
  key: RunKey | null,
  currentId: string,
): RunPoint[] {
  const runs = key?.kind === 'root' ? traces.filter((t) => t.rootService === key.service && t.rootName === key.name) : [...traces];
  if (runs.length === 0) return [];
  const starts = runs.map((t) => BigInt(t.startTimeUnixNano));
  let lo = starts[0]!;
  let hi = starts[0]!;
  for (const s of starts) {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const span = hi - lo;
  const maxDur = Math.max(1, ...runs.map((t) => Number(t.durationNano)));
  return runs.map((t, i) => ({
    traceId: t.traceId,
    x: span === 0n ? 0.5 : Number(((starts[i]! - lo) * 10000n) / span) / 10000,
    y: Number(t.durationNano) / maxDur,
    error: t.errorCount > 0,
    current: t.traceId === currentId,
    durationNs: Number(t.durationNano),
    start: t.startTimeUnixNano,
  }));
}
