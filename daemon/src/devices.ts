import {
  createMqttBridge, createSerialBridge, startEmbeddedBroker,
  type Bridge, type BridgeHost, type BrokerAuth, type DeviceLinkStatus, type EmbeddedBroker, type Logger, type SerialPortSpec
} from '@ecandle/hardware-bridge'
import type { MqttBridgeOptions } from '@ecandle/hardware-bridge'
import { readFile } from 'node:fs/promises'
import { CliError } from './errors.js'
import { readSecretFile } from './keys.js'
import { isLoopback } from './loopback.js'

/**
 * Devices' links as configured in `<data-dir>/config.json`:
 *
 *   "devices": {
 *     "serial": [{ "path": "/dev/ttyUSB0", "baudRate": 115200 }, { "vendorId": "1a86", "productId": "7523" }],
 *     "mqtt": { "url": "mqtt://127.0.0.1:1883" }            // an existing broker, or
 *     "mqtt": { "embedded": { "host": "127.0.0.1", "port": 1883 } },  // a broker inside the hub
 *     "timeSyncS": 600
 *   }
 *
 * `mqtt` also takes `"topic"` (the `<net>` topic segment; default the network id).
 * Security (docs/operations.md, "Device link security"): a broker you run takes `username`,
 * `passwordFile` (mode 0600), `caFile` (with mqtts://) and a client `certFile`/`keyFile`; the
 * embedded broker takes `credentialsFile` (per-device password hashes, 0600, from `ecandle
 * mqtt-credentials`) and `tls` { certFile, keyFile, caFile } (caFile: device client certificates).
 * Paths are relative to the data dir.
 */
export interface DevicesConfig {
  serial: SerialPortSpec[]
  mqtt?: MqttLinkConfig
  /** Hub clock broadcast on every link this often (seconds); default 600. */
  timeSyncS: number
}

export type MqttLinkConfig =
  | { url: string, topic?: string, username?: string, passwordFile?: string, caFile?: string, certFile?: string, keyFile?: string }
  | { embedded: EmbeddedBrokerConfig, topic?: string }

export interface EmbeddedBrokerConfig {
  host: string
  port: number
  /** { "devices": { "<id>": "sha256:…" } }, mode 0600. */
  credentialsFile?: string
  /** TLS only; with caFile, devices may log in with a client certificate (CN = device id). */
  tls?: { certFile: string, keyFile: string, caFile?: string }
}

const BAUD_MIN = 300
const BAUD_MAX = 4_000_000
const USB_ID_RE = /^[0-9a-fA-F]{1,4}$/
const TOPIC_RE = /^[^/+#\s]{1,128}$/

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function onlyKeys (v: Record<string, unknown>, known: string[], where: string): void {
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new CliError(`config: ${where}: unknown field "${k}" (expected ${known.join(', ')})`)
}

function int (v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CliError(`config: ${where} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return v
}

function str (v: unknown, where: string, re?: RegExp, what = 'a non-empty string'): string {
  if (typeof v !== 'string' || v.length === 0 || (re !== undefined && !re.test(v))) throw new CliError(`config: ${where} must be ${what}, got ${JSON.stringify(v)}`)
  return v
}

/** Validates the `devices` section of config.json; throws a one-line CliError naming the field. `rel` resolves paths against the data dir. */
export function parseDevicesConfig (v: unknown, rel: (path: string) => string = p => p): DevicesConfig | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw new CliError('config: devices must be an object like { "serial": [...], "mqtt": {...} }')
  onlyKeys(v, ['serial', 'mqtt', 'timeSyncS'], 'devices')
  const out: DevicesConfig = { serial: [], timeSyncS: v.timeSyncS === undefined ? 600 : int(v.timeSyncS, 'devices.timeSyncS', 1, 86_400) }
  if (v.serial !== undefined) {
    if (!Array.isArray(v.serial)) throw new CliError('config: devices.serial must be a list of ports like [{ "path": "/dev/ttyUSB0" }]')
    const seen = new Set<string>()
    v.serial.forEach((p: unknown, i: number) => {
      const where = `devices.serial[${i}]`
      if (!isObject(p)) throw new CliError(`config: ${where} must be an object like { "path": "/dev/ttyUSB0", "baudRate": 115200 }`)
      onlyKeys(p, ['path', 'vendorId', 'productId', 'serialNumber', 'baudRate'], where)
      const spec: SerialPortSpec = {}
      if (p.path !== undefined) spec.path = str(p.path, `${where}.path`)
      if (p.vendorId !== undefined) spec.vendorId = str(p.vendorId, `${where}.vendorId`, USB_ID_RE, '1..4 hex digits (as `ls /dev/serial/by-id` or SerialPort.list() shows it)').toLowerCase()
      if (p.productId !== undefined) spec.productId = str(p.productId, `${where}.productId`, USB_ID_RE, '1..4 hex digits').toLowerCase()
      if (p.serialNumber !== undefined) spec.serialNumber = str(p.serialNumber, `${where}.serialNumber`)
      if (p.baudRate !== undefined) spec.baudRate = int(p.baudRate, `${where}.baudRate`, BAUD_MIN, BAUD_MAX)
      const byUsb = spec.vendorId !== undefined || spec.productId !== undefined || spec.serialNumber !== undefined
      if (spec.path === undefined && !byUsb) throw new CliError(`config: ${where} needs "path", or "vendorId"/"productId"/"serialNumber" of a USB adapter`)
      if (spec.path !== undefined && byUsb) throw new CliError(`config: ${where}: give either "path" or USB ids, not both`)
      const key = spec.path ?? `usb:${spec.vendorId ?? '*'}:${spec.productId ?? '*'}:${spec.serialNumber ?? '*'}`
      if (seen.has(key)) throw new CliError(`config: ${where}: port ${key} is listed twice`)
      seen.add(key)
      out.serial.push(spec)
    })
  }
  if (v.mqtt !== undefined && v.mqtt !== null) {
    const m = v.mqtt
    if (!isObject(m)) throw new CliError('config: devices.mqtt must be { "url": "mqtt://host:1883" } or { "embedded": { "host": "127.0.0.1", "port": 1883 } }')
    onlyKeys(m, ['url', 'embedded', 'topic', 'username', 'passwordFile', 'caFile', 'certFile', 'keyFile'], 'devices.mqtt')
    const topic = m.topic === undefined ? undefined : str(m.topic, 'devices.mqtt.topic', TOPIC_RE, '1..128 characters, none of / + # or spaces')
    if ((m.url === undefined) === (m.embedded === undefined)) throw new CliError('config: devices.mqtt needs exactly one of "url" (a broker) or "embedded" (a broker inside the hub)')
    if (m.url !== undefined) {
      const url = str(m.url, 'devices.mqtt.url')
      let u: URL
      try { u = new URL(url) } catch { throw new CliError(`config: devices.mqtt.url is not a URL: ${JSON.stringify(url)}`) }
      if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'].includes(u.protocol)) throw new CliError(`config: devices.mqtt.url must be mqtt://, mqtts://, ws:// or wss://, got ${JSON.stringify(url)}`)
      if (u.username !== '' || u.password !== '') throw new CliError('config: devices.mqtt.url must not hold credentials: use "username" and "passwordFile" (mode 0600)')
      const secure = ['mqtts:', 'ssl:', 'tls:', 'wss:'].includes(u.protocol)
      const link: MqttLinkConfig = { url, ...(topic !== undefined ? { topic } : {}) }
      if (m.username !== undefined) link.username = str(m.username, 'devices.mqtt.username')
      for (const k of ['passwordFile', 'caFile', 'certFile', 'keyFile'] as const) if (m[k] !== undefined) link[k] = rel(str(m[k], `devices.mqtt.${k}`))
      if (link.passwordFile !== undefined && link.username === undefined) throw new CliError('config: devices.mqtt.passwordFile needs "username"')
      if ((link.certFile === undefined) !== (link.keyFile === undefined)) throw new CliError('config: devices.mqtt.certFile and keyFile go together (a client certificate and its key)')
      if (!secure && (link.caFile !== undefined || link.certFile !== undefined)) throw new CliError(`config: devices.mqtt: caFile and certFile are for TLS; use an mqtts:// url, got ${JSON.stringify(url)}`)
      out.mqtt = link
    } else {
      const e = m.embedded
      if (!isObject(e)) throw new CliError('config: devices.mqtt.embedded must be an object like { "host": "127.0.0.1", "port": 1883 }')
      onlyKeys(e, ['host', 'port', 'credentialsFile', 'tls'], 'devices.mqtt.embedded')
      const embedded: EmbeddedBrokerConfig = {
        host: e.host === undefined ? '127.0.0.1' : str(e.host, 'devices.mqtt.embedded.host'),
        port: e.port === undefined ? (e.tls === undefined ? 1883 : 8883) : int(e.port, 'devices.mqtt.embedded.port', 1, 65_535)
      }
      if (e.credentialsFile !== undefined) embedded.credentialsFile = rel(str(e.credentialsFile, 'devices.mqtt.embedded.credentialsFile'))
      if (e.tls !== undefined) {
        const t = e.tls
        if (!isObject(t)) throw new CliError('config: devices.mqtt.embedded.tls must be { "certFile": …, "keyFile": …, "caFile": … }')
        onlyKeys(t, ['certFile', 'keyFile', 'caFile'], 'devices.mqtt.embedded.tls')
        embedded.tls = { certFile: rel(str(t.certFile, 'devices.mqtt.embedded.tls.certFile')), keyFile: rel(str(t.keyFile, 'devices.mqtt.embedded.tls.keyFile')) }
        if (t.caFile !== undefined) embedded.tls.caFile = rel(str(t.caFile, 'devices.mqtt.embedded.tls.caFile'))
      }
      out.mqtt = { embedded, ...(topic !== undefined ? { topic } : {}) }
    }
  }
  return out
}

/** A bridge with a name, for logs and errors ('serial', 'mqtt', 'emulator'). */
export interface NamedBridge { name: string, bridge: Bridge }

/**
 * Every device link of a hub as one Bridge: starts them all (stopping those already started if
 * one fails), stops them all, and lists every device once (where it was heard last).
 */
export class CompositeBridge implements Bridge {
  private started: NamedBridge[] = []
  constructor (readonly parts: NamedBridge[], private readonly log: Logger = {}) {}

  async start (host: BridgeHost): Promise<void> {
    for (const p of this.parts) {
      try {
        await p.bridge.start(host)
      } catch (err) {
        await this.stop()
        if (err instanceof CliError) throw err
        throw new CliError(`devices: cannot start the ${p.name} link: ${String((err as Error)?.message ?? err)}`)
      }
      this.started.push(p)
      this.log.info?.({ link: p.name }, 'device link started')
    }
  }

  async stop (): Promise<void> {
    const started = this.started.reverse()
    this.started = []
    for (const p of started) {
      try {
        await p.bridge.stop()
      } catch (err) {
        this.log.warn?.({ link: p.name, err: String((err as Error)?.message ?? err) }, 'device link stop failed')
      }
    }
  }

  /** Counters of every link that keeps them (serial: frames, bad frames, dropped writes; MQTT: connects…). */
  stats (): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const p of this.parts) {
      const s = (p.bridge as { stats?: () => unknown }).stats
      if (typeof s === 'function') out[p.name] = s.call(p.bridge)
    }
    return out
  }

  /** One row per device: if several links know it (a device moved), the one it was heard on last. */
  devices (): DeviceLinkStatus[] {
    const rows = new Map<string, DeviceLinkStatus>()
    for (const p of this.parts) {
      for (const r of p.bridge.devices()) {
        const had = rows.get(r.device)
        if (had === undefined || better(r, had)) rows.set(r.device, r)
      }
    }
    return [...rows.values()].sort((a, b) => a.device < b.device ? -1 : a.device > b.device ? 1 : 0)
  }
}

function better (a: DeviceLinkStatus, b: DeviceLinkStatus): boolean {
  if (a.connected !== b.connected) return a.connected
  return (a.lastReportAt ?? 0) > (b.lastReportAt ?? 0)
}

/** MQTT with a broker inside the hub process: the broker starts first and stops last; the hub's client connects in-process. */
function embeddedMqttBridge (o: EmbeddedBrokerConfig & { topic: string, timeSyncMs: number, logger: Logger, auth?: BrokerAuth }): Bridge {
  let broker: EmbeddedBroker | undefined
  let bridge: Bridge | undefined
  return {
    async start (host: BridgeHost): Promise<void> {
      try {
        broker = await startEmbeddedBroker({ host: o.host, port: o.port, auth: o.auth, logger: o.logger })
      } catch (err) {
        throw new CliError(`devices.mqtt.embedded: cannot listen on ${o.host}:${o.port}: ${String((err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? err)}`)
      }
      const open = o.auth?.passwords === undefined && o.auth?.tls?.ca === undefined
      o.logger.info?.({ url: broker.url, devicesMustAuthenticate: !open, tls: o.auth?.tls !== undefined }, 'embedded MQTT broker listening')
      if (open && !isLoopback(o.host)) o.logger.warn?.({ host: o.host }, 'the embedded MQTT broker takes any client on the network: set devices.mqtt.embedded.credentialsFile (`ecandle mqtt-credentials`) or tls.caFile')
      const b = broker
      bridge = createMqttBridge({ url: broker.url, network: o.topic, timeSyncMs: o.timeSyncMs, logger: o.logger, connect: opts => b.connectHub(opts) })
      await bridge.start(host)
    },
    async stop (): Promise<void> {
      await bridge?.stop()
      await broker?.close()
      bridge = undefined
      broker = undefined
    },
    devices: () => bridge?.devices() ?? [],
    stats: () => ({ ...((bridge as { stats?: () => object } | undefined)?.stats?.() ?? {}), ...(broker?.stats() ?? {}) })
  } as Bridge
}

async function readPublic (path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new CliError(`${what} ${path}: ${String((err as NodeJS.ErrnoException).code ?? err)}`)
  }
}

/** `{ "devices": { "<id>": "sha256:<salt>:<hash>" } }` (mode 0600), as `ecandle mqtt-credentials` writes it. */
export async function readCredentialsFile (path: string): Promise<Map<string, string>> {
  const text = await readSecretFile(path, 'MQTT credentials file')
  let j: { devices?: Record<string, unknown> }
  try { j = JSON.parse(text) } catch { throw new CliError(`MQTT credentials file ${path}: not valid JSON`) }
  if (!isObject(j) || !isObject(j.devices)) throw new CliError(`MQTT credentials file ${path}: expected { "devices": { "<device id>": "sha256:…" } }`)
  const out = new Map<string, string>()
  for (const [id, h] of Object.entries(j.devices)) {
    if (typeof h !== 'string' || !/^sha256:[0-9a-f]{32}:[0-9a-f]{64}$/.test(h)) throw new CliError(`MQTT credentials file ${path}: devices.${id} must be a hash from \`ecandle mqtt-credentials\` (sha256:<salt>:<hash>)`)
    out.set(id, h)
  }
  return out
}

/** The serial and MQTT bridges of a `devices` config (not started); reads the secrets and certificates it names. */
export async function createDeviceBridges (c: DevicesConfig | undefined, o: { networkId: string, logger: Logger }): Promise<NamedBridge[]> {
  if (c === undefined) return []
  const out: NamedBridge[] = []
  const timeSyncMs = c.timeSyncS * 1000
  if (c.serial.length > 0) out.push({ name: 'serial', bridge: createSerialBridge({ ports: c.serial, timeSyncMs, logger: o.logger }) })
  if (c.mqtt !== undefined) {
    const topic = c.mqtt.topic ?? o.networkId
    if ('url' in c.mqtt) {
      const m = c.mqtt
      const clientOptions: MqttBridgeOptions['clientOptions'] = {
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(m.passwordFile !== undefined ? { password: (await readSecretFile(m.passwordFile, 'MQTT password file')).trim() } : {}),
        ...(m.caFile !== undefined ? { ca: await readPublic(m.caFile, 'devices.mqtt.caFile') } : {}),
        ...(m.certFile !== undefined ? { cert: await readPublic(m.certFile, 'devices.mqtt.certFile') } : {}),
        ...(m.keyFile !== undefined ? { key: await readSecretFile(m.keyFile, 'MQTT client key') } : {}),
        rejectUnauthorized: true
      }
      out.push({ name: 'mqtt', bridge: createMqttBridge({ url: m.url, network: topic, timeSyncMs, logger: o.logger, clientOptions }) })
    } else {
      const e = c.mqtt.embedded
      const auth: BrokerAuth = { network: topic }
      if (e.credentialsFile !== undefined) auth.passwords = await readCredentialsFile(e.credentialsFile)
      if (e.tls !== undefined) {
        auth.tls = {
          cert: await readPublic(e.tls.certFile, 'devices.mqtt.embedded.tls.certFile'),
          key: await readSecretFile(e.tls.keyFile, 'embedded MQTT broker TLS key'),
          ...(e.tls.caFile !== undefined ? { ca: await readPublic(e.tls.caFile, 'devices.mqtt.embedded.tls.caFile') } : {})
        }
      }
      out.push({ name: 'mqtt-embedded', bridge: embeddedMqttBridge({ ...e, topic, timeSyncMs, logger: o.logger, auth }) })
    }
  }
  return out
}
