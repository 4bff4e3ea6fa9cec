import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * Two builds (PAGE=dashboard | audit), both into daemon/pages, which ships with the daemon:
 * - dashboard: index.html + hashed assets/, served by the hub at / (assets cached for good);
 * - audit: one JavaScript file and one CSS file, no code splitting, which scripts/inline.mjs folds
 *   into audit.html: one self-contained file a backer can save and open from disk (/audit serves it).
 * Nothing is fetched from anywhere but the hub at run time: no CDN, no fonts, no analytics.
 */
const page = process.env.PAGE ?? 'dashboard'
const outDir = fileURLToPath(new URL(page === 'audit' ? './dist/audit' : '../../daemon/pages', import.meta.url))

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
    assetsInlineLimit: page === 'audit' ? Number.MAX_SAFE_INTEGER : 4096,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      input: fileURLToPath(new URL(page === 'audit' ? './audit.html' : './index.html', import.meta.url)),
      // HubClient.fromDataDir imports node: modules lazily; a page never calls it.
      external: [/^node:/],
      output: page === 'audit' ? { codeSplitting: false } : {}
    }
  }
})
