// Route `/logs`: the log explorer. Full-text search (the server's index),
// minimum severity, service, an attribute condition and a time range;
// newest first, live tail every 2 s with pause, repeated messages grouped by
// template. A record with a trace ID opens its trace at its span.

import { getServices, searchLogs } from '../api';
import { clear, h, toggleClass } from '../dom';
import { timeText } from '../components';
import { LOG_RANGES, flattenLogs, groupLogs, logsApiParams, logsToQuery, type LogRow, type LogsState } from '../explore';
import { SEVERITIES, anyValueToString, severityName, type AnyValue } from '../format';
import { traceUrl } from '../query';
import { F } from '../tree';
import { navigate } from '../router';
import type { View } from '../router';

const POLL_MS = 2000;

function sevClass(n: number): string {
  return n >= 17 ? 'sev-error' : n >= 13 ? 'sev-warn' : n >= 9 ? 'sev-info' : 'sev-debug';
}

/** A structured body as a collapsible tree; text only through text nodes. */
function valueTree(v: AnyValue | null | undefined): Node {
  if (v?.kvlistValue) {
    const d = h('details', { class: 'vtree', attrs: { open: true } }, h('summary', { text: `{${v.kvlistValue.values?.length ?? 0}}` }));
    for (const kv of v.kvlistValue.values ?? []) d.append(h('div', { class: 'vtree-row' }, h('span', { class: 'vtree-key', text: `${kv.key}: ` }), valueTree(kv.value)));
    return d;
  }
  if (v?.arrayValue) {
    const d = h('details', { class: 'vtree', attrs: { open: true } }, h('summary', { text: `[${v.arrayValue.values?.length ?? 0}]` }));
    (v.arrayValue.values ?? []).forEach((x, i) => d.append(h('div', { class: 'vtree-row' }, h('span', { class: 'vtree-key', text: `${i}: ` }), valueTree(x))));
    return d;
  }
  return h('span', { class: 'vtree-val', text: anyValueToString(v ?? null) });
}

export function mountLogs(root: HTMLElement, initial: LogsState): View {
  let state = initial;
  let paused = false;
  let timer: number | undefined;
  let inflight: AbortController | undefined;
  let destroyed = false;

  const qIn = h('input', {
    class: 'input q',
    testid: 'log-search',
    attrs: { type: 'search', placeholder: 'words in the message or attributes (prefix*)', 'aria-label': 'Search logs', value: state.q },
  });
  const sevSel = h('select', { class: 'select', testid: 'log-severity', attrs: { 'aria-label': 'Minimum severity' } }, h('option', { attrs: { value: '' }, text: 'any severity' }));
  for (const [n, name] of [...SEVERITIES].reverse()) sevSel.append(h('option', { attrs: { value: String(n) }, text: `≥ ${name}` }));
  const svcSel = h('select', { class: 'select', testid: 'log-service', attrs: { 'aria-label': 'Service' } }, h('option', { attrs: { value: '' }, text: 'all services' }));
  const attrIn = h('input', { class: 'input mono', testid: 'log-attr', attrs: { type: 'text', placeholder: 'key=value', 'aria-label': 'Attribute condition', value: state.attr } });
  const rangeSel = h('select', { class: 'select', testid: 'log-range', attrs: { 'aria-label': 'Time range' } });
  for (const r of LOG_RANGES) rangeSel.append(h('option', { attrs: { value: r }, text: r === 'all' ? 'all time' : `last ${r}` }));
  const submit = h('button', { class: 'btn primary', testid: 'log-submit', attrs: { type: 'submit' }, text: 'Search' });
  const live = h('button', { class: 'btn toggle', testid: 'log-live', attrs: { type: 'button', 'aria-pressed': 'false' }, text: 'Pause' });
  const group = h('button', { class: `btn toggle${state.group ? ' on' : ''}`, testid: 'log-group', attrs: { type: 'button', 'aria-pressed': String(state.group) }, text: 'Group repeats' });
  const form = h('form', { class: 'search-form log-form' }, qIn, sevSel, svcSel, attrIn, rangeSel, submit, live, group);
  const status = h('div', { class: 'muted log-status', testid: 'log-status' });
  const list = h('div', { class: 'log-list', testid: 'log-list' });
  const page = h('div', { class: 'page logs-page' }, form, status, list);
  root.appendChild(page);

  const current = (): LogsState => ({ q: qIn.value, severity: sevSel.value, service: svcSel.value, attr: attrIn.value, range: rangeSel.value, group: state.group });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate(`/logs${logsToQuery(current())}`);
  });
  for (const el of [sevSel, svcSel, rangeSel]) el.addEventListener('change', () => navigate(`/logs${logsToQuery(current())}`));
  live.addEventListener('click', () => {
    paused = !paused;
    live.setAttribute('aria-pressed', String(paused));
    live.textContent = paused ? 'Resume live' : 'Pause';
    if (!paused) void load();
  });
  group.addEventListener('click', () => navigate(`/logs${logsToQuery({ ...current(), group: !state.group })}`));

  function row(r: LogRow): HTMLElement {
    const attrs = h('div', { class: 'log-attrs' });
    for (const kv of r.attributes)
      attrs.append(h('span', { class: 'attr-kv' }, h('span', { class: 'akey', text: kv.key }), '=', h('span', { class: 'aval', text: anyValueToString(kv.value ?? null) })));
    const body = r.record.body?.kvlistValue || r.record.body?.arrayValue ? valueTree(r.record.body) : h('span', { class: 'log-body-text', text: r.body });
    const el = h(
      'div',
      { class: `log-entry ${sevClass(r.severity)}`, testid: 'log-entry', data: { traceId: r.traceId || undefined, spanId: r.spanId || undefined } },
      h('span', { class: 'sev', text: severityName(r.severity, r.severityText), title: severityName(r.severity, r.severityText) }),
      // The badge shares the time's cell: as a cell of its own it pushed the
      // service and the body into the wrong columns.
      h(
        'span',
        { class: 'log-when' },
        timeText(r.timeNs, { withDate: true, class: 'log-time mono' }),
        (r.record.loupeFlags ?? 0) & F.TIME_SUSPECT
          ? h('span', {
              class: 'badge warn time-suspect',
              text: 'clock?',
              title: 'Timestamp looks wrong: zero, before 2000, more than a year ago or more than a day ahead (stored and shown as sent)',
            })
          : null,
      ),
      h('span', { class: 'svc-name', text: r.service || '(unknown service)' }),
      h('div', { class: 'log-body' }, body, attrs),
    );
    if (r.traceId) el.append(h('a', { class: 'log-trace', testid: 'log-trace-link', attrs: { href: traceUrl({ traceId: r.traceId, span: r.spanId }) }, text: `trace ${r.traceId.slice(0, 8)} →` }));
    return el;
  }

  function render(rows: LogRow[]): void {
    clear(list);
    if (rows.length === 0) {
      list.append(h('div', { class: 'muted pad', testid: 'log-empty', text: 'No log records match.' }));
      return;
    }
    if (state.group) {
      for (const g of groupLogs(rows)) {
        const el = row(g.newest);
        el.dataset.testid = 'log-group-row';
        el.prepend(h('span', { class: 'count', testid: 'log-count', text: `×${g.count}` }));
        el.title = g.template;
        list.append(el);
      }
    } else for (const r of rows) list.append(row(r));
  }

  async function load(): Promise<void> {
    window.clearTimeout(timer);
    inflight?.abort();
    const ac = new AbortController();
    inflight = ac;
    try {
      const rows = flattenLogs(await searchLogs(logsApiParams(state), ac.signal));
      if (destroyed || ac.signal.aborted) return;
      status.textContent = `${rows.length} record${rows.length === 1 ? '' : 's'}${rows.length >= 500 ? ' (newest 500)' : ''}${paused ? ' · paused' : ' · live'}`;
      toggleClass(status, 'error', false);
      render(rows);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      status.textContent = (e as Error).message;
      toggleClass(status, 'error', true);
    }
    if (!paused && !destroyed) timer = window.setTimeout(() => void load(), POLL_MS);
  }

  function sync(): void {
    if (qIn.value !== state.q) qIn.value = state.q;
    sevSel.value = state.severity;
    rangeSel.value = state.range;
    if (attrIn.value !== state.attr) attrIn.value = state.attr;
    group.setAttribute('aria-pressed', String(state.group));
    toggleClass(group, 'on', state.group);
  }

  getServices()
    .then(({ services }) => {
      for (const s of services) svcSel.append(h('option', { attrs: { value: s }, text: s }));
      svcSel.value = state.service;
    })
    .catch(() => {});
  sync();
  void load();

  return {
    update(route) {
      state = route as LogsState;
      sync();
      void load();
    },
    destroy() {
      destroyed = true;
      window.clearTimeout(timer);
      inflight?.abort();
      page.remove();
    },
  };
}
