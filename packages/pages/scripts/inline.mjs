// Folds the audit build (dist/audit: audit.html + one JS + one CSS) into ONE self-contained
// daemon/pages/audit.html: the script and the style inline, nothing else referenced. A backer
// saves this file and opens it from disk; /audit of any hub serves the same bytes.
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../dist/audit/', import.meta.url))
const out = fileURLToPath(new URL('../../../daemon/pages/', import.meta.url))
let html = readFileSync(join(dir, 'audit.html'), 'utf8')
const assets = join(dir, 'assets')
const files = readdirSync(assets)
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
if (left.length > 0 || /\.\/assets\//.test(html)) throw new Error(`audit page: not self-contained, left ${left.join(', ') || 'a reference to ./assets/'}`)
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'audit.html'), html)
process.stdout.write(`audit page: ${join(out, 'audit.html')} (${(html.length / 1024).toFixed(0)} KiB, self-contained)\n`)
