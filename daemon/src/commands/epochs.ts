import { apiUrl } from './daemon.js'
import { fetchJson } from './status.js'
import type { EpochSummary } from '@ecandle/api'
import { CliError } from '../errors.js'

async function get<T> (dataDir: string, path: string): Promise<T> {
  const url = `${await apiUrl(dataDir)}${path}`
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) }).catch((err: any) => { throw new CliError(`cannot reach the hub API at ${url}: ${String(err?.cause?.code ?? err?.message)}`) })
  const body = await res.json() as any
  if (!res.ok) throw new CliError(String(body?.message ?? `HTTP ${res.status}`))
  return body as T
}

export async function runEpochs (dataDir: string, json: boolean, limit: number): Promise<void> {
  const epochs = await fetchJson<EpochSummary[]>(`${await apiUrl(dataDir)}/epochs?limit=${limit}`)
  if (json) { process.stdout.write(JSON.stringify(epochs) + '\n'); return }
  if (epochs.length === 0) { process.stdout.write('no epoch decided yet\n'); return }
  for (const e of epochs) {
    process.stdout.write(`epoch ${e.epoch}  root ${e.root.slice(0, 16)}…  round ${e.round}  signers ${e.signers.length}  counted ${e.totals.countedMwh} mWh  paid ${e.totals.paid}  dust ${e.totals.dust}\n`)
    process.stdout.write(`  cut ${e.cut.map(c => `${c.hub.slice(-6)}#${c.seq}`).join(' ')}\n`)
  }
}

export async function runRewards (dataDir: string, account: string, epoch: number | undefined, json: boolean): Promise<void> {
  const r = await get<any>(dataDir, `/rewards/${account}${epoch === undefined ? '' : `?epoch=${epoch}`}`)
  if (json) { process.stdout.write(JSON.stringify(r) + '\n'); return }
  process.stdout.write(`account ${r.account}\nepoch ${r.epoch}: earned ${r.epochAmount}, cumulative ${r.cumulative}\nroot ${r.root}\n`)
  process.stdout.write(r.proof === null ? 'no leaf for this account (nothing earned yet)\n' : `proof: ${r.proof.path.length} steps\n`)
}

export async function runTally (dataDir: string, epoch: number, device: string, json: boolean): Promise<void> {
  const r = await get<any>(dataDir, `/tally/${epoch}?explain=${encodeURIComponent(device)}`)
  if (json) { process.stdout.write(JSON.stringify(r) + '\n'); return }
  process.stdout.write(typeof r.text === 'string' ? r.text + '\n' : JSON.stringify(r, null, 2) + '\n')
}
