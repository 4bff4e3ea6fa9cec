import { encode } from './cbor.js'
import { fromHex, sha256, toHex } from './crypto.js'
import { ProtocolError } from './errors.js'
import { publicKeyFromPeerId } from './ids.js'
import { MAX_VALIDATORS } from '@ecandle/consensus'

/**
 * The network definition ("genesis"): a JSON file every node starts with. Its canonical hash is
 * the network id, which is part of every topic, protocol name and hub signature domain.
 */
export interface ValidatorInfo {
  peerId: string
  /** Operator account (hex Ed25519 public key). */
  operator: string
  /** Where the hub is, in integer micro-degrees; the emulator shapes sunlight by it. Optional. */
  location?: Location
}

/**
 * A place in integer micro-degrees (1e-6°, about 11 cm): exact in every language, and it fits a
 * signed 32-bit integer. Floats are never part of the network id (two encoders may disagree on
 * them), so `{ lat, lon }` in degrees is refused; `locationDegrees` converts for local use.
 */
export interface Location {
  /** Latitude × 10^6, −90 000 000 … 90 000 000. */
  latE6: number
  /** Longitude × 10^6, −180 000 000 … 180 000 000. */
  lonE6: number
}

/** Degrees (floating point) of a location, for what is not consensus-critical (the emulator's sun). */
export function locationDegrees (l: Location): { lat: number, lon: number } {
  return { lat: l.latE6 / 1e6, lon: l.lonE6 / 1e6 }
}

export interface DeviceInfo {
  id: string
  /** Device Ed25519 public key, hex. */
  publicKey: string
  /** Peer id of the hub this device reports through. */
  hub: string
  /** Capex builder account (hex Ed25519 public key). */
  capex: string
  /** Opex builder account (hex Ed25519 public key). */
  opex: string
  ratedWhPerDay: number
  /**
   * Only in the network file of a continued network (docs/governance.md §8): a device retired on the
   * network it continues. It stays in the registry so its id and key are never registered again.
   */
  retired?: true
}

/** Genesis parameters of governance (docs/governance.md §2); absent: the defaults below. */
export interface GovernanceGenesis {
  /** Builders' quorum: the weight that votes on a `params` change must be at least this share of all weight, basis points. */
  builderQuorumBps: number
  /** An operation may be decided at most this many epochs before its `exp` (bounds the replay set). */
  opLifetimeEpochs: number
}

export const GOVERNANCE_DEFAULTS: Readonly<GovernanceGenesis> = Object.freeze({ builderQuorumBps: 2000, opLifetimeEpochs: 128 })
export const MAX_OP_LIFETIME_EPOCHS = 4096
export const MAX_MAKERS = 64

/** One validator as a continued network carries it over: peer id and operator account. */
export interface CarriedValidator { peerId: string, operator: string }

/**
 * What a continued network carries over from the network it continues (docs/governance.md §8): the
 * last certified epoch, the state in force after it, and the tally state it left. Every field can
 * be checked against the old network's certificates and tally leaves.
 */
export interface Continuation {
  /** Id of the network this one continues. */
  network: string
  /** Last epoch the old network decided. */
  epoch: number
  /** Value id of that epoch's certificate. */
  value: string
  /** That value's tally root. */
  root: string
  /** That value's `next` state hash: the old network's state in force for epoch + 1. */
  state: string
  /** The old network's validators of epoch + 1 and epoch + 2 (the state hash commits to both). */
  validators: CarriedValidator[]
  nextValidators: CarriedValidator[]
  /** Dust carried out of the epoch, decimal string. */
  dust: string
  /** Every account's cumulative total after the epoch, sorted by account. */
  cumulative: Array<{ account: string, amount: string }>
}

/** A remaining validator's operator signing the continued network's id (docs/governance.md §8). */
export interface Endorsement { operator: string, signature: string }

export interface NetworkDefinition {
  name: string
  /** Unix seconds. */
  genesisTime: number
  epochLengthS: number
  gracePeriodS: number
  /** Integer units emitted per epoch, as a decimal string (may exceed 2^53). */
  emissionPerEpoch: string
  /** Capex builder's share of a device's reward, basis points (0..10000); opex gets the rest. */
  capexBps: number
  /** Most energy one device may earn for in one epoch, mWh, decimal string. */
  deviceCapMwhPerEpoch: string
  validators: ValidatorInfo[]
  devices: DeviceInfo[]
  /** Maker (manufacturer) public keys, hex; when any are named, every device-add needs a maker's signature. */
  makers?: string[]
  governance?: GovernanceGenesis
  /** Only when this network continues another one. */
  continues?: Continuation
  /** Multiaddrs to dial at start. Not part of the network id: a transport hint, not a rule. */
  bootstrap: string[]
  /** Continued networks: the operators' signatures over the network id (so not part of it). */
  endorsements?: Endorsement[]
}

/** A validated network definition with derived lookups. */
export interface Network {
  readonly def: NetworkDefinition
  /** Hex, 32 characters (first 16 bytes of sha256 of the canonical definition without `bootstrap`). */
  readonly id: string
  readonly hubs: ReadonlyMap<string, { index: number, publicKey: Uint8Array, info: ValidatorInfo }>
  readonly devices: ReadonlyMap<string, { publicKey: Uint8Array, info: DeviceInfo }>
  readonly validatorIds: readonly string[]
  /** Maker keys (hex, sorted) in force at genesis. */
  readonly makers: readonly string[]
  /** Governance genesis parameters, defaults filled in. */
  readonly governance: Readonly<GovernanceGenesis>
}

const NAME_RE = /^[A-Za-z0-9._ -]{1,64}$/
export const DEVICE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/
const HEX32_RE = /^[0-9a-f]{64}$/
const DECIMAL_RE = /^(0|[1-9][0-9]{0,38})$/
export { MAX_VALIDATORS }
/** Registry entries (retired ones included: ids and keys are never reused). */
export const MAX_DEVICES = 100_000
/** Accounts a continued network may carry over (every device's two accounts, and then some). */
export const MAX_CARRIED_ACCOUNTS = 2 * MAX_DEVICES + 1024

function fail (path: string, msg: string): never {
  throw new ProtocolError('network', `network definition: ${path}: ${msg}`)
}

function int (v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(path, `expected an integer in [${min}, ${max}]`)
  return v
}

function str (v: unknown, path: string, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) fail(path, `expected ${what}`)
  return v
}

function peer (v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'expected a peer id string')
  try {
    publicKeyFromPeerId(v)
  } catch {
    fail(path, `not an Ed25519 libp2p peer id: ${v.slice(0, 60)}`)
  }
  return v
}

function location (v: unknown, path: string): Location {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'expected { "latE6": integer, "lonE6": integer } (micro-degrees)')
  const l = v as Record<string, unknown>
  // The form of older releases: degrees as JSON numbers. Say how to write it now, with the values.
  if ('lat' in l || 'lon' in l) {
    const e6 = (x: unknown): string => typeof x === 'number' && Number.isFinite(x) ? String(Math.round(x * 1e6)) : '…'
    fail(path, `{ lat, lon } in degrees is no longer accepted (no floats in the network id); write integer micro-degrees { "latE6": ${e6(l.lat)}, "lonE6": ${e6(l.lon)} }`)
  }
  for (const k of Object.keys(l)) if (k !== 'latE6' && k !== 'lonE6') fail(`${path}.${k}`, 'unknown field (expected latE6, lonE6)')
  return { latE6: int(l.latE6, `${path}.latE6`, -90_000_000, 90_000_000), lonE6: int(l.lonE6, `${path}.lonE6`, -180_000_000, 180_000_000) }
}

/** Parses and validates a network definition (a JSON text or an already parsed object). */
export function parseNetwork (input: string | unknown): Network {
  let raw: unknown = input
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input)
    } catch (err: any) {
      throw new ProtocolError('network', `network definition: not valid JSON (${String(err.message)})`)
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('(root)', 'expected a JSON object')
  const r = raw as Record<string, unknown>
  const known = ['name', 'genesisTime', 'epochLengthS', 'gracePeriodS', 'emissionPerEpoch', 'capexBps', 'deviceCapMwhPerEpoch', 'validators', 'devices', 'makers', 'governance', 'continues', 'bootstrap', 'endorsements']
  for (const k of Object.keys(r)) if (!known.includes(k)) fail(k, 'unknown field')

  const def: NetworkDefinition = {
    name: str(r.name, 'name', NAME_RE, '1..64 characters of [A-Za-z0-9._ -]'),
    genesisTime: int(r.genesisTime, 'genesisTime', 0, 2 ** 40),
    epochLengthS: int(r.epochLengthS, 'epochLengthS', 1, 366 * 86400),
    gracePeriodS: int(r.gracePeriodS, 'gracePeriodS', 0, 86400),
    emissionPerEpoch: str(r.emissionPerEpoch, 'emissionPerEpoch', DECIMAL_RE, 'a decimal integer string'),
    capexBps: int(r.capexBps, 'capexBps', 0, 10_000),
    deviceCapMwhPerEpoch: str(r.deviceCapMwhPerEpoch, 'deviceCapMwhPerEpoch', DECIMAL_RE, 'a decimal integer string'),
    validators: [],
    devices: [],
    bootstrap: []
  }
  if (!Array.isArray(r.validators) || r.validators.length === 0 || r.validators.length > MAX_VALIDATORS) {
    fail('validators', `expected 1..${MAX_VALIDATORS} validators`)
  }
  const hubs = new Map<string, { index: number, publicKey: Uint8Array, info: ValidatorInfo }>()
  r.validators.forEach((v: any, i: number) => {
    const path = `validators[${i}]`
    if (typeof v !== 'object' || v === null) fail(path, 'expected an object')
    for (const k of Object.keys(v)) if (!['peerId', 'operator', 'location'].includes(k)) fail(`${path}.${k}`, 'unknown field')
    const info: ValidatorInfo = { peerId: peer(v.peerId, `${path}.peerId`), operator: str(v.operator, `${path}.operator`, HEX32_RE, '64 lowercase hex characters') }
    if (v.location !== undefined) info.location = location(v.location, `${path}.location`)
    if (hubs.has(info.peerId)) fail(`${path}.peerId`, 'duplicate validator')
    hubs.set(info.peerId, { index: i, publicKey: publicKeyFromPeerId(info.peerId), info })
    def.validators.push(info)
  })
  // A continued network carries the old registry as it is: devices of hubs that did not continue, retired ones.
  const continued = r.continues !== undefined
  if (continued) def.continues = continuation(r.continues)
  if (!Array.isArray(r.devices) || r.devices.length > MAX_DEVICES) fail('devices', `expected an array of at most ${MAX_DEVICES} devices`)
  const devices = new Map<string, { publicKey: Uint8Array, info: DeviceInfo }>()
  const keys = new Map<string, string>()
  r.devices.forEach((d: any, i: number) => {
    const path = `devices[${i}]`
    if (typeof d !== 'object' || d === null) fail(path, 'expected an object')
    for (const k of Object.keys(d)) if (!['id', 'publicKey', 'hub', 'capex', 'opex', 'ratedWhPerDay', 'retired'].includes(k)) fail(`${path}.${k}`, 'unknown field')
    const info: DeviceInfo = {
      id: str(d.id, `${path}.id`, DEVICE_ID_RE, '1..64 characters of [A-Za-z0-9._-]'),
      publicKey: str(d.publicKey, `${path}.publicKey`, HEX32_RE, '64 lowercase hex characters'),
      hub: peer(d.hub, `${path}.hub`),
      capex: str(d.capex, `${path}.capex`, HEX32_RE, '64 lowercase hex characters'),
      opex: str(d.opex, `${path}.opex`, HEX32_RE, '64 lowercase hex characters'),
      ratedWhPerDay: int(d.ratedWhPerDay, `${path}.ratedWhPerDay`, 1, 10_000_000)
    }
    if (d.retired !== undefined) {
      if (d.retired !== true || !continued) fail(`${path}.retired`, 'only a continued network carries retired devices (true)')
      info.retired = true
    }
    if (!continued && !hubs.has(info.hub)) fail(`${path}.hub`, 'not one of the validators')
    if (devices.has(info.id)) fail(`${path}.id`, `duplicate device id ${info.id}`)
    if (keys.has(info.publicKey)) fail(`${path}.publicKey`, `key already registered to device ${keys.get(info.publicKey)}`)
    keys.set(info.publicKey, info.id)
    devices.set(info.id, { publicKey: fromHex(info.publicKey, `${path}.publicKey`, 32), info })
    def.devices.push(info)
  })
  let makers: string[] = []
  if (r.makers !== undefined) {
    if (!Array.isArray(r.makers) || r.makers.length > MAX_MAKERS) fail('makers', `expected an array of at most ${MAX_MAKERS} maker keys`)
    makers = r.makers.map((m: unknown, i: number) => str(m, `makers[${i}]`, HEX32_RE, '64 lowercase hex characters'))
    if (new Set(makers).size !== makers.length) fail('makers', 'duplicate maker key')
    def.makers = makers
  }
  let governance: GovernanceGenesis = { ...GOVERNANCE_DEFAULTS }
  if (r.governance !== undefined) {
    const g = r.governance as Record<string, unknown>
    if (typeof g !== 'object' || g === null || Array.isArray(g)) fail('governance', 'expected an object')
    for (const k of Object.keys(g)) if (!['builderQuorumBps', 'opLifetimeEpochs'].includes(k)) fail(`governance.${k}`, 'unknown field')
    governance = {
      builderQuorumBps: int(g.builderQuorumBps, 'governance.builderQuorumBps', 0, 10_000),
      opLifetimeEpochs: int(g.opLifetimeEpochs, 'governance.opLifetimeEpochs', 1, MAX_OP_LIFETIME_EPOCHS)
    }
    def.governance = governance
  }
  if (r.bootstrap !== undefined) {
    if (!Array.isArray(r.bootstrap) || r.bootstrap.length > 1024) fail('bootstrap', 'expected an array of multiaddr strings')
    r.bootstrap.forEach((a: unknown, i: number) => def.bootstrap.push(str(a, `bootstrap[${i}]`, /^\/[\x21-\x7e]{1,1024}$/, 'a multiaddr string')))
  }
  if (r.endorsements !== undefined) {
    if (!continued) fail('endorsements', 'only a continued network carries endorsements')
    if (!Array.isArray(r.endorsements) || r.endorsements.length > MAX_VALIDATORS) fail('endorsements', `expected at most ${MAX_VALIDATORS} endorsements`)
    def.endorsements = r.endorsements.map((x: any, i: number) => {
      if (typeof x !== 'object' || x === null) fail(`endorsements[${i}]`, 'expected an object')
      for (const k of Object.keys(x)) if (!['operator', 'signature'].includes(k)) fail(`endorsements[${i}].${k}`, 'unknown field')
      return { operator: str(x.operator, `endorsements[${i}].operator`, HEX32_RE, '64 lowercase hex characters'), signature: str(x.signature, `endorsements[${i}].signature`, /^[0-9a-f]{128}$/, '128 lowercase hex characters') }
    })
  }
  return { def, id: networkId(def), hubs, devices, validatorIds: def.validators.map(v => v.peerId), makers: [...makers].sort(), governance }
}

function continuation (v: unknown): Continuation {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('continues', 'expected an object')
  const c = v as Record<string, unknown>
  const fields = ['network', 'epoch', 'value', 'root', 'state', 'validators', 'nextValidators', 'dust', 'cumulative']
  for (const k of Object.keys(c)) if (!fields.includes(k)) fail(`continues.${k}`, 'unknown field')
  const carried = (x: unknown, path: string): CarriedValidator[] => {
    if (!Array.isArray(x) || x.length === 0 || x.length > MAX_VALIDATORS) fail(path, `expected 1..${MAX_VALIDATORS} validators`)
    return x.map((e: any, i: number) => {
      if (typeof e !== 'object' || e === null) fail(`${path}[${i}]`, 'expected an object')
      for (const k of Object.keys(e)) if (!['peerId', 'operator'].includes(k)) fail(`${path}[${i}].${k}`, 'unknown field')
      return { peerId: peer(e.peerId, `${path}[${i}].peerId`), operator: str(e.operator, `${path}[${i}].operator`, HEX32_RE, '64 lowercase hex characters') }
    })
  }
  if (!Array.isArray(c.cumulative) || c.cumulative.length > MAX_CARRIED_ACCOUNTS) fail('continues.cumulative', `expected at most ${MAX_CARRIED_ACCOUNTS} accounts`)
  let last = ''
  const cumulative = c.cumulative.map((x: any, i: number) => {
    const path = `continues.cumulative[${i}]`
    if (typeof x !== 'object' || x === null) fail(path, 'expected an object')
    for (const k of Object.keys(x)) if (!['account', 'amount'].includes(k)) fail(`${path}.${k}`, 'unknown field')
    const account = str(x.account, `${path}.account`, HEX32_RE, '64 lowercase hex characters')
    // Sorted and unique: one byte form per carried state.
    if (account <= last) fail(`${path}.account`, 'accounts must be sorted and unique')
    last = account
    return { account, amount: str(x.amount, `${path}.amount`, DECIMAL_RE, 'a decimal integer string') }
  })
  return {
    network: str(c.network, 'continues.network', /^[0-9a-f]{32}$/, 'a network id (32 lowercase hex characters)'),
    epoch: int(c.epoch, 'continues.epoch', 0, Number.MAX_SAFE_INTEGER),
    value: str(c.value, 'continues.value', HEX32_RE, '64 lowercase hex characters'),
    root: str(c.root, 'continues.root', HEX32_RE, '64 lowercase hex characters'),
    state: str(c.state, 'continues.state', HEX32_RE, '64 lowercase hex characters'),
    validators: carried(c.validators, 'continues.validators'),
    nextValidators: carried(c.nextValidators, 'continues.nextValidators'),
    dust: str(c.dust, 'continues.dust', DECIMAL_RE, 'a decimal integer string'),
    cumulative
  }
}

/**
 * Hex of the first 16 bytes of sha256(DAG-CBOR(definition without bootstrap and endorsements)).
 * Fields a definition does not give (makers, governance, continues) are absent, not defaulted, so
 * the ids of networks written before governance do not change.
 */
export function networkId (def: NetworkDefinition): string {
  const { bootstrap: _ignored, endorsements: _signatures, ...rules } = def
  return toHex(sha256(encode(JSON.parse(JSON.stringify(rules)))).subarray(0, 16))
}

// ---- epochs: epoch E covers [genesis + E·len, genesis + (E+1)·len) in unix seconds ----

/** Epoch of a unix-ms time; -1 before genesis. */
export function epochOf (net: Network, unixMs: number): number {
  const s = Math.floor(unixMs / 1000) - net.def.genesisTime
  return s < 0 ? -1 : Math.floor(s / net.def.epochLengthS)
}

export function epochStartMs (net: Network, epoch: number): number {
  return (net.def.genesisTime + epoch * net.def.epochLengthS) * 1000
}

/** When voting on epoch E may start: end of E plus the grace period. */
export function epochVoteAtMs (net: Network, epoch: number): number {
  return epochStartMs(net, epoch + 1) + net.def.gracePeriodS * 1000
}
