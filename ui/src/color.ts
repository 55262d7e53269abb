// Service colours. Twelve colours chosen to stay apart for normal vision
// and under protanopia, deuteranopia and tritanopia (test/color.test.ts
// measures it), none of them red, which is kept for errors; readable on
// both themes' panels. Within a view (a page, one trace) services take the
// palette in order, so the first twelve never share a colour and a view
// with few services gets the most distinct ones. (Hashing names to slots,
// as before, put two purples and two blues into one trace.)

import { hash, mix } from './hash';

/** The palette, most distinct first: a view's first services get the first entries. */
export const PALETTE = [
  '#259dfb', // blue
  '#d9ae36', // gold
  '#3fa944', // green
  '#c42d81', // magenta
  '#6b66ef', // violet
  '#16707b', // deep teal
  '#fd84cf', // pink
  '#647520', // olive
  '#8831b3', // purple
  '#7cc991', // mint
  '#b1a9f7', // lavender
  '#bb68ce', // orchid
] as const;

/** The colour of spans without a service. */
export const NO_SERVICE = '#8a94a6';

/**
 * Colour slots of one view: each new service takes the next palette entry;
 * past the twelfth, services share by the hash of their name.
 */
export class ColorScope {
  private readonly slots = new Map<string, number>();

  colorOf(service: string): string {
    if (!service) return NO_SERVICE;
    let s = this.slots.get(service);
    if (s === undefined) {
      s = this.slots.size < PALETTE.length ? this.slots.size : mix(hash(service)) % PALETTE.length;
      // Bounded: a view with more services than this shares by hash without remembering.
      if (this.slots.size < 10_000) this.slots.set(service, s);
    }
    return PALETTE[s]!;
  }

  /** Takes slots for these services first, in this order (a view that knows its services up front). */
  claim(services: Iterable<string>): void {
    for (const s of services) this.colorOf(s);
  }
}

let scope = new ColorScope();
let scopeKey = '';

/**
 * Starts a new view's colours when `key` differs from the last one (main.ts
 * calls it on every navigation with the page and, for a trace, its ID), so
 * selecting a span or scrolling never repaints services.
 */
export function colorScopeFor(key: string): void {
  if (key === scopeKey) return;
  scopeKey = key;
  scope = new ColorScope();
}

/** Gives these services the first colours of the current view, in this order (sorted by the caller for stability). */
export function claimServiceColors(services: Iterable<string>): void {
  scope.claim(services);
}

/** A service's colour in the current view. */
export function serviceColor(service: string): string {
  return scope.colorOf(service);
}

/** `#rgb` / `#rrggbb` / `rgb(r, g, b)` → [r, g, b] in 0..255, or null. */
export function parseColor(c: string): [number, number, number] | null {
  const s = c.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1]![i]!.repeat(2), 16)) as [number, number, number];
  m = /^#([0-9a-f]{6})$/i.exec(s);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1]!.slice(i, i + 2), 16)) as [number, number, number];
  m = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  return null;
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance([r, g, b]: [number, number, number]): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two colours (1..21). */
export function contrast(a: string, b: string): number {
  const x = parseColor(a);
  const y = parseColor(b);
  if (!x || !y) return 1;
  const la = luminance(x);
  const lb = luminance(y);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

export const LABEL_LIGHT = '#ffffff';
export const LABEL_DARK = '#000000';

/** The label colour that reads best on `bg` (a bar's colour): white or near-black, whichever contrasts more. */
export function labelColor(bg: string): string {
  return contrast(bg, LABEL_LIGHT) >= contrast(bg, LABEL_DARK) ? LABEL_LIGHT : LABEL_DARK;
}
