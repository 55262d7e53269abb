import { describe, expect, it } from 'vitest';
import { attachmentFor, planStitch, rootAncestor, type RelatedAnswer, type RelatedEntry, type TraceSummary } from '../src/stitch';

const sum = (traceId: string): TraceSummary => ({
  traceId,
  rootService: 'kestra',
  rootName: 'x',
  startTimeUnixNano: '1',
  durationNano: '1',
  spanCount: 1,
  errorCount: 0,
  services: ['kestra'],
  incomplete: false,
  missingParents: 0,
  receiving: false,
  awaitingParents: false,
  lastArrivalUnixNano: '1',
});

function graph(links: [string, string, string, string][], received = (_: string) => true) {
  // links: [fromTrace, fromSpan, toTrace, toSpan]
  return async (t: string): Promise<RelatedAnswer> => {
    const by = new Map<string, RelatedEntry>();
    for (const [ft, fs, tt, ts] of links) {
      const l = { fromTraceId: ft, fromSpanId: fs, toTraceId: tt, toSpanId: ts };
      if (ft === t && tt !== t) {
        const k = `${tt}/out`;
        if (!by.has(k)) by.set(k, { traceId: tt, direction: 'outgoing', links: [], summary: received(tt) ? sum(tt) : null });
        by.get(k)!.links.push(l);
      }
      if (tt === t && ft !== t) {
        const k = `${ft}/in`;
        if (!by.has(k)) by.set(k, { traceId: ft, direction: 'incoming', links: [], summary: received(ft) ? sum(ft) : null });
        by.get(k)!.links.push(l);
      }
    }
    return { traceId: t, related: [...by.values()] };
  };
}

describe('attachmentFor', () => {
  it('hangs incoming traces under the span they point at, outgoing under the linking span', () => {
    const inc: RelatedEntry = { traceId: 'C', direction: 'incoming', links: [{ fromTraceId: 'C', fromSpanId: 'c1', toTraceId: 'P', toSpanId: 'p1' }], summary: sum('C') };
    expect(attachmentFor('P', inc)).toEqual({ traceId: 'C', underTraceId: 'P', underSpanId: 'p1' });
    const out: RelatedEntry = { traceId: 'P', direction: 'outgoing', links: [{ fromTraceId: 'C', fromSpanId: 'c1', toTraceId: 'P', toSpanId: 'p1' }], summary: sum('P') };
    expect(attachmentFor('C', out)).toEqual({ traceId: 'P', underTraceId: 'C', underSpanId: 'c1' });
  });
});

describe('planStitch', () => {
  it('walks both directions transitively, each trace once', async () => {
    // Children C1, C2 link to P; P's ForEach; G links to C1 (grandchild); P links to U (outgoing).
    const fetch = graph([
      ['C1', 'c1', 'P', 'p1'],
      ['C2', 'c2', 'P', 'p1'],
      ['G', 'g', 'C1', 'c1x'],
      ['P', 'p2', 'U', 'u1'],
      ['C2', 'c2', 'C1', 'c1'],
    ]);
    const plan = await planStitch('P', fetch);
    expect(plan.traces.sort()).toEqual(['C1', 'C2', 'G', 'P', 'U']);
    const at = Object.fromEntries(plan.attachments.map((a) => [a.traceId, `${a.underTraceId}:${a.underSpanId}`]));
    expect(at).toEqual({ C1: 'P:p1', C2: 'P:p1', U: 'P:p2', G: 'C1:c1x' });
    expect(plan.truncated).toBe(false);
  });
  it('starting from a child, reaches the parent and the siblings', async () => {
    const fetch = graph([
      ['C1', 'c1', 'P', 'p1'],
      ['C2', 'c2', 'P', 'p1'],
    ]);
    const plan = await planStitch('C1', fetch);
    expect(plan.traces).toEqual(['C1', 'P', 'C2']);
    expect(plan.attachments).toEqual([
      { traceId: 'P', underTraceId: 'C1', underSpanId: 'c1' },
      { traceId: 'C2', underTraceId: 'P', underSpanId: 'p1' },
    ]);
  });
  it('stops at the limit and reports traces not received', async () => {
    const links: [string, string, string, string][] = [];
    for (let i = 0; i < 30; i++) links.push([`C${i}`, 'c', 'P', 'p']);
    const plan = await planStitch(
      'P',
      graph(links, (t) => t !== 'C3'),
      10,
    );
    expect(plan.traces.length).toBe(10);
    expect(plan.truncated).toBe(true);
    expect(plan.missing).toEqual(['C3']);
  });
});

describe('rootAncestor', () => {
  it('follows outgoing links up to the root-most parent received', async () => {
    const fetch = graph([
      ['C1', 'c1', 'P', 'p1'],
      ['C2', 'c2', 'P', 'p1'],
      ['G', 'g', 'C1', 'c1x'],
    ]);
    expect(await rootAncestor('G', fetch)).toBe('P');
    expect(await rootAncestor('C2', fetch)).toBe('P');
    expect(await rootAncestor('P', fetch)).toBe('P');
    // From the root, the plan puts the parent first and hangs the child under it.
    const plan = await planStitch(await rootAncestor('C1', fetch), fetch);
    expect(plan.traces[0]).toBe('P');
    expect(plan.attachments).toContainEqual({ traceId: 'C1', underTraceId: 'P', underSpanId: 'p1' });
  });
  it('stops at a parent not received and on loops', async () => {
    expect(
      await rootAncestor(
        'C',
        graph([['C', 'c', 'P', 'p']], (t) => t !== 'P'),
      ),
    ).toBe('C');
    expect(
      await rootAncestor(
        'A',
        graph([
          ['A', 'a', 'B', 'b'],
          ['B', 'b', 'A', 'a'],
        ]),
      ),
    ).toBe('B');
  });
});
