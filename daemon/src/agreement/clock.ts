import { epochOf, epochVoteAtMs, type Network } from '@ecandle/protocol'

/** Time and timers, injected so every agreement part runs on a fake clock in tests. */
export interface Clock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (timer: unknown) => void
}

/** The process clock; its timers never keep the process alive (components clear them on stop). */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (t) => { clearTimeout(t as NodeJS.Timeout) }
}

/** Node fires longer timers at once; a far-off vote is waited for in steps. */
const MAX_TIMER_MS = 3_600_000

/**
 * When each epoch's vote opens (its end plus the grace period), on a Clock. `watch` sleeps until the
 * vote of the epoch to decide opens, then calls back every `recheckMs` until that epoch moves on
 * (decided here or adopted); `poke` re-arms it at once when it does.
 */
export class EpochClock {
  private timer?: unknown
  private watching?: { next: () => number, due: (epoch: number) => void }

  constructor (private readonly net: Network, readonly clock: Clock, private readonly recheckMs: number) {}

  now (): number { return this.clock.now() }
  /** When the vote of `epoch` opens (ms). */
  voteAt (epoch: number): number { return epochVoteAtMs(this.net, epoch) }
  epochOf (ms: number): number { return epochOf(this.net, ms) }

  /** True when the vote of `epoch` opened more than an epoch ago: the others have most likely decided it without us. */
  isFarBehind (epoch: number): boolean {
    return this.now() >= this.voteAt(epoch + 1) + this.net.def.epochLengthS * 1000
  }

  /** Calls `due(next())` once the vote of `next()` opens, and again every `recheckMs` while it stays the epoch to decide. */
  watch (next: () => number, due: (epoch: number) => void): void {
    this.watching = { next, due }
    this.poke()
  }

  /** The epoch to decide changed (or may have): re-arm for it at once. */
  poke (): void {
    const w = this.watching
    if (w !== undefined) this.arm(w, undefined)
  }

  /** `after`: the epoch just handled (it is rechecked later, a new one as soon as its vote opens). */
  private arm (w: NonNullable<EpochClock['watching']>, after: number | undefined): void {
    this.clock.clearTimeout(this.timer)
    const epoch = w.next()
    const wait = this.voteAt(epoch) - this.now()
    this.timer = this.clock.setTimeout(() => {
      if (this.watching !== w) return
      const open = this.now() >= this.voteAt(epoch)
      if (open && w.next() === epoch) w.due(epoch)
      this.arm(w, open ? epoch : after)
    }, wait > 0 ? Math.min(wait, MAX_TIMER_MS) : epoch === after ? this.recheckMs : 0)
  }

  stop (): void {
    this.watching = undefined
    this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}
