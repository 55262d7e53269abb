import { describe, expect, it } from 'vitest';
import { MARGIN, OVERSCAN, rowWindow } from '../src/views/rowWindow';

describe('rowWindow', () => {
  it('places a window with OVERSCAN rows beyond each edge of the view, within the list', () => {
    expect(rowWindow(0, 0, 100, 138, 100_000)).toEqual([100 - OVERSCAN, 138 + OVERSCAN]);
    expect(rowWindow(0, 0, 0, 38, 100_000)).toEqual([0, 38 + OVERSCAN]);
    expect(rowWindow(0, 0, 99_970, 100_008, 100_000)).toEqual([99_970 - OVERSCAN, 100_000]);
    expect(rowWindow(0, 0, 0, 38, 5)).toEqual([0, 5]);
  });
  it('keeps the window while the view scrolls inside it (scrolled frames change no row)', () => {
    const w = rowWindow(0, 0, 100, 138, 100_000);
    for (let top = 100; top + 38 + MARGIN <= w[1]; top++) expect(rowWindow(w[0], w[1], top, top + 38, 100_000)).toEqual(w);
  });
  it('moves the window when the view nears its edge', () => {
    const [w0, w1] = rowWindow(0, 0, 100, 138, 100_000);
    const top = w1 - 38 - MARGIN + 1;
    expect(rowWindow(w0, w1, top, top + 38, 100_000)).toEqual([top - OVERSCAN, top + 38 + OVERSCAN]);
  });
  it('moves the window when the list shrinks under it (collapse all) or grows past its end (a loading trace)', () => {
    expect(rowWindow(0, 50, 0, 38, 10)).toEqual([0, 10]);
    expect(rowWindow(0, 10, 0, 38, 4096)).toEqual([0, 38 + OVERSCAN]);
  });
  it('does not keep a window much taller than the view (the view shrank)', () => {
    expect(rowWindow(0, 200, 50, 60, 100_000)).toEqual([50 - OVERSCAN, 60 + OVERSCAN]);
  });
});
