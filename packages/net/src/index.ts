export * from './node.js'
export * from './gossip.js'
export { peerIdFromString } from '@libp2p/peer-id'
export { multiaddr } from '@multiformats/multiaddr'
