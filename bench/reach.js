// Reach figures (issue 15), in real network namespaces (test/lib/reach-world.ts, built by `npm run build`):
// a public hub (relay) and two village hubs, each behind its own masquerading router.
//
//   node bench/reach.js [--runs 3] [--measure-s 30] [--quick]
//
// - connect: from the spawn of all three hubs (a cold start of the network) to the public hub's relay
//   running (AutoNAT verified its address), the first connection between the villages (through the
//   relay) and the direct one (hole punch); one fresh set of namespaces and data dirs per run.
// - replication: per entry, stored on its own village hub → stored on the other one (both `storedAt`,
//   one machine clock), over the relayed path (routers that randomise ports: no hole punch) and over the
//   direct one (after the punch, with the public hub stopped).
// Needs root, ip (iproute2), nft (nftables) and socat; without them the part is skipped with a note.
// Prints a table and, as the last stdout line, one JSON object. Nothing is asserted.
import http from 'node:http'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { destroyWorld, natWorld, peerRow } from '../test/dist/lib/reach-world.js'
import { sseParser } from './lib/sse.js'
import { log, percentile, round, sleep } from './lib/util.js'

const pct = (sorted, p) => sorted.length === 0 ? null : percentile(sorted, p)

export const defaultReachBenchOptions = { runs: 3, measureS: 30, warmupS: 5, pollMs: 100, connectTimeoutMs: 120_000 }

/** Why the namespaces cannot be made here, or undefined. */
export function reachUnavailable () {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  for (const c of ['ip', 'nft', 'socat']) if (spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) return `needs ${c}`
  return undefined
}

const peers = async (h) => await fetch(`http://127.0.0.1:${h.hostPort}/peers`, { signal: AbortSignal.timeout(2000) }).then(async r => await r.json())

/** Polls A's /peers until B shows up as `kind` (or any connection, with kind undefined); ms since t0, and the kind seen. */
async function firstSeen (a, b, t0, kind, opts) {
  const end = t0 + opts.connectTimeoutMs
  while (Date.now() < end) {
    const row = (await peers(a).catch(() => [])).find(p => p.peerId === b.peerId)
    if (row !== undefined && (kind === undefined || row.connection === kind)) return { ms: Date.now() - t0, kind: row.connection }
    await sleep(opts.pollMs)
  }
  return { ms: null, kind: null }
}

/** ms from t0 until the public hub runs its relay (AutoNAT verified its address: the villages dial it back). */
async function relayUp (pub, t0, opts) {
  while (Date.now() - t0 < opts.connectTimeoutMs) {
    const st = await fetch(`http://127.0.0.1:${pub.hostPort}/status`, { signal: AbortSignal.timeout(2000) }).then(async r => await r.json()).catch(() => undefined)
    if (st?.reach?.relayServer?.running === true) return Date.now() - t0
    await sleep(opts.pollMs)
  }
  return null
}

/** One cold start of the whole network (a region's power coming back): all three hubs spawned at once. */
async function connectRun (opts) {
  const w = await natWorld(false)
  let failed = false
  try {
    const { pub, a, b } = w
    const t0 = Date.now()
    for (const h of [pub, a, b]) h.spawn()
    const [relayMs, first, direct, apiUpMs] = await Promise.all([relayUp(pub, t0, opts), firstSeen(a, b, t0, undefined, opts), firstSeen(a, b, t0, 'hole-punched', opts), a.waitApi().then(() => Date.now() - t0)])
    if (direct.ms === null) failed = true
    return { relayMs, firstMs: first.ms, firstKind: first.kind, directMs: direct.ms, apiUpMs, nat: (await a.status()).reach.nat }
  } catch (err) {
    failed = true
    throw err
  } finally {
    await destroyWorld(w, failed)
  }
}

/** Entry latencies between the villages while `measureS` passes: own hub stored → other hub stored, per direction. */
async function replication (w, opts) {
  const { a, b } = w
  const stored = new Map() // "hub seq" -> { origin, at: { [villagePeerId]: storedAt } }
  const reqs = []
  const t0 = Date.now() + opts.warmupS * 1000
  const t1 = t0 + opts.measureS * 1000
  for (const h of [a, b]) {
    await new Promise((resolve, reject) => {
      const req = http.get(`${h.url}/events`, (res) => {
        res.setEncoding('utf8')
        res.on('data', sseParser((event, data) => {
          if (event !== 'entry') return
          const e = JSON.parse(data)
          if (e.hub !== a.peerId && e.hub !== b.peerId) return
          const k = `${e.hub} ${e.seq}`
          const r = stored.get(k) ?? { origin: e.hub, at: {} }
          r.at[h.peerId] = e.storedAt
          stored.set(k, r)
        }))
        resolve()
      })
      req.on('error', reject)
      reqs.push(req)
    })
  }
  await sleep(t1 - Date.now())
  await sleep(5000) // entries made near t1 get time to cross
  for (const r of reqs) r.destroy()
  const lat = []
  let missing = 0
  for (const r of stored.values()) {
    const own = r.at[r.origin]
    if (own === undefined || own < t0 || own >= t1) continue
    const other = r.at[r.origin === a.peerId ? b.peerId : a.peerId]
    if (other === undefined) missing++
    else lat.push(other - own)
  }
  lat.sort((x, y) => x - y)
  return { entries: lat.length + missing, missing, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.at(-1) ?? null }
}

/**
 * Replication between the villages over one kind of connection: 'relayed' (routers that randomise
 * ports, the public hub relaying) or 'hole-punched' (then the public hub is stopped).
 */
async function replicationOver (kind, opts) {
  const w = await natWorld(kind === 'relayed')
  let failed = false
  try {
    const { pub, a, b } = w
    for (const h of [pub, a, b]) h.spawn()
    await Promise.all([pub, a, b].map(async h => await h.waitApi()))
    if ((await firstSeen(a, b, Date.now(), kind, opts)).ms === null) throw new Error(`the villages never connected ${kind}`)
    if (kind === 'hole-punched') await pub.stop()
    const r = await replication(w, opts)
    return { ...r, connection: (await peerRow(a, b.peerId))?.connection ?? null }
  } catch (err) {
    failed = true
    throw err
  } finally {
    await destroyWorld(w, failed)
  }
}

export async function benchReach (options = {}) {
  const opts = { ...defaultReachBenchOptions, ...options }
  const why = reachUnavailable()
  if (why !== undefined) return { skipped: why }
  const runs = []
  for (let i = 0; i < opts.runs; i++) {
    log(`reach: connect run ${i + 1}/${opts.runs}`)
    runs.push(await connectRun(opts))
  }
  log(`reach: replication over the relay (${opts.measureS} s)`)
  const relayed = await replicationOver('relayed', opts)
  log(`reach: replication over the hole-punched connection, public hub stopped (${opts.measureS} s)`)
  const direct = await replicationOver('hole-punched', opts)
  const ms = (k) => runs.map(r => r[k]).filter(x => x !== null).sort((x, y) => x - y)
  return {
    runs,
    firstConnectionMedianMs: pct(ms('firstMs'), 50),
    directMedianMs: pct(ms('directMs'), 50),
    punched: runs.filter(r => r.directMs !== null).length,
    replication: { relayed, direct, relayedVsDirectP50: relayed.p50Ms !== null && direct.p50Ms ? round(relayed.p50Ms / direct.p50Ms, 2) : null },
    pollMs: opts.pollMs
  }
}

export function formatReach (r) {
  if (r.skipped !== undefined) return [['reach (network namespaces)', 'skipped', '', r.skipped]]
  const f = (x) => x === null || x === undefined ? 'n/a' : `${Math.round(x).toLocaleString('en-US')}`
  const runs = r.runs.map(x => `${f(x.firstMs)}/${f(x.directMs)}`).join(', ')
  const { relayed, direct } = r.replication
  return [
    ['hubs spawned → villages connected (relay)', `${f(r.firstConnectionMedianMs)} ms`, '', `median of ${r.runs.length} runs (first/direct ms: ${runs}); relay up ${r.runs.map(x => f(x.relayMs)).join(', ')} ms, village API up ${r.runs.map(x => f(x.apiUpMs)).join(', ')} ms; polled every ${r.pollMs} ms`],
    ['hubs spawned → villages direct (hole punch)', `${f(r.directMedianMs)} ms`, '', `${r.punched}/${r.runs.length} runs punched`],
    ['village→village entry p50 / p99, relayed', `${f(relayed.p50Ms)} / ${f(relayed.p99Ms)} ms`, '', `${relayed.entries} entries, ${relayed.missing} not crossed; connection ${relayed.connection}`],
    ['village→village entry p50 / p99, direct', `${f(direct.p50Ms)} / ${f(direct.p99Ms)} ms`, '', `${direct.entries} entries, ${direct.missing} not crossed; connection ${direct.connection}, public hub stopped; relayed/direct p50 ${r.replication.relayedVsDirectP50 ?? 'n/a'}`]
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (k, d) => { const i = process.argv.indexOf(k); return i < 0 ? d : Number(process.argv[i + 1]) }
  const quick = process.argv.includes('--quick')
  const r = await benchReach({ runs: arg('--runs', quick ? 1 : 3), measureS: arg('--measure-s', quick ? 10 : 30) })
  for (const row of formatReach(r)) console.log(row.join('  '))
  console.log(JSON.stringify(r))
}
