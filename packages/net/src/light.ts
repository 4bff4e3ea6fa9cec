import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Libp2p } from '@libp2p/interface'
import { createLightNodeWith } from './light-node.js'

/** A light peer in Node: dials hubs over TCP or WebSockets (light-node.ts). */
export async function createLightNode (): Promise<Libp2p> {
  return await createLightNodeWith([tcp(), webSockets()])
}
