// Browser end-to-end test of the trace-analysis views, run by
// `tests/browser_analysis.rs` against a running Loupe that holds
// `loupe demo --repeat 2` (two runs of the Kestra-shaped workload; in the
// second the failing shell task runs 1.5 s longer):
//
//   node ui/e2e/analysis.mjs <API base URL> <artifacts directory> <trace A> <trace B>
//
// A and B are the two runs' main traces (an API call of 71 ms that starts a
// ~10 s execution). Checks: the trace list's scatter and "pick two to
// compare" → the compare view naming the slowed task over the runs' extents;
// the trace page's regression hint and run history; the critical-path
// toggle covering the execution (not just the 71 ms call); the statistics
// tab's sort and that its table fits the panel; the flame graph drawing
// the tasks and zooming on click; the service map graph and an edge's
// traces, on the trace page and for the search. Exits non-zero with a
// message on failure; a screenshot per step goes to the artifacts directory.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , BASE, ARTIFACTS, A, B] = process.argv;
const log = (s) => process.stdout.write(`${s}\n`);
mkdirSync(ARTIFACTS, { recursive: true });
const SLOWED = 'WORKER - io.kestra.plugin.scripts.shell.Commands';

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  timeout: 30_000,
});
let failed = null;
const errors = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  let n = 0;
  const step = async (name, fn) => {
    n += 1;
    await fn();
    await page.screenshot({ path: join(ARTIFACTS, `analysis-${String(n).padStart(2, '0')}-${name}.png`) });
    log(`ok ${n} ${name}`);
  };
  const expect = (cond, what) => {
    if (!cond) throw new Error(what);
  };
  const until = async (fn, what) => {
    for (let i = 0; i < 100; i++) {
      if (await fn()) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`timed out: ${what}`);
  };

  await step('list-pick-two', async () => {
    await page.goto(`${BASE}/`);
    await page.locator(`[data-testid=trace-row][data-trace-id="${A}"]`).waitFor();
    await page.locator(`[data-testid=trace-row][data-trace-id="${B}"]`).waitFor();
    // The scatter of the search: one point per listed trace.
    await until(async () => (await page.locator('[data-testid=search-scatter] [data-testid=run-point]').count()) >= 2, 'search scatter points');
    const btn = page.locator('[data-testid=compare-picked]');
    expect(await btn.isDisabled(), 'compare is enabled with nothing picked');
    await page.locator(`[data-testid=trace-row][data-trace-id="${B}"] [data-testid=trace-pick]`).check();
    await page.locator(`[data-testid=trace-row][data-trace-id="${A}"] [data-testid=trace-pick]`).check();
    expect(!(await btn.isDisabled()), 'compare stays disabled with two picked');
    expect(page.url().endsWith('/'), 'ticking a box opened the trace');
  });
  await step('compare', async () => {
    await page.locator('[data-testid=compare-picked]').click();
    await page.waitForURL((u) => u.pathname === '/compare');
    const url = new URL(page.url());
    expect(url.searchParams.get('a') === A && url.searchParams.get('b') === B, `A is the earlier run: ${page.url()}`);
    const summary = await page.locator('[data-testid=compare-summary]').innerText();
    // The runs' extents (~9.9 s → ~11.4 s), not the 71 ms API call.
    expect(/9\.9\ds → 11\.4s/.test(summary), `compare summary covers the executions: ${summary}`);
    expect(summary.includes('+1.5'), `compare summary delta: ${summary}`);
    const top = await page.locator('[data-testid=compare-regressions] li').first().innerText();
    expect(top.includes(SLOWED) && top.includes('+1.5'), `largest regression: ${top}`);
    await until(async () => (await page.locator('[data-testid=compare-row].cmp-slower').count()) >= 1, 'a slower row');
  });
  await step('regression-hint', async () => {
    await page.goto(`${BASE}/trace/${B}`);
    const hint = page.locator('[data-testid=regression-hint]');
    await until(async () => (await hint.innerText()).includes(SLOWED), 'regression hint');
    expect((await hint.innerText()).includes('+1.5'), `hint: ${await hint.innerText()}`);
    await until(async () => (await page.locator('[data-testid=run-history] [data-testid=run-point]').count()) >= 2, 'run history of the flow');
    const list = await page.locator('[data-testid=run-history-list]').getAttribute('href');
    expect(list?.includes('kestra.flowId'), `run history lists the flow's runs: ${list}`);
  });
  await step('critical-path', async () => {
    await page.locator('[data-testid=critical-path-toggle]').click();
    const info = page.locator('[data-testid=critical-path-info]');
    await until(async () => (await info.innerText()).includes('root span'), 'critical path info');
    const text = await info.innerText();
    expect(/path 11\.4s/.test(text) && text.includes('71.4ms'), `the path covers the execution: ${text}`);
    // A sequential workflow: every task is on the path, up to the last one.
    const on = await page.locator('[data-testid=span-row].cp-on').count();
    expect(on >= 10, `rows on the path: ${on}`);
    // The failed (slowed) task is the path's last stretch.
    const names = await page.locator('[data-testid=span-row].cp-on').allInnerTexts();
    expect(
      names.some((t) => t.includes('shell.Commands')),
      `shell task on the path: ${names.join(' | ')}`,
    );
  });
  await step('statistics', async () => {
    await page.locator('[data-testid=tab-statistics]').click();
    const rows = page.locator('[data-testid=stats-row]');
    await rows.first().waitFor();
    await page.locator('[data-testid=stats-sort-count]').click();
    const th = page.locator('th:has([data-testid=stats-sort-count])');
    expect((await th.getAttribute('aria-sort')) === 'descending', 'sorted by count, descending');
    const counts = (await page.locator('[data-testid=stats-row] td:nth-child(2)').allInnerTexts()).map((t) => Number(t.replace(/\D/g, '')));
    expect(
      counts.every((c, i) => i === 0 || counts[i - 1] >= c),
      `counts descending: ${counts}`,
    );
    // The table fits the side panel: no column past its right edge.
    const fit = await page.evaluate(() => {
      const box = document.querySelector('[data-testid=statistics]');
      const table = box?.querySelector('table');
      if (!box || !table) return null;
      return { box: box.getBoundingClientRect().right, table: table.getBoundingClientRect().right, sw: box.scrollWidth, cw: box.clientWidth };
    });
    expect(fit && fit.table <= fit.box + 1 && fit.sw <= fit.cw + 1, `statistics table overflows: ${JSON.stringify(fit)}`);
  });
  await step('flame-graph', async () => {
    await page.locator('[data-testid=tab-details]').click();
    await page.locator('[data-testid=critical-path-toggle]').click();
    await page.locator('[data-testid=flame-toggle]').click();
    const boxes = page.locator('[data-testid=flame-box]');
    await until(async () => (await boxes.count()) >= 10, 'flame boxes');
    const all = await boxes.count();
    const info = await page.locator('.fg-bar .muted').innerText();
    expect(!info.includes('too narrow') || /, [1-3] too narrow/.test(info), `flame graph scaled to the execution: ${info}`);
    // Zoom into the Subflow task: its subtree fills the width.
    const sub = boxes.filter({ hasText: 'core.flow.Subflow' }).first();
    await sub.click();
    await until(async () => (await boxes.count()) < all, 'zoomed in');
    const first = await boxes.first().evaluate((el) => [el.style.left, el.style.width, el.textContent]);
    expect(first[0] === '0%' && first[1] === '100%' && first[2].includes('Subflow'), `zoomed box: ${first}`);
    await page.locator('[data-testid=flame-reset]').click();
    await until(async () => (await boxes.count()) === all, 'zoom reset');
  });
  await step('service-map', async () => {
    await page.locator('[data-testid=flame-toggle]').click();
    await page.locator('[data-testid=tab-service-map]').click();
    const edges = page.locator('[data-testid=service-map] [data-testid=service-edge]');
    await until(async () => (await edges.count()) >= 3, 'service map edges');
    expect((await page.locator('[data-testid=service-map] [data-testid=service-node]').count()) >= 4, 'service nodes');
    await page.locator('[data-testid=service-map] [data-testid=service-edge][data-callee=downstream]').click();
    const traces = page.locator('[data-testid=service-map] [data-testid=edge-trace]');
    await traces.first().waitFor();
    expect((await traces.first().getAttribute('href')) === `/trace/${B}`, 'the edge lists this trace');
  });
  await step('topology', async () => {
    await page.goto(`${BASE}/`);
    await page.locator('[data-testid=topology-toggle]').click();
    const edges = page.locator('[data-testid=topology] [data-testid=service-edge]');
    await until(async () => (await edges.count()) >= 3, 'topology edges');
    const label = await page.locator('[data-testid=topology] [data-testid=service-edge][data-callee=downstream] text').textContent();
    expect(label.startsWith('2 calls'), `both runs behind the edge: ${label}`);
    await page.locator('[data-testid=topology] [data-testid=service-edge][data-callee=downstream]').click();
    await until(async () => (await page.locator('[data-testid=topology] [data-testid=edge-trace]').count()) === 2, 'the two runs listed');
  });
  if (errors.length) throw new Error(errors.join('\n'));
} catch (e) {
  failed = e;
} finally {
  await browser.close().catch(() => {});
}
if (failed) {
  log(`FAIL: ${failed.stack ?? failed}`);
  process.exit(1);
}
log('all analysis view checks passed');
