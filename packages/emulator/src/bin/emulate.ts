#!/usr/bin/env node
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { DEVICE_ID_RE, generateSeed, signerFromSeed, toHex } from '@ecandle/protocol'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { DeviceKeyFile } from '../emulator.js'
import { mqttDeviceSide, serialDeviceSide, type DeviceSide, type DeviceSideOptions } from '../device-links.js'
import { devicesFromKeyFile } from '../emulator.js'

const USAGE = `ecandle-emulate: eCandle devices speaking the device link protocol (docs/device-protocol.md)

  ecandle-emulate --keys devices.json (--serial PATH [--baud N] | --mqtt URL --network NET) [options]
  ecandle-emulate new-device --keys devices.json --id ID [--rated WH]
                       a new device key, added to the key file (created with mode 0600 if absent);
                       register it with \`ecandle gov propose device-add --device-keys devices.json --id ID …\`

  --keys FILE          device key file from \`ecandle network create\` ({ devices: [{ id, seed, ratedWhPerDay }] })
  --serial PATH        serial port (or pty) the hub listens on; all devices share it
  --mqtt URL           broker URL, e.g. mqtt://127.0.0.1:1883 (one client per device)
  --network NET        topic segment of the network (with --mqtt)
  --credentials FILE   MQTT passwords: { "devices": { "<id>": "<password>" } } (\`ecandle mqtt-credentials\`);
                       each device logs in with its id as username
  --ca FILE            CA of the broker's TLS certificate (mqtts://)
  --certs DIR          client certificates: DIR/<id>.crt and DIR/<id>.key per device (subject CN = id)
  --interval S         report period, seconds (default 60)
  --state FILE         flash: unacked reports and last counters survive restarts (default: memory only)
  --lat D --lon D      hub location for the sun (default Nairobi)
  --resend-ms N        resend an unacked report after N ms (default 5000)
  --window N           reports in flight per device, 1..256 (default 1: stop-and-wait)
  --queue N            unacked reports a device keeps in flash, oldest dropped beyond (default 1000)
  --backfill N         start with N reports per device for the periods before now
  --skew-s N           device clocks start N s off until the hub sets them
  --drift-ppm N        device clocks drift by N ppm
  --reboot-every-s N   reboot a random device every N s
  --garbage P --truncate P --oversize P --duplicate P
                       fault injection: chance per message (0..1)
  --stats-s N          print counters every N s (default 10)
  --ack-log FILE       append one JSON line per ack a device takes: {"d","c","st"[,"why"]}
                       (written synchronously when the ack arrives, before the next report goes)
`

function num (v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isFinite(n)) { process.stderr.write(`--${name}: not a number\n`); process.exit(2) }
  return n
}

/** `new-device`: a fresh Ed25519 device key in the key file (0600), for onboarding by governance. */
function newDevice (args: string[]): void {
  const { values: a } = parseArgs({ args, options: { keys: { type: 'string' }, id: { type: 'string' }, rated: { type: 'string' } } })
  if (a.keys === undefined || a.id === undefined) { process.stdout.write(USAGE); process.exit(2) }
  if (!DEVICE_ID_RE.test(a.id)) { process.stderr.write(`--id: ${a.id} is not a device id (${DEVICE_ID_RE.source})\n`); process.exit(2) }
  const rated = num(a.rated, 'rated', 150)
  if (!Number.isInteger(rated) || rated < 1 || rated > 10_000_000) { process.stderr.write('--rated: 1..10000000 Wh/day\n'); process.exit(2) }
  const file: DeviceKeyFile = existsSync(a.keys) ? JSON.parse(readFileSync(a.keys, 'utf8')) as DeviceKeyFile : { devices: [] }
  if (file.devices.some(d => d.id === a.id)) { process.stderr.write(`${a.keys} already holds device ${a.id}\n`); process.exit(1) }
  const seed = generateSeed()
  file.devices.push({ id: a.id, seed: toHex(seed), ratedWhPerDay: rated })
  writeFileSync(a.keys, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  chmodSync(a.keys, 0o600)
  process.stdout.write(`device ${a.id} key ${toHex(signerFromSeed(seed).publicKey)} added to ${a.keys}\n`)
}

async function main (): Promise<void> {
  if (process.argv[2] === 'new-device') { newDevice(process.argv.slice(3)); return }
  const { values: a } = parseArgs({
    options: {
      keys: { type: 'string' },
      serial: { type: 'string' },
      baud: { type: 'string' },
      mqtt: { type: 'string' },
      network: { type: 'string' },
      credentials: { type: 'string' },
      ca: { type: 'string' },
      certs: { type: 'string' },
      interval: { type: 'string' },
      state: { type: 'string' },
      lat: { type: 'string' },
      lon: { type: 'string' },
      'resend-ms': { type: 'string' },
      window: { type: 'string' },
      queue: { type: 'string' },
      backfill: { type: 'string' },
      'skew-s': { type: 'string' },
      'drift-ppm': { type: 'string' },
      'reboot-every-s': { type: 'string' },
      garbage: { type: 'string' },
      truncate: { type: 'string' },
      oversize: { type: 'string' },
      duplicate: { type: 'string' },
      'stats-s': { type: 'string' },
      'ack-log': { type: 'string' },
      help: { type: 'boolean' }
    }
  })
  if (a.help === true || a.keys === undefined || (a.serial === undefined) === (a.mqtt === undefined)) {
    process.stdout.write(USAGE)
    process.exit(a.help === true ? 0 : 2)
  }
  const window = num(a.window, 'window', 1)
  if (!Number.isInteger(window) || window < 1 || window > 256) { process.stderr.write('--window: an integer from 1 to 256 (the hub takes at most 256 reports of a device at once)\n'); process.exit(2) }
  const keys = JSON.parse(readFileSync(a.keys, 'utf8')) as DeviceKeyFile
  const o: DeviceSideOptions = {
    devices: devicesFromKeyFile(keys),
    location: { lat: num(a.lat, 'lat', -1.2864), lon: num(a.lon, 'lon', 36.8172) },
    reportIntervalS: num(a.interval, 'interval', 60),
    statePath: a.state,
    resendAfterMs: num(a['resend-ms'], 'resend-ms', 5000),
    window,
    maxQueue: num(a.queue, 'queue', 1000),
    backfill: num(a.backfill, 'backfill', 0),
    clockSkewMs: num(a['skew-s'], 'skew-s', 0) * 1000,
    driftPpm: num(a['drift-ppm'], 'drift-ppm', 0),
    rebootEveryMs: num(a['reboot-every-s'], 'reboot-every-s', 0) * 1000,
    faults: {
      garbage: num(a.garbage, 'garbage', 0),
      truncate: num(a.truncate, 'truncate', 0),
      oversize: num(a.oversize, 'oversize', 0),
      duplicate: num(a.duplicate, 'duplicate', 0)
    },
    logger: { warn: (obj, msg) => { process.stderr.write(`${msg ?? ''} ${JSON.stringify(obj)}\n`) } }
  }
  const ackLog = a['ack-log']
  if (ackLog !== undefined) {
    o.onAck = ack => {
      appendFileSync(ackLog, JSON.stringify({ d: ack.device, c: ack.counter, st: ack.status, ...(ack.reason !== undefined ? { why: ack.reason } : {}) }) + '\n')
    }
  }
  let side: DeviceSide
  if (a.serial !== undefined) {
    side = serialDeviceSide(a.serial, { ...o, baudRate: num(a.baud, 'baud', 115_200) })
  } else {
    if (a.network === undefined) { process.stderr.write('--mqtt needs --network\n'); process.exit(2) }
    const certDir = a.certs
    side = mqttDeviceSide(a.mqtt as string, a.network, {
      ...o,
      auth: {
        passwords: a.credentials === undefined ? undefined : new Map(Object.entries((JSON.parse(readFileSync(a.credentials, 'utf8')) as { devices: Record<string, string> }).devices)),
        ca: a.ca === undefined ? undefined : readFileSync(a.ca),
        certs: certDir === undefined
          ? undefined
          : (id) => existsSync(join(certDir, `${id}.crt`)) ? { cert: readFileSync(join(certDir, `${id}.crt`)), key: readFileSync(join(certDir, `${id}.key`)) } : undefined
      }
    })
  }
  await side.start()
  const print = (): void => {
    const t = { made: 0, sent: 0, acked: 0, refused: 0, dropped: 0, reboots: 0, queued: 0 }
    for (const ag of side.agents) {
      for (const k of ['made', 'sent', 'acked', 'refused', 'dropped', 'reboots'] as const) t[k] += ag.stats[k]
      t.queued += ag.queued
    }
    process.stdout.write(`${JSON.stringify({ ...t, ...side.stats })}\n`)
  }
  const statsTimer = setInterval(print, num(a['stats-s'], 'stats-s', 10) * 1000)
  const quit = (): void => {
    clearInterval(statsTimer)
    print()
    void side.stop().then(() => process.exit(0))
  }
  process.on('SIGINT', quit)
  process.on('SIGTERM', quit)
}

main().catch(err => {
  process.stderr.write(`ecandle-emulate: ${(err as Error).message}\n`)
  process.exit(1)
})
