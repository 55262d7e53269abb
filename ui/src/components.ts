// The UI's one set of controls: buttons, inputs, selects, checkboxes, tabs,
// dialogs, tables and timestamps, each an element with the classes that
// style.css gives one look in both themes. Views build their controls here
// (or put these classes on their own), never leave a browser-default one:
// the screenshot test (ui/e2e/look.mjs) fails on a control without them.

import { h, type Props } from './dom';
import { formatTime } from './format';
import { THEME_CHOICES, setThemeChoice, themeChoice, type ThemeChoice } from './theme';

/**
 * The classes that mark a control as one of ours (look.mjs keeps the same
 * list). Specialised controls (waterfall toggles, chips, legend entries)
 * are styled by their own class, listed here too.
 */
export const CONTROL_CLASSES = ['btn', 'link-btn', 'tab', 'seg-btn', 'chip', 'kchip', 'legend-item', 'wf-toggle', 'stats-sort', 'input', 'select', 'textarea', 'checkbox', 'file'] as const;

export type ButtonVariant = 'default' | 'primary' | 'danger' | 'ghost';

export interface ButtonOpts extends Omit<Props, 'class'> {
  variant?: ButtonVariant;
  small?: boolean;
  /** A one-glyph button (← → ✕): square, its `title` is its accessible name. */
  icon?: boolean;
  /** A pressed/unpressed toggle (aria-pressed). */
  pressed?: boolean;
  type?: 'button' | 'submit';
  disabled?: boolean;
  hidden?: boolean;
  /** More classes (a view's own, for layout). */
  extra?: string;
  onClick?: (ev: MouseEvent) => void;
}

/** The class string of a button: `btn` with its variant and size. */
export function buttonClass(o: Pick<ButtonOpts, 'variant' | 'small' | 'icon' | 'pressed' | 'extra'> = {}): string {
  const c = ['btn'];
  if (o.variant && o.variant !== 'default') c.push(o.variant);
  if (o.small) c.push('small');
  if (o.icon) c.push('icon');
  if (o.pressed !== undefined) c.push('toggle');
  if (o.pressed) c.push('on');
  if (o.extra) c.push(o.extra);
  return c.join(' ');
}

/** A button. */
export function button(label: string | Node, o: ButtonOpts = {}): HTMLButtonElement {
  const attrs: NonNullable<Props['attrs']> = { type: o.type ?? 'button', disabled: o.disabled, hidden: o.hidden, ...o.attrs };
  if (o.pressed !== undefined) attrs['aria-pressed'] = String(o.pressed);
  if (o.icon && o.title) attrs['aria-label'] = o.title;
  const on = { ...o.on };
  if (o.onClick) on.click = o.onClick;
  return h('button', { ...o, class: buttonClass(o), attrs, on }, label);
}

/** Sets a toggle button's pressed state (class and aria-pressed together). */
export function setPressed(b: HTMLElement, pressed: boolean): void {
  b.classList.toggle('on', pressed);
  b.classList.add('toggle');
  b.setAttribute('aria-pressed', String(pressed));
}

export interface InputOpts extends Omit<Props, 'class'> {
  type?: 'text' | 'search' | 'number' | 'datetime-local' | 'password' | 'url';
  value?: string;
  placeholder?: string;
  label?: string;
  small?: boolean;
  extra?: string;
}

/** A text input (`label` becomes its aria-label). */
export function input(o: InputOpts = {}): HTMLInputElement {
  const attrs: NonNullable<Props['attrs']> = { type: o.type ?? 'text', value: o.value, placeholder: o.placeholder, 'aria-label': o.label, ...o.attrs };
  return h('input', { ...o, class: ['input', o.small ? 'small' : '', o.extra ?? ''].filter(Boolean).join(' '), attrs });
}

/** A multi-line input. */
export function textarea(o: Omit<InputOpts, 'type'> & { rows?: number } = {}): HTMLTextAreaElement {
  const attrs: NonNullable<Props['attrs']> = { rows: o.rows, placeholder: o.placeholder, 'aria-label': o.label, spellcheck: 'false', ...o.attrs };
  const t = h('textarea', { ...o, class: ['textarea', o.extra ?? ''].filter(Boolean).join(' '), attrs });
  if (o.value !== undefined) t.value = o.value;
  return t;
}

/** A select of `[value, label]` options. */
export function select(options: readonly (readonly [string, string])[], o: Omit<InputOpts, 'type' | 'placeholder'> = {}): HTMLSelectElement {
  const s = h(
    'select',
    { ...o, class: ['select', o.small ? 'small' : '', o.extra ?? ''].filter(Boolean).join(' '), attrs: { 'aria-label': o.label, ...o.attrs } },
    ...options.map(([v, l]) => h('option', { attrs: { value: v }, text: l })),
  );
  if (o.value !== undefined) s.value = o.value;
  return s;
}

/** A checkbox and its label; returns both. */
export function checkbox(label: string, checked: boolean, o: Omit<Props, 'class'> & { extra?: string } = {}): [HTMLLabelElement, HTMLInputElement] {
  const box = h('input', { ...o, class: 'checkbox', attrs: { type: 'checkbox', checked, ...o.attrs } });
  return [h('label', { class: ['check', o.extra ?? ''].filter(Boolean).join(' ') }, box, h('span', { text: label })), box];
}

/** A tab button for a `.tabs` strip; `setActiveTab` marks the current one. */
export function tab(label: string | Node, o: Omit<Props, 'class'> = {}): HTMLButtonElement {
  return h('button', { ...o, class: 'tab', attrs: { type: 'button', role: 'tab', ...o.attrs } }, label);
}

/** Marks one tab of a strip active (class and aria-selected). */
export function setActiveTab(tabs: readonly HTMLElement[], active: HTMLElement | null): void {
  for (const t of tabs) {
    t.classList.toggle('active', t === active);
    t.setAttribute('aria-selected', String(t === active));
  }
}

/** A modal dialog with a title bar and a close button; the body is returned to fill. */
export function dialog(title: string, o: Omit<Props, 'class'> & { extra?: string } = {}): { dialog: HTMLDialogElement; body: HTMLElement } {
  const body = h('div', { class: 'dialog-body' });
  const d = h('dialog', { ...o, class: ['dialog', o.extra ?? ''].filter(Boolean).join(' ') });
  d.append(h('div', { class: 'dialog-head' }, h('h2', { text: title }), button('✕', { icon: true, variant: 'ghost', title: 'Close', testid: 'dialog-close', onClick: () => d.close() })), body);
  return { dialog: d, body };
}

/** A data table: header cells from `head`, rows appended by the caller to its tbody. */
export function table(head: readonly string[], o: Omit<Props, 'class'> & { extra?: string } = {}): { table: HTMLTableElement; body: HTMLTableSectionElement } {
  const body = h('tbody');
  const t = h('table', { ...o, class: ['table', o.extra ?? ''].filter(Boolean).join(' ') }, head.length ? h('thead', null, h('tr', null, ...head.map((x) => h('th', { text: x })))) : null, body);
  return { table: t, body };
}

/** A timestamp: absolute in the user's time zone, relative on hover. */
export function timeText(ns: string, o: { withDate?: boolean; micros?: boolean; now?: number; class?: string; testid?: string } = {}): HTMLTimeElement {
  const f = formatTime(ns, o);
  return h('time', { class: o.class, testid: o.testid, title: f.title, attrs: { datetime: f.iso } }, f.text);
}

/** The theme switch of the header: system, light, dark (remembered). */
export function themeSwitch(): HTMLSelectElement {
  const names: Record<ThemeChoice, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };
  const s = select(
    THEME_CHOICES.map((c) => [c, names[c]] as const),
    { small: true, label: 'Colour theme', testid: 'theme-switch', value: themeChoice() },
  );
  s.addEventListener('change', () => setThemeChoice(s.value as ThemeChoice));
  return s;
}
