// The trace page's worker: fetches a trace's columns (traceColumns.ts) and
// builds the span tree off the main thread, then hands the page the tree as columns
// (typed arrays and string tables, cheap to transfer) from which the page
// makes light nodes a slice at a time, top of the tree first. The worker
// keeps the whole spans and answers what needs them: find-in-trace (`lens`),
// one span's full data (details), group-by values, attribute keys.
// Protocol: traceStream.ts.

import { ApiError } from './api';
import { anyValueToString, attrValue, nsDiff, nsParts, type KeyValue } from './format';
import type { TraceColumnsChunk } from './generated/api';
import { ColumnsDecoder, fetchColumns } from './traceColumns';
import { attributeKeys, buildTree, F, groupValues, lens, spanSearchText, type OtlpResource, type OtlpScope, type OtlpStatus, type SpanInput, type SpanTree } from './tree';
import type { Columns, FromWorker, ToWorker } from './traceStream';

/** The worker's global scope (the page's tsconfig has no WebWorker lib). */
const scope = self as unknown as { postMessage(m: unknown, transfer: Transferable[]): void; onmessage: ((ev: MessageEvent<ToWorker>) => void) | null };

let tree: SpanTree | null = null;
/** The spans so far, while the tree is not built: in tree order when the answer is (`preorder`), so index for index the tree's nodes. */
let early: SpanInput[] | null = null;
let texts: (string | undefined)[] = [];
let ctl: AbortController | null = null;
/** When the answer was read and parsed (ms since the epoch, as `performance.timeOrigin + now()`). */
let fetchedAt = 0;
/** When the answer's last byte arrived (epoch ms), and its size. */
let answeredAt = 0;
let answerBytes = 0;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

/** Strings joined, with offsets: one string to copy instead of n. */
function joined(n: number, get: (i: number) => string): { text: string; off: Int32Array } {
  const off = new Int32Array(n + 1);
  const parts = new Array<string>(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const s = get(i);
    parts[i] = s;
    k += s.length;
    off[i + 1] = k;
  }
  return { text: parts.join(''), off };
}

/** Distinct values to small integers. */
class Table<T> {
  readonly items: T[] = [];
  private readonly index = new Map<string | T, number>();
  id(v: T, key: string | T = v): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.items.length;
      this.items.push(v);
      this.index.set(key, i);
    }
    return i;
  }
}

function columns(t: SpanTree, contextKeys: string[]): { cols: Columns; transfer: Transferable[] } {
  const n = t.nodes.length;
  const parent = new Int32Array(n);
  const depth = new Int32Array(n);
  const flags = new Int32Array(n);
  const kind = new Int32Array(n);
  const traceIdx = new Int32Array(n);
  const svc = new Int32Array(n);
  const name = new Int32Array(n);
  const res = new Int32Array(n);
  const scp = new Int32Array(n);
  const status = new Int32Array(n);
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const ctx = contextKeys.map(() => new Int32Array(n));
  const names = new Table<string>();
  const svcs = new Table<string>();
  const resources = new Table<OtlpResource>();
  const scopes = new Table<OtlpScope>();
  const statuses = new Table<OtlpStatus>();
  const ctxValues = contextKeys.map(() => new Table<KeyValue>());
  for (let i = 0; i < n; i++) {
    const node = t.nodes[i]!;
    parent[i] = node.parent;
    depth[i] = node.depth;
    flags[i] = node.flags;
    kind[i] = node.kind;
    traceIdx[i] = node.traceIdx;
    svc[i] = svcs.id(node.service);
    name[i] = names.id(node.name);
    res[i] = resources.id(node.resource);
    scp[i] = scopes.id(node.scope);
    const st = node.span.status;
    status[i] = st && (st.code || st.message) ? statuses.id(st, `${st.code ?? ''}\u0000${st.message ?? ''}`) : -1;
    start[i] = node.start;
    end[i] = node.end;
    const attrs = node.span.attributes;
    for (let k = 0; k < contextKeys.length; k++) {
      const key = contextKeys[k]!;
      let kv: KeyValue | undefined;
      if (attrs) for (const a of attrs) if (a.key === key) kv = a;
      if (!kv) {
        const rv = attrValue(node.resource.attributes, key);
        if (rv !== undefined) kv = { key, value: { stringValue: rv } };
      }
      ctx[k]![i] = kv ? ctxValues[k]!.id(kv, anyValueToString(kv.value)) : -1;
    }
  }
  const spanIds = joined(n, (i) => t.nodes[i]!.spanId);
  const parentIds = joined(n, (i) => t.nodes[i]!.parentSpanId);
  const startNs = joined(n, (i) => t.nodes[i]!.startNs);
  const endNs = joined(n, (i) => t.nodes[i]!.endNs);
  const cols: Columns = {
    parent,
    depth,
    flags,
    kind,
    traceIdx,
    svc,
    name,
    res,
    scp,
    status,
    start,
    end,
    ctx,
    names: names.items,
    svcs: svcs.items,
    resources: resources.items,
    scopes: scopes.items,
    statuses: statuses.items,
    contextKeys,
    ctxValues: ctxValues.map((x) => x.items),
    spanIds,
    parentIds,
    startNs,
    endNs,
  };
  const transfer: Transferable[] = [parent, depth, flags, kind, traceIdx, svc, name, res, scp, status, start, end, ...ctx, spanIds.off, parentIds.off, startNs.off, endNs.off].map((a) => a.buffer);
  return { cols, transfer };
}

/** Whether missing parents are gone, once the page says ('parents'). */
let gone: Promise<boolean> = new Promise(() => {});
let sayGone: (g: boolean) => void = () => {};

/**
 * The first chunk of an answer in tree order (the head's `preorder`: one
 * trace, every parent present, no duplicate or cycle, so `buildTree` will
 * keep that order and those indices): its rows for the page at once, with
 * the server's parents, depths and subtree sizes and its time axis, while
 * the rest arrives. Error hints below a row come with the whole tree.
 */
function preview(dec: ColumnsDecoder, to: number, chunk: TraceColumnsChunk, traceId: string, contextKeys: string[]): void {
  const h = dec.head!;
  // A prefix of the pre-order holds every parent of its spans: the chunk alone makes the same tree's top.
  const t = buildTree(dec.inputs.slice(0, to), { mainTraceId: traceId });
  if (t.nodes.length !== to || t.issues.orphans || t.issues.duplicates || t.issues.cycles) return;
  const base = h.firstStart;
  const bp = nsParts(base);
  let errorCount = 0;
  const services = new Set<string>();
  for (let i = 0; i < to; i++) {
    const node = t.nodes[i]!;
    if (t.order[i] !== i || node.parent !== chunk.parent[i] || node.depth !== chunk.depth[i]) return;
    // Times against the whole trace's base, as buildTree computes them.
    const sp = nsParts(node.startNs);
    const start = node.flags & F.NO_START ? 0 : (sp.sec - bp.sec) * 1e9 + (sp.nano - bp.nano);
    const ep = nsParts(node.endNs);
    const end = ep.sec === 0 && ep.nano === 0 ? -Infinity : (ep.sec - bp.sec) * 1e9 + (ep.nano - bp.nano);
    node.start = start;
    node.end = Math.max(start, end);
    if (node.flags & F.ERROR) errorCount++;
    services.add(node.service);
  }
  const size = Int32Array.from(chunk.size);
  const duration = h.lastEnd === '0' ? 0 : Math.max(0, nsDiff(h.lastEnd, base));
  const { cols, transfer } = columns(t, contextKeys);
  early = dec.inputs;
  post(
    {
      t: 'preview',
      n: h.spanCount,
      size,
      base,
      duration,
      traceId,
      errorCount,
      services: [...services].sort(),
      cols,
    },
    [size.buffer, ...transfer],
  );
}

async function load(traceId: string, contextKeys: string[]): Promise<void> {
  ctl?.abort();
  const c = new AbortController();
  ctl = c;
  early = null;
  let t: SpanTree;
  try {
    const dec = new ColumnsDecoder();
    dec.onChunk = (from, to, chunk) => {
      dec.onChunk = null;
      if (!(from === 0 && dec.head?.preorder && to < dec.head.spanCount && chunk.size.length === to)) return;
      try {
        preview(dec, to, chunk, traceId, contextKeys);
      } catch {
        // Only a head start: the whole tree comes as before.
        early = null;
      }
    };
    const answer = await fetchColumns(traceId, c.signal, dec);
    if (c.signal.aborted) return;
    // Chunks are decoded as they arrive: parsed soon after the last byte.
    fetchedAt = performance.timeOrigin + performance.now();
    answeredAt = answer.endedAt;
    answerBytes = answer.bytes;
    const parentsGone = await gone;
    if (c.signal.aborted) return;
    // Spans whose parent has not arrived hang under a placeholder (docs/api.md "Incomplete traces").
    t = buildTree(answer.inputs, { mainTraceId: traceId, placeholders: true, parentsGone });
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    post({ t: 'error', message: (e as Error).message, status: e instanceof ApiError ? e.status : 0 });
    return;
  }
  tree = t;
  early = null;
  texts = [];
  const { cols, transfer } = columns(t, contextKeys);
  const order = t.order.slice();
  const size = t.size.slice();
  post(
    {
      t: 'head',
      n: t.nodes.length,
      order,
      size,
      roots: t.roots,
      base: t.base,
      duration: t.duration,
      traceIds: t.traceIds,
      dupKeys: [...t.dupKeys],
      issues: t.issues,
      errorCount: t.errorCount,
      services: t.services,
      cols,
      parsedAt: fetchedAt,
      answeredAt,
      answerBytes,
    },
    [order.buffer, size.buffer, ...transfer],
  );
  // Idle: the search text of every span, so the first find is quick too.
  for (let i = 0; i < t.nodes.length; i++) texts[i] = spanSearchText(t.nodes[i]!);
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === 'load') {
    gone = new Promise((ok) => {
      sayGone = ok;
    });
    void load(m.traceId, m.contextKeys);
    return;
  }
  if (m.t === 'parents') {
    sayGone(m.gone);
    return;
  }
  const t = tree;
  switch (m.t) {
    case 'lens': {
      if (!t) return post({ t: 'lens', seq: m.seq, count: -1, matches: new Uint8Array(0), collapsed: new Uint8Array(0) });
      const r = lens(t, m.query, texts);
      post({ t: 'lens', seq: m.seq, count: r.count, matches: r.matches, collapsed: r.collapsed }, [r.matches.buffer, r.collapsed.buffer]);
      return;
    }
    case 'span':
      post({ t: 'span', seq: m.seq, span: (t ? t.nodes[m.index]?.span : early?.[m.index]?.span) ?? null });
      return;
    case 'group': {
      if (!t) return post({ t: 'group', seq: m.seq, ids: new Int32Array(0), values: [] });
      const values = groupValues(t, m.key);
      const table = new Table<string>();
      const ids = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++) ids[i] = table.id(values[i]!);
      post({ t: 'group', seq: m.seq, ids, values: table.items }, [ids.buffer]);
      return;
    }
    case 'keys':
      post({ t: 'keys', seq: m.seq, keys: t ? attributeKeys(t, m.max) : [] });
      return;
  }
};
