import assert from 'node:assert/strict'
import fc from 'fast-check'
import { encode, signReport, signerFromSeed } from '@ecandle/protocol'
import { decodeMessage, decodeMessageGeneral, DeviceTable, encodeMessage, LinkSession, wireForm, type LinkMessage, type SubmitResult } from '@ecandle/hardware-bridge'
import { MemoryHost, makeDevices } from './helpers.js'

function setup (): { host: MemoryHost, sent: LinkMessage[], session: LinkSession, table: DeviceTable, report: (counter: number, endS?: number) => Uint8Array } {
  const devs = makeDevices(2)
  const host = new MemoryHost(devs)
  const sent: LinkMessage[] = []
  const table = new DeviceTable()
  const session = new LinkSession({ link: 'test', host, table, send: m => { sent.push(m) } })
  const signer = signerFromSeed(devs[0].seed)
  const report = (counter: number, endS = Math.floor(Date.now() / 1000)): Uint8Array => signReport(signer, {
    device: 'dev-0', counter, periodStart: endS - 60, periodEnd: endS, energyMwh: 10, solarMwh: 0, litS: 0, batteryMv: 3300, soc: 80, tempDeciC: 250, faults: 0
  })
  return { host, sent, session, table, report }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('messages', () => {
  it('round-trip every message type', () => {
    const ms: LinkMessage[] = [
      { type: 'hello', device: 'a', firmware: 'fw 1.2', clock: 1_750_000_000 },
      { type: 'hello', device: 'a', firmware: '' },
      { type: 'report', report: new Uint8Array([1, 2]) },
      { type: 'ack', device: 'a', counter: 7, status: 'stored' },
      { type: 'ack', device: 'a', counter: 7, status: 'refused', reason: 'clock' },
      { type: 'time', ms: 1_750_000_000_123 },
      { type: 'time', ms: 1, device: 'b' },
      { type: 'error', code: 'malformed', message: 'x', device: 'a' }
    ]
    for (const m of ms) assert.deepEqual(decodeMessage(encodeMessage(m)), m)
  })

  it('encodeMessage writes exactly the DAG-CBOR of the wire map; decodeMessage\'s fast path for reports agrees with the general decoder', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
    const uint = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.maxSafeNat())
    const text = fc.string({ maxLength: 128, unit: fc.oneof(fc.constant('a'), fc.constant('é'), fc.constant('✓'), fc.constant('😀')) }).filter(t => t.length <= 128)
    const msg: fc.Arbitrary<LinkMessage> = fc.oneof(
      fc.record({ type: fc.constant('hello' as const), device: id, firmware: text, clock: uint }, { requiredKeys: ['type', 'device', 'firmware'] }),
      fc.record({ type: fc.constant('report' as const), report: fc.uint8Array({ minLength: 1, maxLength: 256 }) }),
      fc.record({ type: fc.constant('ack' as const), device: id, counter: uint, status: fc.constantFrom('stored' as const, 'duplicate' as const, 'refused' as const), reason: text }, { requiredKeys: ['type', 'device', 'counter', 'status'] }),
      fc.record({ type: fc.constant('time' as const), ms: uint, device: id }, { requiredKeys: ['type', 'ms'] }),
      fc.record({ type: fc.constant('error' as const), code: text, message: text, device: id }, { requiredKeys: ['type', 'code', 'message'] })
    )
    fc.assert(fc.property(msg, m => {
      const bytes = encodeMessage(m)
      assert.deepEqual(bytes, new Uint8Array(encode(wireForm(m))))
      assert.deepEqual(decodeMessage(bytes), { ...m })
    }), { numRuns: 5000 })
    const outcome = (fn: () => LinkMessage): unknown => {
      try { const m = fn(); return m.type === 'report' ? { ...m, report: [...m.report] } : m } catch (err) { return { err: (err as Error).message } }
    }
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }), (r, edits) => {
      const b = encodeMessage({ type: 'report', report: r })
      for (const [i, v] of edits) b[i % b.byteLength] = v
      assert.deepEqual(outcome(() => decodeMessage(b)), outcome(() => decodeMessageGeneral(b)))
    }), { numRuns: 5000 })
  })

  it('refuses bad shapes with a ProtocolError', () => {
    for (const v of [1, 'x', [], { t: 'nope' }, { t: 'hello', d: 'bad id', fw: '' }, { t: 'ack', d: 'a', c: -1, st: 'stored' }, { t: 'report', r: 'x' }, { t: 'time', ms: 1, extra: 1 }]) {
      assert.throws(() => decodeMessage(encode(v)), { name: 'ProtocolError' })
    }
    assert.throws(() => decodeMessage(new Uint8Array([0xff, 0x00])), { name: 'ProtocolError' })
  })
})

describe('link session (hub side)', () => {
  it('hello → time; report → ack only once stored; duplicate → ack', async () => {
    const { host, sent, session, table, report } = setup()
    session.handle(encodeMessage({ type: 'hello', device: 'dev-0', firmware: '1' }))
    assert.equal(sent[0].type, 'time')
    assert.equal(table.all()[0].connected, true)
    const r = report(100)
    session.handle(encodeMessage({ type: 'report', report: r }))
    assert.equal(sent.length, 1, 'no ack before submit resolved')
    await tick()
    assert.deepEqual(sent[1], { type: 'ack', device: 'dev-0', counter: 100, status: 'stored' })
    session.handle(encodeMessage({ type: 'report', report: r }))
    await tick()
    assert.deepEqual(sent[2], { type: 'ack', device: 'dev-0', counter: 100, status: 'duplicate' })
    assert.equal(host.stored.size, 1)
  })

  it('busy → no answer; refused → ack with the reason', async () => {
    const { host, sent, session, report } = setup()
    let answer: SubmitResult = { status: 'busy' }
    host.answerOverride = () => answer
    session.handle(encodeMessage({ type: 'report', report: report(5) }))
    await tick()
    assert.deepEqual(sent, [])
    answer = { status: 'refused', reason: 'implausible', message: 'too much' }
    session.handle(encodeMessage({ type: 'report', report: report(5) }))
    await tick()
    assert.deepEqual(sent, [{ type: 'ack', device: 'dev-0', counter: 5, status: 'refused', reason: 'implausible' }])
    assert.equal(session.stats.busy, 1)
  })

  it('absurd device clocks are refused with reason clock, and the device gets the time', async () => {
    const { host, sent, session, report } = setup()
    const now = Math.floor(Date.now() / 1000)
    session.handle(encodeMessage({ type: 'report', report: report(1, now + 3600) }))
    session.handle(encodeMessage({ type: 'report', report: report(2, 946_684_800) })) // year 2000
    await tick()
    assert.equal(host.submits, 0)
    assert.deepEqual(sent.filter(m => m.type === 'ack').map(m => (m as any).reason), ['clock', 'clock'])
    assert.equal(sent.filter(m => m.type === 'time').length, 2)
  })

  it('submits a device\'s window at once, answers every report, and bounds what is in flight (256 per device)', async () => {
    const { host, sent, session, report } = setup()
    const release: Array<() => void> = []
    const inner = host.submit
    let inFlight = 0
    let maxInFlight = 0
    const submitted: number[] = []
    host.submit = async (d) => {
      inFlight++; maxInFlight = Math.max(maxInFlight, inFlight)
      submitted.push(d.report.counter)
      await new Promise<void>(resolve => release.push(resolve))
      inFlight--
      return await inner(d)
    }
    const reports = Array.from({ length: 300 }, (_, i) => report(i + 1))
    for (const r of reports) session.handle(encodeMessage({ type: 'report', report: r }))
    // A resend of a report in flight is not submitted again.
    session.handle(encodeMessage({ type: 'report', report: reports[0] }))
    await tick()
    assert.equal(maxInFlight, 256, 'the whole window is at the host at once')
    assert.deepEqual(submitted, Array.from({ length: 256 }, (_, i) => i + 1))
    assert.equal(session.stats.overflow, 44, 'beyond 256 in flight: dropped, the device resends')
    assert.equal(sent.length, 0, 'no ack before the host answered')
    while (release.length > 0) { release.shift()?.(); await tick() }
    const acks = sent.filter(m => m.type === 'ack') as Array<{ counter: number, status: string }>
    assert.deepEqual(acks.map(a => a.counter).sort((a, b) => a - b), submitted.slice().sort((a, b) => a - b), 'every report answered once')
    assert.ok(acks.every(a => a.status === 'stored'))
    // Once answered, the window has room again: the dropped ones go through when resent.
    for (const r of reports.slice(256)) session.handle(encodeMessage({ type: 'report', report: r }))
    await tick()
    while (release.length > 0) { release.shift()?.(); await tick() }
    assert.equal(host.stored.size, 300)
    assert.equal(session.stats.overflow, 44)
  })

  it('bad input never throws', () => {
    const { session } = setup()
    for (const b of [new Uint8Array(0), new Uint8Array(1000), encode({ t: 'report', r: new Uint8Array(10) }), encode({ t: 'ack', d: 'a', c: 1, st: 'stored' })]) session.handle(b)
    assert.ok(session.stats.badMessages >= 3)
  })
})
