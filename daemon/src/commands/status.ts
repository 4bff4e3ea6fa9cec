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
    `peers      ${s.peers}`,
    `reports    ${s.reports}   evidence ${s.evidence}   devices ${s.devices}   up ${s.uptimeS} s`,
    'logs:'
  ]
  for (const [hub, h] of Object.entries(s.heads)) lines.push(`  ${hub}  seq ${h.seq}  ${h.id}`)
  process.stdout.write(lines.join('\n') + '\n')
}
