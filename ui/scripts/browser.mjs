// Shared helpers for the browser scripts: Debian's Chromium through playwright-core.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/**
 * The UI's base URL: LOUPE_UI, else the API address if it serves the UI
 * (`loupe serve` with ui/dist), else a `vite preview` at 127.0.0.1:45173.
 */
export async function uiBase(api) {
  const candidates = [process.env.LOUPE_UI, api, 'http://127.0.0.1:45173'].filter(Boolean);
  for (const base of candidates) {
    try {
      const res = await fetch(`${base}/`);
      const text = await res.text();
      if (res.ok && text.includes('id="app"')) return base.replace(/\/+$/, '');
    } catch {
      /* next */
    }
  }
  throw new Error(`no UI found at ${candidates.join(', ')}: run \`npm run build\` and either let loupe serve ui/dist, or \`LOUPE_API=${api} npx vite preview --port 45173\``);
}

export async function api(base, path) {
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
