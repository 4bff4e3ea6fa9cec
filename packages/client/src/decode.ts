import { reject, verifyCertificate, verifyEntry, verifyEvidence, type EntryLookup, type Network, type ValidatorsFor } from '@ecandle/protocol'
import { verifyAccountProof } from '@ecandle/tally'
import { certificateJson, entryJson, type CertificateJson, type EntryJson, type EpochSummary, type RewardProofJson } from '@ecandle/api'
import { fromBase64, hexToBytes } from '@ecandle/crypto'

/**
 * Decoders for gossip messages: bytes in, plain JSON-friendly objects out, only after every
 * stateless rule of docs/protocol.md §5 passed. Failures throw the protocol's ValidationError
 * (`code` as in the docs, `action` REJECT or IGNORE), so an app can count them by code.
 */

/** An entry from the entries topic: the same shape as GET /logs/:hub items. */
export type EntryMessage = EntryJson

/** A certificate from the certificates topic, verified against the network's validators. */
export type CertificateMessage = CertificateJson

/** An evidence object from the evidence topic: two conflicting objects signed by one key. */
export interface EvidenceMessage {
  /** Hex sha256 of the evidence bytes. */
  id: string
  kind: 'entry' | 'report' | 'vote'
  /** Hub peer id or device id that equivocated. */
  offender: string
  /** seq (entry), counter (report) or epoch (vote). */
  slot: number
}

/** A reward proven by a Merkle proof: amounts are exact bigints. */
export interface VerifiedReward {
  account: string
  epoch: number
  /** Earned in this epoch. */
  amount: bigint
  /** Earned over all epochs up to this one: what a payer compares with what it already paid. */
  cumulative: bigint
}

// The verifiers throw only ValidationErrors with the protocol's codes; anything else is a bug and propagates.
function bytesOf (input: unknown, what: 'entry' | 'certificate' | 'evidence'): Uint8Array {
  if (!(input instanceof Uint8Array)) throw reject(`${what}-encoding`, `${what}: expected bytes`)
  return input
}

/**
 * Verifies a signed log entry fully: size, canonical encoding, shape, a hub of the network, the hub's
 * signature, its epoch stamp, every report's encoding, registered device of that hub, device
 * signature, plausibility and counter order. `nowMs` (default: now) is only used for the `future` IGNORE.
 * `lookup`: who may log and whose reports, under governance (`ChainFollower.lookup()`); default the network file.
 */
export function decodeEntryMessage (net: Network, bytes: Uint8Array, opts: { nowMs?: number, lookup?: EntryLookup } = {}): EntryMessage {
  const e = verifyEntry(net, bytesOf(bytes, 'entry'), opts.nowMs ?? Date.now(), opts.lookup)
  return entryJson(e, e.reports)
}

/**
 * Verifies an epoch certificate: shape, one cut item per validator of its epoch, and more than 2/3
 * distinct validators' precommit signatures over its value. `validators`: the set of its epoch, or a
 * lookup by epoch (`ChainFollower.validatorsFor`); default the network file's (right until the first
 * validator-set change). Does not check that it extends a decision you know: `ChainFollower` does.
 */
export function decodeCertificateMessage (net: Network, bytes: Uint8Array, validators?: ValidatorsFor): CertificateMessage {
  return certificateJson(verifyCertificate(net, bytesOf(bytes, 'certificate'), validators))
}

/**
 * Verifies the certificate inside an API epoch summary (base64 `certificate`) and that every other
 * field the hub served agrees with it. Throws ValidationError `summary-mismatch` if the hub's JSON
 * says something its certificate does not.
 */
export function verifyEpochSummary (net: Network, summary: EpochSummary, validators?: ValidatorsFor): CertificateMessage {
  if (typeof summary?.certificate !== 'string') throw reject('certificate-encoding', 'epoch summary: no certificate')
  const c = decodeCertificateMessage(net, fromBase64(summary.certificate), validators)
  const same = c.epoch === summary.epoch && c.valueId === summary.valueId && c.root === summary.root && c.prev === summary.prev &&
    c.round === summary.round && Array.isArray(summary.signers) && summary.signers.length === c.signers.length && c.signers.every((s, i) => summary.signers[i] === s) &&
    Array.isArray(summary.cut) && summary.cut.length === c.cut.length && c.cut.every((x, i) => summary.cut[i]?.hub === x.hub && summary.cut[i]?.seq === x.seq && summary.cut[i]?.id === x.id)
  if (!same) throw reject('summary-mismatch', `epoch summary ${String(summary.epoch)}: fields differ from its certificate (epoch ${c.epoch}, value ${c.valueId})`)
  return c
}

/** Verifies evidence: both halves validly signed by one offender for one slot, and different. */
export function decodeEvidenceMessage (net: Network, bytes: Uint8Array): EvidenceMessage {
  const ev = verifyEvidence(net, bytesOf(bytes, 'evidence'))
  return { id: ev.id, kind: ev.kind, offender: ev.offender, slot: ev.slot }
}

const HEX = /^([0-9a-f]{2})+$/

/**
 * Checks a reward proof as GET /rewards serves it against `root` — pass the root of a certificate you
 * verified, never `proof.root`. Returns the proven account leaf, or undefined when the proof does not
 * hash to `root`, is malformed, or is not an account leaf. Never throws.
 */
export function verifyRewardProof (proof: RewardProofJson, root: string): VerifiedReward | undefined {
  if (proof === null || typeof proof !== 'object' || typeof proof.leaf !== 'string' || !HEX.test(proof.leaf) || !Array.isArray(proof.path)) return undefined
  const leaf = verifyAccountProof({ leaf: hexToBytes(proof.leaf), path: proof.path, root: String(proof.root) }, root)
  if (leaf === undefined) return undefined
  return { account: leaf.account, epoch: leaf.epoch, amount: leaf.amount, cumulative: leaf.cumulative }
}
