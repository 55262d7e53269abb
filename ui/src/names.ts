// How span names fit the waterfall's name column: the split that keeps the
// end of a dotted name visible (the part that identifies a Kestra task,
// `…flow.Fail`), indentation that compresses past a depth so deep spans keep
// room for their names, and the column's width (dragged, remembered).

/**
 * Splits a name into a head that may be cut (with an ellipsis at its end)
 * and a tail that stays visible. Dotted names (Java classes, Kestra task
 * types) keep their last two segments: `EXECUTOR - io.kestra.plugin.core.flow.Fail`
 * → [`EXECUTOR - io.kestra.plugin.core.`, `flow.Fail`], shown as
 * `EXECUTOR - io.kestra.…flow.Fail` when short of room. Other names have no tail.
 */
export function splitName(name: string): [head: string, tail: string] {
  // The last word holds the dotted path (names like `WORKER - io.kestra…`).
  const space = name.lastIndexOf(' ');
  const word = name.slice(space + 1);
  const last = word.lastIndexOf('.');
  if (last <= 0 || last === word.length - 1) return [name, ''];
  const prev = word.lastIndexOf('.', last - 1);
  if (prev <= 0) return [name, ''];
  const cut = space + 1 + prev + 1;
  return [name.slice(0, cut), name.slice(cut)];
}

/** Levels indented in full, and the step of each level past them. */
export const FULL_LEVELS = 10;
export const LEVEL_PX = 14;
export const DEEP_LEVEL_PX = 3;

/**
 * The indentation of a depth in pixels: 14 px a level for the first 10,
 * then 3 px a level, never more than a quarter of the column (so the name
 * keeps most of it at any depth).
 */
export function indentPx(depth: number, gutter: number): number {
  const d = Math.max(0, depth);
  const px = d <= FULL_LEVELS ? d * LEVEL_PX : FULL_LEVELS * LEVEL_PX + (d - FULL_LEVELS) * DEEP_LEVEL_PX;
  return Math.min(px, Math.max(LEVEL_PX, Math.floor(gutter / 4)));
}

/**
 * The narrowest column that shows `content` pixels beside the indentation of
 * `depth`, where the indentation itself grows with the column (indentPx).
 * The widths tried only grow and are bounded by the full indentation, so a
 * few steps settle it.
 */
export function fitGutterWidth(content: number, depth: number): number {
  let g = content;
  for (let i = 0; i < 32; i++) {
    const next = content + indentPx(depth, g);
    if (next <= g) return g;
    g = next;
  }
  return content + indentPx(depth, Number.MAX_SAFE_INTEGER);
}

/** True when the indentation no longer shows every level at full width: the row says its depth. */
export function depthShown(depth: number, gutter: number): boolean {
  return depth > 0 && indentPx(depth, gutter) < depth * LEVEL_PX;
}

export const MIN_GUTTER = 160;
const GUTTER_KEY = 'loupe.waterfall.nameWidth';

/** The column width within what the waterfall's width allows (a timeline of at least 200 px stays). */
export function clampGutter(px: number, width: number): number {
  const max = Math.max(MIN_GUTTER, width - 200);
  return Math.round(Math.min(max, Math.max(MIN_GUTTER, px)));
}

/** The width the user chose (dragged or fitted), or null. */
export function savedGutter(): number | null {
  try {
    const v = Number(localStorage.getItem(GUTTER_KEY));
    return Number.isFinite(v) && v >= MIN_GUTTER ? v : null;
  } catch {
    return null;
  }
}

export function saveGutter(px: number | null): void {
  try {
    if (px === null) localStorage.removeItem(GUTTER_KEY);
    else localStorage.setItem(GUTTER_KEY, String(Math.round(px)));
  } catch {
    /* private mode: not remembered */
  }
}
