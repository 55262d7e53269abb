import { defineConfig } from 'vitest/config';

// The backend's API address during development (`loupe serve --api-addr …`).
const api = process.env.LOUPE_API ?? 'http://127.0.0.1:16686';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The backend serves dist/ under a strict CSP (script-src 'self'): no inline
    // module-preload polyfill, no inlined assets turned into data: scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  // `/health` too: every page's low-disk banner polls it.
  server: { proxy: { '/api': { target: api, changeOrigin: false }, '/health': { target: api, changeOrigin: false } } },
  preview: { proxy: { '/api': { target: api, changeOrigin: false }, '/health': { target: api, changeOrigin: false } } },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
