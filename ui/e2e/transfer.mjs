// The web UI's export and import dialog in headless Chromium, run by
// `tests/export.rs` against a running Loupe that holds a trace with secrets:
//
//   node ui/e2e/transfer.mjs <API base URL> <trace ID> <file to import> <screenshot.png>
//
// Imports the file through the file picker (the same path as a drop), checks
// the report and the imports list, then opens the trace page's export
// dialog, previews (what is masked, per key) and downloads the export,
// checking the file has no marker secret. Prints one JSON line; exits
// non-zero with a message on the first failed check.

import { readFileSync } from 'node:fs';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , BASE, TRACE, FILE, SHOT] = process.argv;
const fail = (m) => {
  process.stderr.write(`transfer check failed: ${m}\n`);
  process.exit(1);
};

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console.error: ${m.text()}`);
  });

  // Import through the file picker.
  await page.goto(`${BASE}/`);
  await page.click('[data-testid="transfer-open"]');
  await page.setInputFiles('[data-testid="import-file"]', FILE);
  await page.waitForSelector('[data-testid="import-results"] .transfer-result.ok, [data-testid="import-results"] .transfer-result.warn, [data-testid="import-results"] .transfer-result.error');
  const result = await page.textContent('[data-testid="import-results"]');
  if (!/imported/.test(result) || /error/i.test(result)) fail(`import result: ${result}`);
  await page.waitForFunction(() => document.querySelector('[data-testid="imports-list"] td')?.textContent?.length > 0);
  const list = await page.textContent('[data-testid="imports-list"]');
  const name = FILE.split('/').pop();
  if (!list.includes(name)) fail(`imports list lacks ${name}: ${list}`);

  // Export the trace: preview shows what is masked, the download holds no secret.
  await page.goto(`${BASE}/trace/${TRACE}`);
  await page.click('[data-testid="transfer-open"]');
  await page.click('[data-testid="export-go"]');
  await page.waitForSelector('[data-testid="export-preview"] table');
  const preview = await page.textContent('[data-testid="export-preview"]');
  if (!preview.includes('db.password')) fail(`preview lacks db.password: ${preview}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-save"]')]);
  const path = await download.path();
  const text = readFileSync(path, 'utf8');
  if (!text.includes('"resourceSpans"')) fail('the download is not OTLP JSON Lines');
  if (text.includes('S3CR3T-MARKER')) fail('the download leaks the marker secret');
  if (SHOT) await page.screenshot({ path: SHOT });
  console.log(JSON.stringify({ result, list, preview: preview.slice(0, 300), bytes: text.length, errors }));
  if (errors.length) fail(`errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
}
