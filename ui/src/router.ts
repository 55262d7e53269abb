// History-API routing. Internal links are ordinary <a href> elements; a
// plain left click navigates without reload. `parseRoute` (query.ts) turns
// a URL into a `Route`; the one `RouteTable` (main.ts) says, for each kind
// of route, which `View` shows it.

import type { Route } from './query';

/** What every page is: updated in place with its route's state, or destroyed. */
export interface View {
  update(state: unknown): void;
  destroy(): void;
}

/** The route of one kind. */
export type RouteOf<K extends Route['view']> = Extract<Route, { view: K }>;

/** How one kind of route is shown. */
export interface ViewDef<R extends Route> {
  /** The document title (unchanged when absent). */
  title?(route: R): string;
  mount(root: HTMLElement, route: R): View;
  /**
   * The state handed to `update` when the next route is of the same kind;
   * without it, every navigation mounts the view anew.
   */
  state?(route: R): unknown;
}

/** The route table: a view for every kind of route, checked by the compiler. */
export type RouteTable = { [K in Route['view']]: ViewDef<RouteOf<K>> };

/**
 * Shows the current route in `root` on each call: updates the view in place
 * or mounts the route's view (always mounts anew with `remount`, e.g. when
 * the theme changes under server-drawn charts).
 */
export function routeRenderer(root: HTMLElement, table: RouteTable, current: () => Route): (remount?: boolean) => void {
  let shown: { kind: Route['view']; view: View } | null = null;
  return (remount = false) => {
    const route = current();
    const def = table[route.view] as ViewDef<Route>;
    if (!remount && shown && shown.kind === route.view && def.state) {
      shown.view.update(def.state(route));
      return;
    }
    shown?.view.destroy();
    shown = null;
    const title = def.title?.(route);
    if (title) document.title = title;
    shown = { kind: route.view, view: def.mount(root, route) };
  };
}

type Listener = () => void;
const listeners: Listener[] = [];

export function onNavigate(fn: Listener): void {
  listeners.push(fn);
}

function notify(): void {
  for (const fn of listeners) fn();
}

export function navigate(url: string, opts: { replace?: boolean } = {}): void {
  const cur = location.pathname + location.search;
  if (url === cur) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

/** Updates the URL without re-rendering (view state already shown). */
export function replaceUrl(url: string): void {
  if (url !== location.pathname + location.search) history.replaceState(null, '', url);
}

export function startRouter(): void {
  window.addEventListener('popstate', notify);
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href?.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
    ev.preventDefault();
    navigate(href);
  });
}
