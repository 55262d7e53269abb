// The keyboard shortcuts of a page, shown by `?`: one small dialog, the
// same on every page that has shortcuts.

import { h } from '../dom';

export type Shortcut = [keys: string, what: string];

let open: HTMLDialogElement | null = null;

/** Shows (or hides, when shown) the page's shortcuts. */
export function toggleShortcuts(title: string, list: readonly Shortcut[]): void {
  if (open) {
    open.close();
    return;
  }
  const close = h('button', { class: 'btn small', attrs: { type: 'button' }, text: 'Close' });
  const dialog = h(
    'dialog',
    { class: 'shortcuts-dialog', testid: 'shortcuts', attrs: { 'aria-label': `${title}: keyboard shortcuts` } },
    h('h2', { text: `${title}: keyboard shortcuts` }),
    h('table', null, h('tbody', null, ...list.map(([k, what]) => h('tr', null, h('td', null, ...k.split(' ').map((x) => h('kbd', { text: x }))), h('td', { text: what }))))),
    h('div', { class: 'shortcuts-foot' }, close),
  );
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (open === dialog) open = null;
  });
  document.body.append(dialog);
  open = dialog;
  dialog.showModal();
}

/** True when a key press belongs to a text field (shortcuts then stay out of the way). */
export function typing(ev: KeyboardEvent): boolean {
  const t = ev.target as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}
