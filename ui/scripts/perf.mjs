// Big-trace performance of the trace view, measured in Chromium.
//
//   LOUPE_API=http://127.0.0.1:46686 LOUPE_OTLP_HTTP=http://127.0.0.1:44318 node scripts/perf.mjs [sizes…]
//
// For each size (default 10000 100000) it sends one synthetic trace to Loupe
// (OTLP/JSON on /v1/traces, ≤ 5000 spans per request), opens /trace/<id> and
// prints:
//   - ready:  navigation start → first waterfall rows rendered (the app's
//             `loupe:waterfall-ready` mark, set in the frame after the first rows)
//   - input:  a key press (ArrowDown) after ready → the next painted frame
//   - interactive: ready + input
//   - fetch:  the trace request's response end (server + transfer)
//   - long tasks (> 50 ms) during load
//   - scroll: the whole list scrolled top to bottom in two ways — "fling"
//             (200 frames, every frame a fresh set of rows) and "wheel"
//             (40 px per frame, 600 frames) — frame-time p50/p95/max, frames over 50 ms,
//             long tasks
//   - collapse all / expand all: click → next frame
// Needs the UI served (see browser.mjs: uiBase).

import { randomBytes } from 'node:crypto';
import { api, launch, uiBase } from './browser.mjs';

const API = (process.env.LOUPE_API ?? 'http://127.0.0.1:16686').replace(/\/+$/, '');
const OTLP = (process.env.LOUPE_OTLP_HTTP ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
if (sizes.length === 0) sizes.push(10_000, 100_000);
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

/** A synthetic trace of n spans: a bushy tree ~10 levels deep, realistic attributes, 1% errors. */
function makeTrace(n, seed) {
  const r = rng(seed);
  const traceId = randomBytes(16).toString('hex');
  const nowNs = BigInt(Date.now()) * 1_000_000n - 60_000_000_000n;
  const spans = [];
  const hexId = (i) => (BigInt(seed) * 1_000_000_000n + BigInt(i + 1)).toString(16).padStart(16, '0').slice(-16);
  // Parent choice: mostly recent spans (deep chains), sometimes early ones (wide).
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  const depth = new Int32Array(n);
  starts[0] = 0;
  ends[0] = n * 1000 + 5_000_000;
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
    spans.push({ service, span });
  }
  return { traceId, spans };
}

async function send(spans) {
  for (let i = 0; i < spans.length; i += CHUNK) {
    const byService = new Map();
    for (const { service, span } of spans.slice(i, i + CHUNK)) {
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
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const f1 = (x) => x.toFixed(1);

const base = await uiBase(API);
const browser = await launch();

for (const n of sizes) {
  const { traceId, spans } = makeTrace(n, n);
  const t0 = Date.now();
  await send(spans);
  const summary = (await api(API, `/api/v1/traces?${new URLSearchParams({ attr: `span.index=0`, limit: '1000' })}`)).traces.find((t) => t.traceId === traceId);
  console.log(`\n== ${n.toLocaleString('en-US')} spans: trace ${traceId} (sent in ${Date.now() - t0} ms; Loupe counts ${summary?.spanCount ?? '?'} spans)`);

  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // Cold-ish load (the server's first read of this trace) and a warm one.
  for (const label of ['first load', 'second load']) {
    await page.goto(`${base}/trace/${traceId}`, { waitUntil: 'commit' });
    await page.waitForSelector('[data-testid="waterfall"][data-ready="1"] [data-testid="span-row"]', { timeout: 120_000 });
    const m = await page.evaluate(async (tid) => {
      const ready = performance.getEntriesByName('loupe:waterfall-ready')[0]?.startTime ?? NaN;
      const res = performance.getEntriesByType('resource').find((e) => e.name.endsWith(`/api/v1/traces/${tid}`));
      const scroller = document.querySelector('.wf-scroll');
      scroller.focus();
      const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
      await raf();
      const before = document.querySelector('.wf-row.cursor')?.dataset.spanId;
      const k0 = performance.now();
      scroller.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
      await raf();
      const k1 = performance.now();
      const after = document.querySelector('.wf-row.cursor')?.dataset.spanId;
      const rows = document.querySelectorAll('[data-testid="span-row"]:not([hidden])').length;
      return {
        ready,
        fetchEnd: res ? res.responseEnd : NaN,
        fetchBytes: res ? res.encodedBodySize || res.transferSize : NaN,
        input: k1 - k0,
        moved: before !== after,
        rows,
        longTasks: window.__longTasks.filter((t) => t.start < ready + 1000).map((t) => Math.round(t.duration)),
      };
    }, traceId);
    console.log(
      `${label}: ready ${f1(m.ready)} ms (trace fetched at ${f1(m.fetchEnd)} ms, ${(m.fetchBytes / 1e6).toFixed(1)} MB) · first key → frame ${f1(m.input)} ms (${m.moved ? 'cursor moved' : 'CURSOR DID NOT MOVE'}) · interactive ≈ ${f1(m.ready + m.input)} ms · ${m.rows} row elements in the DOM · long tasks during load: ${m.longTasks.join(', ') || 'none'} ms`,
    );
  }

  // Scrolling.
  const scroll = await page.evaluate(async () => {
    const scroller = document.querySelector('.wf-scroll');
    const raf = () => new Promise((ok) => requestAnimationFrame((t) => ok(t)));
    async function run(step, maxFrames) {
      scroller.scrollTop = 0;
      await raf();
      await raf();
      const lt0 = window.__longTasks.length;
      const frames = [];
      let last = await raf();
      let i = 0;
      while (scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1 && i < maxFrames) {
        scroller.scrollTop += step;
        const t = await raf();
        frames.push(t - last);
        last = t;
        i++;
      }
      const long = window.__longTasks.slice(lt0).map((t) => Math.round(t.duration));
      return { frames, long, reachedEnd: scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1 };
    }
    const total = scroller.scrollHeight;
    const fling = await run(Math.ceil(total / 200), 400);
    const wheel = await run(40, 600);
    return { total, fling, wheel };
  });
  for (const [name, r] of [
    ['fling (whole list in 200 frames)', scroll.fling],
    ['wheel (40 px/frame, 600 frames)', scroll.wheel],
  ]) {
    const over = r.frames.filter((x) => x > 50).length;
    console.log(
      `scroll ${name}: ${r.frames.length} frames, frame time p50 ${f1(pct(r.frames, 50))} / p95 ${f1(pct(r.frames, 95))} / max ${f1(Math.max(...r.frames))} ms, ${over} frames > 50 ms, long tasks: ${r.long.join(', ') || 'none'}${r.reachedEnd ? '' : ' (stopped before the end)'}`,
    );
  }

  const toggles = await page.evaluate(async () => {
    const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
    const out = {};
    for (const id of ['collapse-all', 'expand-all']) {
      const t0 = performance.now();
      document.querySelector(`[data-testid="${id}"]`).click();
      await raf();
      out[id] = performance.now() - t0;
    }
    return out;
  });
  console.log(`collapse all → frame ${f1(toggles['collapse-all'])} ms · expand all → frame ${f1(toggles['expand-all'])} ms`);
  if (pageErrors.length) console.log(`page errors: ${pageErrors.join('; ')}`);
  await page.close();
}

await browser.close();
