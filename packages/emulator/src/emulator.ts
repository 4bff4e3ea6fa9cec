import { DEVICE_ID_RE, decodeReport, fromHex, signReport, signerFromSeed, type DecodedReport, type Signer, type UsageReport } from '@ecandle/protocol'
import type { Bridge, BridgeHost, DeviceLinkStatus, Logger, SubmitResult } from '@ecandle/hardware-bridge'
import { DeviceModel } from './device-model.js'
import { DEFAULT_LOCATION, solarDay, type Location } from './sun.js'

export interface EmulatedDevice {
  id: string
  /** 32-byte Ed25519 seed: the device's own key. */
  seed: Uint8Array
  ratedWhPerDay: number
}

export interface EmulatorOptions {
  devices: EmulatedDevice[]
  /** Where the sun is computed (the hub's location); default Nairobi. */
  location?: Location
  /** Length of a report period, seconds. */
  reportIntervalS: number
  /** Resend an unacknowledged report after this long (busy hub or no answer); default 5000 ms. */
  resendAfterMs?: number
  /** Clock, unix ms; default the host's clock (host.now). */
  now?: () => number
  /** Unacknowledged reports kept per device; the oldest is dropped beyond this. Default 1000. */
  maxQueue?: number
  /** Unanswered submissions per device (all of the same report) before we stop resending. Default 2. */
  maxOutstanding?: number
  /** Chance per device-day of a panel fault; default 0.005. */
  faultRate?: number
  /** false: no timers; the caller drives the emulator with tick() (tests). Default true. */
  timers?: boolean
  logger?: Logger
}

export interface EmulatorStats {
  /** Reports made and signed. */
  made: number
  /** Reports the host answered 'stored' or 'duplicate' for. */
  acked: number
  /** Reports the host refused for good (not resent). */
  refused: number
  /** Reports waiting for an ack now. */
  queued: number
  /** Reports dropped because a device's queue was full. */
  dropped: number
  /** Submissions that were resends of a report already submitted. */
  resent: number
}

export interface Emulator extends Bridge {
  stats: () => EmulatorStats
  /** Makes every report that is due by the clock, submits what can be, and waits for the answers. */
  tick: () => Promise<void>
}

interface Pending {
  /** The signed report, decoded once here (the host takes it decoded, as from a device link). */
  report: DecodedReport
  counter: number
  /** When the next attempt may start (after busy, or when an attempt got no answer). */
  nextAt: number
  attempts: number
  /** Answered for good (acked or refused): never counted twice. */
  done: boolean
}

interface Dev {
  spec: EmulatedDevice
  signer: Signer
  model: DeviceModel
  /** This device's phase within the interval, ms: spreads devices so they do not all report at once. */
  phaseMs: number
  /** Index of the next period boundary: due at k·interval + phase. */
  k: number
  periodStart: number
  lastCounter: number
  queue: Pending[]
  outstanding: number
  status: DeviceLinkStatus
  day: number
}

const MIN_TIMER_MS = 5
const MAX_TIMER_MS = 60_000

/** Keys of emulated devices, as written by `ecandle network create` (file mode 0600). */
export interface DeviceKeyFile {
  devices: Array<{ id: string, seed: string /* hex, 32 bytes */, ratedWhPerDay: number }>
}

/** Turns the key file written by `ecandle network create` into emulator devices. */
export function devicesFromKeyFile (file: DeviceKeyFile): EmulatedDevice[] {
  return file.devices.map(d => ({ id: d.id, seed: fromHex(d.seed, `device ${d.id} seed`, 32), ratedWhPerDay: d.ratedWhPerDay }))
}

/**
 * In-process eCandle emulator: each device signs realistic usage reports with its own key and
 * delivers them to the host at least once.
 *
 * Counters are the period end in unix seconds (or last + 1 if the clock stepped back). A period
 * ends after the device started, and every earlier run's periods ended before it stopped, so a
 * counter is never reused across restarts without any state file, as long as the host clock does
 * not step back across a restart and only one process emulates a given device key.
 *
 * Delivery is in order per device, one report in flight (a window of 1, the simplest device of
 * docs/device-protocol.md D4): only the oldest unacked report is ever submitted.
 */
export function createEmulator (opts: EmulatorOptions): Emulator {
  const intervalMs = Math.round(opts.reportIntervalS * 1000)
  if (!Number.isFinite(intervalMs) || intervalMs < 1000 || intervalMs > 86_400_000) {
    throw new RangeError('reportIntervalS must be between 1 and 86400')
  }
  const resendAfterMs = opts.resendAfterMs ?? 5000
  const maxQueue = Math.max(1, opts.maxQueue ?? 1000)
  const maxOutstanding = Math.max(1, opts.maxOutstanding ?? 2)
  const location = opts.location ?? DEFAULT_LOCATION
  const log = opts.logger ?? {}
  const useTimers = opts.timers ?? true
  const seen = new Set<string>()
  const devs: Dev[] = opts.devices.map((spec, i) => {
    if (!DEVICE_ID_RE.test(spec.id)) throw new TypeError(`device id ${JSON.stringify(spec.id)} is not 1..64 characters of [A-Za-z0-9._-]`)
    if (seen.has(spec.id)) throw new TypeError(`device ${spec.id} listed twice`)
    seen.add(spec.id)
    return {
      spec,
      signer: signerFromSeed(spec.seed),
      model: new DeviceModel({ id: spec.id, ratedWhPerDay: spec.ratedWhPerDay, location, faultRate: opts.faultRate }),
      phaseMs: Math.floor(i * intervalMs / opts.devices.length),
      k: 0,
      periodStart: 0,
      lastCounter: 0,
      queue: [],
      outstanding: 0,
      status: { device: spec.id, link: 'emulator', connected: false, errors: 0 },
      day: -1
    }
  })
  const stats = { made: 0, acked: 0, refused: 0, dropped: 0, resent: 0 }
  let host: BridgeHost | undefined
  let running = false
  let timer: NodeJS.Timeout | undefined

  const clock = (): number => opts.now !== undefined ? opts.now() : host !== undefined ? host.now() : Date.now()
  const dueMs = (d: Dev, k: number): number => k * intervalMs + d.phaseMs

  /** Starts a fresh period at `nowMs` (boot, or a clock jump too large to fill in). */
  function anchor (d: Dev, nowMs: number): void {
    d.periodStart = Math.floor(nowMs / 1000)
    d.k = Math.floor((nowMs - d.phaseMs) / intervalMs) + 1
    // The first period must end strictly after it starts.
    while (Math.floor(dueMs(d, d.k) / 1000) <= d.periodStart) d.k++
  }

  function makeDue (d: Dev, nowMs: number): void {
    const behind = Math.floor((nowMs - dueMs(d, d.k)) / intervalMs)
    if (dueMs(d, d.k) - nowMs > 2 * intervalMs) {
      log.warn?.({ device: d.spec.id }, 'emulator: clock stepped back; restarting the period')
      anchor(d, nowMs)
      return
    }
    if (behind > maxQueue) {
      // Asleep (or the clock jumped) for longer than the queue can hold: the device was "off".
      log.warn?.({ device: d.spec.id, periods: behind }, 'emulator: clock jumped forward; skipping the gap')
      anchor(d, nowMs)
      return
    }
    while (dueMs(d, d.k) <= nowMs) {
      const end = Math.floor(dueMs(d, d.k) / 1000)
      d.k++
      if (end > d.periodStart) makeReport(d, d.periodStart, end)
      d.periodStart = Math.max(d.periodStart, end)
    }
  }

  function makeReport (d: Dev, start: number, end: number): void {
    const s = d.model.simulate(start, end)
    const counter = Math.max(d.lastCounter + 1, end)
    d.lastCounter = counter
    const report: UsageReport = { device: d.spec.id, counter, periodStart: start, periodEnd: end, ...s }
    const signed = decodeReport(signReport(d.signer, report))
    stats.made++
    const day = solarDay(location, end * 1000)
    if (day !== d.day) { d.day = day; d.status.energyTodayMwh = 0 }
    Object.assign(d.status, {
      lastReportAt: end * 1000, batteryMv: s.batteryMv, soc: s.soc,
      energyTodayMwh: (d.status.energyTodayMwh ?? 0) + s.energyMwh
    })
    if (d.queue.length >= maxQueue) {
      const old = d.queue.shift() as Pending
      old.done = true
      stats.dropped++
      log.warn?.({ device: d.spec.id, counter: old.counter }, 'emulator: queue full, dropped the oldest report')
    }
    d.queue.push({ report: signed, counter, nextAt: 0, attempts: 0, done: false })
  }

  /** Sends the oldest unacked report if it may go now. */
  function pump (d: Dev, nowMs: number): void {
    if (!running || host === undefined) return
    const head = d.queue[0]
    if (head === undefined || head.nextAt > nowMs) return
    if (d.outstanding >= maxOutstanding) return // the host is not answering: do not pile up calls
    head.nextAt = nowMs + resendAfterMs // no answer by then: resend the same bytes
    if (head.attempts++ > 0) stats.resent++
    d.outstanding++
    let answer: Promise<SubmitResult>
    try {
      answer = host.submit(head.report)
    } catch (err) {
      answer = Promise.reject(err)
    }
    answer.then(r => { onAnswer(d, head, r) }, err => { onAnswer(d, head, undefined, err) })
  }

  function onAnswer (d: Dev, item: Pending, r: SubmitResult | undefined, err?: unknown): void {
    d.outstanding--
    const nowMs = clock()
    const status = r?.status
    if (r !== undefined && (r.status === 'stored' || r.status === 'duplicate' || r.status === 'refused')) {
      if (!item.done) {
        item.done = true
        if (r.status === 'refused') {
          stats.refused++
          d.status.errors++
          d.status.lastError = `refused ${r.reason}: ${r.message}`
          d.status.lastRefusal = r.reason
          d.status.lastRefusalCounter = item.counter
          log.warn?.({ device: d.spec.id, counter: item.counter, reason: r.reason, message: r.message }, 'emulator: report refused')
        } else {
          stats.acked++
          // As on serial and MQTT links: the last counter the hub acknowledged, not the last one made.
          d.status.counter = Math.max(d.status.counter ?? 0, item.counter)
        }
        const i = d.queue.indexOf(item)
        if (i >= 0) d.queue.splice(i, 1)
      }
    } else {
      // busy, a rejected promise (contract says never) or nonsense: keep it and resend later.
      if (status !== 'busy') {
        d.status.errors++
        d.status.lastError = `submit failed: ${String((err as Error)?.message ?? err ?? JSON.stringify(r))}`
        log.warn?.({ device: d.spec.id, counter: item.counter, err }, 'emulator: submit failed')
      }
      if (!item.done) {
        item.nextAt = nowMs + resendAfterMs
      }
    }
    pump(d, nowMs)
    schedule()
  }

  function step (): void {
    if (!running) return
    const nowMs = clock()
    for (const d of devs) {
      makeDue(d, nowMs)
      pump(d, nowMs)
    }
  }

  /** One timer for all devices, set for the earliest thing due (bounded, in case the clock jumps). */
  function schedule (): void {
    if (!useTimers || !running) return
    const nowMs = clock()
    let next = nowMs + MAX_TIMER_MS
    for (const d of devs) {
      next = Math.min(next, dueMs(d, d.k))
      const head = d.queue[0]
      if (head !== undefined && d.outstanding < maxOutstanding) next = Math.min(next, head.nextAt)
    }
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => { timer = undefined; step(); schedule() }, Math.min(MAX_TIMER_MS, Math.max(MIN_TIMER_MS, next - nowMs)))
    timer.unref()
  }

  return {
    async start (h: BridgeHost): Promise<void> {
      if (running) return
      host = h
      running = true
      const nowMs = clock()
      for (const d of devs) {
        anchor(d, nowMs)
        d.status.connected = true
      }
      schedule()
    },
    async stop (): Promise<void> {
      running = false
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      for (const d of devs) d.status.connected = false
    },
    devices: () => devs.map(d => ({ ...d.status })),
    stats: () => ({ ...stats, queued: devs.reduce((n, d) => n + d.queue.length, 0) }),
    async tick (): Promise<void> {
      step()
      // Let the host's answers (and the sends they release) run before returning.
      for (let i = 0; i < 3; i++) await new Promise(resolve => setImmediate(resolve))
      schedule()
    }
  }
}
