#!/usr/bin/env node
// Part of `npm run lint`: no import circles between source files, every @ecandle/* import declared in its
// package's dependencies, and package dependencies that flow one way (no circle, and the rules below).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')

/** Circles that exist on main and have an owner removing them; each must still exist (else delete it here). */
const KNOWN_CIRCLES = []

/** Package dependencies that must never exist, with the reason. */
const FORBIDDEN = [
  ['@ecandle/client', '@ecandle/daemon', 'the SDK never depends on the hub'],
  ['@ecandle/daemon', '@ecandle/client', 'the hub takes its API types from @ecandle/api, not from the SDK'],
  ['@ecandle/api', '@ecandle/client', 'the contract is below the SDK'],
  ['@ecandle/api', '@ecandle/daemon', 'the contract is below the hub']
]

const packages = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces
  .map(dir => ({ dir, json: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
const byName = new Map(packages.map(p => [p.json.name, p]))

function sources (dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) return sources(p)
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : []
  })
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g
const problems = []
const edges = new Map() // file -> Set(file)

for (const { dir, json } of packages) {
  const declared = new Set([...Object.keys(json.dependencies ?? {}), ...Object.keys(json.devDependencies ?? {})])
  for (const file of sources(join(root, dir, 'src'))) {
    const rel = relative(root, file)
    const out = new Set()
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'))
        if (existsSync(target)) out.add(relative(root, target))
      } else if (spec.startsWith('@ecandle/')) {
        const name = spec.split('/').slice(0, 2).join('/')
        if (name !== json.name && !declared.has(name)) problems.push(`${rel} imports ${name}, which ${json.name}'s package.json does not declare`)
      }
    }
    edges.set(rel, out)
  }
}

// Circles between files: strongly connected components of more than one file (Tarjan).
const index = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
const circles = []
let n = 0
function connect (v) {
  index.set(v, n); low.set(v, n); n++
  stack.push(v); onStack.add(v)
  for (const w of edges.get(v) ?? []) {
    if (!index.has(w)) { connect(w); low.set(v, Math.min(low.get(v), low.get(w))) } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)))
  }
  if (low.get(v) === index.get(v)) {
    const c = []
    let w
    do { w = stack.pop(); onStack.delete(w); c.push(w) } while (w !== v)
    if (c.length > 1 || (edges.get(v)?.has(v) ?? false)) circles.push(c.sort())
  }
}
for (const v of edges.keys()) if (!index.has(v)) connect(v)

const key = c => [...c].sort().join(' ↔ ')
const known = new Set(KNOWN_CIRCLES.map(key))
for (const c of circles) if (!known.has(key(c))) problems.push(`import circle: ${key(c)}`)
for (const c of KNOWN_CIRCLES) if (!circles.some(x => key(x) === key(c))) problems.push(`the known circle ${key(c)} is gone: remove it from KNOWN_CIRCLES in scripts/check-imports.mjs`)

// Package dependencies: one way, and none of the forbidden ones.
const deps = name => Object.keys(byName.get(name)?.json.dependencies ?? {}).filter(d => byName.has(d))
for (const [from, to, why] of FORBIDDEN) if (deps(from).includes(to)) problems.push(`${from} depends on ${to}: ${why}`)
const state = new Map()
function visit (name, path) {
  if (state.get(name) === 'done') return
  if (state.get(name) === 'open') { problems.push(`package circle: ${[...path.slice(path.indexOf(name)), name].join(' → ')}`); return }
  state.set(name, 'open')
  for (const d of deps(name)) visit(d, [...path, name])
  state.set(name, 'done')
}
for (const name of byName.keys()) visit(name, [])

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
console.log(`imports: ${edges.size} source files, no circles${KNOWN_CIRCLES.length > 0 ? ` (but ${KNOWN_CIRCLES.length} known, owned elsewhere)` : ''}; ${byName.size} packages, dependencies one way`)
