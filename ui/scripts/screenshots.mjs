// Screenshots of the main views, for a person to look at.
//
//   LOUPE_API=http://127.0.0.1:46686 node scripts/screenshots.mjs [outDir]
//
// Needs a running Loupe with the Kestra-shaped workload of tests/e2e/node sent
// to it (at least once), and the UI served (see browser.mjs: uiBase).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { api, launch, uiBase } from './browser.mjs';

const API = (process.env.LOUPE_API ?? 'http://127.0.0.1:16686').replace(/\/+$/, '');
const OUT = process.argv[2] ?? '/tmp/loupe-screens';
mkdirSync(OUT, { recursive: true });

const base = await uiBase(API);

// The newest workload run: its main trace has the ForEachItem span and the failed task.
const { traces } = await api(API, `/api/v1/traces?${new URLSearchParams({ spanName: 'EXECUTOR - io.kestra.plugin.core.flow.ForEachItem', limit: '1' })}`);
if (!traces.length) throw new Error('no ForEachItem trace: send tests/e2e/node/workload.mjs to Loupe first');
const main = traces[0].traceId;
const data = await api(API, `/api/v1/traces/${main}`);
const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const failed = spans.find((s) => s.status && (s.status.code === 2 || s.status.code === 'STATUS_CODE_ERROR'));
const forEach = spans.find((s) => s.name.endsWith('ForEachItem'));

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1500, height: 900 }, deviceScaleFactor: 1 });
const errors = [];
page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
page.on('console', (m) => {
  // Failed API answers are checked below (the malformed query's 400 is expected).
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
});
page.on('response', (res) => {
  const u = new URL(res.url());
  if (res.status() >= 400 && !(res.status() === 400 && u.searchParams.has('q'))) errors.push(`HTTP ${res.status()} for ${u.pathname}${u.search}`);
});

async function shot(name, url, ready, after) {
  await page.goto(`${base}${url}`);
  await ready();
  if (after) await after();
  await page.waitForTimeout(400);
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path });
  console.log(`${name}: ${path}  (${url})`);
}

const rows = () => page.waitForSelector('[data-testid="span-row"]');

await shot('1-trace-list', '/', () => page.waitForSelector('[data-testid="trace-row"]'));
await shot('2-trace-failed-span', `/trace/${main}?span=${failed.spanId}`, async () => {
  await rows();
  await page.waitForSelector(`[data-testid="span-details"][data-span-id="${failed.spanId}"]`);
});
await shot('3-stitched-foreachitem', `/trace/${main}?stitched=1&span=${forEach.spanId}`, async () => {
  await page.waitForSelector('[data-testid="stitched-trace-badge"]');
});
await shot('4-group-by-execution', `/trace/${main}?stitched=1&group=kestra.executionId`, async () => {
  await page.waitForSelector('[data-testid="lane"]');
});
await shot('5-logs-tab', `/trace/${main}?tab=logs`, async () => {
  await page.waitForSelector('[data-testid="log-row"]');
});
await shot('6-find-in-trace', `/trace/${main}?find=kestra.taskId`, async () => {
  await rows();
});
await shot('7-search-error', `/?q=${encodeURIComponent('kestra.namespace = "company.team" AND (http.response.status_code >= OR x')}`, async () => {
  await page.waitForSelector('[data-testid="search-error"]:not([hidden]), [data-testid="trace-row"]');
});

// Broken data stays visible: orphans, a parent cycle, end-before-start, a huge
// attribute value, deep nesting. Sent only when LOUPE_OTLP_HTTP is set.
const OTLP = process.env.LOUPE_OTLP_HTTP?.replace(/\/+$/, '');
if (OTLP) {
  const traceId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const now = BigInt(Date.now()) * 1_000_000n;
  const ns = (ms) => (now + BigInt(ms) * 1_000_000n).toString();
  const id = (n) => n.toString(16).padStart(16, '0');
  const sp = (n, parent, name, a, b, extra = {}) => ({ traceId, spanId: id(n), parentSpanId: parent ? id(parent) : '', name, kind: 1, startTimeUnixNano: ns(a), endTimeUnixNano: ns(b), ...extra });
  const spans = [
    sp(1, 0, 'root', 0, 1000),
    sp(2, 1, 'child with a huge attribute', 10, 400, {
      attributes: [
        { key: 'payload', value: { stringValue: 'x'.repeat(20000) } },
        { key: 'html', value: { stringValue: '<img src=x onerror=alert(1)>' } },
      ],
    }),
    sp(3, 99, 'orphan: parent 0000000000000063 never arrives', 100, 300),
    sp(4, 3, 'child of the orphan', 120, 200),
    sp(5, 6, 'cycle a', 500, 600),
    sp(6, 5, 'cycle b', 510, 590),
    sp(7, 1, 'ends before it starts', 700, 650, { status: { code: 2, message: 'clock skew?' } }),
  ];
  for (let d = 0; d < 60; d++) spans.push(sp(100 + d, d === 0 ? 1 : 99 + d, `level ${d + 1}`, 800 + d, 990 - d));
  const res = await fetch(`${OTLP}/v1/traces`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'broken' } }] }, scopeSpans: [{ scope: { name: 'test' }, spans }] }] }),
  });
  if (!res.ok) throw new Error(`POST broken trace: ${res.status} ${await res.text()}`);
  await shot('8-broken-data', `/trace/${traceId}?span=${id(2)}`, async () => {
    await page.waitForSelector(`[data-testid="span-details"][data-span-id="${id(2)}"]`);
  });
}

await browser.close();
if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
