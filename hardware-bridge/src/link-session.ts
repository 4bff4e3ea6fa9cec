import { ProtocolError, decodeReport, limits, type UsageReport } from '@ecandle/protocol'
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
  /** Reports waiting for host.submit, per device; more are dropped (the device resends). Default 16. */
  maxPerDevice?: number
  /** Devices with reports waiting at once on this link; default 1024. */
  maxDevices?: number
  /** Counters to add to (to keep totals across reconnects); default fresh ones. */
  stats?: LinkSessionStats
}

export interface LinkSessionStats {
  messages: number
  badMessages: number
  reports: number
  /** Reports dropped because a device had too many waiting (the device resends them). */
  overflow: number
  stored: number
  duplicate: number
  refused: number
  busy: number
}

interface Waiting { bytes: Uint8Array, counter: number, report?: UsageReport }

/**
 * The hub side of one link (a serial port, an MQTT connection): turns device messages into
 * host.submit calls and answers. Reports of one device are submitted one at a time in arrival
 * order (the hub refuses a counter older than one it stored); different devices go in parallel.
 * An ack leaves only once submit resolved stored/duplicate; 'busy' gets no answer at all.
 */
export class LinkSession {
  readonly stats: LinkSessionStats
  private readonly queues = new Map<string, Waiting[]>()
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
    this.queues.clear()
  }

  private onReport (bytes: Uint8Array, fromDevice?: string): void {
    this.stats.reports++
    let device: string, counter: number, periodEnd: number, report: UsageReport
    try {
      const d = decodeReport(bytes)
      report = d.report
      device = d.report.device
      counter = d.report.counter
      periodEnd = d.report.periodEnd
    } catch (err) {
      // No (device, counter) to ack: tell the link, the device cannot learn more than that.
      this.error('malformed', err instanceof ProtocolError ? err.message : 'undecodable report', fromDevice)
      return
    }
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
    let q = this.queues.get(device)
    if (q === undefined) {
      if (this.queues.size >= (this.o.maxDevices ?? 1024)) { this.stats.overflow++; return }
      q = []
      this.queues.set(device, q)
    }
    // A resend of a report already waiting adds nothing.
    if (q.some(w => w.counter === counter)) return
    if (q.length >= (this.o.maxPerDevice ?? 16)) { this.stats.overflow++; return }
    q.push({ bytes, counter, report })
    if (q.length === 1) void this.drain(device, q)
  }

  /** Submits one device's waiting reports in order, one at a time. */
  private async drain (device: string, q: Waiting[]): Promise<void> {
    while (q.length > 0 && !this.closed) {
      const w = q[0]
      let r: SubmitResult
      try {
        r = await this.o.host.submit(w.bytes)
      } catch (err) {
        r = { status: 'busy' } // the contract says submit never rejects; if it does, the device resends
        this.o.logger?.error?.({ link: this.o.link, device, err }, 'device link: host.submit rejected')
      }
      q.shift()
      this.answer(device, w.counter, r, w.report)
    }
    if (this.queues.get(device) === q) this.queues.delete(device)
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
