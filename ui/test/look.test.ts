import { describe, expect, it } from 'vitest';
import { hasLightBackground, markLightSvg } from '../src/chartTheme';
import { formatTime, formatTimeMs, plural, utcOffsetLabel } from '../src/format';
import { resolveTheme, themeChoice } from '../src/theme';

describe('plural', () => {
  it('puts the noun in the right number', () => {
    expect(plural(1, 'row')).toBe('1 row');
    expect(plural(0, 'row')).toBe('0 rows');
    expect(plural(12345, 'span')).toBe('12,345 spans');
    expect(plural(2, 'match', 'matches')).toBe('2 matches');
  });
});

describe('formatTime', () => {
  const ns = '1796625825123000000';
  const ms = 1796625825123;

  it('is absolute in the local zone, relative on hover', () => {
    const t = formatTime(ns, { now: ms + 3 * 60_000, withDate: true });
    const d = new Date(ms);
    const pad = (n: number) => String(n).padStart(2, '0');
    expect(t.text).toBe(`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.123`);
    expect(t.title).toBe(`3m ago · ${utcOffsetLabel(ms)}`);
    expect(t.iso).toBe(new Date(ms).toISOString());
  });

  it('leaves the date out for today and keeps it for other days', () => {
    expect(formatTime(ns, { now: ms + 1000 }).text).not.toContain('-');
    expect(formatTime(ns, { now: ms + 3 * 86_400_000 }).text).toMatch(/^\d{4}-\d\d-\d\d /);
  });

  it('takes milliseconds too, and survives nonsense', () => {
    expect(formatTimeMs(ms, { now: ms, withDate: true }).text).toBe(formatTime(ns, { now: ms, withDate: true }).text);
    expect(formatTime('not a number', { now: ms }).iso).toBe('1970-01-01T00:00:00.000Z');
  });

  it('names the offset as UTC±hh:mm', () => {
    expect(utcOffsetLabel(ms)).toMatch(/^UTC[+-]\d\d:\d\d$/);
  });
});

describe('theme', () => {
  const store = (v: string | null) => ({ getItem: () => v });

  it('reads the remembered choice; anything else is system', () => {
    expect(themeChoice(store('dark'))).toBe('dark');
    expect(themeChoice(store('light'))).toBe('light');
    expect(themeChoice(store('purple'))).toBe('system');
    expect(themeChoice(store(null))).toBe('system');
    expect(
      themeChoice({
        getItem: () => {
          throw new Error('denied');
        },
      }),
    ).toBe('system');
  });

  it('resolves system to what the system prefers', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });
});

describe('charts drawn for the light theme', () => {
  const light =
    '<svg width="800" height="260" viewBox="0 0 800 260" xmlns="http://www.w3.org/2000/svg">\n<rect x="0" y="0" width="800" height="260" opacity="1" fill="#FFFFFF" stroke="none"/>\n<polyline/></svg>';
  const dark = light.replace('#FFFFFF', '#191D25');

  it('are recognised by their white background', () => {
    expect(hasLightBackground(light)).toBe(true);
    expect(hasLightBackground(dark)).toBe(false);
    expect(hasLightBackground('<svg><polyline/><rect fill="#ffffff"/></svg>')).toBe(false);
  });

  it('are marked on-light (once, keeping a class they have); others are left alone', () => {
    expect(markLightSvg(light)).toMatch(/^<svg class="on-light" width="800"/);
    expect(markLightSvg(dark)).toBe(dark);
    const classed = light.replace('<svg ', '<svg class="chart" ');
    expect(markLightSvg(classed)).toMatch(/^<svg class="on-light chart"/);
    expect(new DOMParserLike(markLightSvg(light)).ok).toBe(true);
  });
});

/** Well-formedness of the marked root tag: one class attribute, closed tag. */
class DOMParserLike {
  ok: boolean;
  constructor(svg: string) {
    const tag = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
    this.ok = (tag.match(/\bclass="/g) ?? []).length === 1 && tag.endsWith('>');
  }
}
