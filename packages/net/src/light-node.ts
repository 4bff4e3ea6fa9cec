import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Transport } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'

/**
 * A light peer's libp2p node: no listener, no gossip, no DHT, no key of its own to keep (libp2p
 * makes a throwaway one). It dials one hub and asks it over the request/response protocols.
 * The transports differ by platform (light.ts: TCP and WebSockets in Node; light.browser.ts:
 * WebSockets in browsers), the package's `exports` pick the file.
 */
export type TransportFactory = (components: any) => Transport

export async function createLightNodeWith (transports: TransportFactory[]): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [] },
    transports: transports as any,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // libp2p's browser default refuses private addresses: a hub on a village LAN or loopback is one.
    connectionGater: { denyDialMultiaddr: () => false }
  })
}
