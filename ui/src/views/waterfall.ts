// The virtualized waterfall: a minimap, a time axis, and a pool of fixed-height
// rows recycled as the list scrolls (only visible rows exist in the DOM).

import './traces.css';
import { labelColor, serviceColor } from '../color';
import { h, setText, toggleClass } from '../dom';
import { anyValueToString, formatDuration, plural, severityName, shortId } from '../format';
import { F, type Lane, type LogEntry, type SpanNode, type SpanTree } from '../tree';
import { contextValues, shortKey } from '../context';
import { rowWindow } from './rowWindow';
import { clampGutter, depthShown, fitGutterWidth, indentPx, saveGutter, savedGutter, splitName } from '../names';

export const ROW_H = 24;
const MAX_MARKS = 48;
const MINIMAP_H = 44;

export interface WaterfallModel {
  tree: SpanTree;
  /** Row contents: node index, or -(lane index + 1) for a lane header. */
  rows: Int32Array;
  lanes: Lane[] | null;
  groupKey: string;
  /** Lane index of each node (for band tints), when grouping. */
  laneOf: Int32Array | null;
  /** Effective collapse state by node index. */
  collapsed: Uint8Array;
  /** Lens matches by node index, or null when no lens. */
  matches: Uint8Array | null;
  /** Log records by node index. */
  logs: Map<number, LogEntry[]>;
  /** Context attribute keys shown as chips where their value changes (context.ts). */
  contextKeys?: readonly string[];
  /** The critical path when shown: nodes on it, and their segments (offsets from the tree's base, ns). */
  critical?: { onPath: Uint8Array; segs: Map<number, [number, number][]> } | null;
}

export interface WaterfallCallbacks {
  onToggle(node: number, expand?: boolean): void;
  onLaneToggle(value: string): void;
  /** A row was activated (click, Enter): show its details. */
  onOpen(node: number): void;
  onCursor(node: number): void;
  onTraceBadge(traceId: string): void;
}

interface RowEls {
  row: HTMLDivElement;
  indent: HTMLSpanElement;
  toggle: HTMLButtonElement;
  dot: HTMLSpanElement;
  name: HTMLSpanElement;
  head: HTMLSpanElement;
  tail: HTMLSpanElement;
  svc: HTMLSpanElement;
  ctx: HTMLSpanElement;
  badges: HTMLSpanElement;
  tl: HTMLDivElement;
  bar: HTMLDivElement;
  dur: HTMLSpanElement;
  marks: HTMLDivElement;
  /** Critical-path segments over the bar. */
  cp: HTMLDivElement;
  /** The log records its marks show (the model's list, compared by identity). */
  logs: LogEntry[] | undefined;
  /** The row position it stands at, or -1 when unused. */
  pos: number;
  /** What the row shows now (node index or lane code) and for which model/zoom version. */
  bound: number;
  version: number;
}

export class Waterfall {
  readonly el: HTMLDivElement;
  private readonly scroller: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly rowsEl: HTMLDivElement;
  private readonly axisTicks: HTMLDivElement;
  private readonly axisLabel: HTMLSpanElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly mmViewport: HTMLDivElement;
  private readonly mmSel: HTMLDivElement;
  private readonly zoomReset: HTMLButtonElement;
  private readonly emptyEl: HTMLDivElement;
  private readonly progressEl: HTMLDivElement;
  private readonly progressBar: HTMLSpanElement;
  private pool: RowEls[] = [];
  /** Rows were bound since the last frame (their style is not computed yet). */
  private fresh = false;
  /** The row every new row is cloned from (makeRow). */
  private template: HTMLDivElement | null = null;
  private model: WaterfallModel | null = null;
  private posOf: Int32Array = new Int32Array(0);
  /** The window of row positions bound now: [winFirst, winLast). */
  private winFirst = 0;
  private winLast = 0;
  /** The version the window's rows were last bound at (NaN: never). */
  private boundVersion = NaN;
  /** What the time axis shows (zoom window and version), to redraw it only when that changes. */
  private axisKey = '';
  private version = 1;
  private z0 = 0;
  private z1 = 1;
  private zoomed = false;
  private cursor = -1;
  private selected = -1;
  private raf = 0;
  private mmDirty = true;
  /** The minimap viewport box's last top and height (px). */
  private mmTop = NaN;
  private mmHeight = NaN;
  private readonly ro: ResizeObserver;
  private drag: { x0: number; moved: boolean } | null = null;
  private gutterW = 0;
  /** The name column's width the user chose (drag, double-click), or null for the automatic one. */
  private userGutter: number | null = savedGutter();
  private readonly resizer: HTMLDivElement;

  constructor(private readonly cb: WaterfallCallbacks) {
    this.canvas = h('canvas', { class: 'mm-canvas' });
    this.mmViewport = h('div', { class: 'mm-viewport' });
    this.mmSel = h('div', { class: 'mm-sel', attrs: { hidden: true } });
    this.zoomReset = h('button', { class: 'btn small mm-reset', attrs: { type: 'button', hidden: true }, text: 'Reset zoom' });
    const minimap = h('div', { class: 'wf-minimap', testid: 'minimap', title: 'Drag to zoom into a time window; click to jump; double-click to reset' }, this.canvas, this.mmViewport, this.mmSel);
    this.axisTicks = h('div', { class: 'wf-axis-ticks' });
    this.axisLabel = h('span', { class: 'wf-axis-label' });
    this.resizer = h('div', {
      class: 'wf-resize',
      testid: 'name-column-resize',
      title: 'Drag to resize the name column; double-click to fit the names',
      attrs: { role: 'separator', 'aria-orientation': 'vertical', 'aria-label': 'Resize the name column', tabindex: 0 },
    });
    const axis = h('div', { class: 'wf-axis' }, h('div', { class: 'wf-axis-gutter' }, this.axisLabel, this.zoomReset, this.resizer), this.axisTicks);
    this.spacer = h('div', { class: 'wf-spacer' });
    this.rowsEl = h('div', { class: 'wf-rows' });
    this.emptyEl = h('div', { class: 'wf-empty', text: 'Loading…' });
    this.progressBar = h('span', { class: 'wf-progress-bar' });
    this.progressEl = h('div', { class: 'wf-progress', testid: 'waterfall-progress', attrs: { hidden: true, role: 'progressbar' } }, this.progressBar, h('span', { class: 'wf-progress-text' }));
    this.scroller = h('div', { class: 'wf-scroll', attrs: { tabindex: 0, role: 'tree', 'aria-label': 'Spans' } }, this.spacer, this.rowsEl, this.emptyEl);
    this.el = h('div', { class: 'wf', testid: 'waterfall' }, minimap, this.progressEl, axis, this.scroller);

    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.scroller.addEventListener('keydown', (ev) => this.onKey(ev));
    this.rowsEl.addEventListener('click', (ev) => this.onClick(ev));
    this.rowsEl.addEventListener('dblclick', (ev) => {
      const n = this.nodeAt(ev.target as Element);
      if (n >= 0 && !(ev.target as Element).closest('.wf-toggle')) this.cb.onToggle(n);
    });
    this.zoomReset.addEventListener('click', () => this.setZoom(null));
    minimap.addEventListener('pointerdown', (ev) => this.mmDown(ev, minimap));
    minimap.addEventListener('pointermove', (ev) => this.mmMove(ev, minimap));
    minimap.addEventListener('pointerup', (ev) => this.mmUp(ev, minimap));
    minimap.addEventListener('dblclick', () => this.setZoom(null));
    this.resizer.addEventListener('pointerdown', (ev) => this.resizeDown(ev));
    this.resizer.addEventListener('dblclick', () => this.fitGutter());
    this.resizer.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
      ev.preventDefault();
      this.setGutter(this.gutterW + (ev.key === 'ArrowLeft' ? -20 : 20));
    });
    this.ro = new ResizeObserver(() => {
      this.mmDirty = true;
      this.schedule();
    });
    this.ro.observe(this.el);
    this.ro.observe(this.canvas);
  }

  destroy(): void {
    this.ro.disconnect();
    cancelAnimationFrame(this.raf);
  }

  focus(): void {
    // Focusing brings style up to date first: right after rows were bound
    // (a new trace's first rows), that is every new row's style, in the
    // task that bound them. The frame does that work anyway: focus there.
    if (this.fresh) {
      requestAnimationFrame(() => this.scroller.focus({ preventScroll: true }));
      return;
    }
    this.scroller.focus({ preventScroll: true });
  }

  setMessage(text: string | null): void {
    this.emptyEl.hidden = text === null;
    if (text !== null) this.emptyEl.textContent = text;
  }

  /** A loading trace: how far along (text and fraction), or null when done. */
  setProgress(text: string | null, frac = 0): void {
    this.progressEl.hidden = text === null;
    if (text === null) return;
    setText(this.progressEl.lastElementChild as HTMLElement, text);
    this.progressBar.style.width = `${Math.round(Math.min(1, Math.max(0, frac)) * 100)}%`;
    this.progressEl.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
  }

  /** The model's nodes changed in place (more spans of a loading trace arrived): rebind rows, redraw the minimap. */
  refresh(): void {
    this.version++;
    this.mmDirty = true;
    this.schedule();
  }

  setModel(m: WaterfallModel): void {
    const prevTree = this.model?.tree;
    this.model = m;
    // A new tree may put another node at a pooled row's index (a placeholder
    // replaced by the span it stood for): rebind every row in full.
    if (prevTree !== m.tree) for (const r of this.pool) r.bound = NaN;
    if (prevTree !== m.tree && !this.zoomed) {
      this.z0 = 0;
      this.z1 = Math.max(m.tree.duration, 1);
    }
    if (this.z1 <= this.z0) this.z1 = this.z0 + 1;
    const pos = new Int32Array(m.tree.nodes.length).fill(-1);
    for (let i = 0; i < m.rows.length; i++) {
      const x = m.rows[i]!;
      if (x >= 0) pos[x] = i;
    }
    this.posOf = pos;
    this.spacer.style.height = `${m.rows.length * ROW_H}px`;
    this.version++;
    this.mmDirty = true;
    this.setMessage(m.rows.length === 0 ? 'No spans' : null);
    this.renderNow();
  }

  /** Zoom to [t0, t1] (ns relative to the tree base), or back to the whole trace. */
  setZoom(w: [number, number] | null): void {
    const d = Math.max(this.model?.tree.duration ?? 1, 1);
    if (!w || w[1] - w[0] <= 0) {
      this.zoomed = false;
      this.z0 = 0;
      this.z1 = d;
    } else {
      this.zoomed = true;
      this.z0 = Math.max(0, w[0]);
      this.z1 = Math.min(d, w[1]);
      if (this.z1 - this.z0 < 1) this.z1 = this.z0 + 1;
    }
    this.version++;
    this.mmDirty = true;
    this.schedule();
  }

  getZoom(): [number, number] | null {
    return this.zoomed ? [this.z0, this.z1] : null;
  }

  setSelected(node: number): void {
    this.selected = node;
    this.version++;
    this.schedule();
  }

  setCursor(node: number, opts: { scroll?: boolean } = {}): void {
    this.cursor = node;
    this.version++;
    if (opts.scroll) this.scrollToNode(node);
    this.schedule();
  }

  getCursor(): number {
    return this.cursor;
  }

  /** Scrolls so that the node's row is visible (centred when it was far). */
  scrollToNode(node: number): void {
    const p = node >= 0 && node < this.posOf.length ? this.posOf[node]! : -1;
    if (p < 0) return;
    const top = p * ROW_H;
    const vh = this.scroller.clientHeight || 600;
    const st = this.scroller.scrollTop;
    if (top < st || top + ROW_H > st + vh) this.scroller.scrollTop = Math.max(0, top - vh / 2 + ROW_H / 2);
    this.schedule();
  }

  getScrollTop(): number {
    return this.scroller.scrollTop;
  }

  setScrollTop(v: number): void {
    this.scroller.scrollTop = v;
    this.schedule();
  }

  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.renderNow();
    });
  }

  private pct(t: number): number {
    return ((t - this.z0) / (this.z1 - this.z0)) * 100;
  }

  renderNow(): void {
    const m = this.model;
    if (!m) return;
    // Read every geometry first, then only write: no layout forced mid-frame.
    const width = this.el.clientWidth;
    const vh = this.scroller.clientHeight || 600;
    const scrollTop = this.scroller.scrollTop;
    const mmWidth = this.canvas.clientWidth || width;
    const gw = this.userGutter !== null ? clampGutter(this.userGutter, width) : Math.round(Math.min(640, Math.max(260, width * 0.44)));
    if (gw !== this.gutterW) {
      this.gutterW = gw;
      this.el.style.setProperty('--gutter', `${gw}px`);
      this.mmDirty = true;
      // The indentation depends on the column's width.
      this.version++;
      for (const r of this.pool) r.bound = NaN;
    }
    const n = m.rows.length;
    const [first, last] = rowWindow(this.winFirst, this.winLast, Math.floor(scrollTop / ROW_H), Math.ceil((scrollTop + vh) / ROW_H), n);
    // The same window at the same version (most scrolled frames): every row is bound already.
    const same = first === this.winFirst && last === this.winLast && this.version === this.boundVersion;
    this.winFirst = first;
    this.winLast = last;
    this.boundVersion = this.version;
    if (same) {
      this.renderMinimap(Math.floor(scrollTop / ROW_H), Math.ceil(vh / ROW_H), mmWidth);
      return;
    }
    const count = last - first;
    // Rows keep their position while it stays in view: a scrolled frame
    // binds only the rows that came into view (the others move with the
    // scroller, and the browser repaints only what changed).
    // The DOM keeps the rows in their visual order (screen readers, tests):
    // rows coming into view go before the first kept row or after the rest.
    const free: RowEls[] = [];
    const have = new Uint8Array(count);
    let minKept: RowEls | null = null;
    for (const r of this.pool) {
      if (r.pos >= first && r.pos < last && !have[r.pos - first]) {
        have[r.pos - first] = 1;
        if (!minKept || r.pos < minKept.pos) minKept = r;
      } else free.push(r);
    }
    const keptEl = minKept?.row ?? null;
    const keptPos = minKept?.pos ?? Infinity;
    for (let p = first; p < last; p++) {
      if (have[p - first]) continue;
      let r = free.pop();
      if (!r) {
        r = this.makeRow();
        this.pool.push(r);
      }
      if (p < keptPos && keptEl) this.rowsEl.insertBefore(r.row, keptEl);
      else this.rowsEl.appendChild(r.row);
      r.pos = p;
      r.bound = NaN;
      r.row.style.transform = `translateY(${p * ROW_H}px)`;
      if (r.row.hidden) r.row.hidden = false;
    }
    for (const r of free) {
      r.pos = -1;
      if (!r.row.hidden) r.row.hidden = true;
    }
    for (const r of this.pool) if (r.pos >= 0) this.bind(r, r.pos, m);
    this.renderAxis();
    this.renderMinimap(Math.floor(scrollTop / ROW_H), Math.ceil(vh / ROW_H), mmWidth);
  }

  /** A new pooled row: a deep clone of one template row (cheaper than making its sixteen elements one by one). */
  private makeRow(): RowEls {
    if (!this.template) {
      const name = h('span', { class: 'wf-name', testid: 'span-name' }, h('span', { class: 'wf-name-head' }), h('span', { class: 'wf-name-tail' }));
      const gutter = h(
        'div',
        { class: 'wf-gutter' },
        h('span', { class: 'wf-indent' }),
        h('button', { class: 'wf-toggle', testid: 'span-toggle', attrs: { type: 'button', tabindex: -1, 'aria-label': 'Collapse or expand' } }),
        h('span', { class: 'svc-dot' }),
        name,
        h('span', { class: 'wf-svc' }),
        h('span', { class: 'wf-ctx' }),
        h('span', { class: 'wf-badges' }),
      );
      const tl = h('div', { class: 'wf-tl' }, h('div', { class: 'wf-bar' }), h('div', { class: 'wf-cp' }), h('div', { class: 'wf-marks' }), h('span', { class: 'wf-dur' }));
      this.template = h('div', { class: 'wf-row', attrs: { role: 'treeitem' } }, gutter, tl);
    }
    const row = this.template.cloneNode(true) as HTMLDivElement;
    const g = row.firstElementChild!.children;
    const t = row.lastElementChild!.children;
    const name = g[3] as HTMLSpanElement;
    return {
      row,
      indent: g[0] as HTMLSpanElement,
      toggle: g[1] as HTMLButtonElement,
      dot: g[2] as HTMLSpanElement,
      name,
      head: name.firstElementChild as HTMLSpanElement,
      tail: name.lastElementChild as HTMLSpanElement,
      svc: g[4] as HTMLSpanElement,
      ctx: g[5] as HTMLSpanElement,
      badges: g[6] as HTMLSpanElement,
      tl: row.lastElementChild as HTMLDivElement,
      bar: t[0] as HTMLDivElement,
      cp: t[1] as HTMLDivElement,
      marks: t[2] as HTMLDivElement,
      dur: t[3] as HTMLSpanElement,
      logs: undefined,
      pos: -1,
      bound: NaN,
      version: 0,
    };
  }

  private bind(r: RowEls, pos: number, m: WaterfallModel): void {
    const x = m.rows[pos]!;
    if (r.bound === x && r.version === this.version) return;
    const changed = r.bound !== x;
    r.bound = x;
    r.version = this.version;
    if (changed && !this.fresh) {
      this.fresh = true;
      requestAnimationFrame(() => {
        this.fresh = false;
      });
    }
    r.row.dataset.pos = String(pos);
    if (x < 0) {
      this.bindLane(r, m, -x - 1, changed);
      return;
    }
    const tree = m.tree;
    const node = tree.nodes[x];
    const row = r.row;
    if (!node) {
      // Not arrived yet (a trace still loading): a placeholder, bound again on the next refresh.
      r.bound = NaN;
      row.className = 'wf-row pending';
      row.dataset.testid = 'span-row-pending';
      delete row.dataset.spanId;
      r.indent.style.width = '0px';
      r.toggle.hidden = true;
      r.dot.hidden = true;
      r.svc.hidden = true;
      r.tl.hidden = true;
      r.badges.replaceChildren();
      r.ctx.replaceChildren();
      this.setName(r, '…');
      return;
    }
    if (changed) {
      row.className = 'wf-row';
      row.dataset.testid = 'span-row';
      row.dataset.spanId = node.spanId;
      row.dataset.traceId = node.traceId;
      delete row.dataset.value;
      r.indent.style.width = `${indentPx(node.depth, this.gutterW)}px`;
      r.indent.dataset.depth = depthShown(node.depth, this.gutterW) ? String(node.depth) : '';
      const color = serviceColor(node.service);
      r.dot.style.background = color;
      r.dot.hidden = false;
      r.bar.style.background = color;
      this.setName(r, node.name || '(no name)');
      // The service is named where it changes (roots, and calls into another service).
      const parent = node.parent >= 0 ? tree.nodes[node.parent] : undefined;
      const showSvc = !parent || parent.service !== node.service;
      setText(r.svc, showSvc ? node.service : '');
      r.svc.hidden = !showSvc;
      this.fillContext(r.ctx, m.contextKeys, node, parent);
      r.name.title = `${node.name}\n${node.service} · ${formatDuration(node.end - node.start)}${depthShown(node.depth, this.gutterW) ? ` · depth ${node.depth}` : ''}`;
      this.fillBadges(r.badges, node.flags, node.traceId, tree.size[x]! > 1, tree.inferredBy.get(node.traceId));
      toggleClass(row, 'stitch-inferred', (node.flags & F.INFERRED) !== 0);
      r.tl.hidden = false;
      r.row.setAttribute('aria-level', String(node.depth + 1));
    }
    // Its subtree is more than itself (a light node's children are not a list it keeps).
    const hasKids = tree.size[x]! > 1;
    const coll = !!m.collapsed[x];
    r.toggle.hidden = !hasKids;
    setText(r.toggle, hasKids ? (coll ? '▸' : '▾') : '');
    if (hasKids) r.row.setAttribute('aria-expanded', String(!coll));
    else r.row.removeAttribute('aria-expanded');
    const f = node.flags;
    toggleClass(row, 'error', !!(f & F.ERROR));
    toggleClass(row, 'error-below', !(f & F.ERROR) && !!(f & F.ERROR_BELOW) && coll);
    toggleClass(row, 'has-error-below', !!(f & F.ERROR_BELOW));
    toggleClass(row, 'broken', !!(f & (F.ORPHAN | F.CYCLE | F.DUPLICATE | F.END_BEFORE_START | F.NO_START | F.STITCH_MISSING)));
    toggleClass(row, 'placeholder', !!(f & F.PLACEHOLDER));
    toggleClass(row, 'foreign', node.traceIdx > 0);
    toggleClass(row, 'foreign-alt', node.traceIdx > 0 && node.traceIdx % 2 === 0);
    toggleClass(row, 'band-alt', !!m.laneOf && m.laneOf[x]! % 2 === 1);
    toggleClass(row, 'selected', x === this.selected);
    toggleClass(row, 'cursor', x === this.cursor);
    toggleClass(row, 'match', !!m.matches && !!m.matches[x]);
    toggleClass(row, 'dim', !!m.matches && !m.matches[x]);
    const cpm = m.critical;
    toggleClass(row, 'cp-on', !!cpm && !!cpm.onPath[x]);
    toggleClass(row, 'cp-dim', !!cpm && !cpm.onPath[x]);
    this.fillCritical(r, cpm?.segs.get(x));
    row.setAttribute('aria-selected', String(x === this.selected));
    // Bar and duration label in the zoom window.
    const a = this.pct(node.start);
    const b = this.pct(node.end);
    const outside = b < 0 || a > 100;
    r.bar.hidden = outside;
    if (!outside) {
      const left = Math.max(0, a);
      const right = Math.min(100, b);
      r.bar.style.left = `${left}%`;
      r.bar.style.width = `${Math.max(0, right - left)}%`;
    }
    r.dur.hidden = outside;
    setText(r.dur, formatDuration(node.end - node.start));
    if (b < 82) {
      r.dur.style.left = `calc(${Math.max(0, b)}% + 4px)`;
      r.dur.style.right = '';
      toggleClass(r.dur, 'inside', false);
      r.dur.style.color = '';
    } else {
      r.dur.style.left = '';
      r.dur.style.right = `calc(${Math.max(0, 100 - Math.max(0, a))}% + 4px)`;
      toggleClass(r.dur, 'inside', a < 18);
      if (a < 18) r.dur.style.right = '4px';
      // On the bar: white or dark, whichever reads on the service's colour (never red on a red bar).
      r.dur.style.color = a < 18 ? labelColor(serviceColor(node.service)) : '';
    }
    // Log marks: the trace's logs arrive after its rows (and change with
    // the stitched view), so a row already bound gets them here.
    const logs = m.logs.get(x);
    if (logs !== r.logs) this.fillMarks(r, logs);
    // They move with the zoom.
    if (logs) {
      const els = r.marks.children;
      for (let i = 0; i < els.length; i++) {
        const e = logs[i];
        const el = els[i] as HTMLElement;
        if (!e) continue;
        const p = this.pct(e.offset);
        el.hidden = p < 0 || p > 100;
        el.style.left = `${p}%`;
      }
    }
  }

  private bindLane(r: RowEls, m: WaterfallModel, li: number, changed: boolean): void {
    const lane = m.lanes?.[li];
    const row = r.row;
    if (!lane) return;
    if (changed) {
      row.className = 'wf-row lane';
      row.dataset.testid = 'lane';
      row.dataset.value = lane.value;
      delete row.dataset.spanId;
      delete row.dataset.traceId;
      r.indent.style.width = '0px';
      r.indent.dataset.depth = '';
      r.dot.hidden = true;
      r.svc.hidden = true;
      r.tl.hidden = true;
      r.badges.replaceChildren();
      this.fillMarks(r, undefined);
      r.row.removeAttribute('aria-level');
      // The lane's context: the other context values of its first span.
      const firstNode = lane.first >= 0 ? m.tree.nodes[lane.first] : undefined;
      this.fillContext(
        r.ctx,
        (m.contextKeys ?? []).filter((k) => k !== m.groupKey),
        firstNode,
        undefined,
      );
    }
    r.toggle.hidden = false;
    setText(r.toggle, lane.collapsed ? '▸' : '▾');
    this.setName(r, `${m.groupKey} = ${lane.value === '' ? '(none)' : lane.value}  ·  ${lane.count} span${lane.count === 1 ? '' : 's'}`, false);
    r.name.title = lane.value;
    toggleClass(row, 'band-alt', li % 2 === 1);
    toggleClass(row, 'cursor', false);
  }

  /** The name as a head that may be cut and a tail that stays (names.ts splitName): `io.kestra.…flow.Fail`. */
  private setName(r: RowEls, text: string, split = true): void {
    const [head, tail] = split ? splitName(text) : [text, ''];
    setText(r.head, head);
    setText(r.tail, tail);
    r.tail.hidden = tail === '';
  }

  /** Chips for the context values that differ from the parent's (all of them on a root). */
  private fillContext(el: HTMLElement, keys: readonly string[] | undefined, node: SpanNode | undefined, parent: SpanNode | undefined): void {
    if (!keys?.length || !node) {
      if (el.firstChild) el.replaceChildren();
      return;
    }
    const own = contextValues(keys, node.span.attributes, node.resource.attributes);
    const up = parent ? contextValues(keys, parent.span.attributes, parent.resource.attributes) : [];
    const chips: HTMLElement[] = [];
    for (const c of own) {
      if (up.some((u) => u.key === c.key && u.value === c.value)) continue;
      chips.push(h('span', { class: 'ctx-chip', testid: 'context-chip', data: { key: c.key }, title: `${c.key} = ${c.value}`, text: `${shortKey(c.key)}: ${c.value}` }));
    }
    el.replaceChildren(...chips);
  }

  /** Sets the name column's width and remembers it. */
  private setGutter(px: number): void {
    this.userGutter = clampGutter(px, this.el.clientWidth);
    saveGutter(this.userGutter);
    this.schedule();
  }

  private resizeDown(ev: PointerEvent): void {
    if (ev.button !== 0) return;
    ev.preventDefault();
    this.resizer.setPointerCapture(ev.pointerId);
    const x0 = ev.clientX;
    const w0 = this.gutterW;
    const move = (e: PointerEvent) => {
      this.userGutter = clampGutter(w0 + e.clientX - x0, this.el.clientWidth);
      this.schedule();
    };
    const up = () => {
      this.resizer.removeEventListener('pointermove', move);
      this.resizer.removeEventListener('pointerup', up);
      this.resizer.removeEventListener('pointercancel', up);
      if (this.userGutter !== null) saveGutter(this.userGutter);
    };
    this.resizer.addEventListener('pointermove', move);
    this.resizer.addEventListener('pointerup', up);
    this.resizer.addEventListener('pointercancel', up);
  }

  /** Double-click: the width the shown rows' names need (whole, without ellipsis). */
  private fitGutter(): void {
    let need = 0;
    for (const r of this.pool) {
      if (r.pos < 0 || r.row.hidden) continue;
      const g = r.row.firstElementChild as HTMLElement;
      // The gutter's content width: every child's natural width plus the gaps and padding.
      let w = 14 + 4 * g.children.length;
      for (const c of g.children) {
        const el = c as HTMLElement;
        if (el.hidden || el === r.indent) continue;
        w += el === r.name ? r.head.scrollWidth + (r.tail.hidden ? 0 : r.tail.scrollWidth) : el.scrollWidth;
      }
      // The indentation widens with the column: fit for the one it will have there.
      const depth = Number(r.row.getAttribute('aria-level') ?? '1') - 1;
      need = Math.max(need, fitGutterWidth(w, depth));
    }
    if (need > 0) this.setGutter(need + 8);
  }

  private fillBadges(el: HTMLElement, f: number, traceId: string, hasChildren: boolean, inferredBy?: string): void {
    // Most rows have no badge: leave an empty cell untouched (no DOM change to style and lay out).
    if (!el.firstChild && !(f & ~F.ERROR_BELOW) && !(hasChildren && f & F.ERROR_BELOW)) return;
    el.replaceChildren();
    const add = (cls: string, text: string, title: string) => el.appendChild(h('span', { class: `badge ${cls}`, text, title }));
    if (f & F.STITCHED) {
      const inferred = (f & F.INFERRED) !== 0;
      el.appendChild(
        h('span', {
          class: `badge trace-badge${inferred ? ' inferred' : ''}`,
          testid: 'stitched-trace-badge',
          data: { traceId },
          text: `trace ${shortId(traceId)}`,
          title: inferred ? `Trace ${traceId}, joined by no span link: inferred by ${inferredBy ?? 'a join rule'} (open it on its own)` : `Linked trace ${traceId} (open it on its own)`,
        }),
      );
      if (inferred) {
        el.appendChild(
          h('span', {
            class: 'badge inferred-badge',
            testid: 'inferred-badge',
            text: `inferred by ${inferredBy ?? 'a join rule'}`,
            title: 'No span link joins this trace: it shares a value with the trace above (a join rule, Settings)',
          }),
        );
      }
      if (f & F.STITCH_MISSING) add('warn', 'unattached', 'The span it links to is not present');
    }
    if (f & F.PLACEHOLDER) add('warn', 'not received', 'Spans below name this span as their parent; it has not arrived');
    if (f & F.ORPHAN) add('warn', 'orphan', 'Its parent span is not in this trace (not received yet?)');
    if (f & F.CYCLE) add('warn', 'cycle', 'Its parent chain loops back to itself: the loop was cut here');
    if (f & F.DUPLICATE) add('warn', 'dup id', 'Another span has the same span ID');
    if (f & F.END_BEFORE_START) add('warn', 'end<start', 'It ends before it starts (or has no end time)');
    if (f & F.NO_START) add('warn', 'no start', 'It has no start time');
    if (f & F.TIME_SUSPECT) add('warn time-suspect', 'clock?', 'Timestamp looks wrong: zero, before 2000, more than a year before or a day after Loupe received it (stored and shown as sent)');
    if (f & F.ERROR) add('err', 'error', 'Status ERROR');
    if (hasChildren && f & F.ERROR_BELOW && !(f & F.ERROR)) el.appendChild(h('span', { class: 'err-hint', text: '●', title: 'A span below has an error' }));
  }

  /** Draws the row's critical-path segments in the current zoom window (positions through the CSSOM, which the CSP allows). */
  private fillCritical(r: RowEls, segs: [number, number][] | undefined): void {
    const n = segs?.length ?? 0;
    if (n === 0 && !r.cp.firstChild) return;
    while (r.cp.children.length > n) r.cp.lastElementChild!.remove();
    while (r.cp.children.length < n) r.cp.append(h('span', { class: 'wf-cp-seg' }));
    for (let i = 0; i < n; i++) {
      const [s0, s1] = segs![i]!;
      const el = r.cp.children[i] as HTMLElement;
      const a = Math.max(0, this.pct(s0));
      const b = Math.min(100, this.pct(s1));
      el.hidden = b < 0 || a > 100 || b < a;
      el.style.left = `${a}%`;
      el.style.width = `${Math.max(0, b - a)}%`;
    }
  }

  private fillMarks(r: RowEls, logs: LogEntry[] | undefined): void {
    r.logs = logs;
    if (r.marks.firstChild) r.marks.replaceChildren();
    if (!logs) return;
    const n = Math.min(logs.length, MAX_MARKS);
    for (let i = 0; i < n; i++) {
      const e = logs[i]!;
      const mark = h('span', { class: `wf-mark${e.severity >= 17 ? ' err' : e.severity >= 13 ? ' warn' : ''}` });
      mark.title = `${severityName(e.severity, e.record.severityText)}: ${anyValueToString(e.record.body).slice(0, 300)}`;
      r.marks.appendChild(mark);
    }
  }

  private renderAxis(): void {
    const key = `${this.z0}|${this.z1}|${this.version}`;
    if (this.axisKey === key) return;
    this.axisKey = key;
    const span = this.z1 - this.z0;
    const step = niceStep(span / 5);
    const ticks: HTMLElement[] = [];
    const start = Math.ceil(this.z0 / step) * step;
    for (let t = start; t <= this.z1 + 1e-9 && ticks.length < 12; t += step) {
      const tick = h('span', { class: 'tick', text: formatDuration(t) });
      tick.style.left = `${this.pct(t)}%`;
      ticks.push(tick);
    }
    this.axisTicks.replaceChildren(...ticks);
    const m = this.model;
    setText(this.axisLabel, m ? (this.zoomed ? `zoom ${formatDuration(this.z0)} – ${formatDuration(this.z1)}` : `${plural(m.rows.length, 'row')} · ${formatDuration(m.tree.duration)}`) : '');
    this.zoomReset.hidden = !this.zoomed;
  }

  private renderMinimap(firstVisible: number, visibleCount: number, W: number): void {
    const m = this.model;
    if (!m) return;
    const H = MINIMAP_H;
    const n = Math.max(1, m.rows.length);
    const d = Math.max(1, m.tree.duration);
    if (this.mmDirty && W > 0) {
      this.mmDirty = false;
      const dpr = window.devicePixelRatio || 1;
      this.canvas.width = Math.round(W * dpr);
      this.canvas.height = Math.round(H * dpr);
      const ctx = this.canvas.getContext('2d');
      if (ctx) {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, W, H);
        const rh = Math.max(1, H / n);
        let last = '';
        // Many rows per pixel: draw at most ~4 rows per vertical pixel.
        const stride = Math.max(1, Math.floor(n / (H * 4)));
        for (let i = 0; i < m.rows.length; i += stride) {
          const x = m.rows[i]!;
          if (x < 0) continue;
          const node = m.tree.nodes[x];
          if (!node) continue;
          const c = node.flags & F.ERROR ? '#e03131' : serviceColor(node.service);
          if (c !== last) {
            ctx.fillStyle = c;
            last = c;
          }
          const x0 = (node.start / d) * W;
          ctx.fillRect(x0, (i / n) * H, Math.max(1, ((node.end - node.start) / d) * W), rh);
        }
      }
    }
    // The viewport box moves in whole pixels, by transform, and only when it
    // moves: a fractional `top` changed every scrolled frame, and each change
    // was a style recalculation, a layout and a repaint of the minimap.
    const top = Math.round((Math.min(firstVisible, n) / n) * H);
    const height = Math.round(Math.max(3, (Math.min(visibleCount, n) / n) * H));
    if (top !== this.mmTop) {
      this.mmTop = top;
      this.mmViewport.style.transform = `translateY(${top}px)`;
    }
    if (height !== this.mmHeight) {
      this.mmHeight = height;
      this.mmViewport.style.height = `${height}px`;
    }
    if (this.zoomed && !this.drag) {
      this.mmSel.hidden = false;
      this.mmSel.style.left = `${(this.z0 / d) * 100}%`;
      this.mmSel.style.width = `${((this.z1 - this.z0) / d) * 100}%`;
    } else if (!this.drag) this.mmSel.hidden = true;
  }

  private mmFrac(ev: PointerEvent, mm: HTMLElement): number {
    const rect = mm.getBoundingClientRect();
    return Math.min(1, Math.max(0, (ev.clientX - rect.left) / Math.max(1, rect.width)));
  }

  private mmDown(ev: PointerEvent, mm: HTMLElement): void {
    if (ev.button !== 0) return;
    mm.setPointerCapture(ev.pointerId);
    this.drag = { x0: this.mmFrac(ev, mm), moved: false };
  }

  private mmMove(ev: PointerEvent, mm: HTMLElement): void {
    if (!this.drag) return;
    const x = this.mmFrac(ev, mm);
    if (Math.abs(x - this.drag.x0) * mm.clientWidth > 3) this.drag.moved = true;
    if (!this.drag.moved) return;
    this.mmSel.hidden = false;
    this.mmSel.style.left = `${Math.min(x, this.drag.x0) * 100}%`;
    this.mmSel.style.width = `${Math.abs(x - this.drag.x0) * 100}%`;
  }

  private mmUp(ev: PointerEvent, mm: HTMLElement): void {
    const drag = this.drag;
    this.drag = null;
    if (!drag || !this.model) return;
    const x = this.mmFrac(ev, mm);
    const d = Math.max(1, this.model.tree.duration);
    if (drag.moved) {
      this.setZoom([Math.min(x, drag.x0) * d, Math.max(x, drag.x0) * d]);
    } else {
      // A click jumps to the rows at that height.
      const rect = mm.getBoundingClientRect();
      const fy = Math.min(1, Math.max(0, (ev.clientY - rect.top) / Math.max(1, rect.height)));
      const vh = this.scroller.clientHeight;
      this.scroller.scrollTop = Math.max(0, fy * this.model.rows.length * ROW_H - vh / 2);
      this.schedule();
    }
  }

  private nodeAt(target: Element): number {
    const row = target.closest('.wf-row') as HTMLElement | null;
    if (!row || !this.model) return -1;
    const pos = Number(row.dataset.pos);
    return Number.isInteger(pos) ? (this.model.rows[pos] ?? -1) : -1;
  }

  private onClick(ev: MouseEvent): void {
    const target = ev.target as Element;
    const badge = target.closest('[data-testid="stitched-trace-badge"]') as HTMLElement | null;
    if (badge?.dataset.traceId) {
      this.cb.onTraceBadge(badge.dataset.traceId);
      return;
    }
    const row = target.closest('.wf-row') as HTMLElement | null;
    if (!row || !this.model) return;
    const x = this.model.rows[Number(row.dataset.pos)];
    if (x === undefined) return;
    if (x < 0) {
      const lane = this.model.lanes?.[-x - 1];
      if (lane) this.cb.onLaneToggle(lane.value);
      return;
    }
    if (target.closest('.wf-toggle')) {
      this.cb.onToggle(x);
      return;
    }
    this.cursor = x;
    this.cb.onCursor(x);
    this.cb.onOpen(x);
    this.focus();
  }

  private onKey(ev: KeyboardEvent): void {
    const m = this.model;
    if (!m || m.rows.length === 0) return;
    let pos = this.cursor >= 0 ? this.posOf[this.cursor]! : -1;
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / ROW_H) - 1);
    const moveTo = (p: number) => {
      p = Math.max(0, Math.min(m.rows.length - 1, p));
      // Skip lane headers in the direction of travel.
      const dir = p >= pos ? 1 : -1;
      while (p >= 0 && p < m.rows.length && m.rows[p]! < 0) p += dir;
      if (p < 0 || p >= m.rows.length) return;
      const node = m.rows[p]!;
      this.cursor = node;
      this.version++;
      this.scrollToNode(node);
      this.cb.onCursor(node);
    };
    const node = this.cursor;
    switch (ev.key) {
      case 'ArrowDown':
      case 'j':
        moveTo(pos < 0 ? 0 : pos + 1);
        break;
      case 'ArrowUp':
      case 'k':
        moveTo(pos < 0 ? 0 : pos - 1);
        break;
      case 'PageDown':
        moveTo(pos + page);
        break;
      case 'PageUp':
        moveTo(pos - page);
        break;
      case 'Home':
        moveTo(0);
        break;
      case 'End':
        pos = m.rows.length;
        moveTo(m.rows.length - 1);
        break;
      case 'ArrowLeft':
      case 'h':
        if (node < 0 || !m.tree.nodes[node]) return;
        if (m.tree.size[node]! > 1 && !m.collapsed[node]) this.cb.onToggle(node, false);
        else if (m.tree.nodes[node]!.parent >= 0) {
          const p = m.tree.nodes[node]!.parent;
          if (this.posOf[p]! >= 0) moveTo(this.posOf[p]!);
        }
        break;
      case 'ArrowRight':
      case 'l':
        if (node < 0 || !m.tree.nodes[node]) return;
        if (m.tree.size[node]! > 1) {
          if (m.collapsed[node]) this.cb.onToggle(node, true);
          else moveTo(pos + 1);
        }
        break;
      case 'Enter':
      case ' ':
        if (node >= 0) this.cb.onOpen(node);
        break;
      default:
        return;
    }
    ev.preventDefault();
    this.schedule();
  }
}

/** A round step (1, 2, 5 × 10^k ns) near `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}
