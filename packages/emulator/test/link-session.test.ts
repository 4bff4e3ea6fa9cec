import assert from 'node:assert/strict'
import { decodeReport, encode, signReport, signerFromSeed } from '@ecandle/protocol'
import { decodeMessage, DeviceTable, encodeMessage, LinkSession, type LinkMessage, type SubmitResult } from '@ecandle/hardware-bridge'
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

  it('submits one device in order, one at a time, and bounds what waits', async () => {
    const { host, session, report } = setup()
    const release: Array<() => void> = []
    const order: number[] = []
    const inner = host.submit
    let inFlight = 0
    let maxInFlight = 0
    host.submit = async (b) => {
      inFlight++; maxInFlight = Math.max(maxInFlight, inFlight)
      order.push(decodeReport(b).report.counter)
      await new Promise<void>(resolve => release.push(resolve))
      inFlight--
      return await inner(b)
    }
    for (let c = 1; c <= 40; c++) session.handle(encodeMessage({ type: 'report', report: report(c) }))
    while (release.length > 0 || inFlight > 0) { release.shift()?.(); await tick() }
    assert.equal(maxInFlight, 1)
    assert.deepEqual(order, Array.from({ length: 16 }, (_, i) => i + 1), 'in order; beyond 16 waiting are dropped (resent by the device)')
    assert.equal(session.stats.overflow, 24)
  })

  it('bad input never throws', () => {
    const { session } = setup()
    for (const b of [new Uint8Array(0), new Uint8Array(1000), encode({ t: 'report', r: new Uint8Array(10) }), encode({ t: 'ack', d: 'a', c: 1, st: 'stored' })]) session.handle(b)
    assert.ok(session.stats.badMessages >= 3)
  })
})
