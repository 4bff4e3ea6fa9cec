import type { AbortOptions, Startable } from '@libp2p/interface'
import { peerIdFromString, type HubNode } from '@ecandle/net'
import { ValidationError, type Network } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import { entriesOf, entriesProtocol, fetchHeads, handle, headsProtocol, type Served } from '@ecandle/wire'
import type { Ingest, IngestLogger } from './ingest.js'
import { PeerRotation } from './peer-rotation.js'

export interface SyncComponents {
  node: HubNode
  net: Network
  store: Store
  ingest: Ingest
  logger: IngestLogger
  /**
   * Whether `peer` is a hub whose log we keep: one that is or was a validator in the newest network
   * state (hubs added by governance included). Default: the network file's.
   */
  isHub?: (peer: string) => boolean
}

export interface SyncInit {
  /** Anti-entropy period. */
  intervalMs?: number
  /** Deadline of one request/response exchange (one page), ours and our answers'. */
  requestTimeoutMs?: number
  /** Peers synced at once. */
  concurrency?: number
}

export const defaultSyncOptions: Required<SyncInit> = { intervalMs: 3000, requestTimeoutMs: 10_000, concurrency: 2 }

/**
 * Repair path: serves `heads` and `entries`, and every few seconds (and at once on a gap)
 * compares heads with connected peers and fetches what it lacks. Gossip is the fast path;
 * this is what makes every hub converge to the same logs once connected.
 *
 * A component: `stop` aborts (through the signal it owns) every exchange in flight, ours and the
 * answers we are serving, and resolves only once they have all ended.
 */
export class SyncService implements Startable {
  private timer?: NodeJS.Timeout
  private readonly busy = new Set<string>()
  private readonly urgent = new Set<string>()
  private readonly running = new Set<Promise<unknown>>()
  private readonly opts: Required<SyncInit>
  private served: Served[] = []
  private shutdown = new AbortController()
  private stopped = true
  readonly counts = { rounds: 0, fetched: 0, errors: 0, served: 0 }
  /** Every connected peer in turn; peers that fail are left out for a while. */
  private readonly rotation: PeerRotation

  constructor (private readonly components: SyncComponents, init: SyncInit = {}) {
    this.opts = { ...defaultSyncOptions, ...init }
    this.rotation = new PeerRotation(this.opts.intervalMs)
  }

  isStarted (): boolean { return !this.stopped }

  private isHub (peer: string): boolean {
    return this.components.isHub?.(peer) ?? this.components.net.hubs.has(peer)
  }

  async start (): Promise<void> {
    if (!this.stopped) return
    const { node, net, store } = this.components
    this.shutdown = new AbortController()
    this.stopped = false
    const o = { logger: this.components.logger, signal: this.shutdown.signal, timeoutMs: this.opts.requestTimeoutMs }
    this.served = [
      await handle(node, net.id, headsProtocol, () => {
        this.counts.served++
        return [[...store.heads()].map(([hub, h]) => ({ hub, seq: h.seq, id: h.id }))]
      }, o),
      await handle(node, net.id, entriesProtocol, (r) => this.serveEntries(r), o)
    ]
    this.timer = setInterval(() => { this.round() }, this.opts.intervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.timer)
    this.shutdown.abort(new Error('sync stopped'))
    await Promise.all(this.served.map(async s => { await s.close() }))
    this.served = []
    await Promise.allSettled([...this.running])
  }

  private async * serveEntries (r: { hub: string, from: number, limit: number }): AsyncGenerator<Uint8Array> {
    this.counts.served++
    yield * await this.components.store.getEntries(r.hub, r.from, r.limit)
  }

  /** Sync with `peer` soon (a gap was seen in something it sent, or entries it has are awaited). */
  requestSync (peer: string): void {
    if (this.stopped || peer === this.components.node.peerId.toString()) return
    this.urgent.add(peer)
    queueMicrotask(() => { this.round(true) })
  }

  /** One anti-entropy round over connected peers, bounded in concurrency, one exchange per peer. */
  private round (urgentOnly = false): void {
    if (this.stopped) return
    // Staying connected (bootstrap, validators, relays) is the net package's reach service.
    if (!urgentOnly) this.counts.rounds++
    const free = this.opts.concurrency - this.busy.size
    const peers = urgentOnly ? [...this.urgent] : this.rotation.pick(this.components.node.getPeers().map(p => p.toString()), free, this.busy)
    for (const peer of peers) {
      if (this.busy.size >= this.opts.concurrency) break
      if (this.busy.has(peer)) continue
      this.urgent.delete(peer)
      this.busy.add(peer)
      const startedAt = Date.now()
      void this.syncWith(peer).then(() => { this.rotation.succeeded(peer, startedAt) }, (err: any) => {
        if (this.stopped) return
        this.counts.errors++
        this.rotation.failed(peer)
        this.components.logger.debug({ peer, err: String(err?.message ?? err) }, 'sync failed')
      }).finally(() => {
        this.busy.delete(peer)
        // Asked for while busy (or over the concurrency): served now rather than at the next round.
        if (this.urgent.size > 0) queueMicrotask(() => { this.round(true) })
      })
    }
  }

  /**
   * The head seq of `hub`'s log as each connected hub (validator now or before) holds it (0 when it holds none);
   * peers that fail to answer are left out.
   */
  async validatorHeads (hub: string, opts: AbortOptions = {}): Promise<Array<{ peer: string, seq: number }>> {
    if (this.stopped) return []
    const { node, net } = this.components
    const peers = node.getPeers().map(p => p.toString()).filter(p => this.isHub(p))
    const answers = await Promise.all(peers.map(async peer => {
      try {
        const heads = await this.track(fetchHeads(node, peerIdFromString(peer), net.id, this.callOptions(opts)))
        return { peer, seq: heads.find(h => h.hub === hub)?.seq ?? 0 }
      } catch {
        return undefined
      }
    }))
    return answers.filter(a => a !== undefined)
  }

  /** Counts `p` as in flight until it settles (stop waits for it). */
  private async track<T> (p: Promise<T>): Promise<T> {
    this.running.add(p)
    try {
      return await p
    } finally {
      this.running.delete(p)
    }
  }

  /** Call options of one exchange: the caller's signal and our stop, and a deadline per page. */
  private callOptions (opts: AbortOptions): { signal: AbortSignal, timeoutMs: number } {
    const signal = opts.signal === undefined ? this.shutdown.signal : AbortSignal.any([opts.signal, this.shutdown.signal])
    return { signal, timeoutMs: this.opts.requestTimeoutMs }
  }

  /**
   * Compares heads with one peer and fetches every entry it has that we lack. Bounded by the caller's
   * signal, our stop, and a deadline per exchange.
   */
  async syncWith (peerStr: string, opts: AbortOptions = {}): Promise<number> {
    if (this.stopped) throw new Error('sync is stopped')
    return await this.track(this.exchange(peerStr, opts))
  }

  private async exchange (peerStr: string, opts: AbortOptions): Promise<number> {
    const { node, net, store, ingest } = this.components
    const peer = peerIdFromString(peerStr)
    const o = this.callOptions(opts)
    let fetched = 0
    for (const h of await fetchHeads(node, peer, net.id, o)) {
      if (!this.isHub(h.hub)) continue
      const ours = store.head(h.hub)?.seq ?? 0
      if (h.seq > ours) {
        fetched += await this.fetch(peer, h.hub, ours + 1, h.seq, o)
      } else if ((await ingest.idAt(h.hub, h.seq)) !== h.id.toString()) {
        // Same seq, another id: fetch theirs so ingest can keep the equivocation as evidence.
        await this.fetch(peer, h.hub, h.seq, h.seq, o)
      }
    }
    return fetched
  }

  private async fetch (peer: ReturnType<typeof peerIdFromString>, hub: string, from: number, to: number, o: { signal: AbortSignal, timeoutMs: number }): Promise<number> {
    let fetched = 0
    for await (const bytes of entriesOf(this.components.node, peer, this.components.net.id, { hub, from, to }, o)) {
      try {
        await this.components.ingest.accept(bytes, peer.toString())
        fetched++
        this.counts.fetched++
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        if (err.action === 'REJECT') {
          // A peer serving provably bad entries: stop trusting this exchange, and ask it less.
          this.rotation.failed(peer.toString())
          this.components.logger.warn({ peer: peer.toString(), hub, code: err.code, err: err.message }, 'sync: peer served a bad entry')
          return fetched
        }
        // duplicate/equivocation/gap: keep going; a gap means the peer skipped, so stop this hub.
        if (err.code === 'gap' || err.code === 'fork') return fetched
      }
    }
    return fetched
  }
}
