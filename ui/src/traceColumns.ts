// Reads `GET /api/v1/traces/{id}/columns` (docs/api.md): the trace as
// newline-delimited JSON, a head line then chunks of spans as columns with
// interned names and attributes. Each chunk is parsed as soon as its line
// has arrived, while the next is on the wire, so the worker never holds (or
// parses) the whole OTLP/JSON answer. An answer in tree order goes into a
// `TraceTable` (typed columns, no object a span); any other is turned into
// span inputs for `buildTree`, which share their attribute objects instead
// of each having copies.

import { ApiError } from './api';
import { attrValue, type KeyValue } from './format';
import type { OtlpSpan, OtlpStatus, TraceColumnsChunk, TraceColumnsHead } from './generated/api';
import { TraceTable } from './traceTable';
import type { SpanInput } from './tree';

export interface ColumnsAnswer {
  inputs: SpanInput[];
  /** Bytes of the answer's body (as received, before decoding). */
  bytes: number;
  /** When its last byte arrived (epoch ms); the chunks before it were decoded as they came. */
  endedAt: number;
}

/**
 * Turns the answer's lines into span inputs, in answer order; or, when the
 * head says the spans come in tree order (and `tables`), into a
 * `TraceTable` (traceTable.ts), with no object a span.
 */
export class ColumnsDecoder {
  readonly inputs: SpanInput[] = [];
  head: TraceColumnsHead | null = null;
  /** The answer in tree order, kept as columns; `inputs` stays empty then. */
  table: TraceTable | null = null;
  /** Called after each chunk is decoded: its spans are `inputs[from..to)` (or the table's). */
  onChunk: ((from: number, to: number, c: TraceColumnsChunk) => void) | null = null;

  /** `tables`: keep an answer in tree order as a `TraceTable`. */
  constructor(private readonly tables = false) {}
  private services: string[] = [];
  private readonly strings: string[] = [''];
  private readonly attributes: KeyValue[] = [];

  /** One line of the answer (without its newline). */
  line(text: string): void {
    if (text.length === 0) return;
    if (!this.head) {
      const h = JSON.parse(text) as TraceColumnsHead;
      this.head = h;
      this.services = h.resources.map((r) => attrValue(r.attributes, 'service.name') ?? '');
      if (this.tables && h.preorder && h.spanCount > 0) this.table = new TraceTable(h);
      return;
    }
    const c = JSON.parse(text) as TraceColumnsChunk;
    if (this.table) {
      const from = this.table.length;
      this.table.add(c);
      this.onChunk?.(from, this.table.length, c);
    } else this.chunk(c);
  }

  /** True when every span the head announced has arrived. */
  get complete(): boolean {
    return this.head !== null && (this.table ? this.table.complete : this.inputs.length === this.head.spanCount);
  }

  private chunk(c: TraceColumnsChunk): void {
    const h = this.head!;
    for (const s of c.strings) this.strings.push(s);
    for (const a of c.attributes) this.attributes.push(a);
    const extras = new Map<number, OtlpSpan>();
    for (const x of c.extras) extras.set(x.index, x.span);
    const traceId = h.traceId;
    const from = this.inputs.length;
    let a = 0;
    for (let i = 0; i < c.spanId.length; i++) {
      const count = c.attributeCount[i]!;
      const r = c.resource[i]!;
      const resource = h.resources[r] ?? { attributes: [] };
      const scope = h.scopes[c.scope[i]!] ?? { name: '', attributes: [] };
      let span = extras.get(i);
      if (!span) {
        let attributes: KeyValue[] | undefined;
        if (count > 0) {
          attributes = new Array<KeyValue>(count);
          for (let k = 0; k < count; k++) attributes[k] = this.attributes[c.attributeIds[a + k]!]!;
        }
        const code = c.statusCode[i]!;
        let status: OtlpStatus | undefined;
        if (code >= 0) {
          status = {};
          const message = this.strings[c.statusMessage[i]!]!;
          if (message) status.message = message;
          if (code) status.code = code;
        }
        const parent = c.parentSpanId[i]!;
        span = {
          traceId,
          spanId: c.spanId[i]!,
          parentSpanId: parent || undefined,
          flags: c.flags[i] || undefined,
          loupeFlags: c.loupeFlags[i] || undefined,
          name: this.strings[c.name[i]!]!,
          kind: c.kind[i] || undefined,
          startTimeUnixNano: c.start[i]!,
          endTimeUnixNano: c.end[i]!,
          attributes,
          status,
        };
      }
      a += count;
      this.inputs.push({ span, resource, scope, service: this.services[r] ?? '' });
    }
    this.onChunk?.(from, this.inputs.length, c);
  }
}

/** Fetches and decodes a trace's columns, a line at a time. */
export async function fetchColumns(traceId: string, signal: AbortSignal, dec: ColumnsDecoder = new ColumnsDecoder()): Promise<ColumnsAnswer> {
  let res: Response;
  try {
    res = await fetch(`/api/v1/traces/${encodeURIComponent(traceId)}/columns`, { signal, headers: { Accept: 'application/x-ndjson' } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Loupe is not reachable (${(e as Error).message})`, 0);
  }
  if (!res.ok || !res.body) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    throw ApiError.of(res.status, res.statusText, body);
  }
  const reader = res.body.getReader();
  const text = new TextDecoder();
  let bytes = 0;
  let endedAt = 0;
  // The bytes of the line so far, kept as pieces: a line (a chunk, ~0.7 MB)
  // arrives in many reads, and joining strings or searching the whole line
  // again on every read would copy it over and over.
  let pieces: Uint8Array[] = [];
  let held = 0;
  const take = (last: Uint8Array): void => {
    let line: Uint8Array;
    if (pieces.length === 0) line = last;
    else {
      line = new Uint8Array(held + last.byteLength);
      let at = 0;
      for (const p of pieces) {
        line.set(p, at);
        at += p.byteLength;
      }
      line.set(last, at);
      pieces = [];
    }
    held = 0;
    dec.line(text.decode(line));
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      endedAt = performance.timeOrigin + performance.now();
      break;
    }
    bytes += value.byteLength;
    let from = 0;
    for (let nl = value.indexOf(10); nl >= 0; nl = value.indexOf(10, from)) {
      take(value.subarray(from, nl));
      from = nl + 1;
    }
    if (from < value.byteLength) {
      pieces.push(value.subarray(from));
      held += value.byteLength - from;
    }
  }
  if (held > 0) take(new Uint8Array(0));
  if (!dec.complete) throw new ApiError('The trace’s answer was cut short', 0);
  return { inputs: dec.inputs, bytes, endedAt };
}
