import { limits } from '@ecandle/protocol'
import {
  CERTIFICATES_PER_REQUEST, certificatesProtocol, entriesProtocol, governanceProtocol, headsProtocol, tallyProtocol, type HeadInfo, type ProofResponse
} from './protocols.js'
import { ask, askAll, WireError, type CallOptions, type NodeWithStreams } from './streams.js'

/**
 * The client side of each protocol, as hubs, the auditor and the SDK use it. Nothing returned is
 * verified here: entries and certificates are signed objects their verifiers check; heads are a claim.
 * `opts` bounds every page (CallOptions: the caller's signal, a deadline per page).
 */

/** The log heads the peer holds. */
export async function fetchHeads<P> (node: NodeWithStreams<P>, peer: P, networkId: string, opts: CallOptions = {}): Promise<HeadInfo[]> {
  const frames = await askAll(node, peer, networkId, headsProtocol, {}, opts)
  if (frames.length !== 1) throw new WireError('no-answer', 'heads: expected one frame')
  return frames[0]
}

/** Entries `from..to` of `hub`'s log as the peer serves them, page by page; stops early if the peer has no more. */
export async function * entriesOf<P> (node: NodeWithStreams<P>, peer: P, networkId: string, q: { hub: string, from: number, to: number }, opts: CallOptions = {}): AsyncGenerator<Uint8Array> {
  let next = q.from
  while (next <= q.to) {
    const limit = Math.min(limits.maxEntriesPerRequest, q.to - next + 1)
    let got = 0
    for await (const f of ask(node, peer, networkId, entriesProtocol, { hub: q.hub, from: next, limit }, opts)) {
      got++
      yield f
    }
    if (got === 0) return
    next += got
  }
}

/** One page of certificates from epoch `from` (at most `limit`, ≤ 64), in epoch order. */
export async function fetchCertificatePage<P> (node: NodeWithStreams<P>, peer: P, networkId: string, q: { from: number, limit?: number }, opts: CallOptions = {}): Promise<Uint8Array[]> {
  return await askAll(node, peer, networkId, certificatesProtocol, { from: q.from, limit: Math.min(q.limit ?? CERTIFICATES_PER_REQUEST, CERTIFICATES_PER_REQUEST) }, opts)
}

/** Every certificate the peer holds from epoch `from` on, page by page until a short page. */
export async function * certificatesFrom<P> (node: NodeWithStreams<P>, peer: P, networkId: string, from: number, opts: CallOptions = {}): AsyncGenerator<Uint8Array> {
  let next = from
  for (;;) {
    let got = 0
    for await (const f of ask(node, peer, networkId, certificatesProtocol, { from: next, limit: CERTIFICATES_PER_REQUEST }, opts)) {
      got++
      yield f
    }
    if (got < CERTIFICATES_PER_REQUEST) return
    next += got
  }
}

/** An account's leaf and Merkle path in `epoch`; undefined if the peer has not decided it. */
export async function fetchProof<P> (node: NodeWithStreams<P>, peer: P, networkId: string, epoch: number, account: string, opts: CallOptions = {}): Promise<ProofResponse | undefined> {
  for await (const f of ask(node, peer, networkId, tallyProtocol, { epoch, account }, opts)) if ('proof' in f) return f.proof
  return undefined
}

/** Every leaf of `epoch`'s tally tree, in tree order; empty if the peer has not decided it. */
export async function fetchLeaves<P> (node: NodeWithStreams<P>, peer: P, networkId: string, epoch: number, opts: CallOptions = {}): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const f of ask(node, peer, networkId, tallyProtocol, { epoch, account: null }, opts)) if ('leaves' in f) out.push(...f.leaves)
  return out
}

/** The resolutions epoch `epoch`'s decided value names (`{ epoch }`), or those of `ids` the peer holds (`{ ids }`), as served. */
export async function fetchResolutions<P> (node: NodeWithStreams<P>, peer: P, networkId: string, q: { epoch: number } | { ids: string[] }, opts: CallOptions = {}): Promise<Uint8Array[]> {
  return await askAll(node, peer, networkId, governanceProtocol, 'epoch' in q ? { epoch: q.epoch, ids: [] } : { epoch: null, ids: q.ids }, opts)
}
