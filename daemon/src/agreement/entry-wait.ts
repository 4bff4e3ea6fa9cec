import type { AbortOptions } from '@libp2p/interface'
import type { CutItem } from '@ecandle/protocol'
import type { Clock } from './clock.js'

interface Waiter { cut: readonly CutItem[], done: (held: boolean) => void }

/** Waits beyond this many are told "not held" at once (each is a proposal or certificate in flight). */
const MAX_WAITERS = 256

/**
 * Waiting for the entries a cut names: resolved by the ingest path (`onEntry` for every appended
 * entry), never by polling. `seqOf` reads what is held now.
 */
export class EntryWait {
  private readonly waiters = new Set<Waiter>()

  constructor (private readonly seqOf: (hub: string) => number, private readonly clock: Clock) {}

  private held (cut: readonly CutItem[]): boolean {
    return cut.every(c => this.seqOf(c.hub) >= c.seq)
  }

  get waiting (): number { return this.waiters.size }

  /** True once every log holds its cut's seq; false when `timeoutMs` passes or the signal aborts first. */
  async until (cut: readonly CutItem[], opts: AbortOptions & { timeoutMs: number }): Promise<boolean> {
    if (this.held(cut)) return true
    if (opts.signal?.aborted === true || this.waiters.size >= MAX_WAITERS) return false
    return await new Promise<boolean>(resolve => {
      const w: Waiter = {
        cut,
        done: (held) => {
          this.waiters.delete(w)
          this.clock.clearTimeout(timer)
          opts.signal?.removeEventListener('abort', onAbort)
          resolve(held)
        }
      }
      const onAbort = (): void => { w.done(false) }
      const timer = this.clock.setTimeout(() => { w.done(false) }, opts.timeoutMs)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(w)
    })
  }

  /** An entry of `hub` was appended (the ingest path). */
  onEntry (hub: string): void {
    for (const w of [...this.waiters]) {
      if (w.cut.some(c => c.hub === hub) && this.held(w.cut)) w.done(true)
    }
  }

  /** Ends every wait ("not held"), e.g. on stop. */
  cancelAll (): void {
    for (const w of [...this.waiters]) w.done(false)
  }
}
