import { serve, request, peerIdFromString, multiaddr, type HubNode } from '@ecandle/net'
import { encode, limits, protocols, ProtocolError, ValidationError, type Network } from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import type { Ingest, IngestLogger } from './ingest.js'
import { decodeEntriesRequest, decodeHeadsRequest, decodeHeadsResponse, encodeEntriesRequest, encodeHeadsResponse } from './messages.js'

export interface SyncOptions {
  /** Anti-entropy period. */
  intervalMs: number
  /** Deadline of one request/response exchange. */
  requestTimeoutMs: number
  /** Peers synced at once. */
  concurrency: number
}

export const defaultSyncOptions: SyncOptions = { intervalMs: 3000, requestTimeoutMs: 10_000, concurrency: 2 }

/**
 * Repair path: serves `heads` and `entries`, and every few seconds (and at once on a gap)
 * compares heads with connected peers and fetches what it lacks. Gossip is the fast path;
 * this is what makes every hub converge to the same logs once connected.
 */
export class SyncService {
  private timer?: NodeJS.Timeout
  private readonly busy = new Set<string>()
  private readonly urgent = new Set<string>()
  private running = 0
  private stopped = true
  readonly counts = { rounds: 0, fetched: 0, errors: 0, served: 0 }

  constructor (
    private readonly node: HubNode,
    private readonly net: Network,
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly log: IngestLogger,
    private readonly opts: SyncOptions = defaultSyncOptions
  ) {}

  async start (): Promise<void> {
    this.stopped = false
    const serveOpts = { maxRequestBytes: limits.maxRequestBytes, timeoutMs: this.opts.requestTimeoutMs, maxInboundStreams: 16 }
    await serve(this.node, protocols.heads(this.net.id), (req) => {
      // A malformed request is refused (the stream is reset), never answered as if it were `{}`.
      decodeHeadsRequest(req)
      this.counts.served++
      return [encodeHeadsResponse(this.store.heads())]
    }, { ...serveOpts, maxResponseBytes: 64 * 1024 }, this.log)
    await serve(this.node, protocols.entries(this.net.id), (req) => this.serveEntries(req), { ...serveOpts, maxResponseBytes: limits.maxEntryBytes }, this.log)
    this.timer = setInterval(() => { this.round() }, this.opts.intervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.node.unhandle([protocols.heads(this.net.id), protocols.entries(this.net.id)]).catch(() => {})
  }

  private async * serveEntries (req: Uint8Array): AsyncGenerator<Uint8Array> {
    const r = decodeEntriesRequest(req)
    this.counts.served++
    yield * await this.store.getEntries(r.hub, r.from, r.limit)
  }

  /** Sync with `peer` soon (a gap was seen in something it sent). */
  requestSync (peer: string): void {
    if (this.stopped || peer === this.node.peerId.toString()) return
    this.urgent.add(peer)
    queueMicrotask(() => { this.round(true) })
  }

  /** One anti-entropy round over connected peers, bounded in concurrency, one exchange per peer. */
  private round (urgentOnly = false): void {
    if (this.stopped) return
    if (!urgentOnly) {
      this.counts.rounds++
      this.keepConnected()
    }
    const peers = urgentOnly ? [...this.urgent] : this.node.getPeers().map(p => p.toString())
    for (const peer of peers) {
      if (this.running >= this.opts.concurrency) break
      if (this.busy.has(peer)) continue
      this.urgent.delete(peer)
      this.busy.add(peer)
      this.running++
      void this.syncWith(peer).catch((err: any) => {
        this.counts.errors++
        this.log.debug({ peer, err: String(err?.message ?? err) }, 'sync failed')
      }).finally(() => {
        this.busy.delete(peer)
        this.running--
      })
    }
  }

  /** Compares heads with one peer and fetches every entry it has that we lack. */
  async syncWith (peerStr: string): Promise<number> {
    const peer = peerIdFromString(peerStr)
    const signal = AbortSignal.timeout(this.opts.requestTimeoutMs)
    let headsFrame: Uint8Array | undefined
    for await (const f of request(this.node, peer, protocols.heads(this.net.id), encode({}), { maxResponseBytes: 64 * 1024, maxFrames: 1, signal })) headsFrame = f
    if (headsFrame === undefined) throw new ProtocolError('sync', 'heads: empty response')
    let fetched = 0
    for (const h of decodeHeadsResponse(headsFrame, this.net.hubs.size)) {
      if (!this.net.hubs.has(h.hub)) continue
      const ours = this.store.head(h.hub)?.seq ?? 0
      if (h.seq > ours) {
        fetched += await this.fetch(peer, h.hub, ours + 1, h.seq)
      } else if ((await this.ingest.idAt(h.hub, h.seq)) !== h.id.toString()) {
        // Same seq, another id: fetch theirs so ingest can keep the equivocation as evidence.
        await this.fetch(peer, h.hub, h.seq, h.seq)
      }
    }
    return fetched
  }

  private async fetch (peer: ReturnType<typeof peerIdFromString>, hub: string, from: number, to: number): Promise<number> {
    let fetched = 0
    let next = from
    while (next <= to && !this.stopped) {
      const limit = Math.min(limits.maxEntriesPerRequest, to - next + 1)
      const signal = AbortSignal.timeout(this.opts.requestTimeoutMs)
      let got = 0
      for await (const bytes of request(this.node, peer, protocols.entries(this.net.id), encodeEntriesRequest({ hub, from: next, limit }), { maxResponseBytes: limits.maxEntryBytes, maxFrames: limit, signal })) {
        got++
        try {
          await this.ingest.accept(bytes, peer.toString())
          fetched++
          this.counts.fetched++
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err
          if (err.action === 'REJECT') {
            // A peer serving provably bad entries: stop trusting this exchange.
            this.log.warn({ peer: peer.toString(), hub, code: err.code, err: err.message }, 'sync: peer served a bad entry')
            return fetched
          }
          // duplicate/equivocation/gap: keep going; a gap means the peer skipped, so stop this hub.
          if (err.code === 'gap' || err.code === 'fork') return fetched
        }
      }
      if (got === 0) break
      next += got
    }
    return fetched
  }

  /** Redial bootstrap peers we are not connected to (after restarts and partitions heal). */
  private keepConnected (): void {
    const connected = new Set(this.node.getPeers().map(p => p.toString()))
    for (const addr of this.net.def.bootstrap) {
      const id = addr.split('/p2p/')[1]
      if (id === undefined || id === this.node.peerId.toString() || connected.has(id)) continue
      void this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(2000) }).catch(() => {})
    }
  }
}
