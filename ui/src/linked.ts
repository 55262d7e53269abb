// Linked traces in the trace list: a child trace (a Kestra ForEachItem or
// Subflow execution whose spans link to the parent's) folds under its
// parent when both are listed, behind a "+3 linked" badge that expands.

/** What folding needs of a summary. */
export interface Linkable {
  traceId: string;
  linksTo?: string;
}

export interface ListRow<T> {
  trace: T;
  /** A linked child shown under its (expanded) parent. */
  child: boolean;
  /** Listed children folded under this row. */
  children: number;
}

/**
 * The rows to show: parents in the list's order, each with its listed
 * children after it when expanded (in the list's order too). A child whose
 * parent is not listed is an ordinary row; links that loop (a → b → a) are
 * not folded.
 */
export function foldLinked<T extends Linkable>(traces: readonly T[], expanded: ReadonlySet<string>): ListRow<T>[] {
  const listed = new Set(traces.map((t) => t.traceId));
  const childrenOf = new Map<string, T[]>();
  const isChild = new Set<string>();
  const byId = new Map(traces.map((t) => [t.traceId, t]));
  for (const t of traces) {
    const p = t.linksTo;
    if (!p || p === t.traceId || !listed.has(p)) continue;
    // A parent that is itself folded under this trace: leave both unfolded.
    if (byId.get(p)?.linksTo === t.traceId) continue;
    isChild.add(t.traceId);
    let list = childrenOf.get(p);
    if (!list) {
      list = [];
      childrenOf.set(p, list);
    }
    list.push(t);
  }
  const out: ListRow<T>[] = [];
  const place = (t: T, child: boolean, depth: number) => {
    const kids = childrenOf.get(t.traceId) ?? [];
    out.push({ trace: t, child, children: kids.length });
    // A chain (grandchildren) folds too; the depth bound keeps a cycle finite.
    if (expanded.has(t.traceId) && depth < 8) for (const k of kids) place(k, true, depth + 1);
  };
  for (const t of traces) {
    if (isChild.has(t.traceId)) {
      // Its parent chain is not listed as a root (a cycle of three or more): show it plainly.
      let p = t.linksTo;
      let seen = 0;
      while (p && isChild.has(p) && seen++ < traces.length) p = byId.get(p)?.linksTo;
      if (p && listed.has(p) && !isChild.has(p)) continue;
    }
    place(t, false, 0);
  }
  return out;
}
