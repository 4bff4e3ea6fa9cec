import {
  CID, decodeCanonical, encode, expectMap, expectString, expectUint, limits, ProtocolError, type Head
} from '@ecandle/protocol'

/**
 * Sync wire messages (DAG-CBOR, each in one length-prefixed frame):
 * heads:   request {}                       → one frame { heads: [{ hub, seq, id }] }
 * entries: request { hub, from, limit }     → up to `limit` frames, each one signed entry's bytes
 */
export interface HeadInfo { hub: string, seq: number, id: CID }

export function encodeHeadsResponse (heads: ReadonlyMap<string, Head>): Uint8Array {
  return encode({ heads: [...heads].map(([hub, h]) => ({ hub, seq: h.seq, id: h.id })) })
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
