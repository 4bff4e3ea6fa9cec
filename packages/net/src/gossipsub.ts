import { GossipSub, type GossipsubOpts, type GossipSubComponents } from '@chainsafe/libp2p-gossipsub'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { bestConnection, isLimited } from './connections.js'

/**
 * gossipsub 14.1 keeps one outbound and one inbound stream per peer, and assumes one connection
 * per peer. With two (a hole punch: relayed first, then direct, then the relayed one closed):
 * - `createOutboundStream` does nothing while an outbound stream is recorded for the peer, even
 *   one that died with its connection, so no stream is ever opened on the connection that
 *   remains, and nothing more is sent to that peer;
 * - an inbound stream that fails removes the peer from the router (mesh, topics, score), though
 *   it is still connected, and nothing brings it back while that connection lasts.
 * Here, as in go-libp2p-pubsub, a peer leaves the router only when its last connection closes
 * (`peer:disconnect`, through the registrar); a stream that dies with one of several connections
 * is replaced on the best remaining one (at the next heartbeat); and a stream on a limited
 * (relayed) connection moves to an unlimited connection as soon as one is identified.
 */
export class HubGossipSub extends GossipSub {
  readonly #components: GossipSubComponents
  readonly #limitedOk: boolean
  readonly #own: Bookkeeping

  constructor (components: GossipSubComponents, init: Partial<GossipsubOpts>) {
    super(components, init)
    this.#components = components
    this.#limitedOk = init.runOnLimitedConnection === true
    const own = this.#own = this as unknown as Bookkeeping
    if (typeof own.createOutboundStream !== 'function' || typeof own.handlePeerReadStreamError !== 'function' || typeof own.outboundInflightQueue?.push !== 'function') {
      throw new Error('@chainsafe/libp2p-gossipsub changed its stream bookkeeping: packages/net/src/gossipsub.ts is written for 14.1')
    }
    const create = own.createOutboundStream.bind(this)
    own.createOutboundStream = async (peerId, connection) => { await this.#outbound(create, peerId, connection) }
    const readError = own.handlePeerReadStreamError.bind(this)
    own.handlePeerReadStreamError = (err, peerId) => {
      if (this.#best(peerId) === undefined) { readError(err, peerId); return }
      // One stream lost, not the peer: the next heartbeat checks that our stream to it still runs.
      this.log('inbound stream of %p failed while still connected: %s', peerId, err?.message)
    }
    // Every heartbeat (1 s): a peer whose stream died with its connection, or whose stream runs on
    // a relay while an unlimited connection is open, gets one on its best connection.
    this.addEventListener('gossipsub:heartbeat', () => {
      for (const peerId of this.peers.values()) {
        const best = this.#best(peerId)
        if (best !== undefined && this.#needsStream(peerId, best)) this.#own.outboundInflightQueue.push({ peerId, connection: best })
      }
    })
  }

  #best (peer: PeerId): Connection | undefined {
    return bestConnection(this.#components.connectionManager.getConnections(peer), this.#limitedOk)
  }

  /** Our outbound stream to the peer is missing, dead (its connection closed), or on a limited connection while `best` is not. */
  #needsStream (peerId: PeerId, best: Connection): boolean {
    const have = this.streamsOutbound.get(peerId.toString())
    if (have === undefined) return true
    // The libp2p stream under gossipsub's OutboundStream (private in its typings).
    const raw = (have as unknown as { rawStream?: Stream }).rawStream
    const on = raw === undefined ? undefined : this.#components.connectionManager.getConnections(peerId).find(c => c.streams.includes(raw))
    if (on === undefined || on.status !== 'open' || raw?.status !== 'open') return true
    return isLimited(on) && !isLimited(best)
  }

  /** gossipsub's createOutboundStream (run one at a time from its queue), on the best connection, replacing a dead or limited stream. */
  async #outbound (create: Bookkeeping['createOutboundStream'], peerId: PeerId, given: Connection): Promise<void> {
    try {
      const id = peerId.toString()
      const best = this.#best(peerId) ?? (given.status === 'open' ? given : undefined)
      if (best === undefined || !this.#needsStream(peerId, best)) return
      const old = this.streamsOutbound.get(id)
      if (old !== undefined) {
        this.log('outbound stream to %p replaced by one on %a', peerId, best.remoteAddr)
        this.streamsOutbound.delete(id)
        this.#own.metrics?.peersPerProtocol.inc({ protocol: old.protocol }, -1)
      }
      await create(peerId, best)
      old?.close().catch(() => {})
    } catch (err: any) {
      // Never into gossipsub's queue: a throw there would end it for every peer.
      this.log.error('outbound stream to %p failed: %s', peerId, err?.message)
    }
  }
}

/** gossipsub 14.1's own parts this class works with (not in its typings; checked at construction). */
interface Bookkeeping {
  createOutboundStream: (peerId: PeerId, connection: Connection) => Promise<void>
  handlePeerReadStreamError: (err: Error, peerId: PeerId) => void
  outboundInflightQueue: { push: (v: { peerId: PeerId, connection: Connection }) => void }
  metrics: { peersPerProtocol: { inc: (labels: { protocol: string }, value: number) => void } } | null
}

export function hubGossipsub (init: Partial<GossipsubOpts>): (components: GossipSubComponents) => HubGossipSub {
  return (components) => new HubGossipSub(components, init)
}
