import type { Message, PersistentState } from '@ecandle/consensus'
import type { EpochValue } from '@ecandle/protocol'
import { readFile } from 'node:fs/promises'
import { replaceSecretFile } from '../keys.js'

/** The guard's file, beside hub.key (not in db/: a restored or wiped database must not take it along). */
export const VOTE_GUARD_FILE = 'vote-guard.json'

type Kind = Message<EpochValue>['type']
const KINDS: readonly Kind[] = ['proposal', 'prevote', 'precommit']
const HEX64 = /^[0-9a-f]{64}$/

/** What was signed in one slot of the guard's round: a value id, or null for nil; a proposal's validRound too. */
export interface SignedSlot { type: Kind, value: string | null, validRound?: number }

/**
 * The file, JSON (mode 0600, written atomically):
 *   { "version": 1, "network": "<id>", "hub": "<peer id>", "epoch": E, "round": R,
 *     "signed": [{ "type": "proposal"|"prevote"|"precommit", "value": "<64 hex>"|null, "validRound"?: n }] }
 * E and R are the highest epoch and round this key signed a consensus message in; `signed`, what it
 * signed in that round (at most one per type). Tendermint only ever signs onwards (rounds rise, steps
 * rise within one), so this is all it takes to refuse a conflicting or an earlier message.
 */
export interface VoteGuardRecord {
  version: 1
  network: string
  hub: string
  epoch: number
  round: number
  signed: SignedSlot[]
}

/** A message the guard will not let be signed; the agreement abstains in that epoch. */
export class VoteGuardRefusal extends Error {
  override readonly name = 'VoteGuardRefusal'
}

const slotOf = (m: Message<EpochValue>): SignedSlot =>
  m.type === 'proposal' ? { type: m.type, value: m.valueId, validRound: m.validRound } : { type: m.type, value: m.valueId }
const sameSlot = (a: SignedSlot, b: SignedSlot): boolean => a.type === b.type && a.value === b.value && a.validRound === b.validRound
const describe = (s: SignedSlot): string => `${s.type} ${s.value === null ? 'nil' : s.value.slice(0, 12)}${s.validRound === undefined ? '' : ` (validRound ${s.validRound})`}`

/**
 * This key's record of what it signed in consensus, kept apart from the database (as Lighthouse's
 * slashing-protection DB and CometBFT's priv_validator_state.json are): the agreement records every
 * message here, durably, before it is signed, and never signs a message for an earlier epoch or round
 * than recorded, or for the recorded round with other content. A file that cannot be read leaves the
 * guard `problem`: it then refuses everything (the hub votes in nothing until an operator acts).
 */
export class VoteGuard {
  /** Durable writes since start (the cost: one per new message, a handful per epoch). */
  writes = 0
  private rec: VoteGuardRecord

  private constructor (readonly path: string, private readonly ids: { network: string, hub: string }, rec: VoteGuardRecord | undefined, readonly problem?: string) {
    this.rec = rec ?? { version: 1, network: ids.network, hub: ids.hub, epoch: -1, round: -1, signed: [] }
  }

  /** Reads the guard at `path`; none yet is a fresh guard, one of another network too (its messages cannot collide). Never throws. */
  static async load (path: string, ids: { network: string, hub: string }): Promise<VoteGuard> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new VoteGuard(path, ids, undefined)
      return new VoteGuard(path, ids, undefined, `${path} cannot be read (${String((err as NodeJS.ErrnoException).code ?? err)})`)
    }
    let rec: VoteGuardRecord
    try {
      rec = parseRecord(text)
    } catch (err) {
      return new VoteGuard(path, ids, undefined, `${path} is not a valid vote guard (${String((err as Error).message)})`)
    }
    if (rec.hub !== ids.hub) return new VoteGuard(path, ids, undefined, `${path} is the vote guard of hub ${rec.hub}, not of this hub's key (${ids.hub})`)
    return new VoteGuard(path, ids, rec.network === ids.network ? rec : undefined)
  }

  /** The highest epoch signed in (-1: none). */
  get epoch (): number { return this.rec.epoch }
  get round (): number { return this.rec.round }
  get record (): Readonly<VoteGuardRecord> { return this.rec }

  /**
   * True if `saved` (the database's consensus state) holds every message the guard records for
   * `epoch`: false means this key signed in that epoch things the database does not know of.
   */
  covers (epoch: number, saved: PersistentState<EpochValue> | undefined): boolean {
    if (this.problem !== undefined) return false
    if (epoch !== this.rec.epoch) return epoch > this.rec.epoch
    if (saved?.epoch !== epoch) return false
    const held = saved.sent.filter(m => m.round === this.rec.round).map(slotOf)
    return this.rec.signed.every(s => held.some(h => sameSlot(h, s)))
  }

  /** Why `m` may not be signed now, if it may not: an earlier epoch or round, or other content in its slot. */
  conflict (m: Message<EpochValue>): string | undefined {
    if (this.problem !== undefined) return this.problem
    const r = this.rec
    if (m.epoch < r.epoch) return `epoch ${m.epoch} is before epoch ${r.epoch}, which this key signed in`
    if (m.epoch > r.epoch || m.round > r.round) return undefined
    if (m.round < r.round) return `epoch ${m.epoch} round ${m.round} is before round ${r.round}, which this key signed in`
    const s = slotOf(m)
    const prev = r.signed.find(x => x.type === s.type)
    if (prev !== undefined && !sameSlot(prev, s)) return `epoch ${m.epoch} round ${m.round}: this key signed ${describe(prev)}, not ${describe(s)}`
    return undefined
  }

  /** Before signing `m`: it must be recorded (durably) and not conflict. */
  check (m: Message<EpochValue>): void {
    const why = this.conflict(m) ?? (m.epoch === this.rec.epoch && m.round === this.rec.round && this.rec.signed.some(x => sameSlot(x, slotOf(m))) ? undefined : `epoch ${m.epoch} round ${m.round} ${m.type}: not recorded before signing`)
    if (why !== undefined) throw new VoteGuardRefusal(why)
  }

  /**
   * Records the messages of `state` in its last round (written atomically and synced before this
   * resolves; nothing is written when nothing is new). Throws VoteGuardRefusal, writing nothing, if
   * one of them conflicts with what is recorded.
   */
  async admit (state: PersistentState<EpochValue>): Promise<boolean> {
    const sent = state.sent.filter(m => m.epoch === state.epoch)
    if (sent.length === 0) return false
    const top = Math.max(...sent.map(m => m.round))
    const fresh = sent.filter(m => m.round === top)
    for (const m of fresh) {
      const why = this.conflict(m)
      if (why !== undefined) throw new VoteGuardRefusal(why)
    }
    const r = this.rec
    const same = state.epoch === r.epoch && top === r.round
    const signed = same ? [...r.signed] : []
    for (const m of fresh) if (!signed.some(x => x.type === m.type)) signed.push(slotOf(m))
    if (same && signed.length === r.signed.length) return false
    const next: VoteGuardRecord = { version: 1, network: this.ids.network, hub: this.ids.hub, epoch: state.epoch, round: top, signed }
    await replaceSecretFile(this.path, JSON.stringify(next) + '\n')
    this.rec = next
    this.writes++
    return true
  }
}

function parseRecord (text: string): VoteGuardRecord {
  const j = JSON.parse(text) as Record<string, unknown>
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('expected a JSON object')
  if (j.version !== 1) throw new Error(`version ${JSON.stringify(j.version)}, expected 1`)
  const int = (v: unknown, what: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new Error(`${what}: expected an integer ≥ ${min}`)
    return v
  }
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 128) throw new Error(`${what}: expected a string`)
    return v
  }
  if (!Array.isArray(j.signed) || j.signed.length === 0 || j.signed.length > KINDS.length) throw new Error('signed: expected 1 to 3 messages')
  const signed = j.signed.map((x: unknown, i: number): SignedSlot => {
    const s = x as Record<string, unknown>
    const type = s?.type as Kind
    if (!KINDS.includes(type)) throw new Error(`signed[${i}].type: expected proposal, prevote or precommit`)
    if (!(s.value === null || (typeof s.value === 'string' && HEX64.test(s.value))) || (type === 'proposal' && s.value === null)) throw new Error(`signed[${i}].value: expected a value id${type === 'proposal' ? '' : ' or null'}`)
    if (type !== 'proposal') return { type, value: s.value }
    return { type, value: s.value, validRound: int(s.validRound, `signed[${i}].validRound`, -1) }
  })
  if (new Set(signed.map(s => s.type)).size !== signed.length) throw new Error('signed: one message per type')
  return { version: 1, network: str(j.network, 'network'), hub: str(j.hub, 'hub'), epoch: int(j.epoch, 'epoch', 0), round: int(j.round, 'round', 0), signed }
}
