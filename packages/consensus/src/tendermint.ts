// Tendermint consensus for one height (= one epoch) as a pure, deterministic state machine.
// Line numbers refer to Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT
// consensus" (2018). No timers, no I/O: inputs are method calls, effects are returned outputs.

import type {
  DecideOutput, InputMessage, Message, Output, PersistentState, Proposal, ProposalInput,
  Step, TendermintOptions, Timeouts, VoteMsg
} from './types.js'

type VoteType = 'prevote' | 'precommit'

/** Largest f with n >= 3f + 1. */
export const maxFaulty = (n: number): number => Math.floor((n - 1) / 3)
/** Smallest count that is more than 2/3 of n (2f+1 when n = 3f+1). */
export const quorumSize = (n: number): number => Math.floor((2 * n) / 3) + 1
/** proposer(h, r) = validators[(h + r) mod n]. */
export const proposerOf = (validators: readonly string[], epoch: number, round: number): string =>
  validators[(epoch + round) % validators.length]

/**
 * The message log of one round. Per (sender, step) the first vote is the sender's vote for the
 * "2f+1 of any" rules (34, 47); conflicting votes of an equivocator are kept too (at most n distinct
 * ones) and count for their own value, as in the paper's message log: a correct process may have
 * counted exactly that vote in a quorum it relies on (POL of line 28, decision of line 49).
 */
interface RoundLog<V> {
  proposals: Map<string, ProposalInput<V>> // valueId -> proposal from proposer(h, r)
  votes: Record<VoteType, Map<string, VoteMsg[]>> // sender -> its distinct votes, first one first
  tally: Record<VoteType, Map<string | null, number>> // valueId | nil -> number of senders
  senders: Set<string> // distinct senders of any message (line 55)
  fired: Set<34 | 36 | 47> // "for the first time" rules already executed
  reported: Set<string> // `${step}/${from}` equivocations already reported
}

export class Tendermint<V> {
  readonly epoch: number
  readonly self: string
  readonly validators: readonly string[]
  protected readonly n: number
  protected f: number
  protected quorum: number
  private readonly timeouts: Timeouts
  private readonly maxRoundsAhead: number
  private readonly members: Set<string>

  // Persistent state (PersistentState<V>).
  private round_ = 0
  private step_: Step = 'propose'
  private lockedValue: Proposal<V> | null = null
  private lockedRound = -1
  private validValue: Proposal<V> | null = null
  private validRound = -1
  private sent: Message<V>[] = []

  // Volatile state.
  private readonly restored: boolean
  private own: Proposal<V> | null = null
  private started = false
  private decision_: DecideOutput<V> | null = null
  private readonly rounds = new Map<number, RoundLog<V>>()
  private readonly touched = new Set<number>() // rounds that got new messages since the last run
  private dirty = false // persistent state changed since the last persist output

  constructor (opts: TendermintOptions<V>) {
    const { validators, self, epoch, timeouts, restore } = opts
    if (new Set(validators).size !== validators.length || validators.length === 0) {
      throw new Error('validators must be a non-empty list of distinct ids')
    }
    if (!validators.includes(self)) throw new Error(`self ${self} is not a validator`)
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error('epoch must be a non-negative integer')
    this.validators = [...validators]
    this.members = new Set(validators)
    this.self = self
    this.epoch = epoch
    this.timeouts = { ...timeouts }
    this.maxRoundsAhead = opts.maxRoundsAhead ?? 1000
    this.n = validators.length
    this.f = maxFaulty(this.n)
    this.quorum = quorumSize(this.n)
    this.restored = restore !== undefined
    if (restore) {
      if (restore.epoch !== epoch) throw new Error(`restored state is for epoch ${restore.epoch}, not ${epoch}`)
      this.round_ = restore.round
      this.step_ = restore.step
      this.lockedValue = restore.lockedValue
      this.lockedRound = restore.lockedRound
      this.validValue = restore.validValue
      this.validRound = restore.validRound
      // Our own messages count again, and block any conflicting message for the same (round, step).
      for (const m of restore.sent) this.record(m.type === 'proposal' ? { ...m, valid: true } : m, [])
      this.sent = [...restore.sent]
    }
  }

  get round (): number { return this.round_ }
  get step (): Step { return this.step_ }
  /** The decide output once decided, else null. */
  get decision (): DecideOutput<V> | null { return this.decision_ }
  proposer (round: number): string { return proposerOf(this.validators, this.epoch, round) }

  /** A copy of the persistent state (the same thing `persist` outputs carry). */
  state (): PersistentState<V> {
    return {
      epoch: this.epoch, round: this.round_, step: this.step_,
      lockedValue: this.lockedValue, lockedRound: this.lockedRound,
      validValue: this.validValue, validRound: this.validRound,
      sent: this.sent.map((m) => ({ ...m }))
    }
  }

  /** "upon start do StartRound(0)". `ownProposal` is what getValue() returns for this node. */
  start (ownProposal: Proposal<V>): Output<V>[] {
    if (this.started) return []
    this.started = true
    this.own = ownProposal
    const out: Output<V>[] = []
    for (const r of this.rounds.keys()) this.touched.add(r) // messages that arrived before start
    if (this.restored) this.resume(out)
    else this.startRound(0, out)
    return this.finish(out)
  }

  onMessage (msg: InputMessage<V>): Output<V>[] {
    if (this.decision_) return []
    const out: Output<V>[] = []
    if (!this.record(msg, out) || !this.started) return out
    return this.finish(out)
  }

  onTimeout (t: { step: Step, round: number }): Output<V>[] {
    if (!this.started || this.decision_ || t.round !== this.round_) return []
    const out: Output<V>[] = []
    if (t.step === 'propose' && this.step_ === 'propose') {
      this.vote('prevote', null, out) // line 57
    } else if (t.step === 'prevote' && this.step_ === 'prevote') {
      this.vote('precommit', null, out) // line 61
    } else if (t.step === 'precommit') {
      this.startRound(this.round_ + 1, out) // line 65
    } else {
      return []
    }
    return this.finish(out)
  }

  // ---------------------------------------------------------------------------------------

  /** Run the upon-rules to a fixpoint, then put the persist output in front of everything. */
  private finish (out: Output<V>[]): Output<V>[] {
    while (!this.decision_ && (this.tryDecide(out) || this.trySkip(out) || this.currentRoundRules(out)));
    this.touched.clear()
    if (this.dirty) {
      this.dirty = false
      out.unshift({ type: 'persist', state: this.state() })
    }
    return out
  }

  /** Lines 11-21. */
  private startRound (round: number, out: Output<V>[]): void {
    this.round_ = round
    this.step_ = 'propose'
    this.dirty = true
    if (this.proposer(round) === this.self) {
      const p = this.validValue ?? this.own! // lines 14-16
      this.send({
        type: 'proposal', epoch: this.epoch, round, from: this.self,
        valueId: p.id, value: p.value, validRound: this.validRound
      }, out) // line 17
    } else {
      this.schedule('propose', out) // line 19
    }
  }

  /** After a restart: re-send our own messages of this round (identical, so never conflicting) and re-arm timeouts. */
  private resume (out: Output<V>[]): void {
    for (const m of this.sent) if (m.round === this.round_) this.send(m, out)
    if (this.step_ === 'propose') {
      if (this.proposer(this.round_) !== this.self) this.schedule('propose', out)
      else if (!this.sent.some((m) => m.type === 'proposal' && m.round === this.round_)) this.startRound(this.round_, out)
    }
  }

  private schedule (step: Step, out: Output<V>[]): void {
    const base = step === 'propose' ? this.timeouts.proposeMs : step === 'prevote' ? this.timeouts.prevoteMs : this.timeouts.precommitMs
    out.push({ type: 'schedule-timeout', step, round: this.round_, ms: base + this.round_ * this.timeouts.deltaMs })
  }

  private vote (type: VoteType, valueId: string | null, out: Output<V>[]): void {
    this.send({ type, epoch: this.epoch, round: this.round_, from: this.self, valueId }, out)
    this.step_ = type
    this.dirty = true
  }

  /** Broadcast one of our own messages, never two different ones for one (round, step). */
  private send (msg: Message<V>, out: Output<V>[]): void {
    const prev = this.sent.find((m) => m.type === msg.type && m.round === msg.round)
    if (prev && (prev.valueId !== msg.valueId || (prev.type === 'proposal' && msg.type === 'proposal' && prev.validRound !== msg.validRound))) {
      return // unreachable with a consistent restored state: refuse to equivocate
    }
    if (!prev) {
      this.sent.push(msg)
      this.record(msg.type === 'proposal' ? { ...msg, valid: true } : msg, out)
    }
    this.dirty = true
    out.push({ type: 'broadcast', msg: { ...msg } }) // a copy: the driver may sign it in place
  }

  private log (round: number): RoundLog<V> {
    let l = this.rounds.get(round)
    if (!l) {
      l = {
        proposals: new Map(),
        votes: { prevote: new Map(), precommit: new Map() },
        tally: { prevote: new Map(), precommit: new Map() },
        senders: new Set(), fired: new Set(), reported: new Set()
      }
      this.rounds.set(round, l)
    }
    return l
  }

  private count (round: number, type: VoteType, valueId: string | null): number {
    return this.rounds.get(round)?.tally[type].get(valueId) ?? 0
  }

  /** Validate and store a message. Returns true if it is new and counted. */
  private record (msg: InputMessage<V>, out: Output<V>[]): boolean {
    if (msg.epoch !== this.epoch || !this.members.has(msg.from)) return false
    if (!Number.isInteger(msg.round) || msg.round < 0 || msg.round > this.round_ + this.maxRoundsAhead) return false
    const log = this.log(msg.round)
    if (msg.type === 'proposal') {
      if (msg.from !== this.proposer(msg.round) || typeof msg.valueId !== 'string') return false
      if (!Number.isInteger(msg.validRound) || msg.validRound < -1 || msg.validRound >= msg.round) return false
      const same = log.proposals.get(msg.valueId)
      if (same && same.validRound === msg.validRound) return this.upgrade(same, msg, () => log.proposals.set(msg.valueId, msg))
      const first = same ?? log.proposals.values().next().value
      if (first) this.report(log, first, msg, out)
      // Keep equivocating proposals too (lines 36/49 may need them), but bounded: at most n per round,
      // beyond that only values that already have f+1 votes (so some correct process saw that proposal).
      if (same) return false
      const support = Math.max(log.tally.prevote.get(msg.valueId) ?? 0, log.tally.precommit.get(msg.valueId) ?? 0)
      if (log.proposals.size >= this.n && support <= this.f) return false
      log.proposals.set(msg.valueId, msg)
    } else if (msg.type === 'prevote' || msg.type === 'precommit') {
      if (msg.valueId !== null && typeof msg.valueId !== 'string') return false
      const votes = log.votes[msg.type]
      const mine = votes.get(msg.from)
      if (mine) {
        const i = mine.findIndex((v) => v.valueId === msg.valueId)
        if (i >= 0) return this.upgrade(mine[i], msg, () => { mine[i] = msg })
        this.report(log, mine[0], msg, out) // equivocation
        if (mine.length >= this.n) return false
        mine.push(msg)
      } else {
        votes.set(msg.from, [msg])
      }
      const tally = log.tally[msg.type]
      tally.set(msg.valueId, (tally.get(msg.valueId) ?? 0) + 1)
    } else {
      return false
    }
    log.senders.add(msg.from)
    this.touched.add(msg.round)
    return true
  }

  /** A duplicate: keep the stored copy, unless only the new one carries a signature (e.g. our own vote fed back). */
  private upgrade (stored: Message<V>, msg: Message<V>, replace: () => void): false {
    if (stored.signature === undefined && msg.signature !== undefined) replace()
    return false
  }

  private report (log: RoundLog<V>, first: Message<V>, second: Message<V>, out: Output<V>[]): void {
    const key = `${second.type}/${second.from}`
    if (log.reported.has(key)) return
    log.reported.add(key)
    out.push({ type: 'evidence', first, second })
  }

  /** Lines 49-54: proposal + 2f+1 precommits for its id in any round, while undecided. */
  private tryDecide (out: Output<V>[]): boolean {
    for (const r of this.touched) {
      const log = this.rounds.get(r)!
      for (const p of log.proposals.values()) {
        if (!p.valid || (log.tally.precommit.get(p.valueId) ?? 0) < this.quorum) continue // line 50
        const precommits = this.validators
          .map((v) => log.votes.precommit.get(v)?.find((m) => m.valueId === p.valueId))
          .filter((m) => m !== undefined)
        this.decision_ = { type: 'decide', epoch: this.epoch, round: r, valueId: p.valueId, value: p.value, precommits }
        out.push(this.decision_) // line 51; the next height is a new instance (lines 52-54)
        return true
      }
    }
    return false
  }

  /** Lines 55-56: f+1 messages (distinct senders) of a round higher than ours. */
  private trySkip (out: Output<V>[]): boolean {
    let target = -1
    for (const r of this.touched) {
      if (r > this.round_ && r > target && this.rounds.get(r)!.senders.size >= this.f + 1) target = r
    }
    if (target < 0) return false
    this.startRound(target, out)
    return true
  }

  /** The rules that concern round_p. Executes at most one rule; returns whether one fired. */
  private currentRoundRules (out: Output<V>[]): boolean {
    const r = this.round_
    const log = this.log(r)
    const q = this.quorum
    if (this.step_ === 'propose') {
      for (const p of log.proposals.values()) {
        if (p.validRound === -1) {
          // Line 22-27.
          const ok = p.valid && (this.lockedRound === -1 || this.lockedValue?.id === p.valueId)
          this.vote('prevote', ok ? p.valueId : null, out)
          return true
        }
        if (this.count(p.validRound, 'prevote', p.valueId) >= q) {
          // Lines 28-33 (validRound < r is checked on receipt).
          const ok = p.valid && (this.lockedRound <= p.validRound || this.lockedValue?.id === p.valueId)
          this.vote('prevote', ok ? p.valueId : null, out)
          return true
        }
      }
    }
    if (this.step_ === 'prevote' && !log.fired.has(34) && log.votes.prevote.size >= q) {
      log.fired.add(34) // lines 34-35
      this.schedule('prevote', out)
      return true
    }
    if (this.step_ !== 'propose' && !log.fired.has(36)) {
      for (const p of log.proposals.values()) {
        if (!p.valid || (log.tally.prevote.get(p.valueId) ?? 0) < q) continue
        log.fired.add(36) // lines 36-43
        const v = { id: p.valueId, value: p.value }
        if (this.step_ === 'prevote') {
          this.lockedValue = v
          this.lockedRound = r
          this.vote('precommit', v.id, out)
        }
        this.validValue = v
        this.validRound = r
        this.dirty = true
        return true
      }
    }
    if (this.step_ === 'prevote' && (log.tally.prevote.get(null) ?? 0) >= q) {
      this.vote('precommit', null, out) // lines 44-46
      return true
    }
    if (!log.fired.has(47) && log.votes.precommit.size >= q) {
      log.fired.add(47) // lines 47-48
      this.schedule('precommit', out)
      return true
    }
    return false
  }
}
