// Browser check of the low-disk banner, run by `tests/browser_disk.rs`:
//
//   node ui/e2e/disk.mjs <API base URL> <OTLP/HTTP base URL> <artifacts directory>
//
// The Loupe under test runs with a free-space threshold no disk meets
// (`--min-free-disk 1000TiB`), so its real disk counts as low: an OTLP
// export is refused with the retryable 503, and every page shows the banner
// saying why and what to do.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , API_ARG, OTLP_ARG, ARTIFACTS_ARG] = process.argv;
if (!API_ARG || !OTLP_ARG || !ARTIFACTS_ARG) {
  process.stdout.write('usage: node ui/e2e/disk.mjs <API base URL> <OTLP/HTTP base URL> <artifacts dir>\n');
  process.exit(2);
}
const ARTIFACTS = resolve(ARTIFACTS_ARG);
mkdirSync(ARTIFACTS, { recursive: true });
const log = (s) => process.stdout.write(`${s}\n`);

let browser = null;
async function fail(msg) {
  log(`FAIL: ${msg}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
const watchdog = setTimeout(() => void fail('the run took longer than 30 s'), 30_000);
watchdog.unref();

// Refused, retryably, once the writer has seen the low disk (within a second).
const now = String(BigInt(Date.now()) * 1_000_000n);
const body = JSON.stringify({
  resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'd1'.repeat(16), spanId: 'd1'.repeat(8), name: 'op', startTimeUnixNano: now, endTimeUnixNano: now }] }] }],
});
for (let i = 0; ; i++) {
  const r = await fetch(`${OTLP_ARG}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  if (r.status === 503) {
    const text = await r.text();
    if (!r.headers.get('retry-after')) await fail('the 503 has no Retry-After');
    if (!text.includes('low disk space')) await fail(`the 503 does not say why: ${text}`);
    log('ok   export refused: 503 with Retry-After, "low disk space"');
    break;
  }
  if (i > 40) await fail(`exports were never refused (last answer ${r.status})`);
  await new Promise((ok) => setTimeout(ok, 50));
}

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  await fail(`cannot load playwright-core (${e.message}): run \`npm ci --prefix ui\``);
}
browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
page.setDefaultTimeout(10_000);
for (const path of ['/', '/settings']) {
  try {
    await page.goto(`${API_ARG}${path}`, { waitUntil: 'domcontentloaded' });
    const banner = page.locator('[data-testid="disk-banner"]');
    await banner.waitFor({ state: 'visible' });
    const text = await banner.textContent();
    for (const want of ['Low disk space', 'MiB threshold (--min-free-disk)', 'refusing new telemetry', 'Free disk space', '--max-db-size']) {
      if (!text.includes(want)) throw new Error(`the banner does not say ${JSON.stringify(want)}: ${text}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, `disk-banner${path === '/' ? '' : path.replace('/', '-')}.png`) });
    log(`ok   banner on ${path}`);
  } catch (e) {
    await page.screenshot({ path: join(ARTIFACTS, 'disk-banner-failed.png') }).catch(() => {});
    await fail(`${path}: ${e.message}`);
  }
}
await browser.close();
log('all low-disk checks passed');
