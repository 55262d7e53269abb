// Context attributes: the attribute keys that say where a span belongs
// (a Kestra namespace, flow and execution; an HTTP route; a database),
// shown as chips on waterfall rows and lane headers and as columns of the
// trace list. The list is the user's (kept in this browser), with a
// default for the common cases.

import { anyValueToString, type KeyValue } from './format';

export const DEFAULT_CONTEXT_KEYS: readonly string[] = ['kestra.namespace', 'kestra.flowId', 'kestra.executionId', 'http.route', 'db.system'];

const STORAGE_KEY = 'loupe.contextKeys';
/** At most this many keys (each a chip or a column). */
export const MAX_CONTEXT_KEYS = 8;

/** Parses a comma- or newline-separated list of keys: trimmed, no blanks or repeats, at most MAX_CONTEXT_KEYS, each ≤ 128 chars. */
export function parseContextKeys(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\n,]/)) {
    const k = part.trim();
    if (k && k.length <= 128 && !out.includes(k)) out.push(k);
    if (out.length >= MAX_CONTEXT_KEYS) break;
  }
  return out;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/** The configured keys (the default when none are set). */
export function contextKeys(): string[] {
  const raw = storage()?.getItem(STORAGE_KEY);
  if (raw === null || raw === undefined) return [...DEFAULT_CONTEXT_KEYS];
  return parseContextKeys(raw);
}

export function setContextKeys(keys: readonly string[] | null): void {
  const s = storage();
  if (!s) return;
  if (keys === null) s.removeItem(STORAGE_KEY);
  else s.setItem(STORAGE_KEY, keys.join(','));
}

/** A chip's short label: the key's last dotted part (`kestra.flowId` → `flowId`). */
export function shortKey(key: string): string {
  const i = key.lastIndexOf('.');
  return i >= 0 && i < key.length - 1 ? key.slice(i + 1) : key;
}

/** The context values among `attrs` (span first, then resource), in the keys' order. */
export function contextValues(keys: readonly string[], ...attrs: (KeyValue[] | undefined)[]): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const key of keys) {
    for (const list of attrs) {
      const kv = list?.find((a) => a.key === key);
      if (kv) {
        out.push({ key, value: anyValueToString(kv.value) });
        break;
      }
    }
  }
  return out;
}
