import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Bridge, BridgeHost, DeviceLinkStatus } from './bridge.js'
import { DeviceTable } from './device-table.js'
import { MAX_PAYLOAD_BYTES } from './frame.js'
import { LinkSession, newSessionStats, type LinkSessionStats } from './link-session.js'
import type { Logger } from './logger.js'
import { encodeMessage } from './messages.js'

/**
 * Topics (docs/device-protocol.md §MQTT). Every message body is one DAG-CBOR link message, no
 * line framing: MQTT already frames and TCP already checksums.
 *   ecandle/<net>/dev/<device>/up    device → hub  (hello, report, error)
 *   ecandle/<net>/dev/<device>/down  hub → device  (ack, time, error)
 *   ecandle/<net>/time               hub → every device (time)
 */
export const mqttTopics = {
  up: (net: string, device: string): string => `ecandle/${net}/dev/${device}/up`,
  down: (net: string, device: string): string => `ecandle/${net}/dev/${device}/down`,
  time: (net: string): string => `ecandle/${net}/time`,
  allUp: (net: string): string => `ecandle/${net}/dev/+/up`
}

/**
 * The hub's legs of the message flow (broker → hub, hub → broker) are QoS 0: a message lost there
 * (only when a connection breaks) costs a resend (D4) and never a report, since acks are sent only
 * for what is stored. QoS 1 would add a PUBACK per message each way, a stored copy of every ack,
 * and the broker's in-flight window (20 messages) in front of the hub. Devices publish at QoS 1.
 */
const HUB_QOS = 0

const UP_RE = /^ecandle\/[^/]+\/dev\/([A-Za-z0-9._-]{1,64})\/up$/

export interface MqttBridgeOptions {
  /** e.g. mqtt://127.0.0.1:1883 */
  url: string
  /** Topic segment naming the network (the network id, or a short name); no '/', '+', '#'. */
  network: string
  /** Passed to mqtt.connect (credentials, TLS, clientId…). */
  clientOptions?: IClientOptions
  /** Makes the client instead of mqtt.connect(url) (the embedded broker's in-process connection). */
  connect?: (opts: IClientOptions) => MqttClient
  /** Broadcast the hub clock this often; default 10 min. */
  timeSyncMs?: number
  /** Publishes not yet written to the broker connection; beyond this, messages are dropped (devices resend). Default 1000. */
  maxPendingPublishes?: number
  maxReportAgeS?: number
  logger?: Logger
}

export interface MqttBridge extends Bridge {
  stats: () => LinkSessionStats & { connects: number, oversize: number, droppedPublishes: number, connectErrors: number, lastConnectError?: string }
}

/** Devices talking to the hub through an MQTT broker, QoS 1 both ways. */
export function createMqttBridge (opts: MqttBridgeOptions): MqttBridge {
  if (!/^[^/+#\s]{1,128}$/.test(opts.network)) throw new TypeError('network: 1..128 characters, none of / + # or spaces')
  const net = opts.network
  const link = `mqtt:${opts.url}`
  const table = new DeviceTable()
  const log = opts.logger ?? {}
  const maxPending = opts.maxPendingPublishes ?? 1000
  const sessionStats = newSessionStats()
  const extra: { connects: number, oversize: number, droppedPublishes: number, connectErrors: number, lastConnectError?: string } = { connects: 0, oversize: 0, droppedPublishes: 0, connectErrors: 0 }
  let client: MqttClient | undefined
  let session: LinkSession | undefined
  let syncTimer: NodeJS.Timeout | undefined
  let pending = 0

  function publish (topic: string, body: Uint8Array): void {
    const c = client
    // Offline publishes would queue without bound in the client; the device resends instead.
    if (c === undefined || !c.connected || pending >= maxPending) { extra.droppedPublishes++; return }
    pending++
    c.publish(topic, Buffer.from(body), { qos: HUB_QOS }, err => {
      pending--
      if (err != null) log.debug?.({ topic, err: err.message }, 'mqtt: publish failed')
    })
  }

  return {
    async start (host: BridgeHost): Promise<void> {
      if (client !== undefined) return
      session = new LinkSession({
        link,
        host,
        table,
        logger: log,
        maxReportAgeS: opts.maxReportAgeS,
        stats: sessionStats,
        send: (m, device) => { publish(device === undefined ? mqttTopics.time(net) : mqttTopics.down(net, device), encodeMessage(m)) }
      })
      const s = session
      const clientOpts: IClientOptions = { reconnectPeriod: 1000, connectTimeout: 10_000, clean: true, ...opts.clientOptions }
      const c = opts.connect !== undefined ? opts.connect(clientOpts) : mqtt.connect(opts.url, clientOpts)
      client = c
      c.on('connect', () => {
        extra.connects++
        extra.lastConnectError = undefined
        noDelay(c)
        coalesceWrites(c)
        log.info?.({ url: opts.url }, 'mqtt: connected')
        c.subscribe(mqttTopics.allUp(net), { qos: HUB_QOS }, err => {
          if (err != null) log.warn?.({ err: err.message }, 'mqtt: subscribe failed')
          else s.sendTime() // time sync at connect
        })
      })
      c.on('close', () => { table.disconnectLink(link) })
      c.on('error', err => {
        // Refused by the broker (bad credentials, not authorized) or TLS failed: said once per
        // reason at warn (the client retries every second), then at debug.
        extra.connectErrors++
        const why = err.message
        if (why !== extra.lastConnectError) log.warn?.({ url: opts.url, err: why }, 'mqtt: cannot connect to the broker')
        else log.debug?.({ err: why }, 'mqtt: client error')
        extra.lastConnectError = why
      })
      c.on('message', (topic, body) => {
        const m = UP_RE.exec(topic)
        if (m === null) return
        if (body.byteLength > MAX_PAYLOAD_BYTES) { extra.oversize++; return }
        s.handle(new Uint8Array(body), m[1])
      })
      syncTimer = setInterval(() => { s.sendTime() }, opts.timeSyncMs ?? 600_000)
      syncTimer.unref()
    },
    async stop (): Promise<void> {
      if (syncTimer !== undefined) clearInterval(syncTimer)
      session?.close()
      const c = client
      client = undefined
      table.disconnectLink(link)
      if (c !== undefined) await c.endAsync(true)
    },
    devices: (): DeviceLinkStatus[] => table.all(),
    stats: () => ({ ...sessionStats, ...extra })
  }
}

/** Small messages, each waiting for an answer: Nagle's algorithm would add ~40 ms per hop. */
export function noDelay (c: MqttClient): void {
  const stream = c.stream as { setNoDelay?: (v: boolean) => void } | undefined
  stream?.setNoDelay?.(true)
}

/**
 * Packets written in one turn of the event loop leave in one write: the client answers every
 * QoS 1 message of a socket read with its own PUBACK, one system call each (mqtt-packet uncorks
 * per packet); held corked until the turn ends, they go together. Latency: at most that turn.
 */
export function coalesceWrites (c: MqttClient): void {
  const stream = c.stream as { cork?: () => void, uncork?: () => void, on?: (e: string, f: () => void) => void } | undefined
  if (stream?.cork === undefined || stream.uncork === undefined || stream.on === undefined) return
  let corked = false
  stream.on('data', () => {
    if (corked) return
    corked = true
    stream.cork?.()
    setImmediate(() => { corked = false; stream.uncork?.() })
  })
}
