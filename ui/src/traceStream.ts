// A trace loaded by the worker (traceWorker.ts). The page gets the tree as
// columns (typed arrays moved, not copied; names, services, resources,
// scopes and statuses as tables; IDs and timestamps as joined strings) and
// makes its light nodes from them a slice at a time, in pre-order, yielding
// between slices: the first slice is the top of the tree, painted at once,
// and no task of the page holds the whole trace. Until every node is made,
// `tree.nodes` has holes (`complete` false).
//
// An answer in tree order (the usual case) comes as 'rows' messages, one a
// chunk as the worker decodes it, then 'done' with what needs the whole
// tree (errors below a node); any other answer as one 'head' with the
// whole tree the worker built.
//
// Light nodes carry no events, links or attributes beyond the context keys
// (`lite`): the details panel asks the worker for the whole span, and
// find-in-trace, group-by values and the attribute keys are the worker's
// work too, on its own copy of the same tree (same node indices).

import { ApiError } from './api';
import type { KeyValue } from './format';
import { hash, mix } from './hash';
import { F, type LensResult, type OtlpResource, type OtlpScope, type OtlpSpan, type OtlpStatus, type SpanIds, type SpanNode, type SpanTree, type TreeIssues } from './tree';

/** Nodes made in the first slice (a few screenfuls, at once) and in each later one (a few ms each). */
export const FIRST_SLICE = 2000;
export const NEXT_SLICE = 10000;
/** Nodes made between two looks at the clock, and the time a slice may take (ms): well under the 50 ms of a long task, on a loaded machine too. */
const BATCH = 500;
const SLICE_MS = 12;
/** Nodes given their final flags (errors below) a task, once all are made. */
const PATCH_SLICE = 100000;

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
  /** Absent in an answer in tree order, where every parent is in the tree: a node's parent ID is its parent node's. */
  parentIds?: Joined;
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
   * Rows of an answer in tree order (traceTable.ts), sent as each chunk is
   * decoded: `cols` holds nodes from…from+m-1 (pre-order positions and node
   * indices alike, column indices relative to `from`; resources and scopes
   * only in the first message, then empty), `size` their subtree sizes;
   * `n` nodes in all. A 'done' follows the last.
   */
  | {
      t: 'rows';
      from: number;
      n: number;
      size: Int32Array;
      base: string;
      duration: number;
      traceId: string;
      cols: Columns;
    }
  /** After the last 'rows': what needs the whole tree (errors below a node, the services, the issues). */
  | {
      t: 'done';
      flags: Int32Array;
      errorCount: number;
      services: string[];
      issues: TreeIssues;
      duration: number;
      parsedAt: number;
      answeredAt: number;
      answerBytes: number;
    }
  | { t: 'lens'; seq: number; count: number; matches: Uint8Array; collapsed: Uint8Array }
  | { t: 'span'; seq: number; span: OtlpSpan | null }
  | { t: 'group'; seq: number; ids: Int32Array; values: string[] }
  | { t: 'keys'; seq: number; keys: string[] };

export interface StreamHandlers {
  /** The first slice is made: the tree (with holes) can be shown. */
  onStart(tree: SpanTree): void;
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
    if (m.t === 'rows') {
      this.rows(m);
      return;
    }
    if (m.t === 'done') {
      this.finish = m;
      this.pump();
      return;
    }
    const ok = this.waiting.get(m.seq);
    this.waiting.delete(m.seq);
    ok?.(m);
  }

  /** Rows received and not all made yet (an answer in tree order), oldest first; `at`: made so far of the first. */
  private parts: { m: Extract<FromWorker, { t: 'rows' }>; b: Block; at: number }[] = [];
  private finish: Extract<FromWorker, { t: 'done' }> | null = null;
  /** Nodes whose final flags are set, once every node is made. */
  private patched = 0;
  private pumping = false;
  private resources: OtlpResource[] = [];
  private scopes: OtlpScope[] = [];
  private services = new Set<string>();

  /**
   * The next chunk's rows of an answer in tree order. The first makes the
   * tree (with holes) and its first slice at once; the rest are made a
   * slice per task (`pump`) while more arrive.
   */
  private rows(m: Extract<FromWorker, { t: 'rows' }>): void {
    const count = m.cols.parent.length;
    if (m.cols.resources.length) {
      this.resources = m.cols.resources;
      this.scopes = m.cols.scopes;
    } else {
      m.cols.resources = this.resources;
      m.cols.scopes = this.scopes;
    }
    let t = this.tree;
    const first = !t;
    if (!t) {
      const n = m.n;
      const order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      const index = new SpanIndex(n, this.blocks);
      this.index = index;
      t = {
        nodes: new Array<SpanNode>(n),
        roots: [],
        order,
        size: new Int32Array(n).fill(1),
        base: m.base,
        duration: m.duration,
        traceIds: [m.traceId],
        ids: new Map([[m.traceId, index]]),
        dupKeys: new Map(),
        inferredBy: new Map(),
        issues: { orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: 0, noStart: 0 },
        errorCount: 0,
        services: [],
      };
      this.tree = t;
      this.lite = new Uint8Array(n).fill(1);
    }
    if (m.from + count > t.nodes.length) return;
    t.size.set(m.size, m.from);
    for (let j = 0; j < count; j++) {
      if (m.cols.parent[j]! < 0) t.roots.push(m.from + j);
      if (m.cols.flags[j]! & F.ERROR) t.errorCount++;
    }
    for (const v of m.cols.svcs) this.services.add(v);
    t.services = [...this.services].sort();
    const b = block(t, m.cols, m.from);
    this.blocks.push(b);
    this.parts.push({ m, b, at: 0 });
    if (first) {
      this.make(FIRST_SLICE);
      if (count < t.nodes.length) {
        // For the perf script and the browser test: the first chunk's rows
        // were shown before the whole answer arrived.
        performance.mark('loupe:trace-preview', { detail: { nodes: count, of: t.nodes.length } });
      }
      // Shown in the next task: the tree's million-entry arrays and the
      // first page of the waterfall in one task took over 100 ms at 1M.
      this.starting = true;
    }
    this.pump();
  }

  /** The rows messages' blocks, in order, and the span IDs over them (an answer in tree order). */
  private readonly blocks: Block[] = [];
  private index: SpanIndex | null = null;
  /** The first rows are made and not yet shown (`onStart` runs in the pump's next task). */
  private starting = false;

  /**
   * Makes up to `max` nodes of the rows received, a batch at a time, and
   * stops after the batch that passes `until` (a `performance.now()` time):
   * a slice lasts about as long on a busy machine as on an idle one.
   */
  private make(max: number, until = Infinity): void {
    while (max > 0 && this.parts.length && performance.now() < until) {
      const p = this.parts[0]!;
      const len = p.m.cols.parent.length;
      const to = Math.min(len, p.at + max, p.at + BATCH);
      this.made = makeNodes(p.b, p.m.from + p.at, p.m.from + to);
      this.index?.add(p.b, p.m.from + p.at, p.m.from + to);
      max -= to - p.at;
      p.at = to;
      if (p.at >= len) this.parts.shift();
    }
  }

  /** One slice per task until every node is made and has its final flags. */
  private pump(): void {
    if (this.pumping || this.disposed || this.complete) return;
    const t = this.tree;
    if (!t) return;
    this.pumping = true;
    this.channel.port1.onmessage = () => {
      this.pumping = false;
      if (this.disposed) return;
      if (this.starting) {
        this.starting = false;
        this.h.onStart(t);
      } else if (this.parts.length) this.make(NEXT_SLICE, performance.now() + SLICE_MS);
      else if (this.finish && this.made >= t.nodes.length) {
        const f = this.finish;
        const to = Math.min(t.nodes.length, this.patched + PATCH_SLICE);
        for (let x = this.patched; x < to; x++) t.nodes[x]!.flags = f.flags[x]!;
        this.patched = to;
        if (to >= t.nodes.length) {
          t.errorCount = f.errorCount;
          t.services = f.services;
          t.issues = f.issues;
          t.duration = f.duration;
          this.complete = true;
          performance.mark('loupe:trace-parsed-worker', { startTime: Math.max(0, f.parsedAt - performance.timeOrigin) });
          performance.mark('loupe:trace-received', { detail: { bytes: f.answerBytes } });
          if (f.answeredAt) performance.mark('loupe:trace-answered', { startTime: Math.max(0, f.answeredAt - performance.timeOrigin) });
          this.h.onDone(t);
          return;
        }
      } else return;
      this.h.onProgress(this.made);
      this.pump();
    };
    this.channel.port2.postMessage(0);
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
    const b = block(t, m.cols, 0);
    const make = (from: number, to: number) => {
      this.made = makeNodes(b, from, to, dupOf);
    };
    const n = m.n;
    make(0, Math.min(n, FIRST_SLICE));
    this.h.onStart(t);
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
/** A leaf's children (most nodes are leaves): one shared, frozen empty list, replaced by the first child. */
const NO_CHILDREN = Object.freeze([]) as unknown as number[];

/**
 * One message's columns, shared by the light nodes made from them: node x's
 * entries are at x - `off`.
 */
export interface Block {
  c: Columns;
  off: number;
  t: SpanTree;
  /** One shared context-attribute list per distinct combination of context values (see `contextAttrs`). */
  attrLists: Map<number, KeyValue[]>;
  /** The mixed radix of the combinations, or 0 when it does not fit a double exactly. */
  radix: number;
}

/** A block over `c` for tree `t`, its first node `off` (exported for the tests). */
export function block(t: SpanTree, c: Columns, off: number): Block {
  let radix = 1;
  for (const v of c.ctxValues) radix *= v.length + 1;
  return { c, off, t, attrLists: new Map(), radix: radix < Number.MAX_SAFE_INTEGER ? radix : 0 };
}

/** The context attributes (the chips' keys) of entry y, shared among entries with the same values. */
function contextAttrs(b: Block, y: number): KeyValue[] {
  const c = b.c;
  if (!c.ctx.length) return NO_ATTRS;
  let sig = 0;
  if (b.radix) for (let k = 0; k < c.ctx.length; k++) sig = sig * (c.ctxValues[k]!.length + 1) + c.ctx[k]![y]! + 1;
  let list = b.radix ? b.attrLists.get(sig) : undefined;
  if (!list) {
    list = [];
    for (let k = 0; k < c.ctx.length; k++) {
      const v = c.ctx[k]![y]!;
      if (v >= 0) list.push(c.ctxValues[k]![v]!);
    }
    if (b.radix) b.attrLists.set(sig, list);
  }
  return list;
}

/**
 * Span ID → node index for an answer in tree order: an open-addressing
 * table of node indices (one Int32Array) over the blocks' joined span IDs.
 * A `Map` held a string and an entry a span: at a million spans, two
 * million objects more for the garbage collector to walk and move.
 */
export class SpanIndex implements SpanIds {
  /** Node index + 1 per slot; 0: empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  constructor(
    n: number,
    private readonly blocks: readonly { off: number; c: { spanIds: Joined } }[],
  ) {
    let size = 16;
    while (size < n * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  /** Enters nodes [from, to) of block `b` (their span IDs are `b`'s). */
  add(b: { off: number; c: { spanIds: Joined } }, from: number, to: number): void {
    const { text, off } = b.c.spanIds;
    for (let x = from; x < to; x++) {
      const y = x - b.off;
      const a = off[y]!;
      const e = off[y + 1]!;
      let i = mix(hash(text, a, e)) & this.mask;
      // A second copy of an ID keeps the first (there are none in tree order).
      for (;;) {
        const v = this.slots[i]!;
        if (v === 0) {
          this.slots[i] = x + 1;
          break;
        }
        if (this.equals(v - 1, text, a, e)) break;
        i = (i + 1) & this.mask;
      }
    }
  }

  get(spanId: string): number | undefined {
    let i = mix(hash(spanId)) & this.mask;
    for (;;) {
      const v = this.slots[i]!;
      if (v === 0) return undefined;
      if (this.equals(v - 1, spanId, 0, spanId.length)) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  /** Whether node x's span ID is `s[a..e)`. */
  private equals(x: number, s: string, a: number, e: number): boolean {
    const b = this.blockOf(x);
    const { text, off } = b.c.spanIds;
    const y = x - b.off;
    const from = off[y]!;
    if (off[y + 1]! - from !== e - a) return false;
    for (let k = 0; k < e - a; k++) if (text.charCodeAt(from + k) !== s.charCodeAt(a + k)) return false;
    return true;
  }

  /** The block holding node x (blocks are in order, by their first node). */
  private blockOf(x: number): { off: number; c: { spanIds: Joined } } {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid]!.off <= x) lo = mid;
      else hi = mid - 1;
    }
    return this.blocks[lo]!;
  }
}

/**
 * A light node: an index into its block's columns. Everything is read from
 * the columns (the waterfall reads the rows in view, the details panel one
 * span) and its numbers are written back to them; only its children list is
 * its own. With a million nodes, making nodes is most of the page's work
 * while a trace loads and each object a node is garbage-collector time (a
 * number field that is not a small integer is an object of its own), so a
 * node is one small object: no strings, no numbers of its own.
 */
class LightNode implements SpanNode {
  /** Its children: kept by a node of the worker's whole tree, worked out from the subtree sizes in tree order. */
  private kids: number[] | undefined;
  private k: string | undefined;
  private s: OtlpSpan | undefined;
  constructor(
    readonly index: number,
    private readonly b: Block,
    dupKey: string | undefined,
  ) {
    this.k = dupKey;
  }
  private get y(): number {
    return this.index - this.b.off;
  }
  /**
   * In tree order a node's children follow it, each after the subtree of
   * the one before: walked from the sizes (the made nodes only) and kept
   * once its whole subtree is made. Nearly half of a trace's spans have
   * children, and a list each was as many objects again as the nodes.
   */
  get children(): number[] {
    if (this.kids) return this.kids;
    const t = this.b.t;
    const x = this.index;
    const end = x + t.size[x]!;
    const out: number[] = [];
    let j = x + 1;
    while (j < end && t.nodes[j]) {
      out.push(j);
      j += Math.max(1, t.size[j]!);
    }
    const kids = out.length ? out : NO_CHILDREN;
    if (j >= end) this.kids = kids;
    return kids;
  }
  set children(v: number[]) {
    this.kids = v;
  }
  get start(): number {
    return this.b.c.start[this.y]!;
  }
  set start(v: number) {
    this.b.c.start[this.y] = v;
  }
  get end(): number {
    return this.b.c.end[this.y]!;
  }
  set end(v: number) {
    this.b.c.end[this.y] = v;
  }
  get parent(): number {
    return this.b.c.parent[this.y]!;
  }
  set parent(v: number) {
    this.b.c.parent[this.y] = v;
  }
  get depth(): number {
    return this.b.c.depth[this.y]!;
  }
  set depth(v: number) {
    this.b.c.depth[this.y] = v;
  }
  get flags(): number {
    return this.b.c.flags[this.y]!;
  }
  set flags(v: number) {
    this.b.c.flags[this.y] = v;
  }
  get kind(): number {
    return this.b.c.kind[this.y]!;
  }
  get traceIdx(): number {
    return this.b.c.traceIdx[this.y]!;
  }
  get traceId(): string {
    return this.b.t.traceIds[this.traceIdx]!;
  }
  get spanId(): string {
    return slice(this.b.c.spanIds, this.y);
  }
  /** Its parent's span ID: the column's when the answer has one (orphans name a parent not in the tree), else the parent node's. */
  get parentSpanId(): string {
    const ids = this.b.c.parentIds;
    if (ids) return slice(ids, this.y);
    const p = this.parent;
    return p >= 0 ? (this.b.t.nodes[p]?.spanId ?? '') : '';
  }
  get name(): string {
    return this.b.c.names[this.b.c.name[this.y]!]!;
  }
  get service(): string {
    return this.b.c.svcs[this.b.c.svc[this.y]!]!;
  }
  get startNs(): string {
    return slice(this.b.c.startNs, this.y);
  }
  get endNs(): string {
    return slice(this.b.c.endNs, this.y);
  }
  get resource(): OtlpResource {
    return this.b.c.resources[this.b.c.res[this.y]!]!;
  }
  get scope(): OtlpScope {
    return this.b.c.scopes[this.b.c.scp[this.y]!]!;
  }
  get key(): string {
    this.k ??= `${this.traceId}:${this.spanId}`;
    return this.k;
  }
  set key(k: string) {
    this.k = k;
  }
  get span(): OtlpSpan {
    if (!this.s) {
      const st = this.b.c.status[this.y]!;
      this.s = {
        traceId: this.traceId,
        spanId: this.spanId,
        parentSpanId: this.parentSpanId,
        name: this.name,
        kind: this.kind,
        startTimeUnixNano: this.startNs,
        endTimeUnixNano: this.endNs,
        attributes: contextAttrs(this.b, this.y),
        status: st >= 0 ? this.b.c.statuses[st]! : undefined,
      };
    }
    return this.s;
  }
  set span(s: OtlpSpan) {
    this.s = s;
  }
}

/**
 * Makes the light nodes of pre-order positions [from, to) from block `b`;
 * returns `to`. With `dupOf` (the worker's whole tree: keys of the second
 * and later copies of duplicated span IDs) each goes into `t.ids`, a `Map`;
 * an answer in tree order has its `SpanIndex` instead.
 */
export function makeNodes(b: Block, from: number, to: number, dupOf?: Map<number, string>): number {
  const t = b.t;
  const c = b.c;
  const nodes = t.nodes;
  for (let j = from; j < to; j++) {
    const x = t.order[j]!;
    const y = x - b.off;
    const parent = c.parent[y]!;
    const dup = dupOf?.get(x);
    const node = new LightNode(x, b, dup);
    nodes[x] = node;
    // The worker's whole tree (not in tree order): each parent keeps its
    // list, made before its children, which come in their order.
    if (dupOf) {
      node.children = NO_CHILDREN;
      if (parent >= 0) {
        const p = nodes[parent]!;
        if (p.children === NO_CHILDREN) p.children = [x];
        else p.children.push(x);
      }
    }
    if (dupOf && dup === undefined) (t.ids.get(node.traceId) as Map<string, number>).set(node.spanId, x);
  }
  return to;
}
