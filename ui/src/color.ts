// One colour per service: a stable hash of the name picks from a palette.

/** Kept for reference: a fixed palette would collide too often for similar names (kestra / kestra-webserver). */
export const PALETTE = [
  '#4f6bed', // indigo
  '#13a89e', // teal
  '#e8833a', // orange
  '#a35bd6', // violet
  '#2f9e44', // green
  '#d6457a', // pink
  '#1c8fd6', // sky
  '#b58a00', // ochre
  '#6b7f99', // slate
  '#c2410c', // rust
  '#0e7c86', // deep teal
  '#7c5cff', // iris
];

/** FNV-1a 32-bit. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Murmur3's finalizer: spreads FNV's low bits, which are poor for similar names. */
export function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const cache = new Map<string, string>();

/**
 * A service's colour: the hash picks a hue (red, kept for errors, is left out)
 * and one of three lightness steps, so similar names rarely look alike.
 */
export function serviceColor(service: string): string {
  if (!service) return '#8a94a6';
  let c = cache.get(service);
  if (c === undefined) {
    const x = mix(hash(service));
    const hue = 25 + ((x % 3600) / 3600) * 310; // 25°..335°: no pure red
    const light = [44, 52, 38][(x >>> 12) % 3]!;
    const sat = [62, 70, 55][(x >>> 16) % 3]!;
    c = `hsl(${hue.toFixed(0)} ${sat}% ${light}%)`;
    if (cache.size < 10000) cache.set(service, c);
  }
  return c;
}
