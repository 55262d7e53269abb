// The span details panel: status, timing, attributes, resource, scope,
// events, links and backlinks. All telemetry text goes in as text nodes.

import { serviceColor } from '../color';
import { copyText, h } from '../dom';
import { timeText } from '../components';
import { anyValueToString, anyValueType, formatCount, formatDuration, nsDiff, severityName, shortId, SPAN_KINDS, type KeyValue } from '../format';
import type { RelatedAnswer, TraceSummary } from '../stitch';
import { F, findIndex, type LogEntry, type SpanNode, type SpanTree, timeSuspectReason } from '../tree';

/** Values longer than this are cut in tables, with a "show all" button. */
export const TRUNCATE_AT = 300;

export interface DetailsContext {
  tree: SpanTree;
  /** /related answers by trace ID (for backlinks and link summaries). */
  related: Map<string, RelatedAnswer>;
  logs: LogEntry[];
  /** Select a span of the current tree. */
  selectNode(index: number): void;
  /** URL of a span in another trace. */
  spanHref(traceId: string, spanId: string): string;
  /** Go to a span: in the current tree when present, else its trace's page. */
  goToSpan(traceId: string, spanId: string): void;
  showLogs(node: number): void;
}

export function valueCell(text: string, cls = 'val'): HTMLElement {
  const el = h('span', { class: cls });
  if (text.length <= TRUNCATE_AT) {
    el.textContent = text;
    return el;
  }
  const shown = h('span', { text: `${text.slice(0, TRUNCATE_AT)}…` });
  const more = h('button', { class: 'link-btn show-all', attrs: { type: 'button' }, text: `show all (${formatCount(text.length)} chars)` });
  more.addEventListener('click', () => {
    const expanded = more.dataset.expanded === '1';
    shown.textContent = expanded ? `${text.slice(0, TRUNCATE_AT)}…` : text;
    more.textContent = expanded ? `show all (${formatCount(text.length)} chars)` : 'show less';
    more.dataset.expanded = expanded ? '0' : '1';
  });
  el.append(shown, ' ', more);
  return el;
}

export function attrTable(attrs: readonly KeyValue[] | undefined, empty = 'none'): HTMLElement {
  if (!attrs || attrs.length === 0) return h('p', { class: 'muted small', text: empty });
  const sorted = [...attrs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return h(
    'table',
    { class: 'attrs' },
    h(
      'tbody',
      null,
      ...sorted.map((kv) => {
        const t = anyValueType(kv.value);
        return h('tr', null, h('th', { class: 'key', title: kv.key, text: kv.key }), h('td', { class: `type-${t}` }, valueCell(anyValueToString(kv.value))));
      }),
    ),
  );
}

function section(title: string, count: number | null, ...body: (Node | null)[]): HTMLElement {
  return h('section', { class: 'd-section' }, h('h3', null, title, count !== null ? h('span', { class: 'count-pill', text: String(count) }) : null), ...body);
}

function idRow(label: string, value: string, extra?: Node | null): HTMLElement {
  const copy = h('button', { class: 'link-btn copy-id', attrs: { type: 'button', title: 'Copy' }, text: 'copy' });
  copy.addEventListener('click', () => void copyText(value));
  return h('div', { class: 'kv' }, h('span', { class: 'k', text: label }), h('span', { class: 'v mono', text: value || '—' }), value ? copy : null, extra ?? null);
}

function summaryText(s: TraceSummary | null | undefined): string {
  if (!s) return 'not received';
  return `${s.rootService ?? '?'}: ${s.rootName} · ${s.spanCount} span${s.spanCount === 1 ? '' : 's'}${s.errorCount ? ` · ${s.errorCount} error${s.errorCount === 1 ? '' : 's'}` : ''}`;
}

export function renderDetails(node: SpanNode, ctx: DetailsContext): HTMLElement {
  const { tree } = ctx;
  const s = node.span;
  const status = s.status ?? {};
  const isErr = !!(node.flags & F.ERROR);
  const code = !status.code ? 'UNSET' : isErr ? 'ERROR' : status.code === 1 ? 'OK' : String(status.code);
  const dot = h('span', { class: 'svc-dot' });
  dot.style.background = serviceColor(node.service);

  const traceStart = tree.nodes.length ? tree.base : node.startNs;
  const offset = nsDiff(node.startNs, traceStart);

  const head = h(
    'header',
    { class: 'd-head' },
    h('h2', { class: `d-title${isErr ? ' error' : ''}` }, h('span', { text: node.name || '(no name)' })),
    h(
      'div',
      { class: 'd-sub' },
      h('span', { class: 'svc' }, dot, node.service || '(unknown service)'),
      h('span', { class: 'pill', text: SPAN_KINDS[node.kind] ?? `kind ${node.kind}` }),
      h('span', { class: `pill status-${code.toLowerCase()}`, text: code }),
      node.traceIdx > 0 ? h('span', { class: 'pill foreign', text: `trace ${shortId(node.traceId)}` }) : null,
    ),
    status.message ? h('p', { class: 'status-msg' }, valueCell(status.message)) : null,
  );

  const problems: string[] = [];
  if (node.flags & F.PLACEHOLDER)
    problems.push(`Not received: spans of this trace name span ${node.spanId} as their parent, but it has not arrived (a long-running parent exports its span when it ends).`);
  if (node.flags & F.ORPHAN) problems.push(`Orphan: its parent span ${node.parentSpanId} has not been received; it hangs under a placeholder for it.`);
  if (node.flags & F.CYCLE) problems.push('Parent cycle: following parents leads back here; the loop was cut at this span.');
  if (node.flags & F.DUPLICATE) problems.push('Duplicate span ID: another span in this trace has the same ID.');
  if (node.flags & F.END_BEFORE_START) problems.push(`End before start: it ends at ${node.endNs}, before its start ${node.startNs} (drawn with zero width).`);
  if (node.flags & F.NO_START) problems.push('No start time.');
  if (node.flags & F.TIME_SUSPECT) problems.push(`Timestamp looks wrong: ${timeSuspectReason(node.startNs, node.endNs)}. Stored and shown as sent.`);
  if (node.flags & F.STITCH_MISSING) problems.push('Linked trace: the span it links to is not present.');

  const timing = h(
    'div',
    { class: 'd-grid' },
    h('div', { class: 'kv' }, h('span', { class: 'k', text: 'Duration' }), h('span', { class: 'v', text: formatDuration(node.end - node.start) })),
    h('div', { class: 'kv' }, h('span', { class: 'k', text: 'Start' }), h('span', { class: 'v' }, timeText(node.startNs, { micros: true, withDate: true }), `  (+${formatDuration(offset)})`)),
    idRow('Span ID', node.spanId),
    idRow('Trace ID', node.traceId),
    node.parentSpanId
      ? idRow(
          'Parent',
          node.parentSpanId,
          node.parent >= 0 && tree.nodes[node.parent]!.spanId === node.parentSpanId
            ? (() => {
                const b = h('button', { class: 'link-btn', attrs: { type: 'button' }, text: 'select' });
                b.addEventListener('click', () => ctx.selectNode(node.parent));
                return b;
              })()
            : h('span', { class: 'badge warn', text: 'missing' }),
        )
      : null,
  );

  // Links this span carries.
  const related = ctx.related.get(node.traceId);
  const summaries = new Map<string, TraceSummary | null>();
  for (const e of related?.related ?? []) summaries.set(e.traceId, e.summary);
  const links = s.links ?? [];
  const linkList = h(
    'ul',
    { class: 'links' },
    ...links.map((l) => {
      const tid = (l.traceId ?? '').toLowerCase();
      const sid = (l.spanId ?? '').toLowerCase();
      const inTree = findIndex(tree, tid, sid) !== undefined;
      const a = h('a', { class: 'link-target mono', testid: 'link', data: { traceId: tid, spanId: sid }, attrs: { href: ctx.spanHref(tid, sid) } }, `${shortId(tid)} / ${shortId(sid)}`);
      a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        ev.preventDefault();
        ctx.goToSpan(tid, sid);
      });
      return h(
        'li',
        null,
        h(
          'div',
          { class: 'link-line' },
          h('span', { class: 'arrow', text: '→' }),
          a,
          h('span', { class: 'muted small', text: tid === node.traceId ? 'same trace' : inTree ? 'in this view' : summaryText(summaries.get(tid)) }),
        ),
        l.attributes?.length ? attrTable(l.attributes) : null,
      );
    }),
  );

  // Backlinks: spans of other traces that link here.
  const back: { fromTraceId: string; fromSpanId: string; summary: TraceSummary | null }[] = [];
  for (const e of related?.related ?? []) {
    if (e.direction !== 'incoming') continue;
    for (const l of e.links) if (l.toSpanId === node.spanId && l.toTraceId === node.traceId) back.push({ fromTraceId: l.fromTraceId, fromSpanId: l.fromSpanId, summary: e.summary });
  }
  // Links from spans of the same tree (same trace or stitched).
  const backList = h(
    'ul',
    { class: 'links' },
    ...back.map((b) => {
      const a = h(
        'a',
        { class: 'link-target mono', testid: 'backlink', data: { traceId: b.fromTraceId, spanId: b.fromSpanId }, attrs: { href: ctx.spanHref(b.fromTraceId, b.fromSpanId) } },
        `${shortId(b.fromTraceId)} / ${shortId(b.fromSpanId)}`,
      );
      a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        ev.preventDefault();
        ctx.goToSpan(b.fromTraceId, b.fromSpanId);
      });
      return h('li', null, h('div', { class: 'link-line' }, h('span', { class: 'arrow', text: '←' }), a, h('span', { class: 'muted small', text: summaryText(b.summary) })));
    }),
  );

  const events = (s.events ?? []).slice().sort((a, b) => nsDiff(a.timeUnixNano ?? '0', b.timeUnixNano ?? '0'));
  const eventList = h(
    'ul',
    { class: 'events' },
    ...events.map((ev) => {
      const isExc = ev.name === 'exception';
      const attrs = ev.attributes ?? [];
      const stack = isExc ? attrs.find((kv) => kv.key === 'exception.stacktrace') : undefined;
      const rest = stack ? attrs.filter((kv) => kv !== stack) : attrs;
      return h(
        'li',
        { class: isExc ? 'exception' : '' },
        h(
          'div',
          { class: 'ev-line' },
          h('span', { class: 'ev-time mono', text: `+${formatDuration(nsDiff(ev.timeUnixNano ?? '0', node.startNs))}` }),
          h('span', { class: 'ev-name', text: ev.name || '(no name)' }),
        ),
        rest.length ? attrTable(rest) : null,
        stack ? h('pre', { class: 'stack' }, valueCell(anyValueToString(stack.value), 'stack-text')) : null,
      );
    }),
  );

  const myLogs = ctx.logs.filter((e) => e.node === node.index);
  const logsBtn = h('button', { class: 'link-btn', attrs: { type: 'button' }, text: 'show in Logs tab' });
  logsBtn.addEventListener('click', () => ctx.showLogs(node.index));
  const logList = h(
    'ul',
    { class: 'span-logs' },
    ...myLogs
      .slice(0, 50)
      .map((e) =>
        h(
          'li',
          { class: e.severity >= 17 ? 'err' : '' },
          h('span', { class: 'sev', text: severityName(e.severity, e.record.severityText) }),
          h('span', { class: 'ev-time mono', text: `+${formatDuration(e.offset - node.start)}` }),
          valueCell(anyValueToString(e.record.body), 'log-body'),
        ),
      ),
  );

  const scope = node.scope;
  return h(
    'div',
    { class: 'details', testid: 'span-details', data: { spanId: node.spanId, traceId: node.traceId } },
    head,
    problems.length ? h('div', { class: 'problems' }, ...problems.map((p) => h('p', { text: p }))) : null,
    timing,
    section('Attributes', (s.attributes ?? []).length, attrTable(s.attributes)),
    events.length ? section('Events', events.length, eventList) : null,
    myLogs.length ? section('Logs', myLogs.length, logList, logsBtn) : null,
    links.length ? section('Links', links.length, linkList) : null,
    back.length ? section('Linked from', back.length, backList) : null,
    section('Resource', (node.resource.attributes ?? []).length, attrTable(node.resource.attributes)),
    section(
      'Scope',
      null,
      h('div', { class: 'kv' }, h('span', { class: 'k', text: 'Name' }), h('span', { class: 'v mono', text: scope.name || '—' })),
      scope.version ? h('div', { class: 'kv' }, h('span', { class: 'k', text: 'Version' }), h('span', { class: 'v mono', text: scope.version })) : null,
      scope.attributes?.length ? attrTable(scope.attributes) : null,
    ),
    s.traceState ? section('Trace state', null, valueCell(s.traceState)) : null,
    s.droppedAttributesCount || s.droppedEventsCount || s.droppedLinksCount
      ? h('p', { class: 'muted small', text: `Dropped by the SDK: ${s.droppedAttributesCount ?? 0} attributes, ${s.droppedEventsCount ?? 0} events, ${s.droppedLinksCount ?? 0} links` })
      : null,
  );
}

export function renderNoSelection(): HTMLElement {
  return h('div', { class: 'details empty' }, h('p', { class: 'muted', text: 'Select a span to see its attributes, events, links and logs. Keyboard: ↑/↓ move, ←/→ collapse/expand, Enter opens.' }));
}
