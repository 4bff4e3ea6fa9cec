/**
 * A single-cell LiFePO4 battery: flat voltage plateau, steep ends. Voltage is what a real device
 * reports; state of charge is what it estimates from coulomb counting.
 */
const OCV: Array<[soc: number, mv: number]> = [
  [0, 2500], [5, 2900], [10, 3100], [20, 3200], [40, 3260], [60, 3290], [80, 3320], [95, 3350], [100, 3450]
]

/** Open-circuit voltage (mV) for a state of charge in percent, linearly interpolated. */
export function ocvMv (socPct: number): number {
  const s = Math.min(100, Math.max(0, socPct))
  for (let i = 1; i < OCV.length; i++) {
    const [s1, v1] = OCV[i]
    if (s <= s1) {
      const [s0, v0] = OCV[i - 1]
      return v0 + (v1 - v0) * (s - s0) / (s1 - s0)
    }
  }
  return OCV[OCV.length - 1][1]
}

/** Terminal voltage: open-circuit voltage, lifted while charging, sagging under load (≈ 50 mΩ·A at 3.2 V). */
export function terminalMv (socPct: number, chargeW: number, loadW: number): number {
  const amps = (chargeW - loadW) / 3.2
  return Math.round(Math.min(3650, Math.max(2000, ocvMv(socPct) + amps * 50)))
}
