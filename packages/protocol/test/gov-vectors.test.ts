import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  decideGovernance, encodeOperationPayload, genesisState, governanceLimits, govDomain, parseNetwork, peerIdFromPublicKey, sha256, signerFromSeed,
  signingBytes, stateHash, toHex, valueIdOf, verifyApproval, verifyContinuation, verifyOperation, verifyResolution, Domain, type ValidationError
} from '../src/index.js'
import { unhex } from './fixtures.js'
import { buildGovernanceVectors, GOV_VECTORS_FILE } from './gov-vectors-lib.js'

const V = JSON.parse(readFileSync(new URL(`../../vectors/${GOV_VECTORS_FILE}`, import.meta.url), 'utf8'))
const net = parseNetwork(V.network.definition)
const caught = (fn: () => unknown): { action: string, code: string } => {
  try { fn() } catch (err) { return { action: (err as ValidationError).action, code: (err as ValidationError).code } }
  return { action: 'none', code: 'none' }
}

describe('governance test vectors (vectors/governance-v1.json)', () => {
  it('the code regenerates the committed file exactly', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(buildGovernanceVectors())), V)
  })

  it('keys and network', () => {
    for (const k of [...V.keys.hubs, ...V.keys.operators, V.keys.spareHub, V.keys.capex, V.keys.maker, V.keys.newDevice]) {
      const s = signerFromSeed(unhex(k.seedHex))
      assert.equal(toHex(s.publicKey), k.publicKeyHex)
      if (k.peerId !== undefined) assert.equal(peerIdFromPublicKey(s.publicKey), k.peerId)
    }
    assert.equal(net.id, V.network.id)
    assert.equal(V.domains.gov, `ecandle/gov/1/${net.id}`)
    assert.equal(V.domains.approval, `ecandle/approval/1/${net.id}`)
    assert.equal(V.domains.maker, 'ecandle/maker/1')
    assert.deepEqual(V.limits, { ...governanceLimits })
  })

  it('operations: payload → id, signing bytes, each role\'s signature, signed bytes', () => {
    assert.deepEqual(V.operations.map((o: any) => o.operation.type), ['device-add', 'device-transfer', 'device-move', 'device-retire', 'hub-add', 'hub-remove', 'params'])
    for (const v of V.operations) {
      const op = verifyOperation(net.id, unhex(v.signedHex))
      assert.equal(toHex(encodeOperationPayload(op.op)), v.payloadHex, v.name)
      assert.equal(toHex(sha256(unhex(v.payloadHex))), v.id, v.name)
      assert.equal(op.id, v.id, v.name)
      assert.equal(toHex(signingBytes(govDomain(net.id), unhex(v.payloadHex))), v.signingBytesHex, v.name)
      assert.deepEqual(Object.fromEntries(Object.entries(op.signatures).map(([r, s]) => [r, toHex(s!)])), v.signatures, v.name)
    }
    const mk = V.makerCertificate
    assert.equal(mk.signingBytesHex, toHex(signingBytes(Domain.maker, unhex(mk.deviceKeyHex))))
  })

  it('approvals and resolutions: ids are sha256 of the payload / bytes', () => {
    for (const v of V.approvals) {
      const a = verifyApproval(net.id, unhex(v.signedHex))
      assert.equal(a.id, v.id)
      assert.equal(toHex(sha256(unhex(v.payloadHex))), v.id)
    }
    for (const v of V.resolutions) {
      const r = verifyResolution(net.id, unhex(v.bytesHex))
      assert.equal(r.id, v.id)
      assert.equal(toHex(sha256(unhex(v.bytesHex))), v.id)
      assert.deepEqual(r.approvals.map(a => a.id), v.approvalIds)
    }
  })

  it('states: component hashes give the state hash; the value names state and next; its id', () => {
    for (const s of Object.values<any>(V.states)) assert.equal(stateHash(s.validatorsHash, s.nextValidatorsHash, s.registryHash, s.paramsHash), s.hash)
    assert.equal(genesisState(net).hash, V.states.genesis.hash)
    assert.equal(V.value.value.state, V.states.epoch2.hash)
    assert.equal(V.value.value.next, V.states.epoch3.hash)
    assert.equal(valueIdOf(V.value.value), V.value.valueId)
    // The hub added in epoch 2 votes from epoch 4.
    assert.equal(V.states.epoch3.validators.length, 4)
    assert.equal(V.states.epoch3.nextValidators.length, 5)
    assert.equal(V.states.epoch4.validators.length, 5)
  })

  it('invalid objects get their verdict', () => {
    for (const v of V.invalid) {
      const verify = v.kind === 'operation' ? verifyOperation : v.kind === 'approval' ? verifyApproval : verifyResolution
      assert.deepEqual(caught(() => verify(net.id, unhex(v.bytesHex))), { action: v.action, code: v.code }, v.name)
    }
    for (const v of V.invalidInState) {
      let s = genesisState(net)
      while (s.epoch < v.epoch) s = decideGovernance(s, []).next
      const w = v.builderWeights === null ? undefined : { weightOf: (a: string) => BigInt(v.builderWeights[a] ?? '0'), total: Object.values<string>(v.builderWeights).reduce((x, y) => x + BigInt(y), 0n) }
      const rs = v.resolutionsHex.map((h: string) => verifyResolution(net.id, unhex(h)))
      assert.deepEqual(caught(() => decideGovernance(s, rs, w === undefined ? {} : { weights: w })), { action: v.action, code: v.code }, v.name)
    }
  })

  it('the continued network verifies', () => {
    const n2 = parseNetwork(V.continued.definition)
    assert.equal(n2.id, V.continued.id)
    verifyContinuation(n2)
  })
})
