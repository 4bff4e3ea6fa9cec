import assert from 'node:assert/strict'
import {
  carriedTally, checkContinuationLink, continueNetwork, decideGovernance, genesisState, networkId, parseNetwork, peerIdFromPublicKey,
  signEndorsement, toHex, verifyCertificate, verifyContinuation, verifyOperation, verifyResolution, withEndorsements, type NetworkDefinition
} from '../src/index.js'
import { govChain, govFixture, op, resolution } from '../src/testing.js'
import { expectValidation } from './fixtures.js'

const f = govFixture()
const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
const idOf = (b: Uint8Array): string => verifyOperation(f.net.id, b).id
const hubAdd = op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
const retire = op(f, { type: 'device-retire', exp: 10, device: 'h2-d1', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex })
// Epoch 1 adds a fifth hub, epoch 2 retires a device; the network certifies epochs 0…3, then hubs 2, 3 and the new one are gone.
const chain = govChain(f, [[], [resolution(f, hubAdd, idOf(hubAdd), f.hubs.slice(0, 3))], [resolution(f, retire, idOf(retire))], []])
const E = 3
const cert = verifyCertificate(f.net, chain.certs[E], chain.states[E].validators)
const tallyAfter = { dust: 7n, cumulative: new Map([[toHex(f.capex.publicKey), 900n], [toHex(f.opex.publicKey), 1100n]]) }
const remaining = [f.hubIds[0], f.hubIds[1]]

function draft (): NetworkDefinition {
  return continueNetwork({ old: f.net, cert, state: chain.states[E + 1], tally: tallyAfter, remaining, name: 'gov-test continued', genesisTime: 1_800_000_000 })
}
function endorsed (def: NetworkDefinition = draft()): NetworkDefinition {
  const n = parseNetwork(def)
  return withEndorsements(def, [signEndorsement(f.operators[0], n), signEndorsement(f.operators[1], n)])
}

describe('continuing a network whose quorum is gone (docs/governance.md §8)', () => {
  it('carries the registry, parameters and tally state; endorsed by the remaining operators; linked to the old certificate', () => {
    const net2 = parseNetwork(endorsed())
    verifyContinuation(net2)
    checkContinuationLink(net2, cert)
    assert.deepEqual(net2.validatorIds, remaining)
    assert.equal(net2.def.continues?.state, cert.value.next)
    assert.equal(net2.def.devices.length, 8)
    assert.equal(net2.def.devices.find(d => d.id === 'h2-d1')?.retired, true)
    // Endorsements are not part of the id.
    assert.equal(net2.id, networkId(draft()))
    assert.notEqual(net2.id, f.net.id)
    const t = carriedTally(net2)
    assert.equal(t.dust, 7n)
    assert.equal(t.cumulative.get(toHex(f.capex.publicKey)), 900n)
    // The new genesis state has the old registry and parameters under the same hashes.
    const g = genesisState(net2)
    assert.equal(g.registry.hash, chain.states[E + 1].registry.hash)
    assert.equal(g.params.hash, chain.states[E + 1].params.hash)
    assert.equal(g.registry.devices.get('h2-d1')?.retired, 0)
  })

  it('a device of a hub that did not continue moves with its opex builder and the new hub\'s operator alone', () => {
    const net2 = parseNetwork(endorsed())
    const mv = op({ ...f, net: net2 }, { type: 'device-move', exp: 5, device: 'h3-d0', from: f.hubIds[3], to: f.hubIds[0], opex: f.opex.publicKey, fromOperator: null, toOperator: f.operators[0].publicKey }, { opex: f.opex, toOperator: f.operators[0] })
    const r = verifyResolution(net2.id, resolution({ ...f, net: net2 }, mv, verifyOperation(net2.id, mv).id))
    assert.equal(decideGovernance(genesisState(net2), [r]).next.registry.devices.get('h3-d0')?.hub, f.hubIds[0])
  })

  it('refuses: an operator missing or signing twice, a stranger endorsing, a forged signature', () => {
    const def = draft()
    const n = parseNetwork(def)
    expectValidation(() => verifyContinuation(parseNetwork(withEndorsements(def, [signEndorsement(f.operators[0], n)]))), 'REJECT', 'endorsement-missing')
    expectValidation(() => verifyContinuation(parseNetwork(withEndorsements(def, [signEndorsement(f.operators[0], n), signEndorsement(f.operators[1], n), signEndorsement(f.operators[2], n)]))), 'REJECT', 'endorsement-extra')
    const forged = { ...signEndorsement(f.operators[1], n), signature: signEndorsement(f.operators[0], n).signature }
    expectValidation(() => verifyContinuation(parseNetwork(withEndorsements(def, [signEndorsement(f.operators[0], n), forged]))), 'REJECT', 'endorsement-signature')
  })

  it('refuses: a validator that was not in the old sets, a registry or parameters other than certified', () => {
    const stranger = { ...draft(), validators: [...draft().validators, { peerId: peerIdFromPublicKey(f.stranger.publicKey), operator: toHex(f.stranger.publicKey) }] }
    expectValidation(() => verifyContinuation(parseNetwork(stranger)), 'REJECT', 'validator-not-carried')
    const richer = draft()
    richer.devices[0] = { ...richer.devices[0], ratedWhPerDay: 99_999 }
    expectValidation(() => verifyContinuation(parseNetwork(endorsed(richer))), 'REJECT', 'carried-state')
    const cheaper = { ...draft(), emissionPerEpoch: '1' }
    expectValidation(() => verifyContinuation(parseNetwork(endorsed(cheaper))), 'REJECT', 'carried-state')
  })

  it('refuses a link to another epoch or value of the old network', () => {
    const net2 = parseNetwork(endorsed())
    expectValidation(() => checkContinuationLink(net2, verifyCertificate(f.net, chain.certs[2], chain.states[2].validators)), 'REJECT', 'carried-epoch')
    const other = parseNetwork({ ...endorsed(), continues: { ...draft().continues!, value: '11'.repeat(32) } })
    expectValidation(() => checkContinuationLink(other, cert), 'REJECT', 'carried-value')
    expectValidation(() => continueNetwork({ old: f.net, cert, state: chain.states[E - 1], tally: tallyAfter, remaining, name: 'x', genesisTime: 1 }), 'REJECT', 'carried-next')
    expectValidation(() => continueNetwork({ old: f.net, cert, state: chain.states[E + 1], tally: tallyAfter, remaining: [peerIdFromPublicKey(f.stranger.publicKey)], name: 'x', genesisTime: 1 }), 'REJECT', 'validator-not-carried')
  })

  it('the network file refuses retired devices and endorsements outside a continued network', () => {
    const base = JSON.parse(JSON.stringify(f.net.def))
    assert.throws(() => parseNetwork({ ...base, devices: [{ ...base.devices[0], retired: true }] }), /only a continued network carries retired devices/)
    assert.throws(() => parseNetwork({ ...base, endorsements: [] }), /only a continued network carries endorsements/)
    assert.throws(() => parseNetwork({ ...base, continues: { ...draft().continues, cumulative: [{ account: 'b'.repeat(64), amount: '1' }, { account: 'a'.repeat(64), amount: '1' }] } }), /sorted and unique/)
  })
})
