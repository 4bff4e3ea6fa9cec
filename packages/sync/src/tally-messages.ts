import { decodeCanonical, encode, expectBytes, expectMap, expectString, expectUint, ProtocolError } from '@ecandle/protocol'

/**
 * Tally wire messages (DAG-CBOR, each in one length-prefixed frame), for light peers that trust
 * only certificates:
 * tally: request { epoch, account: hex }  → one frame { leaf: bytes | null, path: [[side, hash]] }
 *                                           (side 0: sibling on the left, 1: on the right)
 *        request { epoch, account: null } → frames { leaves: [bytes] }: every leaf of the epoch's
 *                                           tree, in tree order, at most LEAVES_PER_FRAME a frame
 * An epoch the server has not decided gets no frame at all.
 */
export interface TallyRequest { epoch: number, account: string | null }

export interface ProofStepWire { side: 'left' | 'right', hash: string }
export interface ProofResponse { leaf: Uint8Array | null, path: ProofStepWire[] }

export const LEAVES_PER_FRAME = 512
/** A canonical leaf is ~150 bytes; a frame of LEAVES_PER_FRAME leaves stays well under this. */
export const MAX_LEAF_BYTES = 512
export const MAX_TALLY_FRAME_BYTES = LEAVES_PER_FRAME * (MAX_LEAF_BYTES + 4) + 64
/** A proof path is at most one step a tree level (2^64 leaves is far beyond any epoch). */
const MAX_PATH = 64
const ACCOUNT = /^[0-9a-f]{64}$/

export function encodeTallyRequest (r: TallyRequest): Uint8Array {
  return encode({ epoch: r.epoch, account: r.account })
}

export function decodeTallyRequest (bytes: Uint8Array): TallyRequest {
  const m = expectMap(decodeCanonical(bytes, 'tally request'), 'tally request', ['epoch', 'account'])
  return { epoch: expectUint(m.epoch, 'tally.epoch'), account: m.account === null ? null : expectString(m.account, 'tally.account', 64, ACCOUNT) }
}

export function encodeProofResponse (p: ProofResponse): Uint8Array {
  return encode({ leaf: p.leaf, path: p.path.map(s => [s.side === 'left' ? 0 : 1, Buffer.from(s.hash, 'hex')]) })
}

export function decodeProofResponse (bytes: Uint8Array): ProofResponse {
  const m = expectMap(decodeCanonical(bytes, 'proof'), 'proof', ['leaf', 'path'])
  const leaf = m.leaf === null ? null : expectBytes(m.leaf, 'proof.leaf', MAX_LEAF_BYTES)
  if (!Array.isArray(m.path) || m.path.length > MAX_PATH) throw new ProtocolError('shape', `proof.path: expected at most ${MAX_PATH} steps`)
  const path = m.path.map((x, i): ProofStepWire => {
    if (!Array.isArray(x) || x.length !== 2) throw new ProtocolError('shape', `proof.path[${i}]: expected [side, hash]`)
    const side = expectUint(x[0], `proof.path[${i}][0]`, 1)
    return { side: side === 0 ? 'left' : 'right', hash: Buffer.from(expectBytes(x[1], `proof.path[${i}][1]`, 32, 32)).toString('hex') }
  })
  return { leaf, path }
}

export function encodeLeavesFrame (leaves: readonly Uint8Array[]): Uint8Array {
  return encode({ leaves })
}

export function decodeLeavesFrame (bytes: Uint8Array): Uint8Array[] {
  const m = expectMap(decodeCanonical(bytes, 'leaves'), 'leaves', ['leaves'])
  if (!Array.isArray(m.leaves) || m.leaves.length === 0 || m.leaves.length > LEAVES_PER_FRAME) throw new ProtocolError('shape', `leaves: expected 1..${LEAVES_PER_FRAME} leaves`)
  return m.leaves.map((l, i) => expectBytes(l, `leaves[${i}]`, MAX_LEAF_BYTES))
}
