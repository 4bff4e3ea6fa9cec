import type { BridgeHost, RefusalReason, SubmitResult } from '@ecandle/hardware-bridge'
import {
  decodeEntry, encodeEvidence, epochOf, equalBytes, isValidationError, limits, REFUSAL_FOR, REPORT_CODES, signEntry, verifyReport,
  type DecodedReport, type Network, type Signer
} from '@ecandle/protocol'
import type { Store } from '@ecandle/store'
import type { Ingest, IngestLogger } from '@ecandle/sync'

export interface HubLogOptions {
  /** At most one entry per interval (fewer signatures, fewer SD-card writes). */
  entryIntervalMs: number
  /** Reports waiting for the next entry; past this, devices are told 'busy' and resend. */
  maxPending: number
  /** Reports whose period ended longer ago than this are refused as a clock fault. */
  maxReportAgeS: number
}

export const defaultHubLogOptions: HubLogOptions = { entryIntervalMs: 5000, maxPending: 8192, maxReportAgeS: 30 * 86400 }

interface Pending { report: DecodedReport, waiters: Array<(r: SubmitResult) => void> }

/**
 * This hub's own log. Devices' reports are checked, held until the next entry, then written in
 * one synced batch; only then is each report acknowledged (resolved 'stored'). A crash before
 * the write loses only unacknowledged reports, which the devices still hold and resend.
 */
export class HubLog implements BridgeHost {
  private readonly pending = new Map<string, Pending>() // `${device}:${counter}` -> pending
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
    readonly now: () => number = Date.now
  ) {}

  start (): void {
    this.timer = setInterval(() => { void this.flush() }, this.opts.entryIntervalMs)
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }

  async submit (bytes: Uint8Array): Promise<SubmitResult> {
    let r: DecodedReport
    try {
      r = verifyReport(this.net, bytes, this.self)
    } catch (err) {
      if (!isValidationError(err, REPORT_CODES)) throw err
      return this.refuse(REFUSAL_FOR[err.code], err.message)
    }
    const { device, counter, periodEnd } = r.report
    // Device clocks are kept in sync by the hub; a period ending in our future or long ago is a clock fault.
    const nowS = Math.floor(this.now() / 1000)
    if (periodEnd > nowS + limits.maxReportSkewS) return this.refuse('clock', `report ${device}#${counter} ends ${periodEnd - nowS} s in the hub's future`)
    if (periodEnd < nowS - this.opts.maxReportAgeS || periodEnd < this.net.def.genesisTime) return this.refuse('clock', `report ${device}#${counter} ended before genesis or too long ago`)

    const key = `${device}:${counter}`
    const waiting = this.pending.get(key)
    if (waiting !== undefined) {
      if (!equalBytes(waiting.report.bytes, bytes)) return this.refuse('counter-reused', `device ${device} sent two different reports with counter ${counter}`)
      return await new Promise(resolve => waiting.waiters.push(resolve))
    }
    const earlier = await this.storedReport(device, counter)
    if (earlier !== undefined) {
      if (equalBytes(earlier, bytes)) {
        this.counts.duplicate++
        return { status: 'duplicate' }
      }
      // The device signed a second report with a used counter (e.g. reset after a reboot): keep the proof.
      await this.ingest.addEvidence(encodeEvidence('report', earlier, bytes)).catch(() => {})
      return this.refuse('counter-reused', `device ${device} counter ${counter} was already used by another report`)
    }
    if (this.pending.size >= this.opts.maxPending) {
      this.counts.busy++
      return { status: 'busy' }
    }
    const p: Pending = { report: r, waiters: [] }
    this.pending.set(key, p)
    const result = new Promise<SubmitResult>(resolve => p.waiters.push(resolve))
    if (this.pending.size >= limits.maxReportsPerEntry) void this.flush()
    return await result
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

  /** Writes pending reports as entries (≤ 256 reports each); one flush at a time. */
  async flush (): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
    if (this.pending.size === 0) return
    this.flushing = this.writeEntries().finally(() => { this.flushing = undefined })
    await this.flushing
  }

  private async writeEntries (): Promise<void> {
    // Only what was pending when the flush began: reports arriving meanwhile wait for the next
    // interval (at most one entry per interval, unless a full entry of 256 is ready).
    let budget = this.pending.size
    while (this.pending.size > 0 && budget > 0) {
      // Canonical order inside an entry: by device, then counter.
      const batch = [...this.pending.values()]
        .sort((a, b) => a.report.report.device < b.report.report.device ? -1 : a.report.report.device > b.report.report.device ? 1 : a.report.report.counter - b.report.report.counter)
        .slice(0, limits.maxReportsPerEntry)
      const head = this.store.head(this.self)
      const time = Math.max(this.now(), head?.time ?? 0)
      const bytes = signEntry(this.net, this.signer, {
        hub: this.self,
        seq: (head?.seq ?? 0) + 1,
        prev: head?.id ?? null,
        epoch: epochOf(this.net, time),
        time,
        reports: batch.map(p => p.report.bytes)
      })
      let result: SubmitResult = { status: 'stored' }
      try {
        // Same path as everyone's entries, written with sync so the ack below is truthful.
        await this.ingest.accept(bytes, this.self, { sync: true })
        this.counts.entries++
        this.counts.stored += batch.length
      } catch (err: any) {
        // Should not happen (we checked every report); answer busy so devices resend, and say why.
        this.log.warn({ err: String(err?.message ?? err) }, 'own entry refused')
        result = { status: 'busy' }
      }
      budget -= batch.length
      for (const p of batch) {
        this.pending.delete(`${p.report.report.device}:${p.report.report.counter}`)
        for (const w of p.waiters) w(result)
      }
      if (result.status !== 'stored') return
    }
  }
}
