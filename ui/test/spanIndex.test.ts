import { describe, expect, it } from 'vitest';
import { SpanIndex } from '../src/traceStream';
import { joined } from '../src/traceTable';

/** Blocks of `size` IDs each, as the page gets them (one per rows message). */
function blocks(ids: string[], size: number) {
  const out = [];
  for (let off = 0; off < ids.length; off += size) {
    const part = ids.slice(off, off + size);
    out.push({ off, c: { spanIds: joined(part.length, (i) => part[i]!) } });
  }
  return out;
}

const hex = (i: number) => i.toString(16).padStart(16, '0');

describe('SpanIndex (span ID → node index over the columns)', () => {
  it('finds every span of every block, and nothing else', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => hex(i * 7919 + 13));
    const bs = blocks(ids, 4096);
    const index = new SpanIndex(ids.length, bs);
    for (const b of bs) index.add(b, b.off, b.off + b.c.spanIds.off.length - 1);
    ids.forEach((id, i) => expect(index.get(id)).toBe(i));
    expect(index.get(hex(1))).toBeUndefined();
    expect(index.get('')).toBeUndefined();
    // A prefix or an extension of a real ID is not it.
    expect(index.get(ids[5]!.slice(0, 15))).toBeUndefined();
    expect(index.get(`${ids[5]!}0`)).toBeUndefined();
  });

  it('answers for the nodes entered so far, in parts, with IDs of any length', () => {
    const ids = ['a', 'bb', '', 'cccc', '00000000000000ff', 'dd'];
    const bs = blocks(ids, 4);
    const index = new SpanIndex(ids.length, bs);
    index.add(bs[0]!, 0, 2);
    expect(index.get('bb')).toBe(1);
    expect(index.get('cccc')).toBeUndefined();
    index.add(bs[0]!, 2, 4);
    index.add(bs[1]!, 4, 6);
    expect(index.get('')).toBe(2);
    expect(index.get('cccc')).toBe(3);
    expect(index.get('00000000000000ff')).toBe(4);
    expect(index.get('dd')).toBe(5);
  });

  it('keeps the first of two copies of an ID', () => {
    const ids = ['x1', 'x2', 'x1'];
    const bs = blocks(ids, 4096);
    const index = new SpanIndex(ids.length, bs);
    index.add(bs[0]!, 0, 3);
    expect(index.get('x1')).toBe(0);
  });
});
