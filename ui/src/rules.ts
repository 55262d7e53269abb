// Alert rules in the UI: the condition tree as the API sends it (the same
// JSON shape as the YAML: `{all: [...]}`, `{any: [...]}`, `{not: {...}}` or
// `{field, op, value}`) and the pure edits the tree editor makes to it.
// The YAML text is never produced here: the server renders and parses it
// (`/api/v1/rules/render`, `/parse`), so the tree and the text cannot drift.

import type { Analysis, Condition, Finding, Op, Predicate, Rule, Scalar, Signal, TestResult } from './generated/api';

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

/** An edit's result: the tree, and what changed beyond the edit itself (shown, never silent). */
export interface Edited {
  when: Cond | undefined;
  note: string;
}

/** Drops groups left empty (an empty AND would match everything, an empty OR nothing), saying which. */
function dropEmpty(c: Cond): { when: Cond | undefined; dropped: number } {
  if (isPred(c)) return { when: c, dropped: 0 };
  if ('not' in c) {
    const inner = dropEmpty(c.not);
    return { when: inner.when ? { not: inner.when } : undefined, dropped: inner.dropped + (inner.when ? 0 : 1) };
  }
  let dropped = 0;
  const kids: Cond[] = [];
  for (const k of children(c)) {
    const r = dropEmpty(k);
    dropped += r.dropped;
    if (r.when) kids.push(r.when);
  }
  if (kids.length === 0) return { when: undefined, dropped: dropped + 1 };
  return { when: withChildren(c, kids), dropped };
}

function emptyNote(dropped: number): string {
  return dropped === 0 ? '' : dropped === 1 ? 'The group left empty was removed too.' : `${dropped} groups left empty were removed too.`;
}

/**
 * Removes the node. A group left with one member stays a group (the tree
 * shows it, with "Ungroup"); one left empty goes, and the note says so: a
 * group never disappears silently.
 */
export function remove(root: Cond, path: number[]): Edited {
  const out = update(root, path, () => null);
  if (!out) return { when: undefined, note: path.length ? 'The group left empty was removed too.' : '' };
  const r = dropEmpty(out);
  return { when: r.when, note: emptyNote(r.dropped) };
}

/** Wraps the node at `path` in a new group of one (AND or OR), to add alternatives or conditions beside it. */
export function wrap(root: Cond, path: number[], kind: GroupKind): Cond {
  return update(root, path, (c) => (kind === 'all' ? { all: [c] } : { any: [c] })) ?? root;
}

/** Replaces a one-member group by its member (the only ungrouping that keeps the meaning). */
export function unwrap(root: Cond, path: number[]): Cond {
  return (
    update(root, path, (c) => {
      const kids = 'all' in c ? c.all : 'any' in c ? c.any : null;
      return kids && kids.length === 1 ? kids[0] : c;
    }) ?? root
  );
}

/** Every AND/OR group of the tree with its path, for "move to". */
export function groups(root: Cond | undefined, path: number[] = []): { path: number[]; kind: GroupKind; text: string }[] {
  if (!root || isPred(root)) return [];
  const out: { path: number[]; kind: GroupKind; text: string }[] = [];
  const k = kindOf(root);
  if (k === 'all' || k === 'any') out.push({ path, kind: k, text: condText(root) });
  children(root).forEach((c, i) => {
    out.push(...groups(c, [...path, i]));
  });
  return out;
}

/**
 * Moves the node at `from` to the end of the group at `to`. Refused (the
 * tree unchanged, with a note) when `to` is the node itself or inside it,
 * or not a group. The source group is never collapsed; one left empty goes,
 * with a note.
 */
export function move(root: Cond, from: number[], to: number[]): Edited {
  const node = at(root, from);
  const target = at(root, to);
  if (!node || from.length === 0) return { when: root, note: 'Only a member of a group can be moved.' };
  if (!target || !('all' in target || 'any' in target)) return { when: root, note: 'Conditions can only be moved into an AND or OR group.' };
  if (to.length >= from.length && from.every((v, i) => to[i] === v)) return { when: root, note: 'A group cannot be moved into itself.' };
  const parent = from.slice(0, -1);
  if (parent.length === to.length && parent.every((v, i) => to[i] === v)) return { when: root, note: '' };
  // Appending at the end shifts no existing path, so `from` still points
  // at the node afterwards.
  const added = update(root, to, (g) => withChildren(g, [...children(g), node])) ?? root;
  const r = remove(added, from);
  return { when: r.when, note: r.note };
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

/** A channel as typed into the form. */
export interface ChannelDraft {
  name: string;
  kind: 'slack' | 'webhook' | 'desktop';
  url: string;
  allowPrivate: boolean;
  template: string;
}

/** The body of `POST/PUT /channels`: trimmed; a desktop channel has no URL; an empty URL on update keeps the stored one. */
export function channelBody(d: ChannelDraft): ChannelDraft {
  return { name: d.name.trim(), kind: d.kind, url: d.kind === 'desktop' ? '' : d.url.trim(), allowPrivate: d.allowPrivate, template: d.template };
}

/** "send test"'s answer as one line: delivered with the status, or why not. */
export function testResultText(r: TestResult): string {
  if (!r.queued) return `not sent: ${r.error || 'the delivery queue is full'}`;
  const status = r.status ? ` (HTTP ${r.status})` : '';
  const tries = r.attempts > 1 ? ` after ${r.attempts} attempts` : '';
  switch (r.result) {
    case 'delivered':
      return `delivered${status}${tries}`;
    case 'failed':
      return `failed${status}: ${r.error}`;
    case 'retrying':
      return `still retrying${status}: ${r.error} (see Deliveries)`;
    default:
      return 'queued; no answer yet (see Deliveries)';
  }
}
