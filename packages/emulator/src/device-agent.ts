import { decodeReport, limits, signReport, signerFromSeed, type Signer, type UsageReport } from '@ecandle/protocol'
import type { AgentStore } from './agent-store.js'
import type { DeviceClock } from './device-clock.js'
import { DeviceModel } from './device-model.js'
import type { EmulatedDevice } from './emulator.js'
import type { Ack, LinkMessage, Logger } from '@ecandle/hardware-bridge'
import type { Location } from './sun.js'

export interface DeviceAgentOptions {
  device: EmulatedDevice
  location: Location
  reportIntervalS: number
  clock: DeviceClock
  store: AgentStore
  /**
   * Sends one message from this device to the hub. `false`: the link could not take it now (a
   * full UART buffer, no broker connection); a report is then tried again at the next poll.
   */
  send: (m: LinkMessage) => boolean | undefined | void
  firmware?: string
  /** Resend an unacked report after this long without an ack; default 5000 ms. */
  resendAfterMs?: number
  /**
   * Reports in flight at once: the oldest `window` unacked reports are sent without waiting for
   * each other's acks (docs/device-protocol.md D4). 1 = stop-and-wait; at most 256. Default 1.
   */
  window?: number
  /** Unacked reports kept (oldest dropped); default 1000. */
  maxQueue?: number
  /** Wait this long after hello for the hub's time before sending reports anyway; default 3000 ms. */
  helloWaitMs?: number
  faultRate?: number
  logger?: Logger
  /** Called for every ack of a report this device held (first ack only), after it left the queue. */
  onAck?: (ack: Ack) => void
  /** Real clock of the emulator process (timeouts); default Date.now. */
  realNow?: () => number
}

export interface DeviceAgentStats { made: number, sent: number, acked: number, refused: number, dropped: number, reboots: number, timeSyncs: number }

/**
 * One emulated eCandle as its firmware would behave on the link (docs/device-protocol.md):
 * hello on (re)connect, clock from the hub's time messages, up to `window` of the oldest unacked
 * reports in flight (1: stop-and-wait), each resent until acked, unacked reports and the last
 * counter kept in flash across reboots.
 */
export class DeviceAgent {
  readonly id: string
  readonly stats: DeviceAgentStats = { made: 0, sent: 0, acked: 0, refused: 0, dropped: 0, reboots: 0, timeSyncs: 0 }
  private readonly signer: Signer
  private model: DeviceModel
  /** Unacked reports, oldest first; `sentAt` (real clock) once sent since the link came up. */
  private queue: Array<{ bytes: Uint8Array, counter: number, sentAt?: number }> = []
  private lastCounter = 0
  private periodStart = 0
  private online = false
  private helloAt = 0
  private synced = false
  private readonly window: number

  constructor (private readonly o: DeviceAgentOptions) {
    this.id = o.device.id
    this.signer = signerFromSeed(o.device.seed)
    this.window = Math.max(1, Math.min(limits.maxReportsPerEntry, Math.floor(o.window ?? 1)))
    this.model = this.newModel()
    this.boot()
  }

  get queued (): number { return this.queue.length }
  get counter (): number { return this.lastCounter }

  /** Power cycle: RAM is lost, flash (queue, last counter) and the RTC survive. */
  reboot (): void {
    this.o.store.flush()
    this.stats.reboots++
    this.model = this.newModel()
    this.boot()
    if (this.online) this.connected()
  }

  /** The link is up (port open, broker connected): say hello and wait for the time. */
  connected (): void {
    this.online = true
    this.synced = false
    this.helloAt = this.realNow()
    this.unsend()
    this.o.send({ type: 'hello', device: this.id, firmware: this.o.firmware ?? 'ecandle-emulator/1', clock: Math.floor(this.o.clock.now() / 1000) })
  }

  disconnected (): void {
    this.online = false
  }

  onMessage (m: LinkMessage): void {
    if (m.type === 'time') {
      if (m.device !== undefined && m.device !== this.id) return
      this.o.clock.set(m.ms)
      this.synced = true
      this.stats.timeSyncs++
      return
    }
    if (m.type === 'ack' && m.device === this.id) {
      const i = this.queue.findIndex(q => q.counter === m.counter)
      if (i < 0) return // a second ack (duplicate send) or for a report we dropped
      this.queue.splice(i, 1)
      if (m.status === 'refused') {
        this.stats.refused++
        this.o.logger?.warn?.({ device: this.id, counter: m.counter, reason: m.reason }, 'emulated device: report refused')
      } else {
        this.stats.acked++
      }
      this.persist()
      this.o.onAck?.(m)
      this.poll() // next one right away
    }
  }

  /** Makes due reports and sends those of the window that may go. Call it often (every ~100 ms). */
  poll (): void {
    this.makeDue()
    if (!this.online) return
    const now = this.realNow()
    if (!this.synced && now - this.helloAt < (this.o.helloWaitMs ?? 3000)) return
    const resendAfter = this.o.resendAfterMs ?? 5000
    const n = Math.min(this.window, this.queue.length)
    for (let i = 0; i < n; i++) {
      const q = this.queue[i]
      if (q.sentAt !== undefined && now - q.sentAt < resendAfter) continue
      if (this.o.send({ type: 'report', report: q.bytes }) === false) return // line busy: next poll
      q.sentAt = now
      this.stats.sent++
    }
  }

  /** The bytes of the report that would be sent now (fault injection resends it). */
  headBytes (): Uint8Array | undefined {
    return this.queue[0]?.bytes
  }

  /** Fills the queue with reports for the `periods` intervals before now (a device back from a long outage). */
  backfill (periods: number): void {
    const end = Math.floor(this.o.clock.now() / 1000)
    let start = end - periods * this.o.reportIntervalS
    for (let i = 0; i < periods; i++, start += this.o.reportIntervalS) this.make(start, start + this.o.reportIntervalS)
    this.periodStart = Math.max(this.periodStart, end)
    this.persist()
  }

  private boot (): void {
    const s = this.o.store.load(this.id)
    this.lastCounter = s.lastCounter
    this.queue = []
    for (const bytes of s.queue) {
      try {
        this.queue.push({ bytes, counter: decodeReport(bytes).report.counter })
      } catch {
        // A report that no longer decodes is useless: the hub would refuse it.
      }
    }
    this.periodStart = Math.floor(this.o.clock.now() / 1000)
    this.synced = false
  }

  /** After a (re)connect nothing counts as sent: the window goes again at once. */
  private unsend (): void {
    for (let i = 0; i < Math.min(this.window, this.queue.length); i++) this.queue[i].sentAt = undefined
  }

  private makeDue (): void {
    const nowS = Math.floor(this.o.clock.now() / 1000)
    const interval = this.o.reportIntervalS
    if (nowS < this.periodStart) { this.periodStart = nowS; return } // clock set back by a time sync
    if (nowS - this.periodStart > 86_400) { this.periodStart = nowS - (nowS % interval); return } // asleep or clock jumped: skip
    let made = false
    while (this.periodStart + interval <= nowS) {
      this.make(this.periodStart, this.periodStart + interval)
      this.periodStart += interval
      made = true
    }
    if (made) this.persist()
  }

  private make (start: number, end: number): void {
    const s = this.model.simulate(start, end)
    const counter = Math.max(this.lastCounter + 1, end)
    this.lastCounter = counter
    const r: UsageReport = { device: this.id, counter, periodStart: start, periodEnd: end, ...s }
    this.queue.push({ bytes: signReport(this.signer, r), counter })
    this.stats.made++
    const max = this.o.maxQueue ?? 1000
    while (this.queue.length > max) { this.queue.shift(); this.stats.dropped++ }
  }

  private persist (): void {
    this.o.store.save(this.id, { lastCounter: this.lastCounter, queue: this.queue.map(q => q.bytes) })
  }

  private newModel (): DeviceModel {
    return new DeviceModel({ id: this.id, ratedWhPerDay: this.o.device.ratedWhPerDay, location: this.o.location, faultRate: this.o.faultRate })
  }

  private realNow (): number {
    return (this.o.realNow ?? Date.now)()
  }
}
