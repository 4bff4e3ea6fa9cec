import { AuditPeer, AuditRequestError, checkAuditRequest, runAudit as audit, verdictJson, verdictLines } from '@ecandle/audit'
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
  /** A network file that continues this network: checked against the certified history (docs/governance.md §8). */
  continued?: string
}

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
 * `ecandle audit`: a light peer (no hub key, no database) that checks what the hubs decided, with
 * the audit of @ecandle/audit (the audit page runs the same). Exit 0: every check passed; 1: a
 * mismatch (each named on stdout); 2: the audit could not run.
 */
export async function runAudit (o: AuditOptions): Promise<void> {
  const request = { account: o.account, epoch: o.epoch, full: o.full, continued: o.continued === undefined ? undefined : await loadNetwork(o.continued) }
  try {
    checkAuditRequest(request)
  } catch (err) {
    if (err instanceof AuditRequestError) throw new CliError(err.message, 2)
    throw err
  }
  const net = await loadNetwork(o.network)
  let peer: AuditPeer
  try {
    peer = await AuditPeer.connect(net, o.peer, { timeoutMs: o.timeoutMs })
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(err.message, 2)
    throw err
  }
  const say = (line: string): void => { if (!o.json) process.stdout.write(line + '\n') }
  let verdict
  try {
    verdict = await audit(net, peer, o.peer, request, { progress: progressPrinter(), say })
  } catch (err) {
    if (err instanceof AuditRequestError || err instanceof ProtocolError) throw new CliError(err.message, 2)
    throw err
  } finally {
    await peer.close().catch(() => {})
  }
  if (o.json) process.stdout.write(verdictJson(verdict) + '\n')
  else for (const line of verdictLines(verdict)) say(line)
  if (!verdict.ok) process.exitCode = 1
}
