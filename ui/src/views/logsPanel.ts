// The Logs tab: every log record of the trace(s), oldest first. Clicking one
// selects its span.

import { serviceColor } from '../color';
import { h, toggleClass } from '../dom';
import { anyValueToString, formatDuration, formatTimestamp, severityName } from '../format';
import type { LogEntry, SpanTree } from '../tree';

const PAGE = 500;

export interface LogsPanel {
  el: HTMLElement;
  set(tree: SpanTree, logs: LogEntry[], loading: boolean): void;
  /** Show only the logs of one span (-1: all). */
  filterNode(node: number): void;
}

export function createLogsPanel(onPick: (node: number) => void): LogsPanel {
  let tree: SpanTree | null = null;
  let logs: LogEntry[] = [];
  let loading = true;
  let nodeFilter = -1;
  let limit = PAGE;

  const text = h('input', { class: 'input logs-filter', attrs: { type: 'search', placeholder: 'Filter log bodies', 'aria-label': 'Filter logs', spellcheck: 'false' } });
  const errorsOnly = h('input', { class: 'checkbox', attrs: { type: 'checkbox' } });
  const spanChip = h('button', { class: 'chip', attrs: { type: 'button', hidden: true } });
  const info = h('span', { class: 'muted small' });
  const list = h('ul', { class: 'logs-list' });
  const more = h('button', { class: 'btn small', attrs: { type: 'button', hidden: true }, text: 'Show more' });
  const el = h('div', { class: 'logs-panel' }, h('div', { class: 'logs-tools' }, text, h('label', { class: 'check' }, errorsOnly, ' errors'), spanChip, info), list, more);

  text.addEventListener('input', () => {
    limit = PAGE;
    render();
  });
  errorsOnly.addEventListener('change', () => {
    limit = PAGE;
    render();
  });
  spanChip.addEventListener('click', () => {
    nodeFilter = -1;
    render();
  });
  more.addEventListener('click', () => {
    limit += PAGE;
    render();
  });
  list.addEventListener('click', (ev) => {
    const li = (ev.target as Element).closest('li[data-node]') as HTMLElement | null;
    if (!li || (ev.target as Element).closest('button')) return;
    const n = Number(li.dataset.node);
    if (n >= 0) onPick(n);
  });

  function render(): void {
    const t = text.value.trim().toLowerCase();
    const errs = errorsOnly.checked;
    const shown = logs.filter((e) => (nodeFilter < 0 || e.node === nodeFilter) && (!errs || e.severity >= 17) && (!t || anyValueToString(e.record.body).toLowerCase().includes(t)));
    spanChip.hidden = nodeFilter < 0;
    if (nodeFilter >= 0 && tree) spanChip.textContent = `span: ${tree.nodes[nodeFilter]?.name ?? '?'}  ✕`;
    info.textContent = loading ? 'loading…' : `${shown.length} of ${logs.length}`;
    const items = shown.slice(0, limit).map((e) => {
      const node = e.node >= 0 && tree ? tree.nodes[e.node] : undefined;
      const sev = severityName(e.severity, e.record.severityText);
      const dot = h('span', { class: 'svc-dot' });
      dot.style.background = serviceColor(e.service);
      const li = h(
        'li',
        { class: `log-row${e.severity >= 17 ? ' err' : e.severity >= 13 ? ' warn' : ''}${node ? ' clickable' : ''}`, testid: 'log-row', data: { node: e.node, spanId: e.record.spanId ?? '' } },
        h(
          'div',
          { class: 'log-meta' },
          h('span', { class: 'sev', text: sev }),
          h('span', { class: 'mono', text: formatTimestamp(e.timeNs, { withDate: false }), title: `+${formatDuration(e.offset)} from trace start` }),
          h('span', { class: 'svc' }, dot, e.service),
          node ? h('span', { class: 'log-span', text: `↳ ${node.name}` }) : h('span', { class: 'muted small', text: e.record.spanId ? 'span not in trace' : 'no span' }),
        ),
        h('div', { class: 'log-body', text: anyValueToString(e.record.body) }),
      );
      return li;
    });
    list.replaceChildren(...items);
    if (!loading && shown.length === 0) list.appendChild(h('li', { class: 'muted empty', text: logs.length ? 'No log matches the filter.' : 'No logs for this trace.' }));
    more.hidden = shown.length <= limit;
    toggleClass(el, 'filtered', nodeFilter >= 0);
  }

  return {
    el,
    set(tr, l, isLoading) {
      tree = tr;
      logs = l;
      loading = isLoading;
      render();
    },
    filterNode(n) {
      nodeFilter = n;
      limit = PAGE;
      render();
    },
  };
}
