import { encode } from './cbor.js'
import { fromHex, sha256, toHex } from './crypto.js'
import { ProtocolError } from './errors.js'
import { publicKeyFromPeerId } from './ids.js'

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
}

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
  /** Multiaddrs to dial at start. Not part of the network id: a transport hint, not a rule. */
  bootstrap: string[]
}

/** A validated network definition with derived lookups. */
export interface Network {
  readonly def: NetworkDefinition
  /** Hex, 32 characters (first 16 bytes of sha256 of the canonical definition without `bootstrap`). */
  readonly id: string
  readonly hubs: ReadonlyMap<string, { index: number, publicKey: Uint8Array, info: ValidatorInfo }>
  readonly devices: ReadonlyMap<string, { publicKey: Uint8Array, info: DeviceInfo }>
  readonly validatorIds: readonly string[]
}

const NAME_RE = /^[A-Za-z0-9._ -]{1,64}$/
export const DEVICE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/
const HEX32_RE = /^[0-9a-f]{64}$/
const DECIMAL_RE = /^(0|[1-9][0-9]{0,38})$/
export const MAX_VALIDATORS = 256
export const MAX_DEVICES = 100_000

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
  const known = ['name', 'genesisTime', 'epochLengthS', 'gracePeriodS', 'emissionPerEpoch', 'capexBps', 'deviceCapMwhPerEpoch', 'validators', 'devices', 'bootstrap']
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
  if (!Array.isArray(r.devices) || r.devices.length > MAX_DEVICES) fail('devices', `expected an array of at most ${MAX_DEVICES} devices`)
  const devices = new Map<string, { publicKey: Uint8Array, info: DeviceInfo }>()
  r.devices.forEach((d: any, i: number) => {
    const path = `devices[${i}]`
    if (typeof d !== 'object' || d === null) fail(path, 'expected an object')
    for (const k of Object.keys(d)) if (!['id', 'publicKey', 'hub', 'capex', 'opex', 'ratedWhPerDay'].includes(k)) fail(`${path}.${k}`, 'unknown field')
    const info: DeviceInfo = {
      id: str(d.id, `${path}.id`, DEVICE_ID_RE, '1..64 characters of [A-Za-z0-9._-]'),
      publicKey: str(d.publicKey, `${path}.publicKey`, HEX32_RE, '64 lowercase hex characters'),
      hub: peer(d.hub, `${path}.hub`),
      capex: str(d.capex, `${path}.capex`, HEX32_RE, '64 lowercase hex characters'),
      opex: str(d.opex, `${path}.opex`, HEX32_RE, '64 lowercase hex characters'),
      ratedWhPerDay: int(d.ratedWhPerDay, `${path}.ratedWhPerDay`, 1, 10_000_000)
    }
    if (!hubs.has(info.hub)) fail(`${path}.hub`, 'not one of the validators')
    if (devices.has(info.id)) fail(`${path}.id`, `duplicate device id ${info.id}`)
    devices.set(info.id, { publicKey: fromHex(info.publicKey, `${path}.publicKey`, 32), info })
    def.devices.push(info)
  })
  if (r.bootstrap !== undefined) {
    if (!Array.isArray(r.bootstrap) || r.bootstrap.length > 1024) fail('bootstrap', 'expected an array of multiaddr strings')
    r.bootstrap.forEach((a: unknown, i: number) => def.bootstrap.push(str(a, `bootstrap[${i}]`, /^\/[\x21-\x7e]{1,1024}$/, 'a multiaddr string')))
  }
  return { def, id: networkId(def), hubs, devices, validatorIds: def.validators.map(v => v.peerId) }
}

/** Hex of the first 16 bytes of sha256(DAG-CBOR(definition without bootstrap)). */
export function networkId (def: NetworkDefinition): string {
  const { bootstrap: _ignored, ...rules } = def
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
