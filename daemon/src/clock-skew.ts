/**
 * How far our clock is from the other hubs', from the signed times of their entries.
 *
 * An entry is signed and gossiped at once, so on arrival `ourNow − entry.time = offset + delay`
 * with delay ≥ 0 (gossip hops, validation): the smallest difference over recent entries of a hub
 * is the best estimate of our offset to that hub's clock (late copies from sync only raise it).
 * The estimate of the network is the median over hubs, so one hub with a bad clock does not
 * make ours look wrong. Positive: our clock is ahead.
 */
export interface SkewEstimate {
  /** Median over hubs of each hub's estimate, ms (positive: our clock is ahead). */
  skewMs: number
  /** Hubs with a sample in the window. */
  hubs: number
  /** Per hub (peer id): its estimate, ms. */
  perHub: Record<string, number>
}

/** Samples older than this are forgotten: the estimate follows a clock that was corrected. */
const WINDOW_MS = 10 * 60_000
/** Samples kept per hub (the newest). */
const PER_HUB = 32

export class ClockSkew {
  private readonly samples = new Map<string, Array<{ at: number, diff: number }>>()

  constructor (private readonly now: () => number, private readonly self: string) {}

  /** An entry of `hub` signed at `timeMs` (its clock) arrived now. */
  sample (hub: string, timeMs: number): void {
    if (hub === this.self || !Number.isSafeInteger(timeMs)) return
    const at = this.now()
    let list = this.samples.get(hub)
    if (list === undefined) { list = []; this.samples.set(hub, list) }
    list.push({ at, diff: at - timeMs })
    if (list.length > PER_HUB) list.shift()
  }

  estimate (): SkewEstimate | undefined {
    const since = this.now() - WINDOW_MS
    const perHub: Record<string, number> = {}
    for (const [hub, list] of this.samples) {
      let best: number | undefined
      for (const s of list) if (s.at >= since && (best === undefined || s.diff < best)) best = s.diff
      if (best !== undefined) perHub[hub] = best
    }
    const values = Object.values(perHub).sort((a, b) => a - b)
    if (values.length === 0) return undefined
    const mid = values.length >> 1
    const skewMs = values.length % 2 === 1 ? values[mid] : Math.round((values[mid - 1] + values[mid]) / 2)
    return { skewMs, hubs: values.length, perHub }
  }
}
