import { existsSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { continueNetwork, parseNetwork, signEndorsement, verifyContinuation, withEndorsements, type NetworkDefinition } from '@ecandle/protocol'
import { Store, StoreError } from '@ecandle/store'
import { AgreementDb, agreementMigrations } from '../db/index.js'
import { GovChain } from '../governance/chain.js'
import { CliError } from '../errors.js'
import { loadConfig, loadNetwork } from '../config.js'
import { readSigner } from './gov.js'

/**
 * Recovery when the quorum is gone for good (docs/governance.md §8). `network continue` reads a
 * stopped hub's database and writes a new network file carrying the last certified state (epoch E's
 * registry, parameters, totals and dust) with the validators that remain, endorsed by the operator
 * keys given; `network endorse` adds another operator's endorsement; `network switch` points a hub
 * at the continued network (its old database moved aside). Hubs refuse to run an unendorsed one.
 */

export interface ContinueOptions {
  dataDir: string
  fromEpoch: number
  remaining: string[]
  name: string
  out: string
  operatorKeys: string[]
  genesisTime?: number
}

export async function runContinue (o: ContinueOptions): Promise<void> {
  const config = await loadConfig(o.dataDir)
  const net = await loadNetwork(config.networkPath)
  let store: Store
  try {
    store = await Store.open(config.dbPath, net.id, { migrations: agreementMigrations() })
  } catch (err) {
    if (err instanceof StoreError) throw new CliError(`${config.dbPath}: ${err.message} (stop the hub first: \`network continue\` reads its database)`)
    throw err
  }
  let def: NetworkDefinition
  try {
    const chain = new GovChain(net)
    const db = new AgreementDb(store, net, chain.validatorsAt)
    const E = o.fromEpoch
    // S(E+1): the chain of decided values up to and including E.
    await chain.load({
      decided: async function * () {
        for await (const [epoch, rec] of db.records.entries()) {
          if (epoch > E) return
          yield { value: rec.value, resolutions: (await db.resolutions.get(epoch)) ?? [] }
        }
      }
    })
    const [cert, rec] = [await db.certificates.get(E), await db.records.get(E)]
    if (cert === undefined || rec === undefined || chain.latest.epoch !== E + 1) throw new CliError(`epoch ${E} is not decided in ${config.dbPath}`)
    const remaining = new Set(o.remaining)
    def = continueNetwork({
      old: net,
      cert,
      state: chain.latest,
      tally: { dust: rec.next.dust, cumulative: rec.next.cumulative },
      remaining: o.remaining,
      name: o.name,
      genesisTime: o.genesisTime ?? Math.floor(Date.now() / 1000),
      bootstrap: net.def.bootstrap.filter(a => remaining.has(a.split('/p2p/')[1] ?? ''))
    })
  } finally {
    await store.close()
  }
  const draft = parseNetwork(def)
  const endorsements = []
  for (const k of o.operatorKeys) endorsements.push(signEndorsement(await readSigner(k, '--operator-key'), draft))
  const out = withEndorsements(def, endorsements)
  await writeFile(o.out, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`network ${draft.id} continues ${net.id} from epoch ${o.fromEpoch} with ${def.validators.length} validators; written to ${o.out}; ${endorsementState(out)}\n`)
}

function endorsementState (def: NetworkDefinition): string {
  try {
    verifyContinuation(parseNetwork(def))
    return 'endorsed by every remaining operator: hubs can run it'
  } catch (err: any) {
    return `not runnable yet: ${String(err?.message ?? err)} (\`ecandle network endorse\`)`
  }
}

/** `ecandle network endorse <file> --operator-key K`. */
export async function runEndorse (path: string, operatorKey: string): Promise<void> {
  let def: NetworkDefinition
  try {
    def = JSON.parse(await readFile(path, 'utf8'))
  } catch (err: any) {
    throw new CliError(`${path}: not a network file (${String(err?.message ?? err)})`)
  }
  const net = parseNetwork(def)
  const out = withEndorsements(def, [signEndorsement(await readSigner(operatorKey, '--operator-key'), net)])
  await writeFile(path, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`endorsed network ${net.id}; ${endorsementState(out)}\n`)
}

/** `ecandle network switch --data-dir D --network F`: the hub runs network F from now on; its database of the old network is kept aside as db-<old id>. */
export async function runSwitch (dataDir: string, networkPath: string): Promise<void> {
  const config = await loadConfig(dataDir)
  const old = await loadNetwork(config.networkPath)
  const next = await loadNetwork(resolve(networkPath))
  if (next.def.continues?.network !== old.id) throw new CliError(`${networkPath} (network ${next.id}) does not continue this hub's network ${old.id}`)
  verifyContinuation(next)
  if (existsSync(join(config.dataDir, 'api.json'))) throw new CliError(`the hub in ${config.dataDir} seems to be running (api.json exists): stop it first`)
  const aside = join(config.dataDir, `db-${old.id}`)
  if (existsSync(config.dbPath)) await rename(config.dbPath, aside)
  const path = join(config.dataDir, 'config.json')
  const file = JSON.parse(await readFile(path, 'utf8'))
  file.network = relative(config.dataDir, resolve(networkPath))
  await writeFile(path, JSON.stringify(file, null, 2) + '\n')
  process.stdout.write(`${config.dataDir} now runs network ${next.id}; the database of ${old.id} is kept in ${aside}\n`)
}
