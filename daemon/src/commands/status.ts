import { apiUrl } from './daemon.js'
import { CliError } from '../errors.js'
import type { HubStatus } from '@ecandle/api'

export async function fetchJson<T> (url: string, timeoutMs = 5000): Promise<T> {
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err: any) {
    throw new CliError(`cannot reach the hub API at ${url}: ${String(err?.cause?.code ?? err?.message ?? err)}`)
  }
  if (!res.ok) throw new CliError(`hub API ${url}: HTTP ${res.status} ${await res.text()}`)
  return await res.json() as T
}

export async function hubStatus (dataDir: string): Promise<HubStatus> {
  return await fetchJson<HubStatus>(`${await apiUrl(dataDir)}/status`)
}

const WARNINGS: Record<string, string> = {
  'no-peers': 'no peers (reports are still taken and stored; they replicate once a peer is back)',
  'all-peers-relayed': 'every peer is reached through a relay (see docs/networking.md)'
}

function peerKinds (s: HubStatus): string {
  const parts = Object.entries(s.reach.peers).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

/** One line: how the hub is reached, in an operator's words. */
function reachLine (s: HubStatus): string {
  const r = s.reach
  const what: Record<string, string> = {
    public: `public (${r.publicAddrs.join(' ')})`,
    'hole-punched': `direct after hole punch${r.relays.length > 0 ? `, relay slot on ${r.relays.join(' ')}` : ''}`,
    relayed: `via relay ${r.relays.join(' ')}`,
    lan: 'LAN only',
    'outbound-only': 'outbound only (nobody can dial in; no relay slot yet)',
    isolated: 'isolated (no peers)'
  }
  const extra = [`NAT ${r.nat}`, r.relayServer.running ? `relay server on (${r.relayServer.reservations} slots held)` : '', r.upnp ? 'UPnP on' : '', r.mdns ? 'mDNS on' : ''].filter(x => x !== '')
  return `${what[r.state] ?? r.state}   ${extra.join(', ')}`
}

/** `ecandle status`: one JSON object with --json, else a short human summary. */
export async function runStatus (dataDir: string, json: boolean): Promise<void> {
  const s = await hubStatus(dataDir)
  if (json) {
    process.stdout.write(JSON.stringify(s) + '\n')
    return
  }
  const lines = [
    `hub        ${s.peerId}${s.validator ? '' : ' (not a validator)'}`,
    `network    ${s.network}`,
    `listening  ${s.addrs.join(' ')}`,
    `peers      ${s.peers}${peerKinds(s)}`,
    `reached    ${reachLine(s)}`,
    ...s.reach.warnings.map(w => `warning    ${WARNINGS[w] ?? w}`),
    `reports    ${s.reports}   evidence ${s.evidence}   devices ${s.devices}   up ${s.uptimeS} s`,
    'logs:'
  ]
  for (const [hub, h] of Object.entries(s.heads)) lines.push(`  ${hub}  seq ${h.seq}  ${h.id}`)
  process.stdout.write(lines.join('\n') + '\n')
}
