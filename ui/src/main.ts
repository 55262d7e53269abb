import './style.css';
import { h } from './dom';
import { parseRoute, type Route } from './query';
import { onNavigate, startRouter } from './router';
import { mountTraceList, type View } from './views/traceList';
import { mountTraceView } from './views/traceView';
import { mountSettings } from './views/settings';
import { mountMetrics } from './views/metrics';
import { mountLogs } from './views/logs';
import { mountDashboard } from './views/dashboard';
import { mountTransfer } from './views/transfer';
import { mountRules, startAlertBadge } from './views/rules';
import { mountCompare } from './views/compare';

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

let current: { kind: Route['view'] | 'rules'; view: View } | null = null;

function render(): void {
  if (location.pathname === '/rules' || location.pathname.startsWith('/rules/')) {
    current?.view.destroy();
    document.title = 'Alerts · Loupe';
    current = { kind: 'rules', view: mountRules(main, location.pathname) };
    return;
  }
  const route = parseRoute(location.pathname, location.search);
  if (current && current.kind === route.view && route.view !== 'notfound') {
    current.view.update(route.view === 'search' ? route.search : route.view === 'trace' ? route.trace : route.view === 'metrics' ? route.metrics : route.view === 'logs' ? route.logs : route.view === 'compare' ? route.compare : null);
    return;
  }
  current?.view.destroy();
  current = null;
  if (route.view === 'search') {
    document.title = 'Traces · Loupe';
    current = { kind: 'search', view: mountTraceList(main, route.search) };
  } else if (route.view === 'trace') {
    document.title = `Trace ${route.trace.traceId.slice(0, 8)} · Loupe`;
    current = { kind: 'trace', view: mountTraceView(main, route.trace) };
  } else if (route.view === 'settings') {
    document.title = 'Settings · Loupe';
    current = { kind: 'settings', view: mountSettings(main) };
  } else if (route.view === 'metrics') {
    document.title = `${route.metrics.metric || 'Metrics'} · Loupe`;
    current = { kind: 'metrics', view: mountMetrics(main, route.metrics) };
  } else if (route.view === 'dashboard') {
    document.title = 'Dashboard · Loupe';
    current = { kind: 'dashboard', view: mountDashboard(main) };
  } else if (route.view === 'compare') {
    document.title = 'Compare · Loupe';
    current = { kind: 'compare', view: mountCompare(main, route.compare) };
  } else if (route.view === 'logs') {
    document.title = 'Logs · Loupe';
    current = { kind: 'logs', view: mountLogs(main, route.logs) };
  } else {
    const el = h('div', { class: 'page notfound' }, h('h2', { text: 'Not found' }), h('p', null, 'Nothing lives at ', h('code', { text: route.path }), '. ', h('a', { attrs: { href: '/' }, text: 'Back to traces' })));
    main.appendChild(el);
    current = { kind: 'notfound', view: { update() {}, destroy: () => el.remove() } };
  }
}

startRouter();
startAlertBadge(header.querySelector('[data-testid=alert-badge]') as HTMLElement);
onNavigate(render);
render();
