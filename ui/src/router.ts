// History-API routing: `/` (search) and `/trace/<id>`. Internal links are
// ordinary <a href> elements; a plain left click navigates without reload.

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
    if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
    ev.preventDefault();
    navigate(href);
  });
}
