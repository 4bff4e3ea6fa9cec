import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  addOperationSignature, decodeOperation, epochOf, fromHex, OP_TYPES, peerIdFromPublicKey, signApproval, signerFromSeed, signMakerCert, signOperation,
  toHex, verifyOperation, type Network, type Operation, type OpType, type ParamsSet, type Role, type Signer
} from '@ecandle/protocol'
import type { GovList, GovSubmitted, RegistryJson } from '@ecandle/api'
import { CliError } from '../errors.js'
import { readApiToken, readSecretFile } from '../keys.js'
import { loadNetwork } from '../config.js'
import { apiUrl } from './daemon.js'
import { fetchJson } from './status.js'

/**
 * `ecandle gov …` and `ecandle registry` (docs/operations.md): write, sign, submit and approve
 * governance operations; list the pool and decisions; show the registry of an epoch. Keys are files
 * of mode 0600 holding `{ "seed": "<64 hex>" }` (hub keys, `accounts.json`-style account keys).
 */

/** A signer from a key file: `{ seed }` (hub.key, an account key), mode 0600. */
export async function readSigner (path: string, what: string): Promise<Signer> {
  const text = await readSecretFile(path, what)
  try {
    const j = JSON.parse(text)
    if (typeof j?.seed !== 'string') throw new Error('shape')
    return signerFromSeed(fromHex(j.seed, 'seed', 32))
  } catch {
    throw new CliError(`${what} ${path} is not a key file (expected {"seed":"<64 hex>"})`)
  }
}

/** An operation file: the network it is for and the signed operation (signatures may still be missing). */
interface OpFile { network: string, type: OpType, id: string, operation: string }

async function readOpFile (path: string): Promise<{ file: OpFile, bytes: Uint8Array }> {
  let file: OpFile
  try {
    file = JSON.parse(await readFile(path, 'utf8'))
  } catch (err: any) {
    throw new CliError(`${path}: not an operation file (${String(err?.message ?? err)})`)
  }
  if (typeof file?.operation !== 'string' || typeof file.network !== 'string') throw new CliError(`${path}: not an operation file (expected { network, operation })`)
  const bytes = new Uint8Array(Buffer.from(file.operation, 'base64'))
  decodeOperation(bytes)
  return { file, bytes }
}

async function writeOpFile (path: string, net: Network, bytes: Uint8Array): Promise<OpFile> {
  const d = decodeOperation(bytes)
  const file: OpFile = { network: net.id, type: d.op.type, id: d.id, operation: Buffer.from(bytes).toString('base64') }
  await writeFile(path, JSON.stringify(file, null, 2) + '\n')
  return file
}

/** What signed so far and what is missing, for the operator. */
function signatureState (networkId: string, bytes: Uint8Array): string {
  const d = decodeOperation(bytes)
  try {
    verifyOperation(networkId, bytes)
    return 'fully signed'
  } catch (err: any) {
    return `not yet valid: ${String(err?.message ?? err)} (roles signed: ${Object.keys(d.signatures).join(', ') || 'none'})`
  }
}

async function post<T> (dataDir: string, path: string, body: unknown): Promise<T> {
  const url = `${await apiUrl(dataDir)}${path}`
  const token = await readApiToken(join(dataDir, 'api.token'))
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
  } catch (err: any) {
    throw new CliError(`cannot reach the hub API at ${url}: ${String(err?.cause?.code ?? err?.message ?? err)}`)
  }
  const text = await res.text()
  if (!res.ok) {
    let msg = text
    try { const j = JSON.parse(text); msg = `${String(j.error)}: ${String(j.message)}` } catch {}
    throw new CliError(`the hub refused it: ${msg}`)
  }
  return JSON.parse(text) as T
}

export interface ProposeOptions {
  network: string
  out?: string
  dataDir?: string
  exp?: number
  /** Option values as commander gives them (camelCase). */
  [k: string]: unknown
}

const str = (o: ProposeOptions, k: string): string | undefined => typeof o[k] === 'string' ? o[k] as string : undefined

/**
 * An account or key given as hex (`--capex <hex>`) or as a key file that also signs (`--capex-key <file>`).
 */
async function party (o: ProposeOptions, name: string, role: Role | undefined, signers: Partial<Record<Role, Signer>>, required = true): Promise<Uint8Array | undefined> {
  const keyFile = str(o, `${name}Key`)
  if (keyFile !== undefined) {
    const s = await readSigner(keyFile, `--${kebab(name)}-key`)
    if (role !== undefined) signers[role] = s
    return s.publicKey
  }
  const hex = str(o, name)
  if (hex !== undefined) return fromHex(hex, `--${kebab(name)}`, 32)
  if (required) throw new CliError(`--${kebab(name)} <hex> or --${kebab(name)}-key <file> is needed`)
  return undefined
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)

function need (o: ProposeOptions, k: string): string {
  const v = str(o, k)
  if (v === undefined) throw new CliError(`--${kebab(k)} is needed`)
  return v
}

function integer (v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${what}: expected a non-negative integer`)
  return n
}

function decimal (v: string | undefined, what: string): bigint | undefined {
  if (v === undefined) return undefined
  if (!/^(0|[1-9][0-9]*)$/.test(v)) throw new CliError(`${what}: expected a decimal integer`)
  return BigInt(v)
}

/** `ecandle gov propose <type>`: the operation, signed by every key given; written to --out, or submitted to the hub of --data-dir. */
export async function runPropose (type: string, o: ProposeOptions): Promise<void> {
  if (!(OP_TYPES as readonly string[]).includes(type)) throw new CliError(`unknown operation type ${type}; one of ${OP_TYPES.join(', ')}`)
  if ((o.out === undefined) === (o.dataDir === undefined)) throw new CliError('give --out <file> (write it, for others to sign) or --data-dir <hub> (submit it now)')
  const net = await loadNetwork(o.network)
  const exp = o.exp ?? Math.max(0, epochOf(net, Date.now())) + 32
  const signers: Partial<Record<Role, Signer>> = {}
  let op: Operation
  switch (type as OpType) {
    case 'device-add': {
      const id = need(o, 'id')
      const keys = need(o, 'deviceKeys')
      const j = JSON.parse(await readSecretFile(keys, '--device-keys')) as { devices?: Array<{ id: string, seed: string, ratedWhPerDay: number }> }
      const dev = j.devices?.find(d => d.id === id)
      if (dev === undefined) throw new CliError(`--device-keys ${keys} holds no device ${id}`)
      const device = signerFromSeed(fromHex(dev.seed, `device ${id} seed`, 32))
      signers.device = device
      const operator = (await party(o, 'operator', 'operator', signers))!
      const capex = (await party(o, 'capex', 'capex', signers))!
      const opex = (await party(o, 'opex', undefined, signers, false)) ?? operator
      const makerFile = str(o, 'makerKey')
      const maker = makerFile === undefined ? null : signMakerCert(await readSigner(makerFile, '--maker-key'), device.publicKey)
      op = { type: 'device-add', exp, device: id, key: device.publicKey, hub: need(o, 'hub'), capex, opex, ratedWhPerDay: integer(str(o, 'rated'), '--rated') ?? dev.ratedWhPerDay, operator, maker }
      break
    }
    case 'device-transfer': {
      const role = need(o, 'role')
      if (role !== 'capex' && role !== 'opex') throw new CliError('--role: capex or opex')
      op = { type: 'device-transfer', exp, device: need(o, 'id'), role, from: (await party(o, 'from', 'from', signers))!, to: (await party(o, 'to', 'to', signers))! }
      break
    }
    case 'device-move': {
      const fromOperator = (await party(o, 'fromOperator', 'fromOperator', signers, false)) ?? null
      op = { type: 'device-move', exp, device: need(o, 'id'), from: need(o, 'fromHub'), to: need(o, 'toHub'), opex: (await party(o, 'opex', 'opex', signers))!, fromOperator, toOperator: (await party(o, 'toOperator', 'toOperator', signers))! }
      break
    }
    case 'device-retire':
      op = { type: 'device-retire', exp, device: need(o, 'id'), capex: (await party(o, 'capex', 'capex', signers))!, opex: (await party(o, 'opex', 'opex', signers))! }
      break
    case 'hub-add': {
      const hubKey = str(o, 'hubKey')
      let hub = str(o, 'hub')
      if (hubKey !== undefined) {
        const s = await readSigner(hubKey, '--hub-key')
        signers.hub = s
        hub = peerIdFromPublicKey(s.publicKey)
      }
      if (hub === undefined) throw new CliError('--hub-key <the new hub\'s hub.key> (or --hub <peer id>, signing later) is needed')
      op = { type: 'hub-add', exp, hub, operator: (await party(o, 'operator', 'operator', signers))! }
      break
    }
    case 'hub-remove':
      op = { type: 'hub-remove', exp, hub: need(o, 'hub') }
      break
    case 'params': {
      const set: ParamsSet = {}
      const e = decimal(str(o, 'emission'), '--emission'); if (e !== undefined) set.emissionPerEpoch = e
      const c = integer(str(o, 'capexBps'), '--capex-bps'); if (c !== undefined) set.capexBps = c
      const cap = decimal(str(o, 'deviceCap'), '--device-cap'); if (cap !== undefined) set.deviceCapMwhPerEpoch = cap
      const g = integer(str(o, 'grace'), '--grace'); if (g !== undefined) set.gracePeriodS = g
      const q = integer(str(o, 'quorumBps'), '--quorum-bps'); if (q !== undefined) set.builderQuorumBps = q
      const m = str(o, 'makers'); if (m !== undefined) set.makers = m === '' ? [] : m.split(',').map(k => toHex(fromHex(k.trim(), '--makers', 32))).sort()
      if (Object.keys(set).length === 0) throw new CliError('params: give at least one of --emission, --capex-bps, --device-cap, --grace, --makers, --quorum-bps')
      op = { type: 'params', exp, set }
      break
    }
  }
  const bytes = signOperation(net.id, op, signers)
  const id = decodeOperation(bytes).id
  if (o.out !== undefined) {
    await writeOpFile(o.out, net, bytes)
    process.stdout.write(`${type} ${id} written to ${o.out}; ${signatureState(net.id, bytes)}\n`)
    return
  }
  const r = await post<GovSubmitted>(o.dataDir!, '/gov/submit', { message: Buffer.from(bytes).toString('base64') })
  process.stdout.write(`${type} ${r.id} submitted and gossiped\n`)
}

/** `ecandle gov sign <op-file> --role R --key F`: adds one role's signature. */
export async function runSign (path: string, o: { role: string, key: string, network: string }): Promise<void> {
  const net = await loadNetwork(o.network)
  const { file, bytes } = await readOpFile(path)
  if (file.network !== net.id) throw new CliError(`${path} is an operation of network ${file.network}, not ${net.id}`)
  const signed = addOperationSignature(net.id, bytes, o.role as Role, await readSigner(o.key, '--key'))
  await writeOpFile(path, net, signed)
  process.stdout.write(`signed as ${o.role}: ${signatureState(net.id, signed)}\n`)
}

/** `ecandle gov submit <op-file> --data-dir D`. */
export async function runSubmit (path: string, dataDir: string): Promise<void> {
  const { bytes } = await readOpFile(path)
  const r = await post<GovSubmitted>(dataDir, '/gov/submit', { message: Buffer.from(bytes).toString('base64') })
  process.stdout.write(`${r.kind} ${r.id} submitted and gossiped\n`)
}

/** `ecandle gov approve <op-id>`: as this hub's validator (its hub key, through the API), or as a builder (`--builder-key`). */
export async function runApprove (opId: string, o: { dataDir: string, builderKey?: string, network?: string, no?: boolean }): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(opId)) throw new CliError('an operation id is 64 lowercase hex characters')
  const yes = o.no !== true
  let r: GovSubmitted
  if (o.builderKey !== undefined) {
    if (o.network === undefined) throw new CliError('--network is needed with --builder-key')
    const net = await loadNetwork(o.network)
    const a = signApproval(net.id, await readSigner(o.builderKey, '--builder-key'), { op: opId, as: 'builder', yes })
    r = await post<GovSubmitted>(o.dataDir, '/gov/submit', { message: Buffer.from(a).toString('base64') })
  } else {
    r = await post<GovSubmitted>(o.dataDir, '/gov/approve', { op: opId, yes })
  }
  process.stdout.write(`approval ${r.id} (${yes ? 'yes' : 'no'}) of ${opId} submitted and gossiped\n`)
}

/** `ecandle gov list`. */
export async function runGovList (dataDir: string, json: boolean): Promise<void> {
  const l = await fetchJson<GovList>(`${await apiUrl(dataDir)}/gov`)
  if (json) { process.stdout.write(JSON.stringify(l) + '\n'); return }
  const lines = [`next epoch to decide: ${l.epoch}; ${l.operations.length} operation(s)`]
  for (const x of l.operations) {
    const who = x.needsValidators ? `  approved by ${x.approvedBy.length}/${x.quorum} needed; not yet: ${x.notApprovedBy.map(p => p.slice(-8)).join(' ') || '-'}` : ''
    lines.push(`${x.status.padEnd(8)} ${x.type.padEnd(15)} ${x.id}  exp ${x.exp}${x.decidedIn === null ? '' : `  decided in epoch ${x.decidedIn}`}${who}${x.needsBuilders ? `  builder votes ${x.builderVotes}` : ''}`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

/** `ecandle registry [--epoch E]`. */
export async function runRegistry (dataDir: string, epoch: number | undefined, json: boolean): Promise<void> {
  const r = await fetchJson<RegistryJson>(`${await apiUrl(dataDir)}/registry${epoch === undefined ? '' : `?epoch=${epoch}`}`)
  if (json) { process.stdout.write(JSON.stringify(r) + '\n'); return }
  const p = r.params
  const lines = [
    `epoch ${r.epoch}  state ${r.state}`,
    `validators (${r.validators.length}): ${r.validators.map(v => v.peerId).join(' ')}`,
    `next epoch's validators (${r.nextValidators.length}): ${r.nextValidators.map(v => v.peerId).join(' ')}`,
    `params: emission ${p.emissionPerEpoch}/epoch, capex ${p.capexBps} bps, device cap ${p.deviceCapMwhPerEpoch} mWh, grace ${p.gracePeriodS} s, makers ${p.makers.length}, builders' quorum ${p.builderQuorumBps} bps`,
    `devices (${r.devices.length}):`
  ]
  for (const d of r.devices) lines.push(`  ${d.id.padEnd(16)} hub ${d.hub.slice(-8)}  ${d.ratedWhPerDay} Wh/day  since ${d.since}${d.retired === null ? '' : `  retired from ${d.retired}`}`)
  process.stdout.write(lines.join('\n') + '\n')
}
