import { limits, verifyResolution, type Network, type ValidatorsFor, type VerifiedResolution } from '@ecandle/protocol'
import {
  askAll, entriesProtocol, fetchCertificatePage, fetchHeads as fetchHeadInfos, fetchResolutions as fetchResolutionBytes, type CallOptions, type NodeWithStreams
} from '@ecandle/wire'
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

/**
 * Certificates of epochs `from` … (at most `limit`, ≤ 64) that the hub holds, each verified against
 * `validators` (default the network file's set; across validator-set changes use `fetchCertificateBytes`
 * and a `ChainFollower`, which knows each epoch's set only once it has followed the epochs before).
 */
export async function fetchCertificates<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { from: number, limit?: number }, o: SyncOptions & { validators?: ValidatorsFor } = {}): Promise<CertificateMessage[]> {
  return (await fetchCertificateBytes(node, peer, net, q, o)).map(f => decodeCertificateMessage(net, f, o.validators))
}

/** The certificate bytes as served (unverified): for a `ChainFollower`. */
export async function fetchCertificateBytes<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { from: number, limit?: number }, o: SyncOptions = {}): Promise<Uint8Array[]> {
  return await fetchCertificatePage(node, peer, net.id, q, callOptions(o))
}

/**
 * Resolutions of a decided epoch (`{ epoch }`) or by id (`{ ids }`, ≤ 128), each verified on its own
 * (signatures of its operation and approvals). Whether they are the ones a certified value names is
 * the `ChainFollower`'s check.
 */
export async function fetchResolutions<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { epoch: number } | { ids: string[] }, o: SyncOptions = {}): Promise<VerifiedResolution[]> {
  return (await fetchResolutionBytes(node, peer, net.id, q, callOptions(o))).map(f => verifyResolution(net.id, f))
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
