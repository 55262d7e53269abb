// Run history scatter plots (SVG, errors marked, each point a link): of a
// trace's run key on the trace page, and of the current search on the trace
// list (Jaeger's duration scatter plot). Built with DOM calls only:
// attributes are SVG geometry, never styles or markup, so the CSP holds.

import { searchTraces } from '../api';
import { runKeySearch, runPoints, runSearchParams, type RunKey, type RunPoint } from '../analysis';
import { h } from '../dom';
import { formatDuration, formatTimestamp } from '../format';
import { defaultSearch, searchToQuery, traceUrl } from '../query';
import { navigate } from '../router';
import type { TraceSummary } from '../stitch';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The scatter of `pts` in a `w`×`hgt` box, with the longest duration as a label when `axis`. */
export function runScatter(pts: readonly RunPoint[], w: number, hgt: number, label: string, axis = false): SVGSVGElement {
  const pad = axis ? 6 : 4;
  const left = axis ? 52 : pad;
  const root = svg('svg', { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, class: 'run-history', role: 'img', 'aria-label': label });
  root.append(svg('line', { x1: left, y1: hgt - pad, x2: w - pad, y2: hgt - pad, class: 'rh-axis' }));
  if (axis) {
    root.append(svg('line', { x1: left, y1: pad, x2: left, y2: hgt - pad, class: 'rh-axis' }));
    const max = Math.max(0, ...pts.map((p) => p.durationNs));
    for (const [y, text] of [
      [pad + 8, formatDuration(max)],
      [hgt - pad, '0'],
    ] as const) {
      const t = svg('text', { x: left - 4, y, class: 'rh-label', 'text-anchor': 'end' });
      t.textContent = text;
      root.append(t);
    }
  }
  for (const p of pts) {
    const c = svg('circle', {
      cx: left + p.x * (w - left - pad),
      cy: hgt - pad - p.y * (hgt - 2 * pad),
      r: p.current ? 4 : 3,
      class: `rh-point${p.error ? ' error' : ''}${p.current ? ' current' : ''}`,
      'data-testid': 'run-point',
      'data-trace-id': p.traceId,
    });
    const title = svg('title', {});
    title.textContent = `${formatTimestamp(p.start)} · ${formatDuration(p.durationNs)}${p.error ? ' · errors' : ''}`;
    c.append(title);
    c.addEventListener('click', () => navigate(traceUrl({ traceId: p.traceId })));
    root.append(c);
  }
  return root;
}

/** The trace-list URL that lists the runs of `key`. */
export function runsListUrl(key: RunKey): string {
  return `/${searchToQuery({ ...defaultSearch(), ...runKeySearch(key) })}`;
}

/** Fills `box` with the scatter of the runs of `key` and a link to list them; leaves it empty when there is at most one run. */
export async function renderRunHistory(box: HTMLElement, key: RunKey, currentId: string, signal: AbortSignal): Promise<void> {
  const { traces } = await searchTraces(runSearchParams(key), signal);
  const pts = runPoints(traces, key, currentId);
  if (pts.length < 2) return;
  box.replaceChildren(
    runScatter(pts, 240, 44, `Run history: ${pts.length} runs`),
    h('a', { class: 'small', testid: 'run-history-list', attrs: { href: runsListUrl(key), title: 'List these runs in the trace list' }, text: `${pts.length} runs` }),
  );
}

/** The trace list's scatter of the current search (duration over time); empty under two traces. */
export function renderSearchScatter(box: HTMLElement, traces: readonly TraceSummary[], width: number): void {
  const pts = runPoints(traces, null, '');
  if (pts.length < 2) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.replaceChildren(runScatter(pts, Math.max(200, width), 90, `Duration over time: ${pts.length} traces`, true));
}
