import { compareBytes, hexToBytes, toHex, utf8 } from '@ecandle/crypto'
import {
  CID, decodeCanonical, encode, expectBytes, expectMap, expectString, expectUint, governanceLimits, limits, MAX_CERTIFICATE_BYTES, protocols,
  ProtocolError
} from '@ecandle/protocol'

/**
 * The request/response protocols of a hub (docs/protocol.md §8, docs/consensus.md §3, docs/audit.md):
 * each one's name, request and response-frame codecs (DAG-CBOR, strict on decode) and limits, in one
 * place. `streams.ts` moves them over libp2p; nothing else encodes or decodes these messages.
 *
 * heads:        request {}                       → one frame { heads: [{ hub, seq, id }] }
 * entries:      request { hub, from, limit }     → up to min(limit, 64) frames, each one signed entry
 * certificates: request { from, limit }          → up to min(limit, 64) frames, each one certificate
 * tally:        request { epoch, account: hex }  → one frame { leaf: bytes | null, path: [[side, hash]] }
 *               request { epoch, account: null } → frames { leaves: [bytes] }, every leaf in tree order
 * governance:   request { epoch: E, ids: [] }    → the resolutions E's decided value names, one a frame
 *               request { epoch: null, ids }     → those of the named resolutions the server holds
 * An epoch the server has not decided gets no frame at all (certificates, tally, governance).
 */
export type ProtocolId = 'heads' | 'entries' | 'certificates' | 'tally' | 'governance'

export interface WireProtocol<Req, Frame> {
  /** Short name, for logs. */
  readonly id: ProtocolId
  /** The libp2p protocol id on network `networkId`. */
  name: (networkId: string) => string
  encodeRequest: (r: Req) => Uint8Array
  /** Strict (canonical DAG-CBOR, known fields only); caps what a request may ask for. */
  decodeRequest: (bytes: Uint8Array) => Req
  encodeFrame: (f: Frame) => Uint8Array
  /** Strict; `req` is the request the frame answers. */
  decodeFrame: (bytes: Uint8Array, req: Req) => Frame
  /** Largest request frame a server reads. */
  readonly maxRequestBytes: number
  /** Largest response frame either side accepts. */
  readonly maxFrameBytes: number
  /** Most response frames a request may get. */
  maxFrames: (req: Req) => number
  /** Deadline of one exchange when the caller gives none (client), and of one answer (server). */
  readonly timeoutMs: number
  /** Concurrent inbound streams a server takes. */
  readonly maxInboundStreams: number
}

/** Certificates answered per request at most. */
export const CERTIFICATES_PER_REQUEST = 64
/** A heads frame. */
export const MAX_HEADS_BYTES = 64 * 1024
/** Leaves per `tally` frame. */
export const LEAVES_PER_FRAME = 512
/** A canonical leaf is ~150 bytes; a frame of LEAVES_PER_FRAME leaves stays well under MAX_TALLY_FRAME_BYTES. */
export const MAX_LEAF_BYTES = 512
export const MAX_TALLY_FRAME_BYTES = LEAVES_PER_FRAME * (MAX_LEAF_BYTES + 4) + 64
/** Most leaf frames accepted for one epoch: 4,096 × 512 leaves covers any real epoch. */
export const MAX_LEAF_FRAMES = 4096
/** A proof path is at most one step a tree level (2^64 leaves is far beyond any epoch). */
const MAX_PATH = 64
/** Heads in one frame (MAX_HEADS_BYTES holds fewer anyway). */
const MAX_HEADS = 1024
const ACCOUNT = /^[0-9a-f]{64}$/
const SYNC_TIMEOUT_MS = 10_000

/** Signed objects (entries, certificates) travel as their own bytes: checked by their verifiers, not here. */
function opaque (what: string, max: number): (b: Uint8Array) => Uint8Array {
  return (b) => expectBytes(b, what, max)
}

// ---- heads ----

export type HeadsRequest = Record<string, never>
export interface HeadInfo { hub: string, seq: number, id: CID }

export function decodeHeadsResponse (bytes: Uint8Array): HeadInfo[] {
  const m = expectMap(decodeCanonical(bytes, 'heads'), 'heads', ['heads'])
  if (!Array.isArray(m.heads) || m.heads.length > MAX_HEADS) throw new ProtocolError('shape', `heads: expected at most ${MAX_HEADS} heads`)
  return m.heads.map((h, i) => {
    const x = expectMap(h, `heads[${i}]`, ['hub', 'seq', 'id'])
    const id = CID.asCID(x.id)
    if (id === null) throw new ProtocolError('shape', `heads[${i}].id: expected a CID`)
    return { hub: expectString(x.hub, `heads[${i}].hub`, 128), seq: expectUint(x.seq, `heads[${i}].seq`), id }
  })
}

export const headsProtocol: WireProtocol<HeadsRequest, HeadInfo[]> = {
  id: 'heads',
  name: protocols.heads,
  encodeRequest: () => encode({}),
  decodeRequest: (b) => { expectMap(decodeCanonical(b, 'heads request'), 'heads request', []); return {} },
  // Sorted by hub (bytewise, as LevelDB keeps them): hubs holding the same logs send the same frame.
  encodeFrame: (list) => encode({ heads: [...list].sort((a, b) => compareBytes(utf8(a.hub), utf8(b.hub))).map(h => ({ hub: h.hub, seq: h.seq, id: h.id })) }),
  decodeFrame: (b) => decodeHeadsResponse(b),
  maxRequestBytes: limits.maxRequestBytes,
  maxFrameBytes: MAX_HEADS_BYTES,
  maxFrames: () => 1,
  timeoutMs: SYNC_TIMEOUT_MS,
  maxInboundStreams: 16
}

// ---- entries ----

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

export const entriesProtocol: WireProtocol<EntriesRequest, Uint8Array> = {
  id: 'entries',
  name: protocols.entries,
  encodeRequest: encodeEntriesRequest,
  decodeRequest: decodeEntriesRequest,
  encodeFrame: (b) => b,
  decodeFrame: opaque('entry frame', limits.maxEntryBytes),
  maxRequestBytes: limits.maxRequestBytes,
  maxFrameBytes: limits.maxEntryBytes,
  maxFrames: (r) => Math.min(r.limit, limits.maxEntriesPerRequest),
  timeoutMs: SYNC_TIMEOUT_MS,
  maxInboundStreams: 16
}

// ---- certificates ----

export interface CertificatesRequest { from: number, limit: number }

export function encodeCertificatesRequest (r: CertificatesRequest): Uint8Array {
  return encode({ from: r.from, limit: r.limit })
}

export function decodeCertificatesRequest (bytes: Uint8Array): CertificatesRequest {
  const m = expectMap(decodeCanonical(bytes, 'certificates request'), 'certificates request', ['from', 'limit'])
  return { from: expectUint(m.from, 'certificates.from'), limit: Math.min(expectUint(m.limit, 'certificates.limit'), CERTIFICATES_PER_REQUEST) }
}

export const certificatesProtocol: WireProtocol<CertificatesRequest, Uint8Array> = {
  id: 'certificates',
  name: protocols.certificates,
  encodeRequest: encodeCertificatesRequest,
  decodeRequest: decodeCertificatesRequest,
  encodeFrame: (b) => b,
  decodeFrame: opaque('certificate frame', MAX_CERTIFICATE_BYTES),
  /** { from, limit } of two u64s is at most 28 bytes. */
  maxRequestBytes: 256,
  maxFrameBytes: MAX_CERTIFICATE_BYTES,
  maxFrames: (r) => Math.min(r.limit, CERTIFICATES_PER_REQUEST),
  timeoutMs: SYNC_TIMEOUT_MS,
  maxInboundStreams: 8
}

// ---- tally (light peers: reward proofs and leaf sets of decided epochs) ----

export interface TallyRequest { epoch: number, account: string | null }
export interface ProofStepWire { side: 'left' | 'right', hash: string }
export interface ProofResponse { leaf: Uint8Array | null, path: ProofStepWire[] }
/** A proof (the request named an account) or a page of leaves (it did not). */
export type TallyFrame = { proof: ProofResponse } | { leaves: Uint8Array[] }

export function encodeTallyRequest (r: TallyRequest): Uint8Array {
  return encode({ epoch: r.epoch, account: r.account })
}

export function decodeTallyRequest (bytes: Uint8Array): TallyRequest {
  const m = expectMap(decodeCanonical(bytes, 'tally request'), 'tally request', ['epoch', 'account'])
  return { epoch: expectUint(m.epoch, 'tally.epoch'), account: m.account === null ? null : expectString(m.account, 'tally.account', 64, ACCOUNT) }
}

/** side 0: the sibling is on the left, 1: on the right. */
export function encodeProofResponse (p: ProofResponse): Uint8Array {
  return encode({ leaf: p.leaf, path: p.path.map(s => [s.side === 'left' ? 0 : 1, hexToBytes(s.hash)]) })
}

export function decodeProofResponse (bytes: Uint8Array): ProofResponse {
  const m = expectMap(decodeCanonical(bytes, 'proof'), 'proof', ['leaf', 'path'])
  const leaf = m.leaf === null ? null : expectBytes(m.leaf, 'proof.leaf', MAX_LEAF_BYTES)
  if (!Array.isArray(m.path) || m.path.length > MAX_PATH) throw new ProtocolError('shape', `proof.path: expected at most ${MAX_PATH} steps`)
  const path = m.path.map((x, i): ProofStepWire => {
    if (!Array.isArray(x) || x.length !== 2) throw new ProtocolError('shape', `proof.path[${i}]: expected [side, hash]`)
    const side = expectUint(x[0], `proof.path[${i}][0]`, 1)
    return { side: side === 0 ? 'left' : 'right', hash: toHex(expectBytes(x[1], `proof.path[${i}][1]`, 32, 32)) }
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

export const tallyProtocol: WireProtocol<TallyRequest, TallyFrame> = {
  id: 'tally',
  name: protocols.tally,
  encodeRequest: encodeTallyRequest,
  decodeRequest: decodeTallyRequest,
  encodeFrame: (f) => 'proof' in f ? encodeProofResponse(f.proof) : encodeLeavesFrame(f.leaves),
  decodeFrame: (b, r) => r.account !== null ? { proof: decodeProofResponse(b) } : { leaves: decodeLeavesFrame(b) },
  /** The largest request there is: the largest epoch and an account. */
  maxRequestBytes: encodeTallyRequest({ epoch: Number.MAX_SAFE_INTEGER, account: 'f'.repeat(64) }).byteLength,
  maxFrameBytes: MAX_TALLY_FRAME_BYTES,
  maxFrames: (r) => r.account !== null ? 1 : MAX_LEAF_FRAMES,
  timeoutMs: 30_000,
  maxInboundStreams: 4
}

// ---- governance (docs/governance.md §9): resolutions of a decided epoch, or by id ----

export interface GovernanceRequest { epoch: number | null, ids: string[] }

const HEX64 = /^[0-9a-f]{64}$/

export function encodeGovernanceRequest (r: GovernanceRequest): Uint8Array {
  return encode({ epoch: r.epoch, ids: r.ids })
}

/** Exactly one question: an epoch (`ids` empty), or 1–128 ids (`epoch` null). */
export function decodeGovernanceRequest (bytes: Uint8Array): GovernanceRequest {
  const m = expectMap(decodeCanonical(bytes, 'governance request'), 'governance request', ['epoch', 'ids'])
  const epoch = m.epoch === null ? null : expectUint(m.epoch, 'governance.epoch')
  if (!Array.isArray(m.ids) || m.ids.length > governanceLimits.maxResolutionsPerValue) throw new ProtocolError('shape', `governance.ids: expected at most ${governanceLimits.maxResolutionsPerValue} ids`)
  const ids = m.ids.map((x, i) => expectString(x, `governance.ids[${i}]`, 64, HEX64))
  if ((epoch === null) === (ids.length === 0)) throw new ProtocolError('shape', 'governance request: give an epoch or ids, not both or neither')
  return { epoch, ids }
}

/**
 * Served by every hub (in `wireProtocols`). Frames are resolutions as signed: checked by `verifyResolution` and
 * against the certified value's `gov`, not here.
 */
export const governanceProtocol: WireProtocol<GovernanceRequest, Uint8Array> = {
  id: 'governance',
  name: protocols.governance,
  encodeRequest: encodeGovernanceRequest,
  decodeRequest: decodeGovernanceRequest,
  encodeFrame: (b) => b,
  decodeFrame: opaque('resolution frame', governanceLimits.maxResolutionBytes),
  /** 128 ids of 64 hex characters and the map around them. */
  maxRequestBytes: encodeGovernanceRequest({ epoch: null, ids: Array.from({ length: governanceLimits.maxResolutionsPerValue }, () => 'f'.repeat(64)) }).byteLength,
  maxFrameBytes: governanceLimits.maxResolutionBytes,
  maxFrames: () => governanceLimits.maxResolutionsPerValue,
  timeoutMs: 30_000,
  maxInboundStreams: 4
}

/** Every request/response protocol a hub serves, by id. */
export const wireProtocols = { heads: headsProtocol, entries: entriesProtocol, certificates: certificatesProtocol, tally: tallyProtocol, governance: governanceProtocol } as const
