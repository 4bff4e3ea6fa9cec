import { limits, type Network } from '@ecandle/protocol'
import { askAll, entriesProtocol, fetchCertificatePage, fetchHeads as fetchHeadInfos, type CallOptions, type NodeWithStreams } from '@ecandle/wire'
import { decodeCertificateMessage, decodeEntryMessage, type CertificateMessage, type EntryMessage } from './decode.js'

/**
 * The hubs' request/response sync protocols (docs/protocol.md §8, docs/consensus.md §3) from any
 * libp2p 2.x node: catch up on what gossip did not bring (certificates decided before the app joined
 * or published while it was not in the mesh, entries it missed). Every frame is verified like a
 * gossip message; the hub is trusted for nothing but availability. Framing, limits and deadlines are
 * the hubs' own (`@ecandle/wire`, which needs only `it-length-prefixed`).
 */
export type { NodeWithStreams, StreamLike } from '@ecandle/wire'

export interface SyncOptions {
  /** Deadline of the exchange (default 10 s, as hubs use, when no signal is given). */
  timeoutMs?: number
  signal?: AbortSignal
}

const callOptions = (o: SyncOptions): CallOptions => ({ signal: o.signal, timeoutMs: o.timeoutMs })

/** Certificates of epochs `from` … (at most `limit`, ≤ 64) that the hub holds, each verified. */
export async function fetchCertificates<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { from: number, limit?: number }, o: SyncOptions = {}): Promise<CertificateMessage[]> {
  const frames = await fetchCertificatePage(node, peer, net.id, q, callOptions(o))
  return frames.map(f => decodeCertificateMessage(net, f))
}

/** Entries of `hub`'s log from seq `from` (at most `limit`, ≤ 64), each fully verified. */
export async function fetchEntries<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { hub: string, from: number, limit?: number }, o: SyncOptions = {}): Promise<EntryMessage[]> {
  const limit = Math.min(q.limit ?? limits.maxEntriesPerRequest, limits.maxEntriesPerRequest)
  const frames = await askAll(node, peer, net.id, entriesProtocol, { hub: q.hub, from: q.from, limit }, callOptions(o))
  return frames.map(f => decodeEntryMessage(net, f))
}

/** The log heads the hub holds (its claim: heads are not signed; entries fetched by them are). */
export async function fetchHeads<P> (node: NodeWithStreams<P>, peer: P, net: Network, o: SyncOptions = {}): Promise<Array<{ hub: string, seq: number, id: string }>> {
  return (await fetchHeadInfos(node, peer, net.id, callOptions(o))).map(h => ({ hub: h.hub, seq: h.seq, id: h.id.toString() }))
}
