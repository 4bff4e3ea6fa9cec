/**
 * The nemesis schedule: a seeded random list of faults, each injected at `at` and healed at
 * `at + durationMs` (ms from the start of the run). Pure: the same seed and options give the same
 * schedule, which is how a failing run is replayed (the system's own timing is not replayed).
 */

export type FaultKind = 'kill' | 'pause' | 'partition' | 'clock' | 'disk' | 'broker'

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition', 'clock', 'disk', 'broker']

export interface Fault {
  kind: FaultKind
  /** ms from the start of the run */
  at: number
  durationMs: number
  /** Hub index (kill, pause, clock, disk). */
  hub?: number
  /** partition: hub indexes of one side (the others are the other side). */
  side?: number[]
  /** clock: ms added to the hub's clock. */
  offsetMs?: number
}

export interface ScheduleOptions {
  seed: number
  durationMs: number
  hubs: number
  kinds: readonly FaultKind[]
  /** The hub whose data dir sits on the small tmpfs (the disk fault's target). */
  diskHub: number
  /** Longest SIGSTOP (the issue: up to 30 s). */
  maxPauseMs: number
  /** Largest clock offset either way (the issue: up to 2 min). */
  maxClockOffsetMs: number
  /** The clock fault heals by this time (a hub ahead keeps its entry times until real time catches up). */
  clockHealByMs: number
}

/** mulberry32: a small seeded PRNG (deterministic across platforms). */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Faults one after another with gaps of 1–6 s, overlapping where they do not collide: at most one
 * fault per hub, one partition, one broker restart, one full disk at a time, and one clock fault in
 * the run. The first faults go through every kind once (in random order), so a short run still mixes
 * them; everything is healed by `durationMs`.
 */
export function makeSchedule (o: ScheduleOptions): Fault[] {
  const r = rng(o.seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const a = [...xs]
    for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [a[i], a[j]] = [a[j], a[i]] }
    return a
  }
  const faults: Fault[] = []
  /** Until when each hub, the partition, the broker and the disk are busy with a fault. */
  const hubBusy = new Array<number>(o.hubs).fill(0)
  const busy: Record<'partition' | 'broker' | 'disk', number> = { partition: 0, broker: 0, disk: 0 }
  let clockDone = !o.kinds.includes('clock')
  const firsts = shuffle(o.kinds)
  let t = int(3000, 6000)
  for (let guard = 0; guard < 10_000 && t < o.durationMs - 4000; guard++) {
    const kind = firsts.shift() ?? pick(o.kinds)
    const left = o.durationMs - 2000 - t
    const free = hubBusy.map((u, i) => u <= t ? i : -1).filter(i => i >= 0)
    let f: Fault | undefined
    switch (kind) {
      case 'kill': {
        if (free.length === 0) break
        f = { kind, at: t, durationMs: Math.min(left, int(2000, 10_000)), hub: pick(free) }
        break
      }
      case 'pause': {
        if (free.length === 0) break
        f = { kind, at: t, durationMs: Math.min(left, int(3000, o.maxPauseMs)), hub: pick(free) }
        break
      }
      case 'partition': {
        // All hubs take part: every hub must be up to be told (paused or killed ones are told when back).
        if (busy.partition > t) break
        const order = shuffle(Array.from({ length: o.hubs }, (_, i) => i))
        const cut = int(1, o.hubs - 1)
        f = { kind, at: t, durationMs: Math.min(left, int(4000, 20_000)), side: order.slice(0, cut).sort((a, b) => a - b) }
        break
      }
      case 'clock': {
        if (clockDone || free.length === 0 || t > o.clockHealByMs - 10_000) break
        const sign = r() < 0.5 ? -1 : 1
        const offsetMs = sign * int(Math.min(20_000, o.maxClockOffsetMs), o.maxClockOffsetMs)
        f = { kind, at: t, durationMs: Math.min(o.clockHealByMs - t, int(10_000, 30_000)), hub: pick(free), offsetMs }
        clockDone = true
        break
      }
      case 'disk': {
        if (busy.disk > t || hubBusy[o.diskHub] > t) break
        f = { kind, at: t, durationMs: Math.min(left, int(4000, 15_000)), hub: o.diskHub }
        break
      }
      case 'broker': {
        if (busy.broker > t) break
        f = { kind, at: t, durationMs: Math.min(left, int(2000, 8000)) }
        break
      }
    }
    if (f !== undefined && f.durationMs >= 1000) {
      faults.push(f)
      const until = f.at + f.durationMs
      if (f.hub !== undefined) hubBusy[f.hub] = until
      if (f.kind === 'partition' || f.kind === 'broker' || f.kind === 'disk') busy[f.kind] = until
    }
    t += int(1000, 6000)
  }
  return faults
}

export function countByKind (faults: readonly Fault[]): Partial<Record<FaultKind, number>> {
  const out: Partial<Record<FaultKind, number>> = {}
  for (const f of faults) out[f.kind] = (out[f.kind] ?? 0) + 1
  return out
}

export function describeFault (f: Fault): string {
  const s = (f.at / 1000).toFixed(1)
  const d = (f.durationMs / 1000).toFixed(1)
  switch (f.kind) {
    case 'kill': return `${s}s kill hub-${(f.hub ?? 0) + 1}, restart after ${d}s`
    case 'pause': return `${s}s SIGSTOP hub-${(f.hub ?? 0) + 1} for ${d}s`
    case 'partition': return `${s}s partition {${(f.side ?? []).map(i => `hub-${i + 1}`).join(',')}} | rest for ${d}s`
    case 'clock': return `${s}s clock of hub-${(f.hub ?? 0) + 1} ${(f.offsetMs ?? 0) > 0 ? '+' : ''}${((f.offsetMs ?? 0) / 1000).toFixed(0)}s for ${d}s`
    case 'disk': return `${s}s fill the data disk of hub-${(f.hub ?? 0) + 1} for ${d}s`
    case 'broker': return `${s}s stop the MQTT broker for ${d}s`
  }
}
