import { ProtocolError, decodeReport, limits, type DecodedReport, type UsageReport } from '@ecandle/protocol'
import type { BridgeHost, DeviceLinkStatus, SubmitResult } from './bridge.js'
import type { DeviceTable } from './device-table.js'
import type { Logger } from './logger.js'
import { decodeMessage, type LinkMessage } from './messages.js'

export interface LinkSessionOptions {
  /** Names the link in DeviceLinkStatus, e.g. 'serial:/dev/ttyUSB0' or 'mqtt:mqtt://broker'. */
  link: string
  host: BridgeHost
  table: DeviceTable
  /** Sends a message to one device (or, for device undefined, to every device on the link). */
  send: (m: LinkMessage, device?: string) => void
  logger?: Logger
  /** A report whose period ends before now − this is refused 'clock'. Default one year. */
  maxReportAgeS?: number
  /**
   * Reports of one device submitted to the host and not answered yet (the device's window, as the
   * hub sees it); more are dropped (the device resends). Default limits.maxReportsPerEntry (256):
   * one entry's worth, docs/device-protocol.md H1.
   */
  maxPerDevice?: number
  /** Devices with reports in flight at once on this link; default 1024. */
  maxDevices?: number
  /** Counters to add to (to keep totals across reconnects); default fresh ones. */
  stats?: LinkSessionStats
}

export interface LinkSessionStats {
  messages: number
  badMessages: number
  reports: number
  /** Reports dropped because a device had too many in flight (the device resends them). */
  overflow: number
  stored: number
  duplicate: number
  refused: number
  busy: number
}

/**
 * The hub side of one link (a serial port, an MQTT connection): turns device messages into
 * host.submit calls and answers. Each report is decoded once, here, and submitted as it arrives:
 * a device may keep several in flight (its window, bounded by maxPerDevice), and the host answers
 * each when the entry holding it is written. An ack leaves only once submit resolved
 * stored/duplicate; 'busy' gets no answer at all.
 */
export class LinkSession {
  readonly stats: LinkSessionStats
  /** Counters submitted and not answered yet, per device. */
  private readonly inFlight = new Map<string, Set<number>>()
  private closed = false

  constructor (private readonly o: LinkSessionOptions) {
    this.stats = o.stats ?? newSessionStats()
  }

  /** One decoded frame payload (serial) or MQTT message body from the link. Never throws. */
  handle (payload: Uint8Array, fromDevice?: string): void {
    if (this.closed) return
    let m: LinkMessage
    try {
      m = decodeMessage(payload)
    } catch (err) {
      this.stats.badMessages++
      this.o.logger?.debug?.({ link: this.o.link, err: (err as Error).message }, 'device link: bad message')
      return
    }
    this.stats.messages++
    switch (m.type) {
      case 'hello': {
        if (fromDevice !== undefined && fromDevice !== m.device) { this.error('wrong-topic', `hello of ${m.device} on ${fromDevice}'s topic`, fromDevice); return }
        const row = this.status(m.device)
        row.connected = true
        this.o.logger?.info?.({ link: this.o.link, device: m.device, firmware: m.firmware, clock: m.clock }, 'device link: hello')
        this.sendTime(m.device)
        return
      }
      case 'report':
        this.onReport(m.report, fromDevice)
        return
      case 'error': {
        const who = m.device ?? fromDevice
        if (who !== undefined) {
          const row = this.status(who)
          if (m.code === 'offline') row.connected = false
          else { row.errors++; row.lastError = `device: ${m.code}: ${m.message}` }
        }
        this.o.logger?.warn?.({ link: this.o.link, device: who, code: m.code, message: m.message }, 'device link: device error')
        return
      }
      default:
        // ack and time flow hub → device only.
        this.stats.badMessages++
    }
  }

  /** Sends the hub clock to one device or every device on the link. */
  sendTime (device?: string): void {
    this.safeSend({ type: 'time', ms: this.o.host.now(), ...(device !== undefined ? { device } : {}) }, device)
  }

  close (): void {
    this.closed = true
    this.inFlight.clear()
  }

  private onReport (bytes: Uint8Array, fromDevice?: string): void {
    this.stats.reports++
    let d: DecodedReport
    try {
      d = decodeReport(bytes)
    } catch (err) {
      // No (device, counter) to ack: tell the link, the device cannot learn more than that.
      this.error('malformed', err instanceof ProtocolError ? err.message : 'undecodable report', fromDevice)
      return
    }
    const { device, counter, periodEnd } = d.report
    if (fromDevice !== undefined && fromDevice !== device) {
      this.error('wrong-topic', `report of ${device} on ${fromDevice}'s topic`, fromDevice)
      return
    }
    const row = this.status(device)
    row.connected = true
    // Absurd device clocks: refused for good, and the device gets the time again.
    const nowS = Math.floor(this.o.host.now() / 1000)
    if (periodEnd > nowS + limits.maxReportSkewS || periodEnd < nowS - (this.o.maxReportAgeS ?? 365 * 86_400)) {
      this.answer(device, counter, { status: 'refused', reason: 'clock', message: `period end ${periodEnd} vs hub time ${nowS}` })
      this.sendTime(device)
      return
    }
    let mine = this.inFlight.get(device)
    if (mine === undefined) {
      if (this.inFlight.size >= (this.o.maxDevices ?? 1024)) { this.stats.overflow++; return }
      mine = new Set()
      this.inFlight.set(device, mine)
    }
    // A resend of a report already in flight adds nothing: its answer is on the way.
    if (mine.has(counter)) return
    if (mine.size >= (this.o.maxPerDevice ?? limits.maxReportsPerEntry)) { this.stats.overflow++; return }
    mine.add(counter)
    void this.submit(d, mine)
  }

  private async submit (d: DecodedReport, mine: Set<number>): Promise<void> {
    const { device, counter } = d.report
    let r: SubmitResult
    try {
      r = await this.o.host.submit(d)
    } catch (err) {
      r = { status: 'busy' } // the contract says submit never rejects; if it does, the device resends
      this.o.logger?.error?.({ link: this.o.link, device, err }, 'device link: host.submit rejected')
    }
    mine.delete(counter)
    if (mine.size === 0 && this.inFlight.get(device) === mine) this.inFlight.delete(device)
    if (!this.closed) this.answer(device, counter, r, d.report)
  }

  private answer (device: string, counter: number, r: SubmitResult, report?: UsageReport): void {
    const row = this.status(device)
    switch (r?.status) {
      case 'stored':
      case 'duplicate':
        this.stats[r.status]++
        row.lastReportAt = this.o.host.now()
        if (report !== undefined && counter >= (row.counter ?? 0)) {
          // The newest report is the device's state now (a resent older one is not).
          row.batteryMv = report.batteryMv
          row.soc = report.soc
        }
        // Energy counts once per report: only when this hub stored it (a duplicate was counted before).
        if (report !== undefined && r.status === 'stored') this.o.table.addEnergy(row, report.periodEnd, report.energyMwh, Math.floor(this.o.host.now() / 1000))
        row.counter = Math.max(row.counter ?? 0, counter)
        this.safeSend({ type: 'ack', device, counter, status: r.status }, device)
        return
      case 'refused':
        this.stats.refused++
        row.errors++
        row.lastError = `refused #${counter}: ${r.reason}: ${r.message}`
        row.lastRefusal = r.reason
        row.lastRefusalCounter = counter
        this.o.logger?.warn?.({ link: this.o.link, device, counter, reason: r.reason, message: r.message }, 'device link: report refused')
        this.safeSend({ type: 'ack', device, counter, status: 'refused', reason: r.reason }, device)
        return
      default:
        this.stats.busy++ // busy: say nothing; the device resends
    }
  }

  private status (device: string): DeviceLinkStatus {
    return this.o.table.get(device, this.o.link)
  }

  private error (code: string, message: string, device?: string): void {
    this.stats.badMessages++
    this.safeSend({ type: 'error', code, message, ...(device !== undefined ? { device } : {}) }, device)
  }

  private safeSend (m: LinkMessage, device?: string): void {
    if (this.closed) return
    try {
      this.o.send(m, device)
    } catch (err) {
      this.o.logger?.warn?.({ link: this.o.link, device, err: (err as Error).message }, 'device link: send failed')
    }
  }
}

export function newSessionStats (): LinkSessionStats {
  return { messages: 0, badMessages: 0, reports: 0, overflow: 0, stored: 0, duplicate: 0, refused: 0, busy: 0 }
}
