// The trace list's marks for incomplete traces (docs/api.md "Incomplete
// traces"): "incomplete" when spans name parents that have not arrived (or
// no span is a root), "receiving" while spans still arrive.

import { h } from '../dom';
import type { TraceSummary } from '../generated/api';

/** The marks' part of a row's change signature: a row is rebuilt when they change. */
export function incompleteSig(t: TraceSummary): string {
  return `${t.incomplete ? 'i' : ''}${t.receiving ? 'r' : ''}${t.awaitingParents ? 'a' : ''}`;
}

/** Chips for the root cell, or none for a complete trace no longer receiving. */
export function incompleteChips(t: TraceSummary): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (t.incomplete) {
    const m = t.missingParents;
    out.push(
      h('span', {
        class: 'state-chip incomplete',
        testid: 'trace-incomplete',
        title: m
          ? `${m} parent span${m === 1 ? '' : 's'} not received${t.awaitingParents ? ' yet (a running execution exports its root when it ends)' : ': never arrived'}`
          : 'No span of it is a root (a parent cycle)',
        text: t.awaitingParents ? 'incomplete' : 'incomplete · parent lost',
      }),
    );
  }
  if (t.receiving) out.push(h('span', { class: 'state-chip receiving', testid: 'trace-receiving', title: 'Spans of it arrived in the last few seconds', text: 'receiving' }));
  return out;
}
