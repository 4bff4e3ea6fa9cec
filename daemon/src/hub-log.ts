import type { BridgeHost, RefusalReason, SubmitResult } from '@ecandle/hardware-bridge'
import {
  admissionLookup, decodeEntry, encodeEvidence, epochOf, equalBytes, isValidationError, limits, linkRefusal, REFUSAL_FOR, REPORT_CODES, signVerifiedEntry,
  verifyDecodedReport, type DecodedReport, type EpochState, type Network, type Signer
} from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import type { Ingest, IngestLogger } from '@ecandle/sync'
import type { OwnLogCatchUp } from './own-log-catch-up.js'

export interface HubLogOptions {
  /** At most one entry per interval (fewer signatures, fewer SD-card writes), unless a full entry is ready. */
  entryIntervalMs: number
  /** Reports held at once (being checked or waiting for their entry); past this, devices are told 'busy' and resend. */
  maxPending: number
  /** Reports whose period ended longer ago than this are refused as a clock fault. */
  maxReportAgeS: number
}

export const defaultHubLogOptions: HubLogOptions = { entryIntervalMs: 5000, maxPending: 8192, maxReportAgeS: 30 * 86400 }

/**
 * A device may hold this many reports at the hub whatever else is held; beyond it, only while less
 * than half of maxPending is in use. Devices draining a backlog (a window of up to 256 each) can so
 * take at most half the room, and the other half stays for everyone's first reports.
 */
export const FAIR_SHARE = 16

/** Room for an entry's header and signature; the reports get the rest of limits.maxEntryBytes. */
const ENTRY_OVERHEAD_BYTES = 1024

/** A checked report waiting for its entry, and everyone waiting for its answer. */
export interface PendingReport { report: DecodedReport, waiters: Array<(r: SubmitResult) => void> }

/**
 * This hub's own log. Each device report arrives decoded once (by its link) and is verified once
 * here (signature on a worker thread); then it waits for the next entry, which is signed and
 * written in one synced batch; only then is every report of it acknowledged (resolved 'stored').
 * A crash before the write loses only unacknowledged reports, which the devices still hold and resend.
 */
export class HubLog implements BridgeHost {
  private readonly pending = new Map<string, PendingReport>() // `${device}:${counter}` -> pending
  /** Reports held (being checked or pending), in all and per device. */
  private held = 0
  private readonly heldBy = new Map<string, number>()
  private timer?: NodeJS.Timeout
  private flushing?: Promise<void>
  readonly counts = { stored: 0, duplicate: 0, refused: 0, busy: 0, entries: 0 }

  constructor (
    private readonly net: Network,
    private readonly self: string,
    private readonly signer: Signer,
    private readonly store: Store,
    private readonly ingest: Ingest,
    private readonly log: IngestLogger,
    private readonly opts: HubLogOptions = defaultHubLogOptions,
    readonly now: () => number = Date.now,
    /** The newest network state (governance): who is registered here, and whether we log at all. Default: the network file. */
    private readonly latest?: () => EpochState,
    /** Holds appends until our own log has caught up with the network's copy of it (own-log-catch-up.ts). */
    private readonly catchUp?: OwnLogCatchUp
  ) {}

  /** Reports checked and waiting for their entry. */
  get pendingReports (): number { return this.pending.size }

  start (): void {
    this.timer = setInterval(() => { void this.flush() }, this.opts.entryIntervalMs)
    this.catchUp?.poke()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    // Not caught up: nothing may be written, and no catch-up is begun while the hub stops (one
    // running asks through sync, which aborts it when it stops).
    if (this.catchUp?.ready === false) return
    await this.flush()
  }

  async submit (d: DecodedReport): Promise<SubmitResult> {
    const { device } = d.report
    // A resend of a report waiting for its entry: the same bytes get the same answer, checked once.
    const same = this.waitFor(d)
    if (same !== undefined) return await same
    const mine = this.heldBy.get(device) ?? 0
    if (this.held >= this.opts.maxPending || mine >= limits.maxReportsPerEntry || (mine >= FAIR_SHARE && 2 * this.held >= this.opts.maxPending)) {
      this.counts.busy++
      return { status: 'busy' }
    }
    this.held++
    this.heldBy.set(device, mine + 1)
    try {
      return await this.admit(d)
    } finally {
      this.held--
      const n = (this.heldBy.get(device) ?? 1) - 1
      if (n === 0) this.heldBy.delete(device)
      else this.heldBy.set(device, n)
    }
  }

  /** Every rule, in verifyReport's order and then the hub's own; resolves once stored or refused. */
  private async admit (d: DecodedReport): Promise<SubmitResult> {
    const latest = this.latest?.()
    const stamp = epochOf(this.net, this.now())
    try {
      await verifyDecodedReport(this.net, d, this.self, undefined, latest === undefined ? undefined : { lookup: admissionLookup(latest), stamp })
    } catch (err) {
      if (!isValidationError(err, REPORT_CODES)) throw err
      return this.refuse(REFUSAL_FOR[err.code], err.message)
    }
    const { device, counter, periodEnd } = d.report
    if (latest !== undefined) {
      // Only devices registered here and live in the newest registry we know (docs/governance.md §7).
      const why = linkRefusal(latest, device, this.self, stamp)
      if (why !== undefined) return this.refuse(why, `device ${device}: ${why} (registry of epoch ${latest.epoch}, now epoch ${stamp})`)
    }
    // Device clocks are kept in sync by the hub; a period ending in our future or long ago is a clock fault.
    const nowS = Math.floor(this.now() / 1000)
    if (periodEnd > nowS + limits.maxReportSkewS) return this.refuse('clock', `report ${device}#${counter} ends ${periodEnd - nowS} s in the hub's future`)
    if (periodEnd < nowS - this.opts.maxReportAgeS || periodEnd < this.net.def.genesisTime) return this.refuse('clock', `report ${device}#${counter} ended before genesis or too long ago`)

    // A store that cannot write now (disk full) must not be told reports it would only hold in memory.
    // Nor while our own log may be behind what peers hold of it (no entry may be signed yet): the
    // report waits up to an entry interval for the catch-up (held, so bounded by maxPending).
    if (!this.store.writable.writable || (this.catchUp !== undefined && !(await this.catchUp.whenReady(this.opts.entryIntervalMs)))) {
      this.counts.busy++
      return { status: 'busy' }
    }
    const key = `${device}:${counter}`
    if (this.pending.has(key)) return await this.joinPending(d)
    const earlier = await this.storedReport(device, counter)
    if (earlier !== undefined) {
      if (equalBytes(earlier, d.bytes)) {
        this.counts.duplicate++
        return { status: 'duplicate' }
      }
      // The device signed a second report with a used counter (e.g. reset after a reboot): keep the proof.
      await this.ingest.addEvidence(encodeEvidence('report', earlier, d.bytes)).catch(() => {})
      return this.refuse('counter-reused', `device ${device} counter ${counter} was already used by another report`)
    }
    // Another submit of this counter may have got here while we looked in the store.
    if (this.pending.has(key)) return await this.joinPending(d)
    const p: PendingReport = { report: d, waiters: [] }
    this.pending.set(key, p)
    const result = new Promise<SubmitResult>(resolve => p.waiters.push(resolve))
    if (this.pending.size >= limits.maxReportsPerEntry) void this.flush()
    return await result
  }

  /** The answer a pending report with these exact bytes will get, if there is one. */
  private waitFor (d: DecodedReport): Promise<SubmitResult> | undefined {
    const p = this.pending.get(`${d.report.device}:${d.report.counter}`)
    if (p === undefined || !equalBytes(p.report.bytes, d.bytes)) return undefined
    return new Promise(resolve => p.waiters.push(resolve))
  }

  private async joinPending (d: DecodedReport): Promise<SubmitResult> {
    const same = this.waitFor(d)
    if (same !== undefined) return await same
    return this.refuse('counter-reused', `device ${d.report.device} sent two different reports with counter ${d.report.counter}`)
  }

  private refuse (reason: RefusalReason, message: string): SubmitResult {
    this.counts.refused++
    this.log.info({ reason, message }, 'report refused')
    return { status: 'refused', reason, message }
  }

  private async storedReport (device: string, counter: number): Promise<Uint8Array | undefined> {
    if (counter > (this.store.counterOf(device) ?? 0)) return undefined
    const loc = await this.store.findReport(device, counter)
    if (loc === undefined) return undefined
    const entry = await this.store.getEntry(this.self, loc.seq)
    return entry === undefined ? undefined : decodeEntry(entry).payload.reports[loc.index]
  }

  /** Writes pending reports as entries (≤ 256 reports each, within the entry size limit); one flush at a time. */
  async flush (): Promise<void> {
    if (this.catchUp?.ready === false) {
      this.catchUp.poke()
      return
    }
    while (this.flushing !== undefined) await this.flushing
    if (this.pending.size === 0) return
    this.flushing = this.writeEntries().finally(() => { this.flushing = undefined })
    await this.flushing
  }

  /** Whether this hub may log an entry stamped `epoch`: a validator of it (by the newest state), or any time by the network file. */
  private mayLog (epoch: number): boolean {
    const latest = this.latest?.()
    if (latest === undefined) return true
    const h = latest.hubs.get(this.self)
    return h !== undefined && epoch >= h.from && (h.until === null || epoch < h.until)
  }

  /**
   * Pending reports the store holds already are answered 'stored': after a failed write the store
   * reopens its database, and an entry reported failed may have been recovered with them.
   */
  private async dropStored (): Promise<void> {
    for (const [key, p] of this.pending) {
      const { device, counter } = p.report.report
      if (counter > (this.store.counterOf(device) ?? 0)) continue
      const earlier = await this.storedReport(device, counter)
      if (earlier === undefined || !equalBytes(earlier, p.report.bytes)) continue
      this.pending.delete(key)
      for (const w of p.waiters) w({ status: 'stored' })
    }
  }

  private async writeEntries (): Promise<void> {
    // Only what was pending when the flush began: reports arriving meanwhile wait for the next
    // interval (at most one entry per interval, unless a full entry of 256 is ready).
    await this.dropStored()
    const batches = fairBatches([...this.pending.values()])
    for (const batch of batches) {
      const head = this.store.head(this.self)
      const time = Math.max(this.now(), head?.time ?? 0)
      if (!this.mayLog(epochOf(this.net, time))) {
        // Not a validator of this epoch (not yet, or no more): nothing is stored, devices resend later.
        for (const p of this.pending.values()) for (const w of p.waiters) w({ status: 'busy' })
        this.pending.clear()
        return
      }
      let result: SubmitResult = { status: 'stored' }
      try {
        // Canonical order inside an entry: by device, then counter.
        batch.sort((a, b) => byDeviceCounter(a.report, b.report))
        const e = signVerifiedEntry(this.net, this.signer, {
          hub: this.self,
          seq: (head?.seq ?? 0) + 1,
          prev: head?.id ?? null,
          epoch: epochOf(this.net, time),
          time
        }, batch.map(p => p.report), this.now())
        // Same path as everyone's entries, written with sync so the ack below is truthful.
        await this.ingest.append(e, this.self, { sync: true })
        this.counts.entries++
        this.counts.stored += batch.length
      } catch (err: any) {
        // The disk is full (the store says so in the log) or a bug: answer busy so devices resend.
        if (err?.code !== 'store-unavailable') this.log.warn({ err: String(err?.message ?? err) }, 'own entry refused')
        result = { status: 'busy' }
      }
      for (const p of batch) {
        this.pending.delete(`${p.report.report.device}:${p.report.report.counter}`)
        for (const w of p.waiters) w(result)
      }
      if (result.status !== 'stored') return
    }
  }
}

function byDeviceCounter (a: DecodedReport, b: DecodedReport): number {
  return a.report.device < b.report.device ? -1 : a.report.device > b.report.device ? 1 : a.report.counter - b.report.counter
}

/**
 * Pending reports as entries: devices take turns (one report each per turn, oldest counter first),
 * so a device with a full window of 256 shares every entry with the others; each entry holds at
 * most limits.maxReportsPerEntry reports and fits limits.maxEntryBytes.
 */
export function fairBatches (pending: PendingReport[]): PendingReport[][] {
  const byDevice = new Map<string, PendingReport[]>()
  for (const p of [...pending].sort((a, b) => byDeviceCounter(a.report, b.report))) {
    const q = byDevice.get(p.report.report.device)
    if (q === undefined) byDevice.set(p.report.report.device, [p])
    else q.push(p)
  }
  const queues = [...byDevice.values()].map(q => ({ q, next: 0 }))
  const out: PendingReport[][] = []
  let batch: PendingReport[] = []
  let bytes = 0
  let left = pending.length
  while (left > 0) {
    for (const t of queues) {
      if (t.next >= t.q.length) continue
      const p = t.q[t.next]
      // Each report costs its bytes plus at most 3 bytes of CBOR length.
      const cost = p.report.bytes.byteLength + 3
      if (batch.length >= limits.maxReportsPerEntry || bytes + cost > limits.maxEntryBytes - ENTRY_OVERHEAD_BYTES) {
        out.push(batch)
        batch = []
        bytes = 0
      }
      batch.push(p)
      bytes += cost
      t.next++
      left--
    }
  }
  if (batch.length > 0) out.push(batch)
  return out
}
