import { describe, expect, it } from 'vitest';
import { ColorScope, contrast, LABEL_DARK, LABEL_LIGHT, labelColor, NO_SERVICE, PALETTE, parseColor } from '../src/color';

// Colour-vision-deficiency simulation (Machado, Oliveira & Fernandes 2009,
// severity 1, on linear RGB) and OKLab distances ×100 (about 2 is just
// noticeable), to measure that the palette's colours stay apart.
const CVD: Record<string, number[][]> = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};
const toLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
function linear(hex: string): number[] {
  return parseColor(hex)!.map((v) => toLinear(v / 255));
}
function oklab([r, g, b]: number[]): number[] {
  const l = Math.cbrt(0.4122214708 * r! + 0.5363325363 * g! + 0.0514459929 * b!);
  const m = Math.cbrt(0.2119034982 * r! + 0.6806995451 * g! + 0.1073969566 * b!);
  const s = Math.cbrt(0.0883024619 * r! + 0.2817188376 * g! + 0.6299787005 * b!);
  return [0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s, 1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s, 0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s];
}
function simulate(hex: string, vision: string): number[] {
  const v = linear(hex);
  if (vision === 'normal') return oklab(v);
  return oklab(CVD[vision]!.map((row) => Math.min(1, Math.max(0, row[0]! * v[0]! + row[1]! * v[1]! + row[2]! * v[2]!))));
}
function distance(a: string, b: string, vision: string): number {
  const x = simulate(a, vision);
  const y = simulate(b, vision);
  return Math.hypot(x[0]! - y[0]!, x[1]! - y[1]!, x[2]! - y[2]!) * 100;
}
function closest(colors: readonly string[], vision: string): number {
  let m = Infinity;
  for (let i = 0; i < colors.length; i++) for (let j = i + 1; j < colors.length; j++) m = Math.min(m, distance(colors[i]!, colors[j]!, vision));
  return m;
}

describe('the service palette', () => {
  it('has twelve different colours, clearly apart for normal vision', () => {
    expect(PALETTE).toHaveLength(12);
    expect(closest(PALETTE, 'normal')).toBeGreaterThan(12);
  });

  it('keeps the twelve apart under protanopia, deuteranopia and tritanopia', () => {
    for (const vision of Object.keys(CVD)) expect(closest(PALETTE, vision), vision).toBeGreaterThan(6);
  });

  it('keeps away from the error red in every kind of vision', () => {
    for (const red of ['#d92d20', '#ff6b5f']) for (const c of PALETTE) for (const vision of ['normal', ...Object.keys(CVD)]) expect(distance(c, red, vision), `${c} ${vision}`).toBeGreaterThan(6);
  });

  it('shows on both themes’ panels', () => {
    for (const c of PALETTE) {
      expect(contrast(c, '#ffffff'), c).toBeGreaterThan(1.9);
      expect(contrast(c, '#191d25'), c).toBeGreaterThan(2.2);
    }
  });
});

describe('ColorScope', () => {
  it('gives the first twelve services of a view twelve different colours', () => {
    const scope = new ColorScope();
    // Names that hashed to the same colour before.
    const names = ['kestra', 'kestra-webserver', 'upstream', 'downstream', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const colors = names.map((n) => scope.colorOf(n));
    expect(new Set(colors).size).toBe(12);
    expect(colors.slice(0, 4)).toEqual(PALETTE.slice(0, 4));
  });

  it('keeps a service’s colour within the view', () => {
    const scope = new ColorScope();
    const first = scope.colorOf('kestra');
    for (let i = 0; i < 30; i++) scope.colorOf(`svc-${i}`);
    expect(scope.colorOf('kestra')).toBe(first);
  });

  it('claims colours in the order given', () => {
    const scope = new ColorScope();
    scope.claim(['b', 'a']);
    expect(scope.colorOf('a')).toBe(PALETTE[1]);
    expect(scope.colorOf('b')).toBe(PALETTE[0]);
  });

  it('colours spans without a service grey', () => {
    expect(new ColorScope().colorOf('')).toBe(NO_SERVICE);
  });
});

describe('labelColor', () => {
  it('picks the label colour that reads on the bar', () => {
    for (const c of [...PALETTE, '#d92d20', '#ff6b5f', NO_SERVICE, '#ffffff', '#000000', '#fff3bf']) {
      const l = labelColor(c);
      expect([LABEL_LIGHT, LABEL_DARK]).toContain(l);
      // White or near-black: one of them always reaches 4.5 on any colour.
      expect(contrast(l, c), c).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('never puts a red label on a red bar', () => {
    expect(labelColor('#d92d20')).toBe(LABEL_LIGHT);
    expect(labelColor('#ff6b5f')).toBe(LABEL_DARK);
  });

  it('parses hex and rgb()', () => {
    expect(parseColor('#fff')).toEqual([255, 255, 255]);
    expect(parseColor('#259dfb')).toEqual([0x25, 0x9d, 0xfb]);
    expect(parseColor('rgb(1, 2, 3)')).toEqual([1, 2, 3]);
    expect(parseColor('hsl(1 2% 3%)')).toBeNull();
  });
});
