import { quorumOf, type Network } from '@ecandle/protocol'
import { Auditor, type AccountAudit, type EpochAudit } from './audit.js'
import type { Finding, Progress } from './findings.js'
import type { AuditSource } from './source.js'

/** What to audit besides the certificates (always followed from epoch 0). */
export interface AuditRequest {
  /** 64 lowercase hex: an account to check with Merkle proofs in every certified epoch (up to `epoch`). */
  account?: string
  /** Last epoch to audit (default: the last certified one); with `full`, the epoch recomputed. */
  epoch?: number
  /** Re-verify epoch `epoch` from its entries and recompute its tally. */
  full?: boolean
  /** A network that continues this one (docs/governance.md §8): check what it carries against the certified history. */
  continued?: Network
}

/** The outcome of an audit: `ok` iff nothing was found. The same object for `ecandle audit --json` and the audit page. */
export interface AuditVerdict {
  ok: boolean
  network: string
  /** The address the auditor was given. */
  peer: string
  peerId: string
  certificates: { verified: number, lastEpoch: number | null }
  account?: AccountAudit
  epoch?: EpochAudit
  findings: Finding[]
}

/** The audit could not be run as asked (an epoch the peer has not decided): not a finding. */
export class AuditRequestError extends Error {
  override name = 'AuditRequestError'
  constructor (readonly code: 'bad-account' | 'full-needs-epoch' | 'not-decided', message: string) { super(message) }
}

const ACCOUNT = /^[0-9a-f]{64}$/

/** Checks a request before anything is fetched. */
export function checkAuditRequest (r: AuditRequest): void {
  if (r.account !== undefined && !ACCOUNT.test(r.account)) throw new AuditRequestError('bad-account', `--account must be 64 lowercase hex characters, got "${r.account}"`)
  if (r.full === true && r.epoch === undefined) throw new AuditRequestError('full-needs-epoch', '--full needs --epoch E (the epoch to recompute)')
}

/**
 * One audit, as `ecandle audit` runs it and the audit page shows it: certificates from genesis,
 * then the account's proofs, then (full) one epoch recomputed. `say` gets the human-readable
 * lines as the audit goes (the CLI prints them); the verdict holds every figure and finding.
 */
export async function runAudit (net: Network, source: AuditSource, peer: string, r: AuditRequest, opts: { progress?: Progress, say?: (line: string) => void } = {}): Promise<AuditVerdict> {
  checkAuditRequest(r)
  const say = opts.say ?? (() => {})
  const findings: Finding[] = []
  const auditor = new Auditor(net, source, opts.progress)
  const certs = await auditor.certificates()
  findings.push(...certs.findings)
  const n = net.validatorIds.length
  const last = certs.verified[certs.verified.length - 1]
  say(`network ${net.id} (${net.def.name}), peer ${source.peerId}`)
  say(last === undefined
    ? 'certificates: none verified'
    : `certificates: epochs 0..${last.value.epoch} verified (${certs.verified.length}, each signed by more than 2/3 of its epoch's validators — ≥ ${quorumOf(n)} of the ${n} of genesis —, linked epoch to epoch, governance followed)`)
  if (r.continued !== undefined) {
    const fs = await auditor.continuation(r.continued, certs.verified)
    findings.push(...fs)
    if (fs.length === 0) say(`network ${r.continued.id} continues this one faithfully from epoch ${r.continued.def.continues?.epoch ?? '?'} (value, root, state, validators, carried totals)`)
  }
  const verdict: AuditVerdict = {
    ok: false,
    network: net.id,
    peer,
    peerId: source.peerId,
    certificates: { verified: certs.verified.length, lastEpoch: last?.value.epoch ?? null },
    findings
  }
  const upTo = r.epoch ?? last?.value.epoch ?? -1
  if (r.epoch !== undefined && (last === undefined || last.value.epoch < r.epoch) && certs.findings.length === 0) {
    throw new AuditRequestError('not-decided', `epoch ${r.epoch} is not decided by ${source.peerId} (last certified epoch: ${last?.value.epoch ?? 'none'})`)
  }
  const inRange = certs.verified.filter(c => c.value.epoch <= upTo)
  if (r.account !== undefined) {
    const account = await auditor.account(r.account, inRange)
    verdict.account = account
    findings.push(...account.findings)
    for (const e of account.epochs) say(`  epoch ${e.epoch}: ${e.amount === null ? 'no leaf (nothing earned yet)' : `earned ${e.amount}, cumulative ${e.cumulative}`}  proof ok against root ${e.root.slice(0, 16)}…`)
    say(`account ${r.account}: ${account.epochs.length} epochs checked with Merkle proofs`)
  }
  if (r.full === true && r.epoch !== undefined) {
    const cert = certs.verified.find(c => c.value.epoch === r.epoch)
    if (cert !== undefined) {
      const full = await auditor.epochFull(cert, certs.verified.find(c => c.value.epoch === r.epoch! - 1))
      verdict.epoch = full
      findings.push(...full.findings)
      say(`epoch ${full.epoch}: ${full.entries} entries and ${full.reports} reports fetched and verified (hub and device signatures, hash chains, cut ids); ${full.counted} reports counted`)
      if (full.recomputedRoot !== null) say(`epoch ${full.epoch}: recomputed root ${full.recomputedRoot} ${full.recomputedRoot === full.root ? '= certified root' : `≠ certified root ${full.root}`}`)
    }
  }
  verdict.ok = findings.length === 0
  return verdict
}

/** The verdict as JSON (amounts, bigints, as decimal strings): what `ecandle audit --json` prints. */
export function verdictJson (v: AuditVerdict): string {
  return JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? x.toString() : x)
}

/** The closing lines: AUDIT PASSED, or AUDIT FAILED and one line per finding. */
export function verdictLines (v: AuditVerdict): string[] {
  if (v.findings.length === 0) return ['AUDIT PASSED']
  return [`AUDIT FAILED: ${v.findings.length} mismatch${v.findings.length === 1 ? '' : 'es'}`, ...v.findings.map(f => `  [${f.kind}/${f.code}] ${f.message}`)]
}
