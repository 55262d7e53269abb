// Route `/explore/metrics` (`/metrics` is Loupe's own Prometheus metrics): the metric catalogue and a chart of the selected metric.
// The chart is the server's SVG (drawn by plotters); this view only adds the
// crosshair and read-out, drag-to-zoom, exemplar links and the legend.

import { getChart, getDashboard, getMetrics, getServices, saveDashboard, type MetricInfo } from '../api';
import { clear, h, toggleClass } from '../dom';
import { button, timeText } from '../components';
import { AGGREGATES, CHART_PRESETS, chartApiParams, currentTheme, metricsToQuery, QUANTILES, type ChartAnswer, type MetricsState } from '../explore';
import { formatTimestamp } from '../format';
import { navigate } from '../router';
import type { View } from '../router';
import { chartBox, svgNode } from './chartBox';

const CHART_HEIGHT = 280;

export function mountMetrics(root: HTMLElement, initial: MetricsState): View {
  let state = initial;
  let catalogue: MetricInfo[] = [];
  let inflight: AbortController | undefined;
  let destroyed = false;

  const go = (next: MetricsState, replace = false) => {
    const url = `/explore/metrics${metricsToQuery(next)}`;
    navigate(url, { replace });
  };

  // --- catalogue --------------------------------------------------------
  const nameIn = h('input', { class: 'input', testid: 'metric-filter', attrs: { type: 'text', placeholder: 'filter by name', 'aria-label': 'Filter metrics by name', value: state.name } });
  const serviceSel = h('select', { class: 'select', testid: 'metric-service', attrs: { 'aria-label': 'Service' } }, h('option', { attrs: { value: '' }, text: 'all services' }));
  const list = h('div', { class: 'metric-list', testid: 'metric-list' });
  nameIn.addEventListener('input', () => go({ ...state, name: nameIn.value }, true));
  serviceSel.addEventListener('change', () => go({ ...state, service: serviceSel.value }));

  // --- chart ------------------------------------------------------------
  const title = h('h2', { class: 'chart-title', testid: 'chart-title' });
  const subtitle = h('div', { class: 'chart-sub muted' });
  const rangeSel = h('select', { class: 'select small', testid: 'chart-range', attrs: { 'aria-label': 'Time range' } });
  for (const r of CHART_PRESETS) rangeSel.append(h('option', { attrs: { value: r }, text: `last ${r}` }));
  rangeSel.append(h('option', { attrs: { value: 'custom' }, text: 'zoomed' }));
  rangeSel.addEventListener('change', () => go({ ...state, range: rangeSel.value === 'custom' ? state.range : rangeSel.value, from: '', to: '', hide: [] }));
  // '' = one line per series; an aggregate combines the series that share
  // the split keys' values (all series when no key is picked).
  const aggSel = h('select', { class: 'select small', testid: 'chart-agg', attrs: { 'aria-label': 'Combine series' } }, h('option', { attrs: { value: '' }, text: 'each series' }));
  for (const a of AGGREGATES) aggSel.append(h('option', { attrs: { value: a }, text: a }));
  aggSel.addEventListener('change', () => go(aggSel.value ? { ...state, agg: aggSel.value, split: state.split ?? [], hide: [] } : { ...state, split: null, hide: [] }));
  const splitBox = h('div', { class: 'chips', testid: 'split-keys' });
  const filterSel = h('select', { class: 'select small', testid: 'chart-filter', attrs: { 'aria-label': 'Filter by attribute' } });
  filterSel.addEventListener('change', () => {
    if (filterSel.value) go({ ...state, attrs: [...state.attrs, filterSel.value], hide: [] });
  });
  const filterChips = h('div', { class: 'chips' });
  const pin = button('Pin to dashboard', { small: true, testid: 'pin-chart', title: 'Add this chart to the dashboard' });
  pin.addEventListener('click', () => {
    if (!state.metric) return;
    const chartQuery = metricsToQuery({ ...state, name: '', service: '', hide: [] }).slice(1);
    const split = state.split === null ? '' : state.split.length ? ` by ${state.split.join(', ')}` : ` (${state.agg})`;
    getDashboard()
      .then((d) => saveDashboard([...d.panels, { title: `${state.metric}${split}`, chart: chartQuery }]))
      .then(() => (status.textContent = 'Pinned to the dashboard.'))
      .catch((e: Error) => (status.textContent = e.message));
  });
  // Percentiles of histograms: shown once the chart is a histogram's.
  const pctBox = h('div', { class: 'chips', testid: 'percentiles', attrs: { hidden: true, role: 'group', 'aria-label': 'Percentiles' } });
  const toolbar = h('div', { class: 'chart-toolbar' }, pin, rangeSel, h('span', { class: 'muted' }, 'split by'), splitBox, aggSel, filterSel, filterChips, pctBox);
  const cb = chartBox({
    onZoom: (from, to) => go({ ...state, range: 'custom', from, to }),
    onToggle: (i, hide) => go({ ...state, hide: hide ? [...state.hide, i] : state.hide.filter((x) => x !== i) }, true),
  });
  const { box, legend } = cb;
  const dist = h('div', { class: 'chart-dist', testid: 'distribution' });
  const status = h('div', { class: 'muted chart-status' });
  const panel = h('section', { class: 'chart-panel' }, title, subtitle, toolbar, box, legend, dist, status);
  const page = h('div', { class: 'page metrics-page' }, h('aside', { class: 'metric-side' }, nameIn, serviceSel, list), panel);
  root.appendChild(page);

  function renderCatalogue(): void {
    clear(list);
    const shown = catalogue;
    if (shown.length === 0) list.append(h('div', { class: 'muted pad', text: 'No metrics yet. Send OTLP metrics to :4317 (gRPC) or :4318 (HTTP).' }));
    for (const m of shown) {
      const row = h(
        'a',
        {
          class: 'metric-row',
          testid: 'metric-row',
          data: { name: m.name },
          attrs: { href: `/explore/metrics${metricsToQuery({ ...state, metric: m.name, split: null, attrs: [], hide: [], pct: state.pct, range: '1h', from: '', to: '' })}` },
        },
        h('div', { class: 'metric-name', text: m.name }),
        h(
          'div',
          { class: 'metric-meta muted' },
          h('span', { class: 'badge', text: m.type }),
          m.unit ? ` ${m.unit} · ` : ' ',
          `${m.series} series · `,
          m.lastPointUnixNano !== '0' ? timeText(m.lastPointUnixNano) : 'no points',
        ),
      );
      if (m.description) row.title = m.description;
      toggleClass(row, 'selected', m.name === state.metric);
      list.append(row);
    }
  }

  function renderControls(c: ChartAnswer | null): void {
    rangeSel.value = state.range;
    aggSel.value = state.split === null ? '' : state.agg;
    clear(splitBox);
    for (const k of c?.keys ?? []) {
      const on = state.split?.includes(k) ?? false;
      const chip = h('button', { class: `kchip${on ? ' on' : ''}`, testid: 'split-key', data: { key: k }, attrs: { type: 'button', 'aria-pressed': String(on) }, text: k });
      chip.addEventListener('click', () => {
        const cur = state.split ?? [];
        const next = on ? cur.filter((x) => x !== k) : [...cur, k];
        go({ ...state, split: next.length ? next : null, hide: [] });
      });
      splitBox.append(chip);
    }
    clear(filterSel);
    filterSel.append(h('option', { attrs: { value: '' }, text: 'filter…' }));
    for (const [k, vs] of Object.entries(c?.values ?? {})) for (const v of vs) filterSel.append(h('option', { attrs: { value: `${k}=${v}` }, text: `${k} = ${v}` }));
    clear(filterChips);
    for (const a of state.attrs) {
      const chip = h('button', { class: 'kchip on', testid: 'filter-chip', attrs: { type: 'button', title: 'remove filter' }, text: `${a} ✕` });
      chip.addEventListener('click', () => go({ ...state, attrs: state.attrs.filter((x) => x !== a), hide: [] }));
      filterChips.append(chip);
    }
    clear(pctBox);
    pctBox.hidden = !c?.distribution;
    for (const q of QUANTILES) {
      const on = state.pct.includes(q);
      const chip = h('button', { class: `kchip${on ? ' on' : ''}`, testid: 'percentile', data: { q }, attrs: { type: 'button', 'aria-pressed': String(on) }, text: q });
      chip.addEventListener('click', () => {
        const next = on ? state.pct.filter((x) => x !== q) : [...state.pct, q];
        // At least one percentile; in the fixed order p50 … max.
        if (next.length) go({ ...state, pct: QUANTILES.filter((x) => next.includes(x)), hide: [] });
      });
      pctBox.append(chip);
    }
  }

  function renderChart(c: ChartAnswer): void {
    cb.render(c);
    clear(dist);
    if (c.distribution) {
      dist.append(h('h3', { text: 'Bucket distribution of the window' }));
      if (c.distribution.note) dist.append(h('div', { class: 'muted chart-note', testid: 'distribution-note', text: c.distribution.note }));
      dist.append(svgNode(c.distribution.svg));
    }
    subtitle.textContent = `${c.meaning}${c.series.length ? ` · ${c.series.length} line${c.series.length > 1 ? 's' : ''}` : ''} · ${formatTimestamp(c.xStart, { withDate: true })} – ${formatTimestamp(c.xEnd, { withDate: true })}${c.truncated?.length ? ` · ${c.truncated.join('; ')}` : ''}`;
    renderControls(c);
  }

  async function load(): Promise<void> {
    inflight?.abort();
    const ac = new AbortController();
    inflight = ac;
    const cp = new URLSearchParams();
    if (state.name) cp.set('name', state.name);
    if (state.service) cp.set('service', state.service);
    try {
      catalogue = (await getMetrics(cp, ac.signal)).metrics;
      if (destroyed || ac.signal.aborted) return;
      renderCatalogue();
      const info = catalogue.find((m) => m.name === state.metric);
      title.textContent = state.metric || 'Pick a metric';
      if (!state.metric) {
        cb.clear();
        clear(dist);
        subtitle.textContent = info?.description ?? '';
        return;
      }
      status.textContent = 'Loading…';
      const width = Math.max(400, panel.clientWidth - 32);
      const c = await getChart(state.metric, chartApiParams(state, width, CHART_HEIGHT, -new Date().getTimezoneOffset(), currentTheme()), ac.signal);
      if (destroyed || ac.signal.aborted) return;
      status.textContent = info?.description ?? '';
      renderChart(c);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      status.textContent = (e as Error).message;
    }
  }

  getServices()
    .then(({ services }) => {
      for (const s of services) serviceSel.append(h('option', { attrs: { value: s }, text: s }));
      serviceSel.value = state.service;
    })
    .catch(() => {});
  void load();

  return {
    update(route) {
      state = route as MetricsState;
      if (nameIn.value !== state.name) nameIn.value = state.name;
      void load();
    },
    destroy() {
      destroyed = true;
      inflight?.abort();
      page.remove();
    },
  };
}
