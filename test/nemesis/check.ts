import type { EpochSummary } from '@ecandle/client'
import type { Network } from '@ecandle/protocol'
import { genesisState, tally, tallyDevices, tallyParams, type SegmentReport, type TallyState } from '@ecandle/tally'
import type { EntryJson, TestHub } from '../lib/testnet.js'

/**
 * The invariants a nemesis run is checked against, from the recorded history (every ack the
 * devices took, from their --ack-log) and what every hub serves once the faults are healed:
 * - every acknowledged report is stored on every hub (lost = acknowledged, not stored);
 * - every hub holds the same logs, entry by entry; no report is stored twice;
 * - at most one decided value per epoch across all hubs, and the certificates byte-identical;
 * - the same tally (totals) per epoch on every hub;
 * - the counted energy of all decided epochs is what the rules count of the stored reports: each
 *   epoch recomputed here from the logs and its certified cut gives the certified root and totals.
 * Problems are collected (not thrown) so a run reports all of them with its figures.
 */
export interface CheckResult {
  problems: string[]
  acked: number
  lost: number
  duplicate: number
  refused: number
  stored: number
  entries: number
  epochs: number
  /** Distinct decided values per epoch, at most (aim 1). */
  certificatesPerEpochMax: number
  /** Epochs whose certificates are not byte-identical on every hub. */
  certificateCopiesDiffer: number
  countedMwh: bigint
  evidence: number
}

export interface AckRecord { d: string, c: number, st: string }

export async function checkHistory (net: Network, hubs: TestHub[], acks: AckRecord[][]): Promise<CheckResult> {
  const problems: string[] = []
  const logIds = net.validatorIds

  // Logs: every entry of every log on every hub.
  const logs: Array<Map<string, EntryJson[]>> = []
  for (const h of hubs) {
    const st = await h.status()
    const m = new Map<string, EntryJson[]>()
    for (const log of logIds) m.set(log, await h.logEntries(log, st.heads[log]?.seq ?? 0))
    logs.push(m)
  }
  const ref = logs[0]
  for (const log of logIds) {
    const ids = (ref.get(log) ?? []).map(e => e.id)
    hubs.forEach((h, i) => {
      const other = (logs[i].get(log) ?? []).map(e => e.id)
      if (other.length !== ids.length || other.some((id, k) => id !== ids[k])) problems.push(`${h.name}: log of ${log.slice(-6)} differs from ${hubs[0].name}'s (${other.length} vs ${ids.length} entries)`)
      other.forEach((_, k) => {
        const e = logs[i].get(log)?.[k]
        if (e !== undefined && (e.seq !== k + 1 || e.prev !== (k === 0 ? null : logs[i].get(log)?.[k - 1]?.id))) problems.push(`${h.name}: log of ${log.slice(-6)} broken at seq ${k + 1}`)
      })
    })
  }

  // Reports: stored at most once (by device and counter, and by report id), per hub.
  const storedKeys: Array<Set<string>> = []
  let duplicate = 0
  logs.forEach((m, i) => {
    const keys = new Set<string>()
    const ids = new Set<string>()
    for (const [log, entries] of m) {
      for (const e of entries) {
        for (const r of e.reports) {
          const k = `${r.device}:${r.counter}`
          if (net.devices.get(r.device)?.info.hub !== log) problems.push(`${hubs[i].name}: report ${k} in the log of a hub it is not registered to`)
          if (keys.has(k) || ids.has(r.id)) { duplicate++; problems.push(`${hubs[i].name}: report ${k} stored twice`) }
          keys.add(k)
          ids.add(r.id)
        }
      }
    }
    storedKeys.push(keys)
  })

  // Acknowledged (stored or duplicate, as the device was told) must be stored on every hub.
  const acked = new Set<string>()
  let refused = 0
  for (const lines of acks) {
    for (const a of lines) {
      if (a.st === 'stored' || a.st === 'duplicate') acked.add(`${a.d}:${a.c}`)
      else refused++
    }
  }
  let lost = 0
  for (const k of acked) {
    const missingOn = hubs.filter((_, i) => !storedKeys[i].has(k))
    if (missingOn.length > 0) {
      lost++
      if (lost <= 10) problems.push(`report ${k} was acknowledged but is not stored on ${missingOn.map(h => h.name).join(', ')}`)
    }
  }

  // Certificates: one value per epoch across hubs, byte-identical, epochs 0..last with no gap.
  const summaries: EpochSummary[][] = []
  for (const h of hubs) summaries.push(await epochsOf(h))
  const last = Math.max(-1, ...summaries.map(s => s.length - 1))
  let certificatesPerEpochMax = 0
  let certificateCopiesDiffer = 0
  summaries.forEach((s, i) => {
    s.forEach((x, e) => { if (x.epoch !== e) problems.push(`${hubs[i].name}: epochs not 0..n in order (epoch ${x.epoch} at ${e})`) })
    if (s.length !== last + 1) problems.push(`${hubs[i].name}: decided epochs 0..${s.length - 1}, others up to ${last}`)
  })
  for (let e = 0; e <= last; e++) {
    const here = summaries.map(s => s[e]).filter((x): x is EpochSummary => x !== undefined)
    const values = new Set(here.map(x => x.valueId))
    certificatesPerEpochMax = Math.max(certificatesPerEpochMax, values.size)
    if (values.size > 1) problems.push(`epoch ${e}: ${values.size} different decided values across hubs: ${[...values].map(v => v.slice(0, 12)).join(', ')}`)
    if (new Set(here.map(x => x.certificate)).size > 1) { certificateCopiesDiffer++; problems.push(`epoch ${e}: certificates differ between hubs (signers ${here.map(x => x.signers.length).join('/')}, rounds ${here.map(x => x.round).join('/')})`) }
    if (new Set(here.map(x => JSON.stringify(x.totals))).size > 1) problems.push(`epoch ${e}: tallies differ between hubs`)
  }

  // Energy: each decided epoch recomputed from the logs (hub 0's; identical everywhere) and its cut.
  let countedMwh = 0n
  let prevState: TallyState | undefined
  let prevCut: Map<string, number> = new Map()
  const inSegments = new Set<string>()
  for (const s of summaries[0] ?? []) {
    const segment: SegmentReport[] = []
    const cut = new Map<string, number>()
    for (const c of s.cut) {
      cut.set(c.hub, c.seq)
      const from = prevCut.get(c.hub) ?? 0
      if (c.seq < from) problems.push(`epoch ${s.epoch}: the cut of ${c.hub.slice(-6)} goes back from ${from} to ${c.seq}`)
      const entries = ref.get(c.hub) ?? []
      if (c.seq > 0 && entries[c.seq - 1]?.id !== c.id) problems.push(`epoch ${s.epoch}: the cut names ${c.hub.slice(-6)}#${c.seq} = ${String(c.id)}, the log holds ${String(entries[c.seq - 1]?.id)}`)
      for (const e of entries.slice(from, c.seq)) {
        e.reports.forEach((r, index) => {
          inSegments.add(`${r.device}:${r.counter}`)
          segment.push({ hub: c.hub, seq: e.seq, index, reportId: r.id, device: r.device, counter: r.counter, periodStart: r.periodStart, periodEnd: r.periodEnd, energyMwh: r.energyMwh, solarMwh: r.solarMwh, litS: r.litS })
        })
      }
    }
    const result = tally({ epoch: s.epoch, params: tallyParams(net), devices: tallyDevices(net), segment, prev: prevState ?? { ...genesisState(), epoch: s.epoch - 1 }, equivocated: new Set() })
    if (result.root !== s.root) problems.push(`epoch ${s.epoch}: recomputed root ${result.root.slice(0, 12)} ≠ certified ${s.root.slice(0, 12)}`)
    if (String(result.totals.countedMwh) !== s.totals.countedMwh) problems.push(`epoch ${s.epoch}: recomputed counted energy ${result.totals.countedMwh} mWh ≠ certified ${s.totals.countedMwh}`)
    countedMwh += result.totals.countedMwh
    prevState = result.next
    prevCut = cut
  }
  const certified = (summaries[0] ?? []).reduce((a, s) => a + BigInt(s.totals.countedMwh), 0n)
  if (certified !== countedMwh) problems.push(`counted energy of all decided epochs ${certified} mWh ≠ ${countedMwh} mWh the rules count of the stored reports`)
  // Every stored report up to the last cut is in exactly one epoch's segment (cuts only grow).
  let beforeCut = 0
  for (const [log, entries] of ref) for (const e of entries.slice(0, prevCut.get(log) ?? 0)) beforeCut += e.reports.length
  if (beforeCut !== inSegments.size) problems.push(`${beforeCut} reports lie before the last cut, ${inSegments.size} were in epoch segments`)

  let evidence = 0
  for (const h of hubs) {
    const ev = await h.get<string[]>('/evidence')
    evidence += ev.length
    if (ev.length > 0) problems.push(`${h.name} holds ${ev.length} equivocation evidence (an honest network has none)`)
  }
  let entries = 0
  for (const list of ref.values()) entries += list.length
  return {
    problems,
    acked: acked.size,
    lost,
    duplicate,
    refused,
    stored: storedKeys[0]?.size ?? 0,
    entries,
    epochs: last + 1,
    certificatesPerEpochMax,
    certificateCopiesDiffer,
    countedMwh,
    evidence
  }
}

async function epochsOf (h: TestHub): Promise<EpochSummary[]> {
  const out: EpochSummary[] = []
  for (;;) {
    const page = await h.get<EpochSummary[]>(`/epochs?from=${out.length}&limit=1000`)
    out.push(...page)
    if (page.length < 1000) return out
  }
}
