// Desktop end-to-end test of Loupe's window, run by `tests/desktop.rs`.
//
//   node src-tauri/e2e/desktop.mjs <loupe binary (desktop build)> <artifacts directory>
//
// Drives the real app in a real window over WebDriver: Xvfb (its own
// display), a private D-Bus session bus (single instance goes through it),
// tauri-driver with WebKitGTK's WebKitWebDriver, and plain W3C WebDriver
// over HTTP (no client library). The app gets a temporary data directory,
// temporary XDG directories and free ports through the same variables as
// `loupe serve` (LOUPE_DATA_DIR, LOUPE_GRPC_ADDR, LOUPE_HTTP_ADDR,
// LOUPE_API_ADDR). Checks, each with a screenshot in the artifacts directory:
//
//   1. the OTLP/gRPC and API ports are taken (by this script): the window
//      says which ports and which process (node, with its pid) holds them;
//   2. Retry while they are still taken: the same explanation again (the
//      app never just dies);
//   3. "Use other ports": the window shows the web UI from the new API
//      address (the empty state), and that page has no IPC access;
//   4. the official OpenTelemetry JS SDK sends a Kestra-shaped workload
//      (tests/e2e/node/workload.mjs, OTLP/HTTP protobuf): its trace appears
//      in the window's trace list;
//      a rule on failed spans, saved before, fires: the notification server
//      on the session bus (notification-daemon) is sent a Notify naming the
//      rule and answers it; the tray's label (read on the bus) says
//      "1 firing" and the window title "… — 1 alert firing";
//   5. clicking it opens the trace: the waterfall shows its spans;
//   6. launching `loupe` a second time hands over to the running one and
//      exits 0 without touching the ports (single instance);
//   7. SIGTERM makes the app quit cleanly (server stopped, window size and
//      position saved).
//
// Exits non-zero on the first failed check with a message naming it.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_DIR = join(ROOT, 'tests/e2e/node');
const STEP_TIMEOUT = 30_000;
const TOTAL_TIMEOUT = 230_000; // below tests/desktop.rs's 240 s, so cleanup runs here
const WEBKIT_DRIVER = process.env.LOUPE_WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
const NOTIFICATION_DAEMON = process.env.LOUPE_NOTIFICATION_DAEMON ?? '/usr/lib/notification-daemon/notification-daemon';

const [, , BIN_ARG, ARTIFACTS_ARG] = process.argv;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (s) => process.stdout.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!BIN_ARG || !ARTIFACTS_ARG) {
  log('usage: node src-tauri/e2e/desktop.mjs <loupe binary> <artifacts dir>');
  process.exit(2);
}
const BIN = resolve(BIN_ARG);
const ARTIFACTS = resolve(ARTIFACTS_ARG);

// ---------------------------------------------------------------------------
// Everything started here, stopped by cleanup() on every exit path.
// ---------------------------------------------------------------------------

const children = []; // [name, ChildProcess], stopped in reverse order
let tmp = null;
const blockers = []; // net.Server holding ports the app wants
let session = null;
let DRIVER = null;

function track(name, child) {
  children.push([name, child]);
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const exited = await Promise.race([
    new Promise((r) => child.once('exit', () => r(true))),
    sleep(5000).then(() => false),
  ]);
  if (!exited) child.kill('SIGKILL');
}

let cleaningUp = false;
async function cleanup() {
  cleaningUp = true;
  if (session && DRIVER) {
    const s = session;
    session = null;
    await Promise.race([fetch(`${DRIVER}/session/${s}`, { method: 'DELETE' }).catch(() => {}), sleep(5000)]);
  }
  for (const b of blockers) b.close();
  blockers.length = 0;
  for (const [, child] of children.reverse()) await stop(child);
  children.length = 0;
  if (tmp) {
    rmSync(tmp, { recursive: true, force: true });
    tmp = null;
  }
}

let dying = false;
async function die(message) {
  if (dying) return new Promise(() => {});
  dying = true;
  log(`\nFAIL [${elapsed()}]: ${message}`);
  if (session) await shot('FAILED').catch(() => {});
  await cleanup();
  listScreenshots();
  process.exit(1);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void die(`interrupted by ${sig}`));
setTimeout(() => void die(`the whole run took longer than ${TOTAL_TIMEOUT / 1000} s`), TOTAL_TIMEOUT).unref();

function listScreenshots() {
  if (!existsSync(ARTIFACTS)) return;
  const shots = readdirSync(ARTIFACTS).filter((f) => f.endsWith('.png')).sort();
  if (shots.length === 0) return;
  log('\nscreenshots:');
  for (const f of shots) log(`  ${join(ARTIFACTS, f)}`);
}

// ---------------------------------------------------------------------------
// Prerequisites, each failing with what to run.
// ---------------------------------------------------------------------------

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

const TAURI_DRIVER = process.env.LOUPE_TAURI_DRIVER ?? onPath('tauri-driver') ?? join(homedir(), '.cargo/bin/tauri-driver');
{
  const missing = [];
  if (!existsSync(BIN)) missing.push(`no loupe binary at ${BIN}: run \`cargo build --bin loupe\` (default features: desktop)`);
  if (!existsSync(TAURI_DRIVER)) missing.push('tauri-driver is missing: run `cargo install tauri-driver --locked` (scripts/setup does)');
  if (!existsSync(WEBKIT_DRIVER)) missing.push(`${WEBKIT_DRIVER} is missing: run \`apt-get install -y webkit2gtk-driver\``);
  if (!onPath('Xvfb')) missing.push('Xvfb is missing: run `apt-get install -y xvfb`');
  if (!onPath('dbus-daemon')) missing.push('dbus-daemon is missing: run `apt-get install -y dbus-daemon`');
  if (!onPath('dbus-monitor')) missing.push('dbus-monitor is missing: run `apt-get install -y dbus-bin`');
  if (!onPath('busctl')) missing.push('busctl is missing: run `apt-get install -y systemd`');
  if (!onPath('xprop')) missing.push('xprop is missing: run `apt-get install -y x11-utils`');
  if (!existsSync(NOTIFICATION_DAEMON)) missing.push(`${NOTIFICATION_DAEMON} is missing: run \`apt-get install -y notification-daemon\``);
  if (!existsSync(join(NODE_DIR, 'node_modules/@opentelemetry/sdk-trace-base/package.json'))) {
    missing.push('the workload\'s OpenTelemetry SDK is not installed: run `npm ci --prefix tests/e2e/node`');
  }
  if (missing.length) await die(`the desktop test cannot run:\n  - ${missing.join('\n  - ')}`);
}
rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });

// ---------------------------------------------------------------------------
// Helpers: processes, ports.
// ---------------------------------------------------------------------------

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Prefixes a child's output lines, so the log says who said what. */
function pipeOutput(child, name) {
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (d) => process.stdout.write(String(d).replace(/^(?=.)/gm, `[${name}] `)));
  }
}

/** Reads one line from a child's stream (e.g. Xvfb's display, dbus-daemon's address). */
function firstLine(stream, what, child) {
  return new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`${what}: nothing printed within 15 s`)), 15_000);
    child.once('exit', (code, sig) => rej(new Error(`${what}: exited (${code ?? sig}) before printing`)));
    stream.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        res(buf.slice(0, i).trim());
      }
    });
  });
}

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
    if (Date.now() > end) throw new Error(`${what} (waited ${timeout / 1000} s)${last ? `: ${last.message}` : ''}`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------
// Plain W3C WebDriver over HTTP.
// ---------------------------------------------------------------------------

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

async function wd(method, path, body) {
  const res = await fetch(`${DRIVER}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`WebDriver ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  }
  if (!res.ok || json.value?.error) {
    const v = json.value ?? {};
    const err = new Error(`WebDriver ${method} ${path}: ${v.error ?? res.status}: ${v.message ?? text.slice(0, 300)}`);
    err.wdError = v.error;
    throw err;
  }
  return json.value;
}

const s = (path) => `/session/${session}${path}`;
/** Runs `body` (a function body using `arguments`) in the window's page. */
const js = (body, ...args) => wd('POST', s('/execute/sync'), { script: body, args });
const currentUrl = () => wd('GET', s('/url'));

/** The first *visible* element matching `css` (the waterfall pools hidden rows). */
async function find(css) {
  const els = await wd('POST', s('/elements'), { using: 'css selector', value: css });
  for (const e of els) {
    const shown = await wd('GET', s(`/element/${e[ELEMENT]}/displayed`)).catch(() => false);
    if (shown) return e[ELEMENT];
  }
  return null;
}
const need = (css, what, timeout) => until(() => find(css), `${what}: \`${css}\` did not show`, timeout);
const textOf = (id) => wd('GET', s(`/element/${id}/text`));
const click = (id) => wd('POST', s(`/element/${id}/click`), {});

let shotNo = 0;
async function shot(name) {
  shotNo += 1;
  const file = join(ARTIFACTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  const b64 = await wd('GET', s('/screenshot'));
  writeFileSync(file, Buffer.from(b64, 'base64'));
  return file;
}

async function check(name, fn) {
  const started = Date.now();
  let note;
  try {
    note = await fn();
  } catch (e) {
    await die(`check "${name}" failed: ${e.message}`);
  }
  const file = await shot(name).catch((e) => die(`check "${name}" passed, but its screenshot failed: ${e.message}`));
  log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)${note ? ` — ${note}` : ''} [${file}]`);
}

// ---------------------------------------------------------------------------
// 0. A display, a session bus, ports, directories, the driver.
// ---------------------------------------------------------------------------

tmp = mkdtempSync(join(tmpdir(), 'loupe-desktop-'));
const dirs = Object.fromEntries(['data', 'config', 'share', 'cache', 'runtime'].map((d) => [d, join(tmp, d)]));
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });

let display;
let busAddress;
/** What dbus-monitor saw on the session bus (Notify calls and replies). */
let busLog = '';
try {
  const xvfb = track('Xvfb', spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  display = `:${await firstLine(xvfb.stdout, 'Xvfb', xvfb)}`;
  const dbus = track('dbus', spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  busAddress = await firstLine(dbus.stdout, 'dbus-daemon', dbus);
  // A notification server on that bus (GNOME's reference one, drawing on
  // the Xvfb display), and a monitor that records every Notify call it is
  // sent and every reply it gives.
  const busEnv = { ...process.env, DISPLAY: display, DBUS_SESSION_BUS_ADDRESS: busAddress };
  track('notification-daemon', spawn(NOTIFICATION_DAEMON, [], { env: busEnv, stdio: ['ignore', 'ignore', 'pipe'] }));
  const monitor = track(
    'dbus-monitor',
    spawn('dbus-monitor', ['--address', busAddress, "type='method_call',interface='org.freedesktop.Notifications',member='Notify'", "type='method_return'"], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  monitor.stdout.on('data', (d) => (busLog += d));
} catch (e) {
  await die(e.message);
}

const ports = { grpc: await freePort(), http: await freePort(), api: await freePort(), driver: await freePort(), native: await freePort() };
const addr = (p) => `127.0.0.1:${p}`;
let API = `http://${addr(ports.api)}`; // until "use other ports" moves it

// The environment of every loupe started here (through the driver or not).
const appEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('LOUPE_') && k !== 'WAYLAND_DISPLAY'),
  ),
  DISPLAY: display,
  DBUS_SESSION_BUS_ADDRESS: busAddress,
  XDG_CONFIG_HOME: dirs.config,
  XDG_DATA_HOME: dirs.share,
  XDG_CACHE_HOME: dirs.cache,
  XDG_RUNTIME_DIR: dirs.runtime,
  LOUPE_DATA_DIR: dirs.data,
  LOUPE_GRPC_ADDR: addr(ports.grpc),
  LOUPE_HTTP_ADDR: addr(ports.http),
  LOUPE_API_ADDR: addr(ports.api),
  // loupe's own info lines say when it stopped (check 7).
  RUST_LOG: process.env.RUST_LOG ?? 'warn,loupe=info',
  // No accessibility bus in Xvfb.
  NO_AT_BRIDGE: '1',
};
log(`[${elapsed()}] display ${display}, ports gRPC ${ports.grpc} HTTP ${ports.http} API ${ports.api}, data ${dirs.data}`);

// 1's setup: this script holds the OTLP/gRPC and API ports before the app starts.
for (const port of [ports.grpc, ports.api]) {
  const b = net.createServer();
  await new Promise((res, rej) => {
    b.once('error', rej);
    b.listen(port, '127.0.0.1', res);
  });
  blockers.push(b);
}

const driver = track(
  'tauri-driver',
  spawn(TAURI_DRIVER, ['--port', String(ports.driver), '--native-port', String(ports.native), '--native-driver', WEBKIT_DRIVER], {
    env: appEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  }),
);
pipeOutput(driver, 'app/driver');
let appOutput = '';
for (const stream of [driver.stdout, driver.stderr]) stream.on('data', (d) => (appOutput += d));
driver.once('exit', (code, sig) => {
  if (!dying && !cleaningUp) void die(`tauri-driver exited (${code ?? sig})`);
});
DRIVER = `http://127.0.0.1:${ports.driver}`;

// The first session after installing WebKitWebDriver can reset its
// connection once (the driver is still starting): retry a few times.
{
  const capabilities = { alwaysMatch: { 'tauri:options': { application: BIN, args: [] } } };
  let lastError;
  for (let attempt = 1; attempt <= 5 && !session; attempt++) {
    try {
      const v = await wd('POST', '/session', { capabilities });
      session = v.sessionId;
    } catch (e) {
      lastError = e;
      log(`[${elapsed()}] new WebDriver session, attempt ${attempt}: ${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`);
      await sleep(1000 * attempt);
    }
  }
  if (!session) await die(`no WebDriver session through tauri-driver (${TAURI_DRIVER} + ${WEBKIT_DRIVER}): ${lastError?.message}`);
  log(`[${elapsed()}] WebDriver session ${session}`);
}

// ---------------------------------------------------------------------------
// 1. Taken ports: the window names them and their holder.
// ---------------------------------------------------------------------------

/** The taken-port lines of the start-up page, once both are listed. */
async function takenPorts() {
  const texts = await until(async () => {
    if (!(await find('[data-testid="shell-failed"]'))) return null; // still starting
    const els = await wd('POST', s('/elements'), { using: 'css selector', value: '[data-testid="shell-port"]' });
    const t = [];
    for (const e of els) t.push(await textOf(e[ELEMENT]));
    return t.length >= 2 && t.every((x) => x.trim()) ? t : null;
  }, 'the start-up page should list the two taken ports (gRPC and API)');
  if (texts.length !== 2) throw new Error(`${texts.length} ports listed as taken, 2 are: ${JSON.stringify(texts)}`);
  for (const [what, port] of [['OTLP/gRPC', ports.grpc], ['API and UI', ports.api]]) {
    const t = texts.find((x) => x.includes(what));
    if (!t || !t.includes(String(port))) throw new Error(`no line names ${what} port ${port}: ${JSON.stringify(texts)}`);
    if (!t.includes(`node (pid ${process.pid})`)) throw new Error(`the ${what} line should name this node process (pid ${process.pid}): ${JSON.stringify(t)}`);
  }
  const url = await currentUrl();
  if (url.startsWith('http://127.0.0.1')) throw new Error(`the window left the start-up page: ${url}`);
  return texts.map((t) => t.replace(/\s+/g, ' ')).join('; ');
}

await check('ports-taken', async () => {
  const note = await takenPorts();
  for (const b of ['shell-retry', 'shell-other-ports', 'shell-quit']) {
    if (!(await find(`[data-testid="${b}"]`))) throw new Error(`no ${b} button`);
  }
  return note;
});

// ---------------------------------------------------------------------------
// 2. Retry while still taken: explained again, nothing dies.
// ---------------------------------------------------------------------------

await check('retry-while-taken', async () => {
  // Mark the current list: the failure shown after the retry is a new one.
  await js("document.querySelectorAll('[data-testid=\"shell-port\"]').forEach((e) => e.remove())");
  await click(await need('[data-testid="shell-retry"]', 'the Retry button'));
  return await takenPorts();
});

// ---------------------------------------------------------------------------
// 3. Other ports: the web UI from the new API address, without IPC.
// ---------------------------------------------------------------------------

await check('other-ports-show-the-ui', async () => {
  await click(await need('[data-testid="shell-other-ports"]', 'the "Use other ports" button'));
  const url = await until(async () => {
    const u = await currentUrl();
    return /^http:\/\/127\.0\.0\.1:\d+\/$/.test(u) ? u : null;
  }, 'the window should load the UI from the new API address after "Use other ports"');
  const port = Number(new URL(url).port);
  if (port === ports.api) throw new Error(`the UI is at the taken API port ${port}`);
  API = `http://127.0.0.1:${port}`;
  const empty = await need('[data-testid="empty-state"]', 'the empty state of a fresh Loupe');
  // It names the endpoints this Loupe really listens on (the new ports).
  const t = await until(async () => {
    const text = await textOf(empty);
    return text.includes(`http://${addr(ports.http)}`) ? text : null;
  }, 'the empty state should show the real OTLP/HTTP endpoint');
  const grpc = /OTLP\/gRPC\s*127\.0\.0\.1:(\d+)/.exec(t);
  if (!grpc || Number(grpc[1]) === ports.grpc) throw new Error(`the empty state should show the new OTLP/gRPC port (not the taken ${ports.grpc}): ${JSON.stringify(t)}`);
  // The web UI is a remote page: the shell's commands must be refused to it.
  const ipc = await wd('POST', s('/execute/async'), {
    script: `const done = arguments[arguments.length - 1];
      const i = window.__TAURI_INTERNALS__;
      if (!i || typeof i.invoke !== 'function') { done('no IPC'); return; }
      i.invoke('startup_state').then((v) => done('ALLOWED ' + JSON.stringify(v)), (e) => done('refused: ' + e));`,
    args: [],
  });
  if (String(ipc).startsWith('ALLOWED')) throw new Error(`the web UI page could call the shell's commands: ${ipc}`);
  return `${url}; OTLP/gRPC moved to ${grpc[1]}; IPC from the UI: ${String(ipc).split('\n')[0]}`;
});

// ---------------------------------------------------------------------------
// 4. Telemetry from the OpenTelemetry JS SDK shows up in the window.
// ---------------------------------------------------------------------------

const RUN = `desktop-${process.pid}-${Date.now().toString(36)}`;
async function runWorkload() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  Object.assign(env, {
    LOUPE_PROTOCOL: 'http/protobuf',
    LOUPE_HTTP_ENDPOINT: `http://${addr(ports.http)}`,
    LOUPE_GRPC_ENDPOINT: `http://${addr(ports.grpc)}`,
    LOUPE_RUN: RUN,
  });
  const child = track('workload', spawn(process.execPath, [join(NODE_DIR, 'workload.mjs')], { cwd: NODE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await Promise.race([new Promise((r) => child.once('exit', (c, sg) => r(c ?? sg))), sleep(60_000).then(() => 'timeout')]);
  if (code !== 0) throw new Error(`the workload failed (${code}):\n${err}${out}`);
  return JSON.parse(out.trim().split('\n').pop());
}

// A rule on failed spans that notifies the desktop: armed before the
// workload's failure arrives.
const RULE = 'Failed spans (desktop)';
await check('alert-rule', async () => {
  const post = async (path, body) => {
    const res = await fetch(`${API}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  await post('/api/v1/channels', { name: 'desktop', kind: 'desktop', url: '', allowPrivate: false, template: '' });
  const yaml = `name: ${RULE}\nsignal: traces\nwhen: {field: span.status, op: equals, value: error}\nkeep_firing: 30m\nnotify: [desktop]\n`;
  await post('/api/v1/rules', { yaml });
  return 'desktop channel and rule saved';
});

/** The X window titles on the display (xprop on every top-level window). */
async function windowTitles() {
  const run = (args) =>
    new Promise((ok) => {
      const c = spawn('xprop', ['-display', display, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.once('exit', () => ok(out));
    });
  const tree = await new Promise((ok) => {
    const c = spawn('xwininfo', ['-display', display, '-root', '-children'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.once('exit', () => ok(out));
  });
  const ids = [...tree.matchAll(/^\s+(0x[0-9a-f]+)/gm)].map((x) => x[1]);
  const titles = [];
  for (const id of ids) {
    const t = /_NET_WM_NAME\(UTF8_STRING\) = "(.*)"/.exec(await run(['-id', id, '_NET_WM_NAME']));
    if (t) titles.push(t[1]);
  }
  return titles;
}

/**
 * The tray's label as the desktop sees it: Tauri's tray on Linux is an
 * AppIndicator, a StatusNotifierItem object on the session bus; the
 * label is its XAyatanaLabel property (a tooltip does not exist there).
 */
async function trayLabel() {
  const busctl = (args) =>
    new Promise((ok) => {
      const c = spawn('busctl', ['--address', busAddress, '--no-pager', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      // busctl's get-property waits 25 s for a peer that never answers,
      // whatever --timeout says: two seconds are plenty on one machine.
      const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
      c.once('exit', () => {
        clearTimeout(timer);
        ok(out);
      });
    });
  const owners = trayOwner
    ? [trayOwner]
    : (await busctl(['list']))
        .split('\n')
        .map((l) => l.split(/\s+/))
        .filter((f) => f[2] === 'loupe' && f[0].startsWith(':'))
        .map((f) => f[0]);
  // Asked all at once: the app's other connections (WebKit's) do not
  // answer and each would cost the timeout; the one that does is asked
  // alone from then on.
  const answers = await Promise.all(
    owners.map(async (o) => [o, await busctl(['get-property', o, '/org/ayatana/NotificationItem/tray_icon_tray_app_loupe', 'org.kde.StatusNotifierItem', 'XAyatanaLabel'])]),
  );
  for (const [o, v] of answers) {
    const m = /^s "(.*)"$/.exec(v.trim());
    if (m) {
      trayOwner = o;
      return m[1];
    }
  }
  return null;
}
let trayOwner = null;

let m;
await check('trace-appears', async () => {
  m = await runWorkload();
  const main = m.roles.mainTraceId;
  const row = `[data-testid="trace-row"][data-trace-id="${main}"]`;
  // The list updates live; a reload is the fallback if it does not within 15 s.
  let id = await until(() => find(row), 'live update', 15_000).catch(() => null);
  let how = 'live update';
  if (!id) {
    await wd('POST', s('/refresh'), {});
    id = await need(row, `the workload's trace ${main} in the trace list after a reload`);
    how = 'after a reload';
  }
  return `${m.spans.length} spans sent; trace ${main} listed (${how})`;
});

// The failure fires the rule: the notification server on the session bus
// is sent a Notify naming the rule and answers it (the notification is
// shown); the tray's label and the window title say one alert is firing.
await check('alert-notifies', async () => {
  const call = await until(
    async () => {
      const i = busLog.indexOf(`string "Alert: ${RULE}"`);
      return i >= 0 ? busLog.slice(Math.max(0, busLog.lastIndexOf('method call', i)), i + 400) : null;
    },
    'a Notify call on the session bus naming the rule',
  );
  if (!/member=Notify/.test(call)) throw new Error(`not a Notify call:\n${call}`);
  const serial = /serial=(\d+)/.exec(call)?.[1];
  const reply = await until(
    async () => new RegExp(`method return[^\\n]*reply_serial=${serial}\\n\\s+uint32 (\\d+)`).exec(busLog),
    `the notification server's reply to Notify (serial ${serial})`,
  );
  const titles = await until(async () => {
    const t = await windowTitles();
    return t.some((x) => x.includes('1 alert firing')) ? t : null;
  }, 'the window title to say "1 alert firing"');
  const label = await until(async () => {
    const l = await trayLabel();
    return l === '1 firing' ? l : null;
  }, 'the tray\'s label (its StatusNotifierItem XAyatanaLabel on the session bus) to say "1 firing"');
  return `Notify answered with id ${reply[1]}; tray label ${JSON.stringify(label)}; window ${JSON.stringify(titles.find((x) => x.includes('firing')))}`;
});

// ---------------------------------------------------------------------------
// 5. Opening it shows the waterfall.
// ---------------------------------------------------------------------------

await check('trace-opens', async () => {
  const main = m.roles.mainTraceId;
  const row = await need(`[data-testid="trace-row"][data-trace-id="${main}"]`, 'the trace row');
  const link = await wd('POST', s(`/element/${row}/elements`), { using: 'css selector', value: 'a[href*="/trace/"]' });
  await click(link.length ? link[0][ELEMENT] : row);
  await until(async () => new URL(await currentUrl()).pathname === `/trace/${main}`, `clicking the row should open /trace/${main}`);
  await need('[data-testid="waterfall"]', 'the waterfall');
  const failed = await need(`[data-testid="span-row"][data-span-id="${m.roles.failedSpanId}"]`, 'the failed span in the waterfall');
  const rows = await js(
    "return [...document.querySelectorAll('[data-testid=\"span-row\"]')].filter((e) => e.getClientRects().length > 0).length",
  );
  const failedText = await textOf(failed);
  return `${rows} span rows shown; failed span: ${JSON.stringify(failedText.split('\n')[0])}`;
});

// ---------------------------------------------------------------------------
// 6. A second launch hands over to the running window and exits.
// ---------------------------------------------------------------------------

await check('single-instance', async () => {
  const second = track('second loupe', spawn(BIN, [], { env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  second.stdout.on('data', (d) => (out += d));
  second.stderr.on('data', (d) => (out += d));
  const code = await Promise.race([new Promise((r) => second.once('exit', (c, sg) => r(c ?? sg))), sleep(20_000).then(() => 'still running after 20 s')]);
  if (code !== 0) throw new Error(`the second loupe should exit 0 after handing over, got ${code}:\n${out}`);
  if (/cannot listen/.test(out)) throw new Error(`the second loupe tried to bind the ports:\n${out}`);
  // The first one still serves.
  const res = await fetch(`${API}/api/v1/services`);
  if (!res.ok) throw new Error(`the running Loupe stopped answering: ${res.status}`);
  await need('[data-testid="waterfall"]', 'the waterfall, still there');
  return 'second launch exited 0; the first still serves';
});

// ---------------------------------------------------------------------------
// 7. SIGTERM quits the app cleanly (as the tray's Quit does); the window
//    state is kept.
// ---------------------------------------------------------------------------

/** The app's pid: the process running BIN with this run's data directory. */
function appPid() {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd[0] !== BIN || cmd.length > 2) continue; // no arguments: the window
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`LOUPE_DATA_DIR=${dirs.data}`)) return Number(pid);
    } catch {
      // gone, or not ours
    }
  }
  return null;
}

{
  const started = Date.now();
  const pid = appPid();
  if (!pid) await die(`cannot find the app's process (${BIN} with LOUPE_DATA_DIR=${dirs.data}) in /proc`);
  process.kill(pid, 'SIGTERM');
  try {
    await until(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z'), `the app (pid ${pid}) should quit after SIGTERM`, 20_000);
  } catch (e) {
    await die(e.message);
  }
  session = null; // its browser is gone
  if (!appOutput.includes('loupe: stopped')) await die(`the app did not log "loupe: stopped" on its way out (killed rather than quit?):\n${appOutput.slice(-2000)}`);
  const stateFile = join(dirs.config, 'dev.loupe.app', '.window-state.json');
  if (!existsSync(stateFile)) await die(`no window state saved at ${stateFile}`);
  const state = JSON.parse(readFileSync(stateFile, 'utf8')).main;
  if (!state || !(state.width > 0)) await die(`the saved window state has no size for the main window: ${readFileSync(stateFile, 'utf8')}`);
  log(`ok   sigterm-quits-cleanly (${((Date.now() - started) / 1000).toFixed(1)}s) — server stopped; window state saved: ${state.width}x${state.height} at ${state.x},${state.y}`);
}

await cleanup();
listScreenshots();
log(`\n[${elapsed()}] desktop: all checks passed`);
process.exit(0);
