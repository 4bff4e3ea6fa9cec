import { SerialPort } from 'serialport'
import type { Bridge, BridgeHost, DeviceLinkStatus } from './bridge.js'
import { DeviceTable } from './device-table.js'
import { FrameDecoder, encodeFrame, type FrameDecoderStats } from './frame.js'
import { LinkSession, newSessionStats, type LinkSessionStats } from './link-session.js'
import type { Logger } from './logger.js'
import { encodeMessage } from './messages.js'

/** A port by its path, or by USB ids (the path of a USB adapter changes when it is replugged). */
export interface SerialPortSpec {
  path?: string
  /** USB vendor id, hex as `SerialPort.list()` gives it, e.g. '1a86'. */
  vendorId?: string
  productId?: string
  serialNumber?: string
  baudRate?: number
}

export interface SerialBridgeOptions {
  ports: SerialPortSpec[]
  /** Retry opening a missing port this often; default 1000 ms. */
  reconnectMs?: number
  /** Broadcast the hub clock this often on every port; default 10 min. */
  timeSyncMs?: number
  /** Unsent bytes kept per port; beyond this, messages are dropped (acks get resent anyway). Default 64 KiB. */
  maxWriteBufferBytes?: number
  maxReportAgeS?: number
  logger?: Logger
}

export interface SerialPortStats {
  spec: SerialPortSpec
  path?: string
  open: boolean
  opens: number
  frames: FrameDecoderStats
  session: LinkSessionStats
  droppedWrites: number
}

export interface SerialBridge extends Bridge {
  stats: () => SerialPortStats[]
}

/** Finds the path of a port spec now: the path itself, or the first port whose USB ids match. */
export async function resolvePortPath (spec: SerialPortSpec): Promise<string | undefined> {
  if (spec.vendorId === undefined && spec.productId === undefined && spec.serialNumber === undefined) return spec.path
  const same = (a?: string, b?: string): boolean => a === undefined || a.toLowerCase() === b?.toLowerCase()
  const ports = await SerialPort.list()
  return ports.find(p => same(spec.vendorId, p.vendorId) && same(spec.productId, p.productId) && same(spec.serialNumber, p.serialNumber))?.path
}

/**
 * Devices on serial lines (one or several per port, as on an RS-485 bus or a USB hub of
 * candles behind one adapter), line-framed as in docs/device-protocol.md. A port that
 * disappears is retried every reconnectMs until it is back.
 */
export function createSerialBridge (opts: SerialBridgeOptions): SerialBridge {
  const table = new DeviceTable()
  const reconnectMs = opts.reconnectMs ?? 1000
  const maxWrite = opts.maxWriteBufferBytes ?? 64 * 1024
  const log = opts.logger ?? {}
  let host: BridgeHost | undefined
  let running = false
  let syncTimer: NodeJS.Timeout | undefined

  class Line {
    port?: SerialPort
    path?: string
    session?: LinkSession
    retry?: NodeJS.Timeout
    opens = 0
    droppedWrites = 0
    // One decoder and one set of counters per line, kept across reconnects.
    readonly decoder = new FrameDecoder(payload => { this.session?.handle(payload) })
    readonly sessionStats: LinkSessionStats = newSessionStats()
    constructor (readonly spec: SerialPortSpec) {}

    async connect (): Promise<void> {
      this.retry = undefined
      if (!running || host === undefined) return
      let path: string | undefined
      try {
        path = await resolvePortPath(this.spec)
      } catch (err) {
        log.debug?.({ err: (err as Error).message }, 'serial: listing ports failed')
      }
      if (path === undefined) { this.later(); return }
      const port = new SerialPort({ path, baudRate: this.spec.baudRate ?? 115_200, autoOpen: false })
      port.on('error', err => { log.debug?.({ path, err: err.message }, 'serial: port error') })
      try {
        await new Promise<void>((resolve, reject) => { port.open(err => { if (err != null) reject(err); else resolve() }) })
      } catch (err) {
        log.debug?.({ path, err: (err as Error).message }, 'serial: cannot open port yet')
        this.later()
        return
      }
      if (!running) { port.close(() => {}); return }
      const link = `serial:${path}`
      this.port = port
      this.path = path
      this.opens++
      const session = new LinkSession({
        link,
        host,
        table,
        logger: log,
        maxReportAgeS: opts.maxReportAgeS,
        stats: this.sessionStats,
        send: m => { this.write(port, encodeFrame(encodeMessage(m))) }
      })
      this.session = session
      this.decoder.reset()
      port.on('data', (chunk: Buffer) => { this.decoder.push(chunk) })
      port.once('close', () => {
        session.close()
        table.disconnectLink(link)
        if (this.port === port) this.port = undefined
        log.warn?.({ path }, 'serial: port closed')
        this.later()
      })
      log.info?.({ path }, 'serial: port open')
      session.sendTime() // devices that were waiting for a hub learn the time at once
    }

    write (port: SerialPort, bytes: Uint8Array): void {
      if (!port.isOpen || port.writableLength + bytes.byteLength > maxWrite) { this.droppedWrites++; return }
      port.write(Buffer.from(bytes), err => { if (err != null) log.debug?.({ err: err.message }, 'serial: write failed') })
    }

    later (): void {
      if (!running || this.retry !== undefined) return
      this.retry = setTimeout(() => { void this.connect() }, reconnectMs)
    }

    async close (): Promise<void> {
      if (this.retry !== undefined) clearTimeout(this.retry)
      this.retry = undefined
      const port = this.port
      this.port = undefined
      if (port?.isOpen === true) await new Promise<void>(resolve => { port.close(() => { resolve() }) })
    }
  }

  const lines = opts.ports.map(spec => new Line(spec))

  return {
    async start (h: BridgeHost): Promise<void> {
      if (running) return
      host = h
      running = true
      await Promise.all(lines.map(async l => { await l.connect() }))
      syncTimer = setInterval(() => { for (const l of lines) l.session?.sendTime() }, opts.timeSyncMs ?? 600_000)
      syncTimer.unref()
    },
    async stop (): Promise<void> {
      running = false
      if (syncTimer !== undefined) clearInterval(syncTimer)
      await Promise.all(lines.map(async l => { await l.close() }))
    },
    devices: (): DeviceLinkStatus[] => table.all(),
    stats: () => lines.map(l => ({
      spec: l.spec,
      path: l.path,
      open: l.port !== undefined, // set once open, cleared by the 'close' handler (after the table says disconnected)
      opens: l.opens,
      frames: { ...l.decoder.stats },
      session: { ...l.sessionStats },
      droppedWrites: l.droppedWrites
    }))
  }
}
