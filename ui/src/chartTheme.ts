// Server-drawn charts and the theme. A chart whose background is white was
// drawn for the light theme (a server without `theme`, or `theme=light`);
// its root gets the class `on-light`, which style.css inverts under the dark
// theme, so a dark page never shows a white slab.

const WHITE_BG = /^\s*(?:<\?xml[^>]*>\s*)?<svg\b[^>]*>\s*<rect\b[^>]*\bfill="(?:#fff|#ffffff|white)"/i;

/** True when the SVG's first shape is a white background. */
export function hasLightBackground(svg: string): boolean {
  return WHITE_BG.test(svg.slice(0, 1024));
}

/** Adds `class="on-light"` to the root of an SVG with a white background; others are returned unchanged. */
export function markLightSvg(svg: string): string {
  if (!hasLightBackground(svg)) return svg;
  const root = /<svg\b[^>]*>/i.exec(svg)!;
  const tag = root[0];
  const marked = /\bclass="/.test(tag) ? tag.replace(/\bclass="/, 'class="on-light ') : tag.replace(/^<svg\b/i, '<svg class="on-light"');
  return svg.slice(0, root.index) + marked + svg.slice(root.index + tag.length);
}
