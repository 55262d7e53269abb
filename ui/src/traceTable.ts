// The worker's copy of a trace whose columns answer comes in tree order
// (the head's `preorder`: one trace, unique span IDs, every parent present,
// no cycle; docs/api.md). The server has already placed every span: answer
// index = pre-order position = node index, with its parent, depth and
// subtree size. So instead of a span object per span and `buildTree` over
// a million of them (seconds of garbage collection at 1M spans), the
// worker keeps the parsed chunks as they are plus a few typed arrays
// (times, flags, parents, sizes), hands the page each chunk's rows as soon
// as it is decoded, and answers find, group-by, attribute keys and one
// span's details from the columns. Traces that are not in tree order keep
// the span objects and `buildTree` (traceWorker.ts).

import { anyValueToString, attrValue, nsParts, type KeyValue } from './format';
import type { OtlpSpan, OtlpStatus, TraceColumnsChunk, TraceColumnsHead } from './generated/api';
import type { Columns } from './traceStream';
import { F, type LensResult, type OtlpResource, type OtlpScope, type TreeIssues } from './tree';

/** The answer does not hold together (a column's length, a parent after its child, more spans than announced). */
export class MalformedAnswer extends Error {}

const HEX = /^[0-9a-f]+$/;

/** Distinct values to small integers. */
export class Table<T> {
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

/** Strings joined, with offsets: one string to copy instead of n. */
export function joined(n: number, get: (i: number) => string): { text: string; off: Int32Array } {
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

/** What the whole tree says once every chunk is in (as `buildTree` would). */
export interface TableSummary {
  flags: Int32Array;
  errorCount: number;
  services: string[];
  issues: TreeIssues;
  duration: number;
}

/**
 * A context key's value ID for one span: its own attribute `own` (the last
 * one with the key), else its resource's, interned in `values`; -1 with
 * neither. The worker's two paths (columns, span objects) share it so a
 * chip or lane reads the same whichever way the trace came.
 */
export function contextValueId(values: Table<KeyValue>, own: KeyValue | undefined, resourceAttrs: readonly KeyValue[] | undefined, key: string): number {
  let kv = own;
  if (!kv) {
    const rv = attrValue(resourceAttrs, key);
    if (rv !== undefined) kv = { key, value: { stringValue: rv } };
  }
  return kv ? values.id(kv, anyValueToString(kv.value)) : -1;
}

/** The buffers of a page's columns, handed over rather than copied. */
export function columnsTransfer(c: Columns): Transferable[] {
  return [
    c.parent,
    c.depth,
    c.flags,
    c.kind,
    c.traceIdx,
    c.svc,
    c.name,
    c.res,
    c.scp,
    c.status,
    c.start,
    c.end,
    ...c.ctx,
    c.spanIds.off,
    c.startNs.off,
    c.endNs.off,
    ...(c.parentIds ? [c.parentIds.off] : []),
  ].map((x) => x.buffer);
}

export class TraceTable {
  readonly n: number;
  /** Spans so far. */
  length = 0;
  /** Time 0 of the tree: the earliest non-zero start, as `buildTree` writes it. */
  readonly base: string;
  readonly parent: Int32Array;
  readonly depth: Int32Array;
  readonly size: Int32Array;
  readonly flags: Int32Array;
  /** Nanoseconds since `base`, as `buildTree` computes them (end ≥ start). */
  readonly start: Float64Array;
  readonly end: Float64Array;
  /** By span: string IDs (name, status message), resource and scope indices, kind, status code (-1: none). */
  private readonly name: Int32Array;
  private readonly message: Int32Array;
  private readonly resource: Int32Array;
  private readonly scope: Int32Array;
  private readonly kind: Int32Array;
  private readonly code: Int32Array;
  /** Span i's attribute IDs are `attrIds[attrAt[i] .. attrAt[i + 1])`. */
  private readonly attrAt: Int32Array;
  private attrIds = new Int32Array(1024);
  /** What stays as parsed, by chunk (span i is in `chunks[i / chunkSize]`): the strings. */
  private readonly chunks: Pick<TraceColumnsChunk, 'spanId' | 'parentSpanId' | 'start' | 'end' | 'flags' | 'loupeFlags'>[] = [];
  /** Spans with events, links…, whole, by span index. */
  private readonly extras = new Map<number, OtlpSpan>();
  private readonly chunkSize: number;
  private readonly strings: string[] = [''];
  private readonly attributes: KeyValue[] = [];
  /** The service of each of the head's resources. */
  private readonly services: string[];
  private readonly baseSec: number;
  private readonly baseNano: number;
  private errorCount = 0;
  private endBeforeStart = 0;
  private noStart = 0;
  private duration = 0;
  private readonly usedResources: Uint8Array;
  /** Lowercase search text, built once: per string, per attribute (`key=value`). */
  private lowStrings: string[] = [];
  private attrTexts: string[] = [];

  constructor(readonly head: TraceColumnsHead) {
    const n = head.spanCount;
    this.n = n;
    this.chunkSize = Math.max(1, head.chunkSize);
    this.parent = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.size = new Int32Array(n);
    this.flags = new Int32Array(n);
    this.start = new Float64Array(n);
    this.end = new Float64Array(n);
    this.name = new Int32Array(n);
    this.message = new Int32Array(n);
    this.resource = new Int32Array(n);
    this.scope = new Int32Array(n);
    this.kind = new Int32Array(n);
    this.code = new Int32Array(n);
    this.attrAt = new Int32Array(n + 1);
    this.services = head.resources.map((r) => attrValue(r.attributes, 'service.name') ?? '');
    this.usedResources = new Uint8Array(head.resources.length);
    const b = nsParts(head.firstStart);
    this.baseSec = b.sec;
    this.baseNano = b.nano;
    this.base = b.sec === 0 ? String(b.nano) : `${b.sec}${String(b.nano).padStart(9, '0')}`;
  }

  get complete(): boolean {
    return this.length === this.n;
  }

  /** Takes the next chunk; its spans are [from, length). */
  add(c: TraceColumnsChunk): void {
    const m = c.spanId.length;
    const from = this.length;
    const columns = [c.parentSpanId, c.name, c.kind, c.flags, c.loupeFlags, c.start, c.end, c.resource, c.scope, c.statusCode, c.statusMessage, c.attributeCount, c.parent, c.depth, c.size];
    if (columns.some((x) => x.length !== m)) throw new MalformedAnswer('a chunk’s columns differ in length');
    if (from + m > this.n || (m !== this.chunkSize && from + m !== this.n)) throw new MalformedAnswer('the chunks do not add up to the head’s span count');
    for (const s of c.strings) this.strings.push(s);
    for (const a of c.attributes) this.attributes.push(a);
    const strings = this.strings.length;
    const attributes = this.attributes.length;
    let at = this.attrAt[from]!;
    if (at + c.attributeIds.length > this.attrIds.length) {
      let len = this.attrIds.length;
      while (len < at + c.attributeIds.length) len *= 2;
      const grown = new Int32Array(len);
      grown.set(this.attrIds.subarray(0, at));
      this.attrIds = grown;
    }
    for (const id of c.attributeIds) {
      if (!(id >= 0 && id < attributes)) throw new MalformedAnswer('an attribute ID is out of the table');
      this.attrIds[at++] = id;
    }
    let a = this.attrAt[from]!;
    for (let k = 0; k < m; k++) {
      const i = from + k;
      const p = c.parent[k]!;
      const r = c.resource[k]!;
      const name = c.name[k]!;
      const message = c.statusMessage[k]!;
      if (!(p >= -1 && p < i) || !(r >= 0 && r < this.services.length) || !(c.size[k]! >= 1 && i + c.size[k]! <= this.n)) throw new MalformedAnswer('a span’s place in the tree is impossible');
      if (!(name >= 0 && name < strings && message >= 0 && message < strings)) throw new MalformedAnswer('a string ID is out of the table');
      this.parent[i] = p;
      this.depth[i] = c.depth[k]!;
      this.size[i] = c.size[k]!;
      this.name[i] = name;
      this.message[i] = message;
      this.resource[i] = r;
      this.scope[i] = c.scope[k]!;
      this.kind[i] = c.kind[k]!;
      this.code[i] = c.statusCode[k]!;
      a += c.attributeCount[k]!;
      if (a > at) throw new MalformedAnswer('a chunk has fewer attribute IDs than its counts');
      this.attrAt[i + 1] = a;
      this.usedResources[r] = 1;
      // As buildTree: times against the base, an end before its start flagged and moved to it.
      let flags = 0;
      const sp = nsParts(c.start[k]);
      let start = 0;
      if (sp.sec === 0 && sp.nano === 0) {
        flags |= F.NO_START;
        this.noStart++;
      } else start = (sp.sec - this.baseSec) * 1e9 + (sp.nano - this.baseNano);
      const ep = nsParts(c.end[k]);
      let end = ep.sec === 0 && ep.nano === 0 ? -Infinity : (ep.sec - this.baseSec) * 1e9 + (ep.nano - this.baseNano);
      if (end < start) {
        flags |= F.END_BEFORE_START;
        this.endBeforeStart++;
        end = start;
      }
      if (end > this.duration) this.duration = end;
      if (c.statusCode[k] === 2) {
        flags |= F.ERROR;
        this.errorCount++;
      }
      if (c.loupeFlags[k]! & F.TIME_SUSPECT) flags |= F.TIME_SUSPECT;
      this.flags[i] = flags;
      this.start[i] = start;
      this.end[i] = end;
    }
    // The attribute IDs past the counts, if any, belong to no span: the next chunk starts at its own.
    this.attrAt[from + m] = a;
    for (const x of c.extras) if (x.index >= 0 && x.index < m) this.extras.set(from + x.index, x.span);
    this.chunks.push({ spanId: c.spanId, parentSpanId: c.parentSpanId, start: c.start, end: c.end, flags: c.flags, loupeFlags: c.loupeFlags });
    this.length = from + m;
  }

  /** Every span is in: errors below, services, issues (sizes and depths are the server's). */
  finish(): TableSummary {
    const flags = this.flags;
    for (let i = this.length - 1; i > 0; i--) {
      const p = this.parent[i]!;
      if (p >= 0 && flags[i]! & (F.ERROR | F.ERROR_BELOW)) flags[p]! |= F.ERROR_BELOW;
    }
    const services = new Set<string>();
    this.usedResources.forEach((u, r) => {
      if (u) services.add(this.services[r]!);
    });
    return {
      flags: flags.slice(),
      errorCount: this.errorCount,
      services: [...services].sort(),
      issues: { orphans: 0, missingParents: 0, cycles: 0, duplicates: 0, endBeforeStart: this.endBeforeStart, noStart: this.noStart },
      duration: this.duration,
    };
  }

  /** The parsed chunk holding span i, and i's place in it. */
  private chunkOf(i: number): { c: TraceTable['chunks'][number]; k: number } {
    const ci = Math.floor(i / this.chunkSize);
    return { c: this.chunks[ci]!, k: i - ci * this.chunkSize };
  }

  spanId(i: number): string {
    const { c, k } = this.chunkOf(i);
    return c.spanId[k]!;
  }

  /** One span as the OTLP answer has it (what the details panel shows). */
  span(i: number): OtlpSpan | null {
    if (!(i >= 0 && i < this.length)) return null;
    const whole = this.extras.get(i);
    if (whole) return whole;
    const { c, k } = this.chunkOf(i);
    const from = this.attrAt[i]!;
    const count = this.attrAt[i + 1]! - from;
    let attributes: KeyValue[] | undefined;
    if (count > 0) {
      attributes = new Array<KeyValue>(count);
      for (let j = 0; j < count; j++) attributes[j] = this.attributes[this.attrIds[from + j]!]!;
    }
    const parent = c.parentSpanId[k]!;
    return {
      traceId: this.head.traceId,
      spanId: c.spanId[k]!,
      parentSpanId: parent || undefined,
      flags: c.flags[k] || undefined,
      loupeFlags: c.loupeFlags[k] || undefined,
      name: this.strings[this.name[i]!]!,
      kind: this.kind[i] || undefined,
      startTimeUnixNano: c.start[k]!,
      endTimeUnixNano: c.end[k]!,
      attributes,
      status: this.status(i),
    };
  }

  private status(i: number): OtlpStatus | undefined {
    const code = this.code[i]!;
    if (code < 0) return undefined;
    const status: OtlpStatus = {};
    const message = this.strings[this.message[i]!]!;
    if (message) status.message = message;
    if (code) status.code = code;
    return status;
  }

  /**
   * The page's columns for nodes [from, to) (traceStream.ts: indices
   * relative to `from`; parents are node indices). Resources and scopes are
   * the head's, by index, sent with the first rows only.
   */
  rows(from: number, to: number, contextKeys: string[], withTables: boolean): { cols: Columns; transfer: Transferable[] } {
    const n = to - from;
    const parent = this.parent.slice(from, to);
    const depth = this.depth.slice(from, to);
    const flags = this.flags.slice(from, to);
    const start = this.start.slice(from, to);
    const end = this.end.slice(from, to);
    const kind = new Int32Array(n);
    const traceIdx = new Int32Array(n);
    const svc = new Int32Array(n);
    const name = new Int32Array(n);
    const res = new Int32Array(n);
    const scp = new Int32Array(n);
    const status = new Int32Array(n);
    const ctx = contextKeys.map(() => new Int32Array(n));
    const names = new Table<string>();
    const svcs = new Table<string>();
    const statuses = new Table<OtlpStatus>();
    const ctxValues = contextKeys.map(() => new Table<KeyValue>());
    const spanIds: string[] = new Array<string>(n);
    const startNs: string[] = new Array<string>(n);
    const endNs: string[] = new Array<string>(n);
    // Status objects by code and message, names by string ID, services by resource (few distinct).
    const statusIds = new Map<number, number>();
    const nameIds = new Map<number, number>();
    const svcOf = this.services.map((v) => svcs.id(v));
    for (let j = 0; j < n; j++) {
      const i = from + j;
      const ci = Math.floor(i / this.chunkSize);
      const c = this.chunks[ci]!;
      const k = i - ci * this.chunkSize;
      kind[j] = this.kind[i]!;
      const r = this.resource[i]!;
      res[j] = r;
      scp[j] = this.scope[i]!;
      svc[j] = svcOf[r]!;
      const sid = this.name[i]!;
      let nid = nameIds.get(sid);
      if (nid === undefined) {
        nid = names.id(this.strings[sid]!);
        nameIds.set(sid, nid);
      }
      name[j] = nid;
      const code = this.code[i]!;
      const msg = this.message[i]!;
      if (code > 0 || (code === 0 && msg > 0 && this.strings[msg])) {
        const key = code * 4294967296 + msg;
        let id = statusIds.get(key);
        if (id === undefined) {
          id = statuses.items.length;
          statuses.items.push(this.status(i)!);
          statusIds.set(key, id);
        }
        status[j] = id;
      } else status[j] = -1;
      spanIds[j] = c.spanId[k]!;
      startNs[j] = c.start[k] ?? '0';
      endNs[j] = c.end[k] ?? '0';
      if (contextKeys.length) {
        const a0 = this.attrAt[i]!;
        const a1 = this.attrAt[i + 1]!;
        for (let q = 0; q < contextKeys.length; q++) {
          const key = contextKeys[q]!;
          let own: KeyValue | undefined;
          for (let z = a0; z < a1; z++) {
            const attr = this.attributes[this.attrIds[z]!]!;
            if (attr.key === key) own = attr;
          }
          ctx[q]![j] = contextValueId(ctxValues[q]!, own, this.head.resources[r]!.attributes, key);
        }
      }
    }
    const spanJ = joined(n, (j) => spanIds[j]!);
    const startJ = joined(n, (j) => startNs[j]!);
    const endJ = joined(n, (j) => endNs[j]!);
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
      resources: withTables ? (this.head.resources as OtlpResource[]) : [],
      scopes: withTables ? (this.head.scopes as OtlpScope[]) : [],
      statuses: statuses.items,
      contextKeys,
      ctxValues: ctxValues.map((x) => x.items),
      spanIds: spanJ,
      startNs: startJ,
      endNs: endJ,
    };
    return { cols, transfer: columnsTransfer(cols) };
  }

  /** Builds the lowercase texts find looks in (once; the worker does it while idle after the load). */
  warm(): void {
    if (this.lowStrings.length === this.strings.length && this.attrTexts.length === this.attributes.length) return;
    this.lowStrings = this.strings.map((s) => s.toLowerCase());
    const t = new Array<string>(this.attributes.length);
    for (let i = 0; i < t.length; i++) {
      const kv = this.attributes[i]!;
      t[i] = `${kv.key}=${anyValueToString(kv.value)}`.toLowerCase();
    }
    this.attrTexts = t;
  }

  /**
   * `lens` (tree.ts) over the columns: the same matches (a span matches
   * when each word is in its name, service, span ID, one attribute as
   * `key=value`, status message or an event's name) and the same folds.
   * Each word is tried once per distinct string and attribute, then a span
   * costs a few table look-ups.
   */
  lens(query: string): LensResult {
    const n = this.length;
    const matches = new Uint8Array(n);
    const collapsed = new Uint8Array(n).fill(1);
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    let count = 0;
    if (words.length === 0) return { matches, count, collapsed: new Uint8Array(n) };
    this.warm();
    const lowServices = this.services.map((s) => s.toLowerCase());
    const hits = (texts: string[], w: string): Uint8Array => {
      const out = new Uint8Array(texts.length);
      for (let i = 0; i < texts.length; i++) if (texts[i]!.includes(w)) out[i] = 1;
      return out;
    };
    const per = words.map((w) => ({ w, hex: HEX.test(w), str: hits(this.lowStrings, w), attr: hits(this.attrTexts, w), svc: hits(lowServices, w) }));
    const spanHex = per.some((q) => q.hex);
    for (let i = 0; i < n; i++) {
      const whole = this.extras.get(i);
      const a0 = this.attrAt[i]!;
      const a1 = this.attrAt[i + 1]!;
      let ok = true;
      for (let w = 0; w < per.length; w++) {
        const q = per[w]!;
        if (q.str[this.name[i]!] || q.svc[this.resource[i]!] || q.str[this.message[i]!]) continue;
        let hit = false;
        for (let z = a0; z < a1 && !hit; z++) hit = q.attr[this.attrIds[z]!] === 1;
        if (!hit && spanHex && q.hex) hit = this.spanId(i).includes(q.w);
        if (!hit && whole) {
          // A whole span: its own status message and event names.
          hit = !!whole.status?.message?.toLowerCase().includes(q.w);
          for (const ev of whole.events ?? []) hit ||= (ev.name ?? '').toLowerCase().includes(q.w);
        }
        if (!hit) {
          ok = false;
          break;
        }
      }
      if (ok) {
        matches[i] = 1;
        count++;
      }
    }
    // A node is open when something below it matches.
    for (let x = n - 1; x >= 0; x--) {
      const p = this.parent[x]!;
      if (p >= 0 && (matches[x] || !collapsed[x])) collapsed[p] = 0;
    }
    return { matches, count, collapsed };
  }

  /** `groupValues` (tree.ts) over the columns, as value IDs into `values`. */
  groupIds(key: string): { ids: Int32Array; values: string[] } {
    const n = this.length;
    const table = new Table<string>();
    const ids = new Int32Array(n);
    if (!key) {
      table.id('');
      return { ids, values: table.items };
    }
    const own = new Int32Array(n).fill(-1);
    if (key === 'service.name' || key === 'service') {
      const bySvc = this.services.map((v) => table.id(v));
      for (let i = 0; i < n; i++) own[i] = bySvc[this.resource[i]!]!;
    } else {
      // The span's own attribute (the first with the key), else its resource's.
      const attrVal = new Int32Array(this.attributes.length).fill(-1);
      for (let i = 0; i < this.attributes.length; i++) {
        const kv = this.attributes[i]!;
        if (kv.key === key) attrVal[i] = table.id(anyValueToString(kv.value));
      }
      const resVal = this.head.resources.map((r) => {
        const v = attrValue(r.attributes, key);
        return v === undefined ? -1 : table.id(v);
      });
      for (let i = 0; i < n; i++) {
        const a1 = this.attrAt[i + 1]!;
        let v = -1;
        for (let z = this.attrAt[i]!; z < a1 && v < 0; z++) v = attrVal[this.attrIds[z]!]!;
        own[i] = v >= 0 ? v : resVal[this.resource[i]!]!;
      }
    }
    const parent = this.parent;
    // Nearest descendant with a value (fewest levels down; the earlier child on a tie), bottom-up.
    const down = new Int32Array(n).fill(-1);
    const dist = new Int32Array(n);
    for (let x = n - 1; x >= 0; x--) {
      if (own[x]! >= 0) {
        down[x] = own[x]!;
        dist[x] = 0;
      }
      const p = parent[x]!;
      if (p >= 0 && down[x]! >= 0 && own[p]! < 0 && (down[p]! < 0 || dist[x]! + 1 <= dist[p]!)) {
        down[p] = down[x]!;
        dist[p] = dist[x]! + 1;
      }
    }
    // Top-down: own, nearest ancestor's own, nearest descendant's, the parent's lane.
    const up = new Int32Array(n).fill(-1);
    let empty = -1;
    for (let x = 0; x < n; x++) {
      const p = parent[x]!;
      const inherited = p >= 0 ? (own[p]! >= 0 ? own[p]! : up[p]!) : -1;
      up[x] = inherited;
      let v = own[x]! >= 0 ? own[x]! : inherited >= 0 ? inherited : down[x]!;
      if (v < 0) {
        if (p >= 0) v = ids[p]!;
        else {
          if (empty < 0) empty = table.id('');
          v = empty;
        }
      }
      ids[x] = v;
    }
    return { ids, values: table.items };
  }

  /** `attributeKeys` (tree.ts) over the columns: span attributes and the resources in use, most frequent first. */
  attributeKeys(max: number): string[] {
    const uses = new Int32Array(this.attributes.length);
    for (let z = 0; z < this.attrAt[this.length]!; z++) uses[this.attrIds[z]!]!++;
    const count = new Map<string, number>();
    for (let i = 0; i < uses.length; i++) if (uses[i]) count.set(this.attributes[i]!.key, (count.get(this.attributes[i]!.key) ?? 0) + uses[i]!);
    this.usedResources.forEach((u, r) => {
      if (u) for (const kv of this.head.resources[r]!.attributes ?? []) count.set(kv.key, (count.get(kv.key) ?? 0) + 1);
    });
    return [...count.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, max)
      .map(([k]) => k);
  }
}
