// A trace loaded by the worker (traceWorker.ts). The worker fetches, parses
// and builds the tree; the page gets it as columns in one message (typed
// arrays moved, not copied; names, services, resources, scopes and statuses
// as tables; IDs and timestamps as joined strings) and makes its light
// nodes from them a slice at a time, in pre-order, yielding between slices:
// the first slice is the top of the tree, painted at once, and no task of
// the page holds the whole trace. Until every node is made, `tree.nodes`
// has holes (`complete` false).
//
// Light nodes carry no events, links or attributes beyond the context keys
// (`lite`): the details panel asks the worker for the whole span, and
// find-in-trace, group-by values and the attribute keys are the worker's
// work too, on its own copy of the same tree (same node indices).

import { ApiError } from './api';
import type { KeyValue } from './format';
import type { LensResult, OtlpResource, OtlpScope, OtlpSpan, OtlpStatus, SpanNode, SpanTree, TreeIssues } from './tree';

/** Nodes made in the first slice (a few screenfuls, at once) and in each later one (a few ms each). */
export const FIRST_SLICE = 2000;
export const NEXT_SLICE = 10000;

export interface Joined {
  text: string;
  off: Int32Array;
}

/** The tree's nodes as columns, by node index. */
export interface Columns {
  parent: Int32Array;
  depth: Int32Array;
  flags: Int32Array;
  kind: Int32Array;
  traceIdx: Int32Array;
  svc: Int32Array;
  name: Int32Array;
  res: Int32Array;
  scp: Int32Array;
  /** Index into `statuses`, or -1 (unset). */
  status: Int32Array;
  start: Float64Array;
  end: Float64Array;
  /** Per context key: index into `ctxValues[k]`, or -1. */
  ctx: Int32Array[];
  names: string[];
  svcs: string[];
  resources: OtlpResource[];
  scopes: OtlpScope[];
  statuses: OtlpStatus[];
  contextKeys: string[];
  ctxValues: KeyValue[][];
  spanIds: Joined;
  parentIds: Joined;
  startNs: Joined;
  endNs: Joined;
}

export type ToWorker =
  | { t: 'load'; traceId: string; contextKeys: string[] }
  /** Whether missing parents are no longer expected: the worker builds the tree once it knows (after 'load'). */
  | { t: 'parents'; gone: boolean }
  | { t: 'lens'; seq: number; query: string }
  | { t: 'span'; seq: number; index: number }
  | { t: 'group'; seq: number; key: string }
  | { t: 'keys'; seq: number; max: number };

export type FromWorker =
  | { t: 'error'; message: string; status: number }
  | {
      t: 'head';
      n: number;
      order: Int32Array;
      size: Int32Array;
      roots: number[];
      base: string;
      duration: number;
      traceIds: string[];
      dupKeys: [string, number][];
      issues: TreeIssues;
      errorCount: number;
      services: string[];
      cols: Columns;
      /** When the worker had the answer parsed (epoch ms). */
      parsedAt: number;
      /** When the answer's last byte arrived (epoch ms, 0 when unknown), and its size in bytes. */
      answeredAt: number;
      answerBytes: number;
    }
  /**
   * The first chunk's rows, before the rest has arrived, when the answer is
   * in tree order (traceWorker.ts `preview`): `cols` holds nodes 0…m-1
   * (pre-order positions and node indices alike), `size` their subtree
   * sizes; `n` nodes in all. A 'head' follows with the whole tree, same
   * indices.
   */
  | {
      t: 'preview';
      n: number;
      size: Int32Array;
      base: string;
      duration: number;
      traceId: string;
      errorCount: number;
      services: string[];
      cols: Columns;
    }
  | { t: 'lens'; seq: number; count: number; matches: Uint8Array; collapsed: Uint8Array }
  | { t: 'span'; seq: number; span: OtlpSpan | null }
  | { t: 'group'; seq: number; ids: Int32Array; values: string[] }
  | { t: 'keys'; seq: number; keys: string[] };

export interface StreamHandlers {
  /**
   * The first slice is made: the tree (with holes) can be shown. `again`:
   * a preview of the same nodes (same indices) was shown before.
   */
  onStart(tree: SpanTree, again: boolean): void;
  /** More nodes are made (`made` of `tree.nodes.length`). */
  onProgress(made: number): void;
  /** Every node is made. */
  onDone(tree: SpanTree): void;
  onError(e: ApiError): void;
}

const slice = (j: Joined, i: number) => j.text.slice(j.off[i]!, j.off[i + 1]!);

/** A trace loaded by a worker; the questions the page asks it about the tree. */
export class TraceStream {
  tree: SpanTree | null = null;
  complete = false;
  made = 0;
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, (m: FromWorker | null) => void>();
  /** 1 where the node of that index is still light. */
  private lite = new Uint8Array(0);
  private readonly channel = new MessageChannel();
  private disposed = false;

  constructor(
    traceId: string,
    contextKeys: string[],
    private readonly h: StreamHandlers,
    /**
     * Missing parents are no longer expected: placeholders say they never
     * arrived (tree.ts). May come later than the load starts (the trace's
     * summary says it): the worker fetches meanwhile.
     */
    parentsGone: boolean | Promise<boolean> = false,
  ) {
    this.worker = new Worker(new URL('./traceWorker.ts', import.meta.url), { type: 'module', name: 'loupe-trace' });
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
    this.worker.onerror = (ev) => this.h.onError(new ApiError(ev.message || 'The trace worker failed', 0));
    this.worker.postMessage({ t: 'load', traceId, contextKeys } satisfies ToWorker);
    void Promise.resolve(parentsGone).then((gone) => {
      if (!this.disposed) this.worker.postMessage({ t: 'parents', gone } satisfies ToWorker);
    });
  }

  /** True when the node is this stream's light copy (no events, links, other attributes). */
  isLite(node: SpanNode): boolean {
    return this.tree?.nodes[node.index] === node && this.lite[node.index] === 1;
  }

  /** Fills in a light node's whole span (for the details panel). */
  async full(node: SpanNode): Promise<SpanNode> {
    if (!this.isLite(node)) return node;
    const m = await this.ask({ t: 'span', seq: 0, index: node.index });
    if (m?.t === 'span' && m.span) {
      node.span = m.span;
      this.lite[node.index] = 0;
    }
    return node;
  }

  /** Find-in-trace on the worker's tree; null when it has none. */
  async lens(query: string): Promise<LensResult | null> {
    const m = await this.ask({ t: 'lens', seq: 0, query });
    return m?.t === 'lens' && m.count >= 0 ? { matches: m.matches, count: m.count, collapsed: m.collapsed } : null;
  }

  /** `groupValues` of the worker's tree. */
  async groupValues(key: string): Promise<string[] | null> {
    const m = await this.ask({ t: 'group', seq: 0, key });
    if (m?.t !== 'group' || m.ids.length === 0) return null;
    const out = new Array<string>(m.ids.length);
    for (let i = 0; i < m.ids.length; i++) out[i] = m.values[m.ids[i]!]!;
    return out;
  }

  /** `attributeKeys` of the worker's tree. */
  async attributeKeys(max: number): Promise<string[]> {
    const m = await this.ask({ t: 'keys', seq: 0, max });
    return m?.t === 'keys' ? m.keys : [];
  }

  dispose(): void {
    this.disposed = true;
    this.worker.terminate();
    this.channel.port1.close();
    for (const ok of this.waiting.values()) ok(null);
    this.waiting.clear();
  }

  private ask(msg: ToWorker & { seq: number }): Promise<FromWorker | null> {
    if (this.disposed) return Promise.resolve(null);
    const seq = ++this.seq;
    return new Promise((ok) => {
      this.waiting.set(seq, ok);
      this.worker.postMessage({ ...msg, seq });
    });
  }

  private receive(m: FromWorker): void {
    if (m.t === 'error') {
      this.h.onError(new ApiError(m.message, m.status));
      this.dispose();
      return;
    }
    if (m.t === 'head') {
      this.start(m);
      return;
    }
    if (m.t === 'preview') {
      this.preview(m);
      return;
    }
    const ok = this.waiting.get(m.seq);
    this.waiting.delete(m.seq);
    ok?.(m);
  }

  private previewed = false;

  private preview(m: Extract<FromWorker, { t: 'preview' }>): void {
    if (this.tree) return;
    const n = m.n;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const size = new Int32Array(n).fill(1);
    size.set(m.size.subarray(0, Math.min(n, m.size.length)));
    const count = Math.min(n, m.cols.parent.length);
    const roots: number[] = [];
    for (let i = 0; i < count; i++) if (m.cols.parent[i]! < 0) roots.push(i);
    const t: SpanTree = {
      nodes: new Array<SpanNode>(n),
      roots,
      order,
      size,
      base: m.base,
      duration: m.duration,
      traceIds: [m.traceId],
      ids: new Map([[m.traceId, new Map<string, number>()]]),
      dupKeys: new Map(),
      inferredBy: new Map(),
      issues: { orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: 0, noStart: 0 },
      errorCount: m.errorCount,
      services: m.services,
    };
    this.tree = t;
    this.lite = new Uint8Array(n).fill(1);
    this.made = makeNodes(t, m.cols, new Map(), 0, count, new Map());
    this.previewed = true;
    // For the perf script and the browser test: the first chunk's rows were
    // shown before the whole answer arrived.
    performance.mark('loupe:trace-preview', { detail: { nodes: count, of: n } });
    this.h.onStart(t, false);
  }

  private start(m: Extract<FromWorker, { t: 'head' }>): void {
    // For the perf script: the answer parsed (worker) and the tree received (page), on the page's clock.
    performance.mark('loupe:trace-parsed-worker', { startTime: Math.max(0, m.parsedAt - performance.timeOrigin) });
    performance.mark('loupe:trace-received', { detail: { bytes: m.answerBytes } });
    if (m.answeredAt) performance.mark('loupe:trace-answered', { startTime: Math.max(0, m.answeredAt - performance.timeOrigin) });
    const t: SpanTree = {
      nodes: new Array<SpanNode>(m.n),
      roots: m.roots,
      order: m.order,
      size: m.size,
      base: m.base,
      duration: m.duration,
      traceIds: m.traceIds,
      ids: new Map(m.traceIds.map((id) => [id, new Map<string, number>()])),
      dupKeys: new Map(m.dupKeys),
      // The worker builds one trace, never stitched: nothing is inferred.
      inferredBy: new Map(),
      issues: m.issues,
      errorCount: m.errorCount,
      services: m.services,
    };
    this.tree = t;
    this.lite = new Uint8Array(m.n).fill(1);
    const dupOf = new Map<number, string>();
    for (const [k, i] of m.dupKeys) dupOf.set(i, k);
    const attrLists = new Map<number, KeyValue[]>();
    const make = (from: number, to: number) => {
      this.made = makeNodes(t, m.cols, dupOf, from, to, attrLists);
    };
    const n = m.n;
    make(0, Math.min(n, FIRST_SLICE));
    this.h.onStart(t, this.previewed);
    if (this.made >= n) {
      this.complete = true;
      this.h.onDone(t);
      return;
    }
    // The rest a slice per task; a MessageChannel message yields to rendering and input without setTimeout's clamping.
    this.channel.port1.onmessage = () => {
      if (this.disposed) return;
      make(this.made, Math.min(n, this.made + NEXT_SLICE));
      if (this.made >= n) {
        this.complete = true;
        this.h.onDone(t);
      } else {
        this.h.onProgress(this.made);
        this.channel.port2.postMessage(0);
      }
    };
    this.channel.port2.postMessage(0);
  }
}

const NO_ATTRS: KeyValue[] = [];

/** Makes the light nodes of pre-order positions [from, to) from the columns; returns `to`. */
function makeNodes(t: SpanTree, c: Columns, dupOf: Map<number, string>, from: number, to: number, attrLists: Map<number, KeyValue[]>): number {
  // One shared attribute list per distinct combination of context values,
  // keyed by the combination's mixed-radix number (exact while it fits a double).
  let radix = 1;
  for (const v of c.ctxValues) radix *= v.length + 1;
  const shared = radix < Number.MAX_SAFE_INTEGER;
  for (let j = from; j < to; j++) {
    const x = t.order[j]!;
    const traceId = t.traceIds[c.traceIdx[x]!]!;
    const spanId = slice(c.spanIds, x);
    const parentSpanId = slice(c.parentIds, x);
    const name = c.names[c.name[x]!]!;
    const startNs = slice(c.startNs, x);
    const endNs = slice(c.endNs, x);
    let attributes = NO_ATTRS;
    if (c.ctx.length) {
      let sig = 0;
      if (shared) for (let k = 0; k < c.ctx.length; k++) sig = sig * (c.ctxValues[k]!.length + 1) + c.ctx[k]![x]! + 1;
      let list = shared ? attrLists.get(sig) : undefined;
      if (!list) {
        list = [];
        for (let k = 0; k < c.ctx.length; k++) {
          const v = c.ctx[k]![x]!;
          if (v >= 0) list.push(c.ctxValues[k]![v]!);
        }
        if (shared) attrLists.set(sig, list);
      }
      attributes = list;
    }
    const st = c.status[x]!;
    const span: OtlpSpan = { traceId, spanId, parentSpanId, name, kind: c.kind[x]!, startTimeUnixNano: startNs, endTimeUnixNano: endNs, attributes, status: st >= 0 ? c.statuses[st]! : undefined };
    const parent = c.parent[x]!;
    const dup = dupOf.get(x);
    const node: SpanNode = {
      index: x,
      key: dup ?? `${traceId}:${spanId}`,
      traceId,
      spanId,
      parentSpanId,
      name,
      kind: c.kind[x]!,
      service: c.svcs[c.svc[x]!]!,
      startNs,
      endNs,
      start: c.start[x]!,
      end: c.end[x]!,
      span,
      resource: c.resources[c.res[x]!]!,
      scope: c.scopes[c.scp[x]!]!,
      parent,
      children: [],
      depth: c.depth[x]!,
      flags: c.flags[x]!,
      traceIdx: c.traceIdx[x]!,
    };
    t.nodes[x] = node;
    // Pre-order: the parent is made before its children, which come in their order.
    if (parent >= 0) t.nodes[parent]!.children.push(x);
    if (dup === undefined) t.ids.get(traceId)!.set(spanId, x);
  }
  return to;
}
