// Pure logic of the metric and log explorers: URL ⇄ state, the chart API's
// parameters, pixel ⇄ time mapping for the crosshair and drag-to-zoom, and
// log flattening and grouping by message template.

import { anyValueToString, attrValue, compareNs, type KeyValue } from './format';
import type { OtlpLogRecord, OtlpLogsData } from './tree';

export const CHART_PRESETS = ['15m', '1h', '6h', '24h', '7d'] as const;
export const AGGREGATES = ['sum', 'avg', 'min', 'max'] as const;

// ---------------------------------------------------------------------------
// Metrics: /explore/metrics?metric=…&range=1h&from=…&to=…&split=a,b&agg=sum&attr=k=v&hide=1,2&name=…&service=…
// ---------------------------------------------------------------------------

export interface MetricsState {
  /** Catalogue filters. */
  name: string;
  service: string;
  metric: string;
  /** A preset, or 'custom' with from/to as Unix nanosecond strings. */
  range: string;
  from: string;
  to: string;
  /** Split keys; null = one line per series. */
  split: string[] | null;
  agg: string;
  attrs: string[];
  hide: number[];
  /** Percentiles of histograms (names from QUANTILES), in that order. */
  pct: string[];
}

export function parseMetrics(query: string): MetricsState {
  const p = new URLSearchParams(query);
  const from = p.get('from') ?? '';
  const to = p.get('to') ?? '';
  const custom = /^\d+$/.test(from) && /^\d+$/.test(to) && compareNs(from, to) < 0;
  const preset = p.get('range') ?? '1h';
  const split = p.get('split');
  const agg = p.get('agg') ?? 'sum';
  return {
    name: p.get('name') ?? '',
    service: p.get('service') ?? '',
    metric: p.get('metric') ?? '',
    range: custom ? 'custom' : (CHART_PRESETS as readonly string[]).includes(preset) ? preset : '1h',
    from: custom ? from : '',
    to: custom ? to : '',
    split: split === null ? null : split.split(',').filter((s) => s),
    agg: (AGGREGATES as readonly string[]).includes(agg) ? agg : 'sum',
    attrs: p.getAll('attr').filter((a) => a.includes('=')),
    hide: (p.get('hide') ?? '')
      .split(',')
      .filter((s) => /^\d+$/.test(s))
      .map(Number),
    pct: parsePct(p.get('pct')),
  };
}

function parsePct(v: string | null): string[] {
  const chosen = (v ?? '').split(',').filter((x) => (QUANTILES as readonly string[]).includes(x));
  return chosen.length ? QUANTILES.filter((q) => chosen.includes(q)) : DEFAULT_QUANTILES.slice();
}

export function metricsToQuery(s: MetricsState): string {
  const p = new URLSearchParams();
  if (s.name) p.set('name', s.name);
  if (s.service) p.set('service', s.service);
  if (s.metric) p.set('metric', s.metric);
  if (s.range === 'custom') {
    p.set('from', s.from);
    p.set('to', s.to);
  } else if (s.range !== '1h') p.set('range', s.range);
  if (s.split !== null) p.set('split', s.split.join(','));
  if (s.agg !== 'sum') p.set('agg', s.agg);
  for (const a of s.attrs) p.append('attr', a);
  if (s.hide.length) p.set('hide', s.hide.join(','));
  if (s.pct.join(',') !== DEFAULT_QUANTILES.join(',')) p.set('pct', s.pct.join(','));
  const q = p.toString();
  return q ? `?${q}` : '';
}

/** The UI's colour scheme, for charts drawn by the server: one answer, kept by theme.ts. */
export { currentTheme } from './theme';

/** The parameters of `GET /api/v1/metrics/{name}/chart`. `tzMinutes` is minutes east of UTC. */
export function chartApiParams(s: MetricsState, width: number, height: number, tzMinutes: number, theme: 'light' | 'dark' = 'light'): URLSearchParams {
  const p = new URLSearchParams();
  if (s.range === 'custom') {
    p.set('start', s.from);
    p.set('end', s.to);
  } else p.set('start', `now-${s.range}`);
  p.set('width', String(Math.max(200, Math.min(4000, Math.round(width)))));
  p.set('height', String(height));
  if (s.split !== null) p.set('split', s.split.join(','));
  if (s.split !== null) p.set('agg', s.agg);
  for (const a of s.attrs) p.append('attr', a);
  if (s.hide.length) p.set('hide', s.hide.join(','));
  p.set('tz', String(tzMinutes));
  if (s.pct.join(',') !== DEFAULT_QUANTILES.join(',')) p.set('quantiles', s.pct.join(','));
  if (theme !== 'light') p.set('theme', theme);
  return p;
}

export type { ChartAnswer, Unit } from './generated/api';
import type { ChartAnswer, Unit } from './generated/api';

/** Adds a (possibly fractional) nanosecond offset to a decimal nanosecond string, exactly enough for charts. */
function nsAddFloat(base: string, delta: number): string {
  const b = BigInt(base);
  return (b + BigInt(Math.round(delta))).toString();
}

/** The time (ns string) under an x pixel of the chart, clamped to the plot area. */
export function timeAtPixel(c: Pick<ChartAnswer, 'plot' | 'xStart' | 'xEnd'>, px: number): string {
  const span = Number(BigInt(c.xEnd) - BigInt(c.xStart));
  const f = Math.min(1, Math.max(0, (px - c.plot.x) / c.plot.width));
  return nsAddFloat(c.xStart, f * span);
}

/** The x pixel of a time (ns string). */
export function pixelAtTime(c: Pick<ChartAnswer, 'plot' | 'xStart' | 'xEnd'>, t: string): number {
  const span = Number(BigInt(c.xEnd) - BigInt(c.xStart));
  return c.plot.x + (Number(BigInt(t) - BigInt(c.xStart)) / span) * c.plot.width;
}

/** The y pixel of a value. */
export function pixelAtValue(c: Pick<ChartAnswer, 'plot' | 'yMin' | 'yMax'>, v: number): number {
  return c.plot.y + ((c.yMax - v) / (c.yMax - c.yMin || 1)) * c.plot.height;
}

/** Each visible line's value nearest to the pointer's time (within 40 px), for the read-out. */
export function readout(c: ChartAnswer, px: number): { label: string; color: string; value: number; time: string }[] {
  const out: { label: string; color: string; value: number; time: string }[] = [];
  for (const s of c.series) {
    if (s.hidden) continue;
    let best: [string, number] | null = null;
    let bestD = Infinity;
    for (const [t, v] of s.points) {
      if (v === null) continue;
      const d = Math.abs(pixelAtTime(c, t) - px);
      if (d < bestD) {
        bestD = d;
        best = [t, v];
      }
    }
    if (best && bestD <= 40) out.push({ label: s.label, color: s.color, value: best[1], time: best[0] });
  }
  return out;
}

/** A drag from x0 to x1 (pixels) as a custom range; null when too narrow to mean a zoom. */
export function zoomRange(c: ChartAnswer, x0: number, x1: number): { from: string; to: string } | null {
  if (Math.abs(x1 - x0) < 5) return null;
  // A drag that ends on an edge means "up to the edge": one pixel of an
  // hour-long chart is seconds, and the newest points sit right at its end.
  const EDGE = 3;
  const left = Math.min(x0, x1);
  const right = Math.max(x0, x1);
  const a = left <= c.plot.x + EDGE ? c.xStart : timeAtPixel(c, left);
  const b = right >= c.plot.x + c.plot.width - EDGE ? c.xEnd : timeAtPixel(c, right);
  return compareNs(a, b) < 0 ? { from: a, to: b } : null;
}

/** `v` with at most `digits` significant digits, trailing zeros dropped; exponent form below 1e-4 (as `unit::significant` in crates/charts). */
export function significant(v: number, digits = 4): string {
  if (v === 0) return '0';
  const d = Math.min(12, Math.max(1, digits));
  const a = Math.abs(v);
  if (a < 1e-4) {
    const [m, e] = v.toExponential(d - 1).split('e');
    const mm = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    return `${mm}e${Number(e) < 0 ? '-' : ''}${Math.abs(Number(e))}`;
  }
  const magnitude = Math.floor(Math.log10(a));
  const decimals = Math.max(0, d - 1 - magnitude);
  let s = v.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/**
 * A value with its unit, as the chart's axis prints it (`Unit::format` in
 * crates/charts/src/unit.rs, tested on the same examples): 812.5 ms, 1.5 KiB,
 * 0.1/s — never an SI milli prefix, which would read as a unit.
 */
export function formatUnit(v: number, unit: Unit | undefined, digits = 4): string {
  const u: Unit = unit ?? { kind: 'plain', scale: 1, symbol: '', perSecond: false };
  if (Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const per = u.perSecond ? '/s' : '';
  const base = v * u.scale;
  const a = Math.abs(base);
  const K = 1024;
  let size = 1;
  let sym = '';
  switch (u.kind) {
    case 'time':
      [size, sym] = a === 0 ? [1, 's'] : a < 1e-6 ? [1e-9, 'ns'] : a < 1e-3 ? [1e-6, 'µs'] : a < 1 ? [1e-3, 'ms'] : a < 60 ? [1, 's'] : a < 3600 ? [60, 'min'] : [3600, 'h'];
      break;
    case 'bytes':
      [size, sym] = a < K ? [1, 'B'] : a < K * K ? [K, 'KiB'] : a < K ** 3 ? [K * K, 'MiB'] : a < K ** 4 ? [K ** 3, 'GiB'] : [K ** 4, 'TiB'];
      break;
    case 'percent':
      return `${significant(base, digits)}%${per}`;
    default:
      [size, sym] = a >= 1e12 ? [1e12, 'T'] : a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e4 ? [1e3, 'k'] : [1, ''];
      return `${significant(base / size, digits)}${sym}${u.symbol ? ` ${u.symbol}` : ''}${per}`;
  }
  return `${significant(base / size, digits)} ${sym}${per}`;
}

/** The percentiles a histogram chart offers, in the API's names. */
export const QUANTILES = ['p50', 'p90', 'p95', 'p99', 'max'] as const;
export const DEFAULT_QUANTILES = ['p50', 'p90', 'p99'];

// ---------------------------------------------------------------------------
// Logs: /logs?q=…&severity=…&service=…&attr=…&range=…&group=1
// ---------------------------------------------------------------------------

export interface LogsState {
  q: string;
  severity: string;
  service: string;
  attr: string;
  range: string;
  group: boolean;
}

export const LOG_RANGES = ['15m', '1h', '6h', '24h', '7d', 'all'] as const;

export function parseLogs(query: string): LogsState {
  const p = new URLSearchParams(query);
  const range = p.get('range') ?? 'all';
  return {
    q: p.get('q') ?? '',
    severity: p.get('severity') ?? '',
    service: p.get('service') ?? '',
    attr: p.get('attr') ?? '',
    range: (LOG_RANGES as readonly string[]).includes(range) ? range : 'all',
    group: p.get('group') === '1',
  };
}

export function logsToQuery(s: LogsState): string {
  const p = new URLSearchParams();
  if (s.q.trim()) p.set('q', s.q.trim());
  if (s.severity) p.set('severity', s.severity);
  if (s.service) p.set('service', s.service);
  if (s.attr.trim()) p.set('attr', s.attr.trim());
  if (s.range !== 'all') p.set('range', s.range);
  if (s.group) p.set('group', '1');
  const q = p.toString();
  return q ? `?${q}` : '';
}

export function logsApiParams(s: LogsState, limit = 500): URLSearchParams {
  const p = new URLSearchParams();
  if (s.q.trim()) p.set('q', s.q.trim());
  if (s.severity) p.set('minSeverity', s.severity);
  if (s.service) p.set('service', s.service);
  if (s.attr.trim()) p.set('attr', s.attr.trim());
  if (s.range !== 'all') p.set('start', `now-${s.range}`);
  p.set('limit', String(limit));
  return p;
}

export interface LogRow {
  key: string;
  timeNs: string;
  severity: number;
  severityText: string;
  service: string;
  record: OtlpLogRecord;
  body: string;
  attributes: KeyValue[];
  traceId: string;
  spanId: string;
}

/** OTLP/JSON logs → one row per record, newest first. */
export function flattenLogs(data: OtlpLogsData | null | undefined): LogRow[] {
  const out: LogRow[] = [];
  for (const rl of data?.resourceLogs ?? []) {
    const service = attrValue(rl.resource?.attributes, 'service.name') ?? '';
    for (const sl of rl.scopeLogs ?? []) {
      for (const r of sl.logRecords ?? []) {
        const t = r.timeUnixNano && r.timeUnixNano !== '0' ? r.timeUnixNano : (r.observedTimeUnixNano ?? '0');
        const body = anyValueToString(r.body ?? null);
        out.push({
          key: `${t}:${service}:${body.slice(0, 80)}:${out.length}`,
          timeNs: t,
          severity: r.severityNumber ?? 0,
          severityText: r.severityText ?? '',
          service,
          record: r,
          body,
          attributes: r.attributes ?? [],
          traceId: r.traceId ?? '',
          spanId: r.spanId ?? '',
        });
      }
    }
  }
  out.sort((a, b) => compareNs(b.timeNs, a.timeNs));
  return out;
}

/**
 * A message's template: the text with its variable parts (UUIDs, hex IDs,
 * numbers, quoted strings, long base62 IDs) replaced by `<*>`, so repeats of
 * one message with different values group together.
 */
export function logTemplate(body: string): string {
  return body
    .replace(/"[^"]*"|'[^']*'/g, '<*>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<*>')
    .replace(/\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{16,}\b/g, '<*>')
    .replace(/\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b/gi, '<*>')
    .replace(/-?\d+(\.\d+)?/g, '<*>')
    .replace(/(<\*>)(\s*<\*>)+/g, '<*>');
}

export interface LogGroup {
  template: string;
  severity: number;
  count: number;
  /** The newest record of the group. */
  newest: LogRow;
}

/** Groups rows by (template, severity), biggest groups first, then newest. */
export function groupLogs(rows: readonly LogRow[]): LogGroup[] {
  const m = new Map<string, LogGroup>();
  for (const r of rows) {
    const template = logTemplate(r.body);
    const k = `${r.severity}\u0000${template}`;
    const g = m.get(k);
    if (g) {
      g.count++;
      if (compareNs(r.timeNs, g.newest.timeNs) > 0) g.newest = r;
    } else m.set(k, { template, severity: r.severity, count: 1, newest: r });
  }
  return [...m.values()].sort((a, b) => b.count - a.count || compareNs(b.newest.timeNs, a.newest.timeNs));
}
