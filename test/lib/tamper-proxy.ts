import { randomBytes } from 'node:crypto'
import { createHubNode, multiaddr, type HubNode } from '@ecandle/net'
import { decodeCanonical, encode, type EpochValue, type Network } from '@ecandle/protocol'
import { request, serve, wireProtocols } from '@ecandle/wire'
import type { PeerId } from '@libp2p/interface'

export type ProxiedProtocol = 'heads' | 'entries' | 'certificates' | 'tally'

/** Rewrites one response frame (return it unchanged to pass it on). */
export type Tamper = (protocol: ProxiedProtocol, request: Uint8Array, frame: Uint8Array) => Uint8Array

const quiet = { debug: () => {} }

/**
 * A dishonest hub for audit tests: a real libp2p node that serves the hubs' request/response
 * protocols by asking a real hub and rewriting what comes back. It holds no data of its own.
 */
export class TamperProxy {
  tamper: Tamper = (_p, _r, f) => f
  /** Frames rewritten (changed) so far, by protocol: proof that a test's fault was served. */
  readonly changed: Record<ProxiedProtocol, number> = { heads: 0, entries: 0, certificates: 0, tally: 0 }

  private constructor (readonly node: HubNode, private readonly upstream: PeerId) {}

  static async start (net: Network, upstreamAddr: string): Promise<TamperProxy> {
    const node = await createHubNode({ seed: randomBytes(32), networkId: net.id, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], bootstrap: [] })
    const conn = await node.dial(multiaddr(upstreamAddr), { signal: AbortSignal.timeout(10_000) })
    const proxy = new TamperProxy(node, conn.remotePeer)
    for (const p of Object.values(wireProtocols)) {
      const name = p.id as ProxiedProtocol
      const protocol = p.name(net.id)
      // Raw frames both ways (a tampered frame need not decode); the limits are the protocol's own.
      await serve(node, protocol, async function * (req) {
        const maxFrames = (p.maxFrames as (r: unknown) => number)(p.decodeRequest(req))
        for await (const f of request(node, proxy.upstream, protocol, req, { maxResponseBytes: p.maxFrameBytes, maxFrames, signal: AbortSignal.timeout(20_000) })) {
          const out = proxy.tamper(name, req, f)
          if (out !== f) proxy.changed[name]++
          yield out
        }
      }, { maxRequestBytes: p.maxRequestBytes, maxResponseBytes: p.maxFrameBytes, timeoutMs: 30_000, maxInboundStreams: 8 }, quiet)
    }
    return proxy
  }

  /** The address an auditor dials. */
  get addr (): string {
    const a = this.node.getMultiaddrs().find(m => m.toString().includes('/tcp/') && !m.toString().includes('/ws'))
    if (a === undefined) throw new Error('proxy has no TCP address')
    return a.toString()
  }

  /** The WebSockets address a browser's light peer dials (the audit page). */
  get wsAddr (): string {
    const a = this.node.getMultiaddrs().find(m => m.toString().includes('/ws/'))
    if (a === undefined) throw new Error('proxy has no WebSockets address')
    return a.toString()
  }

  async stop (): Promise<void> { await this.node.stop() }
}

/** A value as certificates encode it (for re-encoding a tampered certificate). */
export function valueJson (v: EpochValue): unknown {
  return decodeCanonical(encode({ epoch: v.epoch, prev: v.prev, cut: v.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })), root: v.root, gov: v.gov, state: v.state, next: v.next }), 'value')
}
