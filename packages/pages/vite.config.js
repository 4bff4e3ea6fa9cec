import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * Builds (PAGE=dashboard | audit | lab); the first two into daemon/pages, which ships with the daemon:
 * - dashboard: index.html + hashed assets/, served by the hub at / (assets cached for good);
 * - audit: one JavaScript file and one CSS file, no code splitting, which scripts/inline.mjs folds
 *   into audit.html: one self-contained file a backer can save and open from disk (/audit serves it).
 * - lab (npm run build:lab, tests and benches only): the audit page's code with hooks, one file too.
 * Nothing is fetched from anywhere but the hub at run time: no CDN, no fonts, no analytics.
 */
const page = process.env.PAGE ?? 'dashboard'
/** Pages built as one self-contained file (the lab page is the audit page's code for tests and benches). */
const single = page === 'audit' || page === 'lab'
const outDir = fileURLToPath(new URL(single ? `./dist/${page}` : '../../daemon/pages', import.meta.url))

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The audit page must stay one file: no asset turned into a separate URL.
    assetsInlineLimit: single ? Number.MAX_SAFE_INTEGER : 4096,
    modulePreload: { polyfill: false },
    // The audit page is one file by design (libp2p, noise, yamux, WebSockets and the auditor inside).
    chunkSizeWarningLimit: single ? 1024 : 500,
    rolldownOptions: {
      input: fileURLToPath(new URL(single ? `./${page}.html` : './index.html', import.meta.url)),
      // HubClient.fromDataDir imports node: modules lazily; a page never calls it.
      external: [/^node:/],
      output: single ? { codeSplitting: false } : {}
    }
  }
})
