import { randomBytes } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import { SerialPort } from 'serialport'
import { AgentStore } from './agent-store.js'
import { DeviceAgent, type DeviceAgentOptions } from './device-agent.js'
import { DeviceClock } from './device-clock.js'
import type { EmulatedDevice } from './emulator.js'
import { FrameDecoder, decodeMessage, encodeFrame, encodeMessage, mqttTopics, noDelay, type Ack, type LinkMessage, type Logger } from '@ecandle/hardware-bridge'
import { DEFAULT_LOCATION, type Location } from './sun.js'

/** Chances, per message sent, of misbehaving the way real links and firmware do. */
export interface FaultInjection {
  /** Random bytes before the frame (line noise, a boot banner). */
  garbage?: number
  /** A frame cut short before it (a reset mid-write). */
  truncate?: number
  /** A frame longer than the maximum before it. */
  oversize?: number
  /** The same frame sent twice (a resend racing its ack). */
  duplicate?: number
}

export interface DeviceSideOptions {
  devices: EmulatedDevice[]
  location?: Location
  reportIntervalS: number
  /** Flash of the emulated devices (JSON); omitted: kept in memory only. */
  statePath?: string
  resendAfterMs?: number
  /** Reports each device keeps in flight (docs/device-protocol.md D4); default 1. */
  window?: number
  /** Unacked reports each device keeps in flash (the oldest is dropped beyond it); default 1000. */
  maxQueue?: number
  /** Each device's clock starts off by this much (ms) until the hub sets it. */
  clockSkewMs?: number
  /** Each device's clock runs fast (+) or slow (−) by this many parts per million. */
  driftPpm?: number
  /** Reboot a random device this often (ms); 0 = never. */
  rebootEveryMs?: number
  faults?: FaultInjection
  /** Reports per device to make up front, for the periods before now. */
  backfill?: number
  faultRate?: number
  logger?: Logger
  pollMs?: number
  /** Every ack a device takes (stored, duplicate or refused), e.g. to log what the hub acknowledged. */
  onAck?: (ack: Ack) => void
}

export interface DeviceSideStats { garbage: number, truncated: number, oversize: number, duplicates: number, reconnects: number }

export interface DeviceSide {
  readonly agents: DeviceAgent[]
  readonly stats: DeviceSideStats
  start: () => Promise<void>
  stop: () => Promise<void>
}

function makeAgents (o: DeviceSideOptions, store: AgentStore, sendFor: (id: string) => (m: LinkMessage) => void): DeviceAgent[] {
  return o.devices.map(device => {
    const a: DeviceAgentOptions = {
      device,
      location: o.location ?? DEFAULT_LOCATION,
      reportIntervalS: o.reportIntervalS,
      clock: new DeviceClock(Date.now, o.clockSkewMs ?? 0, o.driftPpm ?? 0),
      store,
      send: sendFor(device.id),
      resendAfterMs: o.resendAfterMs,
      window: o.window,
      maxQueue: o.maxQueue,
      faultRate: o.faultRate,
      logger: o.logger,
      onAck: o.onAck
    }
    const agent = new DeviceAgent(a)
    if ((o.backfill ?? 0) > 0) agent.backfill(o.backfill ?? 0)
    return agent
  })
}

/** Frames that are not valid, for fault injection: they must never be taken for a message. */
function junk (kind: 'garbage' | 'truncate' | 'oversize', frame: Uint8Array): Uint8Array {
  switch (kind) {
    case 'garbage': return randomBytes(1 + Math.floor(Math.random() * 64))
    case 'truncate': return frame.subarray(0, 1 + Math.floor(Math.random() * (frame.byteLength - 2)))
    case 'oversize': return Buffer.from(`$${randomBytes(600).toString('base64')}*00000000\n`, 'latin1')
  }
}

/** Polls agents, reboots them now and then; shared by the serial and MQTT device sides. */
class Runner {
  private timer?: NodeJS.Timeout
  private lastReboot = Date.now()
  constructor (private readonly agents: DeviceAgent[], private readonly o: DeviceSideOptions) {}
  start (): void {
    this.timer = setInterval(() => {
      for (const a of this.agents) a.poll()
      const every = this.o.rebootEveryMs ?? 0
      if (every > 0 && Date.now() - this.lastReboot >= every && this.agents.length > 0) {
        this.lastReboot = Date.now()
        this.agents[Math.floor(Math.random() * this.agents.length)].reboot()
      }
    }, this.o.pollMs ?? 100)
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }
}

/** Emulated devices behind one serial port (or one end of a pseudo-terminal pair). */
export function serialDeviceSide (path: string, o: DeviceSideOptions & { baudRate?: number, reconnectMs?: number }): DeviceSide {
  const store = new AgentStore(o.statePath)
  const stats: DeviceSideStats = { garbage: 0, truncated: 0, oversize: 0, duplicates: 0, reconnects: 0 }
  let port: SerialPort | undefined
  let running = false
  let retry: NodeJS.Timeout | undefined
  const f = o.faults ?? {}
  const chance = (p?: number): boolean => p !== undefined && p > 0 && Math.random() < p

  function write (bytes: Uint8Array): boolean {
    // Bounded: a hub that does not read must not grow our memory. Like a UART with a full buffer,
    // the line takes nothing more now; the device tries again at its next poll.
    if (port?.isOpen !== true || port.writableLength >= 64 * 1024) return false
    port.write(Buffer.from(bytes))
    return true
  }

  function send (m: LinkMessage): boolean {
    const frame = encodeFrame(encodeMessage(m))
    if (chance(f.garbage)) { stats.garbage++; write(junk('garbage', frame)) }
    if (chance(f.truncate)) { stats.truncated++; write(junk('truncate', frame)) }
    if (chance(f.oversize)) { stats.oversize++; write(junk('oversize', frame)) }
    const sent = write(frame)
    if (sent && chance(f.duplicate)) { stats.duplicates++; write(frame) }
    return sent
  }

  const agents = makeAgents(o, store, () => send)
  const runner = new Runner(agents, o)
  const decoder = new FrameDecoder(payload => {
    let m: LinkMessage
    try { m = decodeMessage(payload) } catch { return }
    for (const a of agents) a.onMessage(m)
  })

  async function open (): Promise<void> {
    retry = undefined
    if (!running) return
    const p = new SerialPort({ path, baudRate: o.baudRate ?? 115_200, autoOpen: false })
    p.on('error', () => {})
    try {
      await new Promise<void>((resolve, reject) => { p.open(err => { if (err != null) reject(err); else resolve() }) })
    } catch {
      retry = setTimeout(() => { void open() }, o.reconnectMs ?? 500)
      return
    }
    if (!running) { p.close(() => {}); return }
    port = p
    stats.reconnects++
    decoder.reset()
    p.on('data', (chunk: Buffer) => { decoder.push(chunk) })
    p.once('close', () => {
      port = undefined
      for (const a of agents) a.disconnected()
      if (running) retry = setTimeout(() => { void open() }, o.reconnectMs ?? 500)
    })
    for (const a of agents) a.connected()
  }

  return {
    agents,
    stats,
    async start () {
      running = true
      await open()
      runner.start()
    },
    async stop () {
      running = false
      runner.stop()
      if (retry !== undefined) clearTimeout(retry)
      store.flush()
      const p = port
      if (p?.isOpen === true) await new Promise<void>(resolve => { p.close(() => { resolve() }) })
    }
  }
}

/** How an emulated device proves itself to a broker that asks (docs/operations.md, device links). */
export interface MqttDeviceAuth {
  /** Device id → password; the username is the device id. */
  passwords?: ReadonlyMap<string, string>
  /** CA that signed the broker's certificate (mqtts://). */
  ca?: string | Buffer
  /** Device id → its client certificate and key (subject CN = the device id). */
  certs?: (device: string) => { cert: string | Buffer, key: string | Buffer } | undefined
}

/** Emulated devices on an MQTT broker, one client per device with an 'offline' last will. */
export function mqttDeviceSide (url: string, network: string, o: DeviceSideOptions & { auth?: MqttDeviceAuth }): DeviceSide {
  const store = new AgentStore(o.statePath)
  const stats: DeviceSideStats = { garbage: 0, truncated: 0, oversize: 0, duplicates: 0, reconnects: 0 }
  const clients = new Map<string, MqttClient>()
  const f = o.faults ?? {}
  const chance = (p?: number): boolean => p !== undefined && p > 0 && Math.random() < p

  const sendFor = (id: string) => (m: LinkMessage): boolean => {
    const c = clients.get(id)
    if (c?.connected !== true) return false
    const topic = mqttTopics.up(network, id)
    const body = Buffer.from(encodeMessage(m))
    if (chance(f.garbage)) { stats.garbage++; c.publish(topic, randomBytes(1 + Math.floor(Math.random() * 64)), { qos: 1 }) }
    if (chance(f.truncate)) { stats.truncated++; c.publish(topic, body.subarray(0, Math.max(1, body.byteLength - 5)), { qos: 1 }) }
    if (chance(f.oversize)) { stats.oversize++; c.publish(topic, randomBytes(600), { qos: 1 }) }
    c.publish(topic, body, { qos: 1 })
    if (chance(f.duplicate)) { stats.duplicates++; c.publish(topic, body, { qos: 1 }) }
    return true
  }

  const agents = makeAgents(o, store, sendFor)
  const runner = new Runner(agents, o)

  return {
    agents,
    stats,
    async start () {
      for (const a of agents) {
        const will = { topic: mqttTopics.up(network, a.id), payload: Buffer.from(encodeMessage({ type: 'error', code: 'offline', message: 'connection lost', device: a.id })), qos: 1 as const, retain: false }
        const password = o.auth?.passwords?.get(a.id)
        const cert = o.auth?.certs?.(a.id)
        const c = mqtt.connect(url, {
          clientId: `ecandle-dev-${a.id}`, reconnectPeriod: 500, clean: true, will,
          ...(password !== undefined ? { username: a.id, password } : {}),
          ...(o.auth?.ca !== undefined ? { ca: o.auth.ca } : {}),
          ...(cert !== undefined ? { cert: cert.cert, key: cert.key } : {})
        })
        clients.set(a.id, c)
        c.on('error', () => {})
        c.on('connect', () => {
          stats.reconnects++
          noDelay(c)
          c.subscribe([mqttTopics.down(network, a.id), mqttTopics.time(network)], { qos: 1 }, err => { if (err == null) a.connected() })
        })
        c.on('close', () => { a.disconnected() })
        c.on('message', (_topic, body) => {
          if (body.byteLength > 512) return
          try { a.onMessage(decodeMessage(new Uint8Array(body))) } catch {}
        })
      }
      runner.start()
    },
    async stop () {
      runner.stop()
      store.flush()
      await Promise.all([...clients.values()].map(async c => { await c.endAsync(true) }))
      clients.clear()
    }
  }
}
