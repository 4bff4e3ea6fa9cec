// `node scripts/inline.mjs PAGE OUT`: folds a one-chunk build (dist/PAGE: PAGE.html + one JS + one
// CSS) into ONE self-contained file at OUT (relative to this package): the script and the style
// inline, nothing else referenced. For the audit page (daemon/pages/audit.html) a backer saves this
// file and opens it from disk; /audit of any hub serves the same bytes.
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const [page, target] = process.argv.slice(2)
const dir = fileURLToPath(new URL(`../dist/${page}/`, import.meta.url))
const out = fileURLToPath(new URL(`../${target}`, import.meta.url))
let html = readFileSync(join(dir, `${page}.html`), 'utf8')
const assets = join(dir, 'assets')
const files = existsSync(assets) ? readdirSync(assets) : []
const used = new Set()

html = html.replace(/<script type="module" crossorigin src="\.\/assets\/([^"]+)"><\/script>/g, (_m, name) => {
  used.add(name)
  // "</script" inside the code would end the element early.
  const js = readFileSync(join(assets, name), 'utf8').replace(/<\/script/gi, '<\\/script')
  return `<script type="module">${js}</script>`
})
html = html.replace(/<link rel="stylesheet" crossorigin href="\.\/assets\/([^"]+)">/g, (_m, name) => {
  used.add(name)
  return `<style>${readFileSync(join(assets, name), 'utf8')}</style>`
})
const left = files.filter(f => !used.has(f))
if (left.length > 0 || /\.\/assets\//.test(html)) throw new Error(`${page} page: not self-contained, left ${left.join(', ') || 'a reference to ./assets/'}`)
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, html)
process.stdout.write(`${page} page: ${out} (${(html.length / 1024).toFixed(0)} KiB, self-contained)\n`)
