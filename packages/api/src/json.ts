import type { DecodedEntry, DecodedReport, UsageReport, VerifiedCertificate } from '@ecandle/protocol'
import type { Explanation as TallyExplanation } from '@ecandle/tally'
import type { CertificateJson, EntryJson, Explanation, ReportJson } from './schemas.js'

/** An entry as plain JSON, with its decoded reports (what GET /logs serves and the SDK's entries decoder returns). */
export function entryJson (e: DecodedEntry, reports: readonly DecodedReport[]): EntryJson {
  const p = e.payload
  return {
    id: e.id.toString(),
    hub: p.hub,
    seq: p.seq,
    prev: p.prev?.toString() ?? null,
    epoch: p.epoch,
    time: p.time,
    reports: reports.map(r => ({ id: r.id, ...r.report }))
  }
}

/** A verified certificate as plain JSON (the SDK's certificates decoder and the API's epoch summaries). */
export function certificateJson (c: VerifiedCertificate): CertificateJson {
  const v = c.value
  return {
    epoch: v.epoch,
    valueId: c.valueId,
    root: v.root,
    prev: v.prev,
    round: c.round,
    signers: [...c.signers],
    cut: v.cut.map(x => ({ hub: x.hub, seq: x.seq, id: x.id?.toString() ?? null }))
  }
}

/** The tally's explanation of a device as JSON (bigints as decimal strings): GET /tally/:e?explain=. */
export function explanationJson (x: TallyExplanation): Explanation {
  const row = x.row
  return {
    device: x.device,
    row: row === null
      ? null
      : { device: row.device, countedMwh: String(row.countedMwh), reward: String(row.reward), capex: String(row.capex), opex: String(row.opex), capexAccount: row.capexAccount, opexAccount: row.opexAccount },
    reports: x.reports.map(r => ({ ...r })),
    byStatus: { ...x.byStatus },
    text: x.text
  }
}

// The report JSON is the protocol's UsageReport plus its id: this line stops compiling if the two drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _reportJsonIsUsageReport: Same<ReportJson, UsageReport & { id: string }> = true
