import { terminalMv } from './battery.js'
import { hashString, smooth, unit } from './noise.js'
import { clearSkyFactor, solarDay, solarHour, sunsetMs, type Location } from './sun.js'

/** Fault flag bits carried in `UsageReport.faults`. */
export const Fault = {
  /** Battery below the low-voltage disconnect: all loads off. */
  lowBattery: 1,
  /** Battery low: lamp dimmed, only essential loads. */
  loadShed: 2,
  /** Battery too hot: charging stopped. */
  overTemp: 4,
  /** Panel open circuit (loose connector) for the day. */
  panel: 8
} as const

/** What one period of the device's life looked like, in report units. */
export interface PeriodSample {
  energyMwh: number
  solarMwh: number
  litS: number
  batteryMv: number
  soc: number
  tempDeciC: number
  faults: number
}

export interface DeviceModelOptions {
  id: string
  ratedWhPerDay: number
  location: Location
  /** Chance per day of a panel fault (default 0.005). */
  faultRate?: number
}

const STEP_S = 60
const CHARGE_EFFICIENCY = 0.92
const LVD_OFF_PCT = 3
const LVD_ON_PCT = 8
const SHED_PCT = 25
const OVER_TEMP_C = 55

/**
 * Physics of one eCandle, sized from its rating R (Wh per day):
 * - loads never draw more than 1.8 × R/24 W, so any report, however short, stays under the hub's
 *   plausibility bound of 2× the rating pro rata;
 * - a baseline load (phone charger, radio) of 0.5–0.9 × R/24 W runs around the clock, so energy
 *   is delivered at night and by day (tests and testnets need energy > 0 in most reports);
 * - the lamp adds 0.9 × R/24 W from sunset for 3.5–5.5 h (a per-device, per-day habit);
 * - the panel peaks at R/3.5 W: about 2 × R on a clear equatorial day, less with clouds, latitude
 *   and season, so some devices run low and shed load, as real ones do;
 * - the battery holds 2.5 days of rated use.
 */
export class DeviceModel {
  readonly capacityWh: number
  private readonly avgW: number
  private readonly panelW: number
  private readonly salt: number
  private readonly faultRate: number
  private readonly loc: Location
  private storedWh: number
  private disconnected = false
  // Fractions of a mWh carried to the next report so short periods do not lose energy to rounding.
  private energyCarry = 0
  private solarCarry = 0
  private tempC: number
  private readonly sunsets = new Map<number, number>()

  constructor (private readonly opts: DeviceModelOptions) {
    const r = Math.max(0, opts.ratedWhPerDay)
    this.avgW = r / 24
    this.panelW = r / 3.5
    this.capacityWh = 2.5 * r
    this.salt = hashString(opts.id)
    this.faultRate = opts.faultRate ?? 0.005
    this.loc = opts.location
    this.storedWh = this.capacityWh * (0.5 + 0.4 * unit(this.salt, -1))
    this.tempC = this.ambientC(0)
  }

  get socPct (): number {
    return this.capacityWh > 0 ? 100 * this.storedWh / this.capacityWh : 0
  }

  /** Simulates [startS, endS) and returns the report values for it. */
  simulate (startS: number, endS: number): PeriodSample {
    let energyWh = 0
    let solarWh = 0
    let litS = 0
    let faults = 0
    let lastChargeW = 0
    let lastLoadW = 0
    for (let t = startS; t < endS; t += STEP_S) {
      const dt = Math.min(STEP_S, endS - t)
      const mid = (t + dt / 2) * 1000
      const soc = this.socPct
      // Low-voltage disconnect with hysteresis, like a real charge controller.
      if (soc < LVD_OFF_PCT) this.disconnected = true
      else if (soc >= LVD_ON_PCT) this.disconnected = false
      const shed = !this.disconnected && soc < SHED_PCT
      const lit = !this.disconnected && this.lampOn(mid)
      let loadW = 0
      if (!this.disconnected) {
        loadW = shed ? 0.3 * this.avgW : this.baseW(t)
        if (lit) loadW += (shed ? 0.45 : 0.9) * this.avgW
      }
      const sun = clearSkyFactor(this.loc, mid)
      this.tempC = this.ambientC(mid) + 12 * sun * this.cloud(mid)
      const panelFault = this.panelFault(mid)
      const hot = this.tempC > OVER_TEMP_C
      let pvW = panelFault || hot ? 0 : this.panelW * sun * this.cloud(mid)
      // Battery balance over dt; a full battery curtails the panel to what the loads use.
      const netWh = (pvW - loadW) * dt / 3600
      if (netWh >= 0) {
        const room = (this.capacityWh - this.storedWh) / CHARGE_EFFICIENCY
        const charged = Math.min(netWh, room)
        this.storedWh += charged * CHARGE_EFFICIENCY
        pvW = loadW + charged * 3600 / dt
      } else {
        this.storedWh = Math.max(0, this.storedWh + netWh)
      }
      energyWh += loadW * dt / 3600
      solarWh += pvW * dt / 3600
      if (lit) litS += dt
      if (this.disconnected) faults |= Fault.lowBattery
      if (shed) faults |= Fault.loadShed
      if (hot) faults |= Fault.overTemp
      if (panelFault) faults |= Fault.panel
      lastChargeW = pvW
      lastLoadW = loadW
    }
    const energyMwh = this.takeEnergy(energyWh * 1000, endS - startS)
    const solarTotal = this.solarCarry + solarWh * 1000
    const solarMwh = Math.floor(solarTotal)
    this.solarCarry = solarTotal - solarMwh
    return {
      energyMwh,
      solarMwh,
      litS,
      batteryMv: terminalMv(this.socPct, lastChargeW, lastLoadW),
      soc: Math.round(this.socPct),
      tempDeciC: Math.max(-1000, Math.min(2000, Math.round(this.tempC * 10))),
      faults
    }
  }

  /**
   * Whole mWh to report, clamped to the plausibility bound (2× rating pro rata, integer exact as the
   * hub computes it). The model stays under 1.8×, so the clamp only bites on rounding carry.
   */
  private takeEnergy (mwh: number, periodS: number): number {
    const limit = Math.floor(this.opts.ratedWhPerDay * 2000 * periodS / 86_400)
    const total = this.energyCarry + mwh
    const whole = Math.min(Math.floor(total), limit)
    this.energyCarry = Math.min(total - whole, Math.max(1, limit))
    return Math.max(0, whole)
  }

  /** Baseline load, W: 0.5–0.9 × R/24, drifting hour by hour (phone charging, radio). */
  private baseW (tS: number): number {
    return this.avgW * (0.5 + 0.4 * smooth(this.salt ^ 0x5a5a, tS, 3600))
  }

  /** Cloud factor 0.2..1: a per-day weather level times a slower per-hour variation. */
  private cloud (tMs: number): number {
    const day = 0.35 + 0.65 * smooth(this.salt ^ 0xc10d, tMs / 1000, 86_400)
    const hour = 0.6 + 0.4 * smooth(this.salt ^ 0x4a11, tMs / 1000, 2 * 3600)
    return Math.max(0.2, day * hour)
  }

  private panelFault (tMs: number): boolean {
    return unit(this.salt ^ 0xfa17, solarDay(this.loc, tMs)) < this.faultRate
  }

  /** Lamp on from sunset for 3.5–5.5 h (this device's habit that day); the window may cross midnight. */
  private lampOn (tMs: number): boolean {
    const day = solarDay(this.loc, tMs)
    for (const d of [day, day - 1]) {
      const start = this.sunset(d)
      const hours = 3.5 + 2 * unit(this.salt ^ 0x1a3b, d)
      if (tMs >= start && tMs < start + hours * 3_600_000) return true
    }
    return false
  }

  private sunset (day: number): number {
    let t = this.sunsets.get(day)
    if (t === undefined) {
      t = sunsetMs(this.loc, day)
      if (this.sunsets.size >= 8) this.sunsets.delete(this.sunsets.keys().next().value as number)
      this.sunsets.set(day, t)
    }
    return t
  }

  /** Ambient °C: cooler away from the equator, seasons, a daily swing peaking mid-afternoon, a per-device offset. */
  private ambientC (tMs: number): number {
    const base = 27 - 0.4 * Math.abs(this.loc.lat) + 4 * (unit(this.salt, -2) - 0.5)
    // Seasons grow with latitude: warmest mid-July in the north, mid-January in the south.
    const yearPhase = 2 * Math.PI * (tMs / 86_400_000 - 196) / 365.25
    const season = 0.2 * this.loc.lat * Math.cos(yearPhase)
    return base + season + 5 * Math.sin(2 * Math.PI * (solarHour(this.loc, tMs) - 9) / 24)
  }
}
