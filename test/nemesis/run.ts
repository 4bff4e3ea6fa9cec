import { epochOf } from '@ecandle/protocol'
import { waitFor } from '../lib/testnet.js'
import { checkHistory, type CheckResult } from './check.js'
import { Cluster, canMount } from './cluster.js'
import { countByKind, describeFault, FAULT_KINDS, makeSchedule, type FaultKind } from './schedule.js'

export interface NemesisOptions {
  /** Replays a run's schedule (printed by every run). Random when absent. */
  seed?: number
  durationMs: number
  hubs?: number
  devicesPerHub?: number
  epochLengthS?: number
  maxPauseMs?: number
  maxClockOffsetMs?: number
  log?: (line: string) => void
}

export interface NemesisReport extends CheckResult {
  seed: number
  faults: Partial<Record<FaultKind, { injected: number, healed: number }>>
  kinds: number
  /** From the last heal (devices stopped) to identical heads on every hub. */
  convergeMs: number
  /** From the last heal to every hub holding the same decision of the last epoch with entries. */
  decideMs: number
  crashes: number
}

/**
 * One nemesis run: a cluster, a seeded schedule of faults applied while devices report, then every
 * fault healed, the devices stopped, convergence awaited and the history checked (check.ts).
 */
export async function runNemesis (o: NemesisOptions): Promise<NemesisReport> {
  const log = o.log ?? ((l: string) => { process.stdout.write(l + '\n') })
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31)
  const hubs = o.hubs ?? 4
  const mount = canMount()
  const diskHub = mount ? seed % hubs : undefined
  const kinds = FAULT_KINDS.filter(k => k !== 'disk' || mount)
  log(`  nemesis seed ${seed} (replay: NEMESIS_SEED=${seed}), ${hubs} hubs, ${Math.round(o.durationMs / 1000)} s of faults: ${kinds.join(', ')}${mount ? '' : ' (no tmpfs: not root, so no full disk)'}`)
  const epochLengthS = o.epochLengthS ?? 10
  const cluster = await Cluster.create({ hubs, devicesPerHub: o.devicesPerHub ?? 3, epochLengthS, gracePeriodS: 2, diskHub, log })
  try {
    await cluster.start()
    const tn = cluster.tn
    await waitFor('every hub connected to every other and a first entry of each', async () => {
      const s = await tn.statuses()
      return s.every(x => x.peers >= hubs - 1 && tn.peerIds.every(p => x.heads[p] !== undefined))
    }, { timeoutMs: 60_000 })
    const schedule = makeSchedule({
      seed,
      durationMs: o.durationMs,
      hubs,
      kinds,
      diskHub: diskHub ?? 0,
      maxPauseMs: o.maxPauseMs ?? 30_000,
      maxClockOffsetMs: o.maxClockOffsetMs ?? 120_000,
      // A hub ahead keeps its entry times after the heal until real time catches up: heal early enough.
      clockHealByMs: Math.max(20_000, o.durationMs - (o.maxClockOffsetMs ?? 120_000) - 20_000)
    })
    for (const f of schedule) log(`    ${describeFault(f)}`)
    await cluster.run(schedule)
    const healed = Date.now()
    await cluster.stopDevices()
    const snap = await tn.waitConverged({ hubs: tn.hubs, timeoutMs: 180_000 })
    const convergeMs = Date.now() - healed
    // Every hub decides the epoch of the last entry, the same way.
    const lastTime = Math.max(...(await Promise.all(tn.peerIds.map(async p => {
      const h = snap[0].heads[p]
      return h === undefined ? 0 : (await tn.hubs[0].logEntries(p, h.seq)).at(-1)?.time ?? 0
    }))))
    const want = epochOf(tn.net, lastTime)
    await waitFor(`every hub to decide epoch ${want}, the epoch of the last entry`, async () => {
      const s = await tn.statuses()
      return s.every(x => (x.lastEpoch ?? -1) >= want)
    }, { timeoutMs: 120_000, describe: async () => (await tn.statuses()).map(s => String(s.lastEpoch)).join(' ') })
    const decideMs = Date.now() - healed
    // Certificate copies settle (each hub forwards and keeps the canonical copy of the last epoch).
    await new Promise(resolve => setTimeout(resolve, 2000))
    const check = await checkHistory(tn.net, tn.hubs, cluster.emus.map(e => e.acks()))
    const faults = cluster.survived()
    for (const r of cluster.records) if (r.error !== undefined) check.problems.push(`fault ${describeFault(r.fault)}: ${r.error}`)
    for (const c of cluster.crashes) check.problems.push(`crash: ${c}`)
    const report: NemesisReport = { ...check, seed, faults, kinds: Object.keys(countByKind(schedule)).length, convergeMs, decideMs, crashes: cluster.crashes.length }
    log(summary(report))
    return report
  } catch (err) {
    log(`  nemesis seed ${seed} failed: ${String((err as Error)?.message ?? err)}\n${await diagnose(cluster)}\n${cluster.tn.logTails(15)}`)
    throw err
  } finally {
    await cluster.destroy()
  }
}

export function summary (r: NemesisReport): string {
  const faults = Object.entries(r.faults).map(([k, v]) => `${k} ${v.healed}/${v.injected}`).join(', ')
  return [
    `  nemesis seed ${r.seed}: faults survived/injected by kind: ${faults}`,
    `    acknowledged ${r.acked}, lost ${r.lost}, duplicate ${r.duplicate}, refused ${r.refused}; ${r.stored} reports in ${r.entries} entries`,
    `    ${r.epochs} epochs decided, certificates per epoch ≤ ${r.certificatesPerEpochMax} (copies differing: ${r.certificateCopiesDiffer}), counted ${r.countedMwh} mWh = the rules over the stored reports${r.problems.some(p => p.includes('energy') || p.includes('recomputed')) ? ' (NOT)' : ''}`,
    `    converged ${(r.convergeMs / 1000).toFixed(1)} s after the last heal (logs), ${(r.decideMs / 1000).toFixed(1)} s (last epoch decided); crashes ${r.crashes}; problems ${r.problems.length}`,
    ...r.problems.slice(0, 20).map(p => `    PROBLEM: ${p}`)
  ].join('\n')
}

/** What each running hub sees of the others: connected peers and connections refused, by reason. */
async function diagnose (cluster: Cluster): Promise<string> {
  const lines: string[] = []
  for (const h of cluster.hubs.filter(x => x.alive && x.url !== undefined)) {
    try {
      const peers = await h.get<Array<{ peerId: string, validator: boolean }>>('/peers')
      const metrics = await (await fetch(`${h.url as string}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      const refused = metrics.split('\n').filter(l => l.startsWith('ecandle_connections_refused_total{')).join(' ')
      lines.push(`  ${h.name}: connected to ${peers.map(p => cluster.hubs.find(x => x.peerId === p.peerId)?.name ?? p.peerId.slice(-6)).join(', ') || 'nobody'}; refused: ${refused || 'none'}`)
    } catch (err) {
      lines.push(`  ${h.name}: not answering (${String((err as Error)?.message ?? err)})`)
    }
  }
  return lines.join('\n')
}
