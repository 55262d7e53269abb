// Builds the span tree of a trace (or of several traces stitched together by
// span links) from OTLP/JSON, keeping broken data visible: orphans become
// marked roots (or, with `placeholders`, hang under a placeholder row for the
// parent that has not arrived), parent cycles are broken and flagged,
// duplicate span IDs and end-before-start spans are flagged. Everything here is O(n log n) at worst
// (the sort of siblings by start time); no recursion, so a 100k-deep chain is fine.

import { anyValueToString, attrValue, nsParts } from './format';
import type { OtlpLogRecord, OtlpLogsData, OtlpResource, OtlpScope, OtlpSpan, OtlpTraceData } from './generated/api';

// The OTLP/JSON answers' types are generated from the Rust contract
// (crates/server/src/otlp_types.rs); re-exported here for the tree's users.
export type {
  OtlpEvent,
  OtlpLink,
  OtlpLogRecord,
  OtlpLogsData,
  OtlpResource,
  OtlpScope,
  OtlpSpan,
  OtlpStatus,
  OtlpTraceData,
} from './generated/api';

/** One span with the resource and scope it came with. */
export interface SpanInput {
  span: OtlpSpan;
  resource: OtlpResource;
  scope: OtlpScope;
  service: string;
}

const EMPTY_RESOURCE: OtlpResource = { attributes: [] };
const EMPTY_SCOPE: OtlpScope = { name: '', attributes: [] };

/** Flattens an OTLP/JSON trace answer into spans with their resource and scope. */
export function flattenTrace(data: OtlpTraceData | null | undefined): SpanInput[] {
  const out: SpanInput[] = [];
  for (const rs of data?.resourceSpans ?? []) {
    const resource = rs.resource ?? EMPTY_RESOURCE;
    const service = attrValue(resource.attributes, 'service.name') ?? '';
    for (const ss of rs.scopeSpans ?? []) {
      const scope = ss.scope ?? EMPTY_SCOPE;
      for (const span of ss.spans ?? []) out.push({ span, resource, scope, service });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The tree.
// ---------------------------------------------------------------------------

/** Flags on a node. */
export const F = {
  /** Status ERROR. */
  ERROR: 1,
  /** Some descendant has status ERROR. */
  ERROR_BELOW: 2,
  /** Has a parent span ID that is not in the trace. */
  ORPHAN: 4,
  /** Was in a parent cycle (its parent link was cut to break it). */
  CYCLE: 8,
  /** Another span of the trace has the same span ID. */
  DUPLICATE: 16,
  /** Ends before it starts (or has no end). */
  END_BEFORE_START: 32,
  /** Root of another trace, hung under the span that links it (stitched view). */
  STITCHED: 64,
  /** Stitched root whose attach span is not present. */
  STITCH_MISSING: 128,
  /** Has no (valid) start time. */
  NO_START: 256,
  /**
   * Not a span: the row of a parent span that has not arrived, over the
   * spans that name it (`BuildOptions.placeholders`). Its times are its
   * children's extent; `span` holds only the IDs.
   */
  PLACEHOLDER: 512,
  /** Stitched root joined by an inferred link (a join rule), not a span link: drawn dashed. */
  INFERRED: 1024,
  /**
   * The span's own timestamps look wrong: zero, before 2000 or more than a
   * year before Loupe received it, or more than a day after. From the API
   * (`loupeFlags`, the same bit as Rust's `span_flags::TIME_SUSPECT`).
   */
  TIME_SUSPECT: 2048,
} as const;

/**
 * What a span flagged TIME_SUSPECT has that looks wrong. The rule is the
 * server's (`loupe_model::time::TimeIssue`, against when Loupe received the
 * span, which the page does not know): this only states the span's own
 * dates, the start's and, where it differs, the end's (a span can be
 * flagged for an end far in the future while its start is fine).
 */
export function timeSuspectReason(startNs: string, endNs: string): string {
  const day = (ns: string): string | null => {
    const { sec, nano } = nsParts(ns);
    return sec === 0 && nano === 0 ? null : new Date(sec * 1000).toISOString().slice(0, 10);
  };
  const start = day(startNs);
  if (start === null) return 'its start time is zero (never set)';
  const end = day(endNs);
  const ends = end !== null && end !== start ? ` and ends on ${end}` : '';
  return `it starts on ${start}${ends} (Loupe flags times that are zero, before 2000, more than a year before it received them or more than a day after)`;
}

export interface SpanNode {
  index: number;
  /** `traceId:spanId` (with `#n` appended for the n-th duplicate). */
  key: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  startNs: string;
  endNs: string;
  /** Nanoseconds since the tree's base (a double; exact for offsets under 104 days). */
  start: number;
  /** Nanoseconds since base; equals start when the span ends before it starts. */
  end: number;
  span: OtlpSpan;
  resource: OtlpResource;
  scope: OtlpScope;
  parent: number;
  children: number[];
  depth: number;
  flags: number;
  /** Index into tree.traceIds: 0 is the main trace. */
  traceIdx: number;
}

export interface Attachment {
  /** The trace to hang. */
  traceId: string;
  /** Hang its roots under this span. */
  underTraceId: string;
  underSpanId: string;
  /** The join rule's name when no span link joins the trace, only an inferred one ("inferred by kestra.executionId"). */
  inferred?: string;
}

export interface TreeIssues {
  /** Spans whose parent is not in the trace. */
  orphans: number;
  /** Placeholder rows: distinct parents that have not arrived. */
  missingParents: number;
  cycles: number;
  duplicates: number;
  endBeforeStart: number;
  noStart: number;
}

/** Span ID → node index within one trace (a `Map`, or traceStream.ts's table over its columns). */
export interface SpanIds {
  get(spanId: string): number | undefined;
}

export interface SpanTree {
  nodes: SpanNode[];
  roots: number[];
  /** Pre-order (all nodes, roots in order, children by start time). */
  order: Int32Array;
  /** Subtree size of each node (itself included), by node index. */
  size: Int32Array;
  /** Earliest start, as a nanosecond string: time 0 of the tree. */
  base: string;
  /** Latest end, relative to base. */
  duration: number;
  /** Trace IDs in the tree; [0] is the main trace. */
  traceIds: string[];
  /** traceId → spanId → node index (first copy when duplicated). Nested maps: no per-span key strings to hash. */
  ids: Map<string, SpanIds>;
  /** Keys of the second and later copies of duplicated span IDs (`traceId:spanId#n`). */
  dupKeys: Map<string, number>;
  /** Stitched traces joined by an inferred link: trace ID → the join rule's name. */
  inferredBy: Map<string, string>;
  issues: TreeIssues;
  errorCount: number;
  services: string[];
}

export interface BuildOptions {
  /** The main trace (first in traceIds); defaults to the first span's trace. */
  mainTraceId?: string;
  /** Stitching: other traces whose roots hang under spans of already placed traces. */
  attachments?: Attachment[];
  /**
   * Hang spans whose parent is missing under one placeholder node per
   * missing parent (flag PLACEHOLDER) instead of making them roots: the
   * trace of a running execution whose root has not been exported yet.
   */
  placeholders?: boolean;
  /** The missing parents are no longer expected (the grace period ran out): placeholders say so. */
  parentsGone?: boolean;
}

/** What a placeholder row says: waiting for its span, or that it never arrived. */
export function placeholderName(spanId: string, gone: boolean): string {
  const id = spanId.length > 8 ? `${spanId.slice(0, 8)}…` : spanId;
  return gone ? `parent span ${id} never arrived` : `waiting for parent span ${id}`;
}

const ZERO_ID = /^0+$/;

/** IDs are lowercase hex in API answers; lowercase only when needed. */
function lc(s: string | undefined): string {
  if (!s) return '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

export function isError(span: OtlpSpan): boolean {
  return span.status?.code === 2;
}

function kindOf(k: number | undefined): number {
  return k ?? 0;
}

export function buildTree(inputs: readonly SpanInput[], opts: BuildOptions = {}): SpanTree {
  const n = inputs.length;
  const traceIds: string[] = [];
  const traceIdx = new Map<string, number>();
  const main = (opts.mainTraceId ?? inputs[0]?.span.traceId ?? '').toLowerCase();
  if (main) {
    traceIds.push(main);
    traceIdx.set(main, 0);
  }

  // Time base: the earliest valid start (seconds and nanoseconds kept apart: exact).
  let baseSec = Infinity;
  let baseNano = 0;
  // Typed arrays, not an object a span: a million retained small objects
  // cost the worker's garbage collector more than the parsing.
  const startSec = new Float64Array(n);
  const startNano = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = nsParts(inputs[i]!.span.startTimeUnixNano);
    startSec[i] = p.sec;
    startNano[i] = p.nano;
    if (p.sec === 0 && p.nano === 0) continue;
    if (p.sec < baseSec || (p.sec === baseSec && p.nano < baseNano)) {
      baseSec = p.sec;
      baseNano = p.nano;
    }
  }
  if (baseSec === Infinity) {
    baseSec = 0;
    baseNano = 0;
  }
  const base = baseSec === 0 ? String(baseNano) : `${baseSec}${String(baseNano).padStart(9, '0')}`;

  const nodes: SpanNode[] = [];
  const ids = new Map<string, Map<string, number>>();
  const dupKeys = new Map<string, number>();
  const dupCount = new Map<string, number>();
  const issues: TreeIssues = { orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: 0, noStart: 0 };
  const services = new Set<string>();
  let errorCount = 0;
  let duration = 0;

  for (let i = 0; i < n; i++) {
    const inp = inputs[i]!;
    const s = inp.span;
    const traceId = lc(s.traceId);
    const spanId = lc(s.spanId);
    let parentSpanId = lc(s.parentSpanId);
    if (parentSpanId.charCodeAt(0) === 48 && ZERO_ID.test(parentSpanId)) parentSpanId = '';
    let ti = traceIdx.get(traceId);
    if (ti === undefined) {
      ti = traceIds.length;
      traceIds.push(traceId);
      traceIdx.set(traceId, ti);
    }
    let spans = ids.get(traceId);
    if (!spans) {
      spans = new Map();
      ids.set(traceId, spans);
    }
    let flags = 0;
    const sSec = startSec[i]!;
    const sNano = startNano[i]!;
    let start: number;
    if (sSec === 0 && sNano === 0) {
      flags |= F.NO_START;
      issues.noStart++;
      start = 0;
    } else {
      start = (sSec - baseSec) * 1e9 + (sNano - baseNano);
    }
    const ep = nsParts(s.endTimeUnixNano);
    let end = ep.sec === 0 && ep.nano === 0 ? -Infinity : (ep.sec - baseSec) * 1e9 + (ep.nano - baseNano);
    if (end < start) {
      flags |= F.END_BEFORE_START;
      issues.endBeforeStart++;
      end = start;
    }
    if (end > duration) duration = end;
    if (isError(s)) {
      flags |= F.ERROR;
      errorCount++;
    }
    if ((s.loupeFlags ?? 0) & F.TIME_SUSPECT) flags |= F.TIME_SUSPECT;
    let key = `${traceId}:${spanId}`;
    const first = spans.get(spanId);
    if (first === undefined) spans.set(spanId, i);
    else {
      const c = (dupCount.get(key) ?? 0) + 1;
      dupCount.set(key, c);
      if (!(nodes[first]!.flags & F.DUPLICATE)) {
        nodes[first]!.flags |= F.DUPLICATE;
        issues.duplicates++;
      }
      flags |= F.DUPLICATE;
      issues.duplicates++;
      key = `${key}#${c}`;
      dupKeys.set(key, i);
    }
    services.add(inp.service);
    nodes.push({
      index: i,
      key,
      traceId,
      spanId,
      parentSpanId,
      name: s.name ?? '',
      kind: kindOf(s.kind),
      service: inp.service,
      startNs: s.startTimeUnixNano ?? '0',
      endNs: s.endTimeUnixNano ?? '0',
      start,
      end,
      span: s,
      resource: inp.resource,
      scope: inp.scope,
      parent: -1,
      children: [],
      depth: 0,
      flags,
      traceIdx: ti,
    });
  }

  // Placeholders for missing parents, after the spans (index >= n). Each is
  // entered in `ids` under the missing span's ID, so later orphans of the same
  // parent find it, and keys (collapse state, selection) carry over to the real
  // span when it arrives.
  const placeholder = (child: SpanNode, spans: Map<string, number>): number => {
    const at = nodes.length;
    spans.set(child.parentSpanId, at);
    issues.missingParents++;
    nodes.push({
      index: at,
      key: `${child.traceId}:${child.parentSpanId}`,
      traceId: child.traceId,
      spanId: child.parentSpanId,
      parentSpanId: '',
      name: placeholderName(child.parentSpanId, !!opts.parentsGone),
      kind: 0,
      service: '',
      startNs: child.startNs,
      endNs: child.endNs,
      start: child.start,
      end: child.end,
      span: { traceId: child.traceId, spanId: child.parentSpanId },
      resource: EMPTY_RESOURCE,
      scope: EMPTY_SCOPE,
      parent: -1,
      children: [],
      depth: 0,
      flags: F.PLACEHOLDER,
      traceIdx: child.traceIdx,
    });
    return at;
  };

  // Parents.
  let lastTrace = '';
  let lastSpans: Map<string, number> | undefined;
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
    if (!node.parentSpanId) continue;
    if (node.traceId !== lastTrace || !lastSpans) {
      lastTrace = node.traceId;
      lastSpans = ids.get(node.traceId)!;
    }
    const p = lastSpans.get(node.parentSpanId);
    if (p === undefined || p >= n) {
      // Missing (or only a placeholder so far: still an orphan).
      node.flags |= F.ORPHAN;
      issues.orphans++;
      if (opts.placeholders) node.parent = p ?? placeholder(node, lastSpans);
    } else if (p === i) {
      node.flags |= F.CYCLE;
      issues.cycles++;
    } else {
      node.parent = p;
    }
  }

  // A placeholder spans its children (their own times: enough to place the row).
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
    if (node.parent < n) continue;
    const ph = nodes[node.parent]!;
    if (node.start < ph.start) {
      ph.start = node.start;
      ph.startNs = node.startNs;
    }
    if (node.end > ph.end) {
      ph.end = node.end;
      ph.endNs = node.endNs;
    }
  }
  const total = nodes.length;

  // Stitching: roots of attached traces hang under the span they are linked with.
  const inferredBy = new Map<string, string>();
  if (opts.attachments && opts.attachments.length > 0) {
    const attach = new Map<string, Attachment>();
    for (const a of opts.attachments) {
      attach.set(a.traceId.toLowerCase(), a);
      if (a.inferred !== undefined) inferredBy.set(a.traceId.toLowerCase(), a.inferred);
    }
    for (let i = 0; i < total; i++) {
      const node = nodes[i]!;
      if (node.parent !== -1 || node.flags & F.CYCLE) continue;
      const a = attach.get(node.traceId);
      if (!a || node.traceIdx === 0) continue;
      node.flags |= F.STITCHED;
      if (a.inferred !== undefined) node.flags |= F.INFERRED;
      const p = ids.get(lc(a.underTraceId))?.get(lc(a.underSpanId));
      if (p === undefined || p === i) node.flags |= F.STITCH_MISSING;
      else node.parent = p;
    }
  }

  for (let i = 0; i < total; i++) {
    const p = nodes[i]!.parent;
    if (p >= 0) nodes[p]!.children.push(i);
  }

  const byStart = (a: number, b: number) => nodes[a]!.start - nodes[b]!.start || a - b;
  for (let i = 0; i < total; i++) if (nodes[i]!.children.length > 1) nodes[i]!.children.sort(byStart);
  const stack: number[] = [];
  const order = new Int32Array(total);
  let roots: number[] = [];
  const preorder = (): number => {
    roots = [];
    for (let i = 0; i < total; i++) if (nodes[i]!.parent === -1) roots.push(i);
    // Main trace's roots first (true roots before orphans), then by start.
    roots.sort((a, b) => {
      const na = nodes[a]!;
      const nb = nodes[b]!;
      if ((na.traceIdx === 0) !== (nb.traceIdx === 0)) return na.traceIdx === 0 ? -1 : 1;
      const oa = na.flags & (F.ORPHAN | F.CYCLE | F.STITCHED | F.PLACEHOLDER) ? 1 : 0;
      const ob = nb.flags & (F.ORPHAN | F.CYCLE | F.STITCHED | F.PLACEHOLDER) ? 1 : 0;
      return oa - ob || byStart(a, b);
    });
    let k = 0;
    for (let r = roots.length - 1; r >= 0; r--) stack.push(roots[r]!);
    while (stack.length) {
      const x = stack.pop()!;
      order[k++] = x;
      const node = nodes[x]!;
      node.depth = node.parent === -1 ? 0 : nodes[node.parent]!.depth + 1;
      const ch = node.children;
      for (let c = ch.length - 1; c >= 0; c--) stack.push(ch[c]!);
    }
    return k;
  };

  if (preorder() < total) {
    // Parent cycles: some nodes are not reachable from any root. Walk up from
    // each to find its cycle, cut it at its earliest-starting node, repeat.
    // (A placeholder is always a root, so it is never in a cycle.)
    const reached = new Uint8Array(total);
    const markFrom = (r: number) => {
      stack.push(r);
      while (stack.length) {
        const x = stack.pop()!;
        reached[x] = 1;
        for (const c of nodes[x]!.children) if (!reached[c]) stack.push(c);
      }
    };
    for (const r of roots) markFrom(r);
    const walk = new Int32Array(total);
    let stamp = 0;
    for (let i = 0; i < total; i++) {
      if (reached[i]) continue;
      stamp++;
      let x = i;
      while (walk[x] !== stamp) {
        walk[x] = stamp;
        x = nodes[x]!.parent;
      }
      let best = x;
      for (let y = nodes[x]!.parent; y !== x; y = nodes[y]!.parent) {
        if (nodes[y]!.start < nodes[best]!.start || (nodes[y]!.start === nodes[best]!.start && y < best)) best = y;
      }
      const siblings = nodes[nodes[best]!.parent]!.children;
      siblings.splice(siblings.indexOf(best), 1);
      nodes[best]!.parent = -1;
      nodes[best]!.flags |= F.CYCLE;
      issues.cycles++;
      markFrom(best);
    }
    preorder();
  }

  // Subtree sizes and error hints, bottom-up.
  const size = new Int32Array(total).fill(1);
  for (let j = total - 1; j >= 0; j--) {
    const x = order[j]!;
    const node = nodes[x]!;
    if (node.parent >= 0) {
      const p = nodes[node.parent]!;
      size[node.parent]! += size[x]!;
      if (node.flags & (F.ERROR | F.ERROR_BELOW)) p.flags |= F.ERROR_BELOW;
    }
  }

  return {
    nodes,
    roots,
    order,
    size,
    base,
    duration,
    traceIds,
    ids,
    dupKeys,
    inferredBy,
    issues,
    errorCount,
    services: [...services].sort(),
  };
}

/** The node index of a span (first copy when duplicated), or undefined. */
export function findIndex(tree: SpanTree, traceId: string, spanId: string): number | undefined {
  return tree.ids.get(lc(traceId))?.get(lc(spanId));
}

/** The node index of a node key (`traceId:spanId`, `#n` for later duplicates). */
export function indexOfKey(tree: SpanTree, key: string): number | undefined {
  const d = tree.dupKeys.get(key);
  if (d !== undefined) return d;
  const c = key.indexOf(':');
  return c < 0 ? undefined : findIndex(tree, key.slice(0, c), key.slice(c + 1));
}

// ---------------------------------------------------------------------------
// Visible rows.
// ---------------------------------------------------------------------------

/** Visible node indices in pre-order, skipping the descendants of collapsed nodes. O(visible rows). */
export function visibleRows(tree: SpanTree, collapsed: Uint8Array): Int32Array {
  const n = tree.order.length;
  const out = new Int32Array(n);
  let k = 0;
  let j = 0;
  while (j < n) {
    const x = tree.order[j]!;
    out[k++] = x;
    j += collapsed[x] ? tree.size[x]! : 1;
  }
  return out.subarray(0, k);
}

/** Collapse state (by node index) from a set of collapsed span keys. */
export function collapsedFromKeys(tree: SpanTree, keys: ReadonlySet<string>): Uint8Array {
  const c = new Uint8Array(tree.nodes.length);
  if (keys.size === 0) return c;
  for (const k of keys) {
    const i = indexOfKey(tree, k);
    if (i !== undefined) c[i] = 1;
  }
  return c;
}

/** The ancestors of a node, nearest first. */
export function ancestors(tree: SpanTree, index: number): number[] {
  const out: number[] = [];
  for (let p = tree.nodes[index]!.parent; p >= 0; p = tree.nodes[p]!.parent) out.push(p);
  return out;
}

// ---------------------------------------------------------------------------
// Search within a trace (the lens).
// ---------------------------------------------------------------------------

/** The lowercase text a lens search looks in: name, service, IDs, attributes (`key=value`), status, events. */
export function spanSearchText(node: SpanNode): string {
  const parts: string[] = [node.name, node.service, node.spanId];
  for (const kv of node.span.attributes ?? []) parts.push(`${kv.key}=${anyValueToString(kv.value)}`);
  const st = node.span.status;
  if (st?.message) parts.push(st.message);
  for (const ev of node.span.events ?? []) parts.push(ev.name ?? '');
  return parts.join('\n').toLowerCase();
}

export interface LensResult {
  matches: Uint8Array;
  count: number;
  /** Collapse state in lens mode: a node is open iff a match is below it. */
  collapsed: Uint8Array;
}

/**
 * Marks the spans whose text contains `query` (case-insensitive; several words
 * separated by spaces must all match), and folds every branch without a match.
 */
export function lens(tree: SpanTree, query: string, textCache?: (string | undefined)[]): LensResult {
  const n = tree.nodes.length;
  const matches = new Uint8Array(n);
  const collapsed = new Uint8Array(n).fill(1);
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  let count = 0;
  if (words.length === 0) return { matches, count, collapsed: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    let t = textCache?.[i];
    if (t === undefined) {
      t = spanSearchText(tree.nodes[i]!);
      if (textCache) textCache[i] = t;
    }
    let ok = true;
    for (const w of words)
      if (!t.includes(w)) {
        ok = false;
        break;
      }
    if (ok) {
      matches[i] = 1;
      count++;
    }
  }
  // A node is open when something below it matches.
  for (let j = n - 1; j >= 0; j--) {
    const x = tree.order[j]!;
    const p = tree.nodes[x]!.parent;
    if (p >= 0 && (matches[x] || !collapsed[x])) collapsed[p] = 0;
  }
  return { matches, count, collapsed };
}

// ---------------------------------------------------------------------------
// Group by attribute: lanes.
// ---------------------------------------------------------------------------

/**
 * The lane value of each node: its own attribute (span, then resource); else
 * its nearest ancestor's own; else its nearest descendant's (so an API call
 * that started a workflow execution lands in that execution's lane); else
 * its parent's lane; '' when none.
 */
export function groupValues(tree: SpanTree, key: string): string[] {
  const n = tree.nodes.length;
  const out = new Array<string>(n).fill('');
  if (!key) return out;
  const own = new Array<string | undefined>(n);
  for (let i = 0; i < n; i++) {
    const node = tree.nodes[i]!;
    own[i] = key === 'service.name' || key === 'service' ? node.service : (attrValue(node.span.attributes, key) ?? attrValue(node.resource.attributes, key));
  }
  // Nearest descendant with a value (fewest levels down; the earlier child on a tie), bottom-up.
  const down = new Array<string | undefined>(n);
  const dist = new Int32Array(n);
  for (let j = n - 1; j >= 0; j--) {
    const x = tree.order[j]!;
    if (own[x] !== undefined) {
      down[x] = own[x];
      dist[x] = 0;
    }
    const p = tree.nodes[x]!.parent;
    if (p >= 0 && down[x] !== undefined && own[p] === undefined) {
      // Children are visited last to first: "<=" lets the earlier child win a tie.
      if (down[p] === undefined || dist[x]! + 1 <= dist[p]!) {
        down[p] = down[x];
        dist[p] = dist[x]! + 1;
      }
    }
  }
  // Top-down: own, nearest ancestor's own, nearest descendant's, the parent's lane.
  const up = new Array<string | undefined>(n);
  for (let j = 0; j < n; j++) {
    const x = tree.order[j]!;
    const p = tree.nodes[x]!.parent;
    const inherited = p >= 0 ? (own[p] ?? up[p]) : undefined;
    up[x] = inherited;
    out[x] = own[x] ?? inherited ?? down[x] ?? (p >= 0 ? out[p]! : '');
  }
  return out;
}

export interface Lane {
  value: string;
  count: number;
  collapsed: boolean;
  /** The lane's first node (its context chips), or -1. */
  first: number;
}

/**
 * Partitions visible rows into lanes by value (lanes ordered by first appearance,
 * rows keep their order). Lane headers are encoded as -(lane index + 1).
 */
export function laneRows(rows: Int32Array, values: readonly string[], collapsedLanes: ReadonlySet<string> = new Set()): { rows: Int32Array; lanes: Lane[] } {
  const laneOf = new Map<string, number>();
  const lanes: Lane[] = [];
  const members: number[][] = [];
  for (const x of rows) {
    const v = values[x] ?? '';
    let l = laneOf.get(v);
    if (l === undefined) {
      l = lanes.length;
      laneOf.set(v, l);
      lanes.push({ value: v, count: 0, collapsed: collapsedLanes.has(v), first: x });
      members.push([]);
    }
    lanes[l]!.count++;
    members[l]!.push(x);
  }
  // Lanes without a value go last.
  const idx = lanes.map((_, i) => i);
  idx.sort((a, b) => (lanes[a]!.value === '' ? 1 : 0) - (lanes[b]!.value === '' ? 1 : 0) || a - b);
  const sortedLanes = idx.map((i) => lanes[i]!);
  let total = lanes.length;
  for (const i of idx) if (!lanes[i]!.collapsed) total += members[i]!.length;
  const out = new Int32Array(total);
  let k = 0;
  idx.forEach((i, li) => {
    out[k++] = -(li + 1);
    if (!lanes[i]!.collapsed) for (const x of members[i]!) out[k++] = x;
  });
  return { rows: out, lanes: sortedLanes };
}

/** Attribute keys present on spans and resources, most frequent first (for the group-by picker). */
export function attributeKeys(tree: SpanTree, max = 200): string[] {
  const count = new Map<string, number>();
  const seenRes = new Set<OtlpResource>();
  for (const node of tree.nodes) {
    for (const kv of node.span.attributes ?? []) count.set(kv.key, (count.get(kv.key) ?? 0) + 1);
    if (!seenRes.has(node.resource)) {
      seenRes.add(node.resource);
      for (const kv of node.resource.attributes ?? []) count.set(kv.key, (count.get(kv.key) ?? 0) + 1);
    }
  }
  return [...count.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([k]) => k);
}

// ---------------------------------------------------------------------------
// Logs on the timeline.
// ---------------------------------------------------------------------------

export interface LogEntry {
  record: OtlpLogRecord;
  service: string;
  scope: OtlpScope;
  resource: OtlpResource;
  timeNs: string;
  /** Relative to the tree base. */
  offset: number;
  severity: number;
  /** Node index of its span, or -1. */
  node: number;
}

/** Log records of the tree's traces, oldest first, each tied to its span's node (or -1). */
export function attachLogs(tree: SpanTree, data: OtlpLogsData | null | undefined): LogEntry[] {
  const out: LogEntry[] = [];
  const b = nsParts(tree.base);
  for (const rl of data?.resourceLogs ?? []) {
    const resource = rl.resource ?? EMPTY_RESOURCE;
    const service = attrValue(resource.attributes, 'service.name') ?? '';
    for (const sl of rl.scopeLogs ?? []) {
      const scope = sl.scope ?? EMPTY_SCOPE;
      for (const record of sl.logRecords ?? []) {
        const t = record.timeUnixNano && record.timeUnixNano !== '0' ? record.timeUnixNano : (record.observedTimeUnixNano ?? '0');
        const p = nsParts(t);
        const i = record.spanId ? findIndex(tree, record.traceId ?? '', record.spanId) : undefined;
        out.push({
          record,
          service,
          scope,
          resource,
          timeNs: t,
          offset: (p.sec - b.sec) * 1e9 + (p.nano - b.nano),
          severity: record.severityNumber ?? 0,
          node: i ?? -1,
        });
      }
    }
  }
  out.sort((a, b2) => a.offset - b2.offset);
  return out;
}
