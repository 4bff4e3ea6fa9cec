import { createEmulator, type DeviceKeyFile } from '@ecandle/emulator'
import type { BridgeHost, DeviceLinkStatus } from '@ecandle/hardware-bridge'
import { fromHex, locationDegrees, type Network } from '@ecandle/protocol'
import type { Startable } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { HubConfig } from './config.js'
import { CompositeBridge, createDeviceBridges, type NamedBridge } from './devices.js'

export interface DeviceLinksComponents {
  net: Network
  /** Our peer id (the emulator runs our own devices). */
  self: string
  /** Where reports go (the hub's own log). */
  host: BridgeHost
  config: HubConfig
  deviceKeys?: DeviceKeyFile
  logger: Logger
}

/**
 * Every device link of the hub (emulator, serial ports, MQTT) behind one Bridge, feeding the hub's log.
 * A component: `stop` fires its signal (a start still in progress then fails once its links are open),
 * waits for that start, and closes every link opened, last first.
 */
export class DeviceLinks implements Startable {
  private bridge?: CompositeBridge
  private starting?: Promise<void>
  private shutdown = new AbortController()

  constructor (private readonly c: DeviceLinksComponents) {}

  isStarted (): boolean { return this.bridge !== undefined }

  private async links (): Promise<NamedBridge[]> {
    const { net, self, config, deviceKeys, logger } = this.c
    const links: NamedBridge[] = []
    if (deviceKeys !== undefined && config.emulator !== undefined) {
      // Ours in the network file, and keys of devices it does not name (registered at runtime, or not
      // yet: the hub log refuses their reports until their registration takes effect).
      const mine = deviceKeys.devices.filter(d => { const g = net.devices.get(d.id); return g === undefined || g.info.hub === self })
      const where = net.hubs.get(self)?.info.location
      links.push({
        name: 'emulator',
        bridge: createEmulator({
          devices: mine.map(d => ({ id: d.id, seed: fromHex(d.seed, `device ${d.id} seed`, 32), ratedWhPerDay: d.ratedWhPerDay })),
          // The sun model is local, not consensus: floating-point degrees are fine here.
          location: where === undefined ? undefined : locationDegrees(where),
          reportIntervalS: config.emulator.reportIntervalS,
          logger: logger.child({ component: 'emulator' })
        })
      })
    }
    links.push(...await createDeviceBridges(config.devices, { networkId: net.id, logger: logger.child({ component: 'devices' }) }))
    return links
  }

  async start (): Promise<void> {
    if (this.bridge !== undefined) return
    this.shutdown = new AbortController()
    const links = await this.links() // reads the links' secrets and certificates
    this.shutdown.signal.throwIfAborted() // stopped meanwhile: open nothing
    if (links.length === 0) return
    const bridge = new CompositeBridge(links, this.c.logger.child({ component: 'devices' }))
    this.bridge = bridge
    this.starting = bridge.start(this.c.host)
    try {
      await this.starting
    } catch (err) {
      this.bridge = undefined
      throw err
    } finally {
      this.starting = undefined
    }
    this.shutdown.signal.throwIfAborted()
  }

  async stop (): Promise<void> {
    this.shutdown.abort(new Error('device links stopped'))
    await this.starting?.catch(() => {})
    const bridge = this.bridge
    this.bridge = undefined
    await bridge?.stop()
  }

  /** One row per device (see CompositeBridge.devices). */
  devices (): DeviceLinkStatus[] { return this.bridge?.devices() ?? [] }

  /** Counters of every link that keeps them; undefined when no link runs. */
  stats (): Record<string, unknown> | undefined { return this.bridge?.stats() }
}
