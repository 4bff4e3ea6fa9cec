import assert from 'node:assert/strict'
import type { Bridge, DeviceLinkStatus } from '@ecandle/hardware-bridge'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '@ecandle/hardware-bridge'
import { CliError, CompositeBridge, createDeviceBridges, parseDevicesConfig, readCredentialsFile } from '../src/index.js'
import { devicesTable } from '../src/commands/devices.js'

describe('devices config and links', () => {
  const fails = (v: unknown, part: string): void => {
    assert.throws(() => parseDevicesConfig(v), (err: unknown) => err instanceof CliError && err.message.includes(part) && !err.message.includes('\n'), part)
  }

  it('reads serial ports (by path or USB ids), an MQTT broker or an embedded one', () => {
    assert.equal(parseDevicesConfig(undefined), undefined)
    assert.deepEqual(parseDevicesConfig({ serial: [{ path: '/dev/ttyUSB0', baudRate: 115200 }, { vendorId: '1A86', productId: '7523' }] }), {
      serial: [{ path: '/dev/ttyUSB0', baudRate: 115200 }, { vendorId: '1a86', productId: '7523' }], timeSyncS: 600
    })
    assert.deepEqual(parseDevicesConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' } }), { serial: [], mqtt: { url: 'mqtt://127.0.0.1:1883' }, timeSyncS: 600 })
    assert.deepEqual(parseDevicesConfig({ mqtt: { embedded: {} }, timeSyncS: 60 }), { serial: [], mqtt: { embedded: { host: '127.0.0.1', port: 1883 } }, timeSyncS: 60 })
    assert.deepEqual(parseDevicesConfig({ mqtt: { embedded: { port: 1884 }, topic: 'village' } })?.mqtt, { embedded: { host: '127.0.0.1', port: 1884 }, topic: 'village' })
  })

  it('refuses a bad devices section with one clear line', () => {
    fails([], 'devices must be an object')
    fails({ usb: [] }, 'devices: unknown field "usb"')
    fails({ serial: '/dev/ttyUSB0' }, 'devices.serial must be a list')
    fails({ serial: [{}] }, 'devices.serial[0] needs "path"')
    fails({ serial: [{ path: '/dev/a', vendorId: '1a86' }] }, 'either "path" or USB ids')
    fails({ serial: [{ path: '/dev/a', baud: 9600 }] }, 'devices.serial[0]: unknown field "baud"')
    fails({ serial: [{ path: '/dev/a', baudRate: 0 }] }, 'devices.serial[0].baudRate must be an integer')
    fails({ serial: [{ vendorId: 'xyz' }] }, 'devices.serial[0].vendorId must be 1..4 hex digits')
    fails({ serial: [{ path: '/dev/a' }, { path: '/dev/a' }] }, 'listed twice')
    fails({ mqtt: {} }, 'exactly one of "url"')
    fails({ mqtt: { url: 'mqtt://a', embedded: {} } }, 'exactly one of "url"')
    fails({ mqtt: { url: 'http://broker' } }, 'devices.mqtt.url must be mqtt://')
    fails({ mqtt: { url: 'not a url' } }, 'not a URL')
    fails({ mqtt: { embedded: { port: 70000 } } }, 'devices.mqtt.embedded.port')
    fails({ mqtt: { url: 'mqtt://a', topic: 'a/b' } }, 'devices.mqtt.topic')
    fails({ timeSyncS: 0 }, 'devices.timeSyncS')
  })

  it('MQTT security settings: paths resolved against the data dir, TLS-only fields need a TLS url, secrets never in the url', () => {
    const rel = (p: string): string => p.startsWith('/') ? p : `/data/${p}`
    assert.deepEqual(parseDevicesConfig({ mqtt: { url: 'mqtts://b:8883', username: 'hub', passwordFile: 'pw', caFile: '/etc/ca.crt', certFile: 'c.crt', keyFile: 'c.key' } }, rel)?.mqtt,
      { url: 'mqtts://b:8883', username: 'hub', passwordFile: '/data/pw', caFile: '/etc/ca.crt', certFile: '/data/c.crt', keyFile: '/data/c.key' })
    assert.deepEqual(parseDevicesConfig({ mqtt: { embedded: { credentialsFile: 'creds.json', tls: { certFile: 'b.crt', keyFile: 'b.key', caFile: 'ca.crt' } } } }, rel)?.mqtt,
      { embedded: { host: '127.0.0.1', port: 8883, credentialsFile: '/data/creds.json', tls: { certFile: '/data/b.crt', keyFile: '/data/b.key', caFile: '/data/ca.crt' } } })
    fails({ mqtt: { url: 'mqtt://b:1883', caFile: 'ca.crt' } }, 'use an mqtts:// url')
    fails({ mqtt: { url: 'mqtt://hub:secret@b:1883' } }, 'must not hold credentials')
    fails({ mqtt: { url: 'mqtts://b', passwordFile: 'pw' } }, 'passwordFile needs "username"')
    fails({ mqtt: { url: 'mqtts://b', certFile: 'c.crt' } }, 'certFile and keyFile go together')
    fails({ mqtt: { embedded: { tls: { certFile: 'b.crt' } } } }, 'devices.mqtt.embedded.tls.keyFile')
    fails({ mqtt: { embedded: { tls: { certFile: 'b.crt', keyFile: 'b.key', ca: 'x' } } } }, 'unknown field "ca"')
  })

  it('reads MQTT secrets only from files of mode 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecandle-mqtt-secrets-'))
    try {
      const creds = join(dir, 'creds.json')
      writeFileSync(creds, JSON.stringify({ devices: { d1: hashPassword('pw') } }), { mode: 0o644 })
      chmodSync(creds, 0o644)
      const c = parseDevicesConfig({ mqtt: { embedded: { port: 1, credentialsFile: creds } } })
      await assert.rejects(createDeviceBridges(c, { networkId: 'abc', logger: {} }), (err: unknown) => err instanceof CliError && err.message.includes('must be 0600'))
      chmodSync(creds, 0o600)
      assert.equal((await readCredentialsFile(creds)).size, 1)
      writeFileSync(creds, JSON.stringify({ devices: { d1: 'plain-password' } }))
      await assert.rejects(readCredentialsFile(creds), (err: unknown) => err instanceof CliError && err.message.includes('devices.d1 must be a hash'))
      const pw = join(dir, 'pw')
      writeFileSync(pw, 'secret\n', { mode: 0o640 })
      chmodSync(pw, 0o640)
      await assert.rejects(createDeviceBridges(parseDevicesConfig({ mqtt: { url: 'mqtts://b', username: 'hub', passwordFile: pw } }), { networkId: 'abc', logger: {} }), (err: unknown) => err instanceof CliError && err.message.includes('must be 0600'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('builds one bridge per link kind', async () => {
    const c = parseDevicesConfig({ serial: [{ path: '/dev/null-port' }], mqtt: { url: 'mqtt://127.0.0.1:1' } })
    assert.deepEqual((await createDeviceBridges(c, { networkId: 'abc', logger: {} })).map(b => b.name), ['serial', 'mqtt'])
    assert.deepEqual((await createDeviceBridges(parseDevicesConfig({ mqtt: { embedded: {} } }), { networkId: 'abc', logger: {} })).map(b => b.name), ['mqtt-embedded'])
  })

  function fake (rows: DeviceLinkStatus[], log: string[], name: string, failStart = false): Bridge {
    return {
      start: async () => { if (failStart) throw new Error('port busy'); log.push(`start ${name}`) },
      stop: async () => { log.push(`stop ${name}`) },
      devices: () => rows
    }
  }

  it('a composite bridge starts every link, stops them in reverse, lists each device once', async () => {
    const log: string[] = []
    const a = fake([{ device: 'd1', link: 'serial:/dev/a', connected: false, errors: 0, lastReportAt: 5 }, { device: 'd2', link: 'serial:/dev/a', connected: true, errors: 1 }], log, 'a')
    const b = fake([{ device: 'd1', link: 'mqtt:x', connected: true, errors: 0, lastReportAt: 1 }], log, 'b')
    const c = new CompositeBridge([{ name: 'a', bridge: a }, { name: 'b', bridge: b }])
    await c.start({ submit: async () => ({ status: 'busy' }), now: Date.now })
    assert.deepEqual(c.devices().map(r => `${r.device}@${r.link}`), ['d1@mqtt:x', 'd2@serial:/dev/a'], 'a connected link wins')
    await c.stop()
    assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a'])

    const log2: string[] = []
    const bad = new CompositeBridge([{ name: 'a', bridge: fake([], log2, 'a') }, { name: 'mqtt', bridge: fake([], log2, 'm', true) }])
    await assert.rejects(bad.start({ submit: async () => ({ status: 'busy' }), now: Date.now }), (err: unknown) => err instanceof CliError && err.message.includes('cannot start the mqtt link: port busy'))
    assert.deepEqual(log2, ['start a', 'stop a'], 'links already started are stopped again')
  })

  it('prints a table of devices', () => {
    const t = devicesTable([{ device: 'd1', link: 'serial:/dev/a', connected: true, errors: 2, lastReportAt: 1_000, counter: 42, batteryMv: 3291, soc: 64, energyTodayMwh: 1500, lastRefusal: 'counter-reused', lastRefusalCounter: 40 }], 31_000)
    assert.match(t, /^DEVICE\s+LINK\s+UP\s+LAST REPORT/)
    assert.match(t, /d1\s+serial:\/dev\/a\s+yes\s+30 s ago\s+42\s+3\.29 V 64%\s+1\.5 Wh\s+2\s+counter-reused #40/)
    assert.match(devicesTable([], 0), /no devices/)
  })
})
