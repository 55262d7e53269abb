// Browser end-to-end test of the rule editor, run by `tests/browser_alerts.rs`
// against a running Loupe that already holds the Node SDK workload:
//
//   node ui/e2e/alerts.mjs <API base URL> <artifacts directory>
//
// Builds the seed's rule in the visual editor (status error AND namespace
// prefix AND (flow cleanup AND namespace company.system)), expects the
// never-matches warning, applies the offered OR, widens the prefix to
// `company.` so the workload's failure matches, backtests (one firing, with a
// link to the trace) and saves; then adds a webhook channel (refused with
// the reason, saved with "allow private"), edits it and sends a test to a
// local receiver. Exits non-zero with a message on failure;
// a screenshot per step goes to the artifacts directory.

import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , BASE, ARTIFACTS] = process.argv;
const log = (s) => process.stdout.write(`${s}\n`);
mkdirSync(ARTIFACTS, { recursive: true });

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
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 400/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  let n = 0;
  const step = async (name, fn) => {
    n += 1;
    await fn();
    await page.screenshot({ path: join(ARTIFACTS, `alerts-${String(n).padStart(2, '0')}-${name}.png`) });
    log(`ok ${n} ${name}`);
  };
  const setInput = async (loc, value) => {
    await loc.fill(value);
    await loc.dispatchEvent('change');
  };
  const yaml = () => page.locator('[data-testid=rule-yaml]').inputValue();
  const waitYaml = async (needle) => {
    for (let i = 0; i < 100; i++) {
      if ((await yaml()).includes(needle)) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`the YAML never showed ${JSON.stringify(needle)}:\n${await yaml()}`);
  };
  const field = (i) => page.locator('[data-testid=pred-field]').nth(i);
  const op = (i) => page.locator('[data-testid=pred-op]').nth(i);
  const value = (i) => page.locator('[data-testid=pred-value]').nth(i);

  await step('editor', async () => {
    await page.goto(`${BASE}/rules/new`);
    await page.locator('[data-testid=cond-tree] [data-testid=pred-field]').waitFor();
    await setInput(page.locator('[data-testid=rule-name]'), 'Failed executions in company');
    await waitYaml('name: Failed executions in company');
    await waitYaml('value: error');
  });
  await step('bad-version', async () => {
    await page.locator('[data-testid=add-pred]').first().click();
    await setInput(field(1), 'kestra.namespace');
    // The value box suggests the namespaces seen in the captured data.
    let seen = [];
    for (let i = 0; i < 50 && !seen.some((v) => v.startsWith('company.')); i++) {
      seen = await page
        .locator('[data-testid=pred-values]')
        .nth(1)
        .locator('option')
        .evaluateAll((os) => os.map((o) => o.value));
      if (!seen.some((v) => v.startsWith('company.'))) await page.waitForTimeout(100);
    }
    if (!seen.some((v) => v.startsWith('company.'))) throw new Error(`no namespace suggested for kestra.namespace: ${JSON.stringify(seen)}`);
    await op(1).selectOption('prefix');
    await setInput(value(1), 'company.team');
    // The seed's bad example as typed: every predicate in one flat AND.
    await page.locator('[data-testid=add-pred]').first().click();
    await setInput(field(2), 'kestra.flowId');
    await setInput(value(2), 'cleanup');
    await page.locator('[data-testid=add-pred]').first().click();
    await setInput(field(3), 'kestra.namespace');
    await op(3).selectOption('equals');
    await setInput(value(3), 'company.system');
    await waitYaml('value: company.system');
  });
  await step('never-matches-warning', async () => {
    const warn = page.locator('[data-testid=never-matches]');
    await warn.getByText('can never fire').waitFor();
    const text = await warn.innerText();
    if (!text.includes('kestra.namespace prefix company.team') || !text.includes('kestra.namespace equals company.system')) throw new Error(`warning text: ${text}`);
  });
  await step('fix-preview', async () => {
    // Before and after, each backtested over the same hour: the AND finds
    // nothing, the OR of whole branches finds the failed run.
    await page.locator('[data-testid=preview-fix]').click();
    const count = async (id) => {
      const loc = page.locator(`[data-testid=${id}-count]`);
      for (let i = 0; i < 100; i++) {
        const t = await loc.innerText();
        if (t !== 'counting…') return t;
        await page.waitForTimeout(100);
      }
      throw new Error(`${id}: no backtest count`);
    };
    const before = await count('fix-before');
    const after = await count('fix-after');
    if (!before.startsWith('0 matches')) throw new Error(`before: ${before}`);
    if (!/^[1-9]\d* match/.test(after)) throw new Error(`after: ${after}`);
    // The plain OR between the two namespaces (what the editor used to
    // apply) is offered too, and its count shows why it is not the fix:
    // it keeps `cleanup` under the AND and misses the failed run.
    const plain = await count('fix-alt-1');
    if (parseInt(plain, 10) >= parseInt(after, 10)) throw new Error(`the plain OR (${plain}) should find fewer than the fix (${after})`);
    const plainShown = await page.locator('[data-testid=fix-alt-1] code').innerText();
    if (!plainShown.includes('(kestra.namespace prefix company.team OR kestra.namespace equals company.system) AND kestra.flowId equals cleanup')) throw new Error(`plain OR: ${plainShown}`);
    const shown = await page.locator('[data-testid=fix-after] code').innerText();
    if (!shown.includes('(kestra.namespace equals company.system AND kestra.flowId equals cleanup)')) throw new Error(`suggested: ${shown}`);
  });
  await step('apply-fix', async () => {
    await page.locator('[data-testid=fix-after-apply]').click();
    await waitYaml('any:');
    await page.locator('[data-testid=never-matches]').getByText('can never fire').waitFor({ state: 'detached' });
    const y = await yaml();
    if (!/- any:\n\s+- field: kestra.namespace\n\s+op: prefix/.test(y)) throw new Error(`the OR is not where expected:\n${y}`);
    if (!/- all:\n\s+- field: kestra.namespace\n\s+op: equals\n\s+value: company.system\n\s+- field: kestra.flowId/.test(y)) throw new Error(`cleanup is not in the company.system branch:\n${y}`);
  });
  await step('widen-prefix', async () => {
    await setInput(value(1), 'company.');
    await waitYaml('value: company.\n');
  });
  await step('yaml-to-tree', async () => {
    // Editing the text updates the tree: set keep_firing in YAML.
    const y = await yaml();
    await page.locator('[data-testid=rule-yaml]').fill(`${y}keep_firing: 10m\n`);
    for (let i = 0; i < 50 && (await page.locator('[data-testid=rule-keep]').inputValue()) !== '10m'; i++) await page.waitForTimeout(100);
    if ((await page.locator('[data-testid=rule-keep]').inputValue()) !== '10m') throw new Error('the YAML edit did not reach the form');
  });
  await step('backtest', async () => {
    await page.locator('[data-testid=backtest]').click();
    const summary = page.locator('[data-testid=backtest-summary]');
    await summary.waitFor();
    const t = await summary.innerText();
    if (!t.includes('fired 1 time')) throw new Error(`backtest: ${t}`);
    const href = await page.locator('[data-testid=backtest-match]').first().getAttribute('href');
    if (!/^\/trace\/[0-9a-f]{32}$/.test(href ?? '')) throw new Error(`match link ${href}`);
  });
  await step('save', async () => {
    await page.locator('[data-testid=save-rule]').click();
    await page.locator('[data-testid=rules-table] tr[data-rule="Failed executions in company"]').waitFor();
  });
  // Channels: the target is checked when saved (a loopback receiver is
  // refused with the reason until "allow private" is ticked), a channel
  // can be edited (an empty URL keeps the stored one), and "Send test"
  // shows how the delivery went.
  const got = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ path: req.url, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook/secret-token`;
  try {
    await step('channel-refused', async () => {
      await page.goto(`${BASE}/rules`);
      await page.locator('[data-testid=channel-form]').waitFor();
      await page.locator('[data-testid=channel-name]').fill('hook');
      await page.locator('[data-testid=channel-kind]').selectOption('webhook');
      await page.locator('[data-testid=channel-url]').fill(hookUrl);
      await page.locator('[data-testid=save-channel]').click();
      const err = page.locator('[data-testid=channel-error]');
      for (let i = 0; i < 50 && !(await err.innerText()); i++) await page.waitForTimeout(100);
      const t = await err.innerText();
      if (!t.includes('127.0.0.1') || !t.includes('allow private targets')) throw new Error(`refusal: ${JSON.stringify(t)}`);
      if (t.includes('secret-token')) throw new Error(`the refusal shows the URL's path: ${t}`);
      if (await page.locator('[data-testid=channels-table] tr[data-channel=hook]').count()) throw new Error('a refused channel was stored');
    });
    await step('channel-saved', async () => {
      // What was typed is still there; tick "allow private" and save.
      if ((await page.locator('[data-testid=channel-name]').inputValue()) !== 'hook') throw new Error('the form lost what was typed');
      await page.locator('[data-testid=channel-private]').check();
      await page.locator('[data-testid=save-channel]').click();
      const row = page.locator('[data-testid=channels-table] tr[data-channel=hook]');
      await row.waitFor();
      const t = await row.innerText();
      if (t.includes('secret-token')) throw new Error(`URL not masked: ${t}`);
    });
    await step('channel-edited', async () => {
      await page.locator('tr[data-channel=hook] [data-testid=edit-channel]').click();
      await page.locator('[data-testid=channel-form]').getByText('Edit hook:').waitFor();
      if ((await page.locator('[data-testid=channel-url]').inputValue()) !== '') throw new Error('the stored URL was put in the form');
      await page.locator('[data-testid=channel-template]').fill('{{rule}} via the edited hook');
      await page.locator('[data-testid=save-channel]').click();
      await page.locator('tr[data-channel=hook]').getByText('{{rule}} via the edited hook').waitFor();
    });
    await step('channel-send-test', async () => {
      await page.locator('tr[data-channel=hook] [data-testid=test-channel]').click();
      const cell = page.locator('tr[data-channel=hook] [data-testid=channel-test-result]');
      let t = '';
      for (let i = 0; i < 200 && !/^(delivered|failed|still|queued|not sent)/.test(t); i++) {
        t = await cell.innerText();
        if (!/^(delivered|failed|still|queued|not sent)/.test(t)) await page.waitForTimeout(100);
      }
      if (t !== 'delivered (HTTP 200)') throw new Error(`send test shows ${JSON.stringify(t)}`);
      if (got.length !== 1) throw new Error(`the receiver got ${got.length} requests`);
      const msg = JSON.parse(got[0].body);
      // Edited without re-typing the URL: the stored one was kept.
      if (got[0].path !== '/hook/secret-token') throw new Error(`delivered to ${got[0].path}`);
      if (msg.text !== 'Loupe test notification via the edited hook') throw new Error(`text: ${msg.text}`);
    });
  } finally {
    receiver.close();
  }
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
log('all alert editor checks passed');
