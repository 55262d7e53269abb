// Pure logic of the settings page: the ingest filter rules as editable
// JSON text, checked before they are sent (the server checks again and
// has the last word).

import type { FilterRule as Rule } from './generated/api';

/** A rule as the user writes it: `action` may be left out (drop); the server answers it. */
export type FilterRule = Omit<Rule, 'action'> & { action?: Rule['action'] };

const FIELDS = new Set(['name', 'action', 'signals', 'service', 'scope', 'span_name', 'attribute']);
const CONDITIONS = ['service', 'scope', 'span_name', 'attribute'];

/** The rules as the text shown for editing: a pretty JSON array. */
export function formatRules(rules: FilterRule[]): string {
  return JSON.stringify(rules, null, 2);
}

/** Parses the edited text into rules, or says what is wrong and where. */
export function parseRules(text: string): { rules: FilterRule[] } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (!Array.isArray(v)) return { error: 'Expected a JSON array of rules: [ {"scope": "…"}, … ]' };
  for (const [i, r] of v.entries()) {
    const where = `Rule ${i + 1}`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return { error: `${where} is not an object` };
    for (const k of Object.keys(r)) if (!FIELDS.has(k)) return { error: `${where}: unknown field "${k}"` };
    if (!CONDITIONS.some((c) => c in r)) return { error: `${where} needs service, scope, span_name or attribute` };
    const rule = r as Record<string, unknown>;
    if ('action' in rule && rule.action !== 'drop' && rule.action !== 'keep') return { error: `${where}: action is "drop" or "keep"` };
    for (const k of ['name', 'service', 'scope', 'span_name']) {
      if (k in rule && typeof rule[k] !== 'string') return { error: `${where}: ${k} must be a string` };
    }
    if ('attribute' in rule) {
      const a = rule.attribute as Record<string, unknown> | null;
      if (typeof a !== 'object' || a === null || typeof a.key !== 'string') return { error: `${where}: attribute is {"key": "…", "value": "…"}` };
    }
  }
  return { rules: v as FilterRule[] };
}

/** Bytes as a short human size (1.5 GiB). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
