// Route `/`: the search form and the trace list, refreshed every 2 s.

import { incompleteChips, incompleteSig } from './incomplete';
import { ApiError, getAttributeKeys, getServices, getTopology, searchTraces } from '../api';
import { serviceColor } from '../color';
import { clear, h, toggleClass } from '../dom';
import { formatCount, formatDurationNs, formatTime, formatTimeMs, nsParts, parseDuration } from '../format';
import { timeText } from '../components';
import { MAX_LIMIT, RANGE_PRESETS, compareUrl, isoToLocalInput, localInputToIso, searchToApiParams, searchToQuery, traceUrl, type Range, type SearchState } from '../query';
import { navigate } from '../router';
import type { TraceSummary } from '../stitch';
import { comparePair } from '../analysis';
import { renderSearchScatter } from './runHistory';
import { serviceMapView } from './serviceMap';
import { emptyState } from './empty';
import { attachKeySuggest } from './suggest';
import { contextKeys, shortKey } from '../context';
import { foldLinked } from '../linked';
import { toggleShortcuts, typing, type Shortcut } from './shortcuts';
import './traces.css';

const SHORTCUTS: Shortcut[] = [
  ['j ↓', 'next trace'],
  ['k ↑', 'previous trace'],
  ['Enter', 'open the trace'],
  ['l →', 'show the linked traces folded under it'],
  ['h ←', 'fold them again'],
  ['/', 'search: the attribute expression'],
  ['?', 'these shortcuts'],
];

const POLL_MS = 2000;

export type { View } from '../router';
import type { View } from '../router';

export function serviceChip(service: string | null): HTMLElement {
  const chip = h('span', { class: 'svc' }, h('span', { class: 'svc-dot' }), service ?? '(unknown service)');
  (chip.firstChild as HTMLElement).style.background = serviceColor(service ?? '');
  return chip;
}

export function mountTraceList(root: HTMLElement, initial: SearchState): View {
  let state = initial;
  let paused = false;
  let timer: number | undefined;
  let inflight: AbortController | undefined;
  let lastTraces: TraceSummary[] | null = null;
  let seen = new Set<string>();
  let qUnsupported = false;
  let destroyed = false;
  const ctxKeys = contextKeys();
  const ctxHeads = ctxKeys.map((k) => h('th', { class: 'c-ctx', testid: 'context-column', data: { key: k }, title: k, text: shortKey(k) }));
  /** Parents whose linked children are shown. */
  const expanded = new Set<string>();
  /** The keyboard cursor's trace. */
  let cursorId: string | null = null;

  // --- form -------------------------------------------------------------
  const serviceSel = h('select', { class: 'select', attrs: { name: 'service', 'aria-label': 'Service' } });
  const nameIn = h('input', { class: 'input', attrs: { name: 'name', type: 'text', placeholder: 'exact span name', 'aria-label': 'Span name', spellcheck: 'false' } });
  const qIn = h('input', {
    class: 'input mono q',
    testid: 'search-q',
    attrs: {
      name: 'q',
      type: 'text',
      placeholder: 'kestra.namespace = "company.team" AND (http.response.status_code >= 500 OR NOT error.type)',
      'aria-label': 'Attribute expression',
      spellcheck: 'false',
      autocomplete: 'off',
    },
  });
  const errorsIn = h('input', { class: 'checkbox', attrs: { type: 'checkbox', name: 'errors' } });
  const minIn = h('input', { class: 'input dur', attrs: { type: 'text', name: 'minDuration', placeholder: 'min', 'aria-label': 'Minimum duration', spellcheck: 'false' } });
  const maxIn = h('input', { class: 'input dur', attrs: { type: 'text', name: 'maxDuration', placeholder: 'max', 'aria-label': 'Maximum duration', spellcheck: 'false' } });
  const fromIn = h('input', { class: 'input', attrs: { type: 'datetime-local', step: '1', 'aria-label': 'From' } });
  const toIn = h('input', { class: 'input', attrs: { type: 'datetime-local', step: '1', 'aria-label': 'To' } });
  const customBox = h('span', { class: 'custom-range' }, fromIn, h('span', { class: 'muted', text: '→' }), toIn);
  const rangeBtns = new Map<Range, HTMLButtonElement>();
  const rangeGroup = h('div', { class: 'seg', attrs: { role: 'group', 'aria-label': 'Time range' } });
  for (const r of [...RANGE_PRESETS, 'custom'] as Range[]) {
    const b = h('button', { class: 'seg-btn', attrs: { type: 'button' }, data: { range: r }, text: r === 'all' ? 'All' : r === 'custom' ? 'Custom…' : r });
    b.addEventListener('click', () => {
      if (r === 'custom') {
        showRange('custom');
        if (!fromIn.value) fromIn.value = isoToLocalInput(new Date(Date.now() - 3600_000).toISOString());
        fromIn.focus();
        return;
      }
      submit({ range: r });
    });
    rangeBtns.set(r, b);
    rangeGroup.appendChild(b);
  }
  const submitBtn = h('button', { class: 'btn primary', testid: 'search-submit', attrs: { type: 'submit' }, text: 'Search' });
  const qError = h('div', { class: 'search-error', testid: 'search-error', attrs: { role: 'alert', hidden: true } });
  const formError = h('div', { class: 'form-error', attrs: { role: 'alert', hidden: true } });
  const durHint = h('span', { class: 'field-hint' });

  const form = h(
    'form',
    { class: 'search-form', attrs: { autocomplete: 'off' } },
    h(
      'div',
      { class: 'row' },
      h('label', { class: 'field' }, h('span', { text: 'Service' }), serviceSel),
      h('label', { class: 'field grow' }, h('span', { text: 'Span name' }), nameIn),
      h('label', { class: 'field' }, h('span', { text: 'Duration', title: 'e.g. 250ms, 1.5s, 2m' }), h('span', { class: 'dur-pair' }, minIn, h('span', { class: 'muted', text: '–' }), maxIn), durHint),
      h('label', { class: 'field check' }, errorsIn, h('span', { text: 'Errors only' })),
    ),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('span', { text: 'Time' }), h('div', { class: 'range-row' }, rangeGroup, customBox))),
    h(
      'div',
      { class: 'row' },
      h(
        'label',
        { class: 'field grow' },
        h('span', null, 'Attributes ', h('span', { class: 'muted', text: '— key op value, AND / OR / NOT, ( ); service, name' })),
        attachKeySuggest(qIn, async () => (await getAttributeKeys()).keys),
      ),
      h('div', { class: 'field submit' }, h('span', { text: '\u00a0' }), submitBtn),
    ),
    qError,
    formError,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit({});
  });
  serviceSel.addEventListener('change', () => submit({}));
  errorsIn.addEventListener('change', () => submit({}));
  fromIn.addEventListener('change', () => submit({ range: 'custom' }));
  toIn.addEventListener('change', () => submit({ range: 'custom' }));
  for (const inp of [minIn, maxIn]) {
    inp.addEventListener('input', () => {
      const bad = [minIn, maxIn].filter((i) => i.value.trim() && parseDuration(i.value) === null);
      for (const i of [minIn, maxIn]) toggleClass(i, 'invalid', bad.includes(i));
      durHint.textContent = bad.length ? 'use 250ms, 1.5s, 2m…' : '';
    });
  }

  // --- results ------------------------------------------------------------
  const pauseBtn = h('button', { class: 'btn small', testid: 'pause-live', attrs: { type: 'button', 'aria-pressed': 'false' } });
  const liveDot = h('span', { class: 'live-dot' });
  const status = h('span', { class: 'muted' });
  const count = h('span', { class: 'count' });
  const notice = h('div', { class: 'notice', attrs: { hidden: true } });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'traces' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'c-pick' }, h('span', { class: 'sr-only', text: 'Pick to compare' })),
        h('th', { class: 'c-start', text: 'Start' }),
        h('th', { class: 'c-root', text: 'Root' }),
        ...ctxHeads,
        h('th', { class: 'c-dur', text: 'Duration' }),
        h('th', { class: 'c-num', text: 'Spans' }),
        h('th', { class: 'c-num', text: 'Errors' }),
        h('th', { class: 'c-errmsg', text: 'Error' }),
        h('th', { class: 'c-svcs', text: 'Services' }),
      ),
    ),
    tbody,
  );
  const moreBtn = h('button', { class: 'btn small more', attrs: { type: 'button', hidden: true }, text: 'Show more' });
  moreBtn.addEventListener('click', () => submit({ limit: Math.min(MAX_LIMIT, state.limit * 2) }));
  // Two picked rows → "Compare" (A = the earlier, B = the later). Kept across refreshes.
  const picked = new Map<string, string>();
  const compareBtn = h('button', {
    class: 'btn small',
    testid: 'compare-picked',
    attrs: { type: 'button', disabled: true, title: 'Tick two traces to compare them' },
    text: 'Compare',
  });
  compareBtn.addEventListener('click', () => {
    const pair = comparePair(picked);
    if (pair) navigate(compareUrl({ ...pair, linked: false }));
  });
  function renderPicked(): void {
    const pair = comparePair(picked);
    compareBtn.disabled = !pair;
    compareBtn.textContent = picked.size ? `Compare (${picked.size}/2)` : 'Compare';
  }
  // The service map of the current search (GET /api/v1/topology), on demand.
  const mapBtn = h('button', {
    class: 'btn small toggle',
    testid: 'topology-toggle',
    attrs: { type: 'button', 'aria-pressed': 'false', title: 'The services of the traces this search finds, as a graph' },
    text: 'Service map',
  });
  const mapPanel = h('div', { class: 'list-map', testid: 'topology', attrs: { hidden: true } });
  let mapCtl: AbortController | null = null;
  async function loadTopology(): Promise<void> {
    mapCtl?.abort();
    const ctl = new AbortController();
    mapCtl = ctl;
    mapPanel.replaceChildren(h('p', { class: 'muted small', text: 'Computing the service map…' }));
    try {
      const ans = await getTopology(searchToApiParams(state, { withQ: !!state.q.trim() && !qUnsupported }), ctl.signal);
      if (ctl.signal.aborted || destroyed) return;
      mapPanel.replaceChildren(
        h('div', {
          class: 'muted small',
          text: `${ans.serviceMap.services.length} services, ${ans.serviceMap.edges.length} call edges in ${formatCount(ans.traces)} traces (at most 200, the newest)`,
        }),
        serviceMapView(ans.serviceMap, 'LR'),
      );
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      mapPanel.replaceChildren(h('p', { class: 'notice', text: (e as Error).message }));
    }
  }
  mapBtn.addEventListener('click', () => {
    const on = mapBtn.getAttribute('aria-pressed') !== 'true';
    mapBtn.setAttribute('aria-pressed', String(on));
    mapPanel.hidden = !on;
    if (on) void loadTopology();
    else mapCtl?.abort();
  });
  // Duration over time of the current results (Jaeger's scatter plot).
  const scatter = h('div', { class: 'list-scatter', testid: 'search-scatter', attrs: { hidden: true } });
  let scatterSig = '';
  const resultsBody = h('div', { class: 'results-body' }, table);
  const results = h(
    'section',
    { class: 'results' },
    h('div', { class: 'results-head' }, count, compareBtn, mapBtn, h('span', { class: 'spacer' }), liveDot, status, pauseBtn),
    notice,
    mapPanel,
    scatter,
    resultsBody,
    moreBtn,
  );
  const page = h('div', { class: 'page trace-list' }, h('section', { class: 'panel' }, form), results);
  root.appendChild(page);

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    renderPause();
    if (!paused) void refresh();
  });
  function renderPause(): void {
    pauseBtn.textContent = paused ? 'Resume live' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    toggleClass(liveDot, 'paused', paused);
    if (paused) status.textContent = 'paused';
  }

  function readForm(over: Partial<SearchState>): SearchState {
    const range = over.range ?? state.range;
    return {
      service: serviceSel.value,
      name: nameIn.value.trim(),
      q: qIn.value,
      errors: errorsIn.checked,
      minDuration: minIn.value.trim(),
      maxDuration: maxIn.value.trim(),
      range,
      from: range === 'custom' ? localInputToIso(fromIn.value) : '',
      to: range === 'custom' ? localInputToIso(toIn.value) : '',
      limit: state.limit,
      ...over,
    };
  }

  function submit(over: Partial<SearchState>): void {
    const next = readForm(over);
    const url = `/${searchToQuery(next)}`;
    if (url === location.pathname + location.search) void refresh();
    else navigate(url);
  }

  function showRange(r: Range): void {
    for (const [k, b] of rangeBtns) {
      toggleClass(b, 'active', k === r);
      b.setAttribute('aria-pressed', String(k === r));
    }
    customBox.hidden = r !== 'custom';
  }

  function fillForm(): void {
    ensureServiceOption(state.service);
    serviceSel.value = state.service;
    nameIn.value = state.name;
    qIn.value = state.q;
    errorsIn.checked = state.errors;
    minIn.value = state.minDuration;
    maxIn.value = state.maxDuration;
    fromIn.value = isoToLocalInput(state.from);
    toIn.value = isoToLocalInput(state.to);
    showRange(state.range);
  }

  function ensureServiceOption(s: string): void {
    if (serviceSel.options.length === 0) serviceSel.appendChild(h('option', { attrs: { value: '' }, text: 'All services' }));
    if (s && ![...serviceSel.options].some((o) => o.value === s)) serviceSel.appendChild(h('option', { attrs: { value: s }, text: s }));
  }

  async function loadServices(): Promise<void> {
    try {
      const { services } = await getServices();
      if (destroyed) return;
      const cur = serviceSel.value || state.service;
      const have = new Set([...serviceSel.options].map((o) => o.value));
      ensureServiceOption('');
      for (const s of services) if (!have.has(s)) serviceSel.appendChild(h('option', { attrs: { value: s }, text: s }));
      serviceSel.value = cur;
    } catch {
      /* the list still works without the dropdown */
    }
  }

  let qErrorShownFor: string | null = null;
  function showQError(e: ApiError | null): void {
    clear(qError);
    qError.hidden = !e;
    toggleClass(qIn, 'invalid', !!e && !qUnsupported);
    if (!e) return;
    const q = state.q;
    // The server counts characters (code points); JS strings index UTF-16 units.
    const pos = e.position !== undefined && e.position >= 0 ? Math.min([...q].slice(0, e.position).join('').length, q.length) : -1;
    if (pos >= 0) {
      qError.append(
        h('pre', { class: 'caret-view' }, h('span', { text: q.slice(0, pos) }), h('mark', { text: q.slice(pos, pos + 1) || ' ' }), h('span', { text: q.slice(pos + 1) }), '\n', `${' '.repeat(pos)}^`),
      );
    }
    qError.append(h('div', { text: e.message }));
    // Put the cursor at the problem once per expression, not on every refresh.
    if (pos >= 0 && qErrorShownFor !== q) {
      qErrorShownFor = q;
      qIn.focus();
      qIn.setSelectionRange(Math.min(pos, qIn.value.length), Math.min(pos + 1, qIn.value.length));
    }
  }

  function withContext(p: URLSearchParams): URLSearchParams {
    if (ctxKeys.length) p.set('context', ctxKeys.join(','));
    return p;
  }

  let stopPolling = false;
  async function refresh(): Promise<void> {
    window.clearTimeout(timer);
    stopPolling = false;
    sessionStorage.setItem('loupe.lastSearch', searchToQuery(state));
    inflight?.abort();
    const ctl = new AbortController();
    inflight = ctl;
    const useQ = !!state.q.trim() && !qUnsupported;
    try {
      let traces: TraceSummary[];
      try {
        ({ traces } = await searchTraces(withContext(searchToApiParams(state, { withQ: useQ })), ctl.signal));
        if (useQ) showQError(null);
      } catch (e) {
        if (e instanceof ApiError && e.param === 'q' && e.unknownParam) {
          qUnsupported = true;
          ({ traces } = await searchTraces(withContext(searchToApiParams(state, { withQ: false })), ctl.signal));
        } else throw e;
      }
      if (ctl.signal.aborted || destroyed) return;
      formError.hidden = true;
      if (qUnsupported && state.q.trim()) {
        notice.hidden = false;
        notice.textContent = 'This Loupe server does not support attribute expressions (q) yet: the results below ignore the expression.';
      } else notice.hidden = true;
      await render(traces, ctl.signal);
      status.textContent = paused ? 'paused' : `live · updated ${formatTimeMs(Date.now()).text}`;
    } catch (e) {
      if ((e as Error).name === 'AbortError' || destroyed) return;
      if (e instanceof ApiError && e.status === 400) stopPolling = true; // the same request would fail again
      if (e instanceof ApiError && e.param === 'q') {
        showQError(e);
        renderRows([]);
        count.textContent = 'Invalid expression';
      } else {
        formError.hidden = false;
        formError.textContent = (e as Error).message;
        status.textContent = 'error';
      }
    } finally {
      if (inflight === ctl) inflight = undefined;
      if (!paused && !destroyed && !ctl.signal.aborted && !stopPolling) timer = window.setTimeout(() => void refresh(), POLL_MS);
    }
  }

  let emptyShown = false;
  async function render(traces: TraceSummary[], signal: AbortSignal): Promise<void> {
    let showEmpty = false;
    if (traces.length === 0) {
      // Nothing matched: is there anything at all?
      try {
        const all = await searchTraces(new URLSearchParams({ limit: '1' }), signal);
        showEmpty = all.traces.length === 0;
      } catch {
        // Aborted by a newer refresh, or unreachable: keep what is shown.
        showEmpty = emptyShown;
      }
    }
    if (showEmpty !== emptyShown) {
      emptyShown = showEmpty;
      clear(resultsBody);
      resultsBody.appendChild(showEmpty ? emptyState() : table);
      if (!showEmpty) void loadServices();
    }
    renderRows(traces);
    const sig = traces.map((t) => `${t.traceId}:${t.durationNano}:${t.errorCount}`).join(',');
    if (sig !== scatterSig || showEmpty) {
      scatterSig = sig;
      if (showEmpty) scatter.hidden = true;
      else renderSearchScatter(scatter, traces, Math.min(1400, (resultsBody.clientWidth || 900) - 16));
    }
    moreBtn.hidden = showEmpty || traces.length < state.limit || state.limit >= MAX_LIMIT;
    count.textContent = showEmpty
      ? 'Waiting for telemetry'
      : traces.length === 0
        ? 'No traces match'
        : `${formatCount(traces.length)} trace${traces.length === 1 ? '' : 's'}${traces.length >= state.limit ? ` (newest ${state.limit})` : ''}`;
  }

  const rowCache = new Map<string, { tr: HTMLTableRowElement; sig: string; startCell: HTMLElement; summary: TraceSummary }>();

  function renderRows(traces: TraceSummary[]): void {
    const now = Date.now();
    let maxDur = 1;
    for (const t of traces) {
      const p = nsParts(t.durationNano);
      maxDur = Math.max(maxDur, p.sec * 1e9 + p.nano);
    }
    const firstLoad = lastTraces === null;
    const keep = new Set<string>();
    let prev: HTMLTableRowElement | null = null;
    for (const { trace: t, child, children } of foldLinked(traces, expanded)) {
      keep.add(t.traceId);
      const ctx = (t.context ?? []).map((c) => `${c.key}=${c.value}`).join(',');
      const sig = `${t.spanCount}|${t.errorCount}|${t.durationNano}|${t.rootName}|${t.rootService}|${t.services.join(',')}|${maxDur}|${ctx}|${t.errorMessage ?? ''}|${child}|${children}|${expanded.has(t.traceId)}|${incompleteSig(t)}`;
      let c = rowCache.get(t.traceId);
      if (!c || c.sig !== sig) {
        const fresh = buildRow(t, maxDur, now, child, children);
        if (c) c.tr.replaceWith(fresh.tr);
        c = { ...fresh, sig, summary: t };
        rowCache.set(t.traceId, c);
        if (!firstLoad && !seen.has(t.traceId)) c.tr.classList.add('new');
      }
      c.startCell.title = formatTime(t.startTimeUnixNano, { now }).title;
      toggleClass(c.tr, 'kb-cursor', t.traceId === cursorId);
      const want: ChildNode | null = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== c.tr) tbody.insertBefore(c.tr, want);
      prev = c.tr;
    }
    for (const [id, c] of rowCache) {
      if (!keep.has(id)) {
        c.tr.remove();
        rowCache.delete(id);
      }
    }
    for (const t of traces) seen.add(t.traceId);
    if (seen.size > 5000) seen = new Set(traces.map((t) => t.traceId));
    lastTraces = traces;
    showContextColumns(traces);
  }

  /** A context column that no listed trace has a value for stays out of the way (the root name keeps the room). */
  function showContextColumns(traces: TraceSummary[]): void {
    const has = new Set<string>();
    for (const t of traces) for (const c of t.context ?? []) has.add(c.key);
    for (const th of ctxHeads) {
      const k = th.dataset.key ?? '';
      const hide = !has.has(k);
      th.hidden = hide;
      for (const td of tbody.querySelectorAll<HTMLElement>('td.c-ctx')) if (td.dataset.key === k) td.hidden = hide;
    }
  }

  function toggleLinked(traceId: string, open?: boolean): void {
    const on = open ?? !expanded.has(traceId);
    if (on) expanded.add(traceId);
    else expanded.delete(traceId);
    if (lastTraces) renderRows(lastTraces);
  }

  // --- keyboard: j/k, Enter, h/l, /, ? -----------------------------------------------
  function visibleRows(): HTMLTableRowElement[] {
    return [...tbody.querySelectorAll<HTMLTableRowElement>('tr[data-trace-id]')];
  }
  function moveCursor(d: number): void {
    const rows = visibleRows();
    if (rows.length === 0) return;
    let i = rows.findIndex((r) => r.dataset.traceId === cursorId);
    i = i < 0 ? (d > 0 ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, i + d));
    for (const r of rows) toggleClass(r, 'kb-cursor', false);
    const row = rows[i]!;
    cursorId = row.dataset.traceId ?? null;
    toggleClass(row, 'kb-cursor', true);
    row.scrollIntoView({ block: 'nearest' });
  }
  const onKey = (ev: KeyboardEvent) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev) || document.querySelector('dialog[open]:not(.shortcuts-dialog)')) return;
    switch (ev.key) {
      case 'j':
      case 'ArrowDown':
        moveCursor(1);
        break;
      case 'k':
      case 'ArrowUp':
        moveCursor(-1);
        break;
      case 'Enter':
        if (!cursorId) return;
        navigate(traceUrl({ traceId: cursorId }));
        break;
      case 'l':
      case 'ArrowRight':
        if (cursorId) toggleLinked(cursorId, true);
        break;
      case 'h':
      case 'ArrowLeft':
        if (cursorId) toggleLinked(cursorId, false);
        break;
      case '/':
        qIn.focus();
        qIn.select();
        break;
      case '?':
        toggleShortcuts('Traces', SHORTCUTS);
        break;
      default:
        return;
    }
    ev.preventDefault();
  };
  document.addEventListener('keydown', onKey);

  function buildRow(t: TraceSummary, maxDur: number, now: number, child: boolean, children: number) {
    const href = traceUrl({ traceId: t.traceId });
    const p = nsParts(t.durationNano);
    const durNs = p.sec * 1e9 + p.nano;
    const bar = h('span', { class: 'dur-bar' });
    bar.style.width = `${Math.max(1, (durNs / maxDur) * 100).toFixed(1)}%`;
    if (t.errorCount > 0) bar.classList.add('err');
    const startCell = timeText(t.startTimeUnixNano, { now, class: 'abs' });
    const pick = h('input', { class: 'checkbox', testid: 'trace-pick', attrs: { type: 'checkbox', 'aria-label': `Pick ${t.rootName || 'trace'} to compare` } });
    pick.checked = picked.has(t.traceId);
    pick.addEventListener('change', () => {
      if (pick.checked) {
        // A third pick replaces the oldest pick.
        if (picked.size >= 2) {
          const first = picked.keys().next().value as string;
          picked.delete(first);
          const other = rowCache.get(first)?.tr.querySelector<HTMLInputElement>('input[type=checkbox]');
          if (other) other.checked = false;
        }
        picked.set(t.traceId, t.startTimeUnixNano);
      } else picked.delete(t.traceId);
      renderPicked();
    });
    const linkedBadge =
      children > 0
        ? h('button', {
            class: 'chip linked-badge',
            testid: 'linked-badge',
            attrs: { type: 'button', 'aria-expanded': String(expanded.has(t.traceId)), title: `${children} linked trace${children === 1 ? '' : 's'} (child executions) listed: show or fold them` },
            text: `${expanded.has(t.traceId) ? '−' : '+'}${children} linked`,
          })
        : null;
    linkedBadge?.addEventListener('click', (ev) => {
      ev.stopPropagation();
      toggleLinked(t.traceId);
    });
    const byKey = new Map((t.context ?? []).map((c) => [c.key, c.value]));
    const tr = h(
      'tr',
      { testid: 'trace-row', data: { traceId: t.traceId, linkedChild: child ? t.linksTo : undefined }, class: `${t.errorCount > 0 ? 'has-error' : ''}${child ? ' linked-child' : ''}` },
      h('td', { class: 'c-pick' }, pick),
      h('td', { class: 'c-start' }, startCell),
      h(
        'td',
        { class: 'c-root' },
        h('a', { class: 'root-link', attrs: { href } }, serviceChip(t.rootService), h('span', { class: 'root-name', text: t.rootName || '(no name)' })),
        h('span', { class: 'trace-id mono muted', text: t.traceId.slice(0, 12) }),
        linkedBadge,
        ...incompleteChips(t),
      ),
      ...ctxKeys.map((k) => {
        const v = byKey.get(k);
        return h('td', { class: `c-ctx${v === undefined ? ' muted' : ''}`, testid: 'context-cell', data: { key: k }, title: v === undefined ? `no ${k}` : `${k} = ${v}`, text: v ?? '—' });
      }),
      h('td', { class: 'c-dur' }, h('span', { class: 'dur-text', text: formatDurationNs(t.durationNano) }), h('span', { class: 'dur-track' }, bar)),
      h('td', { class: 'c-num', text: formatCount(t.spanCount) }),
      h('td', { class: `c-num ${t.errorCount > 0 ? 'errors' : 'muted'}`, text: t.errorCount > 0 ? formatCount(t.errorCount) : '0' }),
      h('td', { class: 'c-errmsg', testid: 'error-message', title: t.errorMessage ?? '', text: t.errorMessage ?? '' }),
      h('td', { class: 'c-svcs' }, ...t.services.slice(0, 6).map((s) => serviceChip(s)), t.services.length > 6 ? h('span', { class: 'muted', text: `+${t.services.length - 6}` }) : null),
    );
    tr.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('a, .c-pick')) return;
      if (window.getSelection()?.toString()) return;
      navigate(href);
    });
    return { tr, startCell };
  }

  const onVisibility = () => {
    if (document.hidden) window.clearTimeout(timer);
    else if (!paused) void refresh();
  };
  document.addEventListener('visibilitychange', onVisibility);

  ensureServiceOption(state.service);
  fillForm();
  renderPause();
  void loadServices();
  void refresh();

  return {
    update(next: unknown) {
      state = next as SearchState;
      fillForm();
      void refresh();
      if (!mapPanel.hidden) void loadTopology();
    },
    destroy() {
      destroyed = true;
      mapCtl?.abort();
      window.clearTimeout(timer);
      inflight?.abort();
      document.removeEventListener('visibilitychange', onVisibility);
      document.removeEventListener('keydown', onKey);
      page.remove();
    },
  };
}
