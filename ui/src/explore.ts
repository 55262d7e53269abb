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
  };
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
  const q = p.toString();
  return q ? `?${q}` : '';
}

/** The parameters of `GET /api/v1/metrics/{name}/chart`. `tzMinutes` is minutes east of UTC. */
export function chartApiParams(s: MetricsState, width: number, height: number, tzMinutes: number): URLSearchParams {
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
  return p;
}

export type { ChartAnswer } from './generated/api';
import type { ChartAnswer } from './generated/api';

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

/** A compact value for the read-out: up to 4 significant digits, SI suffix. */
export function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  // [from, divisor, suffix]: thousands only from 10k, like the chart's axis.
  const units: [number, number, string][] = [
    [1e12, 1e12, 'T'],
    [1e9, 1e9, 'G'],
    [1e6, 1e6, 'M'],
    [1e4, 1e3, 'k'],
    [1, 1, ''],
    [1e-3, 1e-3, 'm'],
    [1e-6, 1e-6, 'µ'],
  ];
  for (const [from, d, u] of units) if (a >= from) return `${Number((v / d).toPrecision(4))}${u}`;
  return v.toExponential(2);
}

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
