/**
 * Builds the governance test vectors (vectors/governance-v1.json): every governance object signed
 * with fixed keys, its bytes, id and signatures; invalid variants with the verdict and code; the
 * state hashes of genesis and after a decided value; a continued network. Used by
 * scripts/make-vectors.mjs (to write) and gov-vectors.test.ts (to check the code still makes exactly
 * these bytes). Deterministic (fixed seeds, RFC 8032 signatures).
 */
import {
  advanceEmpty, approvalDomain, continueDomain, decideGovernance, Domain, encode, encodeOperation, encodeOperationPayload, encodeResolution,
  genesisState, governanceFields, governanceLimits, govDomain, parseNetwork, peerIdFromPublicKey, signApproval, signEndorsement, signingBytes,
  signMakerCert, toHex, valueIdOf, verifyApproval, verifyCertificate, verifyOperation, verifyResolution, withEndorsements, continueNetwork,
  type EpochState, type Operation, type Role, type Signer, type ValidationError, type VerifiedResolution
} from '../src/index.js'
import { deviceAddOp, govChain, govFixture, op, resolution } from '../src/testing.js'

export const GOV_VECTORS_FILE = 'governance-v1.json'

const f = govFixture()
const id = f.net.id
const hex = toHex
const spare = f.spareHubs[0]
const spareId = peerIdFromPublicKey(spare.publicKey)
const newDevice = f.stranger

/** An operation as JSON: keys and signatures hex, amounts decimal strings. */
export function operationJson (o: Operation): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v instanceof Uint8Array) out[k] = hex(v)
    else if (k === 'maker' && v !== null) out[k] = { key: hex((v as any).key), signature: hex((v as any).signature) }
    else if (k === 'set') out[k] = Object.fromEntries(Object.entries(v as object).map(([a, b]) => [a, typeof b === 'bigint' ? b.toString() : b]))
    else out[k] = v
  }
  return out
}

interface Made { name: string, op: Operation, signers: Partial<Record<Role, Signer>> }

function operations (): Made[] {
  return [
    {
      name: 'device-add (maker-signed)',
      op: { type: 'device-add', exp: 12, device: 'candle-new-1', key: newDevice.publicKey, hub: f.hubIds[0], capex: f.capex.publicKey, opex: f.opex.publicKey, ratedWhPerDay: 600, operator: f.operators[0].publicKey, maker: signMakerCert(f.maker, newDevice.publicKey) },
      signers: { device: newDevice, operator: f.operators[0], capex: f.capex }
    },
    { name: 'device-transfer (capex role)', op: { type: 'device-transfer', exp: 12, device: 'h0-d0', role: 'capex', from: f.capex.publicKey, to: f.capex2.publicKey }, signers: { from: f.capex, to: f.capex2 } },
    {
      name: 'device-move (hub 0 → hub 1)',
      op: { type: 'device-move', exp: 12, device: 'h0-d1', from: f.hubIds[0], to: f.hubIds[1], opex: f.opex.publicKey, fromOperator: f.operators[0].publicKey, toOperator: f.operators[1].publicKey },
      signers: { opex: f.opex, fromOperator: f.operators[0], toOperator: f.operators[1] }
    },
    { name: 'device-retire', op: { type: 'device-retire', exp: 12, device: 'h1-d1', capex: f.capex.publicKey, opex: f.opex.publicKey }, signers: { capex: f.capex, opex: f.opex } },
    { name: 'hub-add', op: { type: 'hub-add', exp: 12, hub: spareId, operator: f.spareOperators[0].publicKey }, signers: { hub: spare, operator: f.spareOperators[0] } },
    { name: 'hub-remove', op: { type: 'hub-remove', exp: 12, hub: f.hubIds[3] }, signers: {} },
    { name: 'params (emission and capex share)', op: { type: 'params', exp: 12, set: { emissionPerEpoch: 2_000_000n, capexBps: 6500 } }, signers: {} }
  ]
}

function operationVector (m: Made): Record<string, unknown> {
  const payload = encodeOperationPayload(m.op)
  const signatures: Partial<Record<Role, Uint8Array>> = {}
  for (const [role, s] of Object.entries(m.signers) as Array<[Role, Signer]>) signatures[role] = s.sign(govDomain(id), payload)
  const bytes = encodeOperation(payload, signatures)
  const v = verifyOperation(id, bytes)
  return {
    name: m.name,
    operation: operationJson(m.op),
    payloadHex: hex(payload),
    id: v.id,
    signingBytesHex: hex(signingBytes(govDomain(id), payload)),
    signatures: Object.fromEntries(Object.entries(signatures).map(([r, s]) => [r, hex(s)])),
    signedHex: hex(bytes),
    bytes: bytes.byteLength
  }
}

const opBytes = (m: Made): Uint8Array => op(f, m.op, m.signers)

function approvalVector (name: string, signer: Signer, opId: string, as: 'validator' | 'builder', yes: boolean): Record<string, unknown> {
  const bytes = signApproval(id, signer, { op: opId, as, yes })
  const a = verifyApproval(id, bytes)
  return { name, approval: { op: opId, by: hex(a.by), as, yes }, payloadHex: hex(a.payload), id: a.id, signingBytesHex: hex(signingBytes(approvalDomain(id), a.payload)), signatureHex: hex(a.signature), signedHex: hex(bytes), bytes: bytes.byteLength }
}

function codeOf (fn: () => unknown): { action: string, code: string } {
  try {
    fn()
  } catch (err) {
    const e = err as ValidationError
    return { action: e.action, code: e.code }
  }
  throw new Error('expected a failure')
}

function invalid (made: Made[]): Array<Record<string, unknown>> {
  const add = made[0]
  const addBytes = opBytes(add)
  const addPayload = encodeOperationPayload(add.op)
  const remove = verifyOperation(id, opBytes(made[5]))
  const cases: Array<[string, 'operation' | 'approval' | 'resolution', Uint8Array]> = [
    ['device-add signed by another network\'s domain', 'operation', op({ ...f, net: { ...f.net, id: 'ffffffffffffffffffffffffffffffff' } }, add.op, add.signers)],
    ['device-add without the device\'s signature (no proof of possession)', 'operation', encodeOperation(addPayload, { operator: f.operators[0].sign(govDomain(id), addPayload), capex: f.capex.sign(govDomain(id), addPayload) })],
    ['device-add signed by the wrong operator', 'operation', op(f, add.op, { ...add.signers, operator: f.operators[1] })],
    ['device-add whose maker signed another key', 'operation', op(f, { ...add.op, maker: signMakerCert(f.maker, f.capex.publicKey) } as Operation, add.signers)],
    ['device-transfer to its own holder', 'operation', op(f, { type: 'device-transfer', exp: 12, device: 'h0-d0', role: 'opex', from: f.opex.publicKey, to: f.opex.publicKey }, { from: f.opex, to: f.opex })],
    ['operation of an unknown type', 'operation', encodeOperation(encode({ t: 'device-steal', exp: 1 }), {})],
    ['operation envelope with keys out of canonical order', 'operation', Uint8Array.from([0xa2, 0x61, 0x73, ...encode({}), 0x61, 0x70, ...encode(encodeOperationPayload(made[5].op))])],
    ['operation over 4096 bytes', 'operation', new Uint8Array(governanceLimits.maxOperationBytes + 1)],
    ['approval signed for another network', 'approval', signApproval('ffffffffffffffffffffffffffffffff', f.hubs[0], { op: remove.id, as: 'validator', yes: true })],
    ['approval with as "x"', 'approval', encode({ p: encode({ op: Buffer.from(remove.id, 'hex'), by: f.hubs[0].publicKey, as: 'x', yes: true }), s: new Uint8Array(64) })],
    ['resolution holding an approval of another operation', 'resolution', encode({ op: remove.bytes, approvals: [signApproval(id, f.hubs[0], { op: '00'.repeat(32), as: 'validator', yes: true })] })],
    ['resolution with a yes and a no of one validator', 'resolution', encodeResolution(remove.bytes, [signApproval(id, f.hubs[0], { op: remove.id, as: 'validator', yes: true }), signApproval(id, f.hubs[0], { op: remove.id, as: 'validator', yes: false })], id)],
    ['resolution of a hub-remove with a builder vote', 'resolution', encodeResolution(remove.bytes, [signApproval(id, f.capex, { op: remove.id, as: 'builder', yes: true })], id)],
    ['resolution of a device-add with an approval', 'resolution', encodeResolution(addBytes, [signApproval(id, f.hubs[0], { op: verifyOperation(id, addBytes).id, as: 'validator', yes: true })], id)]
  ]
  return cases.map(([name, kind, bytes]) => {
    const verify = kind === 'operation' ? verifyOperation : kind === 'approval' ? verifyApproval : verifyResolution
    return { name, kind, bytesHex: hex(bytes), ...codeOf(() => verify(id, bytes)) }
  })
}

/** Resolutions that are well formed but break a rule of the state at epoch 2 (nothing decided before). */
function invalidInState (made: Made[], s: EpochState): Array<Record<string, unknown>> {
  const r = (b: Uint8Array, validators: Signer[] = [], builders: Array<[Signer, boolean]> = []): Uint8Array => resolution(f, b, verifyOperation(id, b).id, validators, builders)
  const weights = { [hex(f.capex.publicKey)]: 600n, [hex(f.opex.publicKey)]: 400n }
  const w = { weightOf: (a: string) => weights[a] ?? 0n, total: 1000n }
  const params = opBytes(made[6])
  const cases: Array<[string, Uint8Array[], boolean]> = [
    ['hub-add approved by 2 of 4 validators', [r(opBytes(made[4]), f.hubs.slice(0, 2))], false],
    ['hub-add approved by a hub that is not a validator', [r(opBytes(made[4]), [...f.hubs.slice(0, 3), f.spareHubs[1]])], false],
    ['params no builder voted on (quorum: 20 % of 1000 weight)', [r(params, f.hubs.slice(0, 3))], true],
    ['params that the builders voted down (400 yes, 600 no)', [r(params, f.hubs.slice(0, 3), [[f.opex, true], [f.capex, false]])], true],
    ['params with a vote of an account that never earned', [r(params, f.hubs.slice(0, 3), [[f.capex, true], [f.stranger, true]])], true],
    ['device-add without a maker signature on a network that names makers', [r(deviceAddOp(f, { id: 'candle-new-2', key: newDevice, hub: 0, exp: 12, maker: null }))], false],
    ['device-add signed by a maker the network does not name', [r(deviceAddOp(f, { id: 'candle-new-2', key: newDevice, hub: 0, exp: 12, maker: f.capex2 }))], false],
    ['device-add of a key already registered', [r(deviceAddOp(f, { id: 'candle-new-2', key: f.devices[1][0], hub: 0, exp: 12 }))], false],
    ['device-add to a hub that is not a validator', [r(deviceAddOp(f, { id: 'candle-new-2', key: newDevice, hub: 4, exp: 12 }))], false],
    ['device-transfer by an account that does not hold the role', [r(op(f, { type: 'device-transfer', exp: 12, device: 'h0-d0', role: 'capex', from: f.capex2.publicKey, to: f.stranger.publicKey }, { from: f.capex2, to: f.stranger }))], false],
    ['device-transfer and device-retire of one device in one value', [r(opBytes(made[1])), r(op(f, { type: 'device-retire', exp: 12, device: 'h0-d0', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex }))], false],
    ['two hub-adds in one value of a 4-validator network (3 · 2 ≥ 4)', [r(opBytes(made[4]), f.hubs.slice(0, 3)), r(op(f, { type: 'hub-add', exp: 12, hub: peerIdFromPublicKey(f.spareHubs[1].publicKey), operator: f.spareOperators[1].publicKey }, { hub: f.spareHubs[1], operator: f.spareOperators[1] }), f.hubs.slice(0, 3))], false],
    ['hub-remove that leaves 3 validators', [r(opBytes(made[5]), f.hubs.slice(0, 3))], false],
    ['operation that expired at epoch 1', [r(deviceAddOp(f, { id: 'candle-new-2', key: newDevice, hub: 0, exp: 1 }))], false]
  ]
  return cases.map(([name, rs, withWeights]) => ({
    name,
    epoch: s.epoch,
    builderWeights: withWeights ? Object.fromEntries(Object.entries(weights).map(([a, v]) => [a, v.toString()])) : null,
    resolutionsHex: rs.map(hex),
    ...codeOf(() => decideGovernance(s, rs.map(b => verifyResolution(id, b)), withWeights ? { weights: w } : {}))
  }))
}

function stateJson (s: EpochState): Record<string, unknown> {
  return { epoch: s.epoch, validators: s.validators.ids, validatorsHash: s.validators.hash, nextValidators: s.next.ids, nextValidatorsHash: s.next.hash, registryHash: s.registry.hash, paramsHash: s.params.hash, hash: s.hash }
}

export function buildGovernanceVectors (): Record<string, unknown> {
  const made = operations()
  const ops = made.map(operationVector)
  const hubRemove = verifyOperation(id, opBytes(made[5]))
  const params = verifyOperation(id, opBytes(made[6]))
  const s2 = advanceEmpty(advanceEmpty(genesisState(f.net)))
  // Epoch 2 decides: the device-add, the transfer, the hub-add (3 of 4 validators) and the params change (3 validators, capex voting yes with all weight).
  const decided: Uint8Array[] = [
    resolution(f, opBytes(made[0]), verifyOperation(id, opBytes(made[0])).id),
    resolution(f, opBytes(made[1]), verifyOperation(id, opBytes(made[1])).id),
    resolution(f, opBytes(made[4]), verifyOperation(id, opBytes(made[4])).id, f.hubs.slice(0, 3)),
    resolution(f, opBytes(made[6]), params.id, f.hubs.slice(0, 3), [[f.capex, true]])
  ]
  const rs: VerifiedResolution[] = decided.map(b => verifyResolution(id, b))
  const weights = { weightOf: (a: string) => a === hex(f.capex.publicKey) ? 5000n : 0n, total: 5000n }
  const { decided: d, ...fields } = governanceFields(s2, rs, { weights })
  const value = { epoch: 2, prev: '11'.repeat(32), cut: s2.validators.ids.map(hub => ({ hub, seq: 0, id: null })), root: '22'.repeat(32), ...fields }
  const s3 = d.next
  const s4 = advanceEmpty(s3)
  // A continued network: the chain above certified to epoch 2, then hubs 2 and 3 are gone.
  const chain = govChain(f, [[], [], decided], { weights })
  const cert = verifyCertificate(f.net, chain.certs[2], chain.states[2].validators)
  const def = continueNetwork({ old: f.net, cert, state: chain.states[3], tally: { dust: 3n, cumulative: new Map([[hex(f.capex.publicKey), 5000n]]) }, remaining: f.hubIds.slice(0, 2), name: 'gov-test continued', genesisTime: 1_800_000_000 })
  const draft = parseNetwork(def)
  const endorsements = [signEndorsement(f.operators[0], draft), signEndorsement(f.operators[1], draft)]
  return {
    version: 1,
    about: 'eCandle Mesh governance test vectors; see README.md in this folder and docs/governance.md. Generated by scripts/make-vectors.mjs; checked by test/gov-vectors.test.ts.',
    keys: {
      hubs: f.hubs.map((h, i) => ({ seedHex: seedHex(0x10, i), publicKeyHex: hex(h.publicKey), peerId: f.hubIds[i] })),
      operators: f.operators.map((o, i) => ({ seedHex: seedHex(0x20, i), publicKeyHex: hex(o.publicKey) })),
      spareHub: { seedHex: seedHex(0x11, 0), publicKeyHex: hex(spare.publicKey), peerId: spareId },
      spareOperator: { seedHex: seedHex(0x21, 0), publicKeyHex: hex(f.spareOperators[0].publicKey) },
      capex: { seedHex: seedHex(0x40, 0), publicKeyHex: hex(f.capex.publicKey) },
      opex: { seedHex: seedHex(0x41, 0), publicKeyHex: hex(f.opex.publicKey) },
      capex2: { seedHex: seedHex(0x42, 0), publicKeyHex: hex(f.capex2.publicKey) },
      maker: { seedHex: seedHex(0x50, 0), publicKeyHex: hex(f.maker.publicKey) },
      newDevice: { seedHex: seedHex(0x60, 0), publicKeyHex: hex(newDevice.publicKey) }
    },
    network: { definition: f.net.def, id },
    domains: { gov: govDomain(id), approval: approvalDomain(id), maker: Domain.maker, continue: continueDomain(id) },
    limits: governanceLimits,
    makerCertificate: { deviceKeyHex: hex(newDevice.publicKey), signingBytesHex: hex(signingBytes(Domain.maker, newDevice.publicKey)), signatureHex: hex(signMakerCert(f.maker, newDevice.publicKey).signature) },
    operations: ops,
    approvals: [
      approvalVector('hub 0 approves the hub-remove', f.hubs[0], hubRemove.id, 'validator', true),
      approvalVector('capex builder votes yes on the params change', f.capex, params.id, 'builder', true),
      approvalVector('opex builder votes no on the params change', f.opex, params.id, 'builder', false)
    ],
    resolutions: rs.map((r, i) => ({ name: `decided in epoch 2: ${made[[0, 1, 4, 6][i]].name}`, opId: r.op.id, approvalIds: r.approvals.map(a => a.id), bytesHex: hex(r.bytes), id: r.id, bytes: r.bytes.byteLength })),
    states: { genesis: stateJson(genesisState(f.net)), epoch2: stateJson(s2), epoch3: stateJson(s3), epoch4: stateJson(s4) },
    value: { builderWeights: { [hex(f.capex.publicKey)]: '5000' }, value: { ...value, cut: value.cut }, valueId: valueIdOf(value) },
    invalid: invalid(made),
    invalidInState: invalidInState(made, s2),
    continued: { definition: withEndorsements(def, endorsements), id: draft.id, endorsementSigningBytesHex: hex(signingBytes(continueDomain(id), Buffer.from(draft.id, 'hex'))) }
  }
}

function seedHex (fill: number, first: number): string {
  const s = new Uint8Array(32).fill(fill)
  s[0] = first
  return hex(s)
}
