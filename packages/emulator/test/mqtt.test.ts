import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { createMqttBridge, startEmbeddedBroker, type EmbeddedBroker, type MqttBridge } from '@ecandle/hardware-bridge'
import { mqttDeviceSide, type DeviceSide } from '../src/device-links.js'
import { MemoryHost, freePort, makeDevices, requireTool, tmp, waitFor } from './helpers.js'

/** Our own mosquitto on a random loopback port (never the system service). */
async function startMosquitto (): Promise<{ url: string, stop: () => Promise<void> }> {
  requireTool('mosquitto')
  const dir = tmp('mosq')
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const proc: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' })
  const exited = new Promise(resolve => proc.once('exit', resolve))
  let ready = false
  const probe = (): void => {
    const s = connect(port, '127.0.0.1', () => { ready = true; s.destroy() })
    s.on('error', () => { s.destroy() })
  }
  await waitFor('mosquitto to listen', () => { if (!ready) probe(); return ready || proc.exitCode !== null }, 10_000)
  if (!ready) throw new Error(`mosquitto exited with ${String(proc.exitCode)}`)
  return { url: `mqtt://127.0.0.1:${port}`, stop: async () => { proc.kill('SIGTERM'); await exited } }
}

async function roundTrip (url: string, label: string): Promise<void> {
  const devices = makeDevices(10, label)
  const host = new MemoryHost(devices)
  let hub: MqttBridge | undefined
  let side: DeviceSide | undefined
  try {
    hub = createMqttBridge({ url, network: 'testnet' })
    await hub.start(host)
    await waitFor('hub connected', () => hub?.stats().connects === 1, 10_000)
    side = mqttDeviceSide(url, 'testnet', {
      devices, reportIntervalS: 60, backfill: 100, maxQueue: 1000, resendAfterMs: 1000,
      faults: { garbage: 0.2, truncate: 0.1, oversize: 0.05, duplicate: 0.1 }
    })
    await side.start()
    await host.storedAtLeast(1000, 60_000)
    const s = side
    await waitFor('acks to reach the devices', () => s.agents.every(a => a.queued === 0))
    assert.ok([...host.storedTimes.values()].every(n => n === 1))
    assert.equal(host.refusals, 0)
    const st = hub.stats()
    assert.ok(st.badMessages > 50 && st.oversize > 10, JSON.stringify(st))
    assert.ok(side.agents.every(a => a.stats.timeSyncs >= 1), 'time sync at connect')
    assert.ok(hub.devices().length === 10 && hub.devices().every(d => d.connected))
  } finally {
    await side?.stop()
    await hub?.stop()
  }
}

describe('mqtt link', function () {
  this.timeout(120_000)

  it('aedes in-process broker: 1,000 reports with faults, each stored exactly once', async () => {
    const broker: EmbeddedBroker = await startEmbeddedBroker()
    try {
      await roundTrip(broker.url, 'aedes')
    } finally {
      await broker.close()
    }
  })

  it('mosquitto: 1,000 reports with faults, each stored exactly once', async () => {
    const m = await startMosquitto()
    try {
      await roundTrip(m.url, 'mosq')
    } finally {
      await m.stop()
    }
  })

  it('a broker restart: the hub and devices reconnect and queued reports arrive', async () => {
    const m1 = await startMosquitto()
    const devices = makeDevices(2, 'restart')
    const host = new MemoryHost(devices)
    const hub = createMqttBridge({ url: m1.url, network: 'n1' })
    await hub.start(host)
    const side = mqttDeviceSide(m1.url, 'n1', { devices, reportIntervalS: 1, resendAfterMs: 500 })
    await side.start()
    try {
      await host.storedAtLeast(2)
      await m1.stop()
      await waitFor('reports to queue while the broker is down', () => side.agents.every(a => a.queued >= 2))
      const upTo = side.agents.map(a => `${a.id}#${a.counter}`)
      // Same port again: the clients keep retrying their URL.
      const port = Number(new URL(m1.url).port)
      const dir = tmp('mosq2')
      writeFileSync(join(dir, 'c.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\n`)
      const p = spawn('mosquitto', ['-c', join(dir, 'c.conf')], { stdio: 'ignore' })
      try {
        await waitFor('queued reports after the restart', () => upTo.every(k => host.stored.has(k)), 20_000)
        assert.ok(hub.stats().connects >= 2)
      } finally {
        const gone = new Promise(resolve => p.once('exit', resolve))
        p.kill('SIGTERM')
        await gone
      }
    } finally {
      await side.stop()
      await hub.stop()
    }
  })
})
