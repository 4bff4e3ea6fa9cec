import { Tendermint, type InputMessage, type Output, type PersistentState, type VoteMsg } from '@ecandle/consensus'
import { Gossip, peerIdFromString, type HubNode } from '@ecandle/net'
import { certificatesProtocol, fetchCertificatePage, handle, type Served } from '@ecandle/wire'
import {
  decodeCanonical, decodeEntry, encodeBundle, encodeCertificate, encodeEvidence, epochOf, epochVoteAtMs, expectBytes, expectMap,
  ignore, reject, signConsensus, topics, valueIdOf, verifyBundle, verifyCertificate, ProtocolError, ValidationError,
  type CutItem, type EpochValue, type Network, type Signer, type VerifiedCertificate, type VerifiedConsensus
} from '@ecandle/protocol'
import { keys, readU64, Bucket, type Store } from '@ecandle/store'
import type { Ingest, SyncService } from '@ecandle/sync'
import { genesisState, tally, type TallyResult, type TallyState } from '@ecandle/tally'
import type { Logger } from 'pino'
import { tallyDevices, tallyParams } from '@ecandle/audit'
import { fromJson, loadSegment, toJson } from './segment.js'
import { TallyServer } from './tally-server.js'

export interface AgreementOptions {
  timeouts: { proposeMs: number, prevoteMs: number, precommitMs: number, deltaMs: number }
  /** How often the epoch clock is checked. */
  tickMs: number
  /** How long a validator waits for entries of a proposed cut to arrive by sync. */
  fetchWaitMs: number
  /**
   * While an epoch is undecided, our own messages are sent again when nothing was sent for this
   * long. Tendermint assumes every message is eventually delivered; gossip does not resend, so a
   * step waiting for 2f+1 messages (no timeout armed) would otherwise wait forever for messages
   * lost before the mesh formed or during a partition.
   */
  rebroadcastMs?: number
}

export const defaultAgreementOptions: AgreementOptions = {
  timeouts: { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 1000 },
  tickMs: 200,
  fetchWaitMs: 2500,
  rebroadcastMs: 1000
}

/** What a hub keeps for each decided epoch, besides the certificate. */
export interface EpochRecord {
  epoch: number
  valueId: string
  value: EpochValue
  totals: TallyResult['totals']
  devices: TallyResult['devices']
  accounts: TallyResult['accounts']
  /** Carried into the next epoch's tally. */
  next: TallyState
}

const MAX_FUTURE_MESSAGES = 2048
const MAX_CANDIDATE_EPOCHS = 64

/**
 * Drives one Tendermint instance per epoch: at the end of epoch E plus the grace period a validator
 * proposes (or checks) a cut of every log and its tally root; a decision becomes a certificate,
 * stored, gossiped and served by sync. Everything signed is first written with a sync write.
 */
export class Agreement {
  private last?: EpochRecord
  private lastCert?: VerifiedCertificate
  private current?: { epoch: number, sm: Tendermint<EpochValue>, own: Uint8Array[], timers: Set<NodeJS.Timeout>, valid: Map<string, Promise<boolean>>, sentAt: number }
  private readonly future = new Map<number, VerifiedConsensus[]>()
  private futureCount = 0
  private timer?: NodeJS.Timeout
  private served?: Served
  private catchingUp = false
  private busy: Promise<void> = Promise.resolve()
  private readonly tallies = new Map<string, TallyResult>() // valueId -> tally (current epoch only)
  /**
   * Valid certificates we could not adopt when they came (epoch ahead of ours, or entries missing):
   * the lowest copy per epoch. Every decider gossips its own copy once, so a copy ignored now would
   * never be seen again; commit() keeps the canonical one of these and the one it commits.
   */
  private readonly candidates = new Map<number, VerifiedCertificate>()
  readonly counts = { decided: 0, adopted: 0, proposals: 0, invalid: 0, evidence: 0 }
  /** Serves proofs and leaf sets of decided epochs to light peers. */
  readonly tallyServer: TallyServer
  /** Called after each decided epoch (for the API's event stream). */
  onDecided?: (r: EpochRecord, cert: VerifiedCertificate) => void

  constructor (
    private readonly net: Network,
    private readonly self: string,
    private readonly signer: Signer,
    private readonly store: Store,
    private readonly node: HubNode,
    private readonly gossip: Gossip,
    private readonly ingest: Ingest,
    private readonly sync: SyncService,
    private readonly log: Logger,
    private readonly opts: AgreementOptions = defaultAgreementOptions,
    private readonly now: () => number = Date.now
  ) {
    this.tallyServer = new TallyServer(net, node, async (e) => await this.record(e), log)
  }

  get isValidator (): boolean { return this.net.hubs.has(this.self) }
  get lastDecided (): EpochRecord | undefined { return this.last }
  /** The next epoch to decide. */
  get nextEpoch (): number { return (this.last?.epoch ?? -1) + 1 }

  async start (): Promise<void> {
    const lastCert = await this.store.last(Bucket.certificate)
    if (lastCert !== undefined) {
      const epoch = readU64(lastCert[0], 1)
      this.lastCert = verifyCertificate(this.net, lastCert[1])
      this.last = await this.record(epoch)
    }
    this.gossip.subscribe(topics.consensus(this.net.id), async (data, from) => { await this.onBundle(data, from) })
    this.gossip.subscribe(topics.certificates(this.net.id), async (data, from) => { await this.onCertificate(data, from) })
    this.served = await handle(this.node, this.net.id, certificatesProtocol, (r) => this.serveCertificates(r), { logger: this.log })
    await this.tallyServer.start()
    this.timer = setInterval(() => { this.tick() }, this.opts.tickMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.dropInstance()
    await this.busy.catch(() => {})
    await this.served?.close()
    await this.tallyServer.stop()
  }

  async record (epoch: number): Promise<EpochRecord | undefined> {
    const v = await this.store.getRaw(keys.tally(epoch))
    return v === undefined ? undefined : fromJson<EpochRecord>(new TextDecoder().decode(v))
  }

  async certificate (epoch: number): Promise<Uint8Array | undefined> {
    return await this.store.getRaw(keys.certificate(epoch))
  }

  /** Runs stateful steps one at a time (messages, timeouts, decisions never interleave). */
  private async serial (fn: () => Promise<void>): Promise<void> {
    const run = this.busy.then(fn, fn)
    this.busy = run.catch((err) => {
      // Rule failures go back to whoever asked (gossip maps them); anything else is our bug: say so.
      if (!(err instanceof ValidationError)) this.log.warn({ err: String(err?.stack ?? err) }, 'agreement step failed')
    })
    await run
  }

  /** Fire-and-forget a serial step (its failure is logged by serial, never thrown into an event loop). */
  private spawn (fn: () => Promise<void>): void {
    this.serial(fn).catch(() => {})
  }

  private tick (): void {
    const epoch = this.nextEpoch
    const now = this.now()
    if (now < epochVoteAtMs(this.net, epoch)) return
    // Far behind (e.g. after downtime): fetch certificates from peers rather than vote alone.
    if (now >= epochVoteAtMs(this.net, epoch + 1) + this.net.def.epochLengthS * 1000) this.catchUp().catch((err: any) => { this.log.warn({ err: String(err?.message ?? err) }, 'certificate catch-up failed') })
    if (this.isValidator && this.current?.epoch !== epoch) this.spawn(async () => { await this.startEpoch(epoch) })
    // Undecided and quiet for a while: send our messages again (peers may never have got them).
    const cur = this.current
    if (cur !== undefined && cur.epoch === epoch && cur.own.length > 0 && now - cur.sentAt >= (this.opts.rebroadcastMs ?? 1000)) {
      cur.sentAt = now
      this.spawn(async () => { if (this.current === cur) await this.publishOwn(cur) })
    }
  }

  // ---- one epoch's instance ----

  private async startEpoch (epoch: number): Promise<void> {
    if (this.current?.epoch === epoch || epoch !== this.nextEpoch) return
    this.dropInstance()
    const own = await this.proposal(epoch)
    const saved = await this.store.getRaw(keys.consensus('state'))
    const restore = saved === undefined ? undefined : fromJson<PersistentState<EpochValue> & { v?: number }>(new TextDecoder().decode(saved))
    const sm = new Tendermint<EpochValue>({
      validators: this.net.validatorIds, self: this.self, epoch, timeouts: this.opts.timeouts,
      restore: restore?.epoch === epoch ? reviveState(restore) : undefined
    })
    this.current = { epoch, sm, own: [], timers: new Set(), valid: new Map(), sentAt: this.now() }
    this.log.info({ epoch, proposal: own.id.slice(0, 12), restored: restore?.epoch === epoch }, 'agreement started')
    await this.apply(sm.start(own))
    const queued = this.future.get(epoch) ?? []
    this.future.delete(epoch)
    this.futureCount -= queued.length
    for (const m of queued) await this.feed(m)
  }

  private dropInstance (): void {
    if (this.current === undefined) return
    for (const t of this.current.timers) clearTimeout(t)
    this.current = undefined
    this.tallies.clear()
  }

  /** This validator's value for `epoch`: every log up to its last entry stamped ≤ epoch, and the root. */
  private async proposal (epoch: number): Promise<{ id: string, value: EpochValue }> {
    const cut: CutItem[] = []
    for (const hub of this.net.validatorIds) {
      const prevSeq = this.last?.value.cut.find(c => c.hub === hub)?.seq ?? 0
      let seq = this.store.head(hub)?.seq ?? 0
      let id = this.store.head(hub)?.id ?? null
      // Walk back past entries stamped with a later epoch (a few per epoch at most).
      while (seq > prevSeq) {
        const e = decodeEntry((await this.store.getEntry(hub, seq))!)
        if (e.payload.epoch <= epoch) { id = e.id; break }
        seq--
      }
      if (seq <= prevSeq) {
        seq = prevSeq
        id = this.last?.value.cut.find(c => c.hub === hub)?.id ?? null
      }
      cut.push({ hub, seq, id: seq === 0 ? null : id })
    }
    const partial: EpochValue = { epoch, prev: this.last?.valueId ?? null, cut, root: '' }
    const result = await this.computeTally(partial)
    const value = { ...partial, root: result.root }
    const id = valueIdOf(value)
    this.tallies.set(id, result)
    return { id, value }
  }

  private async computeTally (v: EpochValue): Promise<TallyResult> {
    const segment = await loadSegment(this.store, this.last?.value.cut ?? null, v.cut)
    return tally({
      epoch: v.epoch,
      params: tallyParams(this.net),
      devices: tallyDevices(this.net),
      segment,
      prev: this.last?.next ?? { ...genesisState(), epoch: v.epoch - 1 },
      // Valid logs never hold two reports of one (device, counter): equivocating reports are refused at
      // ingest, so every hub tallies with the same (empty) set and gets the same root.
      equivocated: new Set()
    })
  }

  /**
   * valid(v) of the paper: the value extends the last decision, never lowers a cut, holds no entry
   * stamped with a later epoch, every entry is held (fetched by sync if need be), and our tally gives the root.
   */
  private async validate (v: EpochValue, from: string): Promise<boolean> {
    try {
      if (v.prev !== (this.last?.valueId ?? null)) throw new Error('does not extend the last decided epoch')
      for (let i = 0; i < v.cut.length; i++) {
        const c = v.cut[i]
        const prevSeq = this.last?.value.cut[i]?.seq ?? 0
        if (c.seq < prevSeq) throw new Error(`cut of ${c.hub} goes below the previous cut`)
      }
      if (!(await this.holdAll(v.cut, from))) throw new Error('entries of the cut could not be fetched in time')
      for (const c of v.cut) {
        if (c.seq === 0) continue
        const e = decodeEntry((await this.store.getEntry(c.hub, c.seq))!)
        if (c.id === null || !e.id.equals(c.id)) throw new Error(`cut names another entry at ${c.hub}#${c.seq}`)
        if (e.payload.epoch > v.epoch) throw new Error(`entry ${c.hub}#${c.seq} is stamped with a later epoch`)
      }
      const result = await this.computeTally(v)
      if (result.root !== v.root) throw new Error(`tally root differs: ours ${result.root.slice(0, 12)}`)
      this.tallies.set(valueIdOf(v), result)
      return true
    } catch (err: any) {
      this.counts.invalid++
      this.log.info({ epoch: v.epoch, from, reason: String(err?.message ?? err) }, 'proposal not valid here')
      return false
    }
  }

  /** True once every entry up to the cut is held, asking peers by sync meanwhile. */
  private async holdAll (cut: readonly CutItem[], hint: string): Promise<boolean> {
    const deadline = this.now() + this.opts.fetchWaitMs
    for (;;) {
      if (cut.every(c => (this.store.head(c.hub)?.seq ?? 0) >= c.seq)) return true
      if (this.now() >= deadline) return false
      this.sync.requestSync(hint)
      for (const p of this.node.getPeers()) this.sync.requestSync(p.toString())
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  // ---- messages ----

  private async onBundle (data: Uint8Array, from: string): Promise<void> {
    // REJECTs a malformed bundle or one with no valid message; bad messages beside good ones are only logged.
    const b = verifyBundle(this.net, data)
    for (const err of b.invalid) this.log.debug({ from, code: err.code }, 'bad consensus message')
    for (const m of b.valid) this.spawn(async () => { await this.route(m) })
  }

  private async route (m: VerifiedConsensus): Promise<void> {
    const epoch = m.payload.epoch
    if (epoch < this.nextEpoch) return
    if (this.current?.epoch === epoch) { await this.feed(m); return }
    // For an epoch we are not running yet: keep a bounded number until we get there.
    if (epoch > this.nextEpoch + 1 || this.futureCount >= MAX_FUTURE_MESSAGES) {
      if (epoch > this.nextEpoch) this.catchUp().catch((err: any) => { this.log.warn({ err: String(err?.message ?? err) }, 'certificate catch-up failed') })
      return
    }
    const list = this.future.get(epoch) ?? []
    list.push(m)
    this.future.set(epoch, list)
    this.futureCount++
  }

  private async feed (m: VerifiedConsensus): Promise<void> {
    const cur = this.current
    if (cur === undefined || cur.epoch !== m.payload.epoch) return
    const p = m.payload
    let input: InputMessage<EpochValue>
    if (p.type === 'proposal') {
      const id = p.valueId!
      let v = cur.valid.get(id)
      if (v === undefined) {
        this.counts.proposals++
        v = this.validate(p.value!, p.from)
        cur.valid.set(id, v)
      }
      const valid = await v
      if (this.current !== cur) return
      input = { type: 'proposal', epoch: p.epoch, round: p.round, from: p.from, valueId: id, value: p.value!, validRound: p.validRound!, signature: m.bytes, valid }
    } else {
      input = { type: p.type, epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId, signature: m.bytes }
    }
    await this.apply(cur.sm.onMessage(input))
  }

  /** Carries out the state machine's outputs in order: persist (sync write) before anything is sent. */
  private async apply (outputs: Array<Output<EpochValue>>): Promise<void> {
    const cur = this.current
    if (cur === undefined) return
    let republish = false
    for (const o of outputs) {
      if (this.current !== cur) return
      switch (o.type) {
        case 'persist':
          await this.store.putRaw(keys.consensus('state'), new TextEncoder().encode(toJson(o.state)), { sync: true })
          break
        case 'broadcast': {
          const p = o.msg
          const bytes = signConsensus(this.net, this.signer, p.type === 'proposal'
            ? { type: 'proposal', epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId, value: p.value, validRound: p.validRound }
            : { type: p.type, epoch: p.epoch, round: p.round, from: p.from, valueId: p.valueId })
          cur.own.push(bytes)
          republish = true
          // Our own signed vote goes back in so a decision's precommits carry our signature too.
          if (p.type !== 'proposal') await this.apply(cur.sm.onMessage({ ...p, signature: bytes }))
          break
        }
        case 'schedule-timeout': {
          const t = setTimeout(() => {
            cur.timers.delete(t)
            this.spawn(async () => {
              if (this.current !== cur) return
              // A timeout means progress stalled: send all our messages again (gossip may have lost some).
              await this.publishOwn(cur)
              await this.apply(cur.sm.onTimeout({ step: o.step, round: o.round }))
            })
          }, o.ms)
          cur.timers.add(t)
          break
        }
        case 'decide':
          await this.decide(cur.epoch, o.value, o.round, o.precommits)
          return
        case 'evidence': {
          const a = o.first.signature, b = o.second.signature
          if (a instanceof Uint8Array && b instanceof Uint8Array) {
            this.counts.evidence++
            await this.ingest.addEvidence(encodeEvidence('vote', a, b)).catch(() => {})
          }
          break
        }
      }
    }
    if (republish) await this.publishOwn(cur)
  }

  private async publishOwn (cur: NonNullable<Agreement['current']>): Promise<void> {
    // Recent messages only: a bundle stays small; a timestamp makes each bundle a new gossip message.
    const msgs = cur.own.slice(-12)
    // Nothing signed yet this epoch: an empty bundle would only be REJECTed by every peer.
    if (msgs.length === 0) return
    cur.sentAt = this.now()
    await this.gossip.publish(topics.consensus(this.net.id), encodeBundle({ at: this.now(), msgs }))
  }

  // ---- decisions and certificates ----

  private async decide (epoch: number, value: EpochValue, round: number, precommits: VoteMsg[]): Promise<void> {
    const signatures: Array<[number, Uint8Array]> = []
    for (const pc of precommits) {
      // Our own precommit may be decided on before its signed copy came back: sign it now
      // (Ed25519 is deterministic, so these are the very bytes we broadcast).
      const signed = pc.signature instanceof Uint8Array
        ? pc.signature
        : pc.from === this.self ? signConsensus(this.net, this.signer, { type: 'precommit', epoch: pc.epoch, round: pc.round, from: pc.from, valueId: pc.valueId }) : undefined
      if (signed === undefined) continue
      const env = expectMap(decodeCanonical(signed, 'vote'), 'vote', ['p', 's'])
      signatures.push([this.net.validatorIds.indexOf(pc.from), expectBytes(env.s, 'vote.s', 64, 64)])
    }
    const cert = verifyCertificate(this.net, encodeCertificate(this.net, { value, round, signatures }))
    await this.commit(cert, this.tallies.get(cert.valueId))
    await this.gossip.publish(topics.certificates(this.net.id), cert.bytes)
  }

  /** Stores a certificate of the next epoch with its tally, and moves on. */
  private async commit (decided: VerifiedCertificate, known?: TallyResult): Promise<void> {
    const v = decided.value
    if (v.epoch !== this.nextEpoch) return
    // Same value, other signers: store the canonical copy (lowest round, then lowest signer indices).
    const alt = this.candidates.get(v.epoch)
    const cert = alt !== undefined && alt.valueId === decided.valueId && certOrder(alt) < certOrder(decided) ? alt : decided
    const result = known ?? await this.computeTally(v)
    if (result.root !== v.root) {
      // More than 2/3 signed a root we compute differently: our code or data is wrong, not theirs. Stop here, loudly.
      this.log.error({ epoch: v.epoch, ours: result.root, theirs: v.root }, 'certified tally root differs from ours')
      throw new Error('certified tally root differs from ours')
    }
    const rec: EpochRecord = { epoch: v.epoch, valueId: cert.valueId, value: v, totals: result.totals, devices: result.devices, accounts: result.accounts, next: result.next }
    await this.store.batchRaw([
      { key: keys.certificate(v.epoch), value: cert.bytes },
      { key: keys.tally(v.epoch), value: new TextEncoder().encode(toJson(rec)) }
    ], { sync: true })
    this.last = rec
    this.lastCert = cert
    for (const e of [...this.candidates.keys()]) if (e <= v.epoch) this.candidates.delete(e)
    this.counts.decided++
    this.dropInstance()
    this.log.info({ epoch: v.epoch, value: cert.valueId.slice(0, 12), round: cert.round, signers: cert.signers.length, countedMwh: result.totals.countedMwh }, 'epoch decided')
    this.onDecided?.(rec, cert)
  }

  private async onCertificate (data: Uint8Array, from: string): Promise<void> {
    const cert = verifyCertificate(this.net, data)
    await this.serial(async () => { await this.adopt(cert, from) })
  }

  /** A certificate from a peer: the next epoch → check and store; a past one → keep the canonical copy. */
  private async adopt (cert: VerifiedCertificate, from: string): Promise<void> {
    const epoch = cert.value.epoch
    if (epoch < this.nextEpoch) {
      const ours = await this.certificate(epoch)
      if (ours === undefined) return
      const mine = verifyCertificate(this.net, ours)
      if (mine.valueId !== cert.valueId) {
        this.log.error({ epoch, ours: mine.valueId, theirs: cert.valueId }, 'two certificates for one epoch')
        throw reject('conflicting-certificate', `epoch ${epoch}: certificate for another value`)
      }
      // Same value, other signers: keep the canonical one (lowest round, then lowest signer indices).
      const better = certOrder(cert) < certOrder(mine)
      if (better) await this.store.putRaw(keys.certificate(epoch), cert.bytes, { sync: true })
      // The canonical certificate of the epoch just decided is accepted, so gossipsub forwards it: hubs
      // build byte-identical certificates, and one a hub ignores here would never reach light peers behind
      // it (its own publish of the same bytes is dropped as a duplicate once a peer's copy was seen).
      if (epoch === this.nextEpoch - 1 && (better || Buffer.compare(cert.bytes, ours) === 0)) return
      throw ignore('known-epoch', `epoch ${epoch} already decided`)
    }
    if (epoch > this.nextEpoch) {
      this.keepCandidate(cert)
      this.catchUp().catch((err: any) => { this.log.warn({ err: String(err?.message ?? err) }, 'certificate catch-up failed') })
      throw ignore('future-epoch', `epoch ${epoch}: we are at ${this.nextEpoch}`)
    }
    if (cert.value.prev !== (this.last?.valueId ?? null)) throw reject('bad-prev', `certificate of epoch ${epoch} does not extend our epoch ${epoch - 1}`)
    if (!(await this.holdAll(cert.value.cut, from))) {
      this.keepCandidate(cert)
      throw ignore('missing-entries', `certificate of epoch ${epoch}: entries not held yet`)
    }
    this.counts.adopted++
    await this.commit(cert)
  }

  private keepCandidate (cert: VerifiedCertificate): void {
    const e = cert.value.epoch
    if (e < this.nextEpoch || e > this.nextEpoch + MAX_CANDIDATE_EPOCHS) return
    const had = this.candidates.get(e)
    if (had === undefined || (had.valueId === cert.valueId && certOrder(cert) < certOrder(had))) this.candidates.set(e, cert)
  }

  private async * serveCertificates ({ from, limit }: { from: number, limit: number }): AsyncGenerator<Uint8Array> {
    for await (const [, v] of this.store.iterate(Bucket.certificate, { gte: keys.certificate(from), limit })) yield v
  }

  /** Fetch certificates we lack from connected peers, verify each, and adopt them in order. */
  async catchUp (): Promise<void> {
    if (this.catchingUp) return
    this.catchingUp = true
    try {
      for (const peer of this.node.getPeers()) {
        let certs: Uint8Array[]
        try {
          certs = await fetchCertificatePage(this.node, peer, this.net.id, { from: this.nextEpoch })
        } catch (err: any) {
          this.log.debug({ peer: peer.toString(), err: String(err?.message ?? err) }, 'certificate sync failed')
          continue
        }
        for (const bytes of certs) {
          try {
            const cert = verifyCertificate(this.net, bytes)
            await this.serial(async () => { await this.adopt(cert, peer.toString()) })
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err
            if (err instanceof ValidationError && err.action === 'IGNORE') continue
            this.log.warn({ peer: peer.toString(), err: err.message }, 'peer served a bad certificate')
            break
          }
        }
        if (certs.length > 0) break
      }
    } finally {
      this.catchingUp = false
    }
  }

  /** Epoch of a time (for the API). */
  epochOf (ms: number): number { return epochOf(this.net, ms) }
  peer (s: string): ReturnType<typeof peerIdFromString> { return peerIdFromString(s) }
}

function certOrder (c: VerifiedCertificate): string {
  return String(c.round).padStart(8, '0') + ':' + c.signatures.map(([i]) => String(i).padStart(4, '0')).join(',')
}

/** Persisted state: our own messages come back with their signatures (bytes), values with CIDs. */
function reviveState (s: PersistentState<EpochValue>): PersistentState<EpochValue> {
  return s
}
