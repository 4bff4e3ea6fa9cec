import { sha256, toBase64 } from '@ecandle/crypto'
import { limits } from './names.js'

/**
 * The gossipsub settings every peer of a network must share (docs/protocol.md §6): hubs (packages/net)
 * and apps (the SDK's `gossipsubConfig`) both take them from here.
 */

const EMPTY = new Uint8Array(0)

/** Gossip message id: sha256 of the message bytes (StrictNoSign messages have no from/seqno). */
export function gossipMessageId (data: Uint8Array): Uint8Array {
  return sha256(data)
}

export interface GossipsubInteropOptions {
  /** Messages carry no libp2p signature: entries, votes and reports are signed inside. */
  globalSignaturePolicy: 'StrictNoSign'
  /** sha256 of the data: IHAVE/IWANT ids must match the hubs' or gossip repair fails. */
  msgIdFn: (msg: { data?: Uint8Array }) => Uint8Array
  /** A local cache key only; any stable hash of the data works. */
  fastMsgIdFn: (msg: { data?: Uint8Array }) => string
  emitSelf: boolean
  /** Bounded inbound RPC (`limits.maxGossipRpcBytes`). */
  maxInboundDataLength: number
}

export const gossipsubInterop: Readonly<GossipsubInteropOptions> = Object.freeze({
  // Signing every gossip message again would cost ~3× throughput for nothing.
  globalSignaturePolicy: 'StrictNoSign',
  msgIdFn: (msg: { data?: Uint8Array }) => gossipMessageId(msg.data ?? EMPTY),
  fastMsgIdFn: (msg: { data?: Uint8Array }) => toBase64(sha256(msg.data ?? EMPTY)),
  emitSelf: false,
  maxInboundDataLength: limits.maxGossipRpcBytes
})
