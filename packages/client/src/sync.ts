import { CID, decodeCanonical, encode, expectMap, expectString, expectUint, limits, MAX_CERTIFICATE_BYTES, ProtocolError, type Network } from '@ecandle/protocol'
import { decodeCertificateMessage, decodeEntryMessage, type CertificateMessage, type EntryMessage } from './decode.js'
import { networkProtocols } from './topics.js'

/**
 * The hubs' request/response sync protocols (docs/protocol.md §8, docs/consensus.md §3) from any
 * libp2p 2.x node: catch up on what gossip did not bring (certificates decided before the app joined
 * or published while it was not in the mesh, entries it missed). Every frame is verified like a
 * gossip message; the hub is trusted for nothing but availability.
 *
 * Framing: one unsigned-varint length-prefixed DAG-CBOR request, the client closes its side, the hub
 * answers with length-prefixed frames and closes. Written here so apps need no stream library.
 */

/** What the SDK needs of a libp2p stream (libp2p 2.x `Stream`). */
export interface StreamLike {
  source: AsyncIterable<Uint8Array | { subarray: () => Uint8Array }>
  sink (source: Iterable<Uint8Array>): Promise<void>
  abort (err: Error): void
  close? (): Promise<void>
  status?: string
}

/** A node that can open protocol streams: `Libp2p` of libp2p 2.x. `P` is a PeerId or Multiaddr. */
export interface NodeWithStreams<P> {
  dialProtocol (peer: P, protocol: string, options?: { signal?: AbortSignal }): Promise<StreamLike>
}

export interface SyncOptions {
  /** Deadline of the whole exchange (default 10 s, as hubs use). */
  timeoutMs?: number
  signal?: AbortSignal
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

/** Yields the length-prefixed frames of `source`; bounded by `maxFrameBytes` and `maxFrames`. */
export async function * readFrames (source: AsyncIterable<Uint8Array | { subarray: () => Uint8Array }>, maxFrameBytes: number, maxFrames: number): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(0)
  let frames = 0
  for await (const chunk of source) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    const joined = new Uint8Array(buf.byteLength + bytes.byteLength)
    joined.set(buf)
    joined.set(bytes, buf.byteLength)
    buf = joined
    for (;;) {
      // Unsigned varint length: at most 5 bytes for any length we accept.
      let len = 0
      let i = 0
      let done = false
      for (; i < Math.min(buf.byteLength, 5); i++) {
        len += (buf[i] & 0x7f) * 2 ** (7 * i)
        if ((buf[i] & 0x80) === 0) { done = true; i++; break }
      }
      if (!done) {
        if (buf.byteLength >= 5) throw new ProtocolError('sync-frame', 'frame length prefix too long')
        break
      }
      if (len > maxFrameBytes) throw new ProtocolError('sync-frame', `frame of ${len} bytes > ${maxFrameBytes}`)
      if (buf.byteLength < i + len) break
      if (++frames > maxFrames) throw new ProtocolError('sync-frame', `more than ${maxFrames} frames`)
      yield buf.slice(i, i + len)
      buf = buf.subarray(i + len)
    }
    if (buf.byteLength > maxFrameBytes + 5) throw new ProtocolError('sync-frame', 'frame too large')
  }
  if (buf.byteLength > 0) throw new ProtocolError('sync-frame', 'stream ended inside a frame')
}

/** One exchange: the request frame out, up to `maxFrames` frames back. */
async function exchange<P> (node: NodeWithStreams<P>, peer: P, protocol: string, request: unknown, maxFrameBytes: number, maxFrames: number, o: SyncOptions): Promise<Uint8Array[]> {
  const deadline = AbortSignal.timeout(o.timeoutMs ?? 10_000)
  const signal = o.signal === undefined ? deadline : AbortSignal.any([o.signal, deadline])
  const stream = await node.dialProtocol(peer, protocol, { signal })
  const onAbort = (): void => { stream.abort(new Error(deadline.aborted ? 'sync deadline passed' : 'sync aborted')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const req = encode(request)
    await stream.sink([varint(req.byteLength), req])
    const frames: Uint8Array[] = []
    for await (const f of readFrames(stream.source, maxFrameBytes, maxFrames)) frames.push(f)
    return frames
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (signal.aborted) throw deadline.aborted ? new Error(`${protocol}: no complete answer within ${o.timeoutMs ?? 10_000} ms`) : o.signal?.reason
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
    if (stream.status === 'open') await stream.close?.().catch(() => {})
  }
}

/** Certificates of epochs `from` … (at most `limit`, ≤ 64) that the hub holds, each verified. */
export async function fetchCertificates<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { from: number, limit?: number }, o: SyncOptions = {}): Promise<CertificateMessage[]> {
  const limit = Math.min(q.limit ?? 64, 64)
  const frames = await exchange(node, peer, networkProtocols(net).certificates, { from: q.from, limit }, MAX_CERTIFICATE_BYTES, limit, o)
  return frames.map(f => decodeCertificateMessage(net, f))
}

/** Entries of `hub`'s log from seq `from` (at most `limit`, ≤ 64), each fully verified. */
export async function fetchEntries<P> (node: NodeWithStreams<P>, peer: P, net: Network, q: { hub: string, from: number, limit?: number }, o: SyncOptions = {}): Promise<EntryMessage[]> {
  const limit = Math.min(q.limit ?? limits.maxEntriesPerRequest, limits.maxEntriesPerRequest)
  const frames = await exchange(node, peer, networkProtocols(net).entries, { hub: q.hub, from: q.from, limit }, limits.maxEntryBytes, limit, o)
  return frames.map(f => decodeEntryMessage(net, f))
}

/** The log heads the hub holds (its claim: heads are not signed; entries fetched by them are). */
export async function fetchHeads<P> (node: NodeWithStreams<P>, peer: P, net: Network, o: SyncOptions = {}): Promise<Array<{ hub: string, seq: number, id: string }>> {
  const frames = await exchange(node, peer, networkProtocols(net).heads, {}, 64 * 1024, 1, o)
  if (frames.length !== 1) throw new ProtocolError('sync-frame', 'heads: expected one frame')
  const m = expectMap(decodeCanonical(frames[0], 'heads'), 'heads', ['heads'])
  if (!Array.isArray(m.heads) || m.heads.length > 1024) throw new ProtocolError('shape', 'heads: expected a list')
  return m.heads.map((h, i) => {
    const x = expectMap(h, `heads[${i}]`, ['hub', 'seq', 'id'])
    const id = CID.asCID(x.id)
    if (id === null) throw new ProtocolError('shape', `heads[${i}].id: expected a CID`)
    return { hub: expectString(x.hub, `heads[${i}].hub`, 128), seq: expectUint(x.seq, `heads[${i}].seq`), id: id.toString() }
  })
}
