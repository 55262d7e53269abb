// A service map drawn as a graph (layout: serviceGraph.ts, dagre): services
// as boxes, calls as arrows labelled with counts, errors and p50/p95.
// Clicking an edge (or its row in the table below, the accessible
// alternative) lists the traces behind it. SVG built with DOM calls; only
// geometry and presentation attributes, no style markup (CSP).

import type { ServiceEdge } from '../analysis';
import { serviceColor } from '../color';
import { h } from '../dom';
import { formatCount, formatDuration, shortId } from '../format';
import { traceUrl } from '../query';
import { layoutServiceGraph } from '../serviceGraph';
import { serviceChip } from './traceList';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

let markerSeq = 0;

/** The graph, the traces of the selected edge, and the edge table, for `map`. */
export function serviceMapView(map: { services: string[]; edges: ServiceEdge[] }, rankdir: 'LR' | 'TB'): HTMLElement {
  const g = layoutServiceGraph(map.services, map.edges, rankdir);
  const picked = h(
    'div',
    { class: 'sm-traces', testid: 'edge-traces', attrs: { 'aria-live': 'polite' } },
    h('p', { class: 'muted small', text: 'Click an arrow (or a row) to list the traces behind it.' }),
  );
  const marker = `sm-arrow-${++markerSeq}`;
  const root = svg('svg', {
    width: g.width,
    height: g.height,
    viewBox: `0 0 ${g.width} ${g.height}`,
    class: 'sm-graph',
    role: 'img',
    'aria-label': `Service map: ${g.nodes.length} services, ${g.edges.length} call edges`,
    'data-testid': 'service-graph',
  });
  const defs = svg('defs', {});
  const m = svg('marker', { id: marker, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
  m.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'sm-arrowhead' }));
  defs.append(m);
  root.append(defs);
  const edgeEls: SVGGElement[] = [];
  const rows: HTMLElement[] = [];
  function select(i: number): void {
    edgeEls.forEach((el, k) => el.classList.toggle('selected', k === i));
    rows.forEach((el, k) => el.classList.toggle('selected', k === i));
    const e = g.edges[i]!.edge;
    picked.replaceChildren(
      h(
        'div',
        { class: 'small' },
        serviceChip(e.caller),
        h('span', { class: 'muted', text: ' → ' }),
        serviceChip(e.callee),
        h('span', { class: 'muted', text: ` · ${formatCount(e.traces.length)} trace${e.traces.length === 1 ? '' : 's'}${e.traces.length >= 20 ? ' (the first 20)' : ''}` }),
      ),
      h('ul', { class: 'sm-trace-list' }, ...e.traces.map((t) => h('li', null, h('a', { class: 'mono', testid: 'edge-trace', attrs: { href: traceUrl({ traceId: t }) }, text: shortId(t) })))),
    );
  }
  g.edges.forEach((ge, i) => {
    const d = ge.points.map((p, k) => `${k ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const grp = svg('g', {
      class: `sm-edge${ge.edge.errors ? ' error' : ''}`,
      'data-testid': 'service-edge',
      'data-caller': ge.edge.caller,
      'data-callee': ge.edge.callee,
      tabindex: 0,
      role: 'button',
      'aria-label': `${ge.edge.caller} to ${ge.edge.callee}: ${ge.label}`,
    });
    grp.append(svg('path', { d, class: 'sm-hit' }), svg('path', { d, class: 'sm-line', 'marker-end': `url(#${marker})` }));
    // The label on a backing box, so the line does not run through the text.
    const lw = ge.label.length * 5.9 + 8;
    grp.append(svg('rect', { x: ge.lx - lw / 2, y: ge.ly - 8, width: lw, height: 16, rx: 3, class: 'sm-label-bg' }));
    const text = svg('text', { x: ge.lx, y: ge.ly + 4, class: 'sm-label', 'text-anchor': 'middle' });
    text.textContent = ge.label;
    grp.append(text);
    grp.addEventListener('click', () => select(i));
    grp.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        select(i);
      }
    });
    edgeEls.push(grp);
    root.append(grp);
  });
  for (const n of g.nodes) {
    const grp = svg('g', { class: 'sm-node', 'data-testid': 'service-node', 'data-service': n.id });
    grp.append(svg('rect', { x: n.x - n.w / 2, y: n.y - n.h / 2, width: n.w, height: n.h, rx: 5, class: 'sm-box', stroke: serviceColor(n.id) }));
    grp.append(svg('rect', { x: n.x - n.w / 2, y: n.y - n.h / 2, width: 5, height: n.h, rx: 2, fill: serviceColor(n.id) }));
    const t = svg('text', { x: n.x + 2, y: n.y + 4, class: 'sm-name', 'text-anchor': 'middle' });
    t.textContent = n.id;
    grp.append(t);
    root.append(grp);
  }
  const ns = (v: string) => formatDuration(Number(v));
  const table = h(
    'table',
    { class: 'stats-table sm-table' },
    h('thead', null, h('tr', null, ...['Caller', 'Callee', 'Calls', 'Errors', 'p50', 'p95'].map((t) => h('th', { text: t })))),
    h(
      'tbody',
      null,
      ...g.edges.map((ge, i) => {
        const e = ge.edge;
        const tr = h(
          'tr',
          { class: e.errors ? 'has-errors' : '', testid: 'edge-row', attrs: { tabindex: 0 } },
          h('td', null, serviceChip(e.caller)),
          h('td', null, serviceChip(e.callee)),
          h('td', { class: 'num', text: formatCount(e.count) }),
          h('td', { class: 'num', text: formatCount(e.errors) }),
          h('td', { class: 'num', text: ns(e.p50) }),
          h('td', { class: 'num', text: ns(e.p95) }),
        );
        tr.addEventListener('click', () => select(i));
        tr.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter') select(i);
        });
        rows.push(tr);
        return tr;
      }),
    ),
  );
  return h('div', { class: 'sm' }, h('div', { class: 'sm-scroll' }, root), picked, table);
}
