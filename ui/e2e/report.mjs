// Opens a Loupe HTML report (a file written by `loupe export --format html`)
// in headless Chromium with the network off, run by `tests/export.rs`:
//
//   node ui/e2e/report.mjs <report.html> <expected spans> <expected charts> <screenshot.png>
//
// Checks that the report renders offline (summary, trace tree and timeline
// with each span's duration and status, span details — attributes, status,
// duration — open from the start and on click, logs, metric charts drawn by
// crates/charts and embedded as SVG), that no request other
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
    // Charts embedded by the Rust side (loupe-charts), inside the report's main.
    charts: document.querySelectorAll('#report #metric-charts figure.metric-chart > svg').length,
    chartAxisLabels: [...document.querySelectorAll('#metric-charts figure.metric-chart > svg text')].map((t) => t.textContent.trim()).slice(0, 40),
    legendItems: document.querySelectorAll('#metric-charts .legend li').length,
    durations: [...document.querySelectorAll('#traces .span-row .span-dur')].filter((d) => /\d (ms|s)$/.test(d.textContent)).length,
    errorRows: document.querySelectorAll('#traces .span-row .span-status.err').length,
    // Details open before any click: the first failed span's (or the root's).
    openFacts: Object.fromEntries(
      [...(document.querySelectorAll('#traces .details:not([hidden])')[0]?.querySelectorAll('tr[data-fact]') ?? [])].map((r) => [r.dataset.fact, r.querySelector('td').textContent]),
    ),
    openStatuses: [...document.querySelectorAll('#traces .details:not([hidden]) tr[data-fact="status"] td')].map((td) => td.textContent),
    openText: document.querySelector('#traces .details:not([hidden])')?.textContent ?? '',
  }));
  await page.click('#traces .span-row');
  const details = await page.textContent('#traces .details:not([hidden])');
  if (SHOT) await page.screenshot({ path: SHOT, fullPage: true });
  const { openText, ...shown } = seen;
  console.log(JSON.stringify({ ...shown, details: details.slice(0, 200), requests, errors }));
  if (seen.spans !== Number(SPANS)) fail(`${seen.spans} span rows, expected ${SPANS}`);
  if (seen.bars !== seen.spans) fail(`${seen.bars} timeline bars for ${seen.spans} spans`);
  if (seen.charts < Number(CHARTS)) fail(`${seen.charts} metric charts, expected at least ${CHARTS}`);
  if (!details?.includes('span ')) fail(`clicking a span showed no details: ${details}`);
  if (seen.durations !== seen.spans) fail(`${seen.durations} span rows show a duration, of ${seen.spans}`);
  if (seen.errorRows < 1) fail('no span row shows an ERROR status');
  for (const f of ['duration', 'status', 'kind', 'start', 'trace', 'span']) if (!seen.openFacts[f]) fail(`the open details lack ${f}: ${JSON.stringify(seen.openFacts)}`);
  if (!seen.openStatuses.some((t) => /^ERROR/.test(t))) fail(`a trace with a failed span should open on it: statuses ${seen.openStatuses}`);
  if (!/\d (ms|s)$/.test(seen.openFacts.duration)) fail(`duration ${seen.openFacts.duration}`);
  if (!openText.includes('Attributes')) fail(`the open details show no attributes: ${openText.slice(0, 300)}`);
  if (seen.charts >= 1 && seen.legendItems < seen.charts) fail(`${seen.legendItems} legend items for ${seen.charts} charts`);
  if (seen.charts >= 1 && !seen.chartAxisLabels.some((t) => /\d/.test(t))) fail(`the embedded charts have no axis labels: ${seen.chartAxisLabels}`);
  if (seen.chartAxisLabels.some((t) => /^-?\d+(\.\d+)?m$/.test(t))) fail(`an axis label reads as a milli prefix: ${seen.chartAxisLabels}`);
  if (requests.length) fail(`requests left the page: ${requests.join(', ')}`);
  if (errors.length) fail(`errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
}
