import type { Explanation, ReasonCode, TallyResult } from './types.js'

/** Everything the tally says about one device, plus a human-readable summary. */
export function explain (result: TallyResult, deviceId: string): Explanation {
  const reports = result.statuses.filter((s) => s.device === deviceId)
  const row = result.devices.find((d) => d.device === deviceId) ?? null
  const byStatus: Partial<Record<'counted' | ReasonCode, number>> = {}
  for (const s of reports) {
    const k = s.reason ?? 'counted'
    byStatus[k] = (byStatus[k] ?? 0) + 1
  }
  const lines: string[] = []
  lines.push(`device ${deviceId}, epoch ${result.epoch}: ${reports.length} report(s) in segment`)
  for (const s of reports) {
    const what = s.reason === null ? `counted ${s.countedMwh} mWh${s.partial ? ' (partial, hit cap)' : ''}` : s.reason
    lines.push(`  ${s.hub}#${s.seq}.${s.index} counter ${s.counter} report ${s.reportId}: ${what}`)
  }
  const t = result.totals
  if (row === null) {
    lines.push(`  nothing counted: no reward (epoch total ${t.countedMwh} mWh)`)
  } else {
    lines.push(`  counted ${row.countedMwh} of ${t.countedMwh} mWh -> reward floor(${t.distributable} * ${row.countedMwh} / ${t.countedMwh}) = ${row.reward}`)
    lines.push(`  capex ${row.capex} -> ${row.capexAccount}, opex ${row.opex} -> ${row.opexAccount}`)
  }
  return { device: deviceId, row, reports, byStatus, text: lines.join('\n') }
}
