// Where a big trace's load goes, by thread: a Chromium performance trace
// from navigation until every span is in, summed per thread (top-level
// tasks' wall time), with the renderer main thread's and the trace
// worker's busiest events.
//
//   node scripts/loadtrace.mjs <ui base> <trace id>
import { launch } from './browser.mjs';
const [base, traceId] = process.argv.slice(2);
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
const cdp = await page.context().newCDPSession(page);
const events = [];
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
await cdp.send('Profiler.start');
cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
const done = new Promise((ok) => cdp.once('Tracing.tracingComplete', ok));
await cdp.send('Tracing.start', {
  transferMode: 'ReportEvents',
  traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'toplevel', 'blink.user_timing'] },
});
const t0 = Date.now();
await page.goto(`${base}/trace/${traceId}`, { waitUntil: 'commit' });
await page.waitForFunction(() => performance.getEntriesByName('loupe:trace-complete').length > 0, null, { timeout: 300000, polling: 100 });
const wall = Date.now() - t0;
const { profile } = await cdp.send('Profiler.stop');
await cdp.send('Tracing.end');
await done;
const names = new Map();
for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
const busy = new Map();
const byName = new Map();
for (const e of events) {
  if (e.ph !== 'X' || !e.dur) continue;
  const k = `${e.pid}:${e.tid}`;
  if (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask') busy.set(k, (busy.get(k) ?? 0) + e.dur / 1000);
  const tn = names.get(k) ?? '';
  if (tn === 'CrRendererMain' || tn.startsWith('DedicatedWorker')) {
    const key = `${tn} ${e.name}`;
    byName.set(key, (byName.get(key) ?? 0) + e.dur / 1000);
  }
}
console.log(`wall ${wall} ms`);
for (const [k, v] of [...busy].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${(names.get(k) ?? k).padEnd(30)} ${v.toFixed(0)} ms`);
for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${k.padEnd(50)} ${v.toFixed(0)} ms`);
// The main thread's longest tasks, each with the events inside it that took longest.
const main = [...names].find(([, n]) => n === 'CrRendererMain')?.[0];
const onMain = events.filter((e) => e.ph === 'X' && e.dur && `${e.pid}:${e.tid}` === main);
const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const fn = (n) => `${n.callFrame.functionName || '(anonymous)'}:${n.callFrame.lineNumber}`;
const tasks = onMain.filter((e) => e.name === 'ThreadControllerImpl::RunTask').sort((a, b) => b.dur - a.dur);
for (const t of tasks.slice(0, 6)) {
  const inside = onMain.filter((e) => e !== t && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur && e.name !== 'RunTask').sort((a, b) => b.dur - a.dur);
  const what = inside.slice(0, 6).map((e) => `${e.name}${e.args?.data?.functionName ? `(${e.args.data.functionName})` : ''} ${(e.dur / 1000).toFixed(0)}`);
  // The page's functions sampled inside the task (the profile and the trace share a clock), by self and by inclusive time.
  const self = new Map();
  const incl = new Map();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i];
    if (at < t.ts || at > t.ts + t.dur) return;
    const n = nodeById.get(id);
    self.set(fn(n), (self.get(fn(n)) ?? 0) + 0.25);
    const seen = new Set();
    for (let x = id; x; x = parentOf.get(x)) {
      const f = fn(nodeById.get(x));
      if (!seen.has(f)) incl.set(f, (incl.get(f) ?? 0) + 0.25);
      seen.add(f);
    }
  });
  const top = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  console.log(`    self: ${top(self)}\n    incl: ${top(incl)}`);
  console.log(`task ${(t.dur / 1000).toFixed(0)} ms at ${((t.ts - tasks.reduce((m, x) => Math.min(m, x.ts), Infinity)) / 1000).toFixed(0)} ms: ${what.join(', ')}`);
}
await browser.close();
