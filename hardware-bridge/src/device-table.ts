import type { DeviceLinkStatus } from './bridge.js'

/**
 * Link status of every device a transport has heard from. Bounded: a flood of made-up device ids
 * (a broken device, a hostile broker client) evicts the least recently heard, never grows memory.
 */
export class DeviceTable {
  private readonly rows = new Map<string, DeviceLinkStatus>()
  constructor (private readonly max = 10_000) {}

  get (device: string, link: string): DeviceLinkStatus {
    let row = this.rows.get(device)
    if (row === undefined) {
      row = { device, link, connected: false, errors: 0 }
      if (this.rows.size >= this.max) this.rows.delete(this.rows.keys().next().value as string)
    } else {
      this.rows.delete(device) // re-insert: Map order = least recently heard first
    }
    row.link = link
    this.rows.set(device, row)
    return row
  }

  /** Marks every device last heard on `link` as disconnected (the port closed, the client left). */
  disconnectLink (link: string): void {
    for (const row of this.rows.values()) if (row.link === link) row.connected = false
  }

  all (): DeviceLinkStatus[] {
    return [...this.rows.values()].map(r => ({ ...r }))
  }
}
