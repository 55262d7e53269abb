// The Alerts page (`/rules`): firing alerts, rules (enable, duplicate,
// delete, export/import), channels with "send test", the delivery log and
// the history; and the rule editor (`/rules/new`, `/rules/<id>`): the
// condition tree beside its YAML, the never-matches warning with its OR
// fix, backtest and save. Rendering only: tree edits live in `rules.ts`,
// YAML is parsed and rendered by the server.

import { clear, h } from '../dom';
import { type ChannelsState, channelsState, renderChannels } from './channels';
import { timeText } from '../components';
import { navigate } from '../router';
import { alertsCall, ApiError, getAttributeKeys, getAttributeValues, getServices } from '../api';
import type { AlertGroup, AlertsSummary, BacktestReport, Channels, ChannelView, Deliveries, DeliveryRow, Rendered, RuleList, RuleView } from '../generated/api';
import {
  addChild,
  children,
  condText,
  describe,
  FIELDS,
  isPred,
  kindOf,
  newPred,
  OPS,
  parseValue,
  type Edited,
  groups,
  move,
  remove,
  setKind,
  unwrap,
  wrap,
  toggleNot,
  update,
  type Analysis,
  type Cond,
  type Finding,
  type Op,
  type Pred,
  type Rule,
  type Signal,
  readings,
  valueSource,
} from '../rules';

/** An alerting call; a failure names the first rule error's line and column when there is one. */
async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, raw = false): Promise<T> {
  try {
    return await alertsCall<T>(method, path, body, raw);
  } catch (err) {
    const e = err instanceof ApiError ? err.errors?.[0] : undefined;
    if (!e) throw err;
    const where = e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ''}: ` : '';
    throw new Error(where + e.message);
  }
}

// The alerting answers, as generated from the Rust types.
type Group = AlertGroup;
type Channel = ChannelView;
type Delivery = DeliveryRow;

export type { View } from '../router';
import type { View } from '../router';

/** A time in the UI's one format (absolute, relative on hover). */
function when(ns: number | string): HTMLTimeElement {
  return timeText(String(ns));
}

/** Polls `/api/v1/alerts` and keeps the header badge current. */
export function startAlertBadge(badge: HTMLElement): void {
  const tick = async () => {
    try {
      const a = await call<AlertsSummary>('GET', '/api/v1/alerts');
      badge.textContent = a.firing > 0 ? String(a.firing) : '';
      badge.hidden = a.firing === 0;
    } catch {
      /* offline: keep the last count */
    }
  };
  void tick();
  setInterval(tick, 3000);
}

export function mountRules(main: HTMLElement, path: string): View {
  const page = h('div', { class: 'page rules-page', testid: 'rules-page' });
  main.appendChild(page);
  let timer: ReturnType<typeof setInterval> | undefined;
  const m = /^\/rules\/(new|\d+)$/.exec(path);
  if (m) mountEditor(page, m[1] === 'new' ? null : Number(m[1]));
  else {
    const st: ListState = { channels: channelsState() };
    void renderList(page, st, true);
    timer = setInterval(() => void renderList(page, st, false), 5000);
  }
  return {
    update() {},
    destroy() {
      if (timer) clearInterval(timer);
      page.remove();
    },
  };
}

/** What the list page keeps between its redraws. */
interface ListState {
  channels: ChannelsState;
}

/** Draws the list page; a periodic redraw (`force` false) leaves a page being typed into alone. */
async function renderList(page: HTMLElement, st: ListState, force: boolean): Promise<void> {
  let rules: RuleView[] = [];
  let groups: Group[] = [];
  let channels: Channel[] = [];
  let deliveries: Delivery[] = [];
  let history: { ruleName: string; group: string; from: string; to: string; atNs: string }[] = [];
  try {
    [rules, groups, channels, deliveries, history] = await Promise.all([
      call<RuleList>('GET', '/api/v1/rules').then((r) => r.rules),
      call<AlertsSummary>('GET', '/api/v1/alerts').then((r) => r.groups),
      call<Channels>('GET', '/api/v1/channels').then((r) => r.channels),
      call<Deliveries>('GET', '/api/v1/deliveries').then((r) => r.deliveries),
      call<{ history: typeof history }>('GET', '/api/v1/alerts/history?limit=50').then((r) => r.history),
    ]);
  } catch (e) {
    clear(page);
    page.appendChild(h('p', { class: 'form-error', text: (e as Error).message }));
    return;
  }
  if (!force && page.querySelector('input:focus, textarea:focus, select:focus')) return; // do not disturb typing
  clear(page);
  const refresh = () => void renderList(page, st, true);

  const firing = groups.filter((g) => g.state === 'firing' || g.state === 'pending');
  page.appendChild(h('h2', { text: 'Alerts' }));
  page.appendChild(
    firing.length === 0
      ? h('p', { class: 'muted', testid: 'no-alerts', text: 'Nothing is firing.' })
      : h(
          'ul',
          { class: 'alert-list', testid: 'alert-list' },
          ...firing.map((g) =>
            h(
              'li',
              { class: `alert-item state-${g.state}` },
              h('span', { class: 'pill', text: g.state }),
              ' ',
              h('strong', { text: g.rule }),
              ' ',
              h('span', { class: 'mono', text: g.group }),
              g.evidence?.traceId ? h('a', { attrs: { href: `/trace/${g.evidence.traceId}` }, text: ` ${g.evidence.summary}` }) : g.value !== undefined ? ` = ${g.value}` : '',
              h('span', { class: 'muted' }, ' since ', when(g.sinceNs)),
            ),
          ),
        ),
  );

  const importInput = h('input', { class: 'file', attrs: { type: 'file', accept: '.yaml,.yml', hidden: true }, testid: 'import-file' });
  importInput.addEventListener('change', async () => {
    const f = importInput.files?.[0];
    if (!f) return;
    try {
      await call('POST', '/api/v1/rules/import', await f.text(), true);
      refresh();
    } catch (e) {
      alert(`Import failed: ${(e as Error).message}`);
    }
  });
  page.appendChild(
    h(
      'div',
      { class: 'rules-head' },
      h('h2', { text: 'Rules' }),
      h('a', { class: 'btn', attrs: { href: '/rules/new' }, testid: 'new-rule', text: 'New rule' }),
      h('a', { class: 'btn', attrs: { href: '/api/v1/rules/export', download: 'loupe-rules.yaml' }, text: 'Export YAML' }),
      h('button', { class: 'btn', text: 'Import YAML', on: { click: () => importInput.click() } }),
      importInput,
    ),
  );
  const table = h(
    'table',
    { class: 'table compact rules-table', testid: 'rules-table' },
    h('tr', null, h('th', { text: 'On' }), h('th', { text: 'Rule' }), h('th', { text: 'Watches' }), h('th', { text: 'Firing' }), h('th', null)),
  );
  for (const r of rules) {
    const toggle = h('input', { class: 'checkbox', attrs: { type: 'checkbox', checked: r.enabled ?? false, title: 'Enabled' } });
    toggle.addEventListener('change', async () => {
      await call('POST', `/api/v1/rules/${r.id}/enabled`, { enabled: toggle.checked });
      refresh();
    });
    table.appendChild(
      h(
        'tr',
        { data: { rule: r.name ?? '' } },
        h('td', null, toggle),
        h(
          'td',
          null,
          h('a', { attrs: { href: `/rules/${r.id}` }, text: r.name ?? `rule ${r.id}` }),
          r.analysis?.neverMatches ? h('span', { class: 'pill warn', text: 'never matches' }) : null,
          r.error ? h('span', { class: 'form-error', text: r.error.message }) : null,
        ),
        h('td', { text: r.signal ?? '' }),
        h('td', { text: String(r.firing) }),
        h(
          'td',
          null,
          h('button', {
            class: 'link-btn',
            text: 'Duplicate',
            on: {
              click: async () => {
                await call('POST', `/api/v1/rules/${r.id}/duplicate`, {});
                refresh();
              },
            },
          }),
          ' ',
          h('button', {
            class: 'link-btn',
            text: 'Delete',
            on: {
              click: async () => {
                if (confirm(`Delete the rule ${r.name}?`)) {
                  await call('DELETE', `/api/v1/rules/${r.id}`);
                  refresh();
                }
              },
            },
          }),
        ),
      ),
    );
  }
  page.appendChild(rules.length ? table : h('p', { class: 'muted', text: 'No rules yet.' }));

  renderChannels(page, channels, st.channels, call, refresh);

  page.appendChild(h('h2', { text: 'History' }));
  page.appendChild(
    history.length === 0
      ? h('p', { class: 'muted', text: 'No alert has changed state yet.' })
      : h(
          'table',
          { class: 'table compact rules-table', testid: 'history-table' },
          ...history.map((x) => h('tr', null, h('td', null, when(x.atNs)), h('td', { text: x.ruleName }), h('td', { class: 'mono', text: x.group }), h('td', { text: `${x.from} → ${x.to}` }))),
        ),
  );

  page.appendChild(h('h2', { text: 'Deliveries' }));
  page.appendChild(
    deliveries.length === 0
      ? h('p', { class: 'muted', text: 'Nothing sent yet.' })
      : h(
          'table',
          { class: 'table compact rules-table', testid: 'deliveries-table' },
          ...deliveries
            .slice(0, 50)
            .map((d) =>
              h(
                'tr',
                null,
                h('td', null, when(d.atNs)),
                h('td', { text: d.channelName }),
                h('td', { text: d.rule }),
                h('td', { text: `#${d.attempt}` }),
                h('td', { class: `result-${d.result}`, text: d.result }),
                h('td', { text: d.status ? String(d.status) : '' }),
                h('td', { class: 'muted', text: d.error }),
              ),
            ),
        ),
  );
}

const SIGNALS: Signal[] = ['traces', 'spans', 'logs', 'metrics'];

function mountEditor(page: HTMLElement, id: number | null): void {
  let rule: Rule = { name: '', signal: 'traces', when: newPred('traces') };
  let yamlSeq = 0;
  let keys: string[] = [];
  const title = h('h2', { text: id === null ? 'New rule' : 'Edit rule' });
  const nameIn = h('input', { class: 'input', testid: 'rule-name', attrs: { placeholder: 'Rule name' } });
  const signalSel = h('select', { class: 'select', testid: 'rule-signal' }, ...SIGNALS.map((s) => h('option', { attrs: { value: s }, text: s })));
  const notifyIn = h('input', { class: 'input', testid: 'rule-notify', attrs: { placeholder: 'channels, comma separated' } });
  const keepIn = h('input', { class: 'input', testid: 'rule-keep', attrs: { placeholder: 'keep firing, e.g. 5m' } });
  const treeBox = h('div', { class: 'cond-tree', testid: 'cond-tree' });
  const treeNote = h('p', { class: 'muted', testid: 'tree-note', attrs: { role: 'status' } });
  const yamlBox = h('textarea', { class: 'textarea yaml mono', testid: 'rule-yaml', attrs: { spellcheck: 'false', rows: 28 } });
  const yamlErr = h('div', { class: 'form-error', testid: 'yaml-error' });
  const warnBox = h('div', { testid: 'never-matches' });
  const btResult = h('div', { class: 'backtest', testid: 'backtest-result' });
  const saveMsg = h('span', { class: 'muted', testid: 'save-msg' });
  const datalist = h('datalist', { attrs: { id: 'rule-fields' } });

  const showAnalysis = (a?: Analysis) => {
    clear(warnBox);
    warnBox.className = '';
    if (!a || a.findings.length === 0) return;
    warnBox.className = 'notice warn never-matches';
    for (const f of a.findings) {
      const preview = h('div', { class: 'fix-preview', testid: 'fix-preview' });
      warnBox.appendChild(
        h(
          'div',
          null,
          h('strong', { text: a.neverMatches ? 'This rule can never fire. ' : 'Part of this rule can never match. ' }),
          f.message,
          ' ',
          h('button', {
            class: 'btn',
            testid: 'preview-fix',
            text: 'Show the fix',
            on: { click: () => void showFix(f, preview) },
          }),
          preview,
        ),
      );
    }
  };

  /** How many matches a condition finds over the last hour, as text. */
  const countOf = async (when: Cond): Promise<string> => {
    try {
      const r = await call<BacktestReport>('POST', '/api/v1/rules/backtest', { rule: { ...rule, name: rule.name || 'untitled', when } });
      return `${r.matchCount} match${r.matchCount === 1 ? '' : 'es'} in the last hour`;
    } catch (e) {
      return `backtest failed: ${(e as Error).message}`;
    }
  };

  /**
   * Before and after, each with its backtest over the same window, so the
   * user sees what the fix changes before applying it: the seed's rule
   * goes from no match to every failed execution it meant.
   */
  const showFix = async (f: Finding, box: HTMLElement) => {
    clear(box);
    const before = rule.when;
    const row = (label: string, when: Cond | undefined, testid: string, apply?: () => void) => {
      const count = h('span', { class: 'muted', testid: `${testid}-count`, text: 'counting…' });
      const line = h(
        'div',
        { class: 'fix-row', testid },
        h('span', { class: 'fix-label', text: label }),
        h('code', { class: 'mono', text: when ? condText(when) : '(matches everything)' }),
        ' ',
        count,
      );
      if (apply) line.appendChild(h('button', { class: 'btn primary', testid: `${testid}-apply`, text: 'Apply', on: { click: apply } }));
      box.appendChild(line);
      if (when) void countOf(when).then((t) => (count.textContent = t));
      else count.textContent = '';
    };
    row('Now:', before, 'fix-before');
    readings(f).forEach((when, i) =>
      row(i === 0 ? 'Suggested:' : 'Or:', when, i === 0 ? 'fix-after' : `fix-alt-${i}`, () => {
        rule = { ...rule, when };
        void fromTree();
      }),
    );
  };

  /** Tree changed: ask the server for the YAML and the analysis. */
  const fromTree = async (tree = true) => {
    syncFields();
    // Only re-render the tree when it changed: replacing it under the
    // pointer (say, when a blur commits the name) would swallow the click.
    if (tree) renderTree();
    const seq = ++yamlSeq;
    try {
      const r = await call<Rendered>('POST', '/api/v1/rules/render', { rule: { ...rule, name: rule.name || 'untitled' } });
      if (seq !== yamlSeq) return;
      yamlBox.value = rule.name ? r.yaml : r.yaml.replace(/^name: untitled\n/, 'name: \n');
      yamlErr.textContent = '';
      showAnalysis(r.analysis);
    } catch (e) {
      if (seq === yamlSeq) yamlErr.textContent = (e as Error).message;
    }
  };

  /** YAML changed: parse on the server and show the tree. */
  let typing: ReturnType<typeof setTimeout> | undefined;
  const fromYaml = async () => {
    const seq = ++yamlSeq;
    try {
      const r = await call<Rendered>('POST', '/api/v1/rules/parse', { yaml: yamlBox.value });
      if (seq !== yamlSeq) return;
      rule = r.rule;
      yamlErr.textContent = '';
      fillFields();
      renderTree();
      showAnalysis(r.analysis);
    } catch (e) {
      if (seq === yamlSeq) yamlErr.textContent = (e as Error).message;
    }
  };
  yamlBox.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => void fromYaml(), 300);
  });

  const fillFields = () => {
    nameIn.value = rule.name;
    signalSel.value = rule.signal;
    notifyIn.value = (rule.notify ?? []).join(', ');
    keepIn.value = rule.keep_firing ?? '';
    clear(datalist);
    for (const f of [...FIELDS[rule.signal], ...keys]) datalist.appendChild(h('option', { attrs: { value: f } }));
  };
  const syncFields = () => {
    rule.name = nameIn.value.trim();
    rule.signal = signalSel.value as Signal;
    const notify = notifyIn.value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    rule.notify = notify.length ? notify : undefined;
    rule.keep_firing = keepIn.value.trim() || undefined;
  };
  for (const el of [nameIn, notifyIn, keepIn]) el.addEventListener('change', () => void fromTree(false));
  signalSel.addEventListener('change', () => {
    if (signalSel.value === 'metrics' && !rule.metric) rule.metric = { name: '', aggregate: 'avg', window: '5m', op: 'gt', threshold: 0 };
    if (signalSel.value !== 'metrics') rule.metric = undefined;
    void fromTree();
  });

  const edit = (f: (c: Cond | undefined) => Cond | undefined) => {
    treeNote.textContent = '';
    rule = { ...rule, when: f(rule.when) };
    void fromTree();
  };
  /** An edit that may change more than it names: its note is shown beside the tree. */
  const editNoted = (f: (c: Cond) => Edited) => {
    if (!rule.when) return;
    const r = f(rule.when);
    rule = { ...rule, when: r.when };
    void fromTree();
    treeNote.textContent = r.note;
  };
  const samePath = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => b[i] === v);
  /** "Move to…": every group the node can go into (not itself, not inside it, not where it is). */
  const moveSelect = (path: number[]): HTMLElement | null => {
    if (path.length === 0) return null;
    const parent = path.slice(0, -1);
    const targets = groups(rule.when).filter((g) => !samePath(g.path, parent) && !(g.path.length >= path.length && path.every((v, i) => g.path[i] === v)));
    if (targets.length === 0) return null;
    const sel = h(
      'select',
      { class: 'select', testid: 'move-to', title: 'Move into another group' },
      h('option', { attrs: { value: '' }, text: 'Move to…' }),
      ...targets.map((g) => h('option', { attrs: { value: g.path.join('.') }, text: `${g.kind === 'all' ? 'AND' : 'OR'} group ${g.text.length > 60 ? `${g.text.slice(0, 59)}…` : g.text}` })),
    );
    sel.addEventListener('change', () => {
      if (sel.value === '') return;
      const to = sel.value.split('.').filter(Boolean).map(Number);
      editNoted((r) => move(r, path, to));
    });
    return sel;
  };
  /** Drag a node by its handle onto a group's head to move it there. */
  const dragHandle = (path: number[]): HTMLElement | null => {
    if (path.length === 0) return null;
    const handle = h('span', { class: 'drag-handle', testid: 'drag-handle', title: 'Drag into another group', text: '⠿', attrs: { draggable: 'true' } });
    handle.addEventListener('dragstart', (ev) => {
      ev.dataTransfer?.setData('application/x-loupe-path', path.join('.'));
      if (ev.dataTransfer) ev.dataTransfer.effectAllowed = 'move';
    });
    return handle;
  };
  const dropTarget = (el: HTMLElement, path: number[]) => {
    el.addEventListener('dragover', (ev) => {
      if (ev.dataTransfer?.types.includes('application/x-loupe-path')) {
        ev.preventDefault();
        el.classList.add('drop-here');
      }
    });
    el.addEventListener('dragleave', () => el.classList.remove('drop-here'));
    el.addEventListener('drop', (ev) => {
      el.classList.remove('drop-here');
      const from = ev.dataTransfer?.getData('application/x-loupe-path');
      if (from === undefined) return;
      ev.preventDefault();
      editNoted((r) => move(r, from.split('.').filter(Boolean).map(Number), path));
    });
  };

  const renderNode = (c: Cond, path: number[]): HTMLElement => {
    const k = kindOf(c);
    const tools = (extra: (HTMLElement | null)[]) =>
      h(
        'span',
        { class: 'node-tools' },
        ...extra,
        h('button', { class: 'link-btn', text: 'NOT', title: 'Negate', on: { click: () => edit((r) => (r ? toggleNot(r, path) : r)) } }),
        h('button', {
          class: 'link-btn',
          testid: 'wrap-any',
          text: '( OR',
          title: 'Wrap in an OR group, to add alternatives beside it',
          on: { click: () => edit((r) => (r ? wrap(r, path, 'any') : r)) },
        }),
        h('button', { class: 'link-btn', testid: 'wrap-all', text: '( AND', title: 'Wrap in an AND group', on: { click: () => edit((r) => (r ? wrap(r, path, 'all') : r)) } }),
        moveSelect(path) ?? '',
        h('button', { class: 'link-btn', text: '✕', title: 'Remove', testid: 'remove-node', on: { click: () => editNoted((r) => remove(r, path)) } }),
      );
    if (isPred(c)) return renderPred(c, path, tools);
    if (k === 'not') {
      return h(
        'div',
        { class: 'cond-group not', data: { path: path.join('.') } },
        h('div', { class: 'group-head' }, dragHandle(path), h('strong', { text: 'NOT' }), tools([])),
        renderNode(children(c)[0], [...path, 0]),
      );
    }
    const kindSel = h(
      'select',
      { class: 'select', testid: 'group-kind' },
      h('option', { attrs: { value: 'all' }, text: 'ALL of (AND)' }),
      h('option', { attrs: { value: 'any' }, text: 'ANY of (OR)' }),
    );
    kindSel.value = k;
    kindSel.addEventListener('change', () => edit((r) => (r ? setKind(r, path, kindSel.value as 'all' | 'any') : r)));
    const members = children(c);
    const head = h(
      'div',
      { class: 'group-head' },
      dragHandle(path),
      kindSel,
      members.length === 1 ? h('span', { class: 'muted', testid: 'one-member', text: ' one member: the same as the member alone ' }) : null,
      tools([
        h('button', { class: 'link-btn', testid: 'add-pred', text: '+ condition', on: { click: () => edit((r) => addChild(r, path, newPred(rule.signal))) } }),
        h('button', { class: 'link-btn', testid: 'add-group', text: '+ group', on: { click: () => edit((r) => addChild(r, path, { all: [newPred(rule.signal)] })) } }),
        members.length === 1
          ? h('button', { class: 'link-btn', testid: 'ungroup', text: 'Ungroup', title: 'Replace the group by its one member', on: { click: () => edit((r) => (r ? unwrap(r, path) : r)) } })
          : null,
      ]),
    );
    const group = h('div', { class: `cond-group ${k}`, data: { path: path.join('.') } }, head, ...members.map((ch, i) => renderNode(ch, [...path, i])));
    dropTarget(head, path);
    return group;
  };

  const renderPred = (p: Pred, path: number[], tools: (x: (HTMLElement | null)[]) => HTMLElement): HTMLElement => {
    const set = (patch: Partial<Pred>) =>
      edit((r) => {
        if (!r) return r;
        return (
          update(r, path, (c) => {
            const next = { ...(c as Pred), ...patch };
            if (next.op === 'exists') delete next.value;
            else if (next.value === undefined) next.value = '';
            return next;
          }) ?? r
        );
      });
    const field = h('input', { class: 'input mono', testid: 'pred-field', attrs: { list: 'rule-fields', value: p.field } });
    field.addEventListener('change', () => set({ field: field.value.trim() }));
    const op = h('select', { class: 'select', testid: 'pred-op' }, ...OPS.map((o) => h('option', { attrs: { value: o }, text: o.replace('_', ' ') })));
    op.value = p.op;
    op.addEventListener('change', () => set({ op: op.value as Op }));
    const listId = `pred-values-${path.join('-') || 'root'}`;
    const value = h('input', { class: 'input mono', testid: 'pred-value', attrs: { value: p.value === undefined ? '' : String(p.value), hidden: p.op === 'exists', list: listId } });
    value.addEventListener('change', () => set({ value: parseValue(value.value) }));
    // Suggestions: the services, or the attribute's recent values.
    const suggestions = h('datalist', { testid: 'pred-values', attrs: { id: listId } });
    const source = valueSource(p.field);
    const fill = (vs: string[]) => {
      for (const v of vs.slice(0, 100)) suggestions.appendChild(h('option', { attrs: { value: v } }));
    };
    if (source === 'services')
      void getServices().then(
        (r) => fill(r.services),
        () => {},
      );
    else if (source === 'attribute')
      void getAttributeValues(p.field).then(
        (r) => fill(r.values),
        () => {},
      );
    return h('div', { class: 'cond-pred', data: { path: path.join('.') }, title: describe(p) }, dragHandle(path), field, op, value, suggestions, tools([]));
  };

  // Removing a focused input fires its blur and change (which edit and
  // re-render): commit that edit first, and never re-enter.
  let rendering = false;
  const renderTree = () => {
    if (rendering) return;
    rendering = true;
    try {
      const active = document.activeElement;
      if (active instanceof HTMLElement && treeBox.contains(active)) active.blur();
      clear(treeBox);
      drawTree();
    } finally {
      rendering = false;
    }
  };
  const drawTree = () => {
    if (!rule.when) {
      treeBox.appendChild(h('p', { class: 'muted', text: 'No condition: every item matches.' }));
      treeBox.appendChild(h('button', { class: 'btn', testid: 'add-pred', text: '+ condition', on: { click: () => edit(() => newPred(rule.signal)) } }));
      return;
    }
    treeBox.appendChild(renderNode(rule.when, []));
    if (isPred(rule.when)) {
      treeBox.appendChild(h('button', { class: 'link-btn', testid: 'add-pred', text: '+ condition', on: { click: () => edit((r) => addChild(r, [], newPred(rule.signal))) } }));
    }
  };

  const backtest = async () => {
    clear(btResult);
    btResult.textContent = 'Running…';
    try {
      const r = await call<BacktestReport>('POST', '/api/v1/rules/backtest', { yaml: yamlBox.value });
      clear(btResult);
      btResult.appendChild(
        h('p', {
          testid: 'backtest-summary',
          text: `Over the last hour this rule would have fired ${r.fired} time${r.fired === 1 ? '' : 's'} (${r.groups.length} group${r.groups.length === 1 ? '' : 's'}, ${r.matchCount} match${r.matchCount === 1 ? '' : 'es'}).`,
        }),
      );
      const list = h('ul', { class: 'bt-list' });
      for (const t of r.transitions.filter((t) => t.to === 'firing').slice(0, 100)) {
        list.appendChild(
          h(
            'li',
            null,
            h('span', { class: 'muted' }, when(t.atNs), ' '),
            h('span', { class: 'mono', text: `${t.group} ` }),
            t.evidence?.traceId ? h('a', { testid: 'backtest-match', attrs: { href: `/trace/${t.evidence.traceId}` }, text: t.evidence.summary }) : '',
          ),
        );
      }
      btResult.appendChild(list);
    } catch (e) {
      btResult.textContent = (e as Error).message;
    }
  };

  const save = async () => {
    saveMsg.textContent = '';
    try {
      const r = id === null ? await call<RuleView>('POST', '/api/v1/rules', { yaml: yamlBox.value }) : await call<RuleView>('PUT', `/api/v1/rules/${id}`, { yaml: yamlBox.value });
      saveMsg.textContent = 'Saved.';
      navigate('/rules');
      void r;
    } catch (e) {
      saveMsg.textContent = (e as Error).message;
    }
  };

  page.append(
    title,
    datalist,
    h('div', { class: 'rule-meta' }, h('label', null, 'Name ', nameIn), h('label', null, 'Watches ', signalSel), h('label', null, 'Notify ', notifyIn), h('label', null, 'Keep firing ', keepIn)),
    warnBox,
    h(
      'div',
      { class: 'editor-split' },
      h('div', { class: 'editor-pane' }, h('h3', { text: 'Conditions' }), treeBox, treeNote),
      h('div', { class: 'editor-pane' }, h('h3', { text: 'YAML' }), yamlBox, yamlErr),
    ),
    h(
      'div',
      { class: 'editor-actions' },
      h('button', { class: 'btn', testid: 'backtest', text: 'Backtest (last hour)', on: { click: () => void backtest() } }),
      h('button', { class: 'btn primary', testid: 'save-rule', text: 'Save', on: { click: () => void save() } }),
      saveMsg,
    ),
    btResult,
  );

  void getAttributeKeys()
    .then((j) => {
      keys = j.keys;
      fillFields();
    })
    .catch(() => {});
  if (id === null) {
    fillFields();
    void fromTree();
  } else {
    void call<RuleList>('GET', '/api/v1/rules').then((r) => {
      const found = r.rules.find((x) => x.id === id);
      if (!found) {
        title.textContent = 'No such rule';
        return;
      }
      yamlBox.value = found.yaml;
      void fromYaml();
    });
  }
}
