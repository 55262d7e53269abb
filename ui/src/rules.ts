// Alert rules in the UI: the condition tree as the API sends it (the same
// JSON shape as the YAML: `{all: [...]}`, `{any: [...]}`, `{not: {...}}` or
// `{field, op, value}`) and the pure edits the tree editor makes to it.
// The YAML text is never produced here: the server renders and parses it
// (`/api/v1/rules/render`, `/parse`), so the tree and the text cannot drift.

import type { Analysis, Condition, Finding, Op, Predicate, Rule, Scalar, Signal } from './generated/api';

// The rule model is the API's (generated from the Rust types, so the
// editor and the server cannot disagree on a field): a rule, its
// condition tree, the never-matches analysis.
export type { Analysis, Finding, Op, Rule, Scalar, Signal };
/** A comparison of one field with a value (`{field, op, value}`). */
export type Pred = Predicate;
/** A condition tree. */
export type Cond = Condition;

export const OPS: Op[] = ['equals', 'not_equals', 'prefix', 'contains', 'regex', 'exists', 'gt', 'gte', 'lt', 'lte'];

/** Built-in fields, offered before the stored attribute keys. */
export const FIELDS: Record<Signal, string[]> = {
  spans: ['service', 'span.name', 'span.status', 'span.kind', 'span.duration'],
  traces: ['service', 'span.name', 'span.status', 'span.kind', 'span.duration'],
  logs: ['service', 'log.severity', 'log.body'],
  metrics: ['service'],
};

export type GroupKind = 'all' | 'any';

export function isPred(c: Cond): c is Pred {
  return 'field' in c;
}

export function kindOf(c: Cond): GroupKind | 'not' | 'pred' {
  if ('all' in c) return 'all';
  if ('any' in c) return 'any';
  if ('not' in c) return 'not';
  return 'pred';
}

export function children(c: Cond): Cond[] {
  if ('all' in c) return c.all;
  if ('any' in c) return c.any;
  if ('not' in c) return [c.not];
  return [];
}

function withChildren(c: Cond, kids: Cond[]): Cond {
  if ('all' in c) return { all: kids };
  if ('any' in c) return { any: kids };
  if ('not' in c) return { not: kids[0] ?? c.not };
  return c;
}

export function at(c: Cond, path: number[]): Cond | undefined {
  let cur: Cond | undefined = c;
  for (const i of path) {
    if (!cur) return undefined;
    cur = children(cur)[i];
  }
  return cur;
}

/** A copy of `root` with the node at `path` replaced by `f(node)` (or removed when `f` returns null). */
export function update(root: Cond, path: number[], f: (c: Cond) => Cond | null): Cond | null {
  if (path.length === 0) return f(root);
  const [i, ...rest] = path;
  const kids = children(root);
  if (i < 0 || i >= kids.length) return root;
  const next = update(kids[i], rest, f);
  const out = kids.slice();
  if (next === null) {
    if ('not' in root) return null;
    out.splice(i, 1);
  } else out[i] = next;
  return withChildren(root, out);
}

export function newPred(signal: Signal): Pred {
  return signal === 'logs'
    ? { field: 'log.severity', op: 'gte', value: 'ERROR' }
    : signal === 'metrics'
      ? { field: 'service', op: 'equals', value: '' }
      : { field: 'span.status', op: 'equals', value: 'error' };
}

/** Adds a child to the group at `path` (a predicate becomes an AND of itself and the new one). */
export function addChild(root: Cond | undefined, path: number[], child: Cond): Cond {
  if (!root) return child;
  return (
    update(root, path, (c) => {
      if ('all' in c) return { all: [...c.all, child] };
      if ('any' in c) return { any: [...c.any, child] };
      return { all: [c, child] };
    }) ?? child
  );
}

/** Switches a group between AND and OR. */
export function setKind(root: Cond, path: number[], kind: GroupKind): Cond {
  return (
    update(root, path, (c) => {
      const kids = 'all' in c ? c.all : 'any' in c ? c.any : null;
      if (!kids) return c;
      return kind === 'all' ? { all: kids } : { any: kids };
    }) ?? root
  );
}

/** Wraps the node in NOT, or unwraps it when it is a NOT. */
export function toggleNot(root: Cond, path: number[]): Cond {
  return update(root, path, (c) => ('not' in c ? c.not : { not: c })) ?? root;
}

/** Removes the node; `undefined` when nothing is left. */
export function remove(root: Cond, path: number[]): Cond | undefined {
  const out = update(root, path, () => null);
  if (!out) return undefined;
  return simplify(out);
}

/** Groups left with one member become that member; empty groups go. */
export function simplify(c: Cond): Cond | undefined {
  if ('not' in c) {
    const inner = simplify(c.not);
    return inner ? { not: inner } : undefined;
  }
  if ('all' in c || 'any' in c) {
    const kids = children(c)
      .map(simplify)
      .filter((x): x is Cond => x !== undefined);
    if (kids.length === 0) return undefined;
    if (kids.length === 1) return kids[0];
    return 'all' in c ? { all: kids } : { any: kids };
  }
  return c;
}

/** A value as typed into a text box: numbers and booleans stay typed (as in YAML). */
export function parseValue(s: string): Scalar {
  const t = s.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t !== '' && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return s;
}

export function describe(p: Pred): string {
  return p.op === 'exists' ? `${p.field} exists` : `${p.field} ${p.op.replace('_', ' ')} ${String(p.value ?? '')}`;
}

/** A condition as one line of text: `(a AND (b OR c))`. */
export function condText(c: Cond): string {
  if (isPred(c)) return describe(c);
  if ('all' in c) return c.all.length === 1 ? condText(c.all[0]) : `(${c.all.map(condText).join(' AND ')})`;
  if ('any' in c) return c.any.length === 1 ? condText(c.any[0]) : `(${c.any.map(condText).join(' OR ')})`;
  return `NOT ${condText(c.not)}`;
}

/** The readings a finding offers, the suggestion first. */
export function readings(f: Finding): Cond[] {
  return [f.suggestion, ...(f.alternatives ?? [])];
}

export function pathKey(path: number[]): string {
  return path.join('.');
}

/** "3 firing" / "" for the header badge. */
export function badgeText(firing: number): string {
  return firing > 0 ? String(firing) : '';
}

/**
 * Where a predicate's value suggestions come from: the service list, an
 * attribute's recent values, or nowhere (span name, status, kind, duration,
 * severity and body have their own vocabularies or none worth listing).
 */
export function valueSource(field: string): 'services' | 'attribute' | null {
  if (field === 'service') return 'services';
  if (!field || field.startsWith('span.') || field.startsWith('log.')) return null;
  return 'attribute';
}
