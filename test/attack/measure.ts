import { readFileSync } from 'node:fs'
import type { TestHub } from '../lib/testnet.js'

/** Resident set of a process, bytes (Linux /proc). */
export function rssOf (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}

/** CPU time of a process so far, ms (user + system, from /proc/<pid>/stat; 100 ticks a second). */
export function cpuMsOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * Samples every hub's RSS and CPU while a phase runs. A hub restarted during the phase starts a new
 * baseline (its RSS growth is measured from its new process's first sample).
 */
export class HubSampler {
  private timer?: NodeJS.Timeout
  private readonly rows = new Map<number, { pid: number, fresh: boolean, firstRss: number, maxRss: number, lastRss: number, cpu0: number, cpu1: number, t0: number, t1: number }>()
  private started = false

  constructor (private readonly hubs: TestHub[], private readonly everyMs = 250) {}

  /** RSS of a hub's current process now, bytes (0 when it is not running). */
  rssNow (h: TestHub): number {
    const pid = h.proc?.pid
    if (pid === undefined || !h.alive) return 0
    try { return rssOf(pid) } catch { return 0 }
  }

  start (): void {
    this.sample()
    this.started = true
    this.timer = setInterval(() => { this.sample() }, this.everyMs)
  }

  private sample (): void {
    for (const h of this.hubs) {
      const pid = h.proc?.pid
      if (pid === undefined || !h.alive) continue
      try {
        const rss = rssOf(pid)
        const cpu = cpuMsOf(pid)
        const now = Date.now()
        const r = this.rows.get(h.index)
        if (r === undefined || r.pid !== pid) this.rows.set(h.index, { pid, fresh: this.started, firstRss: rss, maxRss: rss, lastRss: rss, cpu0: cpu, cpu1: cpu, t0: now, t1: now })
        else { r.maxRss = Math.max(r.maxRss, rss); r.lastRss = rss; r.cpu1 = cpu; r.t1 = now }
      } catch {} // exited between the check and the read
    }
  }

  /** growthMb is null for a process that started during the sampling (its start-up is no growth). */
  stop (): Array<{ hub: string, rssMb: number, maxRssMb: number, growthMb: number | null, cpuPct: number }> {
    clearInterval(this.timer)
    this.sample()
    return this.hubs.filter(h => this.rows.has(h.index)).map(h => {
      const r = this.rows.get(h.index)!
      const mb = (b: number): number => Math.round(b / 1024 / 1024 * 10) / 10
      return { hub: h.name, rssMb: mb(r.lastRss), maxRssMb: mb(r.maxRss), growthMb: r.fresh ? null : mb(r.maxRss - r.firstRss), cpuPct: r.t1 > r.t0 ? Math.round((r.cpu1 - r.cpu0) / (r.t1 - r.t0) * 100) : 0 }
    })
  }
}

/** p-th percentile (0..100) of `xs`; NaN when empty. */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]
}

/** A hub's GET /metrics as series → value (labels left out: the first series of a name wins). */
export async function scrape (url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m !== null && !out.has(m[1])) out.set(m[1], Number(m[3]))
  }
  return out
}
