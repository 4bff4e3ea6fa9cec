/**
 * Which connected peers an anti-entropy round asks: all of them in turn (a rotating cursor, so
 * no peer is asked twice before every other was asked once), skipping peers that failed lately.
 * A peer that does not answer, or answers with bad entries, is left out for a backoff that
 * doubles with each failure in a row (from one round up to `maxBackoffMs`) and is asked again
 * only after it; one good exchange clears it. So peers that never answer cannot starve repair.
 */
export class PeerRotation {
  private cursor = 0
  private readonly failures = new Map<string, { count: number, until: number, at: number }>()

  constructor (private readonly baseBackoffMs: number, private readonly maxBackoffMs = 60_000, private readonly now: () => number = Date.now) {}

  /**
   * Up to `n` of `peers` (in a stable order) not in `busy` and not backing off, starting where the
   * last pick stopped.
   */
  pick (peers: readonly string[], n: number, busy: ReadonlySet<string>): string[] {
    const sorted = [...peers].sort()
    const out: string[] = []
    const t = this.now()
    for (let i = 0; i < sorted.length && out.length < n; i++) {
      const p = sorted[(this.cursor + i) % sorted.length]
      if (busy.has(p)) continue
      const f = this.failures.get(p)
      if (f !== undefined && f.until > t) continue
      out.push(p)
    }
    if (sorted.length > 0 && out.length > 0) this.cursor = (sorted.indexOf(out[out.length - 1]) + 1) % sorted.length
    // Forget peers that left long ago (bounded by the peers we ever saw fail, trimmed here).
    if (this.failures.size > 4 * Math.max(16, sorted.length)) {
      for (const [p, f] of this.failures) if (f.until <= t) this.failures.delete(p)
    }
    return out
  }

  failed (peer: string): void {
    const count = (this.failures.get(peer)?.count ?? 0) + 1
    const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (count - 1))
    const t = this.now()
    this.failures.set(peer, { count, until: t + backoff, at: t })
  }

  /** An exchange begun at `startedAt` went well (unless a failure of it was recorded meanwhile). */
  succeeded (peer: string, startedAt: number): void {
    if ((this.failures.get(peer)?.at ?? -Infinity) < startedAt) this.failures.delete(peer)
  }

  /** Peers now left out (for status). */
  backingOff (): number {
    const t = this.now()
    let n = 0
    for (const f of this.failures.values()) if (f.until > t) n++
    return n
  }
}
