import type { InputMessage, Timeouts } from '@ecandle/consensus'
import type { AbortOptions, Startable } from '@libp2p/interface'
import {
  encodeBundle, encodeEvidence, followValue, ignore, ProtocolError, reject, signConsensus, topics, ValidationError, valueIdOf, verifyBundle,
  type Decided, type EpochState, type EpochValue, type Network, type Signer, type VerifiedBundle, type VerifiedCertificate, type VerifiedConsensus
} from '@ecandle/protocol'
import { StoreError } from '@ecandle/store'
import type { TallyResult } from '@ecandle/tally'
import type { Logger } from 'pino'
import type { AgreementDb, EpochRecord } from '../db/index.js'
import type { ConsensusState } from '../db/consensus-state.js'
import { CertificateService, type CertificatePeers } from './certificates.js'
import { EpochClock, systemClock, type Clock } from './clock.js'
import { EntryWait } from './entry-wait.js'
import { EpochInstance, type InstanceEffects } from './instance.js'
import { Serial } from './lock.js'
import { VoteGuardRefusal, type VoteGuard } from './vote-guard.js'
import { buildValue, checkExtends, checkValue, holdsCut, InvalidValue, tallyOf, weightsAfter, type LogReader } from './value.js'
import { GovChain, stateAt, type DecidedSource } from '../governance/chain.js'
import type { Governance } from '../governance/service.js'

export interface AgreementOptions {
  timeouts: Timeouts
  /** While the epoch to decide is open and undecided, how often it is checked again (start our instance, catch up). */
  tickMs: number
  /** How long a validator waits for entries of a proposed cut to arrive by sync. */
  fetchWaitMs: number
  /** Our messages are sent again when nothing was sent for this long (instance.ts says why). */
  rebroadcastMs: number
  /** Deadline of one certificates request while catching up. */
  requestTimeoutMs: number
}

export const defaultAgreementOptions: AgreementOptions = {
  timeouts: { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 1000 },
  tickMs: 200,
  fetchWaitMs: 2500,
  rebroadcastMs: 1000,
  requestTimeoutMs: 10_000
}

/** The gossip the agreement uses (`Gossip` of @ecandle/net, or a fake network in tests). */
export interface AgreementGossip {
  subscribe: (topic: string, validate: (data: Uint8Array, from: string) => Promise<void>) => void
  publish: (topic: string, data: Uint8Array) => Promise<number>
}

export interface AgreementComponents {
  net: Network
  /** Our peer id. */
  self: string
  signer: Signer
  /** The logs as held (the Store). */
  logs: LogReader
  db: AgreementDb
  gossip: AgreementGossip
  /** Asks a peer for entries now (the sync service). */
  sync: { requestSync: (peer: string) => void }
  /** Connected peers, and where catch-up gets certificates. */
  peers: CertificatePeers
  /** Serves the certificates protocol when given. */
  node?: ConstructorParameters<typeof CertificateService>[0]['node']
  /** Stores vote evidence (Ingest.addEvidence). */
  addEvidence: (bytes: Uint8Array) => Promise<unknown>
  logger: Logger
  clock?: Clock
  /** The network state per epoch (loaded from the db at start); a fresh one when not given. */
  chain?: GovChain
  /** The governance pool, sync and fetch; without it nothing is proposed and resolutions are not fetched. */
  gov?: Governance
  /** What this key signed, kept beside hub.key (vote-guard.ts); every message goes through it. */
  guard?: VoteGuard
  /**
   * The own-log catch-up (own-log-catch-up.ts): no vote before it is `ready`; if it found the database
   * behind the network's copy of our log (the data dir was restored), no vote in an epoch whose vote
   * began before `readyAt` (we may have signed in it before the restore).
   */
  ownLog?: { readonly ready: boolean, readonly behind: boolean, readonly readyAt?: number }
}

/** Why a validator signs nothing in an epoch (it follows that epoch by certificate). */
export type AbstainReason = 'guard-unreadable' | 'guard-ahead' | 'db-behind-guard' | 'db-restored' | 'guard-refused'

const MAX_FUTURE_MESSAGES = 2048
/** Messages a validator puts in each bundle: its most recent. */
const BUNDLE_RECENT = 12

/**
 * Drives one Tendermint instance per epoch: when epoch E's vote opens (end of E plus the grace period)
 * a validator proposes (or checks) a cut of every log and its tally root; a decision becomes a
 * certificate, stored, gossiped and served. Everything signed is first written with a sync write.
 *
 * The parts: EpochClock (when), EpochInstance (one epoch's state machine and its effects), value.ts
 * (build and check a value over the logs), CertificateService (assemble, verify once, store, serve,
 * catch up), EntryWait (entries of a cut, resolved by the ingest path). State changes run one at a time
 * (Serial); checking a proposal and waiting for its entries do not hold that lock.
 *
 * A component: `stop` fires its AbortSignal, which ends every wait and request it has in flight.
 */
export class Agreement implements Startable {
  private last?: EpochRecord
  private current?: EpochInstance
  private readonly future = new Map<number, VerifiedConsensus[]>()
  private futureCount = 0
  /** valueId → its tally, for values of the current epoch found valid (or our own). */
  private readonly tallies = new Map<string, TallyResult>()
  /** valueId → its governance (S(E+1) and the resolutions), for the same values. */
  private readonly decisions = new Map<string, Decided>()
  readonly chain: GovChain
  private readonly lock: Serial
  private readonly inFlight = new Set<Promise<unknown>>()
  private shutdown = new AbortController()
  private running = false
  private subscribed = false
  private readonly opts: AgreementOptions
  private readonly clock: Clock
  readonly epochs: EpochClock
  readonly entries: EntryWait
  readonly certificates: CertificateService
  readonly counts = { decided: 0, adopted: 0, proposals: 0, invalid: 0, evidence: 0, abstained: 0, guardWrites: 0 }
  /** The epoch we abstain in (sign nothing for), if any. */
  private abstaining = -1
  private waitingLogged = false
  /** When this run started (clock ms): only an epoch whose vote began before may have been signed in by an earlier run. */
  private startedAt = 0
  /** Called after each decided epoch (for the API's event stream), once the state has moved on to S(E+1). */
  onDecided?: (r: EpochRecord, cert: VerifiedCertificate, latest: EpochState) => void

  constructor (private readonly c: AgreementComponents, init: Partial<AgreementOptions> = {}) {
    this.opts = { ...defaultAgreementOptions, ...init }
    this.clock = c.clock ?? systemClock
    this.chain = c.chain ?? new GovChain(c.net)
    this.epochs = new EpochClock(c.net, this.clock, this.opts.tickMs)
    this.entries = new EntryWait((hub) => c.logs.head(hub)?.seq ?? 0, this.clock)
    this.certificates = new CertificateService({ net: c.net, self: c.self, signer: c.signer, repo: c.db.certificates, peers: c.peers, node: c.node, logger: c.logger, validators: this.chain.validatorsAt })
    this.lock = new Serial((err) => {
      // Rule failures go back to whoever asked (gossip maps them); a full data disk is said once by the
      // store, not at every step; anything else is our bug: say so.
      if (err instanceof StoreError && err.code === 'unavailable') this.c.logger.debug({ err: err.message }, 'agreement step not stored')
      else if (err instanceof VoteGuardRefusal) this.c.logger.debug({ err: err.message }, 'agreement step refused by the vote guard')
      else if (!(err instanceof ValidationError)) this.c.logger.warn({ err: String((err as Error)?.stack ?? err) }, 'agreement step failed')
    })
  }

  /** Whether we validate the next epoch to decide (the set changes by governance). */
  get isValidator (): boolean { return this.chain.isValidator(this.c.self, this.nextEpoch) }
  get lastDecided (): EpochRecord | undefined { return this.last }
  /** The next epoch to decide. */
  get nextEpoch (): number { return (this.last?.epoch ?? -1) + 1 }
  /** The epoch whose instance runs here, if any. */
  get runningEpoch (): number | undefined { return this.current?.epoch }
  isStarted (): boolean { return this.running }

  async start (): Promise<void> {
    if (this.running) return
    this.shutdown = new AbortController()
    this.startedAt = this.clock.now()
    this.last = (await this.c.db.records.last())?.[1]
    if (this.chain.latest.epoch !== this.nextEpoch) await this.loadChain()
    this.running = true
    if (!this.subscribed) {
      this.subscribed = true
      this.c.gossip.subscribe(topics.consensus(this.c.net.id), async (data, from) => { await this.onBundle(data, from) })
      this.c.gossip.subscribe(topics.certificates(this.c.net.id), async (data, from) => { await this.onCertificate(data, from) })
    }
    await this.certificates.start(this.shutdown.signal)
    this.epochs.watch(() => this.nextEpoch, (epoch) => { this.due(epoch) })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.shutdown.abort(new Error('agreement stopped'))
    this.epochs.stop()
    this.entries.cancelAll()
    await this.lock.run(async () => { this.dropInstance() })
    await Promise.allSettled([...this.inFlight])
    await this.lock.idle()
    await this.certificates.stop()
  }

  /** Rebuilds the state per epoch from the decided values and their resolutions as stored. */
  private async loadChain (): Promise<void> {
    await this.chain.load(this.decidedSource())
  }

  private decidedSource (): DecidedSource {
    const db = this.c.db
    return {
      decided: async function * () {
        for await (const [epoch, rec] of db.records.entries()) yield { value: rec.value, resolutions: (await db.resolutions.get(epoch)) ?? [] }
      }
    }
  }

  /** S(epoch): kept in memory for recent epochs, else replayed from the stored chain. */
  async stateOf (epoch: number): Promise<EpochState | undefined> {
    return this.chain.kept(epoch) ?? await stateAt(this.c.net, epoch, this.decidedSource())
  }

  /** The resolutions the decided value of `epoch` names, as stored. */
  async resolutions (epoch: number): Promise<Uint8Array[]> {
    return (await this.c.db.resolutions.get(epoch)) ?? []
  }

  /** The ingest path: an entry of `hub` was appended (wakes what waits for it). */
  onEntry (hub: string): void {
    this.entries.onEntry(hub)
  }

  async record (epoch: number): Promise<EpochRecord | undefined> {
    return await this.c.db.records.get(epoch)
  }

  async certificate (epoch: number): Promise<VerifiedCertificate | undefined> {
    return await this.c.db.certificates.get(epoch)
  }

  private track<T> (p: Promise<T>): Promise<T> {
    this.inFlight.add(p)
    void p.finally(() => { this.inFlight.delete(p) }).catch(() => {})
    return p
  }

  /** A step under the lock, unless stopped. */
  private spawn (fn: () => Promise<void>): void {
    if (this.running) this.lock.spawn(async () => { if (this.running) await fn() })
  }

  /** The vote of `epoch` (the one to decide) is open. */
  private due (epoch: number): void {
    // Far behind (e.g. after downtime): fetch certificates from peers rather than vote alone.
    if (this.epochs.isFarBehind(epoch)) this.catchUpSoon()
    if (this.current?.epoch === epoch && this.restoredIn(epoch)) {
      // A resumed epoch, and the catch-up then found the data dir restored: sign nothing more in it.
      this.spawn(async () => { if (this.current?.epoch === epoch) { this.dropInstance(); this.abstain(epoch, 'db-restored') } })
      return
    }
    if (this.chain.isValidator(this.c.self, epoch) && this.current?.epoch !== epoch && this.abstaining !== epoch) this.spawn(async () => { await this.startEpoch(epoch) })
  }

  // ---- one epoch's instance ----

  private async startEpoch (epoch: number): Promise<void> {
    if (this.current?.epoch === epoch || epoch !== this.nextEpoch || this.abstaining === epoch) return
    this.dropInstance()
    const saved = await this.c.db.state.load()
    const own = this.c.ownLog
    // An earlier run may have signed in this epoch: unless we resume its saved state (which re-sends
    // only what was sent), wait until the catch-up says whether the data dir was restored.
    const resumes = saved?.epoch === epoch && (this.c.guard?.covers(epoch, saved) ?? true)
    if (own !== undefined && !own.ready && !resumes && this.epochs.voteAt(epoch) <= this.startedAt) {
      if (!this.waitingLogged) this.c.logger.info({ epoch }, 'not voting until our own log has caught up with the network')
      this.waitingLogged = true
      return
    }
    const why = this.abstainReason(epoch, saved)
    if (why !== undefined) { this.abstain(epoch, why); return }
    const state = this.chain.latest
    const gov = this.c.gov
    const t0 = this.clock.now()
    const ours = await buildValue(this.c.net, this.c.logs, this.last, epoch, { state, pool: gov?.candidates(state, weightsAfter(this.c.net, this.last)) })
    this.tallies.set(ours.id, ours.tally)
    if (ours.decided !== undefined) this.decisions.set(ours.id, ours.decided)
    const restored = saved?.epoch === epoch
    const inst: EpochInstance = new EpochInstance({
      validators: state.validators.ids, self: this.c.self, epoch, timeouts: this.opts.timeouts,
      restore: restored ? saved : undefined, rebroadcastMs: this.opts.rebroadcastMs
    }, this.effects(), this.clock, (fn) => { this.spawn(async () => { if (this.current === inst) await fn() }) })
    this.current = inst
    this.c.logger.info({ epoch, proposal: ours.id.slice(0, 12), resolutions: ours.resolutions.length, validators: state.validators.ids.length, restored, lagMs: t0 - this.epochs.voteAt(epoch), buildMs: this.clock.now() - t0 }, 'agreement started')
    await inst.start({ id: ours.id, value: ours.value })
    // Validators checking our value assemble the same resolutions from their pools, or ask us by id;
    // gossiping ours helps those whose pool lacks approvals we hold. Not on the path to our proposal.
    if (ours.resolutions.length > 0 && gov !== undefined) void this.track(gov.announce(ours.resolutions)).catch(() => {})
    const queued = this.future.get(epoch) ?? []
    this.future.delete(epoch)
    this.futureCount -= queued.length
    for (const m of queued) this.feed(inst, m)
  }

  /** Why we must not vote in `epoch` given the guard and the database's saved state, if we must not. */
  private abstainReason (epoch: number, saved: ConsensusState | undefined): AbstainReason | undefined {
    const g = this.c.guard
    if (g?.problem !== undefined) return 'guard-unreadable'
    if (g !== undefined && epoch < g.epoch) return 'guard-ahead'
    if (g !== undefined && !g.covers(epoch, saved)) return 'db-behind-guard'
    if (this.restoredIn(epoch)) return 'db-restored'
    return undefined
  }

  /** The own-log catch-up found the data dir restored, and an earlier run may have signed in `epoch` (its vote began before this run). */
  private restoredIn (epoch: number): boolean {
    const own = this.c.ownLog
    const at = this.epochs.voteAt(epoch)
    return own?.behind === true && at <= this.startedAt && at <= (own.readyAt ?? Infinity)
  }

  private static readonly ABSTAIN_WHY: Record<AbstainReason, string> = {
    'guard-unreadable': 'the vote guard file cannot be read',
    'guard-ahead': 'the vote guard shows this key signed in a later epoch than the database knows',
    'db-behind-guard': 'the vote guard shows this key signed in this epoch things the database does not hold (a restored or wiped database)',
    'db-restored': 'the database was behind the network\'s copy of our own log (a restored data dir): this key may have signed in this epoch before',
    'guard-refused': 'the vote guard refused a message'
  }

  /** Sign nothing in `epoch`: it is decided by the others and we adopt its certificate. One log line, one count. */
  private abstain (epoch: number, reason: AbstainReason, detail?: string): void {
    this.abstaining = epoch
    this.counts.abstained++
    this.futureCount -= this.future.get(epoch)?.length ?? 0
    this.future.delete(epoch)
    const g = this.c.guard
    const fields = { epoch, reason, why: Agreement.ABSTAIN_WHY[reason], detail: detail ?? g?.problem, guard: g === undefined || g.problem !== undefined ? undefined : { epoch: g.epoch, round: g.round, path: g.path } }
    if (reason === 'guard-unreadable') this.c.logger.error(fields, 'vote guard unreadable: abstaining in this epoch (signing nothing, following by certificate); see `ecandle doctor`')
    else this.c.logger.warn(fields, 'abstaining in this epoch: signing nothing, following by certificate')
  }

  /** A refusal of the guard while running: stop this epoch's instance (nothing more is signed in it). */
  private refused (epoch: number, err: unknown): void {
    if (!(err instanceof VoteGuardRefusal) || this.abstaining === epoch) return
    if (this.current?.epoch === epoch) this.dropInstance()
    this.abstain(epoch, 'guard-refused', err.message)
  }

  private effects (): InstanceEffects {
    const { net, signer, guard } = this.c
    return {
      // The guard first: a crash between the two writes leaves the database behind the guard, and we abstain.
      persist: async (state) => {
        if (guard !== undefined) {
          try {
            if (await guard.admit(state)) this.counts.guardWrites++
          } catch (err) {
            this.refused(state.epoch, err)
            throw err
          }
        }
        await this.c.db.state.save(state)
      },
      sign: (p) => {
        try {
          guard?.check(p)
        } catch (err) {
          this.refused(p.epoch, err)
          throw err
        }
        return signConsensus(net, signer, p.type === 'proposal'
          ? { type: 'proposal', epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId, value: p.value, validRound: p.validRound }
          : { type: p.type, epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId })
      },
      // Recent messages only: a bundle stays small; its timestamp makes each bundle a new gossip message.
      publish: async (msgs) => { await this.c.gossip.publish(topics.consensus(net.id), encodeBundle({ at: this.clock.now(), msgs: msgs.slice(-BUNDLE_RECENT) })) },
      decide: async (d) => { await this.decide(d.value, d.round, d.precommits) },
      evidence: async (a, b) => {
        this.counts.evidence++
        await this.c.addEvidence(encodeEvidence('vote', a, b)).catch(() => {})
      }
    }
  }

  private dropInstance (): void {
    if (this.current === undefined) return
    this.current.stop()
    this.current = undefined
    this.tallies.clear()
    this.decisions.clear()
  }

  // ---- messages ----

  private async onBundle (data: Uint8Array, from: string): Promise<void> {
    if (!this.running) throw ignore('stopping', 'agreement is stopping')
    // REJECTs a malformed bundle or one with no valid message; bad messages beside good ones are only logged.
    const b = this.verifyBundle(data)
    for (const err of b.invalid) this.c.logger.debug({ from, code: err.code }, 'bad consensus message')
    for (const m of b.valid) this.route(m)
  }

  /**
   * Against the set of the epoch to decide; while the set is about to change, a bundle of the next
   * set's validators (a hub just added, ahead of us) verifies against that one; if it does not, it is
   * IGNOREd (a set we cannot judge yet), never REJECTed.
   */
  private verifyBundle (data: Uint8Array): VerifiedBundle {
    const s = this.chain.latest
    if (s.next.hash === s.validators.hash) return verifyBundle(this.c.net, data, s.validators)
    try {
      return verifyBundle(this.c.net, data, s.validators)
    } catch (err) {
      if (!(err instanceof ValidationError) || err.code !== 'no-valid-message') throw err
      try {
        return verifyBundle(this.c.net, data, s.next)
      } catch {
        throw ignore('unknown-validator-set', `consensus bundle: no message verifies against the validators of epoch ${s.epoch} or ${s.epoch + 1}`)
      }
    }
  }

  private route (m: VerifiedConsensus): void {
    const epoch = m.payload.epoch
    if (epoch < this.nextEpoch || epoch === this.abstaining) return
    const cur = this.current
    if (cur?.epoch === epoch) { this.feed(cur, m); return }
    // For an epoch we are not running yet: keep a bounded number until we get there.
    if (epoch > this.nextEpoch + 1 || this.futureCount >= MAX_FUTURE_MESSAGES) {
      if (epoch > this.nextEpoch) this.catchUpSoon()
      return
    }
    const list = this.future.get(epoch) ?? []
    list.push(m)
    this.future.set(epoch, list)
    this.futureCount++
  }

  /** A message of the running epoch into its machine; a proposal once judged (outside the lock). */
  private feed (inst: EpochInstance, m: VerifiedConsensus): void {
    const p = m.payload
    const into = (input: InputMessage<EpochValue>): void => { this.spawn(async () => { if (this.current === inst) await inst.onMessage(input) }) }
    if (p.type !== 'proposal') {
      into({ type: p.type, epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId, signature: m.bytes })
      return
    }
    const id = p.valueId!
    let verdict = inst.verdicts.get(id)
    if (verdict === undefined) {
      this.counts.proposals++
      verdict = this.track(this.judge(inst, p.value!, p.from))
      inst.verdicts.set(id, verdict)
    }
    void verdict.then(valid => {
      into({ type: 'proposal', epoch: p.epoch, round: p.round, from: p.from, valueId: id, value: p.value!, validRound: p.validRound!, signature: m.bytes, valid })
    })
  }

  /**
   * valid(v) of the paper (docs/consensus.md §1), without the lock: the value extends the last decision,
   * never lowers a cut, every entry is held (asked for by sync and awaited if need be), and it checks
   * out against our logs and our tally.
   */
  private async judge (inst: EpochInstance, v: EpochValue, from: string): Promise<boolean> {
    const basis = this.last
    const state = this.chain.latest
    try {
      checkExtends(v, basis)
      if (state.epoch !== v.epoch) throw new InvalidValue(`proposal of epoch ${v.epoch}, our state is of epoch ${state.epoch}`)
      if (!(await this.hold(v.cut, from))) throw new InvalidValue('entries of the cut could not be fetched in time')
      const resolutions = await this.resolutionsOf(v, from)
      if (resolutions === undefined) throw new InvalidValue(`resolutions of the value could not be fetched (${v.gov.length} named)`)
      const result = await checkValue(this.c.net, this.c.logs, basis, v, { state, resolutions })
      const lacking = result.decided === undefined ? undefined : this.c.gov?.lackingBuilderVotes(result.decided, weightsAfter(this.c.net, basis))
      if (lacking !== undefined) throw new InvalidValue(lacking)
      if (this.current === inst) {
        this.tallies.set(valueIdOf(v), result)
        if (result.decided !== undefined) this.decisions.set(valueIdOf(v), result.decided)
      }
      return true
    } catch (err: any) {
      if (!(err instanceof InvalidValue || err instanceof ProtocolError)) this.c.logger.warn({ err: String(err?.stack ?? err) }, 'checking a proposal failed')
      this.counts.invalid++
      this.c.logger.info({ epoch: v.epoch, from, reason: String(err?.message ?? err) }, 'proposal not valid here')
      return false
    }
  }

  /** The resolutions a value names: from the pool, or fetched from `hint` and other peers. */
  private async resolutionsOf (v: EpochValue, hint: string, certified = false): Promise<Uint8Array[] | undefined> {
    if (v.gov.length === 0) return []
    return await this.c.gov?.resolve(v.gov, hint, { signal: this.shutdown.signal }, certified ? v.epoch : undefined)
  }

  /** True once every entry up to the cut is held: asks peers by sync and waits for the ingest path. */
  private async hold (cut: EpochValue['cut'], hint: string): Promise<boolean> {
    if (holdsCut(this.c.logs, cut)) return true
    this.c.sync.requestSync(hint)
    for (const p of this.c.peers.peers()) this.c.sync.requestSync(p)
    return await this.entries.until(cut, { signal: this.shutdown.signal, timeoutMs: this.opts.fetchWaitMs })
  }

  // ---- decisions and certificates ----

  private async decide (value: EpochValue, round: number, precommits: Parameters<CertificateService['assemble']>[2]): Promise<void> {
    const cert = this.certificates.assemble(value, round, precommits, this.chain.latest.validators)
    const gov = this.decisions.get(cert.valueId) ?? this.followDecided(value, await this.resolutionsOf(value, this.c.self))
    await this.commit(cert, gov, this.tallies.get(cert.valueId))
    await this.c.gossip.publish(topics.certificates(this.c.net.id), cert.bytes)
  }

  /**
   * The governance of a certified value on our S(E). More than 2/3 signed it, so a failure means our
   * state differs from theirs: stop, loudly (as for a tally root that differs).
   */
  private followDecided (v: EpochValue, resolutions: Uint8Array[] | undefined): Decided {
    if (resolutions === undefined) throw ignore('missing-resolutions', `certificate of epoch ${v.epoch}: its resolutions could not be fetched yet`)
    try {
      return followValue(this.chain.latest, v, resolutions)
    } catch (err: any) {
      this.c.logger.error({ epoch: v.epoch, err: String(err?.message ?? err) }, 'certified value does not follow from our state')
      throw new Error(`certified value of epoch ${v.epoch} does not follow from our state: ${String(err?.message ?? err)}`)
    }
  }

  /** Stores a certificate of the next epoch with its tally record and resolutions (under the lock), and moves on to S(E+1). */
  private async commit (decided: VerifiedCertificate, gov: Decided, known?: TallyResult): Promise<void> {
    const v = decided.value
    if (v.epoch !== this.nextEpoch) return
    // Same value, other signers: store the canonical copy (lowest round, then lowest signer indices).
    const cert = this.certificates.canonical(decided)
    const state = this.chain.latest
    const result = known ?? await tallyOf(this.c.net, this.c.logs, this.last, v, state)
    if (result.root !== v.root) {
      // More than 2/3 signed a root we compute differently: our code or data is wrong, not theirs. Stop here, loudly.
      this.c.logger.error({ epoch: v.epoch, ours: result.root, theirs: v.root }, 'certified tally root differs from ours')
      throw new Error('certified tally root differs from ours')
    }
    const rec: EpochRecord = { epoch: v.epoch, valueId: cert.valueId, value: v, totals: result.totals, devices: result.devices, accounts: result.accounts, next: result.next }
    const resolutions = gov.checked.map(c => c.resolution)
    await this.c.db.commit(cert, rec, resolutions.map(r => r.bytes))
    this.last = rec
    this.chain.advance(gov.next)
    await this.c.gov?.decidedEpoch(v.epoch, resolutions)
    this.certificates.decided(v.epoch)
    this.counts.decided++
    this.dropInstance()
    this.c.logger.info({ epoch: v.epoch, value: cert.valueId.slice(0, 12), round: cert.round, signers: cert.signers.length, countedMwh: result.totals.countedMwh, resolutions: resolutions.length }, 'epoch decided')
    this.onDecided?.(rec, cert, this.chain.latest)
    this.epochs.poke()
    this.reconcileSoon(v.epoch)
  }

  /** After a decision: the certificates of recent epochs compared with one peer, the more canonical copy kept (certificates.ts). */
  private reconcileSoon (last: number): void {
    if (!this.running) return
    const signal = this.shutdown.signal
    this.track(this.certificates.reconcile(last, async (cert) => await this.lock.run(async () => await this.certificates.known(cert, this.nextEpoch - 1)), { signal, timeoutMs: this.opts.requestTimeoutMs })).catch((err: any) => {
      if (this.running) this.c.logger.debug({ err: String(err?.message ?? err) }, 'certificate reconcile failed')
    })
  }

  private async onCertificate (data: Uint8Array, from: string): Promise<void> {
    if (!this.running) throw ignore('stopping', 'agreement is stopping')
    await this.adopt(this.certificates.verify(data), from)
  }

  /**
   * A verified certificate from a peer. Of the next epoch: its entries awaited and its tally computed
   * outside the lock, then stored under it. Of an epoch decided here (before, or while this one was
   * checked): keep the canonical copy. Of a later epoch: keep it and catch up.
   */
  private async adopt (cert: VerifiedCertificate, from: string): Promise<void> {
    const epoch = cert.value.epoch
    if (epoch > this.nextEpoch) {
      this.certificates.keepCandidate(cert, this.nextEpoch)
      this.catchUpSoon()
      throw ignore('future-epoch', `epoch ${epoch}: we are at ${this.nextEpoch}`)
    }
    if (epoch === this.nextEpoch) {
      const basis = this.last
      const state = this.chain.latest
      if (cert.value.prev !== (basis?.valueId ?? null)) throw reject('bad-prev', `certificate of epoch ${epoch} does not extend our epoch ${epoch - 1}`)
      if (!(await this.hold(cert.value.cut, from))) {
        this.certificates.keepCandidate(cert, this.nextEpoch)
        throw ignore('missing-entries', `certificate of epoch ${epoch}: entries not held yet`)
      }
      const known = this.decisions.get(cert.valueId)
      const resolutions = known === undefined ? await this.resolutionsOf(cert.value, from, true) : []
      if (resolutions === undefined) {
        this.certificates.keepCandidate(cert, this.nextEpoch)
        throw ignore('missing-resolutions', `certificate of epoch ${epoch}: resolutions not held yet`)
      }
      // S(E) as it was with `basis` (both change only together, in commit).
      const result = this.tallies.get(cert.valueId) ?? await tallyOf(this.c.net, this.c.logs, basis, cert.value, state)
      const adopted = await this.lock.run(async () => {
        if (this.last !== basis) return false
        this.counts.adopted++
        await this.commit(cert, known ?? this.followDecided(cert.value, resolutions), result)
        return true
      })
      if (adopted) return
    }
    const forward = await this.lock.run(async () => await this.certificates.known(cert, this.nextEpoch - 1))
    if (!forward) throw ignore('known-epoch', `epoch ${epoch} already decided`)
  }

  private catchUpSoon (): void {
    if (!this.running) return
    this.track(this.catchUp()).catch((err: any) => {
      if (this.running) this.c.logger.warn({ err: String(err?.message ?? err) }, 'certificate catch-up failed')
    })
  }

  /** Fetch certificates we lack from connected peers, verify each, and adopt them in order. */
  async catchUp (opts: AbortOptions = {}): Promise<void> {
    const signal = opts.signal === undefined ? this.shutdown.signal : AbortSignal.any([opts.signal, this.shutdown.signal])
    await this.certificates.catchUp(() => this.nextEpoch, async (cert, peer) => { await this.adopt(cert, peer) }, { signal, timeoutMs: this.opts.requestTimeoutMs })
  }
}
