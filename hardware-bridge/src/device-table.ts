import type { DeviceLinkStatus } from './bridge.js'

/**
 * Link status of every device a transport has heard from. Bounded: a flood of made-up device ids
 * (a broken device, a hostile broker client) evicts the least recently heard, never grows memory.
 */
export class DeviceTable {
  private readonly rows = new Map<string, DeviceLinkStatus>()
  /** UTC day (unix s / 86400) that each row's energyTodayMwh is for. */
  private readonly energyDay = new Map<string, number>()
  constructor (private readonly max = 10_000) {}

  get (device: string, link: string): DeviceLinkStatus {
    let row = this.rows.get(device)
    if (row === undefined) {
      row = { device, link, connected: false, errors: 0 }
      if (this.rows.size >= this.max) {
        const oldest = this.rows.keys().next().value as string
        this.rows.delete(oldest)
        this.energyDay.delete(oldest)
      }
    } else {
      this.rows.delete(device) // re-insert: Map order = least recently heard first
    }
    row.link = link
    this.rows.set(device, row)
    return row
  }

  /**
   * Adds a stored report's energy to the device's "energy today" (UTC day of the period end, on
   * the hub's clock `nowS`): a report of an earlier day does not count, a new day starts at 0.
   */
  addEnergy (row: DeviceLinkStatus, periodEndS: number, energyMwh: number, nowS: number): void {
    const today = Math.floor(nowS / 86_400)
    if (this.energyDay.get(row.device) !== today) {
      this.energyDay.set(row.device, today)
      row.energyTodayMwh = 0
    }
    if (Math.floor((periodEndS - 1) / 86_400) === today) row.energyTodayMwh = (row.energyTodayMwh ?? 0) + energyMwh
  }

  /** Marks every device last heard on `link` as disconnected (the port closed, the client left). */
  disconnectLink (link: string): void {
    for (const row of this.rows.values()) if (row.link === link) row.connected = false
  }

  all (): DeviceLinkStatus[] {
    return [...this.rows.values()].map(r => ({ ...r }))
  }
}
