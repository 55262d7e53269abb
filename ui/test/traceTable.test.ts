import { describe, expect, it } from 'vitest';
import { attrValue, type KeyValue } from '../src/format';
import type { OtlpResource, OtlpSpan, TraceColumnsChunk, TraceColumnsHead } from '../src/generated/api';
import { ColumnsDecoder } from '../src/traceColumns';
import { block, makeNodes, SpanIndex, type Block } from '../src/traceStream';
import { MalformedAnswer } from '../src/traceTable';
import { attributeKeys, buildTree, findIndex, groupValues, lens, type SpanInput, type SpanTree } from '../src/tree';

// A trace without orphans, duplicates or cycles, answered in tree order as
// GET /traces/{id}/columns does (crates/server/src/trace_columns.rs): the
// worker's columns (traceTable.ts) must give the page the same tree as
// buildTree over the same spans, and the same find, group-by and keys.

const TRACE = '5b8efff798038103d269b633813fc60c';
const BASE = 1795292629_000000000n;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const resources: OtlpResource[] = ['kestra', 'worker', 'postgres'].map((s, i) => ({
  attributes: [
    { key: 'service.name', value: { stringValue: s } },
    { key: 'host', value: { stringValue: `h${i}` } },
  ],
}));
const scopes = [{ name: 'a', version: '1' }, { name: 'b' }];

/** n spans in a bushy tree, stored in a shuffled order: errors, an event, a span without a start (its end, near the epoch, counts as before its start), one that ends before it starts, shared attributes. */
function spans(n: number, seed: number): SpanInput[] {
  const r = rng(seed);
  const id = (i: number) => (0xabc000 + i).toString(16).padStart(16, '0');
  const out: SpanInput[] = [];
  for (let i = 0; i < n; i++) {
    const parent = i === 0 ? -1 : Math.floor(r() * i);
    const start = i === 7 ? 0n : BASE + BigInt(Math.floor(r() * 1000)) * 1000n;
    const end = i === 9 ? start - 5n : start + BigInt(1 + Math.floor(r() * 5000));
    const attributes: KeyValue[] = [{ key: 'kestra.executionId', value: { stringValue: `exec-${Math.floor(i / 10)}` } }];
    if (i % 3 === 0) attributes.push({ key: 'span.index', value: { intValue: String(i) } });
    if (i % 5 === 0) attributes.push({ key: 'host', value: { stringValue: `own-${i % 2}` } });
    const span: OtlpSpan = {
      traceId: TRACE,
      spanId: id(i),
      parentSpanId: parent >= 0 ? id(parent) : undefined,
      name: ['GET /items', 'SELECT orders', 'cache.get'][i % 3]!,
      kind: i % 4 || undefined,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(end),
      attributes,
      status: i % 11 === 4 ? { message: 'synthetic failure', code: 2 } : undefined,
      events: i === 12 ? [{ timeUnixNano: String(start), name: 'checkpoint reached' }] : undefined,
    };
    const res = i % 3;
    out.push({ span, resource: resources[res]!, scope: scopes[i % 2]!, service: attrValue(resources[res]!.attributes, 'service.name')! });
  }
  // Stored order is not tree order.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The answer's lines in `t`'s pre-order, chunks of `chunkSize`, with interning, as the server writes them. */
function answer(inputs: SpanInput[], t: SpanTree, chunkSize: number): string[] {
  const n = inputs.length;
  const pos = new Int32Array(n);
  t.order.forEach((x, j) => {
    pos[x] = j;
  });
  let first = '';
  let last = 0n;
  for (const { span } of inputs) {
    const s = BigInt(span.startTimeUnixNano!);
    const e = BigInt(span.endTimeUnixNano!);
    if (s !== 0n && (first === '' || s < BigInt(first))) first = String(s);
    if (s > last) last = s;
    if (e > last) last = e;
  }
  const head: TraceColumnsHead = { traceId: TRACE, spanCount: n, chunkSize, preorder: true, firstStart: first, lastEnd: String(last), resources, scopes };
  const lines = [JSON.stringify(head)];
  const strings = new Map<string, number>([['', 0]]);
  const attrs = new Map<string, number>();
  for (let from = 0; from < n; from += chunkSize) {
    const c: TraceColumnsChunk = {
      strings: [],
      attributes: [],
      spanId: [],
      parentSpanId: [],
      name: [],
      kind: [],
      flags: [],
      loupeFlags: [],
      start: [],
      end: [],
      resource: [],
      scope: [],
      statusCode: [],
      statusMessage: [],
      attributeCount: [],
      attributeIds: [],
      parent: [],
      depth: [],
      size: [],
      extras: [],
    };
    const str = (s: string) => {
      let i = strings.get(s);
      if (i === undefined) {
        i = strings.size;
        strings.set(s, i);
        c.strings.push(s);
      }
      return i;
    };
    for (let j = from; j < Math.min(n, from + chunkSize); j++) {
      const x = t.order[j]!;
      const { span, resource, scope } = inputs[x]!;
      const node = t.nodes[x]!;
      c.spanId.push(span.spanId!);
      c.parentSpanId.push(span.parentSpanId ?? '');
      c.name.push(str(span.name ?? ''));
      c.kind.push(span.kind ?? 0);
      c.flags.push(0);
      c.loupeFlags.push(0);
      c.start.push(span.startTimeUnixNano!);
      c.end.push(span.endTimeUnixNano!);
      c.resource.push(resources.indexOf(resource));
      c.scope.push(scopes.indexOf(scope as (typeof scopes)[number]));
      c.statusCode.push(span.status ? (span.status.code ?? 0) : -1);
      c.statusMessage.push(str(span.status?.message ?? ''));
      c.attributeCount.push(span.attributes?.length ?? 0);
      for (const kv of span.attributes ?? []) {
        const k = JSON.stringify(kv);
        let i = attrs.get(k);
        if (i === undefined) {
          i = attrs.size;
          attrs.set(k, i);
          c.attributes.push(kv);
        }
        c.attributeIds.push(i);
      }
      c.parent.push(node.parent >= 0 ? pos[node.parent]! : -1);
      c.depth.push(node.depth);
      c.size.push(t.size[x]!);
      if (span.events) c.extras.push({ index: j - from, span });
    }
    lines.push(JSON.stringify(c));
  }
  return lines;
}

function decode(lines: string[]): ColumnsDecoder {
  const d = new ColumnsDecoder(true);
  for (const l of lines) d.line(l);
  return d;
}

describe('TraceTable (an answer in tree order)', () => {
  const inputs = spans(700, 1);
  const t = buildTree(inputs, { mainTraceId: TRACE });
  const lines = answer(inputs, t, 64);

  it('the sample is a plain trace in buildTree’s order', () => {
    expect(t.issues).toEqual({ orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: 2, noStart: 1 });
    // The old decoder and buildTree over the answer keep its order: the answer is the pre-order.
    const old = new ColumnsDecoder(false);
    for (const l of lines) old.line(l);
    expect(old.table).toBeNull();
    expect(Array.from(buildTree(old.inputs, { mainTraceId: TRACE }).order)).toEqual(Array.from({ length: 700 }, (_, i) => i));
  });

  it('gives the tree buildTree gives: parents, depths, sizes, times, flags, summary', () => {
    const d = decode(lines);
    const tb = d.table!;
    expect(d.inputs.length).toBe(0);
    expect(d.complete).toBe(true);
    const s = tb.finish();
    expect(tb.base).toBe(t.base);
    expect(s.duration).toBe(t.duration);
    expect(s.errorCount).toBe(t.errorCount);
    expect(s.services).toEqual(t.services);
    expect(s.issues).toEqual(t.issues);
    for (let j = 0; j < 700; j++) {
      const node = t.nodes[t.order[j]!]!;
      const want = { parent: node.parent >= 0 ? Array.from(t.order).indexOf(node.parent) : -1, depth: node.depth, size: t.size[node.index], flags: node.flags, start: node.start, end: node.end };
      expect({ parent: tb.parent[j], depth: tb.depth[j], size: tb.size[j], flags: s.flags[j], start: tb.start[j], end: tb.end[j] }).toEqual(want);
      expect(tb.span(j)).toEqual(JSON.parse(JSON.stringify(old(node.span))));
    }
    // Errors below are in the tree: some span has them.
    expect(s.flags.some((f) => (f & 2) !== 0)).toBe(true);
  });

  it('gives the page light nodes with buildTree’s children, IDs and names, while they are made and after', () => {
    const tb = decode(lines).table!;
    tb.finish();
    const n = 700;
    // As TraceStream.rows makes the page's tree from the rows messages.
    const blocks: Block[] = [];
    const index = new SpanIndex(n, blocks);
    const page: SpanTree = {
      nodes: new Array(n),
      roots: [],
      order: Int32Array.from({ length: n }, (_, i) => i),
      size: new Int32Array(n).fill(1),
      base: tb.base,
      duration: 0,
      traceIds: [TRACE],
      ids: new Map([[TRACE, index]]),
      dupKeys: new Map(),
      inferredBy: new Map(),
      issues: { orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: 0, noStart: 0 },
      errorCount: 0,
      services: [],
    };
    for (let from = 0; from < n; from += 64) {
      const to = Math.min(n, from + 64);
      const { cols } = tb.rows(from, to, ['kestra.executionId'], from === 0);
      page.size.set(tb.size.subarray(from, to), from);
      blocks.push(block(page, cols, from));
    }
    const make = (from: number, to: number) => {
      for (const b of blocks) {
        const a = Math.max(from, b.off);
        const e = Math.min(to, b.off + b.c.parent.length);
        if (a < e) {
          makeNodes(b, a, e);
          index.add(b, a, e);
        }
      }
    };
    const want = (j: number) => t.nodes[t.order[j]!]!;
    const ids = (xs: number[], tree: SpanTree) => xs.map((x) => tree.nodes[x]!.spanId);
    // Half made: a node's children are those made so far, and are worked out again once more are.
    make(0, 350);
    const root = page.nodes[0]!;
    const partial = ids(root.children, page);
    expect(partial.length).toBeGreaterThan(0);
    expect(ids(want(0).children, t).slice(0, partial.length)).toEqual(partial);
    expect(findIndex(page, TRACE, want(349).spanId)).toBe(349);
    expect(findIndex(page, TRACE, want(350).spanId)).toBeUndefined();
    make(350, n);
    expect(ids(root.children, page)).toEqual(ids(want(0).children, t));
    for (let j = 0; j < n; j++) {
      const node = page.nodes[j]!;
      const w = want(j);
      expect({ spanId: node.spanId, parentSpanId: node.parentSpanId, name: node.name, service: node.service, start: node.start, end: node.end, depth: node.depth, startNs: node.startNs }).toEqual({
        spanId: w.spanId,
        parentSpanId: w.parentSpanId,
        name: w.name,
        service: w.service,
        start: w.start,
        end: w.end,
        depth: w.depth,
        startNs: w.startNs,
      });
      expect(ids(node.children, page)).toEqual(ids(w.children, t));
      expect(findIndex(page, TRACE, w.spanId)).toBe(j);
      // A number written to a node is its column's.
      node.flags |= 1 << 20;
      expect(blocks[Math.floor(j / 64)]!.c.flags[j % 64]! & (1 << 20)).not.toBe(0);
    }
  });

  it('gives the page the same rows as the whole tree’s columns', () => {
    const tb = decode(lines).table!;
    tb.finish();
    const { cols } = tb.rows(64, 128, ['kestra.executionId', 'host'], false);
    for (let k = 0; k < 64; k++) {
      const node = t.nodes[t.order[64 + k]!]!;
      expect(cols.spanIds.text.slice(cols.spanIds.off[k], cols.spanIds.off[k + 1])).toBe(node.spanId);
      // No parent IDs: the parent node's (every parent is in the tree).
      expect(cols.parentIds).toBeUndefined();
      const p = cols.parent[k]!;
      expect(p < 0 ? '' : tb.spanId(p)).toBe(node.parentSpanId);
      expect(cols.startNs.text.slice(cols.startNs.off[k], cols.startNs.off[k + 1])).toBe(node.startNs);
      expect(cols.names[cols.name[k]!]).toBe(node.name);
      expect(cols.svcs[cols.svc[k]!]).toBe(node.service);
      expect(cols.kind[k]).toBe(node.kind);
      const st = cols.status[k]!;
      expect(st >= 0 ? cols.statuses[st] : undefined).toEqual(node.span.status);
      const host = cols.ctx[1]![k]!;
      // The span's own value, else its resource's.
      expect(host >= 0 ? cols.ctxValues[1]![host]!.value?.stringValue : undefined).toBe(attrValue(node.span.attributes, 'host') ?? attrValue(node.resource.attributes, 'host'));
    }
  });

  it('finds, groups and lists keys as tree.ts does', () => {
    const tb = decode(lines).table!;
    tb.finish();
    const perm = (a: ArrayLike<number>) => Array.from(t.order, (x) => a[x]!);
    for (const q of ['synthetic failure', 'SELECT', 'checkpoint', 'host=own-1', 'abc01', 'worker exec-3', '', 'nothing like it']) {
      const want = lens(t, q);
      const got = tb.lens(q);
      expect(got.count).toBe(want.count);
      expect(Array.from(got.matches)).toEqual(perm(want.matches));
      expect(Array.from(got.collapsed)).toEqual(perm(want.collapsed));
    }
    for (const key of ['kestra.executionId', 'span.index', 'host', 'service.name', 'absent', '']) {
      const want = groupValues(t, key);
      const g = tb.groupIds(key);
      expect(Array.from(g.ids, (i) => g.values[i])).toEqual(Array.from(t.order, (x) => want[x]));
    }
    expect(tb.attributeKeys(200)).toEqual(attributeKeys(t, 200));
  });

  it('refuses a parent that comes after its child (MalformedAnswer)', () => {
    const bad = JSON.parse(lines[1]!) as TraceColumnsChunk;
    bad.parent[3] = 10;
    const d = new ColumnsDecoder(true);
    d.line(lines[0]!);
    expect(() => d.line(JSON.stringify(bad))).toThrow(MalformedAnswer);
  });
});

/** The span as the decoder gives it: defaults left out, as the answer writes them. */
function old(s: OtlpSpan): OtlpSpan {
  if (s.events) return s;
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId || undefined,
    flags: undefined,
    loupeFlags: undefined,
    name: s.name,
    kind: s.kind || undefined,
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: s.attributes,
    status: s.status,
  };
}
