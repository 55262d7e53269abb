// Route `/trace/<id>`: header, toolbar (lens search, collapse, group by,
// stitched view), the waterfall, and the side panel (details, logs).

import { ApiError, getAttributeKeys, getCriticalPath, getPrevious, getServiceMap, getRelated, getStatistics, getTrace, getTraceLogs, getTraceSummary } from '../api';
import type { TraceSummary } from '../generated/api';
import { criticalByNode, criticalPathInfo, regressionHint, sortStats, type CriticalPathAnswer, type PreviousAnswer, type Stat, type StatColumn, type StatisticsAnswer } from '../analysis';
import { clear, h, setText, toggleClass } from '../dom';
import { timeText } from '../components';
import { formatCount, formatDuration, formatTimestamp, shortId } from '../format';
import { compareUrl, traceUrl, type TraceViewState } from '../query';
import { navigate, replaceUrl } from '../router';
import { TraceStream } from '../traceStream';
import { contextKeys } from '../context';
import { planStitch, rootAncestor, type RelatedAnswer, type StitchPlan } from '../stitch';
import {
  attachLogs,
  attributeKeys,
  buildTree,
  collapsedFromKeys,
  F,
  findIndex,
  flattenTrace,
  indexOfKey,
  groupValues,
  laneRows,
  lens,
  visibleRows,
  type Lane,
  type LensResult,
  type LogEntry,
  type OtlpLogsData,
  type SpanInput,
  type SpanTree,
} from '../tree';
import { renderDetails, renderNoSelection, type DetailsContext } from './details';
import { createLogsPanel } from './logsPanel';
import { serviceChip, type View } from './traceList';
import { Waterfall } from './waterfall';
import { toggleShortcuts, typing, type Shortcut } from './shortcuts';
import { renderRunHistory } from './runHistory';
import { FlameGraph } from './flame';
import { serviceMapView } from './serviceMap';

const STITCH_LIMIT = 20;

const TRACE_SHORTCUTS: Shortcut[] = [
  ['j ↓', 'next span'],
  ['k ↑', 'previous span'],
  ['h ←', 'fold the span, or go to its parent'],
  ['l →', 'unfold the span, or go to its first child'],
  ['PageDown PageUp', 'a screen down / up'],
  ['Home End', 'first / last span'],
  ['Enter Space', 'show the span’s details'],
  ['/', 'find in the trace'],
  ['Enter', '(in the find box) next match; Shift+Enter the previous'],
  ['Escape', '(in the find box) clear the find'],
  ['?', 'these shortcuts'],
];
const LIVE_MS = 3000;
const LIVE_MAX_SPANS = 5000;

export function mountTraceView(root: HTMLElement, initial: TraceViewState): View {
  let inner = createTraceView(root, initial);
  return {
    update(next: unknown) {
      const s = next as TraceViewState;
      if (s.traceId !== inner.traceId) {
        inner.destroy();
        inner = createTraceView(root, s);
      } else inner.update(s);
    },
    destroy() {
      inner.destroy();
    },
  };
}

function createTraceView(root: HTMLElement, initial: TraceViewState) {
  const traceId = initial.traceId;
  let opts: TraceViewState = { ...initial };
  let destroyed = false;
  const ctl = new AbortController();

  // Data.
  const spansByTrace = new Map<string, SpanInput[]>();
  const logsByTrace = new Map<string, OtlpLogsData>();
  const related = new Map<string, RelatedAnswer>();
  let plan: StitchPlan | null = null;
  let stitchLoading = false;
  /** Linked traces around this one (the planned group less this one), once known. */
  let groupSize: number | null = null;
  let logsLoading = true;

  // Derived.
  let tree: SpanTree | null = null;
  let logs: LogEntry[] = [];
  let logsByNode = new Map<number, LogEntry[]>();
  /**
   * The user's folds, kept by span key across rebuilds: after "collapse all"
   * (`userAllCollapsed`) the set holds the spans unfolded since, else the
   * spans folded (so collapse-all hashes no key).
   */
  const userCollapsed = new Set<string>();
  let userAllCollapsed = false;
  let userArr: Uint8Array = new Uint8Array(0);
  let lensRes: LensResult | null = null;
  let lensArr: Uint8Array | null = null;
  let lensCache: (string | undefined)[] = [];
  let groupCache: { key: string; tree: SpanTree; values: string[] } | null = null;
  const collapsedLanes = new Set<string>();
  let lanes: Lane[] | null = null;
  let selected = -1;
  let liveTimer: number | undefined;
  let readyMarked = false;
  const ctxKeys = contextKeys();
  /** The worker's load of the main trace; `streaming` while its spans are still arriving. */
  let stream: TraceStream | null = null;
  /** A load under way (a refresh), until it is whole. */
  let pending: TraceStream | null = null;
  let streaming = false;
  // The trace's summary (docs/api.md "Incomplete traces"): while it is
  // receiving or awaiting parents, the page keeps polling; once the grace
  // ran out, placeholders say the parent never arrived.
  let summary: TraceSummary | null = null;
  // Analysis (server-side, docs/api.md "Trace analysis").
  let cpOn = false;
  let cpAnswer: CriticalPathAnswer | null = null;
  let cpFor = '';
  let critical: { onPath: Uint8Array; segs: Map<number, [number, number][]> } | null = null;
  let statsAnswer: StatisticsAnswer | null = null;
  let statsFor = '';
  let statsSort: { col: StatColumn; desc: boolean; table: 'operations' | 'services' } = { col: 'total', desc: true, table: 'operations' };
  let previous: PreviousAnswer | null = null;

  // --- layout -----------------------------------------------------------------
  const backLink = h('a', { class: 'back', attrs: { href: `/${sessionStorage.getItem('loupe.lastSearch') ?? ''}` }, text: '← Traces' });
  const title = h('div', { class: 'th-title' }, h('span', { class: 'muted', text: `Trace ${traceId}` }));
  const meta = h('div', { class: 'th-meta' });
  const relatedBox = h('div', { class: 'th-related' });
  const header = h('section', { class: 'trace-head' }, h('div', { class: 'th-top' }, backLink, title), meta, relatedBox);
  // The regression hint sits under the title (appended to the header once built).

  const findIn = h('input', {
    class: 'input find',
    testid: 'trace-search',
    attrs: { type: 'search', placeholder: 'Find in trace (name, attribute, value)…  /', 'aria-label': 'Find in trace', spellcheck: 'false', autocomplete: 'off' },
  });
  const findCount = h('span', { class: 'find-count muted' });
  const findPrev = h('button', { class: 'btn small icon', attrs: { type: 'button', title: 'Previous match (Shift+Enter)' }, text: '↑' });
  const findNext = h('button', { class: 'btn small icon', attrs: { type: 'button', title: 'Next match (Enter)' }, text: '↓' });
  const collapseAll = h('button', { class: 'btn small', testid: 'collapse-all', attrs: { type: 'button' }, text: 'Collapse all' });
  const expandAll = h('button', { class: 'btn small', testid: 'expand-all', attrs: { type: 'button' }, text: 'Expand all' });
  const groupList = h('datalist', { attrs: { id: `group-keys-${traceId}` } });
  const groupIn = h('input', {
    class: 'input group',
    testid: 'group-by',
    attrs: { type: 'text', list: `group-keys-${traceId}`, placeholder: 'attribute key', 'aria-label': 'Group by attribute', spellcheck: 'false', autocomplete: 'off' },
  });
  const groupClear = h('button', { class: 'btn small icon', attrs: { type: 'button', title: 'Stop grouping' }, text: '✕' });
  const stitchedBtn = h('button', {
    class: 'btn small toggle',
    testid: 'stitched-toggle',
    attrs: { type: 'button', 'aria-pressed': 'false', title: 'Show linked traces under the spans that link them' },
  });
  const refreshBtn = h('button', { class: 'btn small', attrs: { type: 'button', title: 'Fetch the trace again (late spans, re-attached orphans)' }, text: 'Refresh' });
  const liveInfo = h('span', { class: 'muted small' });
  const cpBtn = h('button', {
    class: 'btn small toggle',
    testid: 'critical-path-toggle',
    attrs: { type: 'button', 'aria-pressed': 'false', title: 'Highlight the critical path: the spans that determined when the trace ended' },
    text: 'Critical path',
  });
  const cpInfo = h('span', {
    class: 'muted small',
    testid: 'critical-path-info',
    title: "The path covers the trace from the root's start to the end of the last span: work the root started and did not wait for (a workflow execution started by an API call) is on it.",
  });
  const flameBtn = h('button', {
    class: 'btn small toggle',
    testid: 'flame-toggle',
    attrs: { type: 'button', 'aria-pressed': 'false', title: 'Show the trace as a flame graph (click a span to zoom into it)' },
    text: 'Flame graph',
  });
  const hintBox = h('div', { class: 'th-hint', testid: 'regression-hint', attrs: { hidden: true } });
  const toolbar = h(
    'section',
    { class: 'trace-toolbar' },
    h('div', { class: 'tb-group find-group' }, findIn, findCount, findPrev, findNext),
    h('div', { class: 'tb-group' }, collapseAll, expandAll),
    h('label', { class: 'tb-group' }, h('span', { class: 'muted', text: 'Group by' }), groupIn, groupList, groupClear),
    h('div', { class: 'tb-group' }, stitchedBtn, cpBtn, cpInfo, flameBtn),
    h('span', { class: 'spacer' }),
    h('div', { class: 'tb-group' }, liveInfo, refreshBtn),
  );
  const issues = h('div', { class: 'issues', attrs: { hidden: true, role: 'status' } });
  const banner = h('div', { class: 'notice', attrs: { hidden: true } });

  const waterfall = new Waterfall({
    onToggle: (n, expand) => toggle(n, expand),
    onLaneToggle: (v) => {
      if (collapsedLanes.has(v)) collapsedLanes.delete(v);
      else collapsedLanes.add(v);
      recomputeRows();
    },
    onOpen: (n) => select(n, { scroll: false, focusDetails: false }),
    onCursor: () => {},
    onTraceBadge: (tid) => navigate(traceUrl({ traceId: tid })),
  });

  const tabDetails = h('button', { class: 'tab', testid: 'tab-details', attrs: { type: 'button', role: 'tab' }, text: 'Details' });
  const tabLogs = h('button', { class: 'tab', testid: 'tab-logs', attrs: { type: 'button', role: 'tab' } }, 'Logs ', h('span', { class: 'count-pill', text: '…' }));
  const detailsBox = h('div', { class: 'side-body details-box' }, renderNoSelection());
  const logsPanel = createLogsPanel((n) => {
    reveal(n);
    select(n, { scroll: true, focusDetails: false });
    setTab('details');
  });
  const logsBox = h('div', { class: 'side-body logs-box', attrs: { hidden: true } }, logsPanel.el);
  const tabStats = h('button', { class: 'tab', testid: 'tab-statistics', attrs: { type: 'button', role: 'tab' }, text: 'Statistics' });
  const statsBox = h('div', { class: 'side-body stats-box', testid: 'statistics', attrs: { hidden: true } });
  const tabMap = h('button', { class: 'tab', testid: 'tab-service-map', attrs: { type: 'button', role: 'tab' }, text: 'Services' });
  const mapBox = h('div', { class: 'side-body stats-box', testid: 'service-map', attrs: { hidden: true } });
  const side = h('aside', { class: 'side' }, h('div', { class: 'tabs', attrs: { role: 'tablist' } }, tabDetails, tabLogs, tabStats, tabMap), detailsBox, logsBox, statsBox, mapBox);
  header.append(hintBox);
  const flame = new FlameGraph((n) => select(n, { scroll: false, focusDetails: false }));
  const body = h('div', { class: 'trace-body' }, waterfall.el, flame.el, side);
  const page = h('div', { class: 'page trace-view' }, header, toolbar, issues, banner, body);
  root.appendChild(page);

  tabDetails.addEventListener('click', () => setTab('details'));
  const onGlobalKey = (ev: KeyboardEvent) => {
    if ((ev.key !== '/' && ev.key !== '?') || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev)) return;
    ev.preventDefault();
    if (ev.key === '?') return toggleShortcuts('Trace', TRACE_SHORTCUTS);
    findIn.focus();
    findIn.select();
  };
  document.addEventListener('keydown', onGlobalKey);
  tabLogs.addEventListener('click', () => setTab('logs'));
  tabStats.addEventListener('click', () => setTab('statistics'));
  tabMap.addEventListener('click', () => setTab('services'));
  flameBtn.addEventListener('click', () => {
    const on = flameBtn.getAttribute('aria-pressed') !== 'true';
    flameBtn.setAttribute('aria-pressed', String(on));
    waterfall.el.hidden = on;
    flame.show(on);
  });
  cpBtn.addEventListener('click', () => {
    cpOn = !cpOn;
    cpBtn.setAttribute('aria-pressed', String(cpOn));
    void applyCritical();
  });

  // --- toolbar behaviour --------------------------------------------------------
  let findTimer: number | undefined;
  findIn.value = opts.find;
  findIn.addEventListener('input', () => {
    window.clearTimeout(findTimer);
    findTimer = window.setTimeout(
      () => {
        opts.find = findIn.value;
        syncUrl();
        applyLens(true);
      },
      tree && tree.nodes.length > 20000 ? 250 : 120,
    );
  });
  findIn.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      window.clearTimeout(findTimer);
      if (opts.find !== findIn.value) {
        opts.find = findIn.value;
        syncUrl();
        applyLens(true);
      } else jumpMatch(ev.shiftKey ? -1 : 1);
    } else if (ev.key === 'Escape') {
      findIn.value = '';
      opts.find = '';
      syncUrl();
      applyLens(false);
    } else if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      waterfall.focus();
    }
  });
  findPrev.addEventListener('click', () => jumpMatch(-1));
  findNext.addEventListener('click', () => jumpMatch(1));
  collapseAll.addEventListener('click', () => setAll(true));
  expandAll.addEventListener('click', () => setAll(false));
  groupIn.value = opts.group;
  groupIn.addEventListener('focus', () => renderGroupKeys());
  const applyGroup = () => {
    const v = groupIn.value.trim();
    if (v === opts.group) return;
    navigate(traceUrl({ ...opts, group: v }));
  };
  groupIn.addEventListener('change', applyGroup);
  groupIn.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') applyGroup();
  });
  groupClear.addEventListener('click', () => {
    groupIn.value = '';
    applyGroup();
  });
  stitchedBtn.addEventListener('click', () => navigate(traceUrl({ ...opts, stitched: !opts.stitched })));
  refreshBtn.addEventListener('click', () => void load());

  // --- loading ------------------------------------------------------------------------
  async function load(): Promise<void> {
    window.clearTimeout(liveTimer);
    const first = tree === null;
    const prevGone = parentsGone();
    // The summary (one row) says whether missing parents may still come, which
    // the worker's placeholders say: the worker fetches the spans meanwhile
    // and waits for it only to build the tree.
    const goneP = getTraceSummary(traceId, ctl.signal)
      .then((r) => {
        summary = r.summary;
      })
      .catch(() => {})
      .then(() => parentsGone());
    // The trace's own spans first: the browser opens six connections to
    // Loupe, and the worker's script and answer queued behind the other
    // requests (a linked group's plan asked for every linked trace's links)
    // came half a second later.
    const streamP = streamTrace(first, goneP);
    const relP = getRelated(traceId, ctl.signal)
      .then((r) => {
        related.set(traceId, r);
        if (!destroyed) {
          renderRelated();
          renderSide();
          // The size of the linked group (the stitched view's button) once the spans are in: its plan asks for each linked trace's links.
          if (r.related.length && groupSize === null)
            void streamP
              .catch(() => null)
              .then(() => (destroyed ? null : planGroup()))
              .then((p) => {
                if (destroyed || !p) return;
                groupSize = p.traces.length - 1;
                renderStitchBtn();
              });
        }
      })
      .catch(() => {});
    const logsP = loadLogs(traceId);
    let fresh: TraceStream | null;
    try {
      fresh = await streamP;
      if (destroyed || !fresh?.tree) return;
      if (first) performance.mark('loupe:trace-parsed');
      const t = fresh.tree;
      // Spans, not nodes: a parent that arrives replaces its placeholder (same node count).
      const prevCount = stream === fresh || !stream?.tree ? undefined : receivedSpans(stream.tree);
      if (!first && prevCount === receivedSpans(t) && !opts.stitched && prevGone === parentsGone()) {
        // Live refresh without new spans: nothing to redo.
        fresh.dispose();
        await Promise.all([relP, logsP]);
        if (!destroyed) scheduleLive();
        return;
      }
      if (stream !== fresh) stream?.dispose();
      stream = fresh;
      // The worker's nodes are light: a stitched view fetches the main trace's whole spans again.
      spansByTrace.delete(traceId);
      banner.hidden = true;
    } catch (e) {
      if (destroyed || (e as Error).name === 'AbortError') return;
      streaming = false;
      waterfall.setProgress(null);
      if (e instanceof ApiError && e.status === 404) {
        waterfall.setMessage(`No trace ${traceId} (yet). Loupe keeps looking: it appears here as soon as a span of it arrives.`);
        liveTimer = window.setTimeout(() => void load(), LIVE_MS);
      } else {
        waterfall.setMessage((e as Error).message);
      }
      setText(title, '');
      title.append(h('span', { class: 'muted', text: `Trace ${traceId}` }));
      return;
    }
    if (opts.stitched && plan) await loadStitched();
    else adopt(fresh.tree);
    if (first) {
      focusInitial();
      void loadPrevious();
    }
    if (opts.stitched && !plan) await loadStitched();
    await Promise.all([relP, logsP]);
    if (destroyed) return;
    scheduleLive();
  }

  /**
   * Loads the trace in the worker (traceStream.ts). On the first load the
   * top rows are shown as soon as the first slice is made (`streaming`: the
   * tree still has holes, so find, grouping and the side panels wait);
   * resolves with the stream once its tree is whole.
   */
  function streamTrace(first: boolean, gone: Promise<boolean>): Promise<TraceStream | null> {
    pending?.dispose();
    return new Promise((ok, fail) => {
      const s = new TraceStream(
        traceId,
        ctxKeys,
        {
          onStart: (t) => {
            if (destroyed || !first) return;
            stream = s;
            streaming = true;
            showPartial(t);
          },
          onProgress: (n) => {
            if (destroyed || !streaming || stream !== s) return;
            waterfall.setProgress(`Loading spans… ${formatCount(n)} of ${formatCount(s.tree?.nodes.length ?? 0)}`, n / Math.max(1, s.tree?.nodes.length ?? 1));
            waterfall.refresh();
          },
          onDone: () => {
            if (pending === s) pending = null;
            if (destroyed) return ok(null);
            if (stream === s) {
              streaming = false;
              waterfall.setProgress(null);
            }
            if (first) requestAnimationFrame(() => performance.mark('loupe:trace-complete'));
            ok(s);
          },
          onError: (e) => {
            if (pending === s) pending = null;
            fail(e);
          },
        },
        gone,
      );
      pending = s;
    });
  }

  /** The first rows of a trace still arriving: the pre-order so far, nothing collapsed. */
  function showPartial(t: SpanTree): void {
    tree = t;
    userArr = new Uint8Array(t.nodes.length);
    waterfall.setModel({ tree: t, rows: visibleRows(t, userArr), lanes: null, groupKey: '', laneOf: null, collapsed: userArr, matches: null, logs: new Map(), critical: null, contextKeys: ctxKeys });
    waterfall.setProgress(`Loading spans… ${formatCount(stream?.made ?? 0)} of ${formatCount(t.nodes.length)}`, (stream?.made ?? 0) / Math.max(1, t.nodes.length));
    if (t.order.length) waterfall.setCursor(t.order[0]!);
    waterfall.focus();
    markReady(t);
  }

  function markReady(t: SpanTree): void {
    if (readyMarked || t.nodes.length === 0) return;
    readyMarked = true;
    requestAnimationFrame(() => {
      waterfall.el.dataset.ready = '1';
      performance.mark('loupe:waterfall-ready');
    });
  }

  async function loadLogs(tid: string): Promise<void> {
    try {
      const d = await getTraceLogs(tid, ctl.signal);
      logsByTrace.set(tid, d);
    } catch {
      /* logs are optional */
    }
    if (destroyed) return;
    logsLoading = false;
    applyLogs();
  }

  async function loadStitched(): Promise<void> {
    stitchLoading = true;
    renderStitchBtn();
    try {
      plan = await planGroup();
      if (destroyed) return;
      for (const [t, r] of plan.related) related.set(t, r);
      // The worker's nodes are light (no events, links, other attributes): the stitched tree is built from whole spans.
      const others = plan.traces.filter((t) => !spansByTrace.has(t));
      await pool(others, 4, async (t) => {
        try {
          spansByTrace.set(t, flattenTrace(await getTrace(t, ctl.signal)));
        } catch {
          /* shown as missing */
        }
      });
      await pool(others, 4, (t) => loadLogsQuiet(t));
      if (destroyed) return;
      if (plan.missing.length || plan.truncated) {
        banner.hidden = false;
        banner.textContent = [
          plan.truncated ? `Showing the first ${STITCH_LIMIT} linked traces.` : '',
          plan.missing.length ? `${plan.missing.length} linked trace${plan.missing.length === 1 ? ' has' : 's have'} not been received: ${plan.missing.map(shortId).join(', ')}.` : '',
        ]
          .filter(Boolean)
          .join(' ');
      }
    } finally {
      stitchLoading = false;
    }
    if (!destroyed && opts.stitched) {
      rebuild();
      renderRelated();
    }
  }

  /**
   * The linked traces around this one, planned from the root-most linked
   * ancestor (stitch.ts rootAncestor): opened from a child execution, the
   * stitched view puts the parent on top. Its size is the "N linked" count
   * the toggle and the header both show.
   */
  let groupP: Promise<StitchPlan> | null = null;
  function planGroup(): Promise<StitchPlan> {
    const fetchRel = (t: string) => (related.has(t) && t !== traceId ? Promise.resolve(related.get(t)!) : getRelated(t, ctl.signal));
    groupP ??= rootAncestor(traceId, fetchRel, STITCH_LIMIT).then((root) => planStitch(root, fetchRel, STITCH_LIMIT));
    return groupP;
  }

  async function loadLogsQuiet(tid: string): Promise<void> {
    try {
      logsByTrace.set(tid, await getTraceLogs(tid, ctl.signal));
    } catch {
      /* optional */
    }
  }

  /** The spans the tree holds, placeholders left out. */
  function receivedSpans(t: SpanTree): number {
    let n = 0;
    for (const node of t.nodes) if (!(node.flags & F.PLACEHOLDER)) n++;
    return n;
  }

  /** The grace period ran out with parents still missing. */
  function parentsGone(): boolean {
    return !!summary && summary.incomplete && !summary.awaitingParents;
  }

  function scheduleLive(): void {
    window.clearTimeout(liveTimer);
    if (!tree || destroyed) return;
    const endMs = Number(BigInt(tree.base) / 1_000_000n) + tree.duration / 1e6;
    // Recent spans, or spans still arriving, or parents still expected (a
    // long-running execution whose root is exported when it ends).
    const recent = Date.now() - endMs < 60_000 || !!summary?.receiving || !!summary?.awaitingParents;
    if (recent && tree.nodes.length <= LIVE_MAX_SPANS) {
      liveInfo.textContent = 'live';
      liveTimer = window.setTimeout(() => void load(), LIVE_MS);
    } else liveInfo.textContent = '';
  }

  // --- the tree and rows ----------------------------------------------------------------
  function rebuild(): void {
    if (!opts.stitched && stream?.complete && stream.tree) {
      adopt(stream.tree);
      return;
    }
    const inputs: SpanInput[] = [];
    const order = opts.stitched && plan ? plan.traces : [traceId];
    for (const t of order) {
      const s = spansByTrace.get(t);
      if (s) for (const x of s) inputs.push(x);
    }
    const prevSel = selected >= 0 && tree ? tree.nodes[selected]?.key : undefined;
    const prevCursor = waterfall.getCursor() >= 0 && tree ? tree.nodes[waterfall.getCursor()]?.key : undefined;
    const stitched = opts.stitched && plan;
    adopt(
      buildTree(inputs, { mainTraceId: stitched ? plan!.traces[0]! : traceId, attachments: stitched ? plan!.attachments : [], placeholders: true, parentsGone: parentsGone() }),
      prevSel,
      prevCursor,
    );
    // Opened from a linked child: its root is highlighted and in view, under the parent on top.
    if (stitched && plan!.traces[0] !== traceId && selected < 0 && tree) {
      const t = tree;
      // Pre-order: the first of its spans is its root, hanging under the parent's span.
      const childRoot = Array.prototype.find.call(t.order, (i: number) => t.nodes[i]!.traceId === traceId) as number | undefined;
      if (childRoot !== undefined) {
        reveal(childRoot);
        select(childRoot, { scroll: true, focusDetails: false });
      }
    }
  }

  /** Shows a whole tree: selection and cursor kept by span key, logs, find, analysis, header, rows. */
  function adopt(
    next: SpanTree,
    prevSel = selected >= 0 && tree ? tree.nodes[selected]?.key : undefined,
    prevCursor = waterfall.getCursor() >= 0 && tree && tree !== next ? tree.nodes[waterfall.getCursor()]?.key : undefined,
  ): void {
    streaming = false;
    tree = next;
    if (!readyMarked) performance.mark('loupe:tree-built');
    if (userAllCollapsed) {
      userArr = new Uint8Array(tree.nodes.length);
      for (let x = 0; x < tree.size.length; x++) if (tree.size[x]! > 1) userArr[x] = 1;
      for (const k of userCollapsed) {
        const i = indexOfKey(tree, k);
        if (i !== undefined) userArr[i] = 0;
      }
    } else userArr = collapsedFromKeys(tree, userCollapsed);
    lensCache = [];
    groupCache = null;
    const t = tree;
    selected = prevSel !== undefined ? (indexOfKey(t, prevSel) ?? -1) : -1;
    if (selected < 0 && opts.span) selected = findSpan(opts.span);
    waterfall.setSelected(selected);
    if (prevCursor !== undefined) waterfall.setCursor(indexOfKey(t, prevCursor) ?? -1);
    else if (selected >= 0) waterfall.setCursor(selected);
    applyLogs(false);
    applyLens(false, false);
    if (cpOn) void applyCritical();
    if (!statsBox.hidden) void loadStats();
    renderHeader();
    renderIssues();
    groupKeysFor = null;
    recomputeRows();
    renderSide();
    markReady(t);
  }

  function findSpan(spanId: string): number {
    if (!tree || streaming) return -1;
    const [a, b] = spanId.includes(':') ? spanId.split(':') : [traceId, spanId];
    const i = findIndex(tree, a ?? '', b ?? '');
    if (i !== undefined) return i;
    for (const n of tree.nodes) if (n.spanId === b) return n.index;
    return -1;
  }

  function focusInitial(): void {
    if (!tree) return;
    if (selected >= 0) {
      reveal(selected);
      waterfall.setCursor(selected, { scroll: true });
    } else if (tree.order.length) waterfall.setCursor(tree.order[0]!);
    if (opts.tab === 'logs') setTab('logs');
    waterfall.focus();
  }

  function activeCollapsed(): Uint8Array {
    return lensArr ?? userArr;
  }

  function recomputeRows(): void {
    if (!tree || streaming) return;
    const coll = activeCollapsed();
    let rows = visibleRows(tree, coll);
    lanes = null;
    let laneOf: Int32Array | null = null;
    if (opts.group && (!groupCache || groupCache.key !== opts.group || groupCache.tree !== tree)) {
      if (stream?.tree === tree) {
        // Light nodes: the worker, which has every attribute, computes the lanes.
        const t = tree;
        const key = opts.group;
        void stream.groupValues(key).then((values) => {
          if (destroyed || tree !== t || opts.group !== key) return;
          groupCache = { key, tree: t, values: values ?? groupValues(t, key) };
          recomputeRows();
        });
      } else groupCache = { key: opts.group, tree, values: groupValues(tree, opts.group) };
    }
    if (opts.group && groupCache && groupCache.key === opts.group && groupCache.tree === tree) {
      const r = laneRows(rows, groupCache.values, collapsedLanes);
      rows = r.rows;
      lanes = r.lanes;
      laneOf = new Int32Array(tree.nodes.length);
      let cur = 0;
      for (const x of rows) {
        if (x < 0) cur = -x - 1;
        else laneOf[x] = cur;
      }
      // Lane indices of collapsed lanes' members are not needed (hidden).
    }
    waterfall.setModel({ tree, rows, lanes, groupKey: opts.group, laneOf, collapsed: coll, matches: lensRes ? lensRes.matches : null, logs: logsByNode, critical, contextKeys: ctxKeys });
    flame.setModel(tree, lensRes ? lensRes.matches : null, critical ? critical.onPath : null);
  }

  function toggle(n: number, expand?: boolean): void {
    if (!tree || streaming) return;
    const arr = activeCollapsed();
    const collapse = expand === undefined ? !arr[n] : !expand;
    arr[n] = collapse ? 1 : 0;
    if (!lensArr) {
      const key = tree.nodes[n]!.key;
      if (collapse !== userAllCollapsed) userCollapsed.add(key);
      else userCollapsed.delete(key);
    }
    recomputeRows();
  }

  function setAll(collapse: boolean): void {
    if (!tree || streaming) return;
    const arr = activeCollapsed();
    if (!lensArr) {
      userCollapsed.clear();
      userAllCollapsed = collapse;
    }
    if (!collapse) arr.fill(0);
    else for (let x = 0; x < tree.size.length; x++) arr[x] = tree.size[x]! > 1 ? 1 : 0;
    if (!collapse) collapsedLanes.clear();
    recomputeRows();
    if (waterfall.getCursor() >= 0) waterfall.scrollToNode(waterfall.getCursor());
  }

  /** Opens every collapsed ancestor (and lane) so that the node has a row. */
  function reveal(n: number): void {
    if (!tree || n < 0 || streaming) return;
    const arr = activeCollapsed();
    for (let p = tree.nodes[n]!.parent; p >= 0; p = tree.nodes[p]!.parent) {
      if (arr[p]) {
        arr[p] = 0;
        if (!lensArr) {
          if (userAllCollapsed) userCollapsed.add(tree.nodes[p]!.key);
          else userCollapsed.delete(tree.nodes[p]!.key);
        }
      }
    }
    if (opts.group && groupCache) collapsedLanes.delete(groupCache.values[n] ?? '');
    recomputeRows();
  }

  // --- lens -------------------------------------------------------------------------
  let lensSeq = 0;
  function applyLens(jump: boolean, rows = true): void {
    if (!tree || streaming) return;
    const q = opts.find.trim();
    const seq = ++lensSeq;
    if (q && stream?.complete && stream.tree === tree) {
      // The worker holds the same tree (same indices): it searches, the page stays responsive.
      const t = tree;
      findCount.textContent = 'searching…';
      void stream.lens(q).then((r) => {
        if (destroyed || seq !== lensSeq || tree !== t) return;
        finishLens(r ?? lens(t, q, lensCache), jump, true);
      });
      return;
    }
    finishLens(q ? lens(tree, q, lensCache) : null, jump, rows);
  }

  function finishLens(r: LensResult | null, jump: boolean, rows: boolean): void {
    lensRes = r;
    if (!r) {
      lensArr = null;
      findCount.textContent = '';
      toggleClass(findIn, 'no-match', false);
    } else {
      // No match leaves the tree as the user had it (collapsing it all hid where they were).
      lensRes = r.count > 0 ? r : null;
      lensArr = lensRes ? lensRes.collapsed.slice() : null;
      findCount.textContent = r.count === 0 ? 'no match' : `${formatCount(r.count)} match${r.count === 1 ? '' : 'es'}`;
      toggleClass(findIn, 'no-match', r.count === 0);
    }
    if (rows) recomputeRows();
    if (jump && r && r.count > 0) jumpMatch(1, true);
  }

  function jumpMatch(dir: 1 | -1, fromTop = false): void {
    if (!tree || !lensRes || lensRes.count === 0) return;
    const order = tree.order;
    const cur = waterfall.getCursor();
    let start = -1;
    if (!fromTop && cur >= 0) for (let j = 0; j < order.length; j++) if (order[j] === cur) start = j;
    const n = order.length;
    for (let k = 1; k <= n; k++) {
      const j = fromTop ? (k - 1) % n : (((start + dir * k) % n) + n) % n;
      const x = order[j]!;
      if (lensRes.matches[x]) {
        reveal(x);
        waterfall.setCursor(x, { scroll: true });
        select(x, { scroll: true, focusDetails: false });
        return;
      }
    }
  }

  // --- logs -----------------------------------------------------------------------------
  function applyLogs(rows = true): void {
    if (!tree || streaming) return;
    const merged: OtlpLogsData = { resourceLogs: [] };
    for (const t of tree.traceIds) {
      const d = logsByTrace.get(t);
      if (d?.resourceLogs) merged.resourceLogs!.push(...d.resourceLogs);
    }
    logs = attachLogs(tree, merged);
    logsByNode = new Map();
    for (const e of logs) {
      if (e.node < 0) continue;
      let l = logsByNode.get(e.node);
      if (!l) {
        l = [];
        logsByNode.set(e.node, l);
      }
      l.push(e);
    }
    const pill = tabLogs.querySelector('.count-pill')!;
    pill.textContent = logsLoading ? '…' : formatCount(logs.length);
    toggleClass(
      tabLogs,
      'has-errors',
      logs.some((e) => e.severity >= 17),
    );
    logsPanel.set(tree, logs, logsLoading);
    if (rows) {
      recomputeRows();
      renderSide();
    }
  }

  // --- selection and side panel ---------------------------------------------------------
  function select(n: number, o: { scroll: boolean; focusDetails: boolean }): void {
    if (!tree || n < 0 || !tree.nodes[n]) return;
    selected = n;
    waterfall.setSelected(n);
    waterfall.setCursor(n, { scroll: o.scroll });
    const node = tree.nodes[n]!;
    opts.span = node.traceIdx === 0 ? node.spanId : `${node.traceId}:${node.spanId}`;
    syncUrl();
    if (opts.tab !== 'details') setTab('details');
    else renderSide();
  }

  const detailsCtx = (): DetailsContext => ({
    tree: tree!,
    related,
    logs,
    selectNode: (i) => {
      reveal(i);
      select(i, { scroll: true, focusDetails: false });
    },
    spanHref: (t, s) => traceUrl({ traceId: t, span: s }),
    goToSpan: (t, s) => {
      const i = tree ? findIndex(tree, t, s) : undefined;
      if (i !== undefined) {
        reveal(i);
        select(i, { scroll: true, focusDetails: false });
      } else navigate(traceUrl({ traceId: t, span: s }));
    },
    showLogs: (i) => {
      logsPanel.filterNode(i);
      setTab('logs');
    },
  });

  function renderSide(): void {
    if (opts.tab !== 'details') return;
    const node = tree && selected >= 0 ? tree.nodes[selected] : undefined;
    if (node && stream?.isLite(node)) {
      // A light node: its events, links and every attribute come from the worker first.
      void stream.full(node).then(() => {
        if (!destroyed && tree?.nodes[selected] === node && !stream?.isLite(node)) renderSide();
      });
      return;
    }
    const same = detailsBox.firstElementChild instanceof HTMLElement && tree && selected >= 0 && detailsBox.firstElementChild.dataset.spanId === tree.nodes[selected]?.spanId;
    const scroll = same ? detailsBox.scrollTop : 0;
    clear(detailsBox);
    detailsBox.appendChild(tree && selected >= 0 ? renderDetails(tree.nodes[selected]!, detailsCtx()) : renderNoSelection());
    if (same) detailsBox.scrollTop = scroll;
  }

  function setTab(tab: 'details' | 'logs' | 'statistics' | 'services'): void {
    // The analysis tabs are not kept in the URL (details is the default there).
    if (tab === 'details' || tab === 'logs') opts.tab = tab;
    // The analysis tables need more room than the details: the panel widens for them.
    toggleClass(side, 'wide', tab === 'statistics' || tab === 'services');
    toggleClass(tabMap, 'active', tab === 'services');
    tabMap.setAttribute('aria-selected', String(tab === 'services'));
    mapBox.hidden = tab !== 'services';
    if (tab === 'services') void loadServiceMap();
    toggleClass(tabDetails, 'active', tab === 'details');
    toggleClass(tabLogs, 'active', tab === 'logs');
    toggleClass(tabStats, 'active', tab === 'statistics');
    tabDetails.setAttribute('aria-selected', String(tab === 'details'));
    tabLogs.setAttribute('aria-selected', String(tab === 'logs'));
    tabStats.setAttribute('aria-selected', String(tab === 'statistics'));
    detailsBox.hidden = tab !== 'details';
    logsBox.hidden = tab !== 'logs';
    statsBox.hidden = tab !== 'statistics';
    if (tab === 'details') renderSide();
    if (tab === 'statistics') void loadStats();
    syncUrl();
  }

  // --- analysis: critical path, statistics, previous run ---------------------------------
  async function applyCritical(): Promise<void> {
    if (!cpOn || !tree) {
      critical = null;
      setText(cpInfo, '');
      recomputeRows();
      return;
    }
    const key = `${traceId}:${opts.stitched}`;
    if (!cpAnswer || cpFor !== key) {
      try {
        cpAnswer = await getCriticalPath(traceId, opts.stitched, ctl.signal);
        cpFor = key;
      } catch (e) {
        if ((e as Error).name === 'AbortError') return;
        banner.hidden = false;
        banner.textContent = `Critical path: ${(e as Error).message}`;
        return;
      }
    }
    if (destroyed || !tree || !cpOn) return;
    const t = tree;
    critical = criticalByNode(cpAnswer.criticalPath.segments, t.base, t.nodes.length, (tid, sid) => findIndex(t, tid, sid));
    setText(cpInfo, criticalPathInfo(cpAnswer.criticalPath));
    recomputeRows();
  }

  async function loadStats(): Promise<void> {
    const key = `${traceId}:${opts.stitched}`;
    if (statsAnswer && statsFor === key) return renderStats();
    statsBox.replaceChildren(h('p', { class: 'muted', text: 'Computing…' }));
    try {
      statsAnswer = await getStatistics(traceId, opts.stitched, ctl.signal);
      statsFor = key;
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      statsBox.replaceChildren(h('p', { class: 'notice', text: (e as Error).message }));
      return;
    }
    if (!destroyed) renderStats();
  }

  function renderStats(): void {
    if (!statsAnswer) return;
    const st = statsAnswer.statistics;
    const rows: Stat[] = sortStats(statsSort.table === 'operations' ? st.operations : st.services, statsSort.col, statsSort.desc);
    const cols: [StatColumn, string][] = [
      ['name', statsSort.table === 'operations' ? 'Service · span' : 'Service'],
      ['count', 'Count'],
      ['total', 'Total'],
      ['selfTime', 'Self'],
      ['min', 'Min'],
      ['avg', 'Avg'],
      ['max', 'Max'],
      ['errors', 'Errors'],
    ];
    const th = cols.map(([c, label]) => {
      const b = h('button', { class: 'stats-sort', testid: `stats-sort-${c}`, attrs: { type: 'button' }, text: label + (statsSort.col === c ? (statsSort.desc ? ' ↓' : ' ↑') : '') });
      b.addEventListener('click', () => {
        statsSort = { ...statsSort, col: c, desc: statsSort.col === c ? !statsSort.desc : c !== 'name' };
        renderStats();
      });
      return h('th', { attrs: { 'aria-sort': statsSort.col === c ? (statsSort.desc ? 'descending' : 'ascending') : 'none' } }, b);
    });
    const ns = (v: string) => formatDuration(Number(v));
    const body = rows.map((r) =>
      h(
        'tr',
        { class: r.errors ? 'has-errors' : '', testid: 'stats-row' },
        h('td', { class: 'stats-name' }, serviceChip(r.service), r.name !== undefined ? h('span', { text: ` ${r.name}` }) : null),
        h('td', { class: 'num', text: formatCount(r.count) }),
        h('td', { class: 'num', text: ns(r.total) }),
        h('td', { class: 'num', text: ns(r.selfTime) }),
        h('td', { class: 'num', text: ns(r.min) }),
        h('td', { class: 'num', text: ns(r.avg) }),
        h('td', { class: 'num', text: ns(r.max) }),
        h('td', { class: 'num', text: formatCount(r.errors) }),
      ),
    );
    const switcher = (['operations', 'services'] as const).map((t) => {
      const b = h('button', { class: `btn small toggle`, attrs: { type: 'button', 'aria-pressed': String(statsSort.table === t) }, text: t === 'operations' ? 'By span name' : 'By service' });
      b.addEventListener('click', () => {
        statsSort = { ...statsSort, table: t };
        renderStats();
      });
      return b;
    });
    statsBox.replaceChildren(
      h('div', { class: 'stats-bar' }, ...switcher, h('span', { class: 'muted small', text: `${formatCount(st.spanCount)} spans${statsAnswer.linked ? ' (with linked traces)' : ''}` })),
      h('table', { class: 'stats-table' }, h('thead', null, h('tr', null, ...th)), h('tbody', null, ...body)),
    );
  }

  /** Call edges between the trace's services: a laid-out graph, and the same edges as a table. */
  async function loadServiceMap(): Promise<void> {
    mapBox.replaceChildren(h('p', { class: 'muted', text: 'Computing…' }));
    let ans: Awaited<ReturnType<typeof getServiceMap>>;
    try {
      ans = await getServiceMap(traceId, opts.stitched, ctl.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      mapBox.replaceChildren(h('p', { class: 'notice', text: (e as Error).message }));
      return;
    }
    if (destroyed) return;
    mapBox.replaceChildren(
      h('div', { class: 'stats-bar' }, h('span', { class: 'muted small', text: `${ans.serviceMap.services.length} services, ${ans.serviceMap.edges.length} call edges` })),
      serviceMapView(ans.serviceMap, 'TB'),
    );
  }

  async function loadPrevious(): Promise<void> {
    try {
      previous = await getPrevious(traceId, false, ctl.signal);
    } catch {
      return; /* optional */
    }
    if (destroyed || !previous) return;
    if (previous.runKey) {
      const rh = h('div', { class: 'th-runs', testid: 'run-history', title: 'Runs of the same thing (run key): duration over time' });
      hintBox.append(rh);
      hintBox.hidden = false;
      renderRunHistory(rh, previous.runKey, traceId, ctl.signal).catch(() => {});
    }
    if (!previous.previous) return;
    const p = previous.previous;
    const at = formatTimestamp(p.start);
    const hint = regressionHint(previous.comparison, at);
    const link = h('a', {
      class: 'btn small',
      testid: 'compare-previous',
      attrs: { href: compareUrl({ a: p.traceId, b: traceId, linked: opts.stitched }), title: p.reason },
      text: 'Compare with previous run',
    });
    hintBox.prepend(hint ? h('span', { class: 'hint-text', text: hint }) : h('span', { class: 'muted', text: `Previous run: ${at}` }), link);
    hintBox.hidden = false;
  }

  function syncUrl(): void {
    if (!destroyed) replaceUrl(traceUrl(opts));
  }

  // --- header, issues, related ---------------------------------------------------------------
  function renderHeader(): void {
    if (!tree) return;
    const t = tree;
    const mainRoot = t.roots.find((r) => t.nodes[r]!.traceIdx === 0 && !(t.nodes[r]!.flags & F.PLACEHOLDER));
    const rootNode = mainRoot !== undefined ? t.nodes[mainRoot] : undefined;
    title.replaceChildren(
      rootNode ? serviceChip(rootNode.service) : '',
      h('h1', { class: 'trace-name', text: rootNode?.name || (t.nodes.length ? '(root span not received yet)' : '(no spans)') }),
      h('span', { class: 'trace-id mono', title: 'Trace ID', text: traceId }),
    );
    document.title = `${rootNode?.name ?? 'Trace'} · Loupe`;
    let mainCount = 0;
    let mainErrors = 0;
    let mainEnd = 0;
    let mainStart = Infinity;
    let startNs: string | undefined;
    if (t.traceIds.length === 1 && t.issues.missingParents === 0 && t.nodes.length > 0) {
      // One trace, no placeholder: the tree's own totals (its base is the
      // earliest start), not a pass over every node — at a million nodes that
      // pass was 60–85 ms of the task that shows the complete tree.
      mainCount = t.nodes.length;
      mainErrors = t.errorCount;
      mainStart = 0;
      mainEnd = t.duration;
      startNs = t.base;
    } else {
      // One pass over the main trace's spans (a 100k-span trace: no copies).
      for (const n of t.nodes) {
        if (n.traceIdx !== 0 || n.flags & F.PLACEHOLDER) continue;
        mainCount++;
        if (n.flags & 1) mainErrors++;
        if (n.end > mainEnd) mainEnd = n.end;
        if (n.start < mainStart) {
          mainStart = n.start;
          startNs = n.startNs;
        }
      }
    }
    meta.replaceChildren(
      h('span', { class: 'meta-item' }, h('span', { class: 'k', text: 'Start' }), startNs !== undefined ? timeText(startNs, { withDate: true }) : '—'),
      h('span', { class: 'meta-item' }, h('span', { class: 'k', text: 'Duration' }), formatDuration(mainCount ? mainEnd - mainStart : 0)),
      h('span', { class: 'meta-item' }, h('span', { class: 'k', text: 'Spans' }), formatCount(mainCount)),
      h('span', { class: `meta-item${mainErrors ? ' errors' : ''}` }, h('span', { class: 'k', text: 'Errors' }), formatCount(mainErrors)),
      h('span', { class: 'meta-item svcs' }, ...t.services.map((s) => serviceChip(s))),
      ...(summary?.incomplete
        ? [
            h('span', {
              class: 'meta-item incomplete',
              testid: 'trace-incomplete',
              title: 'Some spans name a parent span that has not arrived (a running execution exports its root when it ends)',
              text: `incomplete${summary.receiving ? ' · receiving' : parentsGone() ? ' · parents never arrived' : ''}`,
            }),
          ]
        : []),
      ...(t.traceIds.length > 1
        ? [
            h(
              'span',
              { class: 'meta-item foreign' },
              h('span', { class: 'k', text: 'Stitched' }),
              `${t.traceIds.length - 1} linked trace${t.traceIds.length === 2 ? '' : 's'} · ${formatCount(t.nodes.length)} spans`,
            ),
          ]
        : []),
    );
  }

  function renderRelated(): void {
    const r = related.get(traceId);
    renderStitchBtn();
    if (!r || r.related.length === 0) {
      relatedBox.replaceChildren();
      return;
    }
    // Real span links and inferred ones (a join rule) are never in one group: inferred chips come last, dashed, grouped by rule.
    const real = r.related.filter((e) => !e.inferred);
    const inc = real.filter((e) => e.direction === 'incoming');
    const out = real.filter((e) => e.direction === 'outgoing');
    const byRule = new Map<string, typeof r.related>();
    for (const e of r.related) {
      if (!e.inferred) continue;
      const list = byRule.get(e.inferred.rule) ?? [];
      list.push(e);
      byRule.set(e.inferred.rule, list);
    }
    const chip = (e: (typeof r.related)[number]) => {
      const what = e.summary ? `${e.summary.rootService ?? ''}: ${e.summary.rootName}` : 'not received';
      return h(
        'a',
        {
          class: `rel-chip ${e.direction}${e.inferred ? ' inferred' : ''}`,
          testid: e.inferred ? 'inferred-trace' : 'related-trace',
          data: { traceId: e.traceId, ...(e.inferred ? { rule: e.inferred.rule } : {}) },
          attrs: { href: traceUrl({ traceId: e.traceId }) },
          title: e.inferred ? `${what}\ninferred by ${e.inferred.rule}: no span link joins the traces` : what,
        },
        `${e.direction === 'incoming' ? '←' : '→'} ${shortId(e.traceId)}`,
        e.summary?.errorCount ? h('span', { class: 'err-hint', text: ' ●' }) : null,
      );
    };
    const inferredGroups = [...byRule].flatMap(([rule, list]) => [
      h('span', { class: 'muted small inferred-label', text: `inferred by ${rule}` }),
      ...list.slice(0, 12).map(chip),
      ...(list.length > 12 ? [h('span', { class: 'muted small', text: `+${list.length - 12}` })] : []),
    ]);
    relatedBox.replaceChildren(
      h('span', { class: 'k', text: 'Linked traces' }),
      ...(out.length ? [h('span', { class: 'muted small', text: 'links to' }), ...out.map(chip)] : []),
      ...(inc.length ? [h('span', { class: 'muted small', text: 'linked from' }), ...inc.slice(0, 12).map(chip)] : []),
      ...(inc.length > 12 ? [h('span', { class: 'muted small', text: `+${inc.length - 12}` })] : []),
      ...inferredGroups,
    );
  }

  function renderStitchBtn(): void {
    const r = related.get(traceId);
    const n = r ? r.related.length : 0;
    stitchedBtn.setAttribute('aria-pressed', String(opts.stitched));
    toggleClass(stitchedBtn, 'on', opts.stitched);
    // Without links there is nothing to stitch (but a stitched URL can still be turned off).
    stitchedBtn.disabled = !!r && n === 0 && !opts.stitched;
    stitchedBtn.title = stitchedBtn.disabled ? 'No other trace is linked to this one' : 'Show linked traces under the spans that link them';
    // The count is the whole linked group's (the header's "N linked traces" when stitched), once planned.
    const g = groupSize;
    stitchedBtn.textContent = `${opts.stitched ? '☑' : '☐'} Stitched view${stitchLoading ? ' (loading…)' : g !== null ? (g ? ` (${g} linked)` : ' (no links)') : r && n === 0 ? ' (no links)' : ''}`;
    stitchedBtn.dataset.linked = g === null ? '' : String(g);
  }

  function renderIssues(): void {
    if (!tree) return;
    const i = tree.issues;
    const parts: string[] = [];
    if (i.orphans) {
      const waiting = !parentsGone();
      const m = i.missingParents;
      parts.push(
        `${i.orphans} span${i.orphans === 1 ? '' : 's'} under ${m} parent${m === 1 ? '' : 's'} ${waiting ? 'not received yet' : 'that never arrived'}${waiting && summary?.receiving ? ' (still receiving)' : ''}`,
      );
    }
    if (i.cycles) parts.push(`${i.cycles} parent cycle${i.cycles === 1 ? '' : 's'} broken`);
    if (i.duplicates) parts.push(`${i.duplicates} spans share a span ID`);
    if (i.endBeforeStart) parts.push(`${i.endBeforeStart} span${i.endBeforeStart === 1 ? ' ends' : 's end'} before ${i.endBeforeStart === 1 ? 'it starts' : 'they start'}`);
    if (i.noStart) parts.push(`${i.noStart} without a start time`);
    issues.hidden = parts.length === 0;
    issues.textContent = parts.length ? `⚠ ${parts.join(' · ')}` : '';
  }

  let groupKeysFor: SpanTree | null = null;
  function renderGroupKeys(): void {
    if (!tree || streaming || groupKeysFor === tree) return;
    groupKeysFor = tree;
    const t = tree;
    const fill = (local: string[]) => {
      if (destroyed || groupKeysFor !== t) return;
      const keys = ['service.name', ...local.filter((k) => k !== 'service.name')];
      groupList.replaceChildren(...keys.map((k) => h('option', { attrs: { value: k } })));
      return keys;
    };
    if (stream?.tree === t) void stream.attributeKeys(150).then((local) => addGlobal(fill(local) ?? []));
    else addGlobal(fill(attributeKeys(t, 150)) ?? []);
  }

  function addGlobal(keys: string[]): void {
    const t = tree;
    // Keys seen elsewhere (GET /api/v1/attributes) come after this trace's own.
    void getAttributeKeys(ctl.signal)
      .then(({ keys: all }) => {
        if (destroyed || groupKeysFor !== t) return;
        const have = new Set(keys);
        groupList.append(
          ...all
            .filter((k) => !have.has(k))
            .slice(0, 300)
            .map((k) => h('option', { attrs: { value: k } })),
        );
      })
      .catch(() => {});
  }

  // --- first paint ----------------------------------------------------------------------
  setTab(opts.tab);
  renderStitchBtn();
  void load();

  return {
    traceId,
    update(next: TraceViewState) {
      const prev = opts;
      opts = { ...next };
      if (findIn.value !== opts.find) findIn.value = opts.find;
      if (groupIn.value !== opts.group) groupIn.value = opts.group;
      if (prev.stitched !== opts.stitched) {
        renderStitchBtn();
        if (opts.stitched && !plan) void loadStitched();
        else {
          banner.hidden = true;
          rebuild();
        }
        return;
      }
      if (prev.group !== opts.group) {
        collapsedLanes.clear();
        recomputeRows();
      }
      if (prev.find !== opts.find) applyLens(true);
      if (prev.tab !== opts.tab) setTab(opts.tab);
      if (prev.span !== opts.span && opts.span) {
        const i = findSpan(opts.span);
        if (i >= 0 && i !== selected) {
          reveal(i);
          select(i, { scroll: true, focusDetails: false });
        }
      }
    },
    destroy() {
      destroyed = true;
      stream?.dispose();
      pending?.dispose();
      document.removeEventListener('keydown', onGlobalKey);
      ctl.abort();
      window.clearTimeout(liveTimer);
      window.clearTimeout(findTimer);
      waterfall.destroy();
      page.remove();
    },
  };
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) {
      const x = items[i++]!;
      await fn(x);
    }
  });
  await Promise.all(workers);
}
