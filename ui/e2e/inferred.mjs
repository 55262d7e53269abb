// Browser end-to-end of inferred links, run by `tests/browser_inferred.rs`:
//
//   node ui/e2e/inferred.mjs <API base URL> <OTLP/HTTP base URL> <artifacts directory>
//
// Sends two traces of one Kestra execution that share `kestra.executionId`
// and no span link (the executor's and the worker's, as when context is lost
// at a queue), then checks in headless Chromium that each trace's header
// shows the other as a dashed chip labelled "inferred by kestra.executionId"
// (never among the span-link chips), that the stitched view hangs the other
// trace under the span carrying the value with a dashed, labelled badge, both
// ways, and that turning the rule off on the settings page removes it; and
// that the page asks for the trace's own spans before the linked group.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 15_000;
const [, , API_ARG, OTLP_ARG, ARTIFACTS_ARG] = process.argv;
if (!API_ARG || !OTLP_ARG || !ARTIFACTS_ARG) {
  process.stdout.write('usage: node ui/e2e/inferred.mjs <API base URL> <OTLP/HTTP base URL> <artifacts dir>\n');
  process.exit(2);
}
const ARTIFACTS = resolve(ARTIFACTS_ARG);
mkdirSync(ARTIFACTS, { recursive: true });
const log = (s) => process.stdout.write(`${s}\n`);

const EXEC = '6OWgv2bBDN2QAfxcklrpsh';
const RULE = 'kestra.executionId';
const A = 'e1a0000000000000000000000000000a'; // the executor's trace, first
const B = 'e1b0000000000000000000000000000b'; // the worker's, 5 s later
const span = (traceId, spanId, parentSpanId, name, startMs, endMs, attrs) => ({
  traceId,
  spanId,
  parentSpanId,
  name,
  kind: 1,
  startTimeUnixNano: String(BigInt(NOW) + BigInt(startMs) * 1_000_000n),
  endTimeUnixNano: String(BigInt(NOW) + BigInt(endMs) * 1_000_000n),
  attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
});
const NOW = String(BigInt(Date.now() - 60_000) * 1_000_000n);
const kestra = (task) => ({ 'kestra.namespace': 'company.team', 'kestra.flowId': 'orders', 'kestra.executionId': EXEC, 'kestra.taskId': task });
const resource = (service, spans) => ({
  resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
  scopeSpans: [{ scope: { name: 'io.kestra.core.runners' }, spans }],
});
const payload = {
  resourceSpans: [
    resource('kestra-executor', [
      span(A, 'a000000000000001', '', 'EXECUTOR - io.kestra.core.models.flows.Flow', 0, 9000, kestra('')),
      span(A, 'a000000000000002', 'a000000000000001', 'EXECUTOR - io.kestra.plugin.core.flow.Sequential', 100, 8000, kestra('seq')),
    ]),
    resource('kestra-worker', [
      span(B, 'b000000000000001', '', 'WORKER - io.kestra.plugin.scripts.shell.Commands', 5000, 7000, kestra('export_report')),
      span(B, 'b000000000000002', 'b000000000000001', 'WORKER - io.kestra.plugin.core.log.Log', 5100, 5200, kestra('log')),
    ]),
  ],
};

let browser = null;
let failed = false;
async function fail(msg) {
  log(`FAIL: ${msg}`);
  failed = true;
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
const watchdog = setTimeout(() => void fail('the run took longer than 100 s'), 100_000);
watchdog.unref();

const res = await fetch(`${OTLP_ARG}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) });
if (!res.ok) await fail(`OTLP/HTTP JSON export answered ${res.status}: ${await res.text()}`);
for (let i = 0; ; i++) {
  const r = await (await fetch(`${API_ARG}/api/v1/traces/${A}/related`)).json();
  if (r.related?.length === 1) break;
  if (i > 100) await fail(`the API never related ${A} to ${B}: ${JSON.stringify(r)}`);
  await new Promise((ok) => setTimeout(ok, 100));
}

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  await fail(`cannot load playwright-core (${e.message}): run \`npm ci --prefix ui\``);
}
browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.message}`));
page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));

const tid = (id, extra = '') => `[data-testid="${id}"]${extra}`;
const byTrace = (id, t) => tid(id, `[data-trace-id="${t}"]`);
const borderStyle = (sel) =>
  page
    .locator(sel)
    .first()
    .evaluate((el) => getComputedStyle(el).borderTopStyle);
async function check(name, fn) {
  try {
    const detail = await fn();
    await page.screenshot({ path: join(ARTIFACTS, `inferred-${name}.png`) });
    log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
  } catch (e) {
    await page.screenshot({ path: join(ARTIFACTS, `inferred-${name}.png`) }).catch(() => {});
    await fail(`${name}: ${e.message}`);
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** From `me`, the other trace is a dashed, labelled chip, apart from the span-link chips, and stitches under the span carrying the value. */
async function bothViews(me, other, arrow, underSpan) {
  await page.goto(`${API_ARG}/trace/${me}`, { waitUntil: 'domcontentloaded' });
  const chip = byTrace('inferred-trace', other);
  await page.waitForSelector(chip);
  const text = (await page.locator(chip).innerText()).trim();
  expect(text.startsWith(arrow), `the chip of ${other} says "${text}", expected it to start with ${arrow}`);
  expect((await page.locator(chip).getAttribute('data-rule')) === RULE, 'the chip names its rule');
  expect((await borderStyle(chip)) === 'dashed', `the chip's border is ${await borderStyle(chip)}, not dashed`);
  const label = page.locator('.th-related .inferred-label');
  expect((await label.innerText()).trim() === `inferred by ${RULE}`, `the chip group is labelled "${await label.innerText()}"`);
  expect((await page.locator(tid('related-trace')).count()) === 0, 'an inferred link must not be shown as a span-link chip');
  await page.click(tid('stitched-toggle'));
  const badge = byTrace('stitched-trace-badge', other);
  await page.waitForSelector(badge);
  expect((await borderStyle(badge)) === 'dashed', `the stitched badge's border is ${await borderStyle(badge)}, not dashed`);
  const inferredBadge = page.locator(tid('inferred-badge')).first();
  expect((await inferredBadge.innerText()).trim() === `inferred by ${RULE}`, `the stitched row is labelled "${await inferredBadge.innerText()}"`);
  await page.waitForSelector(byTrace('span-row', other));
  expect((await page.locator(byTrace('span-row', other)).count()) === 2, `both spans of ${other} are stitched in`);
  // Under the span that carries the value: the other trace's root is its child (one aria-level deeper).
  const level = async (sel) => Number(await page.locator(sel).first().getAttribute('aria-level'));
  const under = await level(`${byTrace('span-row', me)}[data-span-id="${underSpan}"]`);
  const otherRoot = await level(`${byTrace('span-row', other)}[data-span-id="${other === A ? 'a000000000000001' : 'b000000000000001'}"]`);
  expect(otherRoot === under + 1, `the root of ${other} has aria-level ${otherRoot}, the span it hangs under ${under}`);
  return `chip "${text}", stitched under ${underSpan}`;
}

// Regression (the page's first requests): opening a trace asked for every
// linked trace's links (the stitched button's count) before the worker's
// script and answer, which then waited for one of the browser's six
// connections. The trace's own spans come first; the linked group after.
await check('a0-own-spans-before-the-linked-group', async () => {
  await page.goto(`${API_ARG}/trace/${A}`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction((b) => performance.getEntriesByType('resource').some((e) => e.name.includes(`/traces/${b}/related`)), B, { timeout: STEP_TIMEOUT });
  const t = await page.evaluate((b) => {
    const res = performance.getEntriesByType('resource');
    return {
      worker: res.find((e) => e.name.includes('traceWorker'))?.startTime ?? NaN,
      linked: res.find((e) => e.name.includes(`/traces/${b}/related`))?.startTime ?? NaN,
      complete: performance.getEntriesByName('loupe:trace-complete')[0]?.startTime ?? NaN,
    };
  }, B);
  expect(t.worker < t.linked, `the worker's script was asked for at ${t.worker} ms, after the linked trace's links (${t.linked} ms)`);
  expect(t.complete <= t.linked, `the linked trace's links were asked for at ${t.linked} ms, before the trace was complete (${t.complete} ms)`);
  return `worker at ${t.worker.toFixed(0)} ms, trace complete at ${t.complete.toFixed(0)} ms, linked trace's links at ${t.linked.toFixed(0)} ms`;
});

await check('a-executor-trace', () => bothViews(A, B, '←', 'a000000000000001'));
await check('b-worker-trace', () => bothViews(B, A, '→', 'b000000000000001'));

await check('c-rule-off', async () => {
  await page.goto(`${API_ARG}/settings`, { waitUntil: 'domcontentloaded' });
  const box = page.locator(tid('join-rule', `[data-rule="${RULE}"]`));
  await box.waitFor();
  expect(await box.isChecked(), 'the rule starts on');
  await box.uncheck();
  await page.waitForFunction(() => document.querySelector('.settings-msg.ok')?.textContent?.includes('off'));
  for (const t of [A, B]) {
    await page.goto(`${API_ARG}/trace/${t}`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector(byTrace('span-row', t));
    await page.waitForFunction(() => document.querySelector('[data-testid="stitched-toggle"]')?.textContent?.includes('no links'));
    expect((await page.locator(tid('inferred-trace')).count()) === 0, `with the rule off, ${t} still shows an inferred chip`);
  }
  return 'no inferred chip either way; the stitched view has nothing to stitch';
});

if (pageErrors.length) await fail(`page errors:\n  ${pageErrors.join('\n  ')}`);
await browser.close();
if (!failed) log('all inferred-link checks passed');
