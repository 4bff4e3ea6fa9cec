#!/usr/bin/env node
// npm links a package's bins when it installs it, before `postinstall` has built dist/, and skips a
// bin whose file does not exist yet: this committed shim is what it links, and it loads the build.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const entry = new URL('../dist/src/bin/emulate.js', import.meta.url)
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(`ecandle-emulate: not built yet (${fileURLToPath(entry)} is missing): run \`npm run build\` in the checkout\n`)
  process.exit(1)
}
await import(entry.href)
