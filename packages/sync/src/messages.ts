import {
  CID, decodeCanonical, encode, expectMap, expectString, expectUint, limits, ProtocolError, type Head
} from '@ecandle/protocol'

/**
 * Sync wire messages (DAG-CBOR, each in one length-prefixed frame; docs/protocol.md §8):
 * heads:   request {}                       → one frame { heads: [{ hub, seq, id }] }, sorted by hub
 * entries: request { hub, from, limit }     → up to `limit` frames, each one signed entry's bytes
 * A request that does not decode (not canonical DAG-CBOR, another shape) is refused: the server
 * resets the stream without a frame.
 */
export interface HeadInfo { hub: string, seq: number, id: CID }

/** The heads request is the empty map (one byte, 0xa0); anything else is a malformed request. */
export function decodeHeadsRequest (bytes: Uint8Array): void {
  expectMap(decodeCanonical(bytes, 'heads request'), 'heads request', [])
}

/** Heads sorted by hub (bytewise, as LevelDB keeps them), so every hub with the same logs sends the same frame. */
export function encodeHeadsResponse (heads: ReadonlyMap<string, Head>): Uint8Array {
  const hubs = [...heads.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return encode({ heads: hubs.map(hub => { const h = heads.get(hub)!; return { hub, seq: h.seq, id: h.id } }) })
}

export function decodeHeadsResponse (bytes: Uint8Array, maxHubs: number): HeadInfo[] {
  const m = expectMap(decodeCanonical(bytes, 'heads'), 'heads', ['heads'])
  if (!Array.isArray(m.heads) || m.heads.length > maxHubs) throw new ProtocolError('shape', `heads: expected at most ${maxHubs} heads`)
  return m.heads.map((h, i) => {
    const x = expectMap(h, `heads[${i}]`, ['hub', 'seq', 'id'])
    const id = CID.asCID(x.id)
    if (id === null) throw new ProtocolError('shape', `heads[${i}].id: expected a CID`)
    return { hub: expectString(x.hub, `heads[${i}].hub`, 128), seq: expectUint(x.seq, `heads[${i}].seq`), id }
  })
}

export interface EntriesRequest { hub: string, from: number, limit: number }

export function encodeEntriesRequest (r: EntriesRequest): Uint8Array {
  return encode({ hub: r.hub, from: r.from, limit: r.limit })
}

export function decodeEntriesRequest (bytes: Uint8Array): EntriesRequest {
  const m = expectMap(decodeCanonical(bytes, 'entries request'), 'entries request', ['hub', 'from', 'limit'])
  return {
    hub: expectString(m.hub, 'entries.hub', 128),
    from: expectUint(m.from, 'entries.from'),
    limit: Math.min(expectUint(m.limit, 'entries.limit'), limits.maxEntriesPerRequest)
  }
}
