// A CPU profile of the trace page in Chromium, summed by function (self
// time): where the main thread goes while a trace loads or during an action.
//
//   node scripts/profile.mjs <ui base> <trace id> [load|scroll|collapse|group|find]
//
// Build the UI unminified first (`npx vite build --minify false`) so the
// names mean something.
import { launch } from './browser.mjs';
const [base, traceId, action = 'load'] = process.argv.slice(2);
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
if (action === 'load') await cdp.send('Profiler.start');
await page.goto(`${base}/trace/${traceId}`, { waitUntil: 'commit' });
await page.waitForFunction(() => performance.getEntriesByName('loupe:trace-complete').length > 0, null, { timeout: 300000, polling: 100 });
await page.waitForTimeout(800);
if (action !== 'load') {
  await cdp.send('Profiler.start');
  await page.evaluate(async (action) => {
    const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
    if (action === 'scroll') {
      const s = document.querySelector('.wf-scroll');
      for (let i = 0; i < 200; i++) {
        s.scrollTop += 40;
        await raf();
      }
    }
    if (action === 'collapse') {
      document.querySelector('[data-testid="collapse-all"]').click();
      await raf();
      document.querySelector('[data-testid="expand-all"]').click();
      await raf();
    }
    if (action === 'group') {
      const i = document.querySelector('[data-testid="group-by"]');
      i.value = 'kestra.executionId';
      i.dispatchEvent(new Event('change'));
      await raf();
      await raf();
    }
    if (action === 'find') {
      const i = document.querySelector('[data-testid="trace-search"]');
      i.value = 'synthetic failure';
      i.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }, action);
}
const { profile } = await cdp.send('Profiler.stop');
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas;
profile.samples.forEach((id, i) => {
  const n = byId.get(id);
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0));
});
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
for (const [k, v] of top) console.log(`${(v / 1000).toFixed(1).padStart(8)} ms  ${k}`);
await browser.close();
