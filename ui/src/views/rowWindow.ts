// Which rows the waterfall binds for a scroll position.

/**
 * Rows bound beyond each edge of the view when the window of bound rows is
 * placed. The window stays put while the view keeps at least MARGIN rows of
 * it on each side: most scrolled frames then change nothing in the DOM (the
 * composited scroller just moves), and one frame in several binds the next
 * dozen rows. Binding a row or two every frame cost a style, layout, paint,
 * layerize and commit of the whole list each frame (BENCHMARKS.md, "Web UI:
 * big traces in Chromium").
 */
export const OVERSCAN = 12;
export const MARGIN = 2;

/**
 * The window of rows to bind, [first, last), for rows [top, bottom) in view
 * out of n: the current window [w0, w1) while it covers the view with
 * MARGIN rows to spare on each side (or up to the list's ends), else a new
 * one with OVERSCAN rows on each side.
 */
export function rowWindow(w0: number, w1: number, top: number, bottom: number, n: number): [number, number] {
  const lo = Math.max(0, Math.min(n, top));
  const hi = Math.max(lo, Math.min(n, bottom));
  const need0 = Math.max(0, lo - MARGIN);
  const need1 = Math.min(n, hi + MARGIN);
  const max = hi - lo + 2 * OVERSCAN;
  if (w0 <= need0 && w1 >= need1 && w1 <= n && w1 - w0 <= max) return [w0, w1];
  return [Math.max(0, lo - OVERSCAN), Math.min(n, hi + OVERSCAN)];
}
