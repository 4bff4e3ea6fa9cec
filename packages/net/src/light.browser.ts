import { webSockets } from '@libp2p/websockets'
import type { Libp2p } from '@libp2p/interface'
import { createLightNodeWith } from './light-node.js'

/** A light peer in a browser: dials hubs over WebSockets, the one transport a page has (light-node.ts). */
export async function createLightNode (): Promise<Libp2p> {
  return await createLightNodeWith([webSockets()])
}
