// Flame graph (icicle) layout from the same tree as the waterfall: each
// span a box, x = time within the zoomed subtree's extent, y = depth below
// it. The scale is the *extent* (earliest start to latest end of every span
// under the zoom root, or of the whole trace), not the zoom root's own
// duration: work that outlives the span that started it (a 71 ms API call
// that starts a 10 s workflow execution) must be drawn, not clipped away.
// Boxes narrower than `minFrac` of the view are left out (with their
// subtrees when the whole subtree is that narrow), and at most `cap` boxes
// are laid out, so a 100k-span trace stays a few thousand DOM nodes.
// Iterative: trees can be 100k deep.

import type { SpanTree } from './tree';

export interface FlameBox {
  node: number;
  /** Fractions of the view width. */
  x: number;
  w: number;
  /** Rows below the zoom root (0 = the root row). */
  row: number;
}

/** Per node, the earliest start and latest end of its subtree (itself included). */
export interface Extents {
  lo: Float64Array;
  hi: Float64Array;
}

const cache = new WeakMap<SpanTree, Extents>();

/** Subtree extents of every node: one iterative pre-order walk, then a reverse pass. */
export function subtreeExtents(tree: SpanTree): Extents {
  const hit = cache.get(tree);
  if (hit) return hit;
  const n = tree.nodes.length;
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  const order: number[] = [];
  const stack: number[] = [...tree.roots].reverse();
  const seen = new Uint8Array(n);
  while (stack.length) {
    const i = stack.pop()!;
    if (seen[i]) continue;
    seen[i] = 1;
    order.push(i);
    const nd = tree.nodes[i]!;
    lo[i] = nd.start;
    hi[i] = Math.max(nd.start, nd.end);
    const ch = nd.children;
    for (let k = ch.length - 1; k >= 0; k--) stack.push(ch[k]!);
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    const p = tree.nodes[i]!.parent;
    if (p >= 0 && p < n && seen[p]) {
      if (lo[i]! < lo[p]!) lo[p] = lo[i]!;
      if (hi[i]! > hi[p]!) hi[p] = hi[i]!;
    }
  }
  const ext = { lo, hi };
  cache.set(tree, ext);
  return ext;
}

/** The time range the flame graph is scaled to at this zoom (-1: the whole trace). */
export function flameRange(tree: SpanTree, zoom: number): [number, number] | null {
  const { lo, hi } = subtreeExtents(tree);
  const roots = zoom >= 0 && zoom < tree.nodes.length ? [zoom] : tree.roots;
  let z0 = Infinity;
  let z1 = -Infinity;
  for (const r of roots) {
    z0 = Math.min(z0, lo[r]!);
    z1 = Math.max(z1, hi[r]!);
  }
  return Number.isFinite(z0) ? [z0, z1] : null;
}

export function flameBoxes(tree: SpanTree, zoom: number, minFrac = 0.002, cap = 5000): { boxes: FlameBox[]; hidden: number } {
  const boxes: FlameBox[] = [];
  let hidden = 0;
  const range = flameRange(tree, zoom);
  if (!range) return { boxes, hidden };
  const [z0, z1] = range;
  const { lo, hi } = subtreeExtents(tree);
  const roots = zoom >= 0 && zoom < tree.nodes.length ? [zoom] : tree.roots;
  const span = Math.max(1, z1 - z0);
  const base = zoom >= 0 ? tree.nodes[zoom]!.depth : 0;
  const stack: number[] = [...roots].reverse();
  while (stack.length) {
    const i = stack.pop()!;
    const n = tree.nodes[i]!;
    if (boxes.length >= cap || (hi[i]! - lo[i]!) / span < minFrac) {
      hidden += tree.size[i] ?? 1;
      continue;
    }
    const x = (Math.max(n.start, z0) - z0) / span;
    const w = (Math.min(n.end, z1) - Math.max(n.start, z0)) / span;
    if (w < minFrac) hidden += 1;
    else boxes.push({ node: i, x, w, row: n.depth - base });
    const ch = n.children;
    for (let k = ch.length - 1; k >= 0; k--) stack.push(ch[k]!);
  }
  return { boxes, hidden };
}
