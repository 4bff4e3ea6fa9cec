import type { Message, PersistentState, Proposal, Step } from '@ecandle/consensus'
import { encode, decodeCanonical, expectInt, expectString, expectUint, ProtocolError, type EpochValue } from '@ecandle/protocol'
import { Bucket, nameKey, Repository, type Store } from '@ecandle/store'
import { expectMap, readList, readValue, valueFields } from './codec.js'

export type ConsensusState = PersistentState<EpochValue>

const HEX64 = /^[0-9a-f]{64}$/
const STEPS: readonly Step[] = ['propose', 'prevote', 'precommit']
const MAX_ROUND = 1_000_000
/** A validator sends at most three messages a round. */
const MAX_SENT = 3 * 10_000

function proposalFields (p: Proposal<EpochValue> | null): unknown {
  return p === null ? null : { id: p.id, value: valueFields(p.value) }
}

function messageFields (m: Message<EpochValue>): unknown {
  return m.type === 'proposal'
    ? { type: m.type, epoch: m.epoch, round: m.round, from: m.from, valueId: m.valueId, value: valueFields(m.value), validRound: m.validRound }
    : { type: m.type, epoch: m.epoch, round: m.round, from: m.from, valueId: m.valueId }
}

/**
 * This validator's Tendermint state (what it signed this epoch), DAG-CBOR:
 *   { epoch, round, step, lockedValue: { id, value } | null, lockedRound, validValue, validRound,
 *     sent: [{ type, epoch, round, from, valueId, value?, validRound? }] }
 * Messages are kept unsigned: Ed25519 is deterministic, so re-signing gives the bytes sent before.
 */
export function encodeConsensusState (s: ConsensusState): Uint8Array {
  return encode({
    epoch: s.epoch,
    round: s.round,
    step: s.step,
    lockedValue: proposalFields(s.lockedValue),
    lockedRound: s.lockedRound,
    validValue: proposalFields(s.validValue),
    validRound: s.validRound,
    sent: s.sent.map(messageFields)
  })
}

export function decodeConsensusState (bytes: Uint8Array): ConsensusState {
  const m = expectMap(decodeCanonical(bytes, 'consensus state'), 'consensus state', ['epoch', 'round', 'step', 'lockedValue', 'lockedRound', 'validValue', 'validRound', 'sent'])
  const proposal = (x: unknown, what: string): Proposal<EpochValue> | null => {
    if (x === null) return null
    const p = expectMap(x, what, ['id', 'value'])
    return { id: expectString(p.id, `${what}.id`, 64, HEX64), value: readValue(p.value) }
  }
  const step = m.step as Step
  if (!STEPS.includes(step)) throw new ProtocolError('shape', 'consensus state.step: expected propose, prevote or precommit')
  const sent = readList(m.sent, 'sent', MAX_SENT).map((x, i): Message<EpochValue> => {
    const what = `sent[${i}]`
    const t = (x as { type?: unknown } | null)?.type
    if (t === 'proposal') {
      const p = expectMap(x, what, ['type', 'epoch', 'round', 'from', 'valueId', 'value', 'validRound'])
      return { type: t, epoch: expectUint(p.epoch, `${what}.epoch`), round: expectUint(p.round, `${what}.round`, MAX_ROUND), from: expectString(p.from, `${what}.from`, 128), valueId: expectString(p.valueId, `${what}.valueId`, 64, HEX64), value: readValue(p.value), validRound: expectInt(p.validRound, `${what}.validRound`, -1, MAX_ROUND) }
    }
    if (t !== 'prevote' && t !== 'precommit') throw new ProtocolError('shape', `${what}.type: expected proposal, prevote or precommit`)
    const v = expectMap(x, what, ['type', 'epoch', 'round', 'from', 'valueId'])
    return { type: t, epoch: expectUint(v.epoch, `${what}.epoch`), round: expectUint(v.round, `${what}.round`, MAX_ROUND), from: expectString(v.from, `${what}.from`, 128), valueId: v.valueId === null ? null : expectString(v.valueId, `${what}.valueId`, 64, HEX64) }
  })
  return {
    epoch: expectUint(m.epoch, 'epoch'),
    round: expectUint(m.round, 'round', MAX_ROUND),
    step,
    lockedValue: proposal(m.lockedValue, 'lockedValue'),
    lockedRound: expectInt(m.lockedRound, 'lockedRound', -1, MAX_ROUND),
    validValue: proposal(m.validValue, 'validValue'),
    validRound: expectInt(m.validRound, 'validRound', -1, MAX_ROUND),
    sent
  }
}

/** One entry, 'state': the state of the epoch this validator votes in (a new epoch overwrites it). */
export class ConsensusStateRepository extends Repository<string, ConsensusState> {
  constructor (store: Store) {
    super(store, Bucket.consensus, nameKey, { encode: encodeConsensusState, decode: (b) => decodeConsensusState(b) })
  }

  async load (): Promise<ConsensusState | undefined> { return await this.get('state') }

  async save (s: ConsensusState): Promise<void> { await this.put('state', s, { sync: true }) }
}
