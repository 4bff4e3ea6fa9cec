/**
 * A device's real-time clock: it runs fast or slow by `driftPpm` and starts off by `skewMs`
 * until the hub sets it. Time sync sets it; drift starts again from there.
 */
export class DeviceClock {
  private base: number
  private hostAtBase: number

  constructor (private readonly hostNow: () => number = Date.now, skewMs = 0, private readonly driftPpm = 0) {
    this.hostAtBase = hostNow()
    this.base = this.hostAtBase + skewMs
  }

  now (): number {
    return Math.round(this.base + (this.hostNow() - this.hostAtBase) * (1 + this.driftPpm / 1e6))
  }

  set (ms: number): void {
    this.base = ms
    this.hostAtBase = this.hostNow()
  }
}
