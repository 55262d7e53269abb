// The run history of a trace's run key: each run's duration over time as an
// SVG scatter (errors marked, the current run ringed, each point a link).
// Built with DOM calls only: attributes are SVG geometry, never styles or
// markup, so the CSP holds.

import { searchTraces } from '../api';
import { runPoints, runSearchParams, type RunKey } from '../analysis';
import { formatDuration, formatTimestamp } from '../format';
import { traceUrl } from '../query';
import { navigate } from '../router';

const SVG = 'http://www.w3.org/2000/svg';
const W = 240;
const H = 44;
const PAD = 4;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Fills `box` with the scatter of the runs of `key`; leaves it empty when there is at most one run. */
export async function renderRunHistory(box: HTMLElement, key: RunKey, currentId: string, signal: AbortSignal): Promise<void> {
  const { traces } = await searchTraces(runSearchParams(key), signal);
  const pts = runPoints(traces, key, currentId);
  if (pts.length < 2) return;
  const root = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'run-history', role: 'img', 'aria-label': `Run history: ${pts.length} runs` });
  root.append(svg('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: 'rh-axis' }));
  for (const p of pts) {
    const c = svg('circle', {
      cx: PAD + p.x * (W - 2 * PAD),
      cy: H - PAD - p.y * (H - 2 * PAD),
      r: p.current ? 4 : 3,
      class: `rh-point${p.error ? ' error' : ''}${p.current ? ' current' : ''}`,
      'data-testid': 'run-point',
    });
    const title = svg('title', {});
    title.textContent = `${formatTimestamp(p.start)} · ${formatDuration(p.durationNs)}${p.error ? ' · errors' : ''}`;
    c.append(title);
    c.addEventListener('click', () => navigate(traceUrl({ traceId: p.traceId })));
    root.append(c);
  }
  box.replaceChildren(root);
}
