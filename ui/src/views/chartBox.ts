// One interactive chart, shared by the metric explorer and the dashboard:
// the server's SVG (drawn by plotters) with a crosshair and a read-out of
// every visible line under the pointer (values in the metric's unit, labels
// never cut), drag-to-zoom, exemplar links and a legend whose items hide
// and show lines.

import { clear, h, toggleClass } from '../dom';
import { formatUnit, readout, timeAtPixel, zoomRange, type ChartAnswer } from '../explore';
import { formatTimestamp } from '../format';
import { traceUrl } from '../query';

/** Parses the server's SVG as XML (it holds only axis labels made by Loupe) and imports it. */
export function svgNode(svg: string): Node {
  const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
  return document.importNode(doc.documentElement, true);
}

export interface ChartBoxOptions {
  /** A drag across the plot: the new range (Unix ns strings). */
  onZoom?: (from: string, to: string) => void;
  /** A legend item clicked: line `index`, now to be hidden or shown. */
  onToggle?: (index: number, hide: boolean) => void;
  /** Test ids of the box, read-out and legend (the explorer's keep their names). */
  ids?: { box?: string; readout?: string; legend?: string };
}

export interface ChartBox {
  box: HTMLElement;
  legend: HTMLElement;
  render(c: ChartAnswer): void;
  clear(): void;
}

export function chartBox(opts: ChartBoxOptions = {}): ChartBox {
  let chart: ChartAnswer | null = null;
  const box = h('div', { class: 'chart-box', testid: opts.ids?.box ?? 'chart' });
  const overlay = h('div', { class: 'chart-overlay', testid: 'chart-overlay' });
  const cross = h('div', { class: 'crosshair' });
  const sel = h('div', { class: 'zoom-sel' });
  const tip = h('div', { class: 'chart-tip', testid: opts.ids?.readout ?? 'chart-readout' });
  overlay.append(cross, sel, tip);
  const legend = h('div', { class: 'legend', testid: opts.ids?.legend ?? 'legend' });

  let dragFrom: number | null = null;
  const localX = (ev: MouseEvent) => ev.clientX - box.getBoundingClientRect().left;
  // The SVG may be scaled to its column (the dashboard): pointer pixels
  // back to the SVG's own.
  const scale = () => {
    const svg = box.querySelector('svg');
    const w = svg?.getBoundingClientRect().width ?? 0;
    return chart && w > 0 ? chart.width / w : 1;
  };
  const inPlot = (x: number) => chart !== null && x >= chart.plot.x && x <= chart.plot.x + chart.plot.width;

  box.addEventListener('mousemove', (ev) => {
    if (!chart) return;
    const k = scale();
    const x = localX(ev) * k;
    if (!inPlot(x)) {
      toggleClass(overlay, 'active', false);
      return;
    }
    toggleClass(overlay, 'active', true);
    cross.style.left = `${x / k}px`;
    cross.style.top = `${chart.plot.y / k}px`;
    cross.style.height = `${chart.plot.height / k}px`;
    clear(tip);
    tip.append(h('div', { class: 'tip-time', text: formatTimestamp(timeAtPixel(chart, x), { withDate: true }) }));
    for (const r of readout(chart, x)) {
      const sw = h('span', { class: 'swatch' });
      sw.style.background = r.color;
      tip.append(h('div', { class: 'tip-row' }, sw, h('span', { class: 'tip-label', text: r.label }), h('b', { class: 'tip-value', text: formatUnit(r.value, chart.unit) })));
    }
    // Right of the pointer when the whole read-out fits, else left of it.
    const boxW = box.getBoundingClientRect().width;
    const tw = tip.offsetWidth;
    const px = x / k;
    tip.style.left = `${px + 12 + tw <= boxW ? px + 12 : Math.max(0, px - 12 - tw)}px`;
    tip.style.top = `${chart.plot.y / k + 4}px`;
    if (dragFrom !== null) {
      sel.style.left = `${Math.min(dragFrom, x) / k}px`;
      sel.style.width = `${Math.abs(x - dragFrom) / k}px`;
      sel.style.top = `${chart.plot.y / k}px`;
      sel.style.height = `${chart.plot.height / k}px`;
      toggleClass(sel, 'on', true);
    }
  });
  box.addEventListener('mouseleave', () => {
    toggleClass(overlay, 'active', false);
    dragFrom = null;
    toggleClass(sel, 'on', false);
  });
  box.addEventListener('mousedown', (ev) => {
    const x = localX(ev) * scale();
    if (opts.onZoom && ev.button === 0 && inPlot(x)) {
      dragFrom = x;
      ev.preventDefault();
    }
  });
  box.addEventListener('mouseup', (ev) => {
    if (dragFrom === null || !chart) return;
    const z = zoomRange(chart, dragFrom, localX(ev) * scale());
    dragFrom = null;
    toggleClass(sel, 'on', false);
    if (z) opts.onZoom?.(z.from, z.to);
  });

  function render(c: ChartAnswer): void {
    chart = c;
    clear(box);
    box.append(svgNode(c.svg), overlay);
    const k = scale();
    for (const e of c.exemplars) {
      const a = h('a', {
        class: 'exemplar',
        testid: 'exemplar',
        data: { traceId: e.traceId, spanId: e.spanId },
        attrs: { href: traceUrl({ traceId: e.traceId, span: e.spanId }), title: `exemplar ${formatUnit(e.value, c.unit)} · trace ${e.traceId.slice(0, 8)}` },
      });
      a.style.left = `${e.x / k - 6}px`;
      a.style.top = `${e.y / k - 6}px`;
      box.append(a);
    }
    clear(legend);
    c.series.forEach((s, i) => {
      const sw = h('span', { class: 'swatch' });
      sw.style.background = s.color;
      const item = h(
        'button',
        { class: `legend-item${s.hidden ? ' off' : ''}`, testid: 'legend-item', data: { label: s.label }, attrs: { type: 'button', 'aria-pressed': String(!s.hidden), title: s.label } },
        sw,
        s.label,
      );
      item.addEventListener('click', () => opts.onToggle?.(i, !s.hidden));
      legend.append(item);
    });
  }

  return {
    box,
    legend,
    render,
    clear() {
      chart = null;
      clear(box);
      clear(legend);
    },
  };
}
