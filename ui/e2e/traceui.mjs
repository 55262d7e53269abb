// Browser end-to-end test of the trace UI for Kestra workloads (issue 17),
// run by `tests/browser_analysis.rs` on the same Loupe as analysis.mjs
// (`loupe demo --repeat 2`: two runs, each an API call that starts an
// execution, a failing task, and three ForEachItem child executions in
// traces of their own linked to the parent's ForEachItem span):
//
//   node ui/e2e/traceui.mjs <API base> <OTLP/HTTP base> <artifacts directory> <main trace> <child trace>
//
// Checks: the name column is dragged narrower, remembered, and fitted by a
// double-click; at depth 30 a long Kestra name keeps its end visible
// (`io.kestra.…execution.Fail`); the trace list's context columns and the
// waterfall's chips show the Kestra namespace, flow and execution; log
// marks show on the first open (the logs arrive after the rows); the
// error-message column; linked child traces fold under their parent
// ("+3 linked") and expand; keyboard navigation and `?`; the stitched view
// opened from a child puts the parent on top with the child highlighted and
// in view, and every count says "3 linked"; grouping by kestra.executionId
// puts the API call in its execution's lane; a trace of two columns chunks
// shows its first chunk's rows first (the preview) and then the whole tree in
// the same order. A screenshot per step goes to the artifacts directory.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , BASE, OTLP, ARTIFACTS, MAIN, CHILD] = process.argv;
const log = (s) => process.stdout.write(`${s}\n`);
mkdirSync(ARTIFACTS, { recursive: true });
const FAIL_NAME = 'EXECUTOR - io.kestra.plugin.core.execution.Fail';

/** A 31-span chain (depth 0…30) whose deepest span has a long Kestra name. */
async function sendDeepTrace() {
  const traceId = randomBytes(16).toString('hex');
  const ids = Array.from({ length: 31 }, () => randomBytes(8).toString('hex'));
  const t0 = BigInt(Date.now()) * 1_000_000n - 5_000_000_000n;
  const spans = ids.map((spanId, d) => ({
    traceId,
    spanId,
    parentSpanId: d ? ids[d - 1] : '',
    name: d === 30 ? FAIL_NAME : `EXECUTOR - io.kestra.plugin.core.flow.Subflow ${d}`,
    kind: 1,
    startTimeUnixNano: String(t0 + BigInt(d) * 1_000_000n),
    endTimeUnixNano: String(t0 + 1_000_000_000n - BigInt(d) * 1_000_000n),
    attributes: [
      { key: 'kestra.namespace', value: { stringValue: 'company.deep' } },
      { key: 'kestra.flowId', value: { stringValue: `level_${Math.floor(d / 10)}` } },
    ],
    status: d === 30 ? { code: 2, message: 'Fail task' } : {},
  }));
  const body = {
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] }, scopeSpans: [{ scope: { name: 'io.kestra.core.runners.Executor' }, spans }] }],
  };
  const res = await fetch(`${OTLP}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST /v1/traces: ${res.status} ${await res.text()}`);
  return { traceId, deepSpan: ids[30] };
}

/**
 * A trace of more than one columns chunk (4096 spans): a root, 60 groups and
 * 99 leaves under each, 6001 spans, stored over two requests, so the page
 * shows the first chunk's rows before the rest arrives (the preview). Returns
 * the spans in the tree's order (children by start time).
 */
async function sendTwoChunkTrace() {
  const traceId = randomBytes(16).toString('hex');
  const t0 = BigInt(Date.now()) * 1_000_000n - 10_000_000_000n;
  const span = (spanId, parentSpanId, name, startMs, durMs) => ({
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: 1,
    startTimeUnixNano: String(t0 + BigInt(startMs) * 1_000_000n),
    endTimeUnixNano: String(t0 + BigInt(startMs + durMs) * 1_000_000n),
  });
  const id = () => randomBytes(8).toString('hex');
  const root = id();
  const spans = [span(root, '', 'preview root', 0, 9000)];
  for (let g = 0; g < 60; g++) {
    const gid = id();
    spans.push(span(gid, root, `preview group ${g}`, 1 + g * 100, 99));
    for (let l = 0; l < 99; l++) spans.push(span(id(), gid, `preview leaf ${g}.${l}`, 1 + g * 100 + l, 1));
  }
  const inOrder = spans.map((x) => x.spanId);
  // Stored in an order the page must not keep: the second half first.
  for (const part of [spans.slice(3000), spans.slice(0, 3000)]) {
    const body = {
      resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] }, scopeSpans: [{ scope: { name: 'io.kestra.core.runners.Executor' }, spans: part }] }],
    };
    const res = await fetch(`${OTLP}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`POST /v1/traces: ${res.status} ${await res.text()}`);
  }
  return { traceId, inOrder };
}

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
  const deep = await sendDeepTrace();
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  let n = 0;
  const step = async (name, fn) => {
    n += 1;
    const detail = await fn();
    await page.screenshot({ path: join(ARTIFACTS, `traceui-${String(n).padStart(2, '0')}-${name}.png`) });
    log(`ok ${n} ${name}${detail ? `: ${detail}` : ''}`);
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
  const row = (traceId, spanId) => page.locator(`[data-testid=span-row][data-trace-id="${traceId}"][data-span-id="${spanId}"]`);
  const gutterWidth = () => page.locator('.wf-axis-gutter').evaluate((e) => e.getBoundingClientRect().width);

  await step('name-column-drag', async () => {
    await page.goto(`${BASE}/trace/${deep.traceId}`);
    await row(deep.traceId, deep.deepSpan).waitFor();
    const w0 = await gutterWidth();
    const handle = await page.locator('[data-testid=name-column-resize]').boundingBox();
    const x = handle.x + handle.width / 2;
    const y = handle.y + handle.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x - 60, y, { steps: 4 });
    await page.mouse.move(x - 120, y, { steps: 4 });
    await page.mouse.up();
    await until(async () => Math.abs((await gutterWidth()) - (w0 - 120)) <= 2, `the name column follows the drag (${w0} → ${await gutterWidth()}, wanted ${w0 - 120})`);
    const saved = await page.evaluate(() => localStorage.getItem('loupe.waterfall.nameWidth'));
    expect(Math.abs(Number(saved) - (w0 - 120)) <= 2, `the width is remembered: ${saved}`);
    await page.reload();
    await row(deep.traceId, deep.deepSpan).waitFor();
    await until(async () => Math.abs((await gutterWidth()) - (w0 - 120)) <= 2, `the width survives a reload (${await gutterWidth()})`);
    return `${Math.round(w0)} → ${Math.round(await gutterWidth())} px`;
  });

  await step('middle-ellipsis-at-depth-30', async () => {
    const r = row(deep.traceId, deep.deepSpan);
    expect((await r.getAttribute('aria-level')) === '31', `the deep span is at depth 30: aria-level ${await r.getAttribute('aria-level')}`);
    const m = await r.evaluate((el) => {
      const name = el.querySelector('.wf-name');
      const head = el.querySelector('.wf-name-head');
      const tail = el.querySelector('.wf-name-tail');
      const gutter = el.querySelector('.wf-gutter').getBoundingClientRect();
      const tb = tail.getBoundingClientRect();
      return {
        title: name.title,
        head: head.textContent,
        tail: tail.textContent,
        headCut: head.scrollWidth > head.clientWidth + 1,
        tailWhole: tail.scrollWidth <= tail.clientWidth + 1 && tb.width > 0,
        tailInside: tb.right <= gutter.right + 1 && tb.left >= gutter.left,
        depth: el.querySelector('.wf-indent').dataset.depth,
        depthLabel: getComputedStyle(el.querySelector('.wf-indent'), '::after').content,
      };
    });
    expect(m.tail === 'execution.Fail', `the name's kept end: ${JSON.stringify(m)}`);
    expect(m.headCut, `the head is cut with an ellipsis (the column is narrow): ${JSON.stringify(m)}`);
    expect(m.tailWhole && m.tailInside, `the end "execution.Fail" shows whole inside the name column: ${JSON.stringify(m)}`);
    expect(m.title.startsWith(FAIL_NAME), `the full name on hover: ${m.title}`);
    expect(m.depth === '30' && m.depthLabel.includes('30'), `the depth is shown in the indentation: ${m.depth} ${m.depthLabel}`);
    expect(m.title.includes('depth 30'), `and in the hover text: ${m.title}`);
    await r.click();
    const d = page.locator('[data-testid=span-details] h2');
    await until(async () => (await d.innerText()).includes(FAIL_NAME), 'the full name in the details');
    return `"${m.head}" (cut) + "${m.tail}"`;
  });

  await step('name-column-fit', async () => {
    const before = await gutterWidth();
    await page.locator('[data-testid=name-column-resize]').dblclick();
    await until(async () => (await gutterWidth()) > before + 20, 'a double-click widens the column to fit the names');
    const cut = await row(deep.traceId, deep.deepSpan).evaluate((el) => {
      const head = el.querySelector('.wf-name-head');
      return head.scrollWidth > head.clientWidth + 1;
    });
    expect(!cut, 'after fitting, the deep name is whole');
    return `${Math.round(before)} → ${Math.round(await gutterWidth())} px`;
  });

  await step('list-context-columns-and-linked-fold', async () => {
    await page.goto(`${BASE}/`);
    const main = page.locator(`[data-testid=trace-row][data-trace-id="${MAIN}"]`);
    await main.waitFor();
    const cols = await page.locator('[data-testid=context-column]').evaluateAll((els) => els.map((e) => e.dataset.key));
    for (const k of ['kestra.namespace', 'kestra.flowId', 'kestra.executionId']) expect(cols.includes(k), `a ${k} column: ${cols}`);
    const cell = async (k) => (await main.locator(`[data-testid=context-cell][data-key="${k}"]`).innerText()).trim();
    await until(async () => (await cell('kestra.flowId')) === 'orders_pipeline', `the flow column of the main trace: ${await cell('kestra.flowId')}`);
    expect((await cell('kestra.namespace')) === 'company.team', `namespace: ${await cell('kestra.namespace')}`);
    expect(/^\w{10,}$/.test(await cell('kestra.executionId')), `execution: ${await cell('kestra.executionId')}`);
    const err = (await main.locator('[data-testid=error-message]').innerText()).trim();
    expect(err.length > 0, 'the error-message column names the failure');
    // The child executions fold under the parent.
    const child = page.locator(`[data-testid=trace-row][data-trace-id="${CHILD}"]`);
    expect((await child.count()) === 0, 'a linked child trace is listed on its own before expanding');
    const badge = main.locator('[data-testid=linked-badge]');
    expect((await badge.innerText()).trim() === '+3 linked', `the badge: ${await badge.innerText()}`);
    await badge.click();
    await child.waitFor();
    const kids = await page.locator(`[data-testid=trace-row][data-linked-child="${MAIN}"]`).count();
    expect(kids === 3, `3 children under the parent after expanding, not ${kids}`);
    const order = await page.locator('[data-testid=trace-row]').evaluateAll((els) => els.map((e) => e.dataset.traceId));
    const at = order.indexOf(MAIN);
    expect(order.slice(at + 1, at + 4).includes(CHILD), `the children follow their parent: ${order.join(' ')}`);
    return `columns ${cols.join(', ')}; error "${err}"; +3 linked`;
  });

  await step('list-keyboard', async () => {
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await until(async () => (await page.locator('[data-testid=trace-row].kb-cursor').count()) === 1, 'j puts the cursor on a row');
    const first = await page.locator('[data-testid=trace-row].kb-cursor').getAttribute('data-trace-id');
    await page.keyboard.press('j');
    const second = await page.locator('[data-testid=trace-row].kb-cursor').getAttribute('data-trace-id');
    expect(first !== second, 'j moves the cursor down');
    await page.keyboard.press('k');
    expect((await page.locator('[data-testid=trace-row].kb-cursor').getAttribute('data-trace-id')) === first, 'k moves it back up');
    await page.keyboard.press('?');
    const help = page.locator('[data-testid=shortcuts]');
    await help.waitFor();
    expect((await help.innerText()).includes('open the trace'), 'the shortcuts dialog lists the page’s keys');
    await page.keyboard.press('Escape');
    await until(async () => (await help.count()) === 0, 'Escape closes the shortcuts');
    await page.keyboard.press('/');
    expect(await page.locator('[data-testid=search-q]').evaluate((e) => e === document.activeElement), '/ focuses the search');
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === `/trace/${first}`);
    return 'j, k, ?, /, Enter';
  });

  await step('waterfall-context-chips', async () => {
    await page.goto(`${BASE}/trace/${MAIN}`);
    const chips = page.locator('[data-testid=span-row] [data-testid=context-chip]');
    await chips.first().waitFor();
    const keys = await chips.evaluateAll((els) => els.map((e) => e.dataset.key));
    for (const k of ['kestra.namespace', 'kestra.flowId', 'kestra.executionId', 'http.route']) expect(keys.includes(k), `a ${k} chip: ${keys}`);
    const flows = await page.locator('[data-testid=context-chip][data-key="kestra.flowId"]').allInnerTexts();
    expect(flows.some((t) => t.includes('orders_pipeline')) && flows.some((t) => t.includes('process_orders')), `the flow chips name the flow and the subflow: ${flows}`);
    return `${keys.length} chips`;
  });

  // Regression: the trace's logs arrive after its first rows, and rows
  // already bound did not get their log marks until rebound (a collapse,
  // a scroll).
  await step('log-marks-on-first-open', async () => {
    await page.goto(`${BASE}/trace/${MAIN}`);
    await page.locator('[data-testid=span-row]').first().waitFor();
    await until(async () => (await page.locator('[data-testid=span-row] .wf-mark').count()) > 0, 'the rows of spans with logs show their log marks on the first open');
    return `${await page.locator('[data-testid=span-row] .wf-mark').count()} marks`;
  });

  await step('api-call-in-its-execution-lane', async () => {
    const exec = (await page.locator('[data-testid=context-chip][data-key="kestra.executionId"]').first().getAttribute('title')).split(' = ')[1];
    await page.goto(`${BASE}/trace/${MAIN}?group=kestra.executionId`);
    const lanes = page.locator('[data-testid=lane]');
    await lanes.first().waitFor();
    const values = await lanes.evaluateAll((els) => els.map((e) => e.dataset.value));
    expect(!values.includes(''), `no "(none)" lane: ${JSON.stringify(values)}`);
    // The root (the upstream API call) sits in the first lane, its execution's.
    const rows = await page.locator('[data-testid=lane], [data-testid=span-row]').evaluateAll((els) =>
      els
        .filter((e) => !e.hidden)
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
        .map((e) => (e.dataset.testid === 'lane' ? `lane:${e.dataset.value}` : e.querySelector('.wf-name').textContent)),
    );
    let lane = '';
    let apiLane = null;
    for (const r of rows) {
      if (r.startsWith('lane:')) lane = r.slice(5);
      else if (r.startsWith('POST /api/v1/executions/company.team')) apiLane ??= lane;
    }
    expect(apiLane === exec, `the API call is in lane ${JSON.stringify(apiLane)}, its execution is ${exec}: ${rows.join(' | ')}`);
    const laneChips = await page.locator('[data-testid=lane] [data-testid=context-chip]').evaluateAll((els) => els.map((e) => e.dataset.key));
    expect(laneChips.includes('kestra.flowId'), `lane headers carry chips: ${laneChips}`);
    return `lanes ${values.join(', ')}`;
  });

  await step('stitched-from-child', async () => {
    await page.goto(`${BASE}/trace/${CHILD}?stitched=1`);
    const btn = page.locator('[data-testid=stitched-toggle]');
    await until(async () => (await btn.innerText()).includes('3 linked'), `the toggle says 3 linked: ${await btn.innerText()}`);
    await page.locator(`[data-testid=span-row][data-trace-id="${MAIN}"]`).first().waitFor();
    const top = await page.locator('[data-testid=span-row]').evaluateAll((els) =>
      els
        .filter((e) => !e.hidden)
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
        .map((e) => ({ trace: e.dataset.traceId, level: e.getAttribute('aria-level'), selected: e.classList.contains('selected') })),
    );
    expect(top[0].trace === MAIN && top[0].level === '1', `the parent's root is on top: ${JSON.stringify(top.slice(0, 3))}`);
    const sel = page.locator('[data-testid=span-row].selected');
    await until(async () => (await sel.count()) === 1 && (await sel.getAttribute('data-trace-id')) === CHILD, 'the child is highlighted');
    const level = Number(await sel.getAttribute('aria-level'));
    expect(level > 1, `the child hangs under the parent (aria-level ${level})`);
    const box = await sel.boundingBox();
    const view = await page.locator('.wf-scroll').boundingBox();
    expect(box.y >= view.y && box.y + box.height <= view.y + view.height, 'the child is scrolled into view');
    const meta = await page.locator('.trace-head').innerText();
    expect(/3 linked traces/.test(meta), `the header counts 3 linked traces: ${meta}`);
    return `parent on top, child at level ${level}`;
  });

  await step('two-chunk-trace-preview', async () => {
    const big = await sendTwoChunkTrace();
    await page.goto(`${BASE}/trace/${big.traceId}`);
    await until(async () => /6,001 rows/.test(await page.locator('.wf-axis-label, .wf-axis').first().innerText()), 'the whole tree: 6,001 rows');
    const mark = await page.evaluate(() => performance.getEntriesByName('loupe:trace-preview').map((e) => e.detail));
    expect(mark.length === 1 && mark[0].nodes === 4096 && mark[0].of === 6001, `the first chunk's rows were shown before the rest arrived: ${JSON.stringify(mark)}`);
    // The same order as the whole tree: the cursor walks the pre-order.
    const cursorId = () => page.locator('[data-testid=span-row].cursor').getAttribute('data-span-id');
    await until(async () => (await cursorId()) === big.inOrder[0], 'the cursor starts on the root');
    for (let k = 1; k <= 3; k++) {
      await page.keyboard.press('ArrowDown');
      await until(async () => (await cursorId()) === big.inOrder[k], `ArrowDown ${k} reaches span ${k} of the tree's order`);
    }
    // A span of the second chunk is found and shown.
    await page.locator('input[aria-label="Find in trace"]').fill('preview leaf 59.98');
    await page.keyboard.press('Enter');
    await row(big.traceId, big.inOrder[6000]).waitFor();
    expect(errors.length === 0, errors.join('\n'));
    return `preview of ${mark[0].nodes} of ${mark[0].of}, then the whole tree in the same order`;
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
log('all trace UI checks passed');
