// The finished-look test, run by `tests/browser_analysis.rs` on the same
// Loupe (two runs of `loupe demo`):
//
//   node ui/e2e/look.mjs <API base URL> <artifacts directory> <trace A> <trace B>
//
// Walks every page (trace list, trace with its logs tab, compare, metrics,
// dashboard, logs, alerts, rule editor, settings, the export/import dialog)
// in the light and the dark theme, chosen with the header's theme switch,
// and fails when
// - a visible control (button, input, select, text area, checkbox, file
//   picker) has none of the component classes (components.ts
//   CONTROL_CLASSES), or its computed look equals the browser's default
//   (measured on the same control in a shadow root, which the page's
//   styles do not reach);
// - a page has no padding: text closer than 12 px to the window's left edge,
//   or a page root without padding;
// - in the dark theme, anything large is white (a white slab: a chart
//   drawn for the light theme and not adapted, a panel with a literal
//   white background);
// - the theme is not applied or not remembered across a reload;
// - the page logs an error.
// Before the walk, it plants a bare button and an input with our class but
// the browser's look (`all: revert`) and fails unless both are reported, so
// the detector cannot silently pass.
// One screenshot per page and theme goes to the artifacts directory
// (look-<theme>-<page>.png).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , BASE, ARTIFACTS, A, B] = process.argv;
const log = (s) => process.stdout.write(`${s}\n`);
mkdirSync(ARTIFACTS, { recursive: true });

/** components.ts CONTROL_CLASSES (kept equal by hand: this script is not compiled). */
const CONTROL_CLASSES = ['btn', 'link-btn', 'tab', 'seg-btn', 'chip', 'kchip', 'legend-item', 'wf-toggle', 'stats-sort', 'input', 'select', 'textarea', 'checkbox', 'file'];
const MIN_PAD = 12;

/** Runs in the page: what is wrong with the look of what is on screen now. */
function audit({ classes, minPad, theme }) {
  const problems = [];
  const describe = (el) => {
    const label = (el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent || el.getAttribute('placeholder') || el.getAttribute('data-testid') || '').trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}${el.type && el.tagName === 'INPUT' ? ` type=${el.type}` : ''} class="${el.className}"> "${label}"`;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const c = getComputedStyle(el);
    return c.visibility !== 'hidden' && c.display !== 'none';
  };
  // The browser's defaults: the same controls where no page style reaches.
  const host = document.createElement('div');
  host.style.position = 'fixed';
  host.style.left = '-10000px';
  document.body.appendChild(host);
  const root = host.attachShadow({ mode: 'open' });
  const make = (tag, type) => {
    const e = document.createElement(tag);
    if (type) e.type = type;
    if (tag === 'button') e.textContent = 'x';
    root.appendChild(e);
    return e;
  };
  const look = (el, pseudo) => {
    const c = getComputedStyle(el, pseudo);
    return [c.backgroundColor, c.borderTopStyle, c.borderTopWidth, c.borderTopColor, c.borderTopLeftRadius].join(' ');
  };
  const ua = {
    button: look(make('button')),
    text: look(make('input', 'text')),
    select: look(make('select')),
    textarea: look(make('textarea')),
    file: look(make('input', 'file'), '::file-selector-button'),
  };
  host.remove();

  for (const el of document.querySelectorAll('button, input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const kind =
      el.tagName === 'BUTTON'
        ? 'button'
        : el.tagName === 'SELECT'
          ? 'select'
          : el.tagName === 'TEXTAREA'
            ? 'textarea'
            : el.type === 'checkbox' || el.type === 'radio'
              ? 'checkbox'
              : el.type === 'file'
                ? 'file'
                : 'text';
    if (!classes.some((c) => el.classList.contains(c))) problems.push(`${describe(el)}: none of the component classes`);
    if (kind === 'checkbox') {
      if (getComputedStyle(el).accentColor === 'auto') problems.push(`${describe(el)}: a browser-default checkbox (accent-color auto)`);
    } else if (kind === 'file') {
      if (look(el, '::file-selector-button') === ua.file) problems.push(`${describe(el)}: a browser-default file button`);
    } else if (look(el) === ua[kind]) problems.push(`${describe(el)}: the browser's default look (${ua[kind]})`);
  }

  // Padding: the page root pads its content, and no text touches the left edge.
  const page = document.querySelector('.app-main > .page');
  if (!page) problems.push('no .page under .app-main');
  else if (!page.matches('.trace-view, .trace-list') && parseFloat(getComputedStyle(page).paddingLeft) < minPad) problems.push(`the page root (${page.className}) has no padding`);
  const dialog = document.querySelector('dialog[open]');
  const scopes = dialog ? [dialog] : [document.querySelector('.app-main')];
  const edge = dialog ? dialog.getBoundingClientRect().left : 0;
  let minLeft = Infinity;
  let leftmost = '';
  for (const scope of scopes) {
    const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
    let n = 0;
    for (let t = walker.nextNode(); t && n < 20000; t = walker.nextNode(), n++) {
      if (!t.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(t);
      for (const r of range.getClientRects()) {
        if (r.width < 1 || r.bottom < 0 || r.top > innerHeight || r.right < 0) continue;
        if (r.left - edge < minLeft) {
          minLeft = r.left - edge;
          leftmost = t.textContent.trim().slice(0, 40);
        }
      }
    }
  }
  if (minLeft < minPad) problems.push(`text ${minLeft.toFixed(0)} px from the left edge ("${leftmost}"): no page padding`);

  // Labels on bars read on their bar (WCAG contrast of at least 3 for these bold/small labels).
  const lum = (c) => {
    const [r, g, b] = (c.match(/[\d.]+/g) ?? [])
      .map(Number)
      .map((v) => v / 255)
      .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  for (const label of document.querySelectorAll('.wf-dur.inside, .fg-box')) {
    if (!visible(label) || !label.textContent.trim()) continue;
    const bar = label.classList.contains('fg-box') ? label : label.parentElement?.querySelector('.wf-bar');
    if (!bar) continue;
    const cr = ratio(getComputedStyle(label).color, getComputedStyle(bar).backgroundColor);
    if (cr < 3) problems.push(`the label "${label.textContent.trim().slice(0, 30)}" has contrast ${cr.toFixed(2)} on its bar`);
  }

  // The theme is applied; in the dark theme nothing large is white.
  if (document.documentElement.dataset.theme !== theme) problems.push(`data-theme is ${document.documentElement.dataset.theme}, not ${theme}`);
  const rgb = (s) => (s.match(/[\d.]+/g) ?? []).map(Number);
  const [r, g, b] = rgb(getComputedStyle(document.body).backgroundColor);
  const dark = r + g + b < 3 * 80;
  if (dark !== (theme === 'dark')) problems.push(`the page background ${getComputedStyle(document.body).backgroundColor} does not fit the ${theme} theme`);
  if (theme === 'dark') {
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.width * box.height < 5000 || !visible(el)) continue;
      const c = getComputedStyle(el);
      const [x, y, z, a = 1] = rgb(c.backgroundColor);
      if (a > 0.5 && x > 230 && y > 230 && z > 230) problems.push(`${describe(el)}: a white slab in the dark theme`);
      if (el.tagName === 'svg' || el.tagName === 'SVG') {
        const bg = el.querySelector(':scope > rect');
        const fill = (bg?.getAttribute('fill') ?? '').toLowerCase();
        if (['#fff', '#ffffff', 'white'].includes(fill) && c.filter === 'none' && !el.closest('[style*="filter"]'))
          problems.push(`a chart (${el.closest('[data-testid]')?.getAttribute('data-testid') ?? 'svg'}) drawn white in the dark theme`);
      }
    }
  }
  return problems;
}

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  timeout: 30_000,
});
const failures = [];
const errors = [];
try {
  // The system prefers light: the dark pass comes only from the switch.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are judged below, by their address.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (res) => {
    const u = new URL(res.url());
    // A server whose charts do not take `theme` yet answers 400 once per page load; api.ts asks again without it.
    const themeFallback = res.status() === 400 && u.pathname.endsWith('/chart') && u.searchParams.has('theme');
    if (res.status() >= 400 && !themeFallback) errors.push(`HTTP ${res.status()} for ${u.pathname}${u.search}`);
  });
  page.on('dialog', (d) => void d.accept());

  const pages = [
    ['traces', '/', '[data-testid=trace-row]'],
    ['trace', `/trace/${A}`, '[data-testid=span-row]'],
    ['trace-logs', `/trace/${A}?tab=logs`, '[data-testid=log-row]'],
    ['flame', `/trace/${A}`, '[data-testid=span-row]'],
    ['compare', `/compare?a=${A}&b=${B}`, '[data-testid=compare-summary]'],
    ['metrics', '/explore/metrics?metric=kestra.worker.job.duration', '[data-testid=chart] svg'],
    ['dashboard', '/dashboard', '[data-testid=dashboard-panel] svg'],
    ['logs', '/logs', '.log-entry'],
    ['alerts', '/rules', '[data-testid=rules-page] h2'],
    ['rule-editor', '/rules/new', '[data-testid=rule-name]'],
    ['settings', '/settings', '[data-testid=filters]'],
    ['export-import', `/trace/${A}`, '[data-testid=span-row]'],
  ];

  // The detector itself: a bare button, and an input that has our class but
  // the browser's look (all: revert), must both be reported.
  await page.goto(`${BASE}/`);
  await page.locator('[data-testid=trace-row]').first().waitFor();
  await page.evaluate(() => {
    const page = document.querySelector('.app-main .page');
    const bare = document.createElement('button');
    bare.textContent = 'planted bare button';
    const reverted = document.createElement('input');
    reverted.className = 'input';
    reverted.placeholder = 'planted reverted input';
    reverted.style.all = 'revert';
    for (const el of [bare, reverted]) el.dataset.planted = '1';
    page.prepend(bare, reverted);
  });
  const planted = await page.evaluate(audit, { classes: CONTROL_CLASSES, minPad: MIN_PAD, theme: 'light' });
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('[data-planted]')) el.remove();
  });
  const caught = (what) => planted.some((p) => p.includes(what));
  if (!caught('"planted bare button": none of the component classes') || !caught('"planted reverted input": the browser'))
    failures.push(`the audit missed planted browser-default controls: ${JSON.stringify(planted)}`);
  else log('ok the audit reports planted browser-default controls');

  for (const theme of ['light', 'dark']) {
    const t0 = Date.now();
    // The switch: pick the theme, then reload: it must be remembered.
    await page.goto(`${BASE}/`);
    await page.locator('[data-testid=theme-switch]').selectOption(theme);
    await page.reload();
    await page.locator('[data-testid=trace-row]').first().waitFor();
    const kept = await page.evaluate(() => [document.documentElement.dataset.theme, document.querySelector('[data-testid=theme-switch]').value]);
    if (kept[0] !== theme || kept[1] !== theme) failures.push(`${theme}: after a reload the theme is ${kept[0]} and the switch shows ${kept[1]}`);
    if (theme === 'light') {
      // A find without a match leaves the tree as it was (it used to collapse it all).
      await page.goto(`${BASE}/trace/${A}`);
      await page.locator('[data-testid=span-row]').first().waitFor();
      const before = await page.locator('[data-testid=span-row]').count();
      await page.goto(`${BASE}/trace/${A}?find=${encodeURIComponent('no such text anywhere 0xdeadbeef')}`);
      await page.getByText('no match').waitFor();
      const after = await page.locator('[data-testid=span-row]').count();
      if (after !== before) failures.push(`a find without a match changed the tree from ${before} to ${after} rows`);
      // Something to show on the dashboard: pin the chart (the button is one of ours).
      await page.goto(`${BASE}/explore/metrics?metric=kestra.worker.job.duration`);
      await page.locator('[data-testid=chart] svg').waitFor();
      await page.locator('[data-testid=pin-chart]').click();
      await page.getByText('Pinned to the dashboard.').waitFor();
    }
    for (const [name, url, ready] of pages) {
      await page.goto(`${BASE}${url}`);
      await page.locator(ready).first().waitFor();
      if (name === 'flame') {
        await page.locator('[data-testid=flame-toggle]').click();
        await page.locator('[data-testid=flame-box]').first().waitFor();
      }
      if (name === 'export-import') {
        await page.locator('[data-testid=transfer-open]').click();
        await page.locator('dialog[open] [data-testid=export-go]').waitFor();
      }
      await page.waitForTimeout(150);
      const problems = await page.evaluate(audit, { classes: CONTROL_CLASSES, minPad: MIN_PAD, theme });
      await page.screenshot({ path: join(ARTIFACTS, `look-${theme}-${name}.png`) });
      for (const p of problems) failures.push(`${theme} ${name}: ${p}`);
      log(`${problems.length ? 'FAIL' : 'ok'} ${theme} ${name}${problems.length ? ` (${problems.length} problems)` : ''}`);
    }
    log(`${theme}: ${pages.length} pages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  // Back to the system's theme for whoever uses this profile next.
  await page.locator('[data-testid=theme-switch]').selectOption('system');
} catch (e) {
  failures.push(`${e.message}`);
} finally {
  await browser.close();
}
for (const e of errors) failures.push(e);
if (failures.length) {
  log(`\nFAIL (${failures.length}):\n${failures.join('\n')}`);
  process.exit(1);
}
log('look: every page styled and padded in both themes');
