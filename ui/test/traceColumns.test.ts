import { describe, expect, it } from 'vitest';
import { flattenTrace } from '../src/tree';
import { ColumnsDecoder } from '../src/traceColumns';

// The docs/api.md example of GET /traces/{id}/columns, plus a chunk that
// reuses its tables and carries a whole span in `extras`.
const head = {
  traceId: '5b8efff798038103d269b633813fc60c',
  spanCount: 3,
  chunkSize: 4096,
  preorder: false,
  firstStart: '1795292629628439909',
  lastEnd: '1795292631411439909',
  resources: [{ attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] }],
  scopes: [{ name: 'io.kestra.core.runners.Executor', version: '0.23.4' }],
};
const chunk1 = {
  strings: ['EXECUTOR - io.kestra.plugin.core.flow.Subflow', 'boom'],
  attributes: [{ key: 'kestra.flowId', value: { stringValue: 'orders_batch' } }],
  spanId: ['b7ad6b7169203331', '51a2c8e0d3f47b96'],
  parentSpanId: ['', 'b7ad6b7169203331'],
  name: [1, 1],
  kind: [1, 0],
  flags: [0, 256],
  loupeFlags: [0, 2048],
  start: ['1795292629628439909', '1795292629728439909'],
  end: ['1795292631411439909', '0'],
  resource: [0, 0],
  scope: [0, 0],
  statusCode: [-1, 2],
  statusMessage: [0, 2],
  attributeCount: [1, 1],
  attributeIds: [0, 0],
  parent: [],
  depth: [],
  size: [],
  extras: [],
};
const whole = { traceId: head.traceId, spanId: '00000000000000aa', name: 'with event', startTimeUnixNano: '5', endTimeUnixNano: '6', events: [{ timeUnixNano: '5', name: 'e' }] };
const chunk2 = {
  ...chunk1,
  strings: [],
  attributes: [],
  spanId: ['00000000000000aa'],
  parentSpanId: ['ffffffffffffffff'],
  name: [0],
  kind: [0],
  flags: [0],
  loupeFlags: [0],
  start: ['5'],
  end: ['6'],
  resource: [0],
  scope: [0],
  statusCode: [-1],
  statusMessage: [0],
  attributeCount: [0],
  attributeIds: [],
  parent: [],
  depth: [],
  size: [],
  extras: [{ index: 0, span: whole }],
};

// The same spans as GET /traces/{id} writes them (defaults omitted).
const otlp = {
  resourceSpans: [
    {
      resource: head.resources[0],
      scopeSpans: [
        {
          scope: head.scopes[0],
          spans: [
            {
              traceId: head.traceId,
              spanId: 'b7ad6b7169203331',
              name: chunk1.strings[0],
              kind: 1,
              startTimeUnixNano: '1795292629628439909',
              endTimeUnixNano: '1795292631411439909',
              attributes: chunk1.attributes,
            },
            {
              traceId: head.traceId,
              spanId: '51a2c8e0d3f47b96',
              parentSpanId: 'b7ad6b7169203331',
              flags: 256,
              loupeFlags: 2048,
              name: chunk1.strings[0],
              startTimeUnixNano: '1795292629728439909',
              endTimeUnixNano: '0',
              attributes: chunk1.attributes,
              status: { message: 'boom', code: 2 },
            },
            whole,
          ],
        },
      ],
    },
  ],
};

describe('ColumnsDecoder', () => {
  it('gives the spans of the OTLP answer, sharing interned attributes', () => {
    const d = new ColumnsDecoder();
    const chunks: [number, number][] = [];
    d.onChunk = (from, to) => chunks.push([from, to]);
    d.line(JSON.stringify(head));
    expect(d.complete).toBe(false);
    d.line(JSON.stringify(chunk1));
    d.line(JSON.stringify(chunk2));
    d.line('');
    expect(d.complete).toBe(true);
    expect(chunks).toEqual([
      [0, 2],
      [2, 3],
    ]);
    const want = flattenTrace(otlp);
    expect(d.inputs.map((x) => JSON.parse(JSON.stringify(x)))).toEqual(want.map((x) => JSON.parse(JSON.stringify(x))));
    expect(d.inputs.map((x) => x.service)).toEqual(['kestra', 'kestra', 'kestra']);
    expect(d.inputs[0]!.span.attributes![0]).toBe(d.inputs[1]!.span.attributes![0]);
  });
});
