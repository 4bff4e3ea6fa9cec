import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeReport } from '@ecandle/protocol'
import { serialDeviceSide, type DeviceSide } from '../src/device-links.js'
import { createSerialBridge, type SerialBridge } from '@ecandle/hardware-bridge'
import { MemoryHost, PtyPair, makeDevices, requireTool, tmp, waitFor } from './helpers.js'

describe('serial link over a socat pty pair', function () {
  this.timeout(120_000)
  let pty: PtyPair | undefined
  let hub: SerialBridge | undefined
  let side: DeviceSide | undefined

  before(() => { requireTool('socat') })
  afterEach(async () => {
    await side?.stop()
    await hub?.stop()
    await pty?.stop()
    side = undefined; hub = undefined; pty = undefined
  })

  it('10,000 reports interleaved with garbage, truncated, oversize and duplicate frames: each stored exactly once', async () => {
    const devices = makeDevices(10, 'bulk')
    const host = new MemoryHost(devices)
    pty = PtyPair.inDir(tmp('pty'))
    await pty.start()
    hub = createSerialBridge({ ports: [{ path: pty.hub }] })
    await hub.start(host)
    side = serialDeviceSide(pty.dev, {
      devices,
      reportIntervalS: 60,
      backfill: 1000,
      maxQueue: 2000,
      resendAfterMs: 1000,
      faults: { garbage: 0.3, truncate: 0.1, oversize: 0.05, duplicate: 0.05 }
    })
    const made = side.agents.reduce((n, a) => n + a.queued, 0)
    assert.equal(made, 10_000)
    const t0 = Date.now()
    await side.start()
    await host.storedAtLeast(10_000, 90_000)
    const ms = Date.now() - t0
    await waitFor('devices to see their acks', () => side?.agents.every(a => a.queued === 0) === true)
    assert.ok([...host.storedTimes.values()].every(n => n === 1), 'stored exactly once')
    for (const [k, bytes] of host.stored) assert.equal(`${decodeReport(bytes).report.device}#${decodeReport(bytes).report.counter}`, k)
    const st = hub.stats()[0]
    assert.ok(st.frames.bad > 1000, `bad frames counted: ${st.frames.bad}`)
    assert.ok(side.stats.duplicates > 100 && side.stats.oversize > 100 && side.stats.truncated > 100 && side.stats.garbage > 1000)
    assert.equal(host.refusals, 0)
    assert.ok(hub.devices().length === 10 && hub.devices().every(d => d.connected && d.link === `serial:${pty?.hub ?? ''}`))
    console.log(`      10,000 reports in ${ms} ms; hub saw ${st.frames.frames} good frames, ${st.frames.bad} bad, ${st.frames.garbageBytes} garbage bytes; ${host.duplicates} duplicates answered`)
  })

  it('unplug (kill socat) and replug: reconnects within 5 s and queued reports arrive', async () => {
    const devices = makeDevices(3, 'plug')
    const host = new MemoryHost(devices)
    pty = PtyPair.inDir(tmp('pty'))
    await pty.start()
    hub = createSerialBridge({ ports: [{ path: pty.hub }], reconnectMs: 250 })
    await hub.start(host)
    side = serialDeviceSide(pty.dev, { devices, reportIntervalS: 1, resendAfterMs: 500, reconnectMs: 250, pollMs: 50 })
    await side.start()
    await host.storedAtLeast(3)
    await pty.stop()
    await waitFor('the hub to see the port gone', () => hub?.stats()[0].open === false, 5000)
    assert.ok(hub.devices().every(d => !d.connected))
    // While unplugged, every device queues reports.
    const s = side
    await waitFor('reports to queue while unplugged', () => s.agents.every(a => a.queued >= 2), 10_000)
    const storedBefore = host.stored.size
    const queued = side.agents.map(a => ({ id: a.id, upTo: a.counter }))
    const t0 = Date.now()
    await pty.start()
    await waitFor('the hub to reopen the port', () => hub?.stats()[0].open === true, 5000)
    const reconnectMs = Date.now() - t0
    assert.ok(reconnectMs < 5000)
    await waitFor('queued reports to arrive', () => queued.every(q => host.stored.has(`${q.id}#${q.upTo}`)), 10_000)
    assert.ok(host.stored.size > storedBefore)
    assert.ok([...host.storedTimes.values()].every(n => n === 1))
    assert.equal(hub.stats()[0].opens, 2)
    console.log(`      reopened after ${reconnectMs} ms`)
  })

  it('refuses reports from a device whose clock is absurd, then sets its clock', async () => {
    const devices = makeDevices(1, 'skew')
    const host = new MemoryHost(devices)
    pty = PtyPair.inDir(tmp('pty'))
    await pty.start()
    hub = createSerialBridge({ ports: [{ path: pty.hub }] })
    await hub.start(host)
    // Its RTC runs two hours ahead: reports made before the first time sync carry future periods.
    side = serialDeviceSide(pty.dev, { devices, reportIntervalS: 60, backfill: 3, clockSkewMs: 2 * 3600_000 })
    await side.start()
    const a = side.agents[0]
    await waitFor('the reports to be refused', () => a.stats.refused === 3, 10_000)
    assert.equal(host.stored.size, 0)
    assert.ok(a.stats.timeSyncs >= 1)
    assert.ok(hub.devices()[0].lastError === undefined || /clock/.test(hub.devices()[0].lastError ?? ''))
  })

  it('the ecandle-emulate program speaks the protocol over a pty, with a persisted queue', async () => {
    const dir = tmp('emu')
    const devices = makeDevices(2, 'bin')
    const keys = join(dir, 'devices.json')
    writeFileSync(keys, JSON.stringify({ devices: devices.map(d => ({ id: d.id, seed: Buffer.from(d.seed).toString('hex'), ratedWhPerDay: d.ratedWhPerDay })) }))
    const host = new MemoryHost(devices)
    pty = PtyPair.inDir(dir)
    await pty.start()
    hub = createSerialBridge({ ports: [{ path: pty.hub }] })
    await hub.start(host)
    const bin = fileURLToPath(new URL('../src/bin/emulate.js', import.meta.url))
    const state = join(dir, 'state.json')
    const proc = spawn(process.execPath, [bin, '--keys', keys, '--serial', pty.dev, '--interval', '60', '--backfill', '50', '--state', state,
      '--garbage', '0.2', '--truncate', '0.1', '--duplicate', '0.1', '--drift-ppm', '50', '--reboot-every-s', '0.3', '--stats-s', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      await host.storedAtLeast(100, 30_000)
    } finally {
      const exited = new Promise(resolve => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      await exited
    }
    assert.ok(existsSync(state))
    assert.ok([...host.storedTimes.values()].every(n => n === 1))
  })
})
