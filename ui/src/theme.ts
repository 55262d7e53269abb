// The colour theme: the user's choice (system, light, dark), remembered in
// localStorage, applied as `data-theme` on <html> so that one stylesheet
// (style.css) serves both and the choice can differ from the system's.
// Server-drawn charts follow it through `chartTheme()` (api.ts sends it).

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
const KEY = 'loupe.theme';

/** The stored choice; anything unreadable or unknown is `system`. */
export function themeChoice(storage: Pick<Storage, 'getItem'> | null = safeStorage()): ThemeChoice {
  let v: string | null = null;
  try {
    v = storage?.getItem(KEY) ?? null;
  } catch {
    /* storage refused (privacy mode): the default */
  }
  return v === 'light' || v === 'dark' ? v : 'system';
}

/** The theme a choice means, given whether the system prefers dark. */
export function resolveTheme(choice: ThemeChoice, systemDark: boolean): Theme {
  if (choice === 'system') return systemDark ? 'dark' : 'light';
  return choice;
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

function systemQuery(): MediaQueryList | null {
  return typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
}

/** The theme in force now (what the page shows and charts are drawn for). */
export function currentTheme(): Theme {
  const t = typeof document === 'undefined' ? undefined : document.documentElement.dataset.theme;
  return t === 'dark' ? 'dark' : 'light';
}

const listeners: ((t: Theme) => void)[] = [];

/** Called when the theme in force changes (the choice, or the system's under `system`). */
export function onThemeChange(fn: (t: Theme) => void): void {
  listeners.push(fn);
}

function apply(): void {
  const t = resolveTheme(themeChoice(), systemQuery()?.matches ?? false);
  const root = document.documentElement;
  if (root.dataset.theme === t) return;
  root.dataset.theme = t;
  for (const fn of listeners) fn(t);
}

/** Stores the choice and applies it. */
export function setThemeChoice(choice: ThemeChoice): void {
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    /* not remembered, still applied for this page */
  }
  apply();
}

/** Applies the stored choice and follows the system's while the choice is `system`. */
export function startTheme(): void {
  apply();
  systemQuery()?.addEventListener('change', apply);
}
