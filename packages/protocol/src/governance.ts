import { compareBytes, hexToBytes } from '@ecandle/crypto'
import { decodeCanonical, encode, expectBytes, expectMap, expectString, expectUint, isPlainObject } from './cbor.js'
import { Domain, sha256, toHex, verifySignature, type Signer } from './crypto.js'
import { ProtocolError, reject, ValidationError } from './errors.js'
import { publicKeyFromPeerId } from './ids.js'
import { DEVICE_ID_RE, MAX_MAKERS } from './network.js'

/**
 * Governance objects (docs/governance.md §3–4): operations that change the registry, the validator
 * set or the parameters, approvals of validators and builders, and resolutions (an operation with the
 * approvals it needs, the unit a decided value names). All are canonical DAG-CBOR; every signature is
 * made under a domain that names the network, so nothing verifies on another network.
 */

export const governanceLimits = {
  /** A signed operation (a params change naming 64 makers is ≈ 2.5 KiB). */
  maxOperationBytes: 4096,
  /** A signed approval (≈ 150 B). */
  maxApprovalBytes: 256,
  /** Approvals in one resolution: every validator and up to ~770 builders. */
  maxApprovalsPerResolution: 1024,
  /** A resolution: its operation and approvals. */
  maxResolutionBytes: 4096 + 1024 * 256 + 64,
  /** Resolutions one decided value may name. */
  maxResolutionsPerValue: 128
} as const

export const OP_TYPES = ['device-add', 'device-transfer', 'device-move', 'device-retire', 'hub-add', 'hub-remove', 'params'] as const
export type OpType = typeof OP_TYPES[number]

/** A maker's signature over a device's public key (domain `ecandle/maker/1`, no network: it is made at the factory). */
export interface MakerCert { key: Uint8Array, signature: Uint8Array }

interface OpBase {
  /** Last epoch whose decided value may include the operation. */
  exp: number
}

export interface DeviceAdd extends OpBase {
  type: 'device-add'
  device: string
  /** The device's Ed25519 public key (it signs, proving it holds the key). */
  key: Uint8Array
  hub: string
  capex: Uint8Array
  opex: Uint8Array
  ratedWhPerDay: number
  /** The hub's operator account (it signs: the hub agrees to carry the device). */
  operator: Uint8Array
  /** Required when the network names makers. */
  maker: MakerCert | null
}

export interface DeviceTransfer extends OpBase {
  type: 'device-transfer'
  device: string
  role: 'capex' | 'opex'
  /** Current holder of the role (signs). */
  from: Uint8Array
  /** New holder (signs). */
  to: Uint8Array
}

export interface DeviceMove extends OpBase {
  type: 'device-move'
  device: string
  from: string
  to: string
  /** The device's opex builder (signs). */
  opex: Uint8Array
  /** Operator of `from` (signs); null exactly when `from` is no longer a validator. */
  fromOperator: Uint8Array | null
  /** Operator of `to` (signs). */
  toOperator: Uint8Array
}

export interface DeviceRetire extends OpBase {
  type: 'device-retire'
  device: string
  /** Both builders sign: retiring ends both shares. */
  capex: Uint8Array
  opex: Uint8Array
}

export interface HubAdd extends OpBase {
  type: 'hub-add'
  /** Peer id of the new validator (its key signs). */
  hub: string
  /** Its operator account (signs). */
  operator: Uint8Array
}

export interface HubRemove extends OpBase {
  type: 'hub-remove'
  hub: string
}

/** The parameters a `params` operation may set; at least one. */
export interface ParamsSet {
  emissionPerEpoch?: bigint
  capexBps?: number
  deviceCapMwhPerEpoch?: bigint
  gracePeriodS?: number
  /** Hex maker keys: the whole new list. */
  makers?: string[]
  builderQuorumBps?: number
}

export interface ParamsChange extends OpBase {
  type: 'params'
  set: ParamsSet
}

export type Operation = DeviceAdd | DeviceTransfer | DeviceMove | DeviceRetire | HubAdd | HubRemove | ParamsChange

/** Who signs an operation, by role. */
export type Role = 'device' | 'operator' | 'capex' | 'opex' | 'from' | 'to' | 'hub' | 'fromOperator' | 'toOperator'

/** The roles that must sign `op` and the key each signs with (from the operation itself). */
export function signersOf (op: Operation): Array<[Role, Uint8Array]> {
  switch (op.type) {
    case 'device-add': return [['device', op.key], ['operator', op.operator], ['capex', op.capex]]
    case 'device-transfer': return [['from', op.from], ['to', op.to]]
    case 'device-move': return [['opex', op.opex], ...(op.fromOperator === null ? [] : [['fromOperator', op.fromOperator] as [Role, Uint8Array]]), ['toOperator', op.toOperator]]
    case 'device-retire': return [['capex', op.capex], ['opex', op.opex]]
    case 'hub-add': return [['hub', publicKeyFromPeerId(op.hub)], ['operator', op.operator]]
    case 'hub-remove': return []
    case 'params': return []
  }
}

/** Which approvals an operation needs to be decided (docs/governance.md §4). */
export function approvalsNeeded (type: OpType): { validators: boolean, builders: boolean } {
  return { validators: type === 'hub-add' || type === 'hub-remove' || type === 'params', builders: type === 'params' }
}

// ---- codes ----

/** Codes of the stateless operation rules, each a REJECT (docs/governance.md §3). */
export const OPERATION_CODES = [
  'op-size', 'op-encoding', 'op-non-canonical', 'op-shape', 'op-type', 'op-signers', 'op-signature', 'maker-signature', 'op-noop'
] as const
export type OperationCode = typeof OPERATION_CODES[number]

/** Codes of the stateless approval rules, each a REJECT. */
export const APPROVAL_CODES = ['approval-size', 'approval-encoding', 'approval-non-canonical', 'approval-shape', 'approval-signature'] as const
export type ApprovalCode = typeof APPROVAL_CODES[number]

/** Codes of the stateless resolution rules, each a REJECT: its own, and those of its operation and approvals. */
export const RESOLUTION_CODES = [
  'resolution-size', 'resolution-encoding', 'resolution-non-canonical', 'resolution-shape',
  'approval-other-op', 'approval-order', 'approval-conflict', 'approval-unexpected',
  ...OPERATION_CODES, ...APPROVAL_CODES
] as const
export type ResolutionCode = typeof RESOLUTION_CODES[number]

// ---- operations ----

export const govDomain = (networkId: string): string => `${Domain.gov}/${networkId}`
export const approvalDomain = (networkId: string): string => `${Domain.approval}/${networkId}`

const KEY = 32
const SIG = 64
const DECIMAL_RE = /^(0|[1-9][0-9]{0,38})$/
const MAX_RATED_WH_PER_DAY = 10_000_000
const MAX_EXP = 2 ** 40

/** Canonical payload of an operation: what every signer signs and what its id hashes. */
export function encodeOperationPayload (op: Operation): Uint8Array {
  const base = { t: op.type, exp: op.exp }
  switch (op.type) {
    case 'device-add':
      return encode({ ...base, id: op.device, key: op.key, hub: op.hub, capex: op.capex, opex: op.opex, rated: op.ratedWhPerDay, op: op.operator, maker: op.maker === null ? null : { key: op.maker.key, sig: op.maker.signature } })
    case 'device-transfer':
      return encode({ ...base, id: op.device, role: op.role, from: op.from, to: op.to })
    case 'device-move':
      return encode({ ...base, id: op.device, from: op.from, to: op.to, opex: op.opex, fromOp: op.fromOperator, toOp: op.toOperator })
    case 'device-retire':
      return encode({ ...base, id: op.device, capex: op.capex, opex: op.opex })
    case 'hub-add':
      return encode({ ...base, hub: op.hub, op: op.operator })
    case 'hub-remove':
      return encode({ ...base, hub: op.hub })
    case 'params':
      return encode({ ...base, set: encodeParamsSet(op.set) })
  }
}

function encodeParamsSet (s: ParamsSet): Record<string, unknown> {
  const m: Record<string, unknown> = {}
  if (s.emissionPerEpoch !== undefined) m.emission = s.emissionPerEpoch.toString()
  if (s.capexBps !== undefined) m.capexBps = s.capexBps
  if (s.deviceCapMwhPerEpoch !== undefined) m.deviceCap = s.deviceCapMwhPerEpoch.toString()
  if (s.gracePeriodS !== undefined) m.grace = s.gracePeriodS
  if (s.makers !== undefined) m.makers = [...s.makers].sort().map(k => hexToBytes(k))
  if (s.builderQuorumBps !== undefined) m.quorumBps = s.builderQuorumBps
  return m
}

/** Hex sha256 of the payload bytes. Signatures are not part of it: one operation, one id, however it was signed. */
export const operationIdOf = (payload: Uint8Array): string => toHex(sha256(payload))

/** A signer's signature over an operation's payload (a signed operation carries one per role). */
export function signOperationPayload (networkId: string, payload: Uint8Array, signer: Signer): Uint8Array {
  return signer.sign(govDomain(networkId), payload)
}

/** The maker's signature over a device key, made once at the factory. */
export function signMakerCert (maker: Signer, deviceKey: Uint8Array): MakerCert {
  return { key: maker.publicKey, signature: maker.sign(Domain.maker, deviceKey) }
}

/** `{ p: payload, s: { role: signature } }`. Signatures may be missing while an operation collects them (`ecandle gov sign`). */
export function encodeOperation (payload: Uint8Array, signatures: Partial<Record<Role, Uint8Array>>): Uint8Array {
  return encode({ p: payload, s: { ...signatures } })
}

/** Signs `op` with every signer given (by role) and returns the signed operation. */
export function signOperation (networkId: string, op: Operation, signers: Partial<Record<Role, Signer>>): Uint8Array {
  const payload = encodeOperationPayload(op)
  const sigs: Partial<Record<Role, Uint8Array>> = {}
  for (const [role, signer] of Object.entries(signers) as Array<[Role, Signer]>) sigs[role] = signOperationPayload(networkId, payload, signer)
  return encodeOperation(payload, sigs)
}

/** Adds (or replaces) one role's signature on a signed operation. */
export function addOperationSignature (networkId: string, bytes: Uint8Array, role: Role, signer: Signer): Uint8Array {
  const d = decodeOperation(bytes)
  return encodeOperation(d.payload, { ...d.signatures, [role]: signOperationPayload(networkId, d.payload, signer) })
}

export interface DecodedOperation {
  bytes: Uint8Array
  /** Hex id (sha256 of the payload). */
  id: string
  op: Operation
  payload: Uint8Array
  signatures: Partial<Record<Role, Uint8Array>>
}

/** A decoded operation whose every stateless rule passed (`verifyOperation`). */
export type VerifiedOperation = DecodedOperation

const ROLES: readonly Role[] = ['device', 'operator', 'capex', 'opex', 'from', 'to', 'hub', 'fromOperator', 'toOperator']

function decodeErr (prefix: string, err: unknown): never {
  if (err instanceof ValidationError) throw err
  if (err instanceof ProtocolError) throw reject(`${prefix}-${err.code}`, err.message)
  throw err
}

/** Decodes a signed operation: size, canonical bytes, shape and bounds of every field. Signatures may be incomplete; none is checked. */
export function decodeOperation (bytes: Uint8Array): DecodedOperation {
  try {
    if (bytes.byteLength > governanceLimits.maxOperationBytes) throw new ProtocolError('size', `operation: ${bytes.byteLength} bytes > ${governanceLimits.maxOperationBytes}`)
    const env = expectMap(decodeCanonical(bytes, 'operation'), 'operation', ['p', 's'])
    const payload = expectBytes(env.p, 'operation.p', governanceLimits.maxOperationBytes)
    if (!isPlainObject(env.s)) throw new ProtocolError('shape', 'operation.s: expected a map of role → signature')
    const signatures: Partial<Record<Role, Uint8Array>> = {}
    for (const [role, sig] of Object.entries(env.s)) {
      if (!(ROLES as readonly string[]).includes(role)) throw new ProtocolError('shape', `operation.s: unknown role ${role.slice(0, 20)}`)
      signatures[role as Role] = expectBytes(sig, `operation.s.${role}`, SIG, SIG)
    }
    const op = decodePayload(decodeCanonical(payload, 'operation payload'))
    return { bytes, id: operationIdOf(payload), op, payload, signatures }
  } catch (err) {
    return decodeErr('op', err)
  }
}

function key (v: unknown, what: string): Uint8Array { return expectBytes(v, what, KEY, KEY) }
function keyOrNull (v: unknown, what: string): Uint8Array | null { return v === null ? null : key(v, what) }
function peerIdField (v: unknown, what: string): string {
  const s = expectString(v, what, 128)
  publicKeyFromPeerId(s) // throws ProtocolError('peer-id') → shape below
  return s
}
function deviceId (v: unknown, what: string): string { return expectString(v, what, 64, DEVICE_ID_RE) }
function decimal (v: unknown, what: string): bigint { return BigInt(expectString(v, what, 39, DECIMAL_RE)) }

function decodePayload (raw: unknown): Operation {
  if (!isPlainObject(raw)) throw new ProtocolError('shape', 'operation payload: expected a map')
  const t = raw.t
  if (typeof t !== 'string' || !(OP_TYPES as readonly string[]).includes(t)) throw reject('op-type', `operation: unknown type ${String(t).slice(0, 32)}`)
  const type = t as OpType
  const fields: Record<OpType, string[]> = {
    'device-add': ['id', 'key', 'hub', 'capex', 'opex', 'rated', 'op', 'maker'],
    'device-transfer': ['id', 'role', 'from', 'to'],
    'device-move': ['id', 'from', 'to', 'opex', 'fromOp', 'toOp'],
    'device-retire': ['id', 'capex', 'opex'],
    'hub-add': ['hub', 'op'],
    'hub-remove': ['hub'],
    params: ['set']
  }
  const m = expectMap(raw, `${type} payload`, ['t', 'exp', ...fields[type]])
  const exp = expectUint(m.exp, `${type}.exp`, MAX_EXP)
  try {
    switch (type) {
      case 'device-add': {
        let maker: MakerCert | null = null
        if (m.maker !== null) {
          const mk = expectMap(m.maker, 'device-add.maker', ['key', 'sig'])
          maker = { key: key(mk.key, 'device-add.maker.key'), signature: expectBytes(mk.sig, 'device-add.maker.sig', SIG, SIG) }
        }
        return {
          type, exp, device: deviceId(m.id, 'device-add.id'), key: key(m.key, 'device-add.key'), hub: peerIdField(m.hub, 'device-add.hub'),
          capex: key(m.capex, 'device-add.capex'), opex: key(m.opex, 'device-add.opex'),
          ratedWhPerDay: rated(m.rated), operator: key(m.op, 'device-add.op'), maker
        }
      }
      case 'device-transfer': {
        if (m.role !== 'capex' && m.role !== 'opex') throw new ProtocolError('shape', 'device-transfer.role: expected capex or opex')
        return { type, exp, device: deviceId(m.id, 'device-transfer.id'), role: m.role, from: key(m.from, 'device-transfer.from'), to: key(m.to, 'device-transfer.to') }
      }
      case 'device-move':
        return {
          type, exp, device: deviceId(m.id, 'device-move.id'), from: peerIdField(m.from, 'device-move.from'), to: peerIdField(m.to, 'device-move.to'),
          opex: key(m.opex, 'device-move.opex'), fromOperator: keyOrNull(m.fromOp, 'device-move.fromOp'), toOperator: key(m.toOp, 'device-move.toOp')
        }
      case 'device-retire':
        return { type, exp, device: deviceId(m.id, 'device-retire.id'), capex: key(m.capex, 'device-retire.capex'), opex: key(m.opex, 'device-retire.opex') }
      case 'hub-add':
        return { type, exp, hub: peerIdField(m.hub, 'hub-add.hub'), operator: key(m.op, 'hub-add.op') }
      case 'hub-remove':
        return { type, exp, hub: peerIdField(m.hub, 'hub-remove.hub') }
      case 'params':
        return { type, exp, set: decodeParamsSet(m.set) }
    }
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'peer-id') throw new ProtocolError('shape', `${type}: ${err.message}`)
    throw err
  }
}

function rated (v: unknown): number {
  const n = expectUint(v, 'device-add.rated', MAX_RATED_WH_PER_DAY)
  if (n < 1) throw new ProtocolError('shape', 'device-add.rated: must be ≥ 1 Wh/day')
  return n
}

const PARAM_KEYS = ['emission', 'capexBps', 'deviceCap', 'grace', 'makers', 'quorumBps']

function decodeParamsSet (v: unknown): ParamsSet {
  if (!isPlainObject(v)) throw new ProtocolError('shape', 'params.set: expected a map')
  const keys = Object.keys(v)
  if (keys.length === 0) throw new ProtocolError('shape', 'params.set: sets nothing')
  for (const k of keys) if (!PARAM_KEYS.includes(k)) throw new ProtocolError('shape', `params.set: unknown parameter ${k.slice(0, 32)}`)
  const s: ParamsSet = {}
  if ('emission' in v) s.emissionPerEpoch = decimal(v.emission, 'params.set.emission')
  if ('capexBps' in v) s.capexBps = expectUint(v.capexBps, 'params.set.capexBps', 10_000)
  if ('deviceCap' in v) s.deviceCapMwhPerEpoch = decimal(v.deviceCap, 'params.set.deviceCap')
  if ('grace' in v) s.gracePeriodS = expectUint(v.grace, 'params.set.grace', 86_400)
  if ('quorumBps' in v) s.builderQuorumBps = expectUint(v.quorumBps, 'params.set.quorumBps', 10_000)
  if ('makers' in v) {
    if (!Array.isArray(v.makers) || v.makers.length > MAX_MAKERS) throw new ProtocolError('shape', `params.set.makers: expected at most ${MAX_MAKERS} keys`)
    const hex = v.makers.map((k, i) => toHex(key(k, `params.set.makers[${i}]`)))
    // Sorted and unique: one list, one byte form.
    for (let i = 1; i < hex.length; i++) if (hex[i] <= hex[i - 1]) throw new ProtocolError('shape', 'params.set.makers: keys must be sorted and unique')
    s.makers = hex
  }
  return s
}

/**
 * Every stateless rule of a signed operation (docs/governance.md §3): decoding, exactly the roles its
 * type needs, each role's signature over the payload under this network's domain, the maker's
 * signature over the device key, and no operation that changes nothing. REJECT otherwise.
 * Whether the keys are the right ones (the current holder, the hub's operator, a named maker) is
 * stateful: `checkResolution` in gov-state.ts.
 */
export function verifyOperation (networkId: string, bytes: Uint8Array): VerifiedOperation {
  const d = decodeOperation(bytes)
  const op = d.op
  const need = signersOf(op)
  const have = Object.keys(d.signatures)
  // Exactly the signatures the type names: no more (bytes nobody checks) and no fewer.
  const missing = need.filter(([r]) => d.signatures[r] === undefined).map(([r]) => r)
  const extra = have.filter(r => !need.some(([n]) => n === r))
  if (missing.length > 0 || extra.length > 0) {
    throw reject('op-signers', `${op.type} ${d.id.slice(0, 12)}: ${missing.length > 0 ? `missing signature of ${missing.join(', ')}` : ''}${missing.length > 0 && extra.length > 0 ? '; ' : ''}${extra.length > 0 ? `unexpected signature of ${extra.join(', ')}` : ''}`)
  }
  for (const [role, k] of need) {
    if (!verifySignature(k, govDomain(networkId), d.payload, d.signatures[role]!)) throw reject('op-signature', `${op.type} ${d.id.slice(0, 12)}: bad signature of the ${role}`)
  }
  if (op.type === 'device-add' && op.maker !== null && !verifySignature(op.maker.key, Domain.maker, op.key, op.maker.signature)) {
    throw reject('maker-signature', `device-add ${op.device}: the maker's signature does not cover the device key`)
  }
  // An operation that names no change is refused: it could only fill the pool.
  if (op.type === 'device-transfer' && compareBytes(op.from, op.to) === 0) throw reject('op-noop', `device-transfer ${op.device}: from and to are the same account`)
  if (op.type === 'device-move' && op.from === op.to) throw reject('op-noop', `device-move ${op.device}: from and to are the same hub`)
  return d
}

// ---- approvals ----

export interface Approval {
  /** Hex id of the operation approved. */
  op: string
  /** Key of the approver: a validator's hub key or a builder's account. */
  by: Uint8Array
  as: 'validator' | 'builder'
  /** A builder may vote no; a validator's no counts as no approval. */
  yes: boolean
}

export interface VerifiedApproval extends Approval {
  bytes: Uint8Array
  /** Hex sha256 of the payload. */
  id: string
  payload: Uint8Array
  signature: Uint8Array
}

export function encodeApprovalPayload (a: Approval): Uint8Array {
  return encode({ op: hexToBytes(a.op), by: a.by, as: a.as === 'validator' ? 'v' : 'b', yes: a.yes })
}

export function signApproval (networkId: string, signer: Signer, a: Omit<Approval, 'by'>): Uint8Array {
  const payload = encodeApprovalPayload({ ...a, by: signer.publicKey })
  return encode({ p: payload, s: signer.sign(approvalDomain(networkId), payload) })
}

/** Decodes and verifies an approval's signature (its key is in it). REJECT `approval-*` otherwise. */
export function verifyApproval (networkId: string, bytes: Uint8Array): VerifiedApproval {
  let a: VerifiedApproval
  try {
    if (bytes.byteLength > governanceLimits.maxApprovalBytes) throw new ProtocolError('size', `approval: ${bytes.byteLength} bytes > ${governanceLimits.maxApprovalBytes}`)
    const env = expectMap(decodeCanonical(bytes, 'approval'), 'approval', ['p', 's'])
    const payload = expectBytes(env.p, 'approval.p', governanceLimits.maxApprovalBytes)
    const signature = expectBytes(env.s, 'approval.s', SIG, SIG)
    const m = expectMap(decodeCanonical(payload, 'approval payload'), 'approval payload', ['op', 'by', 'as', 'yes'])
    if (m.as !== 'v' && m.as !== 'b') throw new ProtocolError('shape', 'approval.as: expected "v" (validator) or "b" (builder)')
    if (typeof m.yes !== 'boolean') throw new ProtocolError('shape', 'approval.yes: expected a boolean')
    a = { op: toHex(expectBytes(m.op, 'approval.op', 32, 32)), by: key(m.by, 'approval.by'), as: m.as === 'v' ? 'validator' : 'builder', yes: m.yes, bytes, id: toHex(sha256(payload)), payload, signature }
  } catch (err) {
    return decodeErr('approval', err)
  }
  if (!verifySignature(a.by, approvalDomain(networkId), a.payload, a.signature)) throw reject('approval-signature', `approval of ${a.op.slice(0, 12)}: bad signature of ${toHex(a.by).slice(0, 12)}`)
  return a
}

// ---- resolutions: an operation and the approvals it is decided with ----

export interface VerifiedResolution {
  bytes: Uint8Array
  /** Hex sha256 of the resolution bytes: what a decided value names. */
  id: string
  op: VerifiedOperation
  /** Ascending by approval id. */
  approvals: VerifiedApproval[]
}

/** `{ op: signed operation, approvals: [signed approval, …] }`, approvals ascending by id (so one set has one byte form). */
export function encodeResolution (op: Uint8Array, approvals: readonly Uint8Array[], networkId: string): Uint8Array {
  const sorted = approvals.map(b => ({ b, id: verifyApproval(networkId, b).id })).sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  return encode({ op, approvals: sorted.map(x => x.b) })
}

export const resolutionIdOf = (bytes: Uint8Array): string => toHex(sha256(bytes))

/**
 * Every stateless rule of a resolution: its operation and each approval verify, every approval is of
 * this operation, approvals are in id order with one per approver, and only the kinds of approval
 * the type needs. REJECT otherwise. Whether the approvers are validators or builders with weight,
 * and whether there are enough of them, is stateful (`checkResolution`).
 */
export function verifyResolution (networkId: string, bytes: Uint8Array): VerifiedResolution {
  let opBytes: Uint8Array, approvalBytes: Uint8Array[]
  try {
    if (bytes.byteLength > governanceLimits.maxResolutionBytes) throw new ProtocolError('size', `resolution: ${bytes.byteLength} bytes > ${governanceLimits.maxResolutionBytes}`)
    const m = expectMap(decodeCanonical(bytes, 'resolution'), 'resolution', ['op', 'approvals'])
    opBytes = expectBytes(m.op, 'resolution.op', governanceLimits.maxOperationBytes)
    if (!Array.isArray(m.approvals) || m.approvals.length > governanceLimits.maxApprovalsPerResolution) {
      throw new ProtocolError('shape', `resolution.approvals: expected at most ${governanceLimits.maxApprovalsPerResolution}`)
    }
    approvalBytes = m.approvals.map((a, i) => expectBytes(a, `resolution.approvals[${i}]`, governanceLimits.maxApprovalBytes))
  } catch (err) {
    return decodeErr('resolution', err)
  }
  const op = verifyOperation(networkId, opBytes)
  const need = approvalsNeeded(op.op.type)
  const approvals: VerifiedApproval[] = []
  const by = new Set<string>()
  for (const b of approvalBytes) {
    const a = verifyApproval(networkId, b)
    if (a.op !== op.id) throw reject('approval-other-op', `resolution of ${op.id.slice(0, 12)}: holds an approval of ${a.op.slice(0, 12)}`)
    const prev = approvals[approvals.length - 1]
    if (prev !== undefined && prev.id >= a.id) throw reject('approval-order', `resolution of ${op.id.slice(0, 12)}: approvals must be in ascending id order, once each`)
    // One voice per approver and kind: a yes and a no of one key cannot both be counted.
    const who = `${a.as}:${toHex(a.by)}`
    if (by.has(who)) throw reject('approval-conflict', `resolution of ${op.id.slice(0, 12)}: two approvals of ${a.as} ${toHex(a.by).slice(0, 12)}`)
    by.add(who)
    if (a.as === 'validator' ? !need.validators : !need.builders) throw reject('approval-unexpected', `resolution of ${op.op.type} ${op.id.slice(0, 12)}: ${a.as} approvals are not part of it`)
    approvals.push(a)
  }
  return { bytes, id: resolutionIdOf(bytes), op, approvals }
}
