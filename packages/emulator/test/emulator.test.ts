import assert from 'node:assert/strict'
import { Domain, decodeReport, generateSeed, implausibility, signerFromSeed, verifySignature, type UsageReport } from '@ecandle/protocol'
import type { SubmitResult } from '@ecandle/hardware-bridge'
import { createEmulator, devicesFromKeyFile, type EmulatedDevice, type EmulatorOptions } from '../src/index.js'
import { FakeHost } from './fake-host.js'

const NAIROBI = { lat: -1.2864, lon: 36.8172 }
// 2025-03-20 00:00 UTC = 03:00 in Nairobi (night); local noon ≈ 09:30 UTC.
const NIGHT = Date.UTC(2025, 2, 20, 0, 0, 0)
const NOON = Date.UTC(2025, 2, 20, 9, 30, 0)

function devices (n: number, rated = 20): EmulatedDevice[] {
  return Array.from({ length: n }, (_, i) => ({ id: `dev-${i}`, seed: generateSeed(), ratedWhPerDay: rated }))
}

function setup (n: number, startMs: number, extra: Partial<EmulatorOptions> = {}): { host: FakeHost, emu: ReturnType<typeof createEmulator>, devs: EmulatedDevice[] } {
  const devs = extra.devices ?? devices(n)
  const host = new FakeHost(startMs)
  const emu = createEmulator({ devices: devs, location: NAIROBI, reportIntervalS: 60, timers: false, faultRate: 0, ...extra })
  return { host, emu, devs }
}

/** Moves the fake clock in steps, ticking the emulator at each. */
async function run (host: FakeHost, emu: { tick: () => Promise<void> }, ms: number, stepMs = 1000): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    host.t += Math.min(stepMs, ms - done)
    await emu.tick()
  }
}

const reports = (host: FakeHost): UsageReport[] => host.submitted.map(b => decodeReport(b).report)

describe('emulator', () => {
  it('signs reports with each device key; counters strictly increase; periods are contiguous and plausible', async () => {
    const { host, emu, devs } = setup(3, NIGHT)
    await emu.start(host)
    await run(host, emu, 3 * 3600_000, 10_000)
    await emu.stop()
    assert.ok(host.submitted.length >= 3 * 179, `only ${host.submitted.length} reports`)
    const keys = new Map(devs.map(d => [d.id, signerFromSeed(d.seed).publicKey]))
    const last = new Map<string, UsageReport>()
    for (const bytes of host.submitted) {
      const d = decodeReport(bytes)
      assert.ok(verifySignature(keys.get(d.report.device) as Uint8Array, Domain.report, d.payload, d.signature))
      assert.equal(bytes.byteLength < 200, true, 'a report fits in well under 200 bytes')
      assert.equal(implausibility(d.report, 20), undefined)
      const prev = last.get(d.report.device)
      if (prev !== undefined) {
        assert.ok(d.report.counter > prev.counter, 'counter increases')
        assert.equal(d.report.periodStart, prev.periodEnd, 'periods are contiguous')
      }
      assert.ok(d.report.periodEnd * 1000 <= host.t, 'a period never ends in the future')
      last.set(d.report.device, d.report)
    }
    assert.deepEqual(emu.stats(), { made: host.submitted.length, acked: host.submitted.length, refused: 0, queued: 0, dropped: 0, resent: 0 })
    const st = emu.devices()
    assert.deepEqual(st.map(s => [s.device, s.link, s.connected]), [['dev-0', 'emulator', false], ['dev-1', 'emulator', false], ['dev-2', 'emulator', false]])
    assert.ok(st.every(s => s.counter !== undefined && s.soc !== undefined && s.batteryMv !== undefined))
  })

  it('spreads devices over the interval instead of reporting all at once', async () => {
    const { host, emu } = setup(6, NIGHT)
    await emu.start(host)
    const ends = new Set<number>()
    for (let i = 0; i < 70; i++) {
      const before = host.submitted.length
      host.t += 1000
      await emu.tick()
      assert.ok(host.submitted.length - before <= 1, 'at most one device per second (6 devices, 60 s)')
    }
    for (const r of reports(host)) ends.add(r.periodEnd % 60)
    assert.equal(ends.size, 6)
  })

  it('counters never go back across a restart (no state file)', async () => {
    const devs = devices(2)
    const a = setup(2, NIGHT, { devices: devs })
    await a.emu.start(a.host)
    await run(a.host, a.emu, 600_000, 5000)
    await a.emu.stop()
    const lastA = Math.max(...reports(a.host).map(r => r.counter))
    // Restart a moment later (even within the same second as the last report).
    const b = setup(2, a.host.t, { devices: devs })
    await b.emu.start(b.host)
    await run(b.host, b.emu, 120_000, 1000)
    const firstB = Math.min(...reports(b.host).map(r => r.counter))
    assert.ok(firstB > lastA, `${firstB} > ${lastA}`)
  })

  it('busy → resends the same bytes after resendAfterMs, in order', async () => {
    const { host, emu } = setup(1, NIGHT, { resendAfterMs: 5000 })
    let busy = true
    host.answer = () => busy ? { status: 'busy' } : { status: 'stored' }
    await emu.start(host)
    await run(host, emu, 60_000)
    assert.equal(host.submitted.length, 1)
    await run(host, emu, 4000)
    assert.equal(host.submitted.length, 1, 'not before resendAfterMs')
    await run(host, emu, 1000)
    assert.equal(host.submitted.length, 2)
    assert.deepEqual(host.submitted[1], host.submitted[0])
    await run(host, emu, 60_000)
    busy = false
    await run(host, emu, 5000)
    const cs = reports(host).map(r => r.counter)
    const distinct = [...new Set(cs)]
    assert.equal(distinct.length, 2)
    assert.ok(distinct[0] < distinct[1], 'the older report goes first')
    assert.equal(emu.stats().acked, 2)
    assert.equal(emu.stats().queued, 0)
    assert.ok(emu.stats().resent > 0)
  })

  it('refused → counted, logged, never resent', async () => {
    const warnings: object[] = []
    const { host, emu } = setup(1, NIGHT, { logger: { warn: (o) => { warnings.push(o) } } })
    host.answer = (): SubmitResult => ({ status: 'refused', reason: 'clock', message: 'period ends in the future' })
    await emu.start(host)
    await run(host, emu, 65_000)
    assert.equal(host.submitted.length, 1)
    await run(host, emu, 30_000)
    assert.equal(host.submitted.length, 1, 'not resent')
    assert.equal(emu.stats().refused, 1)
    assert.equal(emu.stats().queued, 0)
    assert.ok(warnings.some(w => (w as any).reason === 'clock'))
    assert.match(emu.devices()[0].lastError ?? '', /clock/)
  })

  it('no answer → resends after resendAfterMs, with a bounded number of calls outstanding', async () => {
    const { host, emu } = setup(1, NIGHT, { resendAfterMs: 2000, maxOutstanding: 2 })
    const hang: Array<(r: SubmitResult) => void> = []
    host.answer = async () => await new Promise<SubmitResult>(resolve => { hang.push(resolve) })
    await emu.start(host)
    await run(host, emu, 60_000)
    assert.equal(host.submitted.length, 1)
    await run(host, emu, 2000)
    assert.equal(host.submitted.length, 2, 'resent after no answer')
    await run(host, emu, 20_000)
    assert.equal(host.submitted.length, 2, 'bounded outstanding submissions')
    host.answer = () => ({ status: 'stored' })
    hang[0]({ status: 'stored' })
    await emu.tick()
    hang[1]({ status: 'duplicate' })
    await emu.tick()
    assert.equal(emu.stats().acked, 1, 'one report acked once, however many answers')
    await run(host, emu, 60_000)
    assert.equal(emu.stats().queued, 0)
  })

  it('a throwing or rejecting host never crashes the emulator', async () => {
    const { host, emu } = setup(1, NIGHT, { resendAfterMs: 1000 })
    let n = 0
    host.submit = async () => { n++; if (n === 1) throw new Error('boom'); if (n === 2) return 'nonsense' as any; return { status: 'stored' } }
    await emu.start(host)
    await run(host, emu, 64_000)
    assert.equal(emu.stats().acked, 1)
    assert.equal(emu.devices()[0].errors, 2)
  })

  it('bounds the unacked queue: the oldest are dropped and counted', async () => {
    const { host, emu } = setup(2, NIGHT, { maxQueue: 10, resendAfterMs: 1000 })
    host.answer = () => ({ status: 'busy' })
    await emu.start(host)
    await run(host, emu, 30 * 60_000, 10_000)
    const s = emu.stats()
    assert.equal(s.queued, 20)
    assert.equal(s.made, s.queued + s.dropped)
    assert.ok(s.dropped > 0)
    // The hub comes back: the newest 10 per device arrive, oldest first.
    host.answer = () => ({ status: 'stored' })
    const before = host.submitted.length
    await run(host, emu, 2000)
    assert.equal(emu.stats().queued, 0)
    const after = host.submitted.slice(before).map(b => decodeReport(b).report)
    assert.ok(after.length >= 20)
    for (const dev of ['dev-0', 'dev-1']) {
      const cs = after.filter(r => r.device === dev).map(r => r.counter)
      assert.deepEqual(cs, [...cs].sort((x, y) => x - y))
    }
  })

  it('skips a gap longer than the queue (sleep / clock jump) without a flood', async () => {
    const { host, emu } = setup(1, NIGHT, { maxQueue: 5 })
    await emu.start(host)
    await run(host, emu, 120_000)
    host.t += 86_400_000
    await emu.tick()
    await run(host, emu, 120_000)
    const rs = reports(host)
    for (const r of rs) assert.ok(r.periodEnd - r.periodStart <= 60)
    assert.ok(rs.length <= 6)
  })

  it('solar is 0 at night and > 0 at noon; energy is delivered in most reports', async () => {
    const night = setup(4, NIGHT)
    await night.emu.start(night.host)
    await run(night.host, night.emu, 3600_000, 10_000)
    const nr = reports(night.host)
    assert.ok(nr.length >= 4 * 59)
    assert.ok(nr.every(r => r.solarMwh === 0), 'no sun at 03:00')
    assert.ok(nr.filter(r => r.energyMwh > 0).length >= 0.9 * nr.length, 'baseline load at night')
    const noon = setup(4, NOON)
    await noon.emu.start(noon.host)
    await run(noon.host, noon.emu, 3600_000, 10_000)
    const dr = reports(noon.host)
    assert.ok(dr.every(r => r.solarMwh > 0), 'sun at noon')
    assert.ok(dr.filter(r => r.energyMwh > 0).length >= 0.9 * dr.length, 'baseline load by day')
    assert.ok(dr.every(r => r.litS === 0), 'no lamp at noon')
  })

  it('lights the lamp after sunset and keeps a day within the rating', async () => {
    const { host, emu } = setup(3, NIGHT, { reportIntervalS: 600 })
    await emu.start(host)
    await run(host, emu, 86_400_000, 60_000)
    const rs = reports(host)
    const lit = rs.filter(r => r.litS > 0)
    assert.ok(lit.length > 0)
    for (const r of lit) {
      // Sunset in Nairobi ≈ 15:40 UTC; the lamp runs for 3.5–5.5 h.
      const h = (r.periodEnd % 86_400) / 3600
      assert.ok(h > 15.5 && h < 21.5, `lit at ${h.toFixed(2)} h UTC`)
    }
    for (const id of ['dev-0', 'dev-1', 'dev-2']) {
      const day = rs.filter(r => r.device === id)
      const wh = day.reduce((a, r) => a + r.energyMwh, 0) / 1000
      const solar = day.reduce((a, r) => a + r.solarMwh, 0) / 1000
      assert.ok(wh > 5 && wh <= 20, `${id} delivered ${wh} Wh`)
      assert.ok(solar > 0)
      for (const r of day) {
        assert.equal(implausibility(r, 20), undefined)
        assert.ok(r.batteryMv > 2000 && r.batteryMv < 3700)
        assert.ok(r.soc >= 0 && r.soc <= 100)
      }
    }
  })

  it('stays plausible for tiny ratings and short intervals', async () => {
    const devs = [1, 3, 7, 1000].map((r, i) => ({ id: `r${i}`, seed: generateSeed(), ratedWhPerDay: r }))
    const { host, emu } = setup(0, NOON, { devices: devs, reportIntervalS: 1 })
    await emu.start(host)
    await run(host, emu, 600_000, 1000)
    for (const r of reports(host)) {
      const rated = devs.find(d => d.id === r.device)?.ratedWhPerDay as number
      assert.equal(implausibility(r, rated), undefined)
    }
  })

  it('reads the device key file', () => {
    const seed = generateSeed()
    const devs = devicesFromKeyFile({ devices: [{ id: 'a', seed: Buffer.from(seed).toString('hex'), ratedWhPerDay: 5 }] })
    assert.deepEqual(devs, [{ id: 'a', seed, ratedWhPerDay: 5 }])
  })

  it('rejects bad configuration up front', () => {
    assert.throws(() => createEmulator({ devices: [{ id: 'bad id', seed: generateSeed(), ratedWhPerDay: 1 }], reportIntervalS: 10 }), TypeError)
    assert.throws(() => createEmulator({ devices: [], reportIntervalS: 0 }), RangeError)
    const d = { id: 'x', seed: generateSeed(), ratedWhPerDay: 1 }
    assert.throws(() => createEmulator({ devices: [d, d], reportIntervalS: 10 }), TypeError)
  })
})

describe('emulator with real timers', () => {
  it('reports on its own every interval and stops cleanly', async () => {
    const devs = devices(3)
    const emu = createEmulator({ devices: devs, reportIntervalS: 1, resendAfterMs: 200 })
    let n = 0
    let done: () => void = () => {}
    const six = new Promise<void>(resolve => { done = resolve })
    await emu.start({
      now: () => Date.now(),
      submit: async (d) => { decodeReport(d.bytes); if (++n === 6) done(); return n === 2 ? { status: 'busy' } : { status: 'stored' } }
    })
    await six
    await emu.stop()
    const s = emu.stats()
    assert.ok(s.acked >= 5)
    assert.ok(emu.devices().every(d => !d.connected))
  })
})
