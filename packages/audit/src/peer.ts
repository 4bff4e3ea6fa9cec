import { createHubNode, multiaddr, request, type HubNode } from '@ecandle/net'
import { encode, limits, MAX_CERTIFICATE_BYTES, protocols, ProtocolError, type Network } from '@ecandle/protocol'
import {
  decodeLeavesFrame, decodeProofResponse, encodeEntriesRequest, encodeTallyRequest, MAX_TALLY_FRAME_BYTES, type ProofResponse
} from '@ecandle/sync'
import type { PeerId } from '@libp2p/interface'
import { randomBytes } from 'node:crypto'
import type { AuditSource } from './source.js'

export interface AuditPeerOptions {
  /** Deadline of one request/response exchange. */
  timeoutMs?: number
}

/** Certificates asked for at once (a hub serves at most 64 a request). */
const CERTIFICATES_PER_REQUEST = 64
/** Most leaf frames accepted for one epoch: 4,096 × 512 leaves covers any real epoch. */
const MAX_LEAF_FRAMES = 4096

/**
 * A light peer's view of one hub: a libp2p node with a throwaway key, no listener, no store,
 * asking one peer over the hubs' own request/response protocols. Nothing it returns is trusted:
 * the auditor checks every byte against certificates and signatures.
 */
export class AuditPeer implements AuditSource {
  private constructor (readonly node: HubNode, readonly peer: PeerId, readonly net: Network, private readonly timeoutMs: number) {}

  static async connect (net: Network, addr: string, opts: AuditPeerOptions = {}): Promise<AuditPeer> {
    let ma
    try {
      ma = multiaddr(addr)
    } catch (err: any) {
      throw new ProtocolError('peer', `--peer ${addr}: not a multiaddr (${String(err?.message ?? err)})`)
    }
    const id = ma.getPeerId()
    if (id === null) throw new ProtocolError('peer', `--peer ${addr}: the multiaddr must end in /p2p/<peer id>`)
    const node = await createHubNode({ seed: randomBytes(32), networkId: net.id, listen: [], bootstrap: [], light: true })
    const timeoutMs = opts.timeoutMs ?? 30_000
    try {
      const conn = await node.dial(ma, { signal: AbortSignal.timeout(timeoutMs) })
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

  /** Every certificate the peer holds from `from` on, in epoch order, as served (unverified). */
  async * certificates (from: number): AsyncGenerator<Uint8Array> {
    let next = from
    for (;;) {
      let got = 0
      for await (const f of this.ask(protocols.certificates(this.net.id), encode({ from: next, limit: CERTIFICATES_PER_REQUEST }), MAX_CERTIFICATE_BYTES, CERTIFICATES_PER_REQUEST)) {
        got++
        yield f
      }
      if (got < CERTIFICATES_PER_REQUEST) return
      next += got
    }
  }

  /** Entries `from..to` of `hub`'s log, as served (unverified). Stops early if the peer has no more. */
  async * entries (hub: string, from: number, to: number): AsyncGenerator<Uint8Array> {
    let next = from
    while (next <= to) {
      const limit = Math.min(limits.maxEntriesPerRequest, to - next + 1)
      let got = 0
      for await (const f of this.ask(protocols.entries(this.net.id), encodeEntriesRequest({ hub, from: next, limit }), limits.maxEntryBytes, limit)) {
        got++
        yield f
      }
      if (got === 0) return
      next += got
    }
  }

  /** The account's leaf and Merkle path in `epoch` (unverified); undefined if the peer has not decided it. */
  async proof (epoch: number, account: string): Promise<ProofResponse | undefined> {
    for await (const f of this.ask(protocols.tally(this.net.id), encodeTallyRequest({ epoch, account }), MAX_TALLY_FRAME_BYTES, 1)) return decodeProofResponse(f)
    return undefined
  }

  /** Every leaf of `epoch`'s tally tree, in tree order (unverified); empty if not decided there. */
  async leaves (epoch: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const f of this.ask(protocols.tally(this.net.id), encodeTallyRequest({ epoch, account: null }), MAX_TALLY_FRAME_BYTES, MAX_LEAF_FRAMES)) out.push(...decodeLeavesFrame(f))
    return out
  }

  private ask (protocol: string, req: Uint8Array, maxResponseBytes: number, maxFrames: number): AsyncGenerator<Uint8Array> {
    return request(this.node, this.peer, protocol, req, { maxResponseBytes, maxFrames, signal: AbortSignal.timeout(this.timeoutMs) })
  }
}
