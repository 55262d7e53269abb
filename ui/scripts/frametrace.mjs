// Where a scrolled frame's main-thread time goes on the trace page: a
// Chromium performance trace (the DevTools timeline categories) of N frames
// of 40 px scrolling, summed by event name on the renderer's main thread and
// divided by the frames (script, style, layout, pre-paint, paint, layerize,
// commit…), beside Chromium's own TaskDuration per frame (what perf.mjs
// reports).
//
//   node scripts/frametrace.mjs <ui base> <trace id> [--frames 200] [--runs 3] [--css 'extra CSS'] [--dark] [--save file-prefix]
//
// `--css` adds a style sheet to the page before scrolling: a quick way to
// see what a CSS change does to the frame before changing the code. The
// machine's load is printed with the figures.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { launch } from './browser.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const [base, traceId] = argv;
const FRAMES = Number(opt('--frames', 200));
const RUNS = Number(opt('--runs', 3));
const css = opt('--css', '');
const dark = argv.includes('--dark');
if (!base || !traceId) {
  console.error('usage: node scripts/frametrace.mjs <ui base> <trace id> [--frames N] [--runs N] [--css CSS] [--dark]');
  process.exit(2);
}

const SHOWN = ['RunTask', 'FunctionCall', 'FireAnimationFrame', 'EventDispatch', 'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize', 'Commit', 'UpdateLayer', 'HitTest', 'ScrollLayer'];
const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const browser = await launch();
console.log(`Chromium ${browser.version()} · load average before: ${la()}`);
const sums = [];
for (let run = 0; run < RUNS; run++) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: dark ? 'dark' : 'light' });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${base}/trace/${traceId}`, { waitUntil: 'commit' });
  await page.waitForFunction(() => performance.getEntriesByName('loupe:trace-complete').length > 0, null, { timeout: 300000, polling: 100 });
  await page.waitForTimeout(1000);
  if (css) await page.addStyleTag({ content: css });
  await page.evaluate(() => {
    document.querySelector('.wf-scroll').scrollTop = 0;
  });
  await page.waitForTimeout(300);
  const metric = async () => (await cdp.send('Performance.getMetrics')).metrics.find((x) => x.name === 'TaskDuration').value * 1000;
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel'] });
  const t0 = await metric();
  const frames = await page.evaluate(async (n) => {
    const scroller = document.querySelector('.wf-scroll');
    const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
    await raf();
    let f = 0;
    for (; f < n && scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1; f++) {
      scroller.scrollTop += 40;
      await raf();
    }
    return f;
  }, FRAMES);
  const t1 = await metric();
  const buf = await browser.stopTracing();
  if (opt('--save', '')) writeFileSync(`${opt('--save', '')}.${run + 1}.json`, buf);
  const { traceEvents } = JSON.parse(buf.toString());
  // The page's renderer: the one that ran its animation frames (Chromium's
  // own pages, such as the omnibox's, have renderers of their own).
  const pagePid = traceEvents.find((e) => e.name === 'FireAnimationFrame')?.pid;
  const main = new Set(traceEvents.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && e.pid === pagePid).map((e) => `${e.pid}:${e.tid}`));
  const sum = new Map();
  for (const e of traceEvents) {
    if (e.ph !== 'X' || !main.has(`${e.pid}:${e.tid}`)) continue;
    sum.set(e.name, (sum.get(e.name) ?? 0) + (e.dur ?? 0) / 1000);
  }
  // The frames' own tasks (the one that paints and commits, BeginMainFrame):
  // how the work is spread over frames, not only its mean.
  const frameTasks = traceEvents
    .filter((e) => e.ph === 'X' && e.name === 'RunTask' && main.has(`${e.pid}:${e.tid}`))
    .map((e) => e.dur / 1000)
    .sort((a, b) => a - b);
  const q = (p) => frameTasks[Math.min(frameTasks.length - 1, Math.floor(p * frameTasks.length))] ?? NaN;
  console.log(`  run ${run + 1}: ${frameTasks.length} main-thread tasks; task ms p50 ${q(0.5).toFixed(2)} · p90 ${q(0.9).toFixed(2)} · p99 ${q(0.99).toFixed(2)} · max ${q(1).toFixed(2)}`);
  const per = Object.fromEntries(SHOWN.map((k) => [k, (sum.get(k) ?? 0) / frames]));
  per.TaskDuration = (t1 - t0) / frames;
  // Thread (CPU) time: what the page costs, without the time the main
  // thread waited for a core on a loaded machine.
  per['RunTask CPU'] = traceEvents.filter((e) => e.ph === 'X' && e.name === 'RunTask' && main.has(`${e.pid}:${e.tid}`)).reduce((a, e) => a + (e.tdur ?? 0) / 1000, 0) / frames;
  sums.push(per);
  await page.close();
}
const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${FRAMES} frames × ${RUNS} runs, ms per frame (median · min–max over runs)${css ? ` with CSS: ${css}` : ''}`);
for (const k of ['TaskDuration', 'RunTask CPU', ...SHOWN]) {
  const xs = sums.map((s) => s[k]);
  console.log(
    `  ${k.padEnd(20)} ${med([...xs])
      .toFixed(2)
      .padStart(6)} · ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`,
  );
}
console.log(`load average after: ${la()}`);
await browser.close();
