import { describe, expect, it } from 'vitest';
import { foldLinked } from '../src/linked';

const rows = (r: ReturnType<typeof foldLinked>) => r.map((x) => `${x.child ? '  ' : ''}${x.trace.traceId}${x.children ? ` +${x.children}` : ''}`);

describe('foldLinked', () => {
  const list = [{ traceId: 'c3', linksTo: 'p' }, { traceId: 'other' }, { traceId: 'c2', linksTo: 'p' }, { traceId: 'p' }, { traceId: 'c1', linksTo: 'p' }, { traceId: 'orphan', linksTo: 'gone' }];
  it('folds listed children under their parent', () => {
    expect(rows(foldLinked(list, new Set()))).toEqual(['other', 'p +3', 'orphan']);
  });
  it('shows them after the parent when expanded', () => {
    expect(rows(foldLinked(list, new Set(['p'])))).toEqual(['other', 'p +3', '  c3', '  c2', '  c1', 'orphan']);
  });
  it('folds chains and leaves loops unfolded', () => {
    const chain = [{ traceId: 'g', linksTo: 'c' }, { traceId: 'c', linksTo: 'p' }, { traceId: 'p' }];
    expect(rows(foldLinked(chain, new Set(['p', 'c'])))).toEqual(['p +1', '  c +1', '  g']);
    const loop = [
      { traceId: 'a', linksTo: 'b' },
      { traceId: 'b', linksTo: 'a' },
    ];
    expect(rows(foldLinked(loop, new Set()))).toEqual(['a', 'b']);
    const three = [
      { traceId: 'a', linksTo: 'b' },
      { traceId: 'b', linksTo: 'c' },
      { traceId: 'c', linksTo: 'a' },
    ];
    expect(rows(foldLinked(three, new Set())).length).toBe(3);
  });
});
