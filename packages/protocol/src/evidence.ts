import { decodeCanonical, encode, expectBytes, expectMap, expectString } from './cbor.js'
import { sha256, toHex } from './crypto.js'
import { asReject, DECODE_CODES, ProtocolError, rules } from './errors.js'
import { limits } from './names.js'
import type { Network } from './network.js'
import { ENTRY_CODES, verifyEntry } from './entry.js'
import { REPORT_CODES, verifyReport } from './report.js'
import { CONSENSUS_CODES, verifyConsensus } from './agreement.js'
import type { EntryLookup } from './admission.js'
import { genesisValidators, type ValidatorsFor } from './validators.js'

/**
 * Evidence of equivocation: two different objects signed by one key for one slot.
 * - 'entry': two entries of one hub with the same seq;
 * - 'report': two reports of one device with the same counter;
 * - 'vote': two different consensus messages of one validator for one epoch, round and step.
 * It needs no signature of its own: both halves carry the offender's signature.
 * Canonical form: `a` sorts before `b` bytewise, so a pair has exactly one encoding and id.
 */
export const EVIDENCE_KINDS = ['entry', 'report', 'vote'] as const
export type EvidenceKind = typeof EVIDENCE_KINDS[number]

export interface Evidence {
  kind: EvidenceKind
  a: Uint8Array
  b: Uint8Array
}

export interface VerifiedEvidence extends Evidence {
  bytes: Uint8Array
  /** Hex sha256 of the evidence bytes. */
  id: string
  /** Who equivocated: hub peer id or device id. */
  offender: string
  /** Which slot: seq or counter. */
  slot: number
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.byteLength - b.byteLength
}

export function encodeEvidence (kind: EvidenceKind, x: Uint8Array, y: Uint8Array): Uint8Array {
  const [a, b] = compareBytes(x, y) <= 0 ? [x, y] : [y, x]
  return encode({ k: kind, a, b })
}

/** Codes of the evidence rules (docs/protocol.md §7), each a REJECT; and a half's own codes when it fails its rules. */
export const EVIDENCE_RULE_CODES = [...DECODE_CODES, 'evidence-order', 'evidence-slot', 'evidence-kind', 'unregistered-device'] as const
export const EVIDENCE_CODES = [...EVIDENCE_RULE_CODES, ...ENTRY_CODES, ...REPORT_CODES, ...CONSENSUS_CODES] as const
export type EvidenceCode = typeof EVIDENCE_CODES[number]

const evidenceRule = rules<EvidenceCode>()

/** Checks evidence fully: shape, order, both signatures valid, same signer and slot, different bytes. REJECT otherwise. */
/**
 * `at`, under governance: the admission rules of the newest state (entries and reports) and the
 * validators of a vote's epoch; default the network file's.
 */
export function verifyEvidence (net: Network, bytes: Uint8Array, at?: { lookup: EntryLookup, validators: ValidatorsFor }): VerifiedEvidence {
  let kind: string, a: Uint8Array, b: Uint8Array
  try {
    if (bytes.byteLength > limits.maxEvidenceBytes) throw new ProtocolError('size', `evidence: ${bytes.byteLength} bytes > ${limits.maxEvidenceBytes}`)
    const m = expectMap(decodeCanonical(bytes, 'evidence'), 'evidence', ['k', 'a', 'b'])
    kind = expectString(m.k, 'evidence.k', 16)
    a = expectBytes(m.a, 'evidence.a', limits.maxEntryBytes)
    b = expectBytes(m.b, 'evidence.b', limits.maxEntryBytes)
  } catch (err) {
    throw asReject(err)
  }
  if (compareBytes(a, b) >= 0) throw evidenceRule.reject('evidence-order', 'evidence: halves must differ and be in byte order')
  const id = toHex(sha256(bytes))
  if (kind === 'entry') {
    // Time is not checked here: an old equivocation is still an equivocation.
    const ea = verifyEntry(net, a, Number.MAX_SAFE_INTEGER, at?.lookup)
    const eb = verifyEntry(net, b, Number.MAX_SAFE_INTEGER, at?.lookup)
    if (ea.payload.hub !== eb.payload.hub || ea.payload.seq !== eb.payload.seq) throw evidenceRule.reject('evidence-slot', 'evidence: entries are not of one hub and seq')
    return { kind, a, b, bytes, id, offender: ea.payload.hub, slot: ea.payload.seq }
  }
  if (kind === 'report') {
    const dev = (r: Uint8Array): string => {
      // The device's registered hub is the only one allowed to carry it; use it for the check.
      const raw = decodeDeviceId(r)
      const info = net.devices.get(raw)
      if (info === undefined) throw evidenceRule.reject('unregistered-device', `evidence: device ${raw} is not registered`)
      return info.info.hub
    }
    // Under governance a device's key is final once registered, whichever hub carries it now.
    const ra = at === undefined ? verifyReport(net, a, dev(a)) : verifyReport(net, a, '', { lookup: at.lookup, stamp: Number.MAX_SAFE_INTEGER })
    const rb = at === undefined ? verifyReport(net, b, dev(b)) : verifyReport(net, b, '', { lookup: at.lookup, stamp: Number.MAX_SAFE_INTEGER })
    if (ra.report.device !== rb.report.device || ra.report.counter !== rb.report.counter) throw evidenceRule.reject('evidence-slot', 'evidence: reports are not of one device and counter')
    return { kind, a, b, bytes, id, offender: ra.report.device, slot: ra.report.counter }
  }
  if (kind === 'vote') {
    const set = (m: Uint8Array): ReturnType<typeof genesisValidators> => {
      const v = at?.validators
      if (v === undefined) return genesisValidators(net)
      if (typeof v !== 'function') return v
      const found = v(voteEpoch(m))
      if (found === undefined) throw evidenceRule.reject('evidence-slot', 'evidence: a vote of an epoch whose validators are not known')
      return found
    }
    const va = verifyConsensus(net, a, set(a)).payload
    const vb = verifyConsensus(net, b, set(b)).payload
    if (va.from !== vb.from || va.epoch !== vb.epoch || va.round !== vb.round || va.type !== vb.type) throw evidenceRule.reject('evidence-slot', 'evidence: votes are not of one validator, epoch, round and step')
    return { kind, a, b, bytes, id, offender: va.from, slot: va.epoch }
  }
  throw evidenceRule.reject('evidence-kind', `evidence: unknown kind ${kind.slice(0, 16)}`)
}

/** The epoch a consensus message names (its signature is checked after, against that epoch's set). */
function voteEpoch (bytes: Uint8Array): number {
  try {
    const env = expectMap(decodeCanonical(bytes, 'consensus message'), 'consensus message', ['p', 's'])
    const raw = decodeCanonical(expectBytes(env.p, 'consensus.p', limits.maxEvidenceBytes), 'consensus payload') as { e?: unknown }
    if (typeof raw?.e !== 'number') throw new ProtocolError('shape', 'consensus payload: no epoch')
    return raw.e
  } catch (err) {
    throw asReject(err)
  }
}

function decodeDeviceId (reportBytes: Uint8Array): string {
  try {
    const env = expectMap(decodeCanonical(reportBytes, 'report'), 'report', ['p', 's'])
    const p = expectMap(decodeCanonical(expectBytes(env.p, 'report.p', limits.maxReportBytes), 'report payload'), 'report payload', ['d', 'c', 't0', 't1', 'e', 's', 'l', 'mv', 'soc', 'tmp', 'f'])
    return expectString(p.d, 'report.device', 64)
  } catch (err) {
    throw asReject(err)
  }
}
