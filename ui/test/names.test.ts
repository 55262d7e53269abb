import { describe, expect, it } from 'vitest';
import { clampGutter, depthShown, fitGutterWidth, indentPx, splitName } from '../src/names';

describe('splitName', () => {
  it('keeps the last two segments of a dotted Kestra name as the tail', () => {
    expect(splitName('EXECUTOR - io.kestra.plugin.core.flow.Fail')).toEqual(['EXECUTOR - io.kestra.plugin.core.', 'flow.Fail']);
    expect(splitName('WORKER - io.kestra.plugin.scripts.shell.Commands')).toEqual(['WORKER - io.kestra.plugin.scripts.', 'shell.Commands']);
    expect(splitName('io.kestra.core.runners.Executor')).toEqual(['io.kestra.core.', 'runners.Executor']);
  });
  it('leaves names without a dotted path whole', () => {
    expect(splitName('GET /items')).toEqual(['GET /items', '']);
    expect(splitName('cache.get')).toEqual(['cache.get', '']);
    expect(splitName('trailing.')).toEqual(['trailing.', '']);
    expect(splitName('')).toEqual(['', '']);
  });
  it('head + tail is the name', () => {
    for (const n of ['a.b.c', 'x y.z.w', 'EXECUTOR - io.kestra.plugin.core.execution.Fail', '.a.b']) expect(splitName(n).join('')).toBe(n);
  });
});

describe('indentPx', () => {
  it('indents 14 px a level, then 3 px, capped at a quarter of the column', () => {
    expect(indentPx(0, 800)).toBe(0);
    expect(indentPx(10, 800)).toBe(140);
    expect(indentPx(20, 800)).toBe(170);
    expect(indentPx(30, 800)).toBe(200);
    expect(indentPx(199, 800)).toBe(200);
    expect(indentPx(30, 320)).toBe(80);
    expect(indentPx(5, 320)).toBe(70);
    expect(indentPx(199, 40)).toBe(14);
  });
  it('shows the depth once the indentation compresses', () => {
    expect(depthShown(10, 800)).toBe(false);
    expect(depthShown(11, 800)).toBe(true);
    expect(depthShown(6, 320)).toBe(true);
    expect(depthShown(5, 320)).toBe(false);
    expect(depthShown(0, 40)).toBe(false);
  });
});

describe('clampGutter', () => {
  it('keeps the column between 160 px and the width less 200 px', () => {
    expect(clampGutter(50, 1400)).toBe(160);
    expect(clampGutter(1300, 1400)).toBe(1200);
    expect(clampGutter(500, 1400)).toBe(500);
    expect(clampGutter(500, 300)).toBe(160);
  });
});

describe('fitGutterWidth', () => {
  it('leaves the content its width beside the indentation the column will have', () => {
    for (const [content, depth] of [
      [300, 30],
      [100, 30],
      [400, 3],
      [50, 0],
      [240, 199],
    ] as const) {
      const g = fitGutterWidth(content, depth);
      expect(g - indentPx(depth, g)).toBeGreaterThanOrEqual(content);
      // and not wider than the full indentation needs
      expect(g).toBeLessThanOrEqual(content + indentPx(depth, 1e9));
    }
    expect(fitGutterWidth(50, 0)).toBe(50);
  });
});
