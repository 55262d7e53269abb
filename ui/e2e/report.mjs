// Opens a Loupe HTML report (a file written by `loupe export --format html`)
// in headless Chromium with the network off, run by `tests/export.rs`:
//
//   node ui/e2e/report.mjs <report.html> <expected spans> <expected charts> <screenshot.png>
//
// Checks that the report renders offline (summary, trace tree and timeline,
// span details on click, logs, metric charts as SVG), that no request other
// than loading the file itself leaves the page, and that nothing is refused
// by its CSP or throws. Prints one JSON line with what it saw; exits non-zero
// with a message on the first failed check.

import { pathToFileURL } from 'node:url';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , FILE, SPANS, CHARTS, SHOT] = process.argv;

const fail = (m) => {
  process.stderr.write(`report check failed: ${m}\n`);
  process.exit(1);
};

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`cannot load playwright-core (${e.message}): run \`npm ci --prefix ui\``);
}
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  timeout: 30_000,
});
try {
  const context = await browser.newContext({ offline: true, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const url = pathToFileURL(FILE).href;
  const requests = [];
  const errors = [];
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  // Anything but the file itself is aborted (and recorded above).
  await context.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url);
  await page.waitForSelector('body[data-rendered="true"]');
  const seen = await page.evaluate(() => ({
    spans: document.querySelectorAll('#traces .span-row').length,
    bars: document.querySelectorAll('#traces .bar').length,
    traces: document.querySelectorAll('#traces .trace').length,
    services: document.querySelectorAll('#summary tr').length - 1,
    logs: document.querySelectorAll('#logs tr').length - 1,
    charts: document.querySelectorAll('#metrics svg polyline').length,
  }));
  await page.click('#traces .span-row');
  const details = await page.textContent('#traces .details:not([hidden])');
  if (SHOT) await page.screenshot({ path: SHOT, fullPage: true });
  console.log(JSON.stringify({ ...seen, details: details.slice(0, 200), requests, errors }));
  if (seen.spans !== Number(SPANS)) fail(`${seen.spans} span rows, expected ${SPANS}`);
  if (seen.bars !== seen.spans) fail(`${seen.bars} timeline bars for ${seen.spans} spans`);
  if (seen.charts < Number(CHARTS)) fail(`${seen.charts} metric charts, expected at least ${CHARTS}`);
  if (!details?.includes('span ')) fail(`clicking a span showed no details: ${details}`);
  if (requests.length) fail(`requests left the page: ${requests.join(', ')}`);
  if (errors.length) fail(`errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
}
