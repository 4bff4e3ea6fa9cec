import { AuditPeer, Auditor, type AccountAudit, type EpochAudit, type Finding } from '@ecandle/audit'
import { quorumSize } from '@ecandle/consensus'
import { ProtocolError } from '@ecandle/protocol'
import { loadNetwork } from '../config.js'
import { CliError } from '../errors.js'

export interface AuditOptions {
  network: string
  peer: string
  account?: string
  epoch?: number
  full: boolean
  json: boolean
  timeoutMs: number
}

const bigJson = (x: unknown): string => JSON.stringify(x, (_k, v) => typeof v === 'bigint' ? v.toString() : v)

/** Progress on stderr, at most once a second (and the last step), so long audits show they move. */
function progressPrinter (): (stage: string, done: number, total: number) => void {
  let last = 0
  return (stage, done, total) => {
    const now = Date.now()
    if (now - last < 1000 && done !== total) return
    last = now
    process.stderr.write(`audit: ${stage} ${done}${total > 0 && stage !== 'certificates' ? `/${total}` : ''}\n`)
  }
}

/**
 * `ecandle audit`: a light peer (no hub key, no database) that checks what the hubs decided.
 * Exit 0: every check passed; 1: a mismatch (each named on stdout); 2: the audit could not run.
 */
export async function runAudit (o: AuditOptions): Promise<void> {
  if (o.account !== undefined && !/^[0-9a-f]{64}$/.test(o.account)) throw new CliError(`--account must be 64 lowercase hex characters, got "${o.account}"`, 2)
  if (o.full && o.epoch === undefined) throw new CliError('--full needs --epoch E (the epoch to recompute)', 2)
  const net = await loadNetwork(o.network)
  let peer: AuditPeer
  try {
    peer = await AuditPeer.connect(net, o.peer, { timeoutMs: o.timeoutMs })
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(err.message, 2)
    throw err
  }
  const say = (line: string): void => { if (!o.json) process.stdout.write(line + '\n') }
  const findings: Finding[] = []
  let account: AccountAudit | undefined
  let full: EpochAudit | undefined
  try {
    const auditor = new Auditor(net, peer, progressPrinter())
    const certs = await auditor.certificates()
    findings.push(...certs.findings)
    const n = net.validatorIds.length
    const last = certs.verified[certs.verified.length - 1]
    say(`network ${net.id} (${net.def.name}), peer ${peer.peerId}`)
    say(last === undefined
      ? 'certificates: none verified'
      : `certificates: epochs 0..${last.value.epoch} verified (${certs.verified.length}, each signed by ≥ ${quorumSize(n)} of ${n} validators, linked epoch to epoch)`)
    const upTo = o.epoch ?? last?.value.epoch ?? -1
    if (o.epoch !== undefined && (last === undefined || last.value.epoch < o.epoch) && certs.findings.length === 0) {
      throw new CliError(`epoch ${o.epoch} is not decided by ${peer.peerId} (last certified epoch: ${last?.value.epoch ?? 'none'})`, 2)
    }
    const inRange = certs.verified.filter(c => c.value.epoch <= upTo)
    if (o.account !== undefined) {
      account = await auditor.account(o.account, inRange)
      findings.push(...account.findings)
      for (const e of account.epochs) say(`  epoch ${e.epoch}: ${e.amount === null ? 'no leaf (nothing earned yet)' : `earned ${e.amount}, cumulative ${e.cumulative}`}  proof ok against root ${e.root.slice(0, 16)}…`)
      say(`account ${o.account}: ${account.epochs.length} epochs checked with Merkle proofs`)
    }
    if (o.full && o.epoch !== undefined) {
      const cert = certs.verified.find(c => c.value.epoch === o.epoch)
      if (cert !== undefined) {
        full = await auditor.epochFull(cert, certs.verified.find(c => c.value.epoch === o.epoch! - 1))
        findings.push(...full.findings)
        say(`epoch ${full.epoch}: ${full.entries} entries and ${full.reports} reports fetched and verified (hub and device signatures, hash chains, cut ids); ${full.counted} reports counted`)
        if (full.recomputedRoot !== null) say(`epoch ${full.epoch}: recomputed root ${full.recomputedRoot} ${full.recomputedRoot === full.root ? '= certified root' : `≠ certified root ${full.root}`}`)
      }
    }
  } finally {
    await peer.close().catch(() => {})
  }
  if (o.json) {
    process.stdout.write(bigJson({ ok: findings.length === 0, network: net.id, peer: o.peer, account, epoch: full, findings }) + '\n')
  } else if (findings.length === 0) {
    say('AUDIT PASSED')
  } else {
    say(`AUDIT FAILED: ${findings.length} mismatch${findings.length === 1 ? '' : 'es'}`)
    for (const f of findings) say(`  [${f.kind}/${f.code}] ${f.message}`)
  }
  if (findings.length > 0) process.exitCode = 1
}
