import { randomBytes } from 'node:crypto'
import { createHubNode, multiaddr, request, serve, type HubNode } from '@ecandle/net'
import { limits, MAX_CERTIFICATE_BYTES, protocols, type Network } from '@ecandle/protocol'
import { MAX_TALLY_FRAME_BYTES } from '@ecandle/sync'
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
    const node = await createHubNode({ seed: randomBytes(32), networkId: net.id, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
    const conn = await node.dial(multiaddr(upstreamAddr), { signal: AbortSignal.timeout(10_000) })
    const proxy = new TamperProxy(node, conn.remotePeer)
    const sizes: Record<ProxiedProtocol, [string, number, number]> = {
      heads: [protocols.heads(net.id), 64 * 1024, 1],
      entries: [protocols.entries(net.id), limits.maxEntryBytes, limits.maxEntriesPerRequest],
      certificates: [protocols.certificates(net.id), MAX_CERTIFICATE_BYTES, 64],
      tally: [protocols.tally(net.id), MAX_TALLY_FRAME_BYTES, 4096]
    }
    for (const [name, [protocol, maxBytes, maxFrames]] of Object.entries(sizes) as Array<[ProxiedProtocol, [string, number, number]]>) {
      await serve(node, protocol, async function * (req) {
        for await (const f of request(node, proxy.upstream, protocol, req, { maxResponseBytes: maxBytes, maxFrames, signal: AbortSignal.timeout(20_000) })) {
          const out = proxy.tamper(name, req, f)
          if (out !== f) proxy.changed[name]++
          yield out
        }
      }, { maxRequestBytes: 1024, maxResponseBytes: maxBytes, timeoutMs: 30_000, maxInboundStreams: 8 }, quiet)
    }
    return proxy
  }

  /** The address an auditor dials. */
  get addr (): string {
    const a = this.node.getMultiaddrs().find(m => m.toString().includes('/tcp/'))
    if (a === undefined) throw new Error('proxy has no TCP address')
    return a.toString()
  }

  async stop (): Promise<void> { await this.node.stop() }
}
