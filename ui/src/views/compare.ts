// Route `/compare?a=…&b=…`: two traces as one merged tree (docs/api.md,
// GET /api/v1/compare). Rows in both carry both durations and the delta;
// rows in one side only are coloured as added or removed. Telemetry is text.

import { ApiError, getCompare } from '../api';
import { formatDelta, visibleCompareRows, type CompareAnswer, type CompareNode } from '../analysis';
import { clear, h } from '../dom';
import { formatDurationNs, shortId } from '../format';
import { compareUrl, traceUrl, type CompareState } from '../query';
import { navigate } from '../router';
import type { View } from '../router';

/** Rows drawn at once; the rest is behind "Show more" (compare trees are read, not scrolled through). */
const PAGE_ROWS = 2000;

export function mountCompare(root: HTMLElement, initial: CompareState): View {
  let state = initial;
  let ctl = new AbortController();
  let answer: CompareAnswer | null = null;
  const collapsed = new Set<number>();
  let limit = PAGE_ROWS;

  const head = h('section', { class: 'cmp-head' });
  const list = h('div', { class: 'cmp-list', testid: 'compare-tree', attrs: { role: 'tree' } });
  const page = h('div', { class: 'page compare-view' }, head, list);
  root.appendChild(page);

  async function load(): Promise<void> {
    ctl.abort();
    ctl = new AbortController();
    answer = null;
    collapsed.clear();
    limit = PAGE_ROWS;
    clear(head);
    clear(list);
    if (!state.a || !state.b) {
      head.append(h('h2', { text: 'Compare two traces' }), h('p', { class: 'muted', text: 'Open a trace and use "Compare with previous run", or give /compare?a=TRACE&b=TRACE.' }));
      return;
    }
    list.append(h('p', { class: 'muted', text: 'Comparing…' }));
    try {
      answer = await getCompare(state.a, state.b, state.linked, ctl.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(list);
      list.append(h('p', { class: 'notice', text: e instanceof ApiError ? e.message : String(e) }));
      return;
    }
    renderHead();
    renderRows();
  }

  function renderHead(): void {
    if (!answer) return;
    const s = answer.summary;
    clear(head);
    const linkedBtn = h('button', {
      class: 'btn small toggle',
      testid: 'compare-linked',
      attrs: { type: 'button', 'aria-pressed': String(state.linked), title: 'Compare the stitched views (with linked traces)' },
      text: state.linked ? 'Linked traces: on' : 'Linked traces: off',
    });
    linkedBtn.addEventListener('click', () => navigate(compareUrl({ ...state, linked: !state.linked })));
    head.append(
      h(
        'div',
        { class: 'th-top' },
        h('h2', { text: 'Compare' }),
        h('a', { class: 'cmp-a', attrs: { href: traceUrl({ traceId: answer.a }) }, text: `A ${shortId(answer.a)}` }),
        h('span', { class: 'muted', text: '→' }),
        h('a', { class: 'cmp-b', attrs: { href: traceUrl({ traceId: answer.b }) }, text: `B ${shortId(answer.b)}` }),
        linkedBtn,
      ),
      h(
        'div',
        { class: 'th-meta', testid: 'compare-summary' },
        h('span', { text: `${formatDurationNs(s.durationA)} → ${formatDurationNs(s.durationB)} (${formatDelta(s.delta)})` }),
        h('span', { class: 'cmp-onlyB-text', text: `${s.added} added` }),
        h('span', { class: 'cmp-onlyA-text', text: `${s.removed} removed` }),
        h('span', { text: `${s.changed} changed` }),
        s.statusChanges ? h('span', { class: 'cmp-err-text', text: `${s.statusChanges} status changes` }) : null,
      ),
    );
    if (s.regressions.length) {
      const ul = h('ol', { class: 'cmp-regressions', testid: 'compare-regressions' });
      for (const r of s.regressions.slice(0, 5)) {
        const li = h(
          'li',
          null,
          h('a', { attrs: { href: `#cmp-${r.node}` }, text: `${r.service} - ${r.name}` }),
          ' ',
          h('span', { class: 'cmp-slower-text', text: formatDelta(r.delta) }),
          r.ratio !== null ? h('span', { class: 'muted', text: ` (${r.ratio.toFixed(1)}×)` }) : null,
        );
        ul.append(li);
      }
      head.append(h('div', { class: 'cmp-reg-title muted', text: 'Largest regressions (by own time)' }), ul);
    }
  }

  function renderRows(): void {
    if (!answer) return;
    clear(list);
    const nodes = answer.nodes;
    const hasKids = new Uint8Array(nodes.length);
    for (const n of nodes) if (n.parent !== null) hasKids[n.parent] = 1;
    let maxAbs = 1n;
    for (const n of nodes) {
      if (n.delta === null) continue;
      const v = BigInt(n.delta);
      const abs = v < 0n ? -v : v;
      if (abs > maxAbs) maxAbs = abs;
    }
    const rows = visibleCompareRows(nodes, collapsed);
    list.append(
      h(
        'div',
        { class: 'cmp-row cmp-header' },
        h('span', { class: 'cmp-name', text: 'Span' }),
        h('span', { class: 'cmp-dur', text: 'A' }),
        h('span', { class: 'cmp-dur', text: 'B' }),
        h('span', { class: 'cmp-delta', text: 'Δ' }),
      ),
    );
    for (const n of rows.slice(0, limit)) list.append(row(n, !!hasKids[n.id], maxAbs));
    if (rows.length > limit) {
      const more = h('button', { class: 'btn small', attrs: { type: 'button' }, text: `Show ${Math.min(PAGE_ROWS, rows.length - limit)} more of ${rows.length - limit}` });
      more.addEventListener('click', () => {
        limit += PAGE_ROWS;
        renderRows();
      });
      list.append(more);
    }
  }

  function row(n: CompareNode, kids: boolean, maxAbs: bigint): HTMLElement {
    let cls = `cmp-row cmp-${n.presence}`;
    if (n.delta !== null) {
      const d = BigInt(n.delta);
      if (d > 0n && d * 10n >= BigInt(n.a?.duration ?? '0') && d >= 1_000_000n) cls += ' cmp-slower';
      else if (d < 0n && -d * 10n >= BigInt(n.a?.duration ?? '0') && -d >= 1_000_000n) cls += ' cmp-faster';
    }
    if (n.statusChange === 'newError') cls += ' cmp-new-error';
    if (n.statusChange === 'fixed') cls += ' cmp-fixed';
    const toggle = h('button', { class: 'wf-toggle', attrs: { type: 'button', 'aria-label': 'Collapse or expand', hidden: !kids }, text: collapsed.has(n.id) ? '▸' : '▾' });
    toggle.addEventListener('click', () => {
      if (collapsed.has(n.id)) collapsed.delete(n.id);
      else collapsed.add(n.id);
      renderRows();
    });
    const indent = h('span', { class: 'wf-indent' });
    indent.style.width = `${Math.min(n.depth, 40) * 14}px`;
    const bar = h('span', { class: 'cmp-bar' });
    if (n.delta !== null) {
      const v = BigInt(n.delta);
      const abs = v < 0n ? -v : v;
      bar.style.width = `${Math.round(Number((abs * 1000n) / maxAbs)) / 10}%`;
    }
    const tag = n.presence === 'onlyA' ? 'removed' : n.presence === 'onlyB' ? 'added' : n.moved ? 'moved' : '';
    return h(
      'div',
      { class: cls, testid: 'compare-row', attrs: { id: `cmp-${n.id}`, role: 'treeitem', 'aria-level': n.depth + 1 }, data: { presence: n.presence } },
      h(
        'span',
        { class: 'cmp-name' },
        indent,
        toggle,
        h('span', { class: 'wf-name', text: n.name || '(no name)' }),
        h('span', { class: 'wf-svc', text: n.service }),
        tag ? h('span', { class: `cmp-tag cmp-tag-${tag}`, text: tag }) : null,
        n.statusChange ? h('span', { class: 'cmp-tag cmp-tag-status', text: n.statusChange === 'newError' ? 'new error' : 'fixed' }) : null,
      ),
      h('span', { class: 'cmp-dur', text: n.a ? formatDurationNs(n.a.duration) : '–' }),
      h('span', { class: 'cmp-dur', text: n.b ? formatDurationNs(n.b.duration) : '–' }),
      h('span', { class: 'cmp-delta' }, h('span', { class: 'cmp-bar-track' }, bar), h('span', { class: 'cmp-delta-text', text: n.delta !== null ? formatDelta(n.delta) : '' })),
    );
  }

  void load();
  return {
    update(next: unknown) {
      const s = next as CompareState;
      if (s.a === state.a && s.b === state.b && s.linked === state.linked) return;
      state = s;
      void load();
    },
    destroy() {
      ctl.abort();
      page.remove();
    },
  };
}
