import './style.css';
import { h } from './dom';
import { parseRoute } from './query';
import { onNavigate, routeRenderer, startRouter, type RouteTable } from './router';
import { mountTraceList } from './views/traceList';
import { mountTraceView } from './views/traceView';
import { mountSettings } from './views/settings';
import { mountMetrics } from './views/metrics';
import { mountLogs } from './views/logs';
import { mountDashboard } from './views/dashboard';
import { mountTransfer } from './views/transfer';
import { mountRules, startAlertBadge } from './views/rules';
import { mountCompare } from './views/compare';
import { onThemeChange, startTheme } from './theme';
import { themeSwitch } from './components';
import { colorScopeFor } from './color';
import { startDiskBanner } from './diskBanner';

// The theme first, so the first paint already has it.
startTheme();

const app = document.getElementById('app')!;
const header = h(
  'header',
  { class: 'app-header' },
  h('a', { class: 'brand', attrs: { href: '/' } }, h('span', { class: 'brand-mark' }), 'Loupe'),
  h(
    'nav',
    null,
    h('a', { testid: 'nav-traces', attrs: { href: '/' }, text: 'Traces' }),
    h('a', { testid: 'nav-metrics', attrs: { href: '/explore/metrics' }, text: 'Metrics' }),
    h('a', { testid: 'nav-logs', attrs: { href: '/logs' }, text: 'Logs' }),
    h('a', { testid: 'nav-dashboard', attrs: { href: '/dashboard' }, text: 'Dashboard' }),
    h('a', { attrs: { href: '/rules' }, testid: 'nav-alerts' }, 'Alerts ', h('span', { class: 'badge alert-badge', testid: 'alert-badge', attrs: { hidden: true } })),
    h('a', { testid: 'nav-settings', attrs: { href: '/settings' }, text: 'Settings' }),
  ),
);
const main = h('main', { class: 'app-main' });
app.append(header, main);
mountTransfer(header);
header.append(themeSwitch());

/** The route table: which view shows each kind of route. */
const routes: RouteTable = {
  search: { title: () => 'Traces · Loupe', mount: (el, r) => mountTraceList(el, r.search), state: (r) => r.search },
  trace: { title: (r) => `Trace ${r.trace.traceId.slice(0, 8)} · Loupe`, mount: (el, r) => mountTraceView(el, r.trace), state: (r) => r.trace },
  metrics: { title: (r) => `${r.metrics.metric || 'Metrics'} · Loupe`, mount: (el, r) => mountMetrics(el, r.metrics), state: (r) => r.metrics },
  logs: { title: () => 'Logs · Loupe', mount: (el, r) => mountLogs(el, r.logs), state: (r) => r.logs },
  dashboard: { title: () => 'Dashboard · Loupe', mount: (el) => mountDashboard(el), state: () => null },
  settings: { title: () => 'Settings · Loupe', mount: (el) => mountSettings(el), state: () => null },
  compare: { title: () => 'Compare · Loupe', mount: (el, r) => mountCompare(el, r.compare), state: (r) => r.compare },
  // The Alerts page reads its path itself and is mounted anew on every navigation.
  rules: { title: () => 'Alerts · Loupe', mount: (el, r) => mountRules(el, r.path) },
  notfound: {
    mount: (el, r) => {
      const page = h(
        'div',
        { class: 'page notfound' },
        h('h2', { text: 'Not found' }),
        h('p', null, 'Nothing lives at ', h('code', { text: r.path }), '. ', h('a', { attrs: { href: '/' }, text: 'Back to traces' })),
      );
      el.appendChild(page);
      return { update() {}, destroy: () => page.remove() };
    },
  },
};

const render = routeRenderer(main, routes, () => parseRoute(location.pathname, location.search));

/** Services keep their colours within a page (and within one trace), whatever is selected. */
function scopeColors(): void {
  const r = parseRoute(location.pathname, location.search);
  colorScopeFor(r.view === 'trace' ? `trace:${r.trace.traceId}` : r.view);
}

startRouter();
startAlertBadge(header.querySelector('[data-testid=alert-badge]') as HTMLElement);
startDiskBanner(main);
onNavigate(() => {
  scopeColors();
  render();
});
// Server-drawn charts are drawn for a theme: the pages that show them are drawn again.
onThemeChange(() => {
  const v = parseRoute(location.pathname, location.search).view;
  if (v === 'metrics' || v === 'dashboard') render(true);
});
// The first page in a task of its own: evaluating the bundle and drawing the
// page in one task took 90-110 ms, over the 100 ms a task may take.
setTimeout(() => {
  scopeColors();
  render();
}, 0);
