// Formatting of OTLP values: nanosecond timestamps (decimal strings that a JS
// number cannot hold exactly), durations, and attribute values.

// OTLP/JSON values: generated from the Rust contract (crates/server/src/otlp_types.rs).
import type { AnyValue, KeyValue } from './generated/api';

export type { AnyValue, KeyValue };

/** A nanosecond timestamp split so that both halves are exact doubles. */
export interface NsParts {
  sec: number;
  nano: number;
}

const DIGITS = /^\d+$/;

/** Splits a decimal nanosecond string into seconds and nanoseconds (exact). Invalid → 0. */
export function nsParts(s: string | number | undefined | null): NsParts {
  if (s === undefined || s === null) return { sec: 0, nano: 0 };
  const t = typeof s === 'number' ? String(Math.trunc(s)) : s;
  if (t.length > 9 && t.length <= 20) {
    // Fast path (every real timestamp): both halves must be plain digits.
    const sec = Number(t.slice(0, -9));
    const nano = Number(t.slice(-9));
    if (Number.isInteger(sec) && sec >= 0 && Number.isInteger(nano) && nano >= 0 && t.charCodeAt(0) !== 32 && DIGITS.test(t)) return { sec, nano };
    return { sec: 0, nano: 0 };
  }
  const u = t.trim();
  if (!DIGITS.test(u)) return { sec: 0, nano: 0 };
  if (u.length <= 9) return { sec: 0, nano: Number(u) };
  return { sec: Number(u.slice(0, -9)), nano: Number(u.slice(-9)) };
}

/** `a - b` in nanoseconds, as a double: exact while the difference is under 2^53 ns (104 days). */
export function nsDiff(a: string, b: string): number {
  const pa = nsParts(a);
  const pb = nsParts(b);
  return (pa.sec - pb.sec) * 1e9 + (pa.nano - pb.nano);
}

/** Compares two nanosecond strings numerically. */
export function compareNs(a: string, b: string): number {
  const ta = stripZeros(a);
  const tb = stripZeros(b);
  if (ta.length !== tb.length) return ta.length < tb.length ? -1 : 1;
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function stripZeros(s: string): string {
  const t = s.replace(/^0+/, '');
  return t === '' ? '0' : t;
}

/** Adds a (possibly fractional, possibly negative) nanosecond offset to a timestamp string, exactly for integers. */
export function nsAdd(base: string, offsetNs: number): string {
  const b = BigInt(DIGITS.test(base) ? base : '0');
  const r = b + BigInt(Math.round(offsetNs));
  return (r < 0n ? 0n : r).toString();
}

/** Milliseconds since the epoch (for `Date`), sub-millisecond part dropped. */
export function nsToMs(s: string): number {
  const p = nsParts(s);
  return p.sec * 1000 + Math.floor(p.nano / 1e6);
}

/** Milliseconds since the epoch → nanosecond string. */
export function msToNs(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n).toString();
}

function trimNum(x: number, digits: number): string {
  // 3 significant-ish digits: 1.23, 12.3, 123
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A human duration from nanoseconds: `850ns`, `12.3µs`, `4.56ms`, `1.23s`, `2m 5s`, `3h 12m`, `2d 4h`. */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  const neg = ns < 0;
  const a = Math.abs(ns);
  let out: string;
  if (a === 0) return '0';
  if (a < 1e3) out = `${trimNum(a, 0)}ns`;
  else if (a < 1e6) out = `${trimNum(a / 1e3, a < 1e4 ? 2 : a < 1e5 ? 1 : 0)}µs`;
  else if (a < 1e9) out = `${trimNum(a / 1e6, a < 1e7 ? 2 : a < 1e8 ? 1 : 0)}ms`;
  else if (a < 60e9) out = `${trimNum(a / 1e9, a < 1e10 ? 2 : 1)}s`;
  else if (a < 3600e9) {
    const m = Math.floor(a / 60e9);
    const s = Math.floor((a - m * 60e9) / 1e9);
    out = s ? `${m}m ${s}s` : `${m}m`;
  } else if (a < 86400e9) {
    const h = Math.floor(a / 3600e9);
    const m = Math.floor((a - h * 3600e9) / 60e9);
    out = m ? `${h}h ${m}m` : `${h}h`;
  } else {
    const d = Math.floor(a / 86400e9);
    const h = Math.floor((a - d * 86400e9) / 3600e9);
    out = h ? `${d}d ${h}h` : `${d}d`;
  }
  return neg ? `-${out}` : out;
}

/** Duration given as a decimal nanosecond string (as in trace summaries). */
export function formatDurationNs(s: string | number): string {
  const p = nsParts(s);
  return formatDuration(p.sec * 1e9 + p.nano);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local wall-clock time of a nanosecond timestamp: `2026-11-21 10:04:05.123`. Date omitted when `sameDayAs` is that day. */
export function formatTimestamp(s: string, opts: { withDate?: boolean; micros?: boolean } = {}): string {
  const p = nsParts(s);
  const d = new Date(p.sec * 1000);
  const ms = Math.floor(p.nano / 1e6);
  let t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(ms, 3)}`;
  if (opts.micros) t += pad(Math.floor(p.nano / 1e3) % 1000, 3);
  if (opts.withDate ?? true) t = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
  return t;
}

/** True when the timestamp falls on the same local day as `nowMs`. */
export function isSameDay(s: string, nowMs: number): boolean {
  const a = new Date(nsToMs(s));
  const b = new Date(nowMs);
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** `5s ago`, `3m ago`, `2h ago`, `4d ago`, or `in 3s` for future times. */
export function formatRelative(s: string, nowMs: number): string {
  const diff = nowMs - nsToMs(s);
  const a = Math.abs(diff);
  let v: string;
  if (a < 1000) return 'just now';
  if (a < 60_000) v = `${Math.floor(a / 1000)}s`;
  else if (a < 3_600_000) v = `${Math.floor(a / 60_000)}m`;
  else if (a < 86_400_000) v = `${Math.floor(a / 3_600_000)}h`;
  else v = `${Math.floor(a / 86_400_000)}d`;
  return diff >= 0 ? `${v} ago` : `in ${v}`;
}

/** Accepts the API's duration syntax (`250ms`, `1.5s`, `42`); returns nanoseconds, or null when invalid. */
export function parseDuration(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d)?\s*$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 'ns';
  const mult: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9 };
  return n * (mult[unit] ?? 1);
}

/** Renders an AnyValue as text (strings unquoted at top level, JSON-ish for arrays and maps). */
export function anyValueToString(v: AnyValue | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.bytesValue !== undefined) return `base64:${v.bytesValue}`;
  if (v.arrayValue !== undefined) return `[${(v.arrayValue.values ?? []).map(nested).join(', ')}]`;
  if (v.kvlistValue !== undefined) return `{${(v.kvlistValue.values ?? []).map((kv) => `${JSON.stringify(kv.key)}: ${nested(kv.value)}`).join(', ')}}`;
  return '';
}

function nested(v: AnyValue | null | undefined): string {
  if (v && v.stringValue !== undefined) return JSON.stringify(v.stringValue);
  return anyValueToString(v);
}

/** The type tag of an AnyValue, for display. */
export function anyValueType(v: AnyValue | null | undefined): string {
  if (!v) return 'empty';
  if (v.stringValue !== undefined) return 'string';
  if (v.boolValue !== undefined) return 'bool';
  if (v.intValue !== undefined) return 'int';
  if (v.doubleValue !== undefined) return 'double';
  if (v.arrayValue !== undefined) return 'array';
  if (v.kvlistValue !== undefined) return 'map';
  if (v.bytesValue !== undefined) return 'bytes';
  return 'empty';
}

/** Looks up an attribute's text value. */
export function attrValue(attrs: readonly KeyValue[] | undefined, key: string): string | undefined {
  if (!attrs) return undefined;
  for (const kv of attrs) if (kv.key === key) return anyValueToString(kv.value);
  return undefined;
}

/** Shortens a hex ID for display: first 8 characters. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

export const SEVERITIES: [number, string][] = [
  [21, 'FATAL'],
  [17, 'ERROR'],
  [13, 'WARN'],
  [9, 'INFO'],
  [5, 'DEBUG'],
  [1, 'TRACE'],
];

export function severityName(n: number | undefined, text?: string): string {
  if (text) return text;
  if (!n) return 'UNSET';
  for (const [min, name] of SEVERITIES) if (n >= min) return name;
  return 'UNSET';
}

/** Formats a count with thin grouping: 12 345. */
export function formatCount(n: number): string {
  // Not toLocaleString: its first call loads Intl data (tens of ms).
  const s = String(Math.trunc(Math.abs(n)));
  let out = '';
  for (let i = s.length; i > 0; i -= 3) out = (i > 3 ? ',' : '') + s.slice(Math.max(0, i - 3), i) + out;
  return (n < 0 ? '-' : '') + out;
}
