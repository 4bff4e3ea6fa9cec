/**
 * Governance test support (exported with @ecandle/protocol/testing): a network of n hubs with fixed
 * keys, builders and a maker, and builders of signed operations and resolutions. Deterministic.
 */
import {
  encode, encodeConsensusPayload, encodeResolution, genesisState, governanceFields, parseNetwork, peerIdFromPublicKey, signApproval, signerFromSeed,
  signMakerCert, signOperation, toHex, valueIdOf, verifyResolution, voteDomain,
  type CheckOptions, type EpochState, type EpochValue, type Network, type Operation, type Role, type Signer, type ValidatorSet
} from './index.js'

export const GOV_GENESIS = 1_700_000_000

export interface GovFixture {
  net: Network
  /** Hub keys and peer ids, in validator order; `spareHubs` are not validators yet. */
  hubs: Signer[]
  hubIds: string[]
  operators: Signer[]
  spareHubs: Signer[]
  spareOperators: Signer[]
  /** Genesis devices: `devices[h][i]` is `h<h>-d<i>` on hub h. */
  devices: Signer[][]
  capex: Signer
  opex: Signer
  /** A second pair of builders. */
  capex2: Signer
  opex2: Signer
  maker: Signer
  /** Keys no one registered. */
  stranger: Signer
}

const seed = (a: number, b = 0): Uint8Array => { const s = new Uint8Array(32).fill(a); s[0] = b; return s }

export interface GovFixtureOptions {
  hubs?: number
  devicesPerHub?: number
  /** Name the fixture's maker in genesis (default true). */
  makers?: boolean
  builderQuorumBps?: number
  opLifetimeEpochs?: number
  epochLengthS?: number
}

export function govFixture (o: GovFixtureOptions = {}): GovFixture {
  const n = o.hubs ?? 4
  const per = o.devicesPerHub ?? 2
  const hubs = Array.from({ length: n }, (_, i) => signerFromSeed(seed(0x10, i)))
  const operators = Array.from({ length: n }, (_, i) => signerFromSeed(seed(0x20, i)))
  const spareHubs = Array.from({ length: 8 }, (_, i) => signerFromSeed(seed(0x11, i)))
  const spareOperators = Array.from({ length: 8 }, (_, i) => signerFromSeed(seed(0x21, i)))
  const devices = hubs.map((_, h) => Array.from({ length: per }, (_, i) => signerFromSeed(seed(0x30 + h, i))))
  const capex = signerFromSeed(seed(0x40))
  const opex = signerFromSeed(seed(0x41))
  const capex2 = signerFromSeed(seed(0x42))
  const opex2 = signerFromSeed(seed(0x43))
  const maker = signerFromSeed(seed(0x50))
  const stranger = signerFromSeed(seed(0x60))
  const hubIds = hubs.map(h => peerIdFromPublicKey(h.publicKey))
  const net = parseNetwork({
    name: 'gov-test',
    genesisTime: GOV_GENESIS,
    epochLengthS: o.epochLengthS ?? 60,
    gracePeriodS: 5,
    emissionPerEpoch: '1000000',
    capexBps: 5000,
    deviceCapMwhPerEpoch: '1000000',
    validators: hubIds.map((peerId, i) => ({ peerId, operator: toHex(operators[i].publicKey) })),
    devices: devices.flatMap((ds, h) => ds.map((d, i) => ({
      id: `h${h}-d${i}`, publicKey: toHex(d.publicKey), hub: hubIds[h], capex: toHex(capex.publicKey), opex: toHex(opex.publicKey), ratedWhPerDay: 1000
    }))),
    ...(o.makers === false ? {} : { makers: [toHex(maker.publicKey)] }),
    governance: { builderQuorumBps: o.builderQuorumBps ?? 2000, opLifetimeEpochs: o.opLifetimeEpochs ?? 16 },
    bootstrap: []
  })
  return { net, hubs, hubIds, operators, spareHubs, spareOperators, devices, capex, opex, capex2, opex2, maker, stranger }
}

/** A signed operation; `signers` by role. */
export function op (f: GovFixture, o: Operation, signers: Partial<Record<Role, Signer>>): Uint8Array {
  return signOperation(f.net.id, o, signers)
}

/** A device-add of a fresh key onto hub `h`, signed by all it needs (maker included unless `maker: null`). */
export function deviceAddOp (f: GovFixture, x: { id: string, key: Signer, hub: number, exp: number, capex?: Signer, opex?: Signer, maker?: Signer | null, rated?: number }): Uint8Array {
  const capex = x.capex ?? f.capex
  const maker = x.maker === undefined ? f.maker : x.maker
  return op(f, {
    type: 'device-add', exp: x.exp, device: x.id, key: x.key.publicKey, hub: f.hubIds[x.hub] ?? peerIdFromPublicKey(f.spareHubs[x.hub - f.hubIds.length].publicKey),
    capex: capex.publicKey, opex: (x.opex ?? f.opex).publicKey, ratedWhPerDay: x.rated ?? 1000,
    operator: (f.operators[x.hub] ?? f.spareOperators[x.hub - f.hubIds.length]).publicKey,
    maker: maker === null ? null : signMakerCert(maker, x.key.publicKey)
  }, { device: x.key, operator: f.operators[x.hub] ?? f.spareOperators[x.hub - f.hubIds.length], capex })
}

/** A resolution of `opBytes`: approved (yes) by `validators`, and by `builders` with their votes. */
export function resolution (f: GovFixture, opBytes: Uint8Array, opId: string, validators: readonly Signer[] = [], builders: ReadonlyArray<[Signer, boolean]> = []): Uint8Array {
  const approvals = [
    ...validators.map(v => signApproval(f.net.id, v, { op: opId, as: 'validator', yes: true })),
    ...builders.map(([b, yes]) => signApproval(f.net.id, b, { op: opId, as: 'builder', yes }))
  ]
  return encodeResolution(opBytes, approvals, f.net.id)
}

/** The signer of a fixture hub (genesis or spare) by peer id. */
export function hubSigner (f: GovFixture, peerId: string): Signer {
  const s = [...f.hubs, ...f.spareHubs].find(h => peerIdFromPublicKey(h.publicKey) === peerId)
  if (s === undefined) throw new Error(`no fixture hub ${peerId}`)
  return s
}

/** A certificate of `value` signed by `signers` (peer ids; default every validator of `set`) of the epoch's set. */
export function certify (f: GovFixture, value: EpochValue, set: ValidatorSet, signers: readonly string[] = set.ids, round = 0): Uint8Array {
  const valueId = valueIdOf(value)
  const sigs = signers.map((p): [number, Uint8Array] => [set.byId.get(p)?.index ?? set.ids.length, hubSigner(f, p).sign(voteDomain(f.net.id), encodeConsensusPayload({ type: 'precommit', epoch: value.epoch, round, from: p, valueId }))])
  return encode({ value: { ...value, cut: value.cut.map(c => ({ hub: c.hub, seq: c.seq, id: c.id })) }, round, sigs: sigs.sort((a, b) => a[0] - b[0]) })
}

export interface GovChain {
  /** S(0) … S(epochs): `states[e]` is the state in force during e. */
  states: EpochState[]
  /** Certificate bytes of epochs 0 … epochs − 1. */
  certs: Uint8Array[]
  /** Resolution bytes each epoch's value names. */
  resolutions: Uint8Array[][]
}

/**
 * Decides `schedule.length` epochs with no log entries (empty cuts, a fixed root): epoch e decides
 * the resolutions `schedule[e]`, and every validator of the epoch signs. For protocol-level tests of
 * following the chain; @ecandle/audit/testing builds full histories with logs and tallies.
 */
export function govChain (f: GovFixture, schedule: ReadonlyArray<readonly Uint8Array[]>, opts: CheckOptions = {}): GovChain {
  const states = [genesisState(f.net)]
  const certs: Uint8Array[] = []
  const resolutions: Uint8Array[][] = []
  let prev: string | null = null
  for (let e = 0; e < schedule.length; e++) {
    const s = states[e]
    const rs = schedule[e].map(b => verifyResolution(f.net.id, b))
    const { decided, ...fields } = governanceFields(s, rs, opts)
    const value: EpochValue = { epoch: e, prev, cut: s.validators.ids.map(hub => ({ hub, seq: 0, id: null })), root: '00'.repeat(32), ...fields }
    certs.push(certify(f, value, s.validators))
    resolutions.push(fields.gov.map(id => rs.find(r => r.id === id)!.bytes))
    states.push(decided.next)
    prev = valueIdOf(value)
  }
  return { states, certs, resolutions }
}
