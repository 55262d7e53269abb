// The flame graph view of the trace page: boxes from `flameBoxes`, placed
// through the CSSOM (the CSP allows it; no style attributes in markup).
// Click zooms into a span's subtree (and selects it); lens matches and
// the critical path highlight boxes; error spans are marked.

import { h, setText } from '../dom';
import { flameBoxes } from '../flame';
import { formatDuration } from '../format';
import { labelColor, serviceColor } from '../color';
import type { SpanTree } from '../tree';

const ROW_PX = 20;

export class FlameGraph {
  readonly el: HTMLDivElement;
  private readonly canvas: HTMLDivElement;
  private readonly info: HTMLSpanElement;
  private tree: SpanTree | null = null;
  private zoom = -1;
  private matches: Uint8Array | null = null;
  private critical: Uint8Array | null = null;

  constructor(private readonly onOpen: (node: number) => void) {
    this.canvas = h('div', { class: 'fg-canvas', testid: 'flame-graph' });
    this.info = h('span', { class: 'muted small' });
    const reset = h('button', { class: 'btn small', testid: 'flame-reset', attrs: { type: 'button' }, text: 'Reset zoom' });
    reset.addEventListener('click', () => {
      this.zoom = -1;
      this.render();
    });
    this.el = h('div', { class: 'fg', attrs: { hidden: true } }, h('div', { class: 'fg-bar' }, reset, this.info), this.canvas);
  }

  setModel(tree: SpanTree, matches: Uint8Array | null, critical: Uint8Array | null): void {
    if (tree !== this.tree) this.zoom = -1;
    this.tree = tree;
    this.matches = matches;
    this.critical = critical;
    if (!this.el.hidden) this.render();
  }

  show(on: boolean): void {
    this.el.hidden = !on;
    if (on) this.render();
  }

  private render(): void {
    const t = this.tree;
    if (!t) return;
    const { boxes, hidden } = flameBoxes(t, this.zoom);
    let rows = 0;
    const els: HTMLElement[] = [];
    for (const b of boxes) {
      const n = t.nodes[b.node]!;
      rows = Math.max(rows, b.row + 1);
      let cls = 'fg-box';
      if (n.flags & 1) cls += ' error';
      if (this.matches) cls += this.matches[b.node] ? ' match' : ' dim';
      if (this.critical) cls += this.critical[b.node] ? ' cp-on' : ' cp-dim';
      const el = h('div', { class: cls, testid: 'flame-box', data: { node: b.node }, title: `${n.service} · ${n.name} · ${formatDuration(n.end - n.start)}` });
      setText(el, n.name || '(no name)');
      el.style.left = `${b.x * 100}%`;
      el.style.width = `${b.w * 100}%`;
      el.style.top = `${b.row * ROW_PX}px`;
      const bg = serviceColor(n.service);
      el.style.background = bg;
      el.style.color = labelColor(bg);
      el.addEventListener('click', () => {
        this.zoom = b.node;
        this.onOpen(b.node);
        this.render();
      });
      els.push(el);
    }
    this.canvas.replaceChildren(...els);
    this.canvas.style.height = `${rows * ROW_PX}px`;
    setText(this.info, `${boxes.length} spans drawn${hidden ? `, ${hidden} too narrow to draw at this zoom` : ''}`);
  }
}
