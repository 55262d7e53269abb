// Tiny DOM helpers. Telemetry text only ever goes through text nodes
// (`textContent`), never through innerHTML.

type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  testid?: string;
  title?: string;
  attrs?: Record<string, string | number | boolean | undefined | null>;
  data?: Record<string, string | number | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
  text?: string;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.testid) el.dataset.testid = props.testid;
    if (props.title) el.title = props.title;
    if (props.attrs)
      for (const [k, v] of Object.entries(props.attrs)) {
        if (v === undefined || v === null || v === false) continue;
        el.setAttribute(k, v === true ? '' : String(v));
      }
    if (props.data) for (const [k, v] of Object.entries(props.data)) if (v !== undefined) el.dataset[k] = String(v);
    if (props.on) for (const [k, fn] of Object.entries(props.on)) el.addEventListener(k, fn as EventListener);
    if (props.text !== undefined) el.textContent = props.text;
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Sets text only when it changed (cheap updates of pooled rows). */
export function setText(el: Node, s: string): void {
  if (el.textContent !== s) el.textContent = s;
}

export function toggleClass(el: Element, cls: string, on: boolean): void {
  if (el.classList.contains(cls) !== on) el.classList.toggle(cls, on);
}

/** Copies text to the clipboard; resolves false when not allowed. */
export async function copyText(s: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(s);
    return true;
  } catch {
    return false;
  }
}
