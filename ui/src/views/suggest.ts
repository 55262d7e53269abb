// Attribute-key completion under the `q` box (keys from GET /api/v1/attributes).

import { h, toggleClass } from '../dom';
import { completeKeys, completionContext, type CompletionContext } from '../query';

const ALIASES = ['service', 'name', 'scope'];

/** Wraps `input` in a positioned box and attaches the dropdown. Returns the wrapper. */
export function attachKeySuggest(input: HTMLInputElement, loadKeys: () => Promise<string[]>): HTMLElement {
  let keys: string[] = [...ALIASES];
  let loadedAt = 0;
  let items: string[] = [];
  let active = -1;
  let ctx: CompletionContext | null = null;
  const list = h('ul', { class: 'suggest', attrs: { role: 'listbox', hidden: true } });
  const wrap = h('div', { class: 'suggest-wrap' }, input, list);
  input.setAttribute('aria-autocomplete', 'list');

  const refreshKeys = () => {
    if (Date.now() - loadedAt < 30_000) return;
    loadedAt = Date.now();
    void loadKeys()
      .then((k) => {
        keys = [...ALIASES, ...k];
      })
      .catch(() => {});
  };

  function close(): void {
    list.hidden = true;
    list.replaceChildren();
    items = [];
    active = -1;
  }

  function update(): void {
    ctx = completionContext(input.value, input.selectionStart ?? input.value.length);
    items = ctx ? completeKeys(keys, ctx.prefix) : [];
    if (items.length === 0) {
      close();
      return;
    }
    // Nothing is preselected: Enter still submits the search; arrows pick, Tab takes the first.
    active = Math.min(active, items.length - 1);
    list.replaceChildren(
      ...items.map((k, i) => {
        const li = h('li', { attrs: { role: 'option' }, data: { index: i } });
        const p = ctx!.prefix.toLowerCase();
        const at = k.toLowerCase().indexOf(p);
        li.append(k.slice(0, at), h('b', { text: k.slice(at, at + p.length) }), k.slice(at + p.length));
        if (ALIASES.includes(k)) li.append(h('span', { class: 'muted small', text: k === 'name' ? '  span name' : k === 'service' ? '  service.name' : '  scope name' }));
        return li;
      }),
    );
    highlight();
    list.hidden = false;
  }

  function highlight(): void {
    [...list.children].forEach((li, i) => {
      toggleClass(li, 'active', i === active);
      li.setAttribute('aria-selected', String(i === active));
    });
  }

  function accept(i: number): void {
    if (!ctx || !items[i]) return;
    const v = input.value;
    const insert = `${items[i]} `;
    input.value = v.slice(0, ctx.start) + insert + v.slice(ctx.end).replace(/^ /, '');
    const caret = ctx.start + insert.length;
    input.setSelectionRange(caret, caret);
    close();
    input.focus();
  }

  input.addEventListener('focus', refreshKeys);
  input.addEventListener('input', update);
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(close, 150));
  input.addEventListener('keydown', (ev) => {
    if (list.hidden) return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      active = (active + (ev.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      highlight();
    } else if (ev.key === 'Tab' || (ev.key === 'Enter' && active >= 0)) {
      ev.preventDefault();
      accept(Math.max(active, 0));
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      close();
    }
  });
  list.addEventListener('mousedown', (ev) => {
    const li = (ev.target as Element).closest('li') as HTMLElement | null;
    if (!li) return;
    ev.preventDefault();
    accept(Number(li.dataset.index));
  });
  return wrap;
}
