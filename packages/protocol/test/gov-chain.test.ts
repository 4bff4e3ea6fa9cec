import assert from 'node:assert/strict'
import {
  decodeCanonical, encode, followCertificate, genesisState, peerIdFromPublicKey, verifyCertificate, verifyOperation, type EpochState, type EpochValue
} from '../src/index.js'
import { certify, deviceAddOp, govChain, govFixture, op, resolution } from '../src/testing.js'
import { expectValidation } from './fixtures.js'

const f = govFixture()
const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
const idOf = (b: Uint8Array): string => verifyOperation(f.net.id, b).id
const hubAdd = op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
const hubRemove = op(f, { type: 'hub-remove', exp: 10, hub: f.hubIds[3] }, {})
const devAdd = deviceAddOp(f, { id: 'new-1', key: f.stranger, hub: 0, exp: 10 })
const params = op(f, { type: 'params', exp: 10, set: { emissionPerEpoch: 7n } }, {})

// Epoch 1 adds a fifth hub (votes from 3); epoch 2 registers a device (from 3); epoch 4 removes hub 3
// (approved by the five, gone from 6); epoch 5 changes the emission (from 6).
const schedule = [
  [],
  [resolution(f, hubAdd, idOf(hubAdd), f.hubs.slice(0, 3))],
  [resolution(f, devAdd, idOf(devAdd))],
  [],
  [resolution(f, hubRemove, idOf(hubRemove), [f.hubs[0], f.hubs[1], f.hubs[2], f.spareHubs[0]])],
  [resolution(f, params, idOf(params), [f.hubs[0], f.hubs[1], f.hubs[2], f.spareHubs[0]])],
  [],
  []
]
const chain = govChain(f, schedule, { weights: { weightOf: () => 0n, total: 0n } })

function follow (certs = chain.certs, resolutions = chain.resolutions): EpochState {
  let s = genesisState(f.net)
  for (let e = 0; e < certs.length; e++) s = followCertificate(f.net, s, certs[e], resolutions[e]).next
  return s
}

describe('following decided values across validator-set changes (light peer)', () => {
  it('derives every epoch\'s validators, registry and parameters from genesis, certificates and resolutions', () => {
    const end = follow()
    assert.equal(end.epoch, 8)
    assert.equal(end.hash, chain.states[8].hash)
    assert.deepEqual(chain.states[2].validators.ids, f.hubIds)
    assert.deepEqual(chain.states[3].validators.ids, [...f.hubIds, spare])
    assert.deepEqual(chain.states[6].validators.ids, [f.hubIds[0], f.hubIds[1], f.hubIds[2], spare])
    assert.equal(chain.states[2].registry.devices.has('new-1'), false)
    assert.equal(chain.states[3].registry.devices.get('new-1')?.since, 3)
    assert.equal(chain.states[5].params.emissionPerEpoch, 1_000_000n)
    assert.equal(chain.states[6].params.emissionPerEpoch, 7n)
    // Each value names the state it was decided under and the next: a chain of hashes.
    for (let e = 0; e < 8; e++) {
      const v = verifyCertificate(f.net, chain.certs[e], chain.states[e].validators).value
      assert.equal(v.state, chain.states[e].hash)
      assert.equal(v.next, chain.states[e + 1].hash)
    }
  })

  it('a certificate verifies against the set of its epoch only', () => {
    // Epoch 3 is decided by five: the genesis set does not even match its cut.
    expectValidation(() => verifyCertificate(f.net, chain.certs[3]), 'REJECT', 'shape')
    verifyCertificate(f.net, chain.certs[3], chain.states[3].validators)
    // Three of the original four were a quorum of four, not of five.
    const v3 = verifyCertificate(f.net, chain.certs[3], chain.states[3].validators).value
    const weak = certify(f, v3, chain.states[3].validators, f.hubIds.slice(0, 3))
    expectValidation(() => verifyCertificate(f.net, weak, chain.states[3].validators), 'REJECT', 'too-few-signers', '3 signers, need 4 of 5')
    // The removed hub's signature counts for nothing in epoch 6 (its index is another hub's there).
    const v6 = verifyCertificate(f.net, chain.certs[6], chain.states[6].validators).value
    const m = decodeCanonical<{ value: unknown, round: number, sigs: Array<[number, Uint8Array]> }>(certify(f, v6, chain.states[6].validators, [f.hubIds[0], f.hubIds[1], f.hubIds[2]]), 'cert')
    const forged = encode({ ...m, sigs: [...m.sigs, [3, f.hubs[3].sign('x', new Uint8Array())]] })
    expectValidation(() => verifyCertificate(f.net, forged, chain.states[6].validators), 'REJECT', 'certificate-signature')
    // A lookup that does not know the epoch's set IGNOREs (not yet), it does not REJECT.
    expectValidation(() => verifyCertificate(f.net, chain.certs[6], () => undefined), 'IGNORE', 'unknown-validator-set')
  })

  it('resolutions withheld or swapped are noticed; a certificate out of turn too', () => {
    const withheld = chain.resolutions.map((r, e) => e === 2 ? [] : r)
    expectValidation(() => follow(chain.certs, withheld), 'REJECT', 'resolution-missing')
    const swapped = chain.resolutions.map((r, e) => e === 2 ? [resolution(f, deviceAddOp(f, { id: 'other', key: f.capex2, hub: 0, exp: 10 }), idOf(deviceAddOp(f, { id: 'other', key: f.capex2, hub: 0, exp: 10 })))] : r)
    expectValidation(() => follow(chain.certs, swapped), 'REJECT', 'resolution-missing')
    expectValidation(() => followCertificate(f.net, genesisState(f.net), chain.certs[1], chain.resolutions[1]), 'REJECT', 'epoch-mismatch')
    expectValidation(() => followCertificate(f.net, genesisState(f.net), chain.certs[4], chain.resolutions[4]), 'IGNORE', 'unknown-validator-set')
  })

  it('a certified value whose next hash its resolutions do not give is refused (the certifiers were wrong)', () => {
    const v2 = verifyCertificate(f.net, chain.certs[2], chain.states[2].validators).value
    const bad: EpochValue = { ...v2, next: v2.state }
    const cert = certify(f, bad, chain.states[2].validators)
    let s = genesisState(f.net)
    for (let e = 0; e < 2; e++) s = followCertificate(f.net, s, chain.certs[e], chain.resolutions[e]).next
    expectValidation(() => followCertificate(f.net, s, cert, chain.resolutions[2]), 'REJECT', 'next-mismatch')
  })
})
