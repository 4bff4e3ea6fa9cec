import {
  APPEND_CODES, checkAppend, contentId, decodeEntry, decodeEntryRejecting, decodeReport, encodeEvidence, ENTRY_CODES, equalBytes, EVIDENCE_CODES, genesisLookup, rules,
  verifyDecodedEntryAsync, verifyEvidence, ValidationError, type DecodedEntry, type EntryLookup, type Network, type ValidatorsFor, type VerifiedEntry,
  type VerifiedEvidence
} from '@ecandle/protocol'
import { StoreError, type Store } from '@ecandle/store'

export interface IngestLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  debug: (obj: object, msg: string) => void
}

export interface IngestHooks {
  /** An entry was appended to a log (ours or another hub's). */
  onEntry?: (e: VerifiedEntry, from: string) => void
  /** New evidence was stored (to gossip it). */
  onEvidence?: (ev: VerifiedEvidence) => void
  /** We lack entries of `hub` from `fromSeq` that `peer` probably has: sync now. */
  onGap?: (hub: string, fromSeq: number, peer: string) => void
}

export type IngestResult = 'appended' | 'duplicate'

/**
 * Codes an entry can fail ingest with: the protocol's entry and append rules, a seq we already hold, and a
 * store that takes no writes now (a full data disk; docs/protocol.md §5).
 */
export const INGEST_CODES = [...ENTRY_CODES, ...APPEND_CODES, 'duplicate', 'equivocation', 'store-unavailable'] as const
export type IngestCode = typeof INGEST_CODES[number]

/** Codes evidence can fail ingest with: the evidence rules, or evidence we already hold. */
export const EVIDENCE_INGEST_CODES = [...EVIDENCE_CODES, 'duplicate', 'store-unavailable'] as const
export type EvidenceIngestCode = typeof EVIDENCE_INGEST_CODES[number]

const ingestRule = rules<IngestCode>()
const evidenceIngestRule = rules<EvidenceIngestCode>()

/** Entries waiting for their predecessors; bounded by bytes so a flood cannot exhaust memory. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024
/** Entries waiting for a decision that may admit their hub or device (`hub-pending`, `device-pending`). */
const MAX_WAITING_BYTES = 4 * 1024 * 1024
const WAIT_CODES: ReadonlySet<string> = new Set(['hub-pending', 'device-pending'])

/**
 * The one way entries of any hub get into the store, from gossip, sync or our own log.
 * Signature checks run concurrently (on worker threads); the stateful part (head, chain link, counters, write) runs
 * one entry at a time, so the in-memory heads and counters always match the disk.
 */
export class Ingest {
  private chain: Promise<unknown> = Promise.resolve()
  private readonly pending = new Map<string, Map<number, VerifiedEntry>>()
  private pendingBytes = 0
  private readonly waiting = new Map<string, { bytes: Uint8Array, from: string }>()
  private waitingBytes = 0
  readonly counts = { appended: 0, duplicate: 0, pending: 0, evidence: 0 }

  constructor (
    private readonly net: Network,
    private readonly store: Store,
    private readonly log: IngestLogger,
    private readonly hooks: IngestHooks = {},
    private readonly now: () => number = Date.now,
    /** Who may log and whose reports (docs/governance.md §7): the newest network state's rules; default the network file's. */
    private readonly lookup: () => EntryLookup = () => genesisLookup(net),
    /** The same for evidence, with the validators of a vote's epoch (default the network file's). */
    private readonly evidenceAt?: () => { lookup: EntryLookup, validators: ValidatorsFor }
  ) {}

  /**
   * Validates and appends entry bytes. Throws a ValidationError (REJECT/IGNORE) for gossip to map.
   * A gap queues the entry (bounded) and asks for sync.
   */
  async accept (bytes: Uint8Array, from: string, opts: { sync?: boolean } = {}): Promise<IngestResult> {
    // Decoded once (malformed bytes: REJECT as verifyEntry would). A replay of an entry we hold costs
    // that decode and one read, not its signatures.
    const e = decodeEntryRejecting(bytes)
    if (await this.held(e)) {
      this.counts.duplicate++
      throw ingestRule.ignore('duplicate', 'entry already held')
    }
    // Signatures are checked on worker threads (every core), with verifyEntry's rules in its order
    // and the admission rules of the newest network state; the stateful step still runs in arrival order.
    const verified = verifyDecodedEntryAsync(this.net, e, this.now(), undefined, this.lookup())
    verified.catch((err: unknown) => {
      // A decision we have not seen yet may admit its hub or device: kept (bounded) and tried again.
      if (err instanceof ValidationError && WAIT_CODES.has(err.code)) this.wait(bytes, from)
    }) // awaited below; a failure is the caller's
    return await this.serial(async () => await this.apply(await verified, from, opts.sync === true, true))
  }

  /**
   * Appends an entry that already passed every stateless rule: our own, built by signVerifiedEntry
   * from reports verified when they arrived (nothing is decoded or verified twice).
   */
  async append (e: VerifiedEntry, from: string, opts: { sync?: boolean } = {}): Promise<IngestResult> {
    return await this.serial(async () => await this.apply(e, from, opts.sync === true, true))
  }

  private wait (bytes: Uint8Array, from: string): void {
    const id = contentId(bytes).toString()
    if (this.waiting.has(id) || this.waitingBytes + bytes.byteLength > MAX_WAITING_BYTES) return
    this.waiting.set(id, { bytes, from })
    this.waitingBytes += bytes.byteLength
  }

  /** Entries held back for a decision not seen yet (`hub-pending`, `device-pending`). */
  get waitingCount (): number { return this.waiting.size }

  /** After each adopted decision: entries waiting for one are tried again (those still pending wait on). */
  async retryWaiting (): Promise<void> {
    const all = [...this.waiting.values()]
    this.waiting.clear()
    this.waitingBytes = 0
    for (const w of all) {
      try {
        await this.accept(w.bytes, w.from)
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
      }
    }
  }

  /** Whether these exact bytes are an entry we hold. */
  private async held (e: DecodedEntry): Promise<boolean> {
    const { hub, seq } = e.payload
    if (seq > (this.store.head(hub)?.seq ?? 0)) return false
    const ours = await this.store.getEntry(hub, seq)
    return ours !== undefined && equalBytes(ours, e.bytes)
  }

  /** Serialise a stateful step behind every earlier one. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return await run
  }

  private async apply (e: VerifiedEntry, from: string, sync: boolean, queueGap: boolean): Promise<IngestResult> {
    const { hub, seq } = e.payload
    const head = this.store.head(hub)
    if (head !== undefined && seq <= head.seq) return await this.known(e)
    // Counters above a device's high-water mark are new; only lower ones need an index lookup.
    const used = new Set<string>()
    for (const r of e.reports) {
      const { device, counter } = r.report
      if (counter <= (this.store.counterOf(device) ?? 0) && (await this.store.findReport(device, counter)) !== undefined) used.add(`${device}:${counter}`)
    }
    try {
      checkAppend(head, e, (d, c) => used.has(`${d}:${c}`))
    } catch (err) {
      if (err instanceof ValidationError && err.code === 'gap') {
        if (queueGap) this.queue(e)
        this.hooks.onGap?.(hub, (head?.seq ?? 0) + 1, from)
      }
      if (err instanceof ValidationError && err.code === 'counter-reused') await this.reportEquivocation(e)
      throw err
    }
    try {
      await this.store.appendEntry(e, { sync })
    } catch (err) {
      throw unavailable(err, ingestRule.ignore)
    }
    this.counts.appended++
    this.hooks.onEntry?.(e, from)
    await this.drain(hub, from)
    return 'appended'
  }

  /** An entry at a seq we hold: the same bytes are a duplicate; different bytes are equivocation. */
  private async known (e: VerifiedEntry): Promise<IngestResult> {
    const { hub, seq } = e.payload
    const ours = await this.store.getEntry(hub, seq)
    if (ours === undefined || equalBytes(ours, e.bytes)) {
      this.counts.duplicate++
      throw ingestRule.ignore('duplicate', `entry ${hub}#${seq}: already held`)
    }
    await this.addEvidence(encodeEvidence('entry', ours, e.bytes))
    throw ingestRule.ignore('equivocation', `entry ${hub}#${seq}: hub signed two different entries; evidence kept`)
  }

  /** A report reusing a counter: if the earlier report differs, the device equivocated. */
  private async reportEquivocation (e: VerifiedEntry): Promise<void> {
    for (const r of e.reports) {
      const { device, counter } = r.report
      const loc = await this.store.findReport(device, counter)
      if (loc === undefined) continue
      const earlier = await this.reportAt(device, counter, loc, e.payload.hub)
      if (earlier !== undefined && !equalBytes(earlier, r.bytes)) await this.addEvidence(encodeEvidence('report', earlier, r.bytes))
    }
  }

  /**
   * The stored report of `device` with `counter` at `loc` (seq and index; the index does not name the log).
   * Usually in the log of the hub the device reports through now; a device moved by governance
   * (or added after genesis) may have it in another hub's log, so every log long enough is tried.
   */
  private async reportAt (device: string, counter: number, loc: { seq: number, index: number }, likely: string): Promise<Uint8Array | undefined> {
    const hubs = [likely, ...[...this.store.heads()].filter(([h, head]) => h !== likely && head.seq >= loc.seq).map(([h]) => h)]
    for (const hub of hubs) {
      const bytes = await this.store.getEntry(hub, loc.seq)
      if (bytes === undefined) continue
      const rb = decodeEntry(bytes).payload.reports[loc.index]
      if (rb === undefined) continue
      const r = decodeReport(rb).report
      if (r.device === device && r.counter === counter) return rb
    }
    return undefined
  }

  /** Verifies and stores evidence (ours or gossiped); throws ValidationError for gossip. */
  async addEvidence (bytes: Uint8Array): Promise<VerifiedEvidence> {
    const ev = verifyEvidence(this.net, bytes, this.evidenceAt?.())
    let added: boolean
    try {
      added = await this.store.putEvidence(ev)
    } catch (err) {
      throw unavailable(err, evidenceIngestRule.ignore)
    }
    if (!added) throw evidenceIngestRule.ignore('duplicate', 'evidence already held')
    this.counts.evidence++
    this.log.warn({ kind: ev.kind, offender: ev.offender, slot: ev.slot, id: ev.id }, 'equivocation evidence stored')
    this.hooks.onEvidence?.(ev)
    return ev
  }

  private queue (e: VerifiedEntry): void {
    const { hub, seq } = e.payload
    let m = this.pending.get(hub)
    if (m === undefined) { m = new Map(); this.pending.set(hub, m) }
    if (m.has(seq) || this.pendingBytes + e.bytes.byteLength > MAX_PENDING_BYTES) return
    m.set(seq, e)
    this.pendingBytes += e.bytes.byteLength
    this.counts.pending = this.pendingBytes
  }

  /** Appends queued successors of the new head, if any arrived early. */
  private async drain (hub: string, from: string): Promise<void> {
    const m = this.pending.get(hub)
    if (m === undefined) return
    const head = this.store.head(hub)
    for (const [seq, e] of m) {
      if (head === undefined || seq > head.seq) continue
      m.delete(seq)
      this.pendingBytes -= e.bytes.byteLength
    }
    const next = head === undefined ? undefined : m.get(head.seq + 1)
    if (next === undefined) return
    m.delete(next.payload.seq)
    this.pendingBytes -= next.bytes.byteLength
    this.counts.pending = this.pendingBytes
    try {
      await this.apply(next, from, false, false)
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      this.log.debug({ hub, seq: next.payload.seq, code: err.code }, 'queued entry dropped')
    }
  }

  /** The id of our entry at (hub, seq), if we hold it. */
  async idAt (hub: string, seq: number): Promise<string | undefined> {
    const b = await this.store.getEntry(hub, seq)
    return b === undefined ? undefined : contentId(b).toString()
  }
}

/** A store that takes no writes now (a full disk): not the sender's fault, so IGNORE; sync brings it later. */
function unavailable (err: unknown, ignore: (code: 'store-unavailable', message: string) => ValidationError): unknown {
  return err instanceof StoreError && err.code === 'unavailable' ? ignore('store-unavailable', err.message) : err
}
