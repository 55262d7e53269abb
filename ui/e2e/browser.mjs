// Browser end-to-end test of Loupe's web UI, run by `tests/browser.rs`.
//
//   node ui/e2e/browser.mjs <path of the loupe binary> <artifacts directory>
//
// Starts a real `loupe serve` on free loopback ports, sends a Kestra-shaped
// workload with the official OpenTelemetry JS SDK (tests/e2e/node/workload.mjs,
// over OTLP/HTTP protobuf), then drives headless Chromium (Debian's
// /usr/bin/chromium through playwright-core) through the UI. Every check saves a
// screenshot into the artifacts directory. Exits non-zero on the first failed
// check, with a message naming it (set LOUPE_E2E_KEEP_GOING=1 to run every
// check and report all failures).
//
// Needs: `npm ci --prefix ui` (playwright-core), `npm ci --prefix tests/e2e/node`
// (the workload's SDK), Chromium at /usr/bin/chromium (or $LOUPE_CHROMIUM), and
// a loupe binary built after `scripts/build-ui`.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_DIR = join(ROOT, 'tests/e2e/node');
const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 15_000;
const TOTAL_TIMEOUT = 110_000; // below tests/browser.rs's 120 s, so cleanup runs here
const KEEP_GOING = process.env.LOUPE_E2E_KEEP_GOING === '1';
// Check j: how long after its children a trace's root arrives, and the parent
// grace this Loupe runs with (config traces.parent_grace), after which a
// placeholder says its parent never arrived. Short, so the check is cheap.
const ROOT_DELAY_MS = Number(process.env.LOUPE_E2E_ROOT_DELAY_MS ?? 3000);
const PARENT_GRACE = process.env.LOUPE_E2E_PARENT_GRACE ?? '8s';

const [, , BIN_ARG, ARTIFACTS_ARG] = process.argv;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (s) => process.stdout.write(`${s}\n`);

// Everything started here, stopped by cleanup() on every exit path.
let loupe = null;
let browser = null;
let dataDir = null;
let workload = null;

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  for (const child of [workload, loupe]) {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 5000))]);
      if (!exited) child.kill('SIGKILL');
    }
  }
  loupe = null;
  workload = null;
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    dataDir = null;
  }
}

let dying = false;
/** Reports, cleans up and exits; later callers (the interrupted flow) just stall. */
async function die(message) {
  if (dying) return new Promise(() => {});
  dying = true;
  log(`\nFAIL: ${message}`);
  await cleanup();
  listScreenshots();
  process.exit(1);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => void die(`interrupted by ${sig}`));
}
const watchdog = setTimeout(() => void die(`the whole run took longer than ${TOTAL_TIMEOUT / 1000} s`), TOTAL_TIMEOUT);
watchdog.unref();

if (!BIN_ARG || !ARTIFACTS_ARG) {
  log('usage: node ui/e2e/browser.mjs <loupe binary> <artifacts dir>');
  process.exit(2);
}
const BIN = resolve(BIN_ARG);
const ARTIFACTS = resolve(ARTIFACTS_ARG);

function listScreenshots() {
  if (!existsSync(ARTIFACTS)) return;
  const shots = readdirSync(ARTIFACTS)
    .filter((f) => f.endsWith('.png'))
    .sort();
  if (shots.length === 0) return;
  log('\nscreenshots:');
  for (const f of shots) log(`  ${join(ARTIFACTS, f)}`);
}

// ---------------------------------------------------------------------------
// Prerequisites, each failing with what to run.
// ---------------------------------------------------------------------------

if (!existsSync(BIN)) await die(`no loupe binary at ${BIN}: run \`cargo build --no-default-features --bin loupe\``);
if (!existsSync(CHROMIUM)) await die(`no Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (Debian's package; Playwright's browser download is not used)`);
if (!existsSync(join(NODE_DIR, 'node_modules/@opentelemetry/sdk-trace-base/package.json'))) {
  await die(`the workload's OpenTelemetry SDK is not installed (${join(NODE_DIR, 'node_modules')} is missing): run \`npm ci --prefix tests/e2e/node\``);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  await die(`cannot load playwright-core (${e.message}): run \`npm ci --prefix ui\` (or \`scripts/build-ui\`)`);
}
// Fresh artifacts: old screenshots must not pass for new ones.
rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });

// ---------------------------------------------------------------------------
// 1. loupe serve on free ports.
// ---------------------------------------------------------------------------

async function startLoupe() {
  dataDir = mkdtempSync(join(tmpdir(), 'loupe-browser-'));
  loupe = spawn(BIN, ['serve', '--data-dir', dataDir, '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--api-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', LOUPE_TRACES_PARENT_GRACE: PARENT_GRACE },
  });
  loupe.stderr.on('data', (d) => process.stdout.write(String(d).replace(/^(?=.)/gm, '[loupe stderr] ')));
  const addrs = {};
  const lines = createInterface({ input: loupe.stdout });
  return await new Promise((resolveAddrs, rejectAddrs) => {
    const timer = setTimeout(() => rejectAddrs(new Error('loupe serve printed no addresses within 15 s')), STEP_TIMEOUT);
    loupe.once('exit', (code, sig) => rejectAddrs(new Error(`loupe serve exited (${code ?? sig}) before listening`)));
    loupe.once('error', (e) => rejectAddrs(new Error(`cannot start ${BIN}: ${e.message}`)));
    lines.on('line', (line) => {
      const grpc = /^loupe: OTLP\/gRPC on (\S+)$/.exec(line);
      const http = /^loupe: OTLP\/HTTP on http:\/\/(\S+)$/.exec(line);
      const api = /^loupe: API and UI on http:\/\/(\S+)$/.exec(line);
      if (grpc) addrs.grpc = grpc[1];
      else if (http) addrs.http = http[1];
      else if (api) addrs.api = api[1];
      if (addrs.grpc && addrs.http && addrs.api && !addrs.done) {
        addrs.done = true;
        clearTimeout(timer);
        resolveAddrs(addrs); // the interface keeps draining stdout
      }
    });
  });
}

let addrs;
try {
  addrs = await startLoupe();
} catch (e) {
  await die(e.message);
}
const BASE = `http://${addrs.api}`;
const _port = (a) => a.slice(a.lastIndexOf(':') + 1);
log(`[${elapsed()}] loupe serve: gRPC ${addrs.grpc}, HTTP ${addrs.http}, API and UI ${BASE}`);

{
  const res = await fetch(`${BASE}/`).catch((e) => die(`GET ${BASE}/ failed: ${e.message}`));
  const body = await res.text();
  if (body.includes('built without its web UI')) {
    await die(`${BIN} was built without its web UI: run \`scripts/build-ui\` (npm ci + npm run build in ui/), then rebuild the binary (\`cargo build --no-default-features --bin loupe\`)`);
  }
  if (!res.ok || !/<script[^>]+src="\/assets\//.test(body)) {
    await die(`GET / did not return the built UI (status ${res.status}):\n${body.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------
// Browser and check helpers.
// ---------------------------------------------------------------------------

try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    timeout: 30_000,
  });
} catch (e) {
  await die(`cannot launch ${CHROMIUM}: ${e.message}`);
}
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
page.setDefaultNavigationTimeout(STEP_TIMEOUT);

// Uncaught exceptions, console errors (CSP violations among them) and failed
// API answers, except the 400 that check b3's malformed query asks for.
const pageErrors = [];
let expectedBadQuery = null;
page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.stack ?? e.message}`));
page.on('console', (msg) => {
  // The browser's own "Failed to load resource" lines are covered by the response check.
  if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`console.error: ${msg.text()}`);
});
page.on('response', (res) => {
  if (res.status() < 400) return;
  const u = new URL(res.url());
  const q = u.searchParams.get('q');
  if (res.status() === 400 && u.pathname === '/api/v1/traces' && expectedBadQuery !== null && q?.trim() === expectedBadQuery.trim()) return;
  pageErrors.push(`HTTP ${res.status()} for ${res.request().method()} ${u.pathname}${u.search}`);
});

const tid = (id, extra = '') => `[data-testid="${id}"]${extra}`;
const byTrace = (id, traceId) => tid(id, `[data-trace-id="${traceId}"]`);
const spanRow = (spanId) => tid('span-row', `[data-span-id="${spanId}"]`);
/** The first visible match: the waterfall pools its rows, and hidden pool rows keep stale data-* attributes. */
const vis = (sel) => page.locator(sel).filter({ visible: true }).first();

class CheckError extends Error {}
function expect(cond, message) {
  if (!cond) throw new CheckError(message);
}

/** Waits for a selector, with a message that names the missing test id. */
async function need(selector, what, { state = 'visible', timeout = STEP_TIMEOUT } = {}) {
  try {
    if (state === 'visible') await vis(selector).waitFor({ state, timeout });
    else await page.waitForSelector(selector, { state, timeout });
  } catch {
    const count = await page
      .locator(selector)
      .count()
      .catch(() => 0);
    throw new CheckError(`${what}: \`${selector}\` not ${state} within ${timeout / 1000} s (${count} in the DOM) on ${page.url()}`);
  }
  return state === 'visible' ? vis(selector) : page.locator(selector).first();
}

/** Polls fn() until it returns a truthy value (or throws the last message). */
async function until(fn, what, timeout = STEP_TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new CheckError(`${what} (waited ${timeout / 1000} s)${last ? `: ${last.message}` : ''}`);
    await page.waitForTimeout(100);
  }
}

let shotNo = 0;
async function shot(name) {
  shotNo += 1;
  const file = join(ARTIFACTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false }).catch((e) => {
    if (!dying) log(`  (screenshot ${file} failed: ${e.message.split('\n')[0]})`);
  });
  return file;
}

const failures = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    if (dying) await new Promise(() => {});
    const file = await shot(name);
    log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)${note ? ` — ${note}` : ''} [${file}]`);
  } catch (e) {
    if (dying) await new Promise(() => {});
    const file = await shot(`FAILED-${name}`);
    const msg = e instanceof CheckError ? e.message : (e.stack ?? String(e));
    log(`FAIL ${name} (${((Date.now() - started) / 1000).toFixed(1)}s): ${msg} [${file}]`);
    if (pageErrors.length) log(`  page errors so far:\n    ${pageErrors.join('\n    ')}`);
    failures.push(`${name}: ${msg}`);
    if (!KEEP_GOING) await die(`check "${name}" failed: ${msg}`);
  }
}

const text = (sel) => vis(sel).innerText();
/** Visible matches only: the waterfall pools its rows, and hidden pool rows keep stale data-* attributes. */
const rowsOf = async (sel) => page.locator(sel).filter({ visible: true }).count();

async function goto(path) {
  await page.goto(`${BASE}${path}`, { waitUntil: 'domcontentloaded' });
}

/** Sets the search box and submits it (the button when there is one, else Enter). */
async function search(q) {
  const box = await need(tid('search-q'), 'the search box');
  await box.fill(q);
  const submit = page.locator(tid('search-submit'));
  if ((await submit.count()) > 0) await submit.first().click();
  else await box.press('Enter');
}

/** An element's test-visible "error" marking: classes, data-*, aria-* mentioning error/fail. */
async function errorMarks(selector) {
  return vis(selector).evaluate((el) => {
    const marks = [];
    for (const c of el.classList) if (/err|fail/i.test(c)) marks.push(`class .${c}`);
    for (const a of el.attributes) {
      if (a.name === 'class' || a.name === 'data-testid') continue;
      if ((a.name.startsWith('data-') || a.name.startsWith('aria-')) && (/err|fail/i.test(a.name) || /err|fail/i.test(a.value))) {
        if (/^(false|0|)$/.test(a.value) && /err|fail/i.test(a.name)) continue;
        marks.push(`${a.name}="${a.value}"`);
      }
    }
    return marks;
  });
}

async function box(selector) {
  const b = await vis(selector).boundingBox();
  if (!b) throw new CheckError(`\`${selector}\` has no box (hidden?)`);
  return b;
}

/** -1 when a precedes b in document order, 1 when it follows. */
async function domOrder(a, b) {
  const ha = await vis(a).elementHandle();
  const hb = await vis(b).elementHandle();
  return page.evaluate(([x, y]) => (x.compareDocumentPosition(y) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1), [ha, hb]);
}

// ---------------------------------------------------------------------------
// a. Empty state before any data.
// ---------------------------------------------------------------------------

await check('a-empty-state', async () => {
  await goto('/');
  const empty = await need(tid('empty-state'), 'the empty state of a fresh Loupe');
  // The real addresses (this Loupe listens on free ports, not 4317/4318).
  await until(
    async () => (await empty.innerText()).includes(`http://${addrs.http}`),
    `the empty state should show the real OTLP/HTTP endpoint http://${addrs.http}: ${JSON.stringify(await empty.innerText())}`,
  );
  const t = await empty.innerText();
  expect(t.includes(addrs.grpc) && !t.includes(':4318'), `the empty state should tell where to send OTLP (${addrs.grpc}, http://${addrs.http}), it says: ${JSON.stringify(t)}`);
  expect((await rowsOf(tid('trace-row'))) === 0, 'a fresh Loupe lists trace rows');
  return 'mentions the OTLP ports';
});

// ---------------------------------------------------------------------------
// 2. The workload: the official OpenTelemetry JS SDK over OTLP/HTTP protobuf.
// ---------------------------------------------------------------------------

const RUN = `browser-${process.pid}-${Date.now().toString(36)}`;
async function runWorkload() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  Object.assign(env, {
    LOUPE_PROTOCOL: 'http/protobuf',
    LOUPE_HTTP_ENDPOINT: `http://${addrs.http}`,
    LOUPE_GRPC_ENDPOINT: `http://${addrs.grpc}`,
    LOUPE_RUN: RUN,
  });
  workload = spawn(process.execPath, [join(NODE_DIR, 'workload.mjs')], { cwd: NODE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  workload.stdout.on('data', (d) => (out += d));
  workload.stderr.on('data', (d) => (err += d));
  const code = await Promise.race([new Promise((r) => workload.once('exit', (c, s) => r(c ?? s))), new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
  workload = null;
  if (code !== 0) throw new Error(`the workload failed (${code}):\n${err}${out}`);
  const line = out.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`the workload printed no JSON manifest:\n${out}\n${err}`);
  }
}

let m;
{
  const started = Date.now();
  try {
    m = await runWorkload();
  } catch (e) {
    await die(e.message);
  }
  log(`ok   workload (${((Date.now() - started) / 1000).toFixed(1)}s) — ${m.spans.length} spans, ${m.logs.length} logs, ${m.traces.length} traces, run ${RUN}`);
}

const R = m.roles;
const MAIN = R.mainTraceId;
const ITEMS = R.itemTraceIds;
const mainSpans = m.spans.filter((s) => s.traceId === MAIN);
const parentExecution = mainSpans.find((s) => s.spanId === R.forEachItemSpanId).attributes['kestra.executionId'];
const subflowExecution = mainSpans.find((s) => s.attributes['kestra.parentExecutionId'] === parentExecution)?.attributes['kestra.executionId'];
const failedSpan = mainSpans.find((s) => s.spanId === R.failedSpanId);
const errorLog = m.logs.find((l) => l.severityText === 'ERROR');
if (!subflowExecution || !failedSpan || !errorLog) await die('the workload manifest lacks the subflow execution, the failed span or the ERROR log');

// The ingest path is asynchronous: wait until the API has the whole main trace.
{
  const end = Date.now() + STEP_TIMEOUT;
  for (;;) {
    const res = await fetch(`${BASE}/api/v1/traces?q=${encodeURIComponent(`kestra.executionId = "${parentExecution}"`)}`).catch(() => null);
    const body = res?.ok ? await res.json() : null;
    const sum = body?.traces?.find((t) => t.traceId === MAIN);
    if (sum && sum.spanCount === mainSpans.length) break;
    if (Date.now() > end) await die(`the API did not list the main trace ${MAIN} with ${mainSpans.length} spans within 15 s (got ${JSON.stringify(sum)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------
// b. Search.
// ---------------------------------------------------------------------------

const GOOD_Q = `kestra.executionId = "${parentExecution}"`;
await check('b1-search-finds-parent', async () => {
  await goto('/');
  await search(GOOD_Q);
  await need(byTrace('trace-row', MAIN), `the parent trace's row after searching ${GOOD_Q}`);
  const others = await page.locator(tid('trace-row')).evaluateAll((els) => els.map((e) => e.dataset.traceId));
  expect(!others.some((t) => ITEMS.includes(t)), `the search for the parent execution also lists ForEachItem child traces: ${others.join(', ')}`);
  const pause = await need(tid('pause-live'), 'the pause-live control of the trace list');
  await pause.click();
  await until(async () => (await pause.getAttribute('aria-pressed')) === 'true', 'pause-live should turn aria-pressed="true" when clicked');
  await pause.click();
  await until(async () => (await pause.getAttribute('aria-pressed')) === 'false', 'pause-live should turn aria-pressed="false" when clicked again');
  return `1 matching row of ${others.length}; pause-live toggles`;
});

await check('b2-search-in-url-survives-reload', async () => {
  const url = new URL(page.url());
  expect(url.pathname === '/', `searching left the list: ${page.url()}`);
  const inUrl = [...url.searchParams.values()].some((v) => v.includes(parentExecution));
  expect(inUrl, `the URL does not hold the search: ${page.url()}`);
  await page.reload({ waitUntil: 'domcontentloaded' });
  await need(byTrace('trace-row', MAIN), 'the parent trace row after a reload');
  const value = await page.locator(tid('search-q')).first().inputValue();
  expect(value.includes(parentExecution), `after a reload the search box holds ${JSON.stringify(value)}`);
  return url.search;
});

await check('b3-malformed-query-shows-error', async () => {
  expectedBadQuery = 'kestra.flowId = ';
  await search(expectedBadQuery);
  const err = await need(tid('search-error'), 'the error of a malformed query');
  const t = (await err.innerText()).trim();
  expect(t.length > 0, 'search-error is empty');
  return JSON.stringify(t.slice(0, 120));
});

// ---------------------------------------------------------------------------
// c. The parent trace's waterfall.
// ---------------------------------------------------------------------------

await check('c1-waterfall-shows-every-span', async () => {
  await search(GOOD_Q);
  const row = await need(byTrace('trace-row', MAIN), 'the parent trace row');
  // The row (or a link in it) opens the trace.
  const a = row.locator('a[href*="/trace/"]');
  await ((await a.count()) > 0 ? a.first() : row).click();
  await until(() => new URL(page.url()).pathname === `/trace/${MAIN}`, `clicking the trace row should open /trace/${MAIN} (at ${page.url()})`);
  await need(tid('waterfall'), 'the waterfall');
  const sel = byTrace('span-row', MAIN);
  await until(async () => (await rowsOf(sel)) === mainSpans.length, `the waterfall should show ${mainSpans.length} span rows of the parent trace`).catch(async (e) => {
    throw new CheckError(`${e.message} (it shows ${await rowsOf(sel)})`);
  });
  for (const s of mainSpans) await need(spanRow(s.spanId), `the row of span ${s.name} (${s.spanId})`, { timeout: 2000 });
  return `${mainSpans.length} span rows`;
});

await check('c2-collapse-and-expand', async () => {
  const sel = byTrace('span-row', MAIN);
  // A toggle in the webserver span's row folds its subtree away.
  const toggle = () => vis(spanRow(R.webserverSpanId)).locator(tid('span-toggle'));
  expect((await toggle().count()) > 0, `the webserver span's row has no span-toggle`);
  await toggle().click();
  await until(async () => (await rowsOf(sel)) === 2 && (await rowsOf(spanRow(R.failedSpanId))) === 0, 'span-toggle on the webserver span should hide its 8 descendants (2 rows left)');
  await toggle().click();
  await need(spanRow(R.failedSpanId), 'the failed span again after a second span-toggle');
  await (await need(tid('collapse-all'), 'the collapse-all control')).click();
  await until(async () => (await rowsOf(sel)) === 1 && (await rowsOf(spanRow(R.upstreamSpanId))) === 1, 'collapse-all should leave only the root row');
  log(`       collapsed: [${await shot('c2-collapsed-all')}]`);
  await (await need(tid('expand-all'), 'the expand-all control')).click();
  await until(async () => (await rowsOf(sel)) === mainSpans.length, `expand-all should show all ${mainSpans.length} rows again`);
  return 'span-toggle, collapse-all, expand-all';
});

await check('c3-failed-span-marked-and-detailed', async () => {
  const failedRow = spanRow(R.failedSpanId);
  await need(failedRow, 'the failed span row');
  // The UI marks a span with status ERROR by the class `error` on its row (and an "error" badge).
  const marks = await errorMarks(failedRow);
  expect(marks.includes('class .error'), `the failed span row lacks the class \`error\` (its error marks: ${marks.join(', ') || 'none'})`);
  const badge = vis(failedRow).locator('.badge.err');
  expect((await badge.count()) === 1 && /error/i.test(await badge.innerText()), 'the failed span row has no "error" badge');
  for (const ok of [R.downstreamSpanId, R.upstreamSpanId]) {
    expect(!(await errorMarks(spanRow(ok))).includes('class .error'), `span ${ok} (status not ERROR) is marked with the class \`error\``);
  }
  const own = ['class .error', 'badge "error"'];
  await vis(failedRow).click();
  const details = await need(tid('span-details'), 'span details after selecting the failed span');
  await until(
    async () => {
      const t = await details.innerText();
      return t.includes(R.failedStatusMessage) && t.includes('exception') && t.includes(R.exceptionMessage);
    },
    `span-details should show the status message ${JSON.stringify(R.failedStatusMessage)}, the "exception" event and its message ${JSON.stringify(R.exceptionMessage)}`,
  ).catch(async (e) => {
    throw new CheckError(`${e.message}; it shows: ${JSON.stringify((await details.innerText()).slice(0, 1500))}`);
  });
  return `marked by ${own.join(', ')}`;
});

await check('c4-find-in-trace', async () => {
  const find = await need(tid('trace-search'), 'the find-in-trace box');
  await find.fill('shell.Commands');
  await until(async () => (await vis(spanRow(R.failedSpanId)).getAttribute('class')).split(' ').includes('match'), 'the failed span row should match "shell.Commands" (class `match`)');
  // Every other visible row is dimmed (the lens may also fold subtrees without a match).
  const classes = await page
    .locator(byTrace('span-row', MAIN))
    .filter({ visible: true })
    .evaluateAll((els) => els.map((e) => [e.dataset.spanId, [...e.classList]]));
  const wrong = classes.filter(([id, cls]) => (id === R.failedSpanId) === cls.includes('dim') || (id !== R.failedSpanId) === cls.includes('match'));
  expect(wrong.length === 0, `rows wrongly matched or dimmed: ${JSON.stringify(wrong)}`);
  expect(new URL(page.url()).searchParams.get('find') === 'shell.Commands', `the URL does not hold the find text: ${page.url()}`);
  const file = await shot('c4-find-matches');
  await find.press('Escape');
  await until(async () => (await page.locator(tid('span-row', '.dim')).filter({ visible: true }).count()) === 0, 'Escape in the find box should undim every row');
  await until(async () => (await find.inputValue()) === '' && !new URL(page.url()).searchParams.has('find'), `Escape should empty the find box and drop find= from the URL (${page.url()})`);
  await (await need(tid('expand-all'), 'the expand-all control')).click();
  await until(async () => (await rowsOf(byTrace('span-row', MAIN))) === mainSpans.length, `after the lens, expand-all should show all ${mainSpans.length} rows again`);
  return `1 match, ${classes.length - 1} visible rows dimmed [${file}]`;
});

// ---------------------------------------------------------------------------
// d. Stitched view: the ForEachItem child traces under the ForEachItem span.
// ---------------------------------------------------------------------------

await check('d-stitched-children-under-foreach', async () => {
  await (await need(tid('stitched-toggle'), 'the stitched-view toggle')).click();
  for (const t of ITEMS) await need(byTrace('stitched-trace-badge', t), `the stitched badge of ForEachItem child trace ${t}`);
  const forEachRow = spanRow(R.forEachItemSpanId);
  const fb = await box(forEachRow);
  const next = await box(spanRow(R.httpTaskSpanId)); // the ForEachItem span's next sibling
  for (const t of ITEMS) {
    const badge = byTrace('stitched-trace-badge', t);
    expect((await domOrder(forEachRow, badge)) === -1, `the badge of ${t} comes before the ForEachItem row in the DOM`);
    const bb = await box(badge);
    expect(bb.y >= fb.y + fb.height - 1, `the badge of ${t} (y ${bb.y}) is not below the ForEachItem row (y ${fb.y}..${fb.y + fb.height})`);
    expect(bb.y < next.y, `the badge of ${t} (y ${bb.y}) is below the ForEachItem span's next sibling (y ${next.y}), not under the ForEachItem span`);
    const rows = byTrace('span-row', t);
    await until(async () => (await rowsOf(rows)) === 2, `child trace ${t} should show its 2 span rows`);
    const rb = await box(rows);
    expect(rb.y > fb.y && rb.y < next.y, `the rows of ${t} (y ${rb.y}) are not between the ForEachItem row (y ${fb.y}) and its next sibling (y ${next.y})`);
    // One level deeper than the ForEachItem span (the tree's aria-level).
    const level = async (sel) => Number(await vis(sel).getAttribute('aria-level'));
    const [lf, lr] = [await level(forEachRow), await level(spanRow(R.itemRootSpanIds[ITEMS.indexOf(t)]))];
    expect(lr === lf + 1, `the root of ${t} has aria-level ${lr}, the ForEachItem span ${lf}: it should be its child`);
  }
  return `${ITEMS.length} child traces between y ${Math.round(fb.y)} and ${Math.round(next.y)}`;
});

// ---------------------------------------------------------------------------
// e. Group by kestra.executionId.
// ---------------------------------------------------------------------------

await check('e-group-by-execution', async () => {
  const g = await need(tid('group-by'), 'the group-by control');
  const tag = await g.evaluate((el) => el.tagName.toLowerCase());
  if (tag === 'select') {
    const options = await g.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent.trim() })));
    const o = options.find((x) => x.value === 'kestra.executionId' || x.label === 'kestra.executionId');
    expect(o, `the group-by select offers no kestra.executionId (options: ${options.map((x) => x.value || x.label).join(', ')})`);
    await g.selectOption(o.value);
  } else {
    await g.fill('kestra.executionId');
    await g.press('Enter');
  }
  await until(async () => (await rowsOf(tid('lane'))) >= 2, 'grouping by kestra.executionId should show at least two lanes');
  const lanes = await page.locator(tid('lane')).evaluateAll((els) => els.map((e) => e.dataset.value));
  for (const v of [parentExecution, subflowExecution]) expect(lanes.includes(v), `no lane with data-value=${v} (lanes: ${lanes.join(', ')})`);
  return `${lanes.length} lanes`;
});

// Back to the plain waterfall for the rest.
async function ungroup() {
  const g = page.locator(tid('group-by')).first();
  if ((await g.count()) === 0) return;
  if ((await g.evaluate((el) => el.tagName.toLowerCase())) === 'select') {
    const first = await g.locator('option').first().getAttribute('value');
    await g.selectOption(first ?? '');
  } else {
    await g.fill('');
    await g.press('Enter');
  }
}

// ---------------------------------------------------------------------------
// f. Logs: the ERROR log, and clicking it selects its span.
// ---------------------------------------------------------------------------

await check('f-logs-tab-selects-failed-span', async () => {
  await ungroup().catch(() => {});
  // Select some other span first, so that the log click visibly changes the selection.
  await vis(spanRow(R.downstreamSpanId)).click();
  await until(async () => !(await text(tid('span-details'))).includes(R.failedStatusMessage), 'selecting the downstream span should replace the failed span in span-details');
  await (await need(tid('tab-logs'), 'the logs tab')).click();
  const row = page
    .locator(tid('log-row'))
    .filter({ hasText: errorLog.body.slice(0, 40) })
    .filter({ visible: true });
  await until(async () => (await row.count()) > 0, `the ERROR log ${JSON.stringify(errorLog.body)} should be a log-row`);
  const logRows = await rowsOf(tid('log-row'));
  expect(logRows === m.logs.filter((l) => l.traceId === MAIN).length, `the Logs tab lists ${logRows} log rows, the parent trace has ${m.logs.filter((l) => l.traceId === MAIN).length} logs`);
  log(`       logs tab: [${await shot('f-logs-tab')}]`);
  await row.first().click();
  await until(async () => {
    const d = vis(tid('span-details'));
    return (await d.getAttribute('data-span-id')) === R.failedSpanId && (await d.innerText()).includes(R.failedStatusMessage);
  }, 'clicking the ERROR log row should select the failed span (span-details showing it)');
  expect((await vis(spanRow(R.failedSpanId)).getAttribute('aria-selected')) === 'true', 'the failed span row is not selected after clicking its log');
  return `${logRows} log rows`;
});

// ---------------------------------------------------------------------------
// g. Links and backlinks between the parent and its children.
// ---------------------------------------------------------------------------

/** Finds a visible element; when absent, selects `spanId`'s row and looks again. */
async function findVia(selector, spanId, what) {
  const row = await need(spanRow(spanId), `the row of span ${spanId}`);
  if ((await rowsOf(selector)) === 0) {
    await row.click();
    await need(selector, what);
  }
  return vis(selector);
}

await check('g1-child-links-to-parent', async () => {
  await goto(`/trace/${ITEMS[0]}`);
  const link = await findVia(byTrace('link', MAIN), R.itemRootSpanIds[0], 'the link from the child trace to the parent');
  await link.click();
  await until(() => new URL(page.url()).pathname === `/trace/${MAIN}`, `following the link should open /trace/${MAIN} (at ${page.url()})`);
  await need(spanRow(R.forEachItemSpanId), 'the ForEachItem span in the parent');
  await until(async () => (await vis(tid('span-details')).getAttribute('data-span-id')) === R.forEachItemSpanId, 'the link should select the linked span (ForEachItem) in the parent');
  return page.url().replace(BASE, '');
});

await check('g2-parent-backlinks-to-child', async () => {
  const target = ITEMS[1];
  const back = await findVia(byTrace('backlink', target), R.forEachItemSpanId, `a backlink from the parent to child ${target}`);
  await back.click();
  await until(() => new URL(page.url()).pathname === `/trace/${target}`, `following the backlink should open /trace/${target} (at ${page.url()})`);
  await need(spanRow(R.itemRootSpanIds[1]), "the child trace's root span");
  await until(async () => (await vis(tid('span-details')).getAttribute('data-span-id')) === R.itemRootSpanIds[1], "the backlink should select the linking span (the child's root)");
  return page.url().replace(BASE, '');
});

// ---------------------------------------------------------------------------
// h. Metrics: a counter and a histogram over time from the Node SDK; open
//    the counter, split it by flowId, read values at the pointer, drag to
//    zoom, toggle a line; the histogram's percentiles and distribution.
// ---------------------------------------------------------------------------

async function runNode(script) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  Object.assign(env, { LOUPE_HTTP_ENDPOINT: `http://${addrs.http}` });
  workload = spawn(process.execPath, [join(NODE_DIR, script)], { cwd: NODE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  workload.stdout.on('data', (d) => (out += d));
  workload.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => workload.once('exit', (c, sig) => r(c ?? sig)));
  workload = null;
  if (code !== 0) throw new Error(`${script} failed (${code}):\n${err}${out}`);
  return JSON.parse(out.trim().split('\n').pop());
}

let mm;
try {
  mm = await runNode('metrics.mjs');
} catch (e) {
  await die(e.message);
}
const legendLabels = () => page.locator(tid('legend-item')).evaluateAll((els) => els.map((e) => e.dataset.label));
const chartSvg = `${tid('chart')} svg`;

await check('h1-metric-catalogue-and-chart', async () => {
  await goto('/explore/metrics');
  const row = await need(tid('metric-row', `[data-name="${mm.counter}"]`), `the catalogue row of ${mm.counter}`);
  await row.click();
  await until(() => new URL(page.url()).searchParams.get('metric') === mm.counter, `clicking the row should select ${mm.counter} (at ${page.url()})`);
  await need(chartSvg, 'the chart SVG');
  await until(async () => (await legendLabels()).length >= 2, 'one legend item per series of the counter');
  const sub = await text('.chart-sub');
  expect(/rate per second/.test(sub), `a cumulative counter should be charted as a rate, the subtitle says ${JSON.stringify(sub)}`);
  return `${(await legendLabels()).length} lines; ${sub}`;
});

await check('h2-split-by-flow', async () => {
  await (await need(tid('split-key', '[data-key="flowId"]'), 'the split-by flowId chip')).click();
  const want = mm.flows.map((f) => `flowId=${f}`).sort();
  await until(async () => JSON.stringify((await legendLabels()).slice().sort()) === JSON.stringify(want), `splitting by flowId should give the lines ${want.join(', ')}`).catch(async (e) => {
    throw new CheckError(`${e.message}; the legend shows ${JSON.stringify(await legendLabels())}`);
  });
  expect(new URL(page.url()).searchParams.get('split') === 'flowId', `the URL does not hold split=flowId: ${page.url()}`);
  return want.join(', ');
});

let plotBox;
await check('h3-crosshair-readout', async () => {
  const svg = await box(chartSvg);
  const c = await page.evaluate(async (u) => (await fetch(u)).json(), `/api/v1/metrics/${encodeURIComponent(mm.counter)}/chart?start=now-1h&split=flowId&width=${Math.round(svg.width)}&height=280`);
  plotBox = { x: svg.x + c.plot.x, y: svg.y + c.plot.y, w: c.plot.width, h: c.plot.height };
  // The points are in the last seconds of the hour: hover near the right edge.
  await page.mouse.move(plotBox.x + plotBox.w - 4, plotBox.y + plotBox.h / 2);
  const tipSel = tid('chart-readout');
  await until(async () => (await page.locator(`${tipSel} .tip-row`).count()) >= 1, 'hovering the chart should show a read-out with a value per line');
  return JSON.stringify((await page.locator(tipSel).innerText()).replace(/\n/g, ' | '));
});

await check('h4-drag-to-zoom', async () => {
  const before = new URL(page.url()).searchParams;
  expect(!before.has('from'), 'zoomed before the drag');
  await page.mouse.move(plotBox.x + plotBox.w * 0.9, plotBox.y + plotBox.h / 2);
  await page.mouse.down();
  await page.mouse.move(plotBox.x + plotBox.w * 0.95, plotBox.y + plotBox.h / 2, { steps: 4 });
  await page.mouse.move(plotBox.x + plotBox.w - 1, plotBox.y + plotBox.h / 2, { steps: 4 });
  await page.mouse.up();
  await until(() => new URL(page.url()).searchParams.has('from'), `dragging across the chart should zoom (from/to in the URL), at ${page.url()}`);
  const u = new URL(page.url()).searchParams;
  const span = Number(BigInt(u.get('to')) - BigInt(u.get('from'))) / 1e9;
  expect(span > 60 && span < 600, `the zoomed range should be about 10% of an hour, it is ${span.toFixed(0)} s`);
  await until(async () => (await page.locator(tid('chart-range')).inputValue()) === 'custom', 'the range picker should say the view is zoomed');
  await until(async () => (await legendLabels()).length === mm.flows.length, 'the zoomed chart keeps the split lines');
  await page.mouse.move(0, 0);
  return `${span.toFixed(0)} s window`;
});

await check('h5-legend-toggles-a-line', async () => {
  const item = await need(tid('legend-item', `[data-label="flowId=${mm.flows[1]}"]`), 'the legend item of the second flow');
  await item.click();
  await until(
    async () => (await vis(tid('legend-item', `[data-label="flowId=${mm.flows[1]}"]`)).getAttribute('aria-pressed')) === 'false',
    'clicking a legend item should hide its line (aria-pressed=false)',
  );
  expect(new URL(page.url()).searchParams.has('hide'), `the URL does not hold the hidden line: ${page.url()}`);
  return page.url().replace(BASE, '');
});

await check('h6-histogram-percentiles', async () => {
  await (await need(tid('metric-row', `[data-name="${mm.histogram}"]`), `the catalogue row of ${mm.histogram}`)).click();
  // One series per flow: each gets its percentiles.
  const want = mm.flows.flatMap((f) => ['p50', 'p90', 'p99'].map((q) => `${q} · flowId=${f}`)).sort();
  await until(async () => JSON.stringify((await legendLabels()).slice().sort()) === JSON.stringify(want), `a histogram should be charted as ${want.join(', ')}`).catch(async (e) => {
    throw new CheckError(`${e.message}; legend: ${JSON.stringify(await legendLabels())}`);
  });
  await need(`${tid('distribution')} svg`, 'the bucket distribution of the window');
  // Aggregated across flows (split by nothing): buckets merged, one p50/p90/p99.
  await (await need(tid('chart-agg'), 'the combine select')).selectOption('sum');
  await until(async () => JSON.stringify(await legendLabels()) === JSON.stringify(['p50', 'p90', 'p99']), 'split by nothing should merge the flows into p50, p90, p99');
  return 'per flow, then merged: p50, p90, p99 and the distribution';
});

await check('h7-pin-to-dashboard', async () => {
  await (await need(tid('pin-chart'), 'the pin-to-dashboard button')).click();
  await until(async () => /Pinned/.test(await text('.chart-status')), 'pinning should confirm');
  await (await need(tid('nav-dashboard'), 'the Dashboard link')).click();
  await until(() => new URL(page.url()).pathname === '/dashboard', 'the Dashboard link should open /dashboard');
  await need(`${tid('dashboard-panel')} svg`, 'the pinned chart on the dashboard');
  await page.reload({ waitUntil: 'domcontentloaded' });
  await need(`${tid('dashboard-panel')} svg`, 'the pinned chart after a reload (kept in the database)');
  const n = await rowsOf(tid('dashboard-panel'));
  expect(n === 1, `the dashboard shows ${n} panels, 1 was pinned`);
  return await vis(tid('dashboard-panel')).getAttribute('data-title');
});

// ---------------------------------------------------------------------------
// i. Logs: search a word of the ERROR log, jump to its span; grouping, pause.
// ---------------------------------------------------------------------------

const word = errorLog.body
  .split(/[^A-Za-z]+/)
  .filter((w) => w.length >= 5)
  .sort((a, b) => b.length - a.length)[0];
await check('i1-log-search', async () => {
  await (await need(tid('nav-logs'), 'the Logs link in the header')).click();
  await until(() => new URL(page.url()).pathname === '/logs', 'the Logs link should open /logs');
  await until(async () => (await rowsOf(tid('log-entry'))) === m.logs.length, `the log explorer should list all ${m.logs.length} records`);
  const box1 = await need(tid('log-search'), 'the log search box');
  await box1.fill(word);
  await box1.press('Enter');
  await until(() => new URL(page.url()).searchParams.get('q') === word, `the URL should hold q=${word}`);
  const want = m.logs.filter((l) => l.body.toLowerCase().includes(word.toLowerCase()) || Object.values(l.attributes).some((v) => String(v).toLowerCase().includes(word.toLowerCase()))).length;
  await until(async () => (await rowsOf(tid('log-entry'))) === want, `searching ${JSON.stringify(word)} should list ${want} record(s)`).catch(async (e) => {
    throw new CheckError(`${e.message} (it lists ${await rowsOf(tid('log-entry'))})`);
  });
  await need(tid('log-entry', `[data-span-id="${errorLog.spanId}"]`), 'the ERROR log record among the results');
  return `${JSON.stringify(word)}: ${want} record(s)`;
});

await check('i2-log-jumps-to-span', async () => {
  await vis(tid('log-entry', `[data-span-id="${errorLog.spanId}"]`))
    .locator(tid('log-trace-link'))
    .click();
  await until(() => new URL(page.url()).pathname === `/trace/${errorLog.traceId}`, `the trace link should open /trace/${errorLog.traceId} (at ${page.url()})`);
  await until(async () => (await vis(tid('span-details')).getAttribute('data-span-id')) === errorLog.spanId, "the log's span should be selected in the trace view");
  return page.url().replace(BASE, '');
});

await check('i3-group-repeats-and-pause', async () => {
  await goto('/logs?group=1');
  await until(async () => (await rowsOf(tid('log-group-row'))) >= 1, 'grouping should show grouped rows with counts');
  const groups = await rowsOf(tid('log-group-row'));
  const total = await page.locator(tid('log-count')).evaluateAll((els) => els.reduce((n, e) => n + Number(e.textContent.replace('×', '')), 0));
  expect(total === m.logs.length, `the group counts add up to ${total}, not the ${m.logs.length} records`);
  const live = await need(tid('log-live'), 'the live/pause control');
  await live.click();
  await until(async () => (await live.getAttribute('aria-pressed')) === 'true', 'pause should turn aria-pressed="true"');
  return `${groups} groups of ${total} records; paused`;
});

// ---------------------------------------------------------------------------
// j. Incomplete traces: a running execution's tasks arrive before its root.
//    The list marks the trace, the page hangs the tasks under a placeholder,
//    and fills it in when the root arrives, without a reload. A parent that
//    never comes is said so after the grace period.
// ---------------------------------------------------------------------------

const hex = (n, len) => Array.from({ length: len }, (_, i) => ((n * 7 + i * 13) % 16).toString(16)).join('');
const LATE = { trace: hex(3, 32), root: hex(5, 16), t1: hex(6, 16), t2: hex(7, 16), g: hex(8, 16) };
const LOST = { trace: hex(9, 32), parent: hex(10, 16), child: hex(11, 16) };
const nowNs = BigInt(Date.now()) * 1_000_000n;
const ns = (ms) => String(nowNs + BigInt(ms) * 1_000_000n);
const otlpSpan = (trace, id, parent, name, fromMs, toMs) => ({
  traceId: trace,
  spanId: id,
  ...(parent ? { parentSpanId: parent } : {}),
  name,
  kind: 1,
  startTimeUnixNano: ns(fromMs),
  endTimeUnixNano: ns(toMs),
  attributes: [{ key: 'kestra.flowId', value: { stringValue: 'long_running' } }],
});
async function sendSpans(spans) {
  const body = {
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] }, scopeSpans: [{ scope: { name: 'io.kestra.core.runners.Worker' }, spans }] }],
  };
  const res = await fetch(`http://${addrs.http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.ok, `OTLP/HTTP answered ${res.status}: ${await res.text()}`);
}
const classes = async (sel) => (await vis(sel).getAttribute('class')) ?? '';

await check('j1-incomplete-trace-listed', async () => {
  await sendSpans([
    otlpSpan(LATE.trace, LATE.t1, LATE.root, 'WORKER - io.kestra.plugin.scripts.shell.Commands', -4000, -3000),
    otlpSpan(LATE.trace, LATE.g, LATE.t1, 'WORKER - io.kestra.plugin.core.log.Log', -3900, -3500),
    otlpSpan(LATE.trace, LATE.t2, LATE.root, 'WORKER - io.kestra.plugin.core.http.Request', -2500, -1000),
    otlpSpan(LOST.trace, LOST.child, LOST.parent, 'WORKER - io.kestra.plugin.core.log.Log', -2000, -1500),
  ]);
  await goto('/?q=kestra.flowId%20%3D%20long_running');
  const row = byTrace('trace-row', LATE.trace);
  await need(row, 'the incomplete trace in the list');
  const chip = await need(`${row} ${tid('trace-incomplete')}`, 'the "incomplete" mark on its row');
  return `row says ${JSON.stringify(await chip.innerText())}`;
});

await check('j2-placeholder-then-full-tree-live', async () => {
  await goto(`/trace/${LATE.trace}`);
  const ph = spanRow(LATE.root);
  await need(ph, 'a placeholder row for the root that has not arrived');
  await until(async () => (await classes(ph)).includes('placeholder'), 'the root row should be a placeholder');
  const waiting = await vis(ph).innerText();
  expect(/waiting for parent span/.test(waiting), `the placeholder should say it waits for its parent: ${JSON.stringify(waiting)}`);
  expect((await rowsOf(tid('span-row'))) === 4, `placeholder, 2 tasks and a grandchild should show, not ${await rowsOf(tid('span-row'))} rows`);
  await need(tid('trace-incomplete'), 'the "incomplete" mark in the header');
  await shot('j2-placeholder');
  // No reload from here on: a marker on the window must survive.
  await page.evaluate(() => {
    window.__loupeNoReload = true;
  });
  await page.waitForTimeout(ROOT_DELAY_MS);
  await sendSpans([otlpSpan(LATE.trace, LATE.root, null, 'EXECUTOR - io.kestra.plugin.core.flow.Sequential', -5000, 0)]);
  await until(async () => !(await classes(ph)).includes('placeholder') && (await vis(ph).innerText()).includes('EXECUTOR'), 'the placeholder should become the root span once it arrives', 15_000);
  expect(await page.evaluate(() => window.__loupeNoReload === true), 'the page reloaded');
  expect((await rowsOf(tid('span-row'))) === 4, `the full tree should have 4 rows, not ${await rowsOf(tid('span-row'))}`);
  const order = await page
    .locator(tid('span-row'))
    .filter({ visible: true })
    .evaluateAll((els) => els.map((e) => e.dataset.spanId));
  expect(JSON.stringify(order) === JSON.stringify([LATE.root, LATE.t1, LATE.g, LATE.t2]), `rows in tree order, got ${order}`);
  await until(async () => (await rowsOf(tid('trace-incomplete'))) === 0, 'the "incomplete" mark should go');
  return `root arrived ${ROOT_DELAY_MS} ms after its children; tree filled in live`;
});

await check('j3-parent-never-arrived-after-grace', async () => {
  await goto(`/trace/${LOST.trace}`);
  const ph = spanRow(LOST.parent);
  await need(ph, "a placeholder for the parent that won't arrive");
  await until(async () => /never arrived/.test(await vis(ph).innerText()), `after the grace (${PARENT_GRACE}) the placeholder should say the parent never arrived`, 20_000);
  return JSON.stringify(await vis(ph).innerText());
});

// ---------------------------------------------------------------------------
// k. A span whose timestamps look wrong (2018, long before it arrived) is kept,
//    shown where it is, and flagged: a "clock?" badge and the reason in details.
// ---------------------------------------------------------------------------

const OLD = { trace: hex(12, 32), span: hex(13, 16) };

await check('k-clock-badge-on-suspect-timestamps', async () => {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] },
        scopeSpans: [
          {
            scope: { name: 'io.kestra.core.runners.Worker' },
            spans: [
              { traceId: OLD.trace, spanId: OLD.span, name: 'WORKER - io.kestra.plugin.core.log.Log', kind: 1, startTimeUnixNano: '1544712660000000000', endTimeUnixNano: '1544712661000000000' },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`http://${addrs.http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.ok, `OTLP/HTTP answered ${res.status}: ${await res.text()}`);
  await goto(`/trace/${OLD.trace}`);
  const row = spanRow(OLD.span);
  await need(row, 'the 2018 span in its trace');
  const badge = await need(`${row} .time-suspect`, 'a "clock?" badge on the span row');
  const text = await badge.innerText();
  expect(text.includes('clock?'), `the badge reads ${JSON.stringify(text)}`);
  const title = (await badge.getAttribute('title')) ?? '';
  expect(/Timestamp looks wrong/.test(title), `the badge's hover text says why: ${JSON.stringify(title)}`);
  await vis(row).click();
  const details = await need(tid('span-details'), 'span details after selecting the 2018 span');
  await until(
    async () => /Timestamp looks wrong/.test(await details.innerText()) && /2018/.test(await details.innerText()),
    'span details should say the timestamp looks wrong and state its date (2018)',
  );
  await shot('k-clock-badge');
  // The logs page: a 2018 record's badge sits beside its time, and the
  // service and the body keep their columns (the badge once took the
  // service's column and pushed the rest along).
  const logs = {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra-old-clock' } }] },
        scopeLogs: [{ logRecords: [{ timeUnixNano: '1544712660300000000', severityText: 'Information', body: { stringValue: 'oldclockrecord' } }] }],
      },
    ],
  };
  const lres = await fetch(`http://${addrs.http}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(logs) });
  expect(lres.ok, `OTLP/HTTP logs answered ${lres.status}`);
  await goto('/logs?q=oldclockrecord');
  const entry = await need(`${tid('log-entry')}:has(.time-suspect)`, 'the 2018 log record with a clock? badge');
  const boxes = await entry.evaluate((el) => {
    const box = (sel) => el.querySelector(sel)?.getBoundingClientRect().toJSON() ?? null;
    return { when: box('.log-when'), svc: box('.svc-name'), body: box('.log-body'), badgeInWhen: !!el.querySelector('.log-when .time-suspect') };
  });
  expect(boxes.badgeInWhen, 'the badge should sit in the time cell');
  expect(boxes.svc && boxes.when && boxes.svc.left >= boxes.when.right - 1, `the service should stand right of the time and badge: ${JSON.stringify(boxes)}`);
  expect(boxes.body && boxes.svc && boxes.body.left >= boxes.svc.right - 1, `the body should stand right of the service: ${JSON.stringify(boxes)}`);
  expect((await entry.innerText()).includes('kestra-old-clock'), 'the service name shows');
  await shot('k-clock-badge-logs');
  return JSON.stringify(text);
});

await check('z-no-page-errors', async () => {
  expect(pageErrors.length === 0, `the page logged errors:\n    ${pageErrors.join('\n    ')}`);
});

await cleanup();
listScreenshots();
if (failures.length) {
  log(`\n${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
log(`\nall browser checks passed in ${elapsed()}`);
process.exit(0);
