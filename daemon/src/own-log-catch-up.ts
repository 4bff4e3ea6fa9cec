import type { Store } from '@ecandle/store'
import type { IngestLogger } from '@ecandle/sync'

/** What the catch-up needs of sync (SyncService implements it). */
export interface OwnLogPeers {
  /** The head seq of `hub`'s log as each connected validator holds it (0: none of it); peers that do not answer are left out. */
  validatorHeads: (hub: string, opts?: { signal?: AbortSignal }) => Promise<Array<{ peer: string, seq: number }>>
  /** Fetches from `peer` every entry it has that we lack. */
  syncWith: (peer: string, opts?: { signal?: AbortSignal }) => Promise<unknown>
}

/**
 * A hub must never sign a sequence number it signed before: two entries at one seq are
 * equivocation. Its database may be behind its own log as the network holds it (a restored SD
 * card, a fresh database beside the old key), so before its first entry of a run the hub asks the
 * other validators for the head of its own log and fetches what they hold of it; only then may it
 * append (`ready`). Until at least one other validator has answered it does not append at all
 * (devices are told busy and resend). A network with no other validator has nobody to ask.
 * The agreement reads `behind` and `readyAt`: a restored data dir (its vote guard included) may have
 * signed votes it no longer knows of in an epoch whose vote began before then.
 */
export class OwnLogCatchUp {
  ready: boolean
  /** The database held less of our own log than some validator: it was restored or replaced. */
  behind = false
  /** When it became ready (clock ms); undefined while not ready, or when nobody was asked. */
  readyAt?: number
  private attempt?: Promise<void>
  private waitingLogged = false
  private readonly waiting = new Set<() => void>()

  constructor (
    /** The validators now (V(E) ∪ V(E+1) as governance decided; at start the network file's). */
    private readonly validators: () => readonly string[],
    private readonly self: string,
    private readonly store: Store,
    private readonly peers: OwnLogPeers,
    private readonly log: IngestLogger,
    private readonly now: () => number = Date.now
  ) {
    this.ready = this.nobodyToAsk()
  }

  private nobodyToAsk (): boolean { return !this.validators().some(v => v !== this.self) }

  /** Starts one attempt unless ready or one is running (HubLog calls it every entry interval until ready). */
  poke (): void {
    // Governance removed every other validator: nobody is left to ask.
    if (!this.ready && this.nobodyToAsk()) this.ready = true
    if (this.ready || this.attempt !== undefined) return
    this.attempt = this.tryOnce().catch((err: any) => {
      this.log.warn({ err: String(err?.message ?? err) }, 'own log catch-up failed; trying again')
    }).finally(() => { this.attempt = undefined })
  }

  /**
   * Resolves true once ready (at once if it is), false after `ms` if not: a report that arrives while
   * the hub catches up waits a little for it (at start that takes a round trip) rather than being
   * told busy at once (a device resends only seconds later).
   */
  async whenReady (ms: number): Promise<boolean> {
    if (this.ready) return true
    this.poke()
    if (this.ready) return true
    let done!: () => void
    const woken = new Promise<void>(resolve => { done = resolve })
    this.waiting.add(done)
    const timer = setTimeout(done, ms)
    try {
      await woken
    } finally {
      clearTimeout(timer)
      this.waiting.delete(done)
    }
    return this.ready
  }

  /** Resolves once the current attempt (if any) has ended. */
  async settled (): Promise<void> { await this.attempt }

  private async tryOnce (): Promise<void> {
    const ours = (): number => this.store.head(this.self)?.seq ?? 0
    const heads = await this.peers.validatorHeads(this.self)
    if (heads.length === 0) {
      if (!this.waitingLogged) this.log.info({ head: ours() }, 'own log: no other validator reached yet; not appending until one says how far our log goes (devices are told busy)')
      this.waitingLogged = true
      return
    }
    const highest = Math.max(...heads.map(h => h.seq))
    if (ours() < highest) this.behind = true
    for (const h of heads) if (h.seq > ours()) await this.peers.syncWith(h.peer).catch(() => {})
    if (ours() < highest) {
      this.log.warn({ head: ours(), peers: highest }, 'own log: the network holds more of it than our database; fetching it before appending')
      return
    }
    this.readyAt = this.now()
    this.ready = true
    for (const wake of this.waiting) wake()
    this.log.info({ head: ours(), asked: heads.length, behind: this.behind }, 'own log caught up with the network: appending')
  }
}
