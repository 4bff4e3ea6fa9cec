/**
 * The one plausibility rule of a usage report (docs/protocol.md §3): hubs REJECT an entry holding an
 * implausible report (`verifyReport` of @ecandle/protocol calls this), and the tally marks one
 * `implausible`. It lives here, below the protocol package, so both use the very same function.
 */

export const PLAUSIBILITY = {
  /** A report period longer than this (seconds) is implausible. */
  maxPeriodS: 86_400,
  /** Delivered energy may exceed the rated Wh/day pro rata by at most this factor. */
  factor: 2
} as const

/** The fields of a report the rule reads (a UsageReport has them). */
export interface PlausibilityInput {
  periodStart: number
  periodEnd: number
  energyMwh: number
  litS: number
}

/**
 * Why a well-formed report is implausible, or undefined. Integer arithmetic only: for the safe
 * integers of a decoded report every product below stays under 2^53, so numbers are exact; bigints
 * take over for anything larger.
 */
export function implausibility (r: PlausibilityInput, ratedWhPerDay: number): string | undefined {
  const period = r.periodEnd - r.periodStart
  if (period <= 0) return 'period end is not after its start'
  if (period > PLAUSIBILITY.maxPeriodS) return `period of ${period} s is longer than ${PLAUSIBILITY.maxPeriodS} s`
  if (r.litS > period) return `lit ${r.litS} s in a period of ${period} s`
  // energy (mWh) ≤ rated (Wh/day) · 1000 · period/86400 · factor, cross-multiplied to stay integer
  const lhs = r.energyMwh * 86_400
  const rhs = ratedWhPerDay * 1000 * period * PLAUSIBILITY.factor
  const exceeds = Number.isSafeInteger(lhs) && Number.isSafeInteger(rhs)
    ? lhs > rhs
    : BigInt(r.energyMwh) * 86_400n > BigInt(ratedWhPerDay) * 1000n * BigInt(period) * BigInt(PLAUSIBILITY.factor)
  if (exceeds) return `delivered ${r.energyMwh} mWh in ${period} s exceeds ${PLAUSIBILITY.factor}× the device's rating`
  return undefined
}
