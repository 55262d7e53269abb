// Flame graph (icicle) layout from the same tree as the waterfall: each
// span a box, x = time within the zoomed span, y = depth below it. Boxes
// narrower than `minFrac` of the view are left out with their subtrees,
// and at most `cap` boxes are laid out, so a 100k-span trace stays a few
// thousand DOM nodes. Iterative: trees can be 100k deep.

import type { SpanTree } from './tree';

export interface FlameBox {
  node: number;
  /** Fractions of the view width. */
  x: number;
  w: number;
  /** Rows below the zoom root (0 = the root row). */
  row: number;
}

export function flameBoxes(tree: SpanTree, zoom: number, minFrac = 0.002, cap = 5000): { boxes: FlameBox[]; hidden: number } {
  const boxes: FlameBox[] = [];
  let hidden = 0;
  const roots = zoom >= 0 && zoom < tree.nodes.length ? [zoom] : tree.roots;
  let z0 = Infinity;
  let z1 = -Infinity;
  for (const r of roots) {
    const n = tree.nodes[r]!;
    z0 = Math.min(z0, n.start);
    z1 = Math.max(z1, n.end);
  }
  if (!Number.isFinite(z0)) return { boxes, hidden };
  const span = Math.max(1, z1 - z0);
  const base = zoom >= 0 ? tree.nodes[zoom]!.depth : 0;
  const stack: number[] = [...roots].reverse();
  while (stack.length) {
    const i = stack.pop()!;
    const n = tree.nodes[i]!;
    const x = (Math.max(n.start, z0) - z0) / span;
    const w = (Math.min(n.end, z1) - Math.max(n.start, z0)) / span;
    if (w < minFrac || boxes.length >= cap) {
      hidden += tree.size[i] ?? 1;
      continue;
    }
    boxes.push({ node: i, x, w, row: n.depth - base });
    for (let k = n.children.length - 1; k >= 0; k--) stack.push(n.children[k]!);
  }
  return { boxes, hidden };
}
