import { CID } from 'multiformats/cid'
import { decodeCanonical, encode, expectBytes, expectMap, expectString, expectUint, isPlainObject } from './cbor.js'
import { Domain, sha256, toHex, verifySignature, type Signer } from './crypto.js'
import { asReject, DECODE_CODES, isDecodeError, ProtocolError, rules, ValidationError } from './errors.js'
import { governanceLimits } from './governance.js'
import type { Network } from './network.js'
import { genesisValidators, type ValidatorSet, type ValidatorsFor } from './validators.js'
import { quorumSize } from '@ecandle/consensus'

/**
 * What the validators agree on each epoch: a cut of every hub's log, the tally root it implies, and
 * the governance it decides (docs/governance.md §6).
 * `cut` lists every validator of the epoch's set, in its order; seq 0 (id null) means "nothing of that log yet".
 */
export interface CutItem { hub: string, seq: number, id: CID | null }

export interface EpochValue {
  epoch: number
  /** Value id of the previous epoch's decision; null for the first epoch decided. */
  prev: string | null
  cut: CutItem[]
  /** Hex Merkle root of the tally (packages/tally). */
  root: string
  /** Hex ids of the resolutions decided in this epoch (ascending, at most 128); their effects start at epoch + 1 (+ 2 for the validator set). */
  gov: string[]
  /** Hex hash of the network state this value was decided under (validators of epoch and epoch + 1, registry, parameters). */
  state: string
  /** Hex hash of the state in force for epoch + 1, with this value's resolutions applied. */
  next: string
}

const HEX64 = /^[0-9a-f]{64}$/

function valueForEncoding (v: EpochValue): unknown {
  return { epoch: v.epoch, prev: v.prev, cut: v.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })), root: v.root, gov: v.gov, state: v.state, next: v.next }
}

export function encodeValue (v: EpochValue): Uint8Array {
  return encode(valueForEncoding(v))
}

/** Hex sha256 of the value's canonical bytes. */
export function valueIdOf (v: EpochValue): string {
  return toHex(sha256(encodeValue(v)))
}

/** Decodes a value; its cut must list `validators` (the set of its epoch; a Network: its file's set) in order. */
export function decodeValue (x: unknown, validators: ValidatorSet | Network): EpochValue {
  const ids = 'ids' in validators ? validators.ids : genesisValidators(validators).ids
  const m = expectMap(x, 'value', ['epoch', 'prev', 'cut', 'root', 'gov', 'state', 'next'])
  if (!Array.isArray(m.cut) || m.cut.length !== ids.length) throw new ProtocolError('shape', 'value.cut: expected one item per validator of the epoch')
  const cut = m.cut.map((c, i) => {
    const it = expectMap(c, `value.cut[${i}]`, ['hub', 'seq', 'id'])
    const hub = expectString(it.hub, `value.cut[${i}].hub`, 128)
    if (hub !== ids[i]) throw new ProtocolError('shape', `value.cut[${i}]: expected hub ${ids[i]}`)
    const seq = expectUint(it.seq, `value.cut[${i}].seq`)
    const id = it.id === null ? null : CID.asCID(it.id)
    if ((seq === 0) !== (id === null)) throw new ProtocolError('shape', `value.cut[${i}]: id must be null exactly when seq is 0`)
    return { hub, seq, id }
  })
  const prev = m.prev === null ? null : expectString(m.prev, 'value.prev', 64, HEX64)
  if (!Array.isArray(m.gov) || m.gov.length > governanceLimits.maxResolutionsPerValue) throw new ProtocolError('shape', `value.gov: expected at most ${governanceLimits.maxResolutionsPerValue} resolution ids`)
  const gov = m.gov.map((g, i) => expectString(g, `value.gov[${i}]`, 64, HEX64))
  // Ascending and unique: one set of resolutions, one byte form.
  for (let i = 1; i < gov.length; i++) if (gov[i] <= gov[i - 1]) throw new ProtocolError('shape', 'value.gov: ids must be ascending and unique')
  return {
    epoch: expectUint(m.epoch, 'value.epoch'),
    prev,
    cut,
    root: expectString(m.root, 'value.root', 64, HEX64),
    gov,
    state: expectString(m.state, 'value.state', 64, HEX64),
    next: expectString(m.next, 'value.next', 64, HEX64)
  }
}

// ---- consensus messages (gossiped on the consensus topic, signed by the hub) ----

export type VoteType = 'prevote' | 'precommit'

export interface ConsensusPayload {
  type: 'proposal' | VoteType
  epoch: number
  round: number
  from: string
  /** Hex value id; null is a nil vote. */
  valueId: string | null
  /** Proposals only. */
  value?: EpochValue
  validRound?: number
}

export const voteDomain = (networkId: string): string => `${Domain.vote}/${networkId}`

/** Canonical payload bytes; a precommit's bytes are rebuilt from a certificate, so keep them minimal. */
export function encodeConsensusPayload (p: ConsensusPayload): Uint8Array {
  const m: Record<string, unknown> = { t: p.type, e: p.epoch, r: p.round, from: p.from, v: p.valueId }
  if (p.type === 'proposal') {
    if (p.value === undefined || p.validRound === undefined) throw new ProtocolError('shape', 'proposal needs value and validRound')
    m.val = valueForEncoding(p.value)
    m.vr = p.validRound + 1 // -1 .. n encoded as 0 .. n+1 (CBOR uints stay canonical)
  }
  return encode(m)
}

export function signConsensus (net: Network, signer: Signer, p: ConsensusPayload): Uint8Array {
  const body = encodeConsensusPayload(p)
  return encode({ p: body, s: signer.sign(voteDomain(net.id), body) })
}

export interface VerifiedConsensus { bytes: Uint8Array, payload: ConsensusPayload, signature: Uint8Array, body: Uint8Array }

/** A signed consensus message, envelope included. */
export const MAX_CONSENSUS_BYTES = 64 * 1024

/** Codes of the consensus message rules (docs/consensus.md), each a REJECT. */
export const CONSENSUS_CODES = [...DECODE_CODES, 'unknown-validator', 'vote-signature'] as const
export type ConsensusCode = typeof CONSENSUS_CODES[number]

const consensusRule = rules<ConsensusCode>()

/**
 * Decodes and verifies a consensus message: shape, a validator of `validators` (the set of the epoch
 * being decided; default the network file's), signature. REJECT otherwise.
 */
export function verifyConsensus (net: Network, bytes: Uint8Array, validators: ValidatorSet = genesisValidators(net)): VerifiedConsensus {
  let payload: ConsensusPayload, signature: Uint8Array, body: Uint8Array
  try {
    if (bytes.byteLength > MAX_CONSENSUS_BYTES) throw new ProtocolError('size', `consensus message: ${bytes.byteLength} bytes > ${MAX_CONSENSUS_BYTES}`)
    const env = expectMap(decodeCanonical(bytes, 'consensus message'), 'consensus message', ['p', 's'])
    body = expectBytes(env.p, 'consensus.p', MAX_CONSENSUS_BYTES)
    signature = expectBytes(env.s, 'consensus.s', 64, 64)
    const raw = decodeCanonical(body, 'consensus payload')
    if (!isPlainObject(raw)) throw new ProtocolError('shape', 'consensus payload: expected a map')
    const type = raw.t
    if (type !== 'proposal' && type !== 'prevote' && type !== 'precommit') throw new ProtocolError('shape', 'consensus.t: expected proposal, prevote or precommit')
    const m = expectMap(raw, 'consensus payload', type === 'proposal' ? ['t', 'e', 'r', 'from', 'v', 'val', 'vr'] : ['t', 'e', 'r', 'from', 'v'])
    payload = {
      type,
      epoch: expectUint(m.e, 'consensus.e'),
      round: expectUint(m.r, 'consensus.r', 1_000_000),
      from: expectString(m.from, 'consensus.from', 128),
      valueId: m.v === null ? null : expectString(m.v, 'consensus.v', 64, /^[0-9a-f]{64}$/)
    }
    if (type === 'proposal') {
      payload.value = decodeValue(m.val, validators)
      payload.validRound = expectUint(m.vr, 'consensus.vr', 1_000_001) - 1
      if (payload.valueId !== valueIdOf(payload.value)) throw new ProtocolError('shape', 'proposal: valueId is not the id of its value')
      if (payload.value.epoch !== payload.epoch) throw new ProtocolError('shape', 'proposal: value is for another epoch')
    }
  } catch (err) {
    throw asReject(err)
  }
  const hub = validators.byId.get(payload.from)
  // Only validators of the epoch vote.
  if (hub === undefined) throw consensusRule.reject('unknown-validator', `consensus: ${payload.from.slice(0, 60)} is not a validator`)
  if (!verifySignature(hub.publicKey, voteDomain(net.id), body, signature)) throw consensusRule.reject('vote-signature', `consensus: bad signature of ${payload.from}`)
  return { bytes, payload, signature, body }
}

// ---- bundles: the gossip payload of the consensus topic ----

export const MAX_BUNDLE_BYTES = 128 * 1024
export const MAX_BUNDLE_MESSAGES = 32

/** Codes of the bundle rules (docs/consensus.md §3), each a REJECT; its messages fail with CONSENSUS_CODES. */
export const BUNDLE_CODES = [...DECODE_CODES.map(c => `bundle-${c}` as const), 'no-valid-message'] as const
export type BundleCode = typeof BUNDLE_CODES[number]

const bundleRule = rules<BundleCode>()

export interface Bundle {
  /** Unix ms when sent: a re-sent bundle is a new gossip message (gossipsub drops byte-identical ones). */
  at: number
  /** Signed consensus messages, each as its own signed bytes. */
  msgs: Uint8Array[]
}

/**
 * `{ at, msgs: [bytes, …] }`: every message travels as a byte string holding exactly the bytes its
 * sender signed (never as an embedded map), so it is verified, stored and forwarded without re-encoding.
 */
export function encodeBundle (b: Bundle): Uint8Array {
  if (b.msgs.length === 0 || b.msgs.length > MAX_BUNDLE_MESSAGES) throw new ProtocolError('shape', `bundle: 1..${MAX_BUNDLE_MESSAGES} messages`)
  return encode({ at: b.at, msgs: b.msgs })
}

/** Decodes a bundle (shape and bounds; the messages are not verified). REJECT `bundle-*` otherwise. */
export function decodeBundle (bytes: Uint8Array): Bundle {
  try {
    if (bytes.byteLength > MAX_BUNDLE_BYTES) throw new ProtocolError('size', `consensus bundle: ${bytes.byteLength} bytes > ${MAX_BUNDLE_BYTES}`)
    const m = expectMap(decodeCanonical(bytes, 'bundle'), 'bundle', ['at', 'msgs'])
    const at = expectUint(m.at, 'bundle.at')
    if (!Array.isArray(m.msgs) || m.msgs.length === 0 || m.msgs.length > MAX_BUNDLE_MESSAGES) throw new ProtocolError('shape', `bundle.msgs: expected 1..${MAX_BUNDLE_MESSAGES} messages`)
    return { at, msgs: m.msgs.map((x, i) => expectBytes(x, `bundle.msgs[${i}]`, MAX_CONSENSUS_BYTES)) }
  } catch (err) {
    if (isDecodeError(err)) throw bundleRule.reject(`bundle-${err.code}`, err.message)
    throw err
  }
}

export interface VerifiedBundle {
  at: number
  /** The messages that verified, in bundle order. */
  valid: VerifiedConsensus[]
  /** Why each other message failed. */
  invalid: ValidationError[]
}

/**
 * A bundle and each of its messages. One bad message does not spoil the others (a bundle repeats a
 * sender's recent messages); a bundle with no valid message at all is REJECTed (`no-valid-message`).
 */
export function verifyBundle (net: Network, bytes: Uint8Array, validators: ValidatorSet = genesisValidators(net)): VerifiedBundle {
  const b = decodeBundle(bytes)
  const valid: VerifiedConsensus[] = []
  const invalid: ValidationError[] = []
  for (const m of b.msgs) {
    try {
      valid.push(verifyConsensus(net, m, validators))
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      invalid.push(err)
    }
  }
  if (valid.length === 0) throw bundleRule.reject('no-valid-message', 'consensus bundle holds no valid message')
  return { at: b.at, valid, invalid }
}

// ---- certificates: a decided value and more than 2/3 of the validators' precommit signatures ----

export interface Certificate {
  value: EpochValue
  round: number
  /** [validator index, precommit signature], ascending by index. */
  signatures: Array<[number, Uint8Array]>
}

export interface VerifiedCertificate extends Certificate {
  bytes: Uint8Array
  valueId: string
  /** Peer ids of the signers. */
  signers: string[]
}

/** More than 2/3 of n validators: the consensus package's quorum size (one definition). */
export const quorumOf = quorumSize

/**
 * Canonical certificate: exactly a quorum of signatures, the lowest validator indices available, so
 * hubs that collected different precommits converge on one byte-identical certificate.
 */
export function encodeCertificate (net: Network, c: Certificate, validators: ValidatorSet = genesisValidators(net)): Uint8Array {
  const sigs = [...c.signatures].sort((a, b) => a[0] - b[0]).slice(0, quorumOf(validators.ids.length))
  return encode({ value: valueForEncoding(c.value), round: c.round, sigs: sigs.map(([i, s]) => [i, s]) })
}

export const MAX_CERTIFICATE_BYTES = 256 * 1024

/** Codes of the certificate rules (docs/consensus.md), each a REJECT but `unknown-validator-set` (IGNORE: the set of its epoch is not known yet). */
export const CERTIFICATE_CODES = [...DECODE_CODES, 'duplicate-signer', 'certificate-signature', 'too-few-signers', 'unknown-validator-set'] as const
export type CertificateCode = typeof CERTIFICATE_CODES[number]

const certificateRule = rules<CertificateCode>()

function decodeCertificateBytes (bytes: Uint8Array, validators: ValidatorsFor): { c: Certificate, set: ValidatorSet } {
  try {
    if (bytes.byteLength > MAX_CERTIFICATE_BYTES) throw new ProtocolError('size', `certificate: ${bytes.byteLength} bytes > ${MAX_CERTIFICATE_BYTES}`)
    const m = expectMap(decodeCanonical(bytes, 'certificate'), 'certificate', ['value', 'round', 'sigs'])
    // The set of the certificate's epoch: its cut, signer indices and quorum are that set's.
    const epoch = isPlainObject(m.value) ? m.value.epoch : undefined
    if (typeof epoch !== 'number') throw new ProtocolError('shape', 'certificate.value.epoch: expected an integer')
    const set = typeof validators === 'function' ? validators(epoch) : validators
    if (set === undefined) throw certificateRule.ignore('unknown-validator-set', `certificate of epoch ${epoch}: the validator set of that epoch is not known yet`)
    const value = decodeValue(m.value, set)
    if (!Array.isArray(m.sigs) || m.sigs.length > set.ids.length) throw new ProtocolError('shape', 'certificate.sigs: too many signatures')
    const signatures = m.sigs.map((x, i): [number, Uint8Array] => {
      if (!Array.isArray(x) || x.length !== 2) throw new ProtocolError('shape', `certificate.sigs[${i}]: expected [index, signature]`)
      return [expectUint(x[0], `certificate.sigs[${i}][0]`, set.ids.length - 1), expectBytes(x[1], `certificate.sigs[${i}][1]`, 64, 64)]
    })
    return { c: { value, round: expectUint(m.round, 'certificate.round', 1_000_000), signatures }, set }
  } catch (err) {
    if (err instanceof ValidationError) throw err
    throw asReject(err)
  }
}

/**
 * Verifies a certificate against the validator set of its epoch (`validators`: the set, or a lookup by
 * epoch; default the network file's set). REJECT naming the fault; IGNORE `unknown-validator-set` when
 * the lookup does not know the epoch's set yet (decisions before it are missing, not the sender's fault).
 */
export function verifyCertificate (net: Network, bytes: Uint8Array, validators: ValidatorsFor = genesisValidators(net)): VerifiedCertificate {
  const { c, set } = decodeCertificateBytes(bytes, validators)
  const valueId = valueIdOf(c.value)
  const seen = new Set<number>()
  const signers: string[] = []
  for (const [i, sig] of c.signatures) {
    // Each validator counts once.
    if (seen.has(i)) throw certificateRule.reject('duplicate-signer', `certificate of epoch ${c.value.epoch}: validator #${i} signed twice`)
    seen.add(i)
    const v = set.list[i]
    const body = encodeConsensusPayload({ type: 'precommit', epoch: c.value.epoch, round: c.round, from: v.peerId, valueId })
    if (!verifySignature(v.publicKey, voteDomain(net.id), body, sig)) {
      throw certificateRule.reject('certificate-signature', `certificate of epoch ${c.value.epoch}: bad signature of validator #${i} (${v.peerId})`)
    }
    signers.push(v.peerId)
  }
  // More than 2/3 of the epoch's validators must have precommitted this value.
  const n = set.ids.length
  if (seen.size < quorumOf(n)) {
    throw certificateRule.reject('too-few-signers', `certificate of epoch ${c.value.epoch}: ${seen.size} signers, need ${quorumOf(n)} of ${n}`)
  }
  return { ...c, bytes, valueId, signers }
}

/**
 * A certificate read back from our own store: it was verified when it was received, so it is only
 * decoded here (never trust this on bytes from anywhere else). `validators` as for verifyCertificate.
 */
export function decodeStoredCertificate (net: Network, bytes: Uint8Array, validators: ValidatorsFor = genesisValidators(net)): VerifiedCertificate {
  const { c, set } = decodeCertificateBytes(bytes, validators)
  return { ...c, bytes, valueId: valueIdOf(c.value), signers: c.signatures.map(([i]) => set.ids[i]) }
}
