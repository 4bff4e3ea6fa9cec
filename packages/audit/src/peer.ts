import { createLightNode } from '@ecandle/net/light'
import { ProtocolError, type Network } from '@ecandle/protocol'
import { certificatesFrom, entriesOf, fetchLeaves, fetchProof, fetchResolutions, type CallOptions, type ProofResponse } from '@ecandle/wire'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { AuditSource } from './source.js'

export interface AuditPeerOptions {
  /** Deadline of one request/response exchange (and of the dial, unless `signal` is given). */
  timeoutMs?: number
  /** Aborts the dial. */
  signal?: AbortSignal
}

/**
 * A light peer's view of one hub: a libp2p node with a throwaway key, no listener, no store,
 * asking one peer over the hubs' own request/response protocols (TCP or WebSockets in Node,
 * WebSockets in a browser: @ecandle/net/light). Nothing it returns is trusted:
 * the auditor checks every byte against certificates and signatures.
 */
export class AuditPeer implements AuditSource {
  private constructor (readonly node: Libp2p, readonly peer: PeerId, readonly net: Network, private readonly timeoutMs: number) {}

  static async connect (net: Network, addr: string, opts: AuditPeerOptions = {}): Promise<AuditPeer> {
    let ma
    try {
      ma = multiaddr(addr)
    } catch (err: any) {
      throw new ProtocolError('peer', `hub address ${addr}: not a multiaddr (${String(err?.message ?? err)})`)
    }
    const id = ma.getPeerId()
    if (id === null) throw new ProtocolError('peer', `hub address ${addr}: the multiaddr must end in /p2p/<peer id>`)
    const node = await createLightNode()
    const timeoutMs = opts.timeoutMs ?? 30_000
    try {
      const conn = await node.dial(ma, { signal: opts.signal ?? AbortSignal.timeout(timeoutMs) })
      return new AuditPeer(node, conn.remotePeer, net, timeoutMs)
    } catch (err: any) {
      try { await node.stop() } catch {}
      throw new ProtocolError('peer', `cannot reach ${addr}: ${String(err?.message ?? err)}`)
    }
  }

  get peerId (): string { return this.peer.toString() }

  async close (): Promise<void> {
    await this.node.stop()
  }

  /** Each exchange: the caller's signal, and our deadline. */
  private opts (o: AbortOptions): CallOptions { return { signal: o.signal, timeoutMs: this.timeoutMs } }

  /** Every certificate the peer holds from `from` on, in epoch order, as served (unverified). */
  certificates (from: number, o: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    return this.named(certificatesFrom(this.node, this.peer, this.net.id, from, this.opts(o)))
  }

  /** Entries `from..to` of `hub`'s log, as served (unverified). Stops early if the peer has no more. */
  entries (hub: string, from: number, to: number, o: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    return this.named(entriesOf(this.node, this.peer, this.net.id, { hub, from, to }, this.opts(o)))
  }

  /** The account's leaf and Merkle path in `epoch` (unverified); undefined if the peer has not decided it. */
  async proof (epoch: number, account: string, o: AbortOptions = {}): Promise<ProofResponse | undefined> {
    try {
      return await fetchProof(this.node, this.peer, this.net.id, epoch, account, this.opts(o))
    } catch (err) { throw this.wrongNetwork(err) }
  }

  /** Every leaf of `epoch`'s tally tree, in tree order (unverified); empty if not decided there. */
  async leaves (epoch: number, o: AbortOptions = {}): Promise<Uint8Array[]> {
    try {
      return await fetchLeaves(this.node, this.peer, this.net.id, epoch, this.opts(o))
    } catch (err) { throw this.wrongNetwork(err) }
  }

  /** Protocol names carry the network id: a hub of another network speaks none of ours. */
  private wrongNetwork (err: any): unknown {
    if (err?.name !== 'UnsupportedProtocolError') return err
    return new ProtocolError('wrong-network', `${this.peerId} does not serve network ${this.net.id} (it speaks none of this network's protocols)`)
  }

  private async * named (frames: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
    try {
      yield * frames
    } catch (err) { throw this.wrongNetwork(err) }
  }

  /** The resolutions epoch `epoch`'s decided value names (unverified); empty if the peer has none. */
  async resolutions (epoch: number, o: AbortOptions = {}): Promise<Uint8Array[]> {
    return await fetchResolutions(this.node, this.peer, this.net.id, { epoch }, this.opts(o))
  }
}
