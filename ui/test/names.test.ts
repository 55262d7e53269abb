import { describe, expect, it } from 'vitest';
import { clampGutter, depthShown, indentPx, splitName } from '../src/names';

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
    expect(indentPx(0, 600)).toBe(0);
    expect(indentPx(10, 600)).toBe(140);
    expect(indentPx(20, 600)).toBe(150);
    expect(indentPx(30, 600)).toBe(150);
    expect(indentPx(199, 600)).toBe(150);
    expect(indentPx(199, 1000)).toBe(250);
    expect(indentPx(30, 1000)).toBe(200);
  });
  it('shows the depth past the fully indented levels', () => {
    expect(depthShown(10)).toBe(false);
    expect(depthShown(11)).toBe(true);
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
