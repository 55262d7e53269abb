import { describe, expect, it } from 'vitest';
import { criticalByNode, formatDelta, regressionHint, sortStats, visibleCompareRows, type CompareNode, type CompareSummary, type Stat } from '../src/analysis';

const stat = (name: string, total: string, count = 1, errors = 0): Stat => ({ service: 's', name, count, total, selfTime: total, min: total, avg: total, max: total, errors });

describe('statistics sorting', () => {
  const rows = [stat('b', '9007199254740993'), stat('a', '9007199254740992', 3), stat('c', '5', 2, 1)];
  it('sorts durations exactly, beyond 2^53', () => {
    expect(sortStats(rows, 'total', true).map((r) => r.name)).toEqual(['b', 'a', 'c']);
    expect(sortStats(rows, 'total', false).map((r) => r.name)).toEqual(['c', 'a', 'b']);
  });
  it('sorts counts, errors and names', () => {
    expect(sortStats(rows, 'count', true).map((r) => r.name)).toEqual(['a', 'c', 'b']);
    expect(sortStats(rows, 'errors', true)[0]!.name).toBe('c');
    expect(sortStats(rows, 'name', false).map((r) => r.name)).toEqual(['a', 'b', 'c']);
  });
});

describe('regression hint', () => {
  const summary = (delta: string, ratio: number | null): CompareSummary => ({
    matched: 3,
    added: 0,
    removed: 0,
    changed: 1,
    statusChanges: 0,
    durationA: '1',
    durationB: '2',
    delta,
    regressions: [{ node: 2, service: 'worker', name: 'shell.Commands', a: '148000000000', b: '460000000000', delta, selfDelta: delta, ratio }],
  });
  it('names the slowed task, its growth and ratio', () => {
    expect(regressionHint(summary('312000000000', 3.108), '02:00')).toBe(`worker - shell.Commands ${formatDelta('312000000000')} (3.1×) vs run of 02:00`);
    expect(formatDelta('312000000000').startsWith('+')).toBe(true);
    expect(formatDelta('-3000000').startsWith('-')).toBe(true);
  });
  it('says nothing without a regression of at least 1 ms', () => {
    expect(regressionHint(null, 'x')).toBeNull();
    expect(regressionHint(summary('999', 1.0), 'x')).toBeNull();
    expect(regressionHint({ ...summary('0', null), regressions: [] }, 'x')).toBeNull();
  });
});

describe('critical path by node', () => {
  it('marks nodes and offsets their segments from the base', () => {
    const idx = new Map([
      ['t:a', 0],
      ['t:b', 2],
    ]);
    const r = criticalByNode(
      [
        { traceId: 't', spanId: 'a', service: 's', name: 'n', start: '1000000000000000100', end: '1000000000000000110' },
        { traceId: 't', spanId: 'b', service: 's', name: 'n', start: '1000000000000000110', end: '1000000000000000150' },
        { traceId: 't', spanId: 'gone', service: 's', name: 'n', start: '1', end: '2' },
      ],
      '1000000000000000000',
      3,
      (t, s) => idx.get(`${t}:${s}`),
    );
    expect([...r.onPath]).toEqual([1, 0, 1]);
    expect(r.segs.get(0)).toEqual([[100, 110]]);
    expect(r.segs.get(2)).toEqual([[110, 150]]);
  });
});

describe('compare tree rows', () => {
  const node = (id: number, parent: number | null): CompareNode => ({
    id,
    parent,
    depth: 0,
    service: 's',
    name: String(id),
    presence: 'both',
    a: null,
    b: null,
    delta: null,
    selfDelta: null,
    statusChange: null,
  });
  it('hides collapsed subtrees', () => {
    const nodes = [node(0, null), node(1, 0), node(2, 1), node(3, 0)];
    expect(visibleCompareRows(nodes, new Set()).map((n) => n.id)).toEqual([0, 1, 2, 3]);
    expect(visibleCompareRows(nodes, new Set([1])).map((n) => n.id)).toEqual([0, 1, 3]);
    expect(visibleCompareRows(nodes, new Set([0])).map((n) => n.id)).toEqual([0]);
  });
});

import { runPoints, runSearchParams } from '../src/analysis';

describe('run history', () => {
  const t = (id: string, start: string, dur: string, errors = 0, rootName = 'flow') => ({
    traceId: id,
    rootService: 'kestra',
    rootName,
    startTimeUnixNano: start,
    durationNano: dur,
    errorCount: errors,
  });
  it('searches by the key attributes or by the root', () => {
    expect(
      runSearchParams({
        kind: 'attributes',
        values: [
          ['kestra.namespace', 'co'],
          ['kestra.flowId', 'nightly'],
        ],
      }).getAll('attr'),
    ).toEqual(['kestra.namespace=co', 'kestra.flowId=nightly']);
    const p = runSearchParams({ kind: 'root', service: 'kestra', name: 'flow' }, 50);
    expect([p.get('service'), p.get('spanName'), p.get('limit')]).toEqual(['kestra', 'flow', '50']);
  });
  it('places runs by time and duration, marks errors and the current run', () => {
    const pts = runPoints(
      [t('a', '1000000000000000000', '100'), t('b', '1000000000000000100', '50', 2), t('c', '1000000000000000050', '5', 0, 'other')],
      { kind: 'root', service: 'kestra', name: 'flow' },
      'b',
    );
    expect(pts.map((p) => [p.traceId, p.x, p.y, p.error, p.current])).toEqual([
      ['a', 0, 1, false, false],
      ['b', 1, 0.5, true, true],
    ]);
  });
});

import { flameBoxes, flameRange } from '../src/flame';
import type { SpanTree } from '../src/tree';

describe('flame graph layout', () => {
  // root [0,100] → a [0,50] → b [0,0.05]; root → c [60,100]
  const node = (start: number, end: number, parent: number, depth: number, children: number[]) => ({ start, end, parent, depth, children, flags: 0 });
  const tree = {
    nodes: [node(0, 100, -1, 0, [1, 3]), node(0, 50, 0, 1, [2]), node(0, 0.05, 1, 2, []), node(60, 100, 0, 1, [])],
    roots: [0],
    size: Int32Array.from([4, 2, 1, 1]),
  } as unknown as SpanTree;
  it('lays out boxes by time and depth, leaving out the too narrow', () => {
    const r = flameBoxes(tree, -1);
    expect(r.boxes.map((b) => [b.node, b.x, b.w, b.row])).toEqual([
      [0, 0, 1, 0],
      [1, 0, 0.5, 1],
      [3, 0.6, 0.4, 1],
    ]);
    expect(r.hidden).toBe(1);
  });
  it('zooms into a subtree', () => {
    const r = flameBoxes(tree, 1, 0.0001);
    expect(r.boxes.map((b) => [b.node, b.x, b.w, b.row])).toEqual([
      [1, 0, 1, 0],
      [2, 0, 0.001, 1],
    ]);
  });
  it('caps the number of boxes', () => {
    expect(flameBoxes(tree, -1, 0, 2).boxes.length).toBe(2);
  });
  it('scales to the trace extent when children outlive the root (fire-and-forget)', () => {
    // A 71 ms API call whose tasks run until 9912 ms: the scale is 0..9912,
    // not 0..71, so the tasks are drawn.
    const t = {
      nodes: [node(0, 71, -1, 0, [1]), node(4, 67, 0, 1, [2, 3]), node(212, 236, 1, 2, []), node(7540, 9912, 1, 2, [])],
      roots: [0],
      size: Int32Array.from([4, 3, 1, 1]),
    } as unknown as SpanTree;
    expect(flameRange(t, -1)).toEqual([0, 9912]);
    const r = flameBoxes(t, -1);
    expect(r.hidden).toBe(0);
    expect(r.boxes.map((b) => b.node)).toEqual([0, 1, 2, 3]);
    const last = r.boxes[3]!;
    expect(last.x).toBeCloseTo(7540 / 9912, 6);
    expect(last.x + last.w).toBeCloseTo(1, 6);
    expect(r.boxes[0]!.w).toBeCloseTo(71 / 9912, 6);
    // Zooming into the webserver span keeps its outliving children in view.
    expect(flameRange(t, 1)).toEqual([4, 9912]);
  });
  it('draws wide descendants of a too-narrow span', () => {
    const t = {
      nodes: [node(0, 1000, -1, 0, [1]), node(0, 1, 0, 1, [2]), node(10, 900, 1, 2, [])],
      roots: [0],
      size: Int32Array.from([3, 2, 1]),
    } as unknown as SpanTree;
    const r = flameBoxes(t, -1);
    expect(r.boxes.map((b) => b.node)).toEqual([0, 2]);
    expect(r.hidden).toBe(1);
  });
});

import { comparePair, criticalPathInfo, runKeySearch } from '../src/analysis';

describe('trace list: two picked traces to compare', () => {
  it('needs exactly two, the earlier is A', () => {
    expect(comparePair(new Map([['x', '5']]))).toBeNull();
    expect(
      comparePair(
        new Map([
          ['late', '9007199254740993'],
          ['early', '9007199254740992'],
        ]),
      ),
    ).toEqual({ a: 'early', b: 'late' });
    expect(
      comparePair(
        new Map([
          ['early', '1'],
          ['late', '2'],
        ]),
      ),
    ).toEqual({ a: 'early', b: 'late' });
    expect(
      comparePair(
        new Map([
          ['a', '1'],
          ['b', '2'],
          ['c', '3'],
        ]),
      ),
    ).toBeNull();
  });
});

describe('run key → trace-list search', () => {
  it('lists attribute keys as an expression, quoting values', () => {
    expect(
      runKeySearch({
        kind: 'attributes',
        values: [
          ['kestra.namespace', 'company.team'],
          ['kestra.flowId', 'say "hi" \\o/'],
        ],
      }),
    ).toEqual({
      service: '',
      name: '',
      q: 'kestra.namespace = "company.team" AND kestra.flowId = "say \\"hi\\" \\\\o/"',
    });
  });
  it('uses the root service and span name otherwise', () => {
    expect(runKeySearch({ kind: 'root', service: 'api', name: 'GET /x' })).toEqual({ service: 'api', name: 'GET /x', q: '' });
  });
  it('scatters every trace of a search when there is no key', () => {
    const t = (id: string, start: string, dur: string) => ({ traceId: id, rootService: 's', rootName: id, startTimeUnixNano: start, durationNano: dur, errorCount: 0 });
    const pts = runPoints([t('a', '1000', '10'), t('b', '2000', '20')], null, '');
    expect(pts.map((p) => [p.traceId, p.x, p.y])).toEqual([
      ['a', 0, 0.5],
      ['b', 1, 1],
    ]);
  });
});

describe('critical path info', () => {
  it('says when work outlived the root', () => {
    expect(criticalPathInfo({ duration: '9912700000', rootDuration: '71400000', segments: [1, 2, 3] })).toBe('path 9.91s · 3 segments · root span 71.4ms');
    expect(criticalPathInfo({ duration: '100', rootDuration: '100', segments: [1] })).toBe('path 100ns · 1 segment');
  });
});
