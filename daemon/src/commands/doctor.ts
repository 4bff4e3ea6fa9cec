import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SCHEMA_VERSION, Store, StoreError } from '@ecandle/store'
import { agreementMigrations } from '../db/index.js'
import { loadConfig } from '../config.js'
import { CliError } from '../errors.js'
import { diskCheck, keyCheck, networkCheck, roleCheck, voteGuardCheck, worst, type HealthCheck, type HealthReport } from '../health.js'
import { peerIdFromPublicKey, signerFromSeed } from '@ecandle/protocol'
import { readHubKey } from '../keys.js'
import { VoteGuard } from '../agreement/vote-guard.js'

/**
 * `ecandle doctor`: the running hub's GET /health, or (hub not running) the checks that need no
 * running hub: key, network file, database, disk — and a red line saying the hub is down.
 * Exit status 1 when anything is red.
 */
export async function runDoctor (dataDir: string, o: { json: boolean, quiet: boolean }): Promise<void> {
  const report = await doctorReport(dataDir)
  if (o.json) process.stdout.write(JSON.stringify(report) + '\n')
  else if (!o.quiet) process.stdout.write(formatReport(report) + '\n')
  if (report.status === 'red') process.exitCode = 1
}

export function formatReport (r: HealthReport): string {
  const w = Math.max(...r.checks.map(c => c.check.length))
  const head = `ecandle doctor: ${r.status}${r.peerId === undefined ? '' : ` — hub ${r.peerId}`}${r.network === undefined ? '' : `, network ${r.network}`}`
  return [head, ...r.checks.map(c => `${c.level.padEnd(5)}  ${c.check.padEnd(w)}  ${c.message}${c.fix === undefined ? '' : ` — fix: ${c.fix}`}`)].join('\n')
}

export async function doctorReport (dataDir: string): Promise<HealthReport> {
  let config
  try {
    config = await loadConfig(dataDir)
  } catch (err) {
    if (!(err instanceof CliError)) throw err
    const checks = [{ check: 'config', level: 'red' as const, message: err.message, fix: 'fix config.json as the message says, or `ecandle init` the data dir' }]
    return { status: 'red', checks }
  }
  const running = await askHub(config.dataDir)
  if (running.report !== undefined) return running.report

  // Not running: what can be checked from the files alone.
  const checks: HealthCheck[] = [{ check: 'hub', level: 'red', message: running.why, fix: 'start it: `systemctl start ecandle`, `docker compose up -d`, or `ecandle daemon --data-dir DIR`; its log says why it stopped (`journalctl -u ecandle`)' }]
  const key = await keyCheck(config.keyPath)
  checks.push(key)
  let peerId: string | undefined
  if (key.level === 'green') {
    try { peerId = peerIdFromPublicKey(signerFromSeed(await readHubKey(config.keyPath)).publicKey) } catch (err) {
      checks.push({ check: 'key', level: 'red', message: String((err as Error).message), fix: 'restore hub.key from your backup' })
    }
  }
  const { check, net } = await networkCheck(config.networkPath)
  checks.push(check)
  if (net !== undefined) {
    if (!existsSync(config.dbPath)) {
      checks.push({ check: 'database', level: 'amber', message: `no database at ${config.dbPath} yet`, fix: 'the hub creates it at its first start' })
    } else {
      try {
        // The daemon's migrations, each stopped before it writes: the doctor only looks.
        const dryRun = agreementMigrations().map(m => ({ ...m, run: async () => { throw new PendingMigration() } }))
        const store = await Store.open(config.dbPath, net.id, { createIfMissing: false, migrations: dryRun })
        checks.push({ check: 'database', level: 'green', message: `LevelDB at ${config.dbPath}: schema matches this build, ${store.reportCount} reports, network ${net.id}` })
        await store.close()
      } catch (err) {
        const pending = /migration from schema (\d+) \((.*)\) failed: pending/.exec(String((err as Error).message))
        if (err instanceof StoreError && pending !== null) {
          checks.push({ check: 'database', level: 'amber', message: `LevelDB at ${config.dbPath} has schema ${pending[1]}: the hub migrates it to schema ${SCHEMA_VERSION} (${pending[2]}) at its next start`, fix: 'back up the data dir, then start the hub' })
          if (peerId !== undefined) checks.push(roleCheck(net, peerId))
          checks.push(await diskCheck(config.dataDir))
          return { status: worst(checks), peerId, network: net.id, checks }
        }
        const msg = err instanceof StoreError ? err.message : String((err as Error).message ?? err)
        checks.push({ check: 'database', level: 'red', message: msg, fix: err instanceof StoreError && err.code === 'network' ? 'this data dir belongs to another network: use its own network file, or a new data dir' : 'see the message; restore the data dir from a backup if it is damaged' })
      }
    }
    if (peerId !== undefined) checks.push(roleCheck(net, peerId), voteGuardCheck(await VoteGuard.load(config.voteGuardPath, { network: net.id, hub: peerId })))
  }
  checks.push(await diskCheck(config.dataDir))
  return { status: worst(checks), peerId, network: net?.id, checks }
}

/** Thrown by the doctor's dry-run migrations; the store reports it as "migration from schema N (name) failed: pending". */
class PendingMigration extends Error {
  constructor () { super('pending') }
}

/** GET /health of the hub whose api.json is in the data dir. */
async function askHub (dir: string): Promise<{ report?: HealthReport, why: string }> {
  let url: string
  try {
    url = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')).url
  } catch {
    return { why: `not running (no ${join(dir, 'api.json')})` }
  }
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(8000) })
    const body = await res.json() as HealthReport
    if (!Array.isArray(body?.checks)) return { why: `${url}/health answered HTTP ${res.status} without checks` }
    return { report: body, why: '' }
  } catch (err) {
    return { why: `not running: ${url} (from api.json) does not answer (${String((err as { cause?: { code?: string } })?.cause?.code ?? (err as Error).message)})` }
  }
}
