// The trace page's worker: fetches a trace's columns (traceColumns.ts) and
// hands the page the tree as columns (typed arrays and string tables, cheap
// to transfer) from which the page makes light nodes a slice at a time, top
// of the tree first. The worker keeps the whole spans and answers what needs
// them: find-in-trace (`lens`), one span's full data (details), group-by
// values, attribute keys.
//
// An answer in tree order (the server's `preorder`: every trace without
// orphans, duplicates or cycles) is kept as columns (traceTable.ts) and each
// chunk's rows go to the page as soon as it is decoded. Any other answer
// (orphans waiting for their parent, duplicate span IDs, cycles: rare, and
// only as big as the store holds) is decoded into span objects and built
// by `buildTree` once whole, which also places the orphans under their
// placeholders. Protocol: traceStream.ts.

import { ApiError } from './api';
import { nsDiff, type KeyValue } from './format';
import { ColumnsDecoder, fetchColumns } from './traceColumns';
import type { Columns, FromWorker, ToWorker } from './traceStream';
import { columnsTransfer, contextValueId, joined, Table, type TraceTable } from './traceTable';
import { attributeKeys, buildTree, groupValues, lens, spanSearchText, type OtlpResource, type OtlpScope, type OtlpStatus, type SpanTree } from './tree';

/** The worker's global scope (the page's tsconfig has no WebWorker lib). */
const scope = self as unknown as { postMessage(m: unknown, transfer: Transferable[]): void; onmessage: ((ev: MessageEvent<ToWorker>) => void) | null };

let tree: SpanTree | null = null;
/** The answer in tree order, as columns (then `tree` stays null); chunk by chunk while it arrives. */
let table: TraceTable | null = null;
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
      let own: KeyValue | undefined;
      if (attrs) for (const a of attrs) if (a.key === key) own = a;
      ctx[k]![i] = contextValueId(ctxValues[k]!, own, node.resource.attributes, key);
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
  return { cols, transfer: columnsTransfer(cols) };
}

/** Whether missing parents are gone, once the page says ('parents'). */
let gone: Promise<boolean> = new Promise(() => {});
let sayGone: (g: boolean) => void = () => {};

async function load(traceId: string, contextKeys: string[]): Promise<void> {
  ctl?.abort();
  const c = new AbortController();
  ctl = c;
  table = null;
  let t: SpanTree;
  try {
    const dec = new ColumnsDecoder(true);
    dec.onChunk = (from, to) => {
      const tb = dec.table;
      if (!tb || c.signal.aborted) return;
      // Each chunk's rows at once: the server has placed them (parents, depths, sizes).
      table = tb;
      const h = tb.head;
      const duration = h.lastEnd === '0' ? 0 : Math.max(0, nsDiff(h.lastEnd, tb.base));
      const { cols, transfer } = tb.rows(from, to, contextKeys, from === 0);
      const size = tb.size.slice(from, to);
      post({ t: 'rows', from, n: tb.n, size, base: tb.base, duration, traceId, cols }, [size.buffer, ...transfer]);
    };
    const answer = await fetchColumns(traceId, c.signal, dec);
    if (c.signal.aborted) return;
    // Chunks are decoded as they arrive: parsed soon after the last byte.
    fetchedAt = performance.timeOrigin + performance.now();
    answeredAt = answer.endedAt;
    answerBytes = answer.bytes;
    if (dec.table) {
      const s = dec.table.finish();
      post({ t: 'done', ...s, parsedAt: fetchedAt, answeredAt, answerBytes }, [s.flags.buffer]);
      // Idle: find's texts, so the first find is quick too.
      dec.table.warm();
      return;
    }
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
  const tb = table?.complete ? table : null;
  switch (m.t) {
    case 'lens': {
      if (!t && !tb) return post({ t: 'lens', seq: m.seq, count: -1, matches: new Uint8Array(0), collapsed: new Uint8Array(0) });
      const r = tb ? tb.lens(m.query) : lens(t!, m.query, texts);
      post({ t: 'lens', seq: m.seq, count: r.count, matches: r.matches, collapsed: r.collapsed }, [r.matches.buffer, r.collapsed.buffer]);
      return;
    }
    case 'span':
      post({ t: 'span', seq: m.seq, span: (table ? table.span(m.index) : t?.nodes[m.index]?.span) ?? null });
      return;
    case 'group': {
      if (tb) {
        const g = tb.groupIds(m.key);
        return post({ t: 'group', seq: m.seq, ids: g.ids, values: g.values }, [g.ids.buffer]);
      }
      if (!t) return post({ t: 'group', seq: m.seq, ids: new Int32Array(0), values: [] });
      const values = groupValues(t, m.key);
      const strings = new Table<string>();
      const ids = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++) ids[i] = strings.id(values[i]!);
      post({ t: 'group', seq: m.seq, ids, values: strings.items }, [ids.buffer]);
      return;
    }
    case 'keys':
      post({ t: 'keys', seq: m.seq, keys: tb ? tb.attributeKeys(m.max) : t ? attributeKeys(t, m.max) : [] });
      return;
  }
};
