// Route `/dashboard`: pinned charts in a grid the user arranges (move
// earlier/later, remove); the arrangement is kept in Loupe's database.

import { getChart, getDashboard, saveDashboard, type DashboardPanel } from '../api';
import { clear, h } from '../dom';
import { button } from '../components';
import { chartApiParams, parseMetrics } from '../explore';
import type { View } from '../router';

function svgNode(svg: string): Node {
  const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
  return document.importNode(doc.documentElement, true);
}

export function mountDashboard(root: HTMLElement): View {
  let panels: DashboardPanel[] = [];
  let destroyed = false;
  const status = h('div', { class: 'muted chart-status', testid: 'dashboard-status' });
  const grid = h('div', { class: 'dash-grid', testid: 'dashboard' });
  const page = h('div', { class: 'page dashboard-page' }, h('h2', { text: 'Dashboard' }), status, grid);
  root.appendChild(page);

  async function save(next: DashboardPanel[]): Promise<void> {
    try {
      panels = (await saveDashboard(next)).panels;
      render();
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  }

  function render(): void {
    clear(grid);
    status.textContent = panels.length ? '' : 'Nothing pinned yet: open a metric and press "Pin to dashboard".';
    panels.forEach((p, i) => {
      const body = h('div', { class: 'dash-chart' });
      const btn = (label: string, title: string, fn: () => void, disabled = false) => {
        return button(label, { small: true, icon: true, variant: 'ghost', title, disabled, onClick: fn });
      };
      const move = (d: number) => {
        const next = panels.slice();
        const [x] = next.splice(i, 1);
        next.splice(i + d, 0, x!);
        void save(next);
      };
      const card = h(
        'section',
        { class: 'dash-panel', testid: 'dashboard-panel', data: { title: p.title } },
        h(
          'header',
          { class: 'dash-head' },
          h('a', { class: 'dash-title', attrs: { href: `/explore/metrics?${p.chart}` }, text: p.title }),
          h(
            'span',
            { class: 'dash-tools' },
            btn('←', 'Move earlier', () => move(-1), i === 0),
            btn('→', 'Move later', () => move(1), i === panels.length - 1),
            btn('✕', 'Remove', () => void save(panels.filter((_, j) => j !== i))),
          ),
        ),
        body,
      );
      grid.append(card);
      const s = parseMetrics(p.chart);
      const width = Math.max(400, Math.floor(grid.clientWidth / 2) - 40);
      getChart(s.metric, chartApiParams(s, width, 220, -new Date().getTimezoneOffset()))
        .then((c) => {
          if (!destroyed) body.append(svgNode(c.svg));
        })
        .catch((e: Error) => body.append(h('div', { class: 'muted', text: e.message })));
    });
  }

  getDashboard()
    .then((d) => {
      panels = d.panels;
      if (!destroyed) render();
    })
    .catch((e: Error) => (status.textContent = e.message));

  return {
    update() {},
    destroy() {
      destroyed = true;
      page.remove();
    },
  };
}
