/**
 * Deliberately naive reference model of the tally rules (string keys, sets of
 * reportIds, all-bigint arithmetic), written independently of src/tally.ts so
 * the property tests can compare the two.
 */
import type { ReasonCode, SegmentReport, TallyInput } from '../src/index.js'

export interface ModelResult {
  statuses: { key: string, reason: ReasonCode | null, counted: bigint }[]
  devices: [string, bigint, bigint, bigint, bigint][] // device, mwh, reward, capex, opex
  accounts: [string, bigint, bigint][] // account, amount, cumulative
  dust: bigint
}

const isInt = (x: number): boolean => Number.isSafeInteger(x) && x >= 0

function plausible (r: SegmentReport, rated: number): boolean {
  if (![r.counter, r.periodStart, r.periodEnd, r.energyMwh].every(isInt)) return false
  if (!(r.solarMwh >= 0 && r.litS >= 0 && Number.isFinite(r.solarMwh) && Number.isFinite(r.litS))) return false
  if (r.periodEnd <= r.periodStart) return false
  // docs/protocol.md §3: a period of at most one day, lit at most the whole period.
  if (r.periodEnd - r.periodStart > 86400 || r.litS > r.periodEnd - r.periodStart) return false
  if (!Number.isSafeInteger(rated) || rated < 0) throw new Error('model only supports integer ratings')
  return BigInt(r.energyMwh) * 86400n <= BigInt(rated) * 2000n * BigInt(r.periodEnd - r.periodStart)
}

export function model (input: TallyInput): ModelResult {
  const seg = [...input.segment].sort((a, b) => (a.hub < b.hub ? -1 : a.hub > b.hub ? 1 : a.seq !== b.seq ? a.seq - b.seq : a.index - b.index))
  const idsByKey = new Map<string, Set<string>>()
  for (const r of seg) {
    const k = `${r.device}:${r.counter}`
    if (!idsByKey.has(k)) idsByKey.set(k, new Set())
    idsByKey.get(k)!.add(r.reportId)
  }
  const cap = input.params.deviceCapMwhPerEpoch
  const consumed = new Set<string>()
  const counted = new Map<string, bigint>()
  const statuses: ModelResult['statuses'] = []
  for (const r of seg) {
    const k = `${r.device}:${r.counter}`
    const info = input.devices.get(r.device)
    let reason: ReasonCode | null = null
    let take = 0n
    if (!info) reason = 'unregistered'
    else if (idsByKey.get(k)!.size > 1 || input.equivocated.has(k)) reason = 'equivocated'
    else if (info.retired === true) reason = 'retired'
    else if (info.hub !== r.hub) reason = 'wrong-hub'
    else if (info.activeFromS !== undefined && !(r.periodStart >= info.activeFromS)) reason = 'not-yet-registered'
    else if (!plausible(r, info.ratedWhPerDay)) reason = 'implausible'
    else if (consumed.has(k)) reason = 'duplicate'
    else {
      consumed.add(k)
      const already = counted.get(r.device) ?? 0n
      if (already >= cap) reason = 'over-cap'
      else {
        take = BigInt(r.energyMwh) < cap - already ? BigInt(r.energyMwh) : cap - already
        counted.set(r.device, already + take)
      }
    }
    statuses.push({ key: `${r.hub}/${r.seq}/${r.index}`, reason, counted: take })
  }
  const distributable = input.params.emissionPerEpoch + input.prev.dust
  const devs = [...counted].filter(([, c]) => c > 0n).sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const total = devs.reduce((s, [, c]) => s + c, 0n)
  const amounts = new Map<string, bigint>()
  const devices: ModelResult['devices'] = []
  let paid = 0n
  for (const [d, c] of devs) {
    const reward = (distributable * c) / total
    const capex = (reward * BigInt(input.params.capexBps)) / 10000n
    const info = input.devices.get(d)!
    amounts.set(info.capex, (amounts.get(info.capex) ?? 0n) + capex)
    amounts.set(info.opex, (amounts.get(info.opex) ?? 0n) + reward - capex)
    devices.push([d, c, reward, capex, reward - capex])
    paid += reward
  }
  const names = [...new Set([...input.prev.cumulative.keys(), ...amounts.keys()])].sort()
  const accounts: ModelResult['accounts'] = names.map((a) => [a, amounts.get(a) ?? 0n, (input.prev.cumulative.get(a) ?? 0n) + (amounts.get(a) ?? 0n)])
  return { statuses, devices, accounts, dust: distributable - paid }
}
