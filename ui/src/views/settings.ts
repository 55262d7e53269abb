// The settings page: Loupe's health at a glance, the log filter, and the
// ingest filter rules, changeable while Loupe runs (until it stops).

import { ApiError, getFilters, getHealth, getLogLevel, putFilters, putLogLevel } from '../api';
import { h } from '../dom';
import { formatBytes, formatRules, parseRules } from '../settings';
import { contextKeys, DEFAULT_CONTEXT_KEYS, MAX_CONTEXT_KEYS, parseContextKeys, setContextKeys } from '../context';
import type { View } from '../router';

function message(el: HTMLElement, text: string, ok: boolean): void {
  el.textContent = text;
  el.className = ok ? 'settings-msg ok' : 'settings-msg error';
}

export function mountSettings(parent: HTMLElement): View {
  const health = h('p', { class: 'settings-health', testid: 'health', text: 'Checking health…' });
  const level = h('input', { class: 'input settings-level', testid: 'log-level', attrs: { type: 'text', spellcheck: false, 'aria-label': 'Log filter' } });
  const levelMsg = h('span', { class: 'settings-msg' });
  const levelSave = h('button', { class: 'btn primary', text: 'Apply' });
  const rules = h('textarea', { class: 'textarea settings-rules', testid: 'filters', attrs: { rows: 14, spellcheck: false, 'aria-label': 'Ingest filter rules (JSON)' } });
  const rulesMsg = h('span', { class: 'settings-msg' });
  const rulesSave = h('button', { class: 'btn primary', text: 'Apply' });
  // Context attributes (context.ts): kept in this browser, not on the server.
  const ctxIn = h('input', { class: 'input settings-level', testid: 'context-keys', attrs: { type: 'text', spellcheck: false, 'aria-label': 'Context attribute keys' } });
  ctxIn.value = contextKeys().join(', ');
  const ctxMsg = h('span', { class: 'settings-msg' });
  const ctxSave = h('button', { class: 'btn primary', text: 'Save' });
  const ctxReset = h('button', { class: 'btn', text: 'Default' });
  ctxSave.addEventListener('click', () => {
    const keys = parseContextKeys(ctxIn.value);
    setContextKeys(keys);
    ctxIn.value = keys.join(', ');
    message(ctxMsg, keys.length ? `Saved: ${keys.length} key${keys.length === 1 ? '' : 's'}.` : 'Saved: no context chips or columns.', true);
  });
  ctxReset.addEventListener('click', () => {
    setContextKeys(null);
    ctxIn.value = DEFAULT_CONTEXT_KEYS.join(', ');
    message(ctxMsg, 'Back to the default keys.', true);
  });
  const el = h(
    'div',
    { class: 'page settings' },
    h('h2', { text: 'Settings' }),
    health,
    h(
      'section',
      null,
      h('h3', { text: 'Context attributes' }),
      h('p', {
        class: 'hint',
        text: `Attribute keys shown as chips in the waterfall and as columns of the trace list (comma-separated, at most ${MAX_CONTEXT_KEYS}; kept in this browser).`,
      }),
      h('div', { class: 'settings-row' }, ctxIn, ctxSave, ctxReset, ctxMsg),
    ),
    h(
      'section',
      null,
      h('h3', { text: 'Log level' }),
      h('p', { class: 'hint', text: 'RUST_LOG syntax, e.g. info or warn,loupe_store=debug.' }),
      h('div', { class: 'settings-row' }, level, levelSave, levelMsg),
    ),
    h(
      'section',
      null,
      h('h3', { text: 'Ingest filters' }),
      h('p', {
        class: 'hint',
        text: 'Rules applied before storage and forwarding (JSON). Fields: name, action ("drop" or "keep"), signals, service, scope, span_name, attribute {key, value}. A trailing * matches a prefix. Changes last until Loupe stops; put permanent rules in the configuration file.',
      }),
      rules,
      h('div', { class: 'settings-row' }, rulesSave, rulesMsg),
    ),
  );
  parent.appendChild(el);
  const ctl = new AbortController();
  const failed = (e: unknown) => (e as Error).name !== 'AbortError';

  getHealth(ctl.signal)
    .then((hl) => {
      const disk = hl.details.disk;
      const store = hl.details.store;
      const diskText = typeof disk.free === 'number' && typeof disk.total === 'number' ? `, disk ${formatBytes(disk.free)} free of ${formatBytes(disk.total)}` : '';
      health.textContent = `Loupe is ${hl.status}: database ${formatBytes(store.fileBytes ?? 0)}${diskText}.`;
      health.classList.toggle('down', hl.status !== 'UP');
    })
    .catch((e) => failed(e) && message(health, (e as Error).message, false));
  getLogLevel(ctl.signal)
    .then((l) => (level.value = l.filter))
    .catch((e) => {
      if (!failed(e)) return;
      message(levelMsg, (e as Error).message, false);
      if (e instanceof ApiError && e.status === 404) level.disabled = levelSave.disabled = true;
    });
  getFilters(ctl.signal)
    .then((f) => (rules.value = formatRules(f.filters)))
    .catch((e) => failed(e) && message(rulesMsg, (e as Error).message, false));

  levelSave.addEventListener('click', () => {
    putLogLevel(level.value.trim())
      .then((l) => {
        level.value = l.filter;
        message(levelMsg, 'Applied.', true);
      })
      .catch((e) => message(levelMsg, (e as Error).message, false));
  });
  rulesSave.addEventListener('click', () => {
    const parsed = parseRules(rules.value);
    if ('error' in parsed) {
      message(rulesMsg, parsed.error, false);
      return;
    }
    putFilters(parsed.rules)
      .then((f) => {
        rules.value = formatRules(f.filters);
        message(rulesMsg, `Applied: ${f.filters.length} rule${f.filters.length === 1 ? '' : 's'}.`, true);
      })
      .catch((e) => message(rulesMsg, (e as Error).message, false));
  });

  return {
    update() {},
    destroy() {
      ctl.abort();
      el.remove();
    },
  };
}
