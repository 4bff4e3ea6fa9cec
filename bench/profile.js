// CPU profile of the ingest path: `node bench/profile.js` (after a build). Profiles Ingest.accept of
// ~30k reports with the V8 profiler (the same profiler as `node --cpu-prof`, started only around the
// measured part), writes bench/out/ingest.cpuprofile (open it in Chrome DevTools), and prints where
// the time goes: self time by function, and inclusive time of the functions on the hot path.
import { Session } from 'node:inspector/promises'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { generate, measureIngest } from './lib/ingest.js'

const here = dirname(fileURLToPath(import.meta.url))

export async function profileIngest ({ periods = 31 } = {}) {
  const g = await generate({ periods })
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  // verifyOnlyEvery: Infinity-like, so the profile holds ingest and raw verifies only.
  const run = await measureIngest(g, { verifyOnlyEvery: 1e9 })
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  await run.store.close()
  await mkdir(join(here, 'out'), { recursive: true })
  const path = join(here, 'out', 'ingest.cpuprofile')
  await writeFile(path, JSON.stringify(profile))
  return { path, summary: summarize(profile), run }
}

const short = (url) => url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '').replace(/.*\/work\/main\//, '')

/** Self and inclusive ms by function; inclusive counts each function once per stack (recursion-safe). */
export function summarize (profile) {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const dt = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  }
  const name = (n) => {
    const f = n.callFrame
    return `${f.functionName || '(anonymous)'} ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : ''}`.trim()
  }
  const self = new Map()
  const incl = new Map()
  let total = 0
  const walk = (n, stack) => {
    const k = name(n)
    const own = dt.get(n.id) ?? 0
    total += own
    self.set(k, (self.get(k) ?? 0) + own)
    const fresh = !stack.has(k)
    if (fresh) stack.add(k)
    let sum = own
    for (const c of n.children ?? []) sum += walk(byId.get(c), stack)
    if (fresh) {
      stack.delete(k)
      incl.set(k, (incl.get(k) ?? 0) + sum)
    }
    return sum
  }
  walk(profile.nodes[0], new Set())
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: Math.round(1000 * ms / total) / 10 }))
  return { totalMs: Math.round(total), self: top(self, 25), inclusive: top(incl, 40) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { path, summary, run } = await profileIngest()
  console.log(`ingest ${Math.round(run.ingestReportsPerSec)} reports/s, raw verify ${Math.round(run.rawVerifyPerSec)}/s, ratio ${(run.ingestReportsPerSec / run.rawVerifyPerSec).toFixed(2)} (under the profiler)`)
  console.log(`profile: ${path}; ${summary.totalMs} ms sampled`)
  console.log('\nself time:')
  for (const r of summary.self) console.log(`  ${String(r.ms).padStart(6)} ms ${String(r.pct).padStart(5)}%  ${r.fn}`)
  console.log('\ninclusive time:')
  for (const r of summary.inclusive) console.log(`  ${String(r.ms).padStart(6)} ms ${String(r.pct).padStart(5)}%  ${r.fn}`)
}
