// Route `/dashboard`: pinned charts in a grid the user arranges (move
// earlier/later, remove); the arrangement is kept in Loupe's database.
// Every panel shows one time range, picked at the top (kept in the URL as
// `?range=`, or zoomed by dragging across any panel); each has its legend
// and hover read-out (the explorer's `chartBox`).

import { getChart, getDashboard, saveDashboard, type DashboardPanel } from '../api';
import { clear, h } from '../dom';
import { button } from '../components';
import { CHART_PRESETS, chartApiParams, currentTheme, parseMetrics } from '../explore';
import { formatTimestamp } from '../format';
import type { View } from '../router';
import { chartBox } from './chartBox';

/** The dashboard's shared range: a preset, or a zoomed window (Unix ns strings). */
interface SharedRange {
  range: string;
  from: string;
  to: string;
}

function readRange(): SharedRange {
  const p = new URLSearchParams(location.search);
  const from = p.get('from') ?? '';
  const to = p.get('to') ?? '';
  if (/^\d+$/.test(from) && /^\d+$/.test(to) && BigInt(from) < BigInt(to)) return { range: 'custom', from, to };
  const r = p.get('range') ?? '1h';
  return { range: (CHART_PRESETS as readonly string[]).includes(r) ? r : '1h', from: '', to: '' };
}

export function mountDashboard(root: HTMLElement): View {
  let panels: DashboardPanel[] = [];
  let destroyed = false;
  let shared = readRange();
  // Lines hidden per panel (by index), for this visit.
  const hidden = new Map<number, number[]>();
  const status = h('div', { class: 'muted chart-status', testid: 'dashboard-status' });
  const rangeSel = h('select', { class: 'select', testid: 'dashboard-range', attrs: { 'aria-label': 'Time range of every panel' } });
  for (const r of CHART_PRESETS) rangeSel.append(h('option', { attrs: { value: r }, text: `last ${r}` }));
  rangeSel.append(h('option', { attrs: { value: 'custom' }, text: 'zoomed' }));
  const rangeNote = h('span', { class: 'muted', testid: 'dashboard-range-text' });
  const setRange = (next: SharedRange) => {
    shared = next;
    const u = new URL(location.href);
    u.search = '';
    if (next.range === 'custom') {
      u.searchParams.set('from', next.from);
      u.searchParams.set('to', next.to);
    } else if (next.range !== '1h') u.searchParams.set('range', next.range);
    history.replaceState(history.state, '', u);
    render();
  };
  rangeSel.addEventListener('change', () => {
    if (rangeSel.value !== 'custom') setRange({ range: rangeSel.value, from: '', to: '' });
  });
  const grid = h('div', { class: 'dash-grid', testid: 'dashboard' });
  const page = h('div', { class: 'page dashboard-page' }, h('div', { class: 'dash-bar' }, h('h2', { text: 'Dashboard' }), rangeSel, rangeNote), status, grid);
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
    rangeSel.value = shared.range;
    rangeNote.textContent = shared.range === 'custom' ? `${formatTimestamp(shared.from, { withDate: true })} – ${formatTimestamp(shared.to, { withDate: true })}` : '';
    status.textContent = panels.length ? '' : 'Nothing pinned yet: open a metric and press "Pin to dashboard".';
    panels.forEach((p, i) => {
      const cb = chartBox({
        ids: { box: 'dashboard-chart', readout: 'dashboard-readout', legend: 'dashboard-legend' },
        onZoom: (from, to) => setRange({ range: 'custom', from, to }),
        onToggle: (line, hide) => {
          const cur = hidden.get(i) ?? [];
          hidden.set(i, hide ? [...cur, line] : cur.filter((x) => x !== line));
          load();
        },
      });
      const body = h('div', { class: 'dash-chart' }, cb.box, cb.legend);
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
      // The panel's own chart (metric, split, filters, percentiles) over the shared range.
      const s = { ...parseMetrics(p.chart), ...shared, hide: hidden.get(i) ?? [] };
      const width = Math.max(400, Math.floor(grid.clientWidth / 2) - 40);
      const load = () =>
        getChart(s.metric, chartApiParams({ ...s, hide: hidden.get(i) ?? [] }, width, 220, -new Date().getTimezoneOffset(), currentTheme()))
          .then((c) => {
            if (!destroyed) cb.render(c);
          })
          .catch((e: Error) => body.append(h('div', { class: 'muted', text: e.message })));
      void load();
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
