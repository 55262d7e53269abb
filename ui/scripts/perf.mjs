// Big-trace performance of the trace view, measured in Chromium.
//
//   LOUPE_API=http://127.0.0.1:46686 LOUPE_OTLP_HTTP=http://127.0.0.1:44318 [LOUPE_PID=…] node scripts/perf.mjs [sizes…] [--runs N]
//
// For each size (default 10000 100000 1000000) it sends one synthetic trace
// to Loupe (OTLP/JSON on /v1/traces, ≤ 5000 spans per request), then opens
// /trace/<id> N times (default 5; 3 at a million spans) in a fresh page and
// prints p50 / p95 over the runs of:
//   - interactive: navigation start → the first rows painted (the app's
//                  `loupe:waterfall-ready` mark, set in the frame after them)
//                  plus a key press (ArrowDown) → the next frame, with the
//                  cursor moved;
//   - the answer's last byte: navigation start → the last byte of
//                  GET /traces/{id}/columns in the worker, which decodes the
//                  chunks as they arrive (so this includes their decoding);
//                  then the tree build and the hand-over to the page;
//   - complete:    navigation start → every span received (`loupe:trace-complete`);
//   - longest main-thread task (PerformanceObserver "longtask", ≥ 50 ms)
//                  from navigation until one second after complete;
//   - main-thread ms per scrolled frame: Chromium's own main-thread task
//                  time (DevTools protocol `Performance.getMetrics`,
//                  TaskDuration) over 300 frames of 40 px wheel-like
//                  scrolling, divided by the frames;
//   - collapse all, find ("synthetic failure", Enter) and group by
//                  (kestra.executionId): the action → the next frame with
//                  its result shown.
// Before the runs it waits for Loupe to settle after the send (nothing in
// flight, and with LOUPE_PID set, its process under 5 % of a core for a
// second). Needs the UI served (see browser.mjs: uiBase). The machine's load is
// printed with the figures: other work on it makes every figure worse.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { api, launch, uiBase } from './browser.mjs';

const API = (process.env.LOUPE_API ?? 'http://127.0.0.1:16686').replace(/\/+$/, '');
const OTLP = (process.env.LOUPE_OTLP_HTTP ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 0;
const sizes = argv
  .filter((_, i) => i !== runsAt && i !== runsAt + 1)
  .map(Number)
  .filter((n) => n > 0);
if (sizes.length === 0) sizes.push(10_000, 100_000, 1_000_000);
const CHUNK = 5000;

// Deterministic PRNG (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['kestra', 'kestra-webserver', 'worker-a', 'worker-b', 'postgres', 'downstream', 'cache', 'auth'];
const OPS = [
  'EXECUTOR - io.kestra.plugin.core.flow.Sequential',
  'WORKER - io.kestra.plugin.scripts.shell.Commands',
  'SELECT orders',
  'GET /items',
  'POST /api/v1/executions',
  'cache.get',
  'WORKER - io.kestra.plugin.core.log.Log',
  'publish queue',
];

/**
 * A synthetic trace of n spans, made and sent CHUNK spans at a time (a
 * million spans never sit in memory at once): a bushy tree ≤ 15 levels
 * deep, realistic attributes, 1% errors.
 */
async function sendTrace(n, seed) {
  const r = rng(seed);
  const traceId = randomBytes(16).toString('hex');
  const nowNs = BigInt(Date.now()) * 1_000_000n - 60_000_000_000n;
  const hexId = (i) => (BigInt(seed) * 1_000_000_000n + BigInt(i + 1)).toString(16).padStart(16, '0').slice(-16);
  // Parent choice: mostly recent spans (deep chains), sometimes early ones (wide).
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  const depth = new Int32Array(n);
  starts[0] = 0;
  ends[0] = n * 1000 + 5_000_000;
  let batch = [];
  for (let i = 0; i < n; i++) {
    let parent = -1;
    if (i > 0) {
      do {
        parent = r() < 0.7 ? Math.max(0, i - 1 - Math.floor(r() * 20)) : Math.floor(r() * i);
      } while (depth[parent] >= 14);
      depth[i] = depth[parent] + 1;
      const ps = starts[parent];
      const pd = ends[parent] - ps;
      starts[i] = ps + r() * pd * 0.5;
      ends[i] = starts[i] + Math.max(1000, r() * (ends[parent] - starts[i]));
    }
    const service = SERVICES[Math.floor(r() * SERVICES.length)];
    const err = r() < 0.01;
    const span = {
      traceId,
      spanId: hexId(i),
      parentSpanId: parent >= 0 ? hexId(parent) : '',
      name: `${OPS[Math.floor(r() * OPS.length)]}`,
      kind: 1 + Math.floor(r() * 3),
      startTimeUnixNano: (nowNs + BigInt(Math.round(starts[i]))).toString(),
      endTimeUnixNano: (nowNs + BigInt(Math.round(ends[i]))).toString(),
      attributes: [
        { key: 'kestra.namespace', value: { stringValue: 'company.team' } },
        { key: 'kestra.executionId', value: { stringValue: `exec-${Math.floor(i / 500)}` } },
        { key: 'kestra.taskId', value: { stringValue: `task-${i % 97}` } },
        { key: 'span.index', value: { intValue: String(i) } },
      ],
      events: i % 50 === 0 ? [{ name: 'checkpoint', timeUnixNano: (nowNs + BigInt(Math.round(starts[i]))).toString(), attributes: [] }] : [],
      status: err ? { code: 2, message: 'synthetic failure' } : {},
    };
    batch.push({ service, span });
    if (batch.length === CHUNK || i === n - 1) {
      await send(batch);
      batch = [];
    }
  }
  return traceId;
}

async function send(spans) {
  {
    const byService = new Map();
    for (const { service, span } of spans) {
      if (!byService.has(service)) byService.set(service, []);
      byService.get(service).push(span);
    }
    const body = {
      resourceSpans: [...byService].map(([service, list]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'loupe.perf', version: '1' }, spans: list }],
      })),
    };
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${OTLP}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (res.ok) break;
      if (res.status === 503 && attempt < 20) {
        await new Promise((ok) => setTimeout(ok, 1000));
        continue;
      }
      throw new Error(`POST /v1/traces: ${res.status} ${await res.text()}`);
    }
  }
}

const pct = (xs, p) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');

const base = await uiBase(API);
const browser = await launch();
console.log(
  `Chromium ${browser.version()} · UI ${base} · load average before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

/**
 * Waits until Loupe has nothing in flight and its process has used under
 * 5 % of a core for a second (or 30 s have passed); returns the wait. The
 * trace was just sent: without this the first run shared the machine with
 * the writer's last commits and checkpoints, and the figures are for an
 * idle machine. Reads the CPU from /proc when LOUPE_PID is set, else waits
 * for the in-flight gauge only.
 */
async function settle() {
  const t0 = Date.now();
  const pid = process.env.LOUPE_PID;
  const cpu = () => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(f[11]) + Number(f[12]);
    } catch {
      return NaN;
    }
  };
  while (Date.now() - t0 < 30_000) {
    const metrics = await (await fetch(`${API}/metrics`)).text();
    const inFlight = Number(/^loupe_ingest_in_flight_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
    const queued = Number(/^loupe_store_queue_batches (\d+)/m.exec(metrics)?.[1] ?? 0);
    const c0 = pid ? cpu() : 0;
    await new Promise((ok) => setTimeout(ok, 1000));
    const busy = pid ? (cpu() - c0) / 100 : 0;
    if (inFlight === 0 && queued === 0 && !(busy > 0.05)) break;
  }
  return Date.now() - t0;
}

for (const n of sizes) {
  const runs = RUNS > 0 ? RUNS : n >= 1_000_000 ? 3 : 5;
  const t0 = Date.now();
  const traceId = await sendTrace(n, n);
  let summary;
  for (let i = 0; i < 60 && !summary; i++) {
    summary = (await api(API, `/api/v1/traces?${new URLSearchParams({ attr: 'span.index=0', limit: '1000' })}`)).traces.find((t) => t.traceId === traceId);
    if (!summary) await new Promise((ok) => setTimeout(ok, 500));
  }
  const settled = await settle();
  console.log(`\n== ${n.toLocaleString('en-US')} spans: trace ${traceId} (sent in ${Date.now() - t0} ms; Loupe counts ${summary?.spanCount ?? '?'} spans; settled in ${settled} ms) · ${runs} runs`);
  const m = {
    interactive: [],
    ready: [],
    key: [],
    complete: [],
    longest: [],
    frameMs: [],
    frameWall: [],
    collapse: [],
    expand: [],
    find: [],
    group: [],
    fetchMb: [],
    answered: [],
    afterAnswer: [],
    parse: [],
  };
  const notes = new Set();
  for (let run = 0; run < runs; run++) {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/trace/${traceId}`, { waitUntil: 'commit' });
    await page.waitForSelector('[data-testid="waterfall"][data-ready="1"] [data-testid="span-row"]', { timeout: 180_000 });
    const first = await page.evaluate(async () => {
      const ready = performance.getEntriesByName('loupe:waterfall-ready')[0]?.startTime ?? NaN;
      const scroller = document.querySelector('.wf-scroll');
      scroller.focus();
      const before = document.querySelector('.wf-row.cursor')?.dataset.spanId;
      const k0 = performance.now();
      scroller.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
      await new Promise((ok) => requestAnimationFrame(() => ok()));
      const k1 = performance.now();
      const after = document.querySelector('.wf-row.cursor')?.dataset.spanId;
      return { ready, key: k1 - k0, moved: before !== after && !!after };
    });
    if (!first.moved) notes.add('the first key press did not move the cursor');
    await page.waitForFunction(() => performance.getEntriesByName('loupe:trace-complete').length > 0, null, { timeout: 300_000, polling: 100 });
    await page.waitForTimeout(1000);
    const load = await page.evaluate(() => {
      const complete = performance.getEntriesByName('loupe:trace-complete')[0].startTime;
      const answered = performance.getEntriesByName('loupe:trace-answered')[0]?.startTime ?? NaN;
      const parsed = performance.getEntriesByName('loupe:trace-parsed-worker')[0]?.startTime ?? NaN;
      const received = performance.getEntriesByName('loupe:trace-received')[0];
      const long = window.__longTasks.filter((t) => t.start < complete + 1000).map((t) => t.duration);
      return { complete, answered, parsed, received: received?.startTime ?? NaN, longest: long.length ? Math.max(...long) : 0, bytes: received?.detail?.bytes ?? NaN };
    });
    m.ready.push(first.ready);
    m.key.push(first.key);
    m.interactive.push(first.ready + first.key);
    m.complete.push(load.complete);
    m.longest.push(load.longest);
    m.fetchMb.push(load.bytes / 1e6);
    m.answered.push(load.answered);
    m.afterAnswer.push(first.ready - load.answered);
    m.parse.push(load.received - load.answered);

    // Scrolling: main-thread task time per frame (Chromium's TaskDuration).
    const metric = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return metrics.find((x) => x.name === 'TaskDuration').value * 1000;
    };
    await page.evaluate(() => {
      document.querySelector('.wf-scroll').scrollTop = 0;
    });
    const before = await metric();
    const scroll = await page.evaluate(async () => {
      const scroller = document.querySelector('.wf-scroll');
      const raf = () => new Promise((ok) => requestAnimationFrame((t) => ok(t)));
      await raf();
      const s0 = performance.now();
      let frames = 0;
      for (; frames < 300 && scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1; frames++) {
        scroller.scrollTop += 40;
        await raf();
      }
      return { frames, wall: performance.now() - s0 };
    });
    const after = await metric();
    m.frameMs.push((after - before) / Math.max(1, scroll.frames));
    m.frameWall.push(scroll.wall / Math.max(1, scroll.frames));

    // Collapse all, expand all.
    const toggles = await page.evaluate(async () => {
      const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
      const out = {};
      for (const id of ['collapse-all', 'expand-all']) {
        await raf();
        const t0 = performance.now();
        document.querySelector(`[data-testid="${id}"]`).click();
        await raf();
        out[id] = performance.now() - t0;
      }
      return out;
    });
    m.collapse.push(toggles['collapse-all']);
    m.expand.push(toggles['expand-all']);

    // Find: Enter in the find box → the count shown and the next frame.
    const find = await page.evaluate(async () => {
      const input = document.querySelector('[data-testid="trace-search"]');
      const count = document.querySelector('.find-count');
      const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
      await raf();
      input.value = 'synthetic failure';
      const t0 = performance.now();
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      while (!/match/.test(count.textContent ?? '')) await new Promise((ok) => setTimeout(ok, 1));
      await raf();
      return { ms: performance.now() - t0, text: count.textContent };
    });
    if (!/\d/.test(find.text)) notes.add(`find: ${find.text}`);
    m.find.push(find.ms);
    await page.evaluate(async () => {
      const input = document.querySelector('[data-testid="trace-search"]');
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
      await new Promise((ok) => requestAnimationFrame(() => ok()));
    });

    // Group by: change → lanes shown and the next frame.
    const group = await page.evaluate(async () => {
      const input = document.querySelector('[data-testid="group-by"]');
      const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
      await raf();
      input.value = 'kestra.executionId';
      const t0 = performance.now();
      input.dispatchEvent(new Event('change', { bubbles: true }));
      while (!document.querySelector('[data-testid="lane"]')) await new Promise((ok) => setTimeout(ok, 1));
      await raf();
      return performance.now() - t0;
    });
    m.group.push(group);
    if (pageErrors.length) notes.add(`page errors: ${pageErrors.join('; ')}`);
    await page.close();
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  const row = (label, xs, unit = 'ms') => console.log(`${label.padEnd(44)} p50 ${f1(pct(xs, 50)).padStart(8)} · p95 ${f1(pct(xs, 95)).padStart(8)} ${unit}`);
  row('interactive (first rows + key → frame)', m.interactive);
  row('  first rows painted', m.ready);
  row('  key → frame', m.key);
  row('  answer’s last byte (server+network+decode)', m.answered);
  row('  answer → first rows (the UI’s share)', m.afterAnswer);
  row('    of which tree build + hand-over (worker)', m.parse);
  row('complete (every span received)', m.complete);
  row('longest main-thread task during load', m.longest);
  row('main-thread ms per scrolled frame', m.frameMs);
  row('  wall time per scrolled frame', m.frameWall);
  row('collapse all → frame', m.collapse);
  row('expand all → frame', m.expand);
  row('find → result shown', m.find);
  row('group by → lanes shown', m.group);
  row('trace answer size', m.fetchMb, 'MB');
  for (const n of notes) console.log(`note: ${n}`);
}
console.log(
  `\nload average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
await browser.close();
