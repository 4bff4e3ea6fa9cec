import { applySetChange, checkSetChange, quorumSize, type SetChangeCode } from '@ecandle/consensus'
import { hexToBytes } from '@ecandle/crypto'
import { encode } from './cbor.js'
import { fromHex, sha256, toHex } from './crypto.js'
import { ValidationError } from './errors.js'
import { verifyCertificate, type EpochValue, type VerifiedCertificate } from './agreement.js'
import {
  approvalsNeeded, governanceLimits, verifyResolution, type Operation, type ParamsSet, type VerifiedResolution
} from './governance.js'
import { MAX_DEVICES, type Network } from './network.js'
import { validatorSet, type ValidatorSet } from './validators.js'

/**
 * The network state of each epoch (docs/governance.md §5–6), derived from nothing but the network
 * file and the decided values: S(0) from genesis, S(E+1) from S(E) and the resolutions decided in
 * epoch E. Pure and deterministic: hubs (to validate and propose), auditors and the SDK (to follow)
 * run this same code.
 *
 * Timing: the registry and parameters decided in epoch E are in force from E+1; the validator set
 * from E+2. So S(E) holds the validators of E (who decide E) and of E+1 (already fixed by E−1).
 */

export interface DeviceRecord {
  id: string
  /** Device Ed25519 public key. */
  key: Uint8Array
  /** Hex of `key`. */
  publicKey: string
  hub: string
  /** Hex accounts. */
  capex: string
  opex: string
  ratedWhPerDay: number
  /** First epoch the device was registered (0 for genesis devices). */
  since: number
  /** First epoch at its current hub: reports that start before this epoch do not count there. */
  from: number
  /** First epoch it is retired, or null. */
  retired: number | null
  /** Canonical bytes hashed into the registry hash. */
  readonly bytes: Uint8Array
}

export interface Registry {
  readonly devices: ReadonlyMap<string, DeviceRecord>
  /** Hex device key → device id: one key, one device, forever. */
  readonly keys: ReadonlyMap<string, string>
  /** Hex sha256 over the records' canonical bytes in device id order. */
  readonly hash: string
}

export interface Params {
  readonly emissionPerEpoch: bigint
  readonly capexBps: number
  readonly deviceCapMwhPerEpoch: bigint
  readonly gracePeriodS: number
  /** Hex maker keys, sorted. Empty: device-add needs no maker signature. */
  readonly makers: readonly string[]
  readonly builderQuorumBps: number
  readonly hash: string
}

/** Every hub that is, was or is about to be a validator: log admission needs to know when. */
export interface HubRecord {
  peerId: string
  operator: string
  /** First epoch it is a validator. */
  from: number
  /** First epoch it no longer is, or null. */
  until: number | null
}

export interface EpochState {
  readonly networkId: string
  /** The epoch this state is in force for. */
  readonly epoch: number
  /** V(E): who decides this epoch; approvals of hub and params changes are counted against it. */
  readonly validators: ValidatorSet
  /** V(E+1), fixed by the decision of E−1. */
  readonly next: ValidatorSet
  /** R(E), retired devices included. */
  readonly registry: Registry
  /** P(E). */
  readonly params: Params
  readonly hubs: ReadonlyMap<string, HubRecord>
  /** Operations decided before E and not yet expired (id → exp): an operation never takes effect twice. */
  readonly recent: ReadonlyMap<string, number>
  /** Genesis validator count (the set's floor is min(4, it)). */
  readonly genesisSize: number
  readonly opLifetimeEpochs: number
  /** Registry cap (MAX_DEVICES; retired devices count: their ids and keys stay taken). */
  readonly maxDevices: number
  /** Hex sha256 of DAG-CBOR { v, n, r, p } (the four component hashes as bytes). */
  readonly hash: string
}

/** A builder's voice: cumulative earned reward after the epoch before the decision (docs/governance.md §4). */
export interface BuilderWeights {
  weightOf: (account: string) => bigint
  /** Σ of every account's cumulative total. */
  readonly total: bigint
}

// ---- codes ----

/** Codes of the stateful rules of a resolution (docs/governance.md §4), each a REJECT of the value that holds it. */
export const RULE_CODES = [
  'op-expired', 'op-exp-too-far', 'op-already-decided',
  'device-exists', 'device-key-exists', 'registry-full', 'unknown-device', 'device-retired',
  'hub-not-validator', 'operator-mismatch', 'maker-missing', 'unknown-maker', 'holder-mismatch', 'hub-mismatch',
  'hub-exists', 'hub-reused',
  'approval-not-validator', 'approvals-too-few', 'approval-no-weight', 'builder-quorum', 'builder-majority'
] as const
export type RuleCode = typeof RULE_CODES[number]

/** Codes of the rules of a value's governance as a whole (docs/governance.md §6). */
export const VALUE_GOV_CODES = [
  'epoch-mismatch', 'state-mismatch', 'next-mismatch', 'resolution-missing', 'op-conflict',
  'set-change-invalid', 'set-change-too-large', 'set-too-small', 'set-too-large'
] as const satisfies ReadonlyArray<string | SetChangeCode>
export type ValueGovCode = typeof VALUE_GOV_CODES[number]

export type GovernanceCode = RuleCode | ValueGovCode

/** Refusal of a governance rule: always a REJECT (a value holding it is not valid). */
export class GovernanceError extends ValidationError {
  override name = 'GovernanceError'
  constructor (override readonly code: GovernanceCode, message: string) {
    super('REJECT', code, message)
  }
}

const refuse = (code: GovernanceCode, message: string): GovernanceError => new GovernanceError(code, message)

// ---- hashes ----

function recordBytes (r: Omit<DeviceRecord, 'bytes'>): Uint8Array {
  // The epochs (since, from, retired) are not hashed: they follow from the decided chain, and a
  // continued network carries the registry with its epochs reset to 0 under the same hash.
  return encode({ id: r.id, key: r.key, hub: r.hub, capex: hexToBytes(r.capex), opex: hexToBytes(r.opex), rated: r.ratedWhPerDay, retired: r.retired !== null })
}

function makeRecord (r: Omit<DeviceRecord, 'bytes' | 'publicKey'>): DeviceRecord {
  const rec = { ...r, publicKey: toHex(r.key) }
  return { ...rec, bytes: recordBytes(rec) }
}

function registryOf (devices: Map<string, DeviceRecord>, keys: Map<string, string>): Registry {
  // Records are self-delimiting CBOR items, so their concatenation in id order has one reading.
  const records = [...devices.keys()].sort().map(id => devices.get(id)!.bytes)
  const all = new Uint8Array(records.reduce((n, b) => n + b.byteLength, 0))
  let o = 0
  for (const b of records) { all.set(b, o); o += b.byteLength }
  return { devices, keys, hash: toHex(sha256(all)) }
}

function paramsOf (p: Omit<Params, 'hash'>): Params {
  const makers = [...p.makers].sort()
  const hash = toHex(sha256(encode({
    emission: p.emissionPerEpoch.toString(), capexBps: p.capexBps, deviceCap: p.deviceCapMwhPerEpoch.toString(),
    grace: p.gracePeriodS, makers: makers.map(k => hexToBytes(k)), quorumBps: p.builderQuorumBps
  })))
  return { ...p, makers, hash }
}

/** The state hash: validators of E and E+1, registry and parameters of E. */
export function stateHash (validators: string, next: string, registry: string, params: string): string {
  const b = (h: string): Uint8Array => fromHex(h, 'hash', 32)
  return toHex(sha256(encode({ v: b(validators), n: b(next), r: b(registry), p: b(params) })))
}

function finish (s: Omit<EpochState, 'hash'>): EpochState {
  return { ...s, hash: stateHash(s.validators.hash, s.next.hash, s.registry.hash, s.params.hash) }
}

// ---- genesis ----

/** S(0): the network file's validators (epochs 0 and 1), devices (registered from epoch 0) and parameters. */
export function genesisState (net: Network): EpochState {
  const d = net.def
  const devices = new Map<string, DeviceRecord>()
  const keys = new Map<string, string>()
  for (const info of d.devices) {
    const rec = makeRecord({
      id: info.id, key: fromHex(info.publicKey, 'publicKey', 32), hub: info.hub, capex: info.capex, opex: info.opex,
      ratedWhPerDay: info.ratedWhPerDay, since: 0, from: 0, retired: info.retired === true ? 0 : null
    })
    devices.set(info.id, rec)
    keys.set(rec.publicKey, info.id)
  }
  const set = validatorSet(d.validators)
  const hubs = new Map<string, HubRecord>(d.validators.map(v => [v.peerId, { peerId: v.peerId, operator: v.operator, from: 0, until: null }]))
  return finish({
    networkId: net.id,
    epoch: 0,
    validators: set,
    next: set,
    registry: registryOf(devices, keys),
    params: paramsOf({
      emissionPerEpoch: BigInt(d.emissionPerEpoch), capexBps: d.capexBps, deviceCapMwhPerEpoch: BigInt(d.deviceCapMwhPerEpoch),
      gracePeriodS: d.gracePeriodS, makers: net.makers, builderQuorumBps: net.governance.builderQuorumBps
    }),
    hubs,
    recent: new Map(),
    genesisSize: d.validators.length,
    opLifetimeEpochs: net.governance.opLifetimeEpochs,
    maxDevices: MAX_DEVICES
  })
}

// ---- the rules of one resolution ----

export interface CheckOptions {
  /**
   * Builders' weights for the epoch being decided (cumulative totals after epoch − 1). Without them
   * the builder rules are not checked: a light peer that cannot compute them relies on the > 2/3 of
   * validators who certified the value having checked them.
   */
  weights?: BuilderWeights
}

export interface CheckedResolution {
  resolution: VerifiedResolution
  /** What the operation changes; two operations of one value may not share a key (docs/governance.md §6). */
  writes: string[]
  /** Validators that approved (distinct, of the epoch's set). */
  approvedBy: string[]
  /** Builders' tally, params only: weights that voted yes and no, and all weight. Undefined when not checked. */
  builders?: { yes: bigint, no: bigint, total: bigint }
}

const hex = (b: Uint8Array): string => toHex(b)

/**
 * Checks one resolution against S(E), `s`, the state of the epoch whose value would include it. Every
 * rule is deterministic; throws a GovernanceError (REJECT) naming the first that fails.
 */
export function checkResolution (s: EpochState, r: VerifiedResolution, opts: CheckOptions = {}): CheckedResolution {
  const op = r.op.op
  const id = r.op.id
  const E = s.epoch
  const what = `${op.type} ${id.slice(0, 12)}`
  // Expiry bounds replay in time; `recent` holds every decided operation until it expires.
  if (op.exp < E) throw refuse('op-expired', `${what}: expired at epoch ${op.exp}, this is epoch ${E}`)
  if (op.exp > E + s.opLifetimeEpochs) throw refuse('op-exp-too-far', `${what}: exp ${op.exp} is more than ${s.opLifetimeEpochs} epochs after epoch ${E}`)
  if (s.recent.has(id)) throw refuse('op-already-decided', `${what}: already decided`)
  const writes = rules(s, op, what)
  const approvedBy = countValidators(s, r, what)
  const builders = countBuilders(s, r, what, opts.weights)
  return { resolution: r, writes, approvedBy, builders }
}

function device (s: EpochState, idOf: string, what: string, live = true): DeviceRecord {
  const d = s.registry.devices.get(idOf)
  if (d === undefined) throw refuse('unknown-device', `${what}: no device ${idOf}`)
  if (live && d.retired !== null) throw refuse('device-retired', `${what}: device ${idOf} is retired`)
  return d
}

/** The registry and validator rules of each type; returns the keys the operation writes. */
function rules (s: EpochState, op: Operation, what: string): string[] {
  // Devices join, move to and take effect at hubs of the set in force when the change does: V(E+1).
  const nextHub = (hub: string): Validator => {
    const v = s.next.byId.get(hub)
    if (v === undefined) throw refuse('hub-not-validator', `${what}: hub ${hub.slice(0, 20)}… is not a validator of epoch ${s.epoch + 1}`)
    return v
  }
  switch (op.type) {
    case 'device-add': {
      if (s.registry.devices.has(op.device)) throw refuse('device-exists', `${what}: device id ${op.device} is taken (ids are never reused)`)
      const k = hex(op.key)
      if (s.registry.keys.has(k)) throw refuse('device-key-exists', `${what}: key ${k.slice(0, 12)} is already device ${s.registry.keys.get(k)}`)
      if (s.registry.devices.size >= s.maxDevices) throw refuse('registry-full', `${what}: the registry holds ${s.maxDevices} devices`)
      if (hex(op.operator) !== nextHub(op.hub).operator) throw refuse('operator-mismatch', `${what}: signed by ${hex(op.operator).slice(0, 12)}, not by the operator of hub ${op.hub}`)
      // Where the network names makers, only a device key a maker signed can be registered.
      if (s.params.makers.length > 0) {
        if (op.maker === null) throw refuse('maker-missing', `${what}: this network names makers; a maker's signature over the device key is needed`)
        if (!s.params.makers.includes(hex(op.maker.key))) throw refuse('unknown-maker', `${what}: maker ${hex(op.maker.key).slice(0, 12)} is not one the network names`)
      }
      return [`device:${op.device}`, `key:${k}`]
    }
    case 'device-transfer': {
      const d = device(s, op.device, what)
      if (hex(op.from) !== d[op.role]) throw refuse('holder-mismatch', `${what}: ${hex(op.from).slice(0, 12)} does not hold the ${op.role} role of ${op.device}`)
      return [`device:${op.device}`]
    }
    case 'device-move': {
      const d = device(s, op.device, what)
      if (op.from !== d.hub) throw refuse('hub-mismatch', `${what}: ${op.device} is at hub ${d.hub}, not ${op.from}`)
      if (hex(op.opex) !== d.opex) throw refuse('holder-mismatch', `${what}: ${hex(op.opex).slice(0, 12)} is not the opex builder of ${op.device}`)
      if (hex(op.toOperator) !== nextHub(op.to).operator) throw refuse('operator-mismatch', `${what}: not signed by the operator of hub ${op.to}`)
      // The hub it leaves agrees while it is a validator; a hub that is gone cannot hold its devices hostage.
      const fromNow = s.next.byId.get(op.from)
      const wantFrom = fromNow === undefined ? null : fromNow.operator
      if ((op.fromOperator === null ? null : hex(op.fromOperator)) !== wantFrom) {
        throw refuse('operator-mismatch', wantFrom === null ? `${what}: hub ${op.from} is no longer a validator; its operator does not sign` : `${what}: not signed by the operator of hub ${op.from}`)
      }
      return [`device:${op.device}`]
    }
    case 'device-retire': {
      const d = device(s, op.device, what)
      if (hex(op.capex) !== d.capex || hex(op.opex) !== d.opex) throw refuse('holder-mismatch', `${what}: not signed by the capex and opex builders of ${op.device}`)
      return [`device:${op.device}`]
    }
    case 'hub-add': {
      if (s.next.byId.has(op.hub)) throw refuse('hub-exists', `${what}: ${op.hub} is already a validator`)
      // A peer id is a validator once: log admission and certificate history rely on one interval per hub.
      if (s.hubs.has(op.hub)) throw refuse('hub-reused', `${what}: ${op.hub} was a validator before; a returning hub takes a new key`)
      return [`hub:${op.hub}`]
    }
    case 'hub-remove':
      nextHub(op.hub)
      return [`hub:${op.hub}`]
    case 'params':
      return ['params']
  }
}

type Validator = ValidatorSet['list'][number]

function countValidators (s: EpochState, r: VerifiedResolution, what: string): string[] {
  const need = approvalsNeeded(r.op.op.type)
  const yes: string[] = []
  const byKey = new Map(s.validators.list.map(v => [hex(v.publicKey), v]))
  for (const a of r.approvals) {
    if (a.as !== 'validator') continue
    // Only validators of the epoch being decided count; a resolution carries no other approval.
    const v = byKey.get(hex(a.by))
    if (v === undefined) throw refuse('approval-not-validator', `${what}: approval by ${hex(a.by).slice(0, 12)}, not a validator of epoch ${s.epoch}`)
    if (a.yes) yes.push(v.peerId)
  }
  const n = s.validators.ids.length
  if (need.validators && yes.length < quorumSize(n)) throw refuse('approvals-too-few', `${what}: approved by ${yes.length} of ${n} validators, needs more than 2/3 (${quorumSize(n)})`)
  return yes
}

function countBuilders (s: EpochState, r: VerifiedResolution, what: string, weights: BuilderWeights | undefined): CheckedResolution['builders'] {
  if (!approvalsNeeded(r.op.op.type).builders || weights === undefined) return undefined
  let yes = 0n
  let no = 0n
  for (const a of r.approvals) {
    if (a.as !== 'builder') continue
    const w = weights.weightOf(hex(a.by))
    // An account that never earned has no voice; carrying its approval would only grow the value.
    if (w <= 0n) throw refuse('approval-no-weight', `${what}: builder ${hex(a.by).slice(0, 12)} has earned nothing, so has no weight`)
    if (a.yes) yes += w
    else no += w
  }
  const total = weights.total
  // No weight anywhere yet (nothing earned so far): there is no builders' voice to ask.
  if (total > 0n) {
    if ((yes + no) * 10_000n < BigInt(s.params.builderQuorumBps) * total) {
      throw refuse('builder-quorum', `${what}: builders with ${yes + no} of ${total} weight voted, the quorum is ${s.params.builderQuorumBps / 100}%`)
    }
    if (yes * 2n <= yes + no) throw refuse('builder-majority', `${what}: builders voted ${yes} yes against ${no} no; more than half of the weight that voted must say yes`)
  }
  return { yes, no, total }
}

// ---- a value's governance as a whole, and the next state ----

export interface Decided {
  checked: CheckedResolution[]
  /** S(E+1). */
  next: EpochState
}

/**
 * Checks the resolutions of epoch `s.epoch`'s value as a whole and computes S(E+1): each resolution
 * by `checkResolution`, no two writing one key, and the validator-set change within its bounds.
 */
export function decideGovernance (s: EpochState, resolutions: readonly VerifiedResolution[], opts: CheckOptions = {}): Decided {
  // Applied in id order (a value's order): hubs added together join the set in that order, whatever order the caller holds them in.
  const checked = [...resolutions].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0).map(r => checkResolution(s, r, opts))
  // Operations that touch the same device, key, hub or the parameters in one value have no agreed order: refused.
  const owner = new Map<string, string>()
  for (const c of checked) {
    for (const k of [`op:${c.resolution.op.id}`, ...c.writes]) {
      const other = owner.get(k)
      if (other !== undefined) throw refuse('op-conflict', `resolutions ${other.slice(0, 12)} and ${c.resolution.id.slice(0, 12)} both change ${k.slice(0, 40)}`)
      owner.set(k, c.resolution.id)
    }
  }
  const added = checked.flatMap(c => c.resolution.op.op.type === 'hub-add' ? [c.resolution.op.op] : []) as Array<Extract<Operation, { type: 'hub-add' }>>
  const removed = checked.flatMap(c => c.resolution.op.op.type === 'hub-remove' ? [c.resolution.op.op.hub] : [])
  const setCode = checkSetChange(s.next.ids, added.map(a => a.hub), removed, s.genesisSize)
  if (setCode !== undefined) throw refuse(setCode, `epoch ${s.epoch}: the validator set of ${s.next.ids.length} would gain ${added.length} and lose ${removed.length}: ${setCode}`)
  return { checked, next: applyDecided(s, checked, added, removed) }
}

function applyDecided (s: EpochState, checked: readonly CheckedResolution[], added: ReadonlyArray<Extract<Operation, { type: 'hub-add' }>>, removed: readonly string[]): EpochState {
  const E1 = s.epoch + 1
  const E2 = s.epoch + 2
  let devices: Map<string, DeviceRecord> | undefined
  let keys: Map<string, string> | undefined
  let params: Omit<Params, 'hash'> | undefined
  const recent = new Map<string, number>()
  for (const [id, exp] of s.recent) if (exp >= E1) recent.set(id, exp)
  const edit = (): Map<string, DeviceRecord> => (devices ??= new Map(s.registry.devices))
  for (const c of checked) {
    const op = c.resolution.op.op
    // Kept while it could still be decided again (exp ≥ E+1); after that, expiry refuses it.
    if (op.exp >= E1) recent.set(c.resolution.op.id, op.exp)
    switch (op.type) {
      case 'device-add':
        edit().set(op.device, makeRecord({ id: op.device, key: op.key, hub: op.hub, capex: hex(op.capex), opex: hex(op.opex), ratedWhPerDay: op.ratedWhPerDay, since: E1, from: E1, retired: null }))
        ;(keys ??= new Map(s.registry.keys)).set(hex(op.key), op.device)
        break
      case 'device-transfer': {
        const d = s.registry.devices.get(op.device)!
        edit().set(op.device, makeRecord({ ...d, [op.role]: hex(op.to) }))
        break
      }
      case 'device-move': {
        const d = s.registry.devices.get(op.device)!
        edit().set(op.device, makeRecord({ ...d, hub: op.to, from: E1 }))
        break
      }
      case 'device-retire': {
        const d = s.registry.devices.get(op.device)!
        edit().set(op.device, makeRecord({ ...d, retired: E1 }))
        break
      }
      case 'params':
        params = mergeParams(s.params, op.set)
        break
      case 'hub-add':
      case 'hub-remove':
        break
    }
  }
  let hubs: Map<string, HubRecord> | undefined
  if (added.length > 0 || removed.length > 0) {
    hubs = new Map(s.hubs)
    for (const a of added) hubs.set(a.hub, { peerId: a.hub, operator: hex(a.operator), from: E2, until: null })
    for (const r of removed) hubs.set(r, { ...hubs.get(r)!, until: E2 })
  }
  let next = s.next
  if (hubs !== undefined) {
    const ids = applySetChange(s.next.ids, added.map(a => a.hub), removed)
    next = validatorSet(ids.map(id => ({ peerId: id, operator: hubs!.get(id)!.operator })))
  }
  return finish({
    networkId: s.networkId,
    epoch: E1,
    validators: s.next,
    next,
    registry: devices === undefined ? s.registry : registryOf(devices, keys ?? new Map(s.registry.keys)),
    params: params === undefined ? s.params : paramsOf(params),
    hubs: hubs ?? s.hubs,
    recent,
    genesisSize: s.genesisSize,
    opLifetimeEpochs: s.opLifetimeEpochs,
    maxDevices: s.maxDevices
  })
}

function mergeParams (p: Params, set: ParamsSet): Omit<Params, 'hash'> {
  return {
    emissionPerEpoch: set.emissionPerEpoch ?? p.emissionPerEpoch,
    capexBps: set.capexBps ?? p.capexBps,
    deviceCapMwhPerEpoch: set.deviceCapMwhPerEpoch ?? p.deviceCapMwhPerEpoch,
    gracePeriodS: set.gracePeriodS ?? p.gracePeriodS,
    makers: set.makers ?? p.makers,
    builderQuorumBps: set.builderQuorumBps ?? p.builderQuorumBps
  }
}

/** S(E+1) when epoch E decided nothing (no resolutions): cheap, shares everything but the sets. */
export function advanceEmpty (s: EpochState): EpochState {
  return decideGovernance(s, []).next
}

// ---- following decided values (hubs, auditors, the SDK) ----

/**
 * One step of the chain of states: checks that `value` (epoch E, certified or proposed) was decided
 * under `s` = S(E), that `resolutions` are exactly the ones it names, that they pass every rule, and
 * that its `next` is the hash of the state they lead to; returns S(E+1). A validator runs it before it
 * prevotes (with builder weights); a light peer runs it on each certified value.
 */
export function followValue (s: EpochState, value: EpochValue, resolutions: readonly Uint8Array[], opts: CheckOptions = {}): Decided {
  if (value.epoch !== s.epoch) throw refuse('epoch-mismatch', `value of epoch ${value.epoch} checked against the state of epoch ${s.epoch}`)
  if (value.state !== s.hash) throw refuse('state-mismatch', `value of epoch ${value.epoch}: decided under state ${value.state.slice(0, 12)}, but the state of that epoch is ${s.hash.slice(0, 12)}`)
  const byId = new Map<string, VerifiedResolution>()
  for (const b of resolutions) {
    const r = verifyResolution(s.networkId, b)
    byId.set(r.id, r)
  }
  const missing = value.gov.filter(id => !byId.has(id))
  if (missing.length > 0 || byId.size !== value.gov.length) {
    throw refuse('resolution-missing', `value of epoch ${value.epoch}: ${missing.length > 0 ? `resolutions ${missing.map(m => m.slice(0, 12)).join(', ')} not given` : 'resolutions given that it does not name'}`)
  }
  const d = decideGovernance(s, value.gov.map(id => byId.get(id)!), opts)
  if (d.next.hash !== value.next) throw refuse('next-mismatch', `value of epoch ${value.epoch}: names next state ${value.next.slice(0, 12)}, its resolutions lead to ${d.next.hash.slice(0, 12)}`)
  return d
}

/** The governance fields of a value a proposer builds on `s` with `resolutions` (already chosen by `selectResolutions`). */
export function governanceFields (s: EpochState, resolutions: readonly VerifiedResolution[], opts: CheckOptions = {}): Pick<EpochValue, 'gov' | 'state' | 'next'> & { decided: Decided } {
  const sorted = [...resolutions].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const decided = decideGovernance(s, sorted, opts)
  return { gov: sorted.map(r => r.id), state: s.hash, next: decided.next.hash, decided }
}

/**
 * What a proposer includes: from its pool (any order, any validity), every resolution that passes on
 * `s`, in id order, skipping any that conflicts with one taken before or would push the set change
 * past its bound, at most `maxResolutionsPerValue`. Deterministic for a given pool.
 */
export function selectResolutions (s: EpochState, pool: Iterable<VerifiedResolution>, opts: CheckOptions = {}): VerifiedResolution[] {
  const candidates = [...pool].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const taken: VerifiedResolution[] = []
  const owned = new Set<string>()
  const added: string[] = []
  const removed: string[] = []
  for (const r of candidates) {
    if (taken.length >= governanceLimits.maxResolutionsPerValue) break
    let c: CheckedResolution
    try {
      c = checkResolution(s, r, opts)
    } catch (err) {
      if (err instanceof GovernanceError) continue
      throw err
    }
    const ks = [`op:${r.op.id}`, ...c.writes]
    if (ks.some(k => owned.has(k))) continue
    const op = r.op.op
    if (op.type === 'hub-add' || op.type === 'hub-remove') {
      const a = op.type === 'hub-add' ? [...added, op.hub] : added
      const x = op.type === 'hub-remove' ? [...removed, op.hub] : removed
      if (checkSetChange(s.next.ids, a, x, s.genesisSize) !== undefined) continue
      if (op.type === 'hub-add') added.push(op.hub)
      else removed.push(op.hub)
    }
    taken.push(r)
    for (const k of ks) owned.add(k)
  }
  return taken
}

/** The validator set of `epoch` as far as S(E) knows it (V(E) and V(E+1)); undefined otherwise. */
export function validatorsAt (s: EpochState, epoch: number): ValidatorSet | undefined {
  return epoch === s.epoch ? s.validators : epoch === s.epoch + 1 ? s.next : undefined
}

/**
 * A light peer's step: the certificate of epoch `s.epoch` verifies against that epoch's validators
 * (more than 2/3 of V(E), whatever the set of other epochs), and its value's governance follows from
 * `s` with `resolutions` (fetched by the governance sync protocol). Returns the certificate and S(E+1).
 * Linking to the previous decision (`prev`, cuts) is the caller's: it knows the chain.
 */
export function followCertificate (net: Network, s: EpochState, bytes: Uint8Array, resolutions: readonly Uint8Array[], opts: CheckOptions = {}): Decided & { cert: VerifiedCertificate } {
  const cert = verifyCertificate(net, bytes, (e) => validatorsAt(s, e))
  if (cert.value.epoch !== s.epoch) throw refuse('epoch-mismatch', `certificate of epoch ${cert.value.epoch}, the chain is at epoch ${s.epoch}`)
  return { ...followValue(s, cert.value, resolutions, opts), cert }
}

/**
 * The governance fields of a value on a network where nothing has ever been decided: no resolutions,
 * and the genesis state hash as both `state` and `next` (the hash does not name the epoch). For hubs
 * that do not yet run governance (they refuse any value whose fields differ).
 */
export function noGovernance (net: Network): Pick<EpochValue, 'gov' | 'state' | 'next'> {
  const h = genesisHashOf(net)
  return { gov: [], state: h, next: h }
}

const genesisHashes = new WeakMap<Network, string>()
function genesisHashOf (net: Network): string {
  let h = genesisHashes.get(net)
  if (h === undefined) {
    h = genesisState(net).hash
    genesisHashes.set(net, h)
  }
  return h
}
