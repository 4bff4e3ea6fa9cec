/** The three steps of a Tendermint round. */
export type Step = 'propose' | 'prevote' | 'precommit'

/** A value as the state machine sees it: an opaque payload plus its id (hash), both computed by the driver. */
export interface Proposal<V> {
  id: string
  value: V
}

/** ⟨PROPOSAL, h, round, v, validRound⟩. `signature` is opaque and carried along untouched. */
export interface ProposalMsg<V> {
  type: 'proposal'
  epoch: number
  round: number
  from: string
  valueId: string
  value: V
  validRound: number
  signature?: unknown
}

/** ⟨PREVOTE|PRECOMMIT, h, round, id(v) | nil⟩; `valueId: null` is nil. */
export interface VoteMsg {
  type: 'prevote' | 'precommit'
  epoch: number
  round: number
  from: string
  valueId: string | null
  signature?: unknown
}

export type Message<V> = ProposalMsg<V> | VoteMsg

/** A proposal as fed in by the driver: `valid` is the paper's valid(v), computed by the driver. */
export type ProposalInput<V> = ProposalMsg<V> & { valid: boolean }

/** What `onMessage` accepts. */
export type InputMessage<V> = ProposalInput<V> | VoteMsg

export interface Timeouts {
  proposeMs: number
  prevoteMs: number
  precommitMs: number
  /** Added once per round: timeout(step, r) = base(step) + r * deltaMs. */
  deltaMs: number
}

/**
 * Everything a restarted node needs so it never signs two different messages for one
 * (epoch, round, step). Plain data: JSON/CBOR serializable if V is.
 */
export interface PersistentState<V> {
  epoch: number
  round: number
  step: Step
  lockedValue: Proposal<V> | null
  lockedRound: number
  validValue: Proposal<V> | null
  validRound: number
  /** This node's own (unsigned) messages for this epoch, in sending order. */
  sent: Message<V>[]
}

export interface DecideOutput<V> {
  type: 'decide'
  epoch: number
  round: number
  valueId: string
  value: V
  /** The precommits for valueId in `round` (more than 2/3, one per validator, validator order), signatures included. */
  precommits: VoteMsg[]
}

export type Output<V> =
  | { type: 'persist', state: PersistentState<V> }
  | { type: 'broadcast', msg: Message<V> }
  | { type: 'schedule-timeout', step: Step, round: number, ms: number }
  | DecideOutput<V>
  | { type: 'evidence', first: Message<V>, second: Message<V> }

export interface TendermintOptions<V> {
  /** Ordered validator ids, equal voting power. */
  validators: readonly string[]
  /** This node's id; must be one of `validators`. */
  self: string
  /** The Tendermint "height". */
  epoch: number
  timeouts: Timeouts
  /** Resume from the last `persist` output of a previous incarnation (same epoch). */
  restore?: PersistentState<V>
  /** Messages for rounds more than this far beyond the current round are ignored (default 1000). */
  maxRoundsAhead?: number
}
