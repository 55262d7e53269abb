// The URL ⇄ state mapping. The address bar holds the whole search (and the
// trace view's options), so every view can be bookmarked and back/forward work.

import { parseLogs, parseMetrics, type LogsState, type MetricsState } from './explore';

export const RANGE_PRESETS = ['15m', '1h', '6h', '24h', '7d', 'all'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];
export type Range = RangePreset | 'custom';

export interface SearchState {
  service: string;
  name: string;
  q: string;
  errors: boolean;
  minDuration: string;
  maxDuration: string;
  range: Range;
  /** Custom range bounds: RFC 3339 (UTC) or empty. Only used when range is 'custom'. */
  from: string;
  to: string;
  limit: number;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

export function defaultSearch(): SearchState {
  return {
    service: '',
    name: '',
    q: '',
    errors: false,
    minDuration: '',
    maxDuration: '',
    range: 'all',
    from: '',
    to: '',
    limit: DEFAULT_LIMIT,
  };
}

function isRange(s: string): s is Range {
  return s === 'custom' || (RANGE_PRESETS as readonly string[]).includes(s);
}

/** Reads a search from a query string (`?service=…&q=…`). Unknown or invalid values fall back to defaults. */
export function parseSearch(query: string | URLSearchParams): SearchState {
  const p = typeof query === 'string' ? new URLSearchParams(query) : query;
  const s = defaultSearch();
  s.service = p.get('service') ?? '';
  s.name = p.get('name') ?? '';
  s.q = p.get('q') ?? '';
  const e = p.get('errors');
  s.errors = e === '1' || e === 'true';
  s.minDuration = p.get('minDuration') ?? '';
  s.maxDuration = p.get('maxDuration') ?? '';
  const r = p.get('range') ?? '';
  s.from = p.get('from') ?? '';
  s.to = p.get('to') ?? '';
  if (isRange(r)) s.range = r;
  else if (s.from || s.to) s.range = 'custom';
  if (s.range !== 'custom') {
    s.from = '';
    s.to = '';
  }
  const l = Number(p.get('limit'));
  if (Number.isInteger(l) && l >= 1 && l <= MAX_LIMIT) s.limit = l;
  return s;
}

/** Writes a search as a query string, leaving defaults out (stable key order). Empty → ''. */
export function searchToQuery(s: SearchState): string {
  const p = new URLSearchParams();
  if (s.service) p.set('service', s.service);
  if (s.name) p.set('name', s.name);
  if (s.q.trim()) p.set('q', s.q);
  if (s.errors) p.set('errors', '1');
  if (s.minDuration.trim()) p.set('minDuration', s.minDuration.trim());
  if (s.maxDuration.trim()) p.set('maxDuration', s.maxDuration.trim());
  if (s.range !== 'all') p.set('range', s.range);
  if (s.range === 'custom') {
    if (s.from) p.set('from', s.from);
    if (s.to) p.set('to', s.to);
  }
  if (s.limit !== DEFAULT_LIMIT) p.set('limit', String(s.limit));
  const out = p.toString();
  return out ? `?${out}` : '';
}

/** The parameters of `GET /api/v1/traces` for a search. `withQ: false` drops the expression (for servers without `q`). */
export function searchToApiParams(s: SearchState, opts: { withQ?: boolean } = {}): URLSearchParams {
  const p = new URLSearchParams();
  if (s.service) p.set('service', s.service);
  if (s.name) p.set('spanName', s.name);
  if ((opts.withQ ?? true) && s.q.trim()) p.set('q', s.q.trim());
  if (s.errors) p.set('errors', 'true');
  if (s.minDuration.trim()) p.set('minDuration', s.minDuration.trim());
  if (s.maxDuration.trim()) p.set('maxDuration', s.maxDuration.trim());
  if (s.range === 'custom') {
    if (s.from) p.set('start', s.from);
    if (s.to) p.set('end', s.to);
  } else if (s.range !== 'all') {
    p.set('start', `now-${s.range}`);
  }
  p.set('limit', String(s.limit));
  return p;
}

export function sameSearch(a: SearchState, b: SearchState): boolean {
  return searchToQuery(a) === searchToQuery(b);
}

/** `<input type="datetime-local">` value (local time) → RFC 3339 UTC, or '' when empty/invalid. */
export function localInputToIso(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().replace('.000Z', 'Z');
}

/** RFC 3339 → `<input type="datetime-local">` value in local time. */
export function isoToLocalInput(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ---------------------------------------------------------------------------
// Trace view options: /trace/<id>?span=…&stitched=1&group=…&find=…
// ---------------------------------------------------------------------------

export interface TraceViewState {
  traceId: string;
  span: string;
  stitched: boolean;
  group: string;
  find: string;
  tab: 'details' | 'logs';
}

const TRACE_PATH = /^\/trace\/([0-9a-fA-F]{1,64})\/?$/;

export type Route =
  | { view: 'search'; search: SearchState }
  | { view: 'trace'; trace: TraceViewState }
  | { view: 'metrics'; metrics: MetricsState }
  | { view: 'logs'; logs: LogsState }
  | { view: 'dashboard' }
  | { view: 'settings' }
  | { view: 'compare'; compare: CompareState }
  | { view: 'rules'; path: string }
  | { view: 'notfound'; path: string };

/** `/compare?a=…&b=…&linked=1`: B is "now", A the baseline. */
export interface CompareState {
  a: string;
  b: string;
  linked: boolean;
}

export function compareUrl(c: CompareState): string {
  const p = new URLSearchParams({ a: c.a, b: c.b });
  if (c.linked) p.set('linked', '1');
  return `/compare?${p.toString()}`;
}

export function parseRoute(pathname: string, query: string): Route {
  if (pathname === '/' || pathname === '' || pathname === '/index.html') return { view: 'search', search: parseSearch(query) };
  if (pathname === '/explore/metrics' || pathname === '/explore/metrics/') return { view: 'metrics', metrics: parseMetrics(query) };
  if (pathname === '/logs' || pathname === '/logs/') return { view: 'logs', logs: parseLogs(query) };
  if (pathname === '/dashboard' || pathname === '/dashboard/') return { view: 'dashboard' };
  if (pathname === '/settings') return { view: 'settings' };
  if (pathname === '/rules' || pathname.startsWith('/rules/')) return { view: 'rules', path: pathname };
  if (pathname === '/compare' || pathname === '/compare/') {
    const p = new URLSearchParams(query);
    const id = (k: string) => ((p.get(k) ?? '').match(/^[0-9a-fA-F]{1,64}$/) ? (p.get(k) ?? '').toLowerCase() : '');
    return { view: 'compare', compare: { a: id('a'), b: id('b'), linked: p.get('linked') === '1' } };
  }
  const m = TRACE_PATH.exec(pathname);
  if (m) {
    const p = new URLSearchParams(query);
    return {
      view: 'trace',
      trace: {
        traceId: (m[1] ?? '').toLowerCase(),
        span: (p.get('span') ?? '').toLowerCase(),
        stitched: p.get('stitched') === '1',
        group: p.get('group') ?? '',
        find: p.get('find') ?? '',
        tab: p.get('tab') === 'logs' ? 'logs' : 'details',
      },
    };
  }
  return { view: 'notfound', path: pathname };
}

export function traceUrl(t: Partial<TraceViewState> & { traceId: string }): string {
  const p = new URLSearchParams();
  if (t.span) p.set('span', t.span);
  if (t.stitched) p.set('stitched', '1');
  if (t.group) p.set('group', t.group);
  if (t.find) p.set('find', t.find);
  if (t.tab && t.tab !== 'details') p.set('tab', t.tab);
  const q = p.toString();
  return `/trace/${t.traceId}${q ? `?${q}` : ''}`;
}

// ---------------------------------------------------------------------------
// Completion of attribute keys in a `q` expression.
// ---------------------------------------------------------------------------

const KEY_CHAR = /[A-Za-z0-9_.\-/:@]/;
const OPS = ['!=', '>=', '<=', '=', '>', '<'];

export interface CompletionContext {
  /** The key being typed: text[start, end). */
  start: number;
  end: number;
  prefix: string;
}

/**
 * Where the caret is typing an attribute key in a `q` expression (not a value,
 * not inside quotes), or null.
 */
export function completionContext(text: string, caret: number): CompletionContext | null {
  let quotes = 0;
  for (let i = 0; i < caret; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') quotes++;
  }
  if (quotes % 2 === 1) return null;
  let start = caret;
  while (start > 0 && KEY_CHAR.test(text[start - 1]!)) start--;
  let end = caret;
  while (end < text.length && KEY_CHAR.test(text[end]!)) end++;
  const prefix = text.slice(start, caret);
  if (!prefix) return null;
  const before = text.slice(0, start).trimEnd();
  if (OPS.some((op) => before.endsWith(op))) return null;
  // After a complete condition (`key = value `), the next word is AND/OR, not a key.
  const lastWord = /([A-Za-z0-9_.\-"]+)\s*$/.exec(before)?.[1];
  if (lastWord && !/^(and|or|not)$/i.test(lastWord)) return null;
  return { start, end, prefix };
}

/** Keys matching a prefix: those starting with it first, then those containing it. */
export function completeKeys(keys: readonly string[], prefix: string, max = 8): string[] {
  const p = prefix.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const k of keys) {
    const l = k.toLowerCase();
    if (l === p) continue;
    if (l.startsWith(p)) starts.push(k);
    else if (l.includes(p)) contains.push(k);
  }
  return [...starts, ...contains].slice(0, max);
}
