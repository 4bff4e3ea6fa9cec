import assert from 'node:assert/strict'
import {
  admissionLookup, advanceEmpty, decideGovernance, epochOf, genesisState, linkRefusal, peerIdFromPublicKey, signEntry, signReport,
  verifyEntry, verifyOperation, verifyResolution, type EpochState, type Signer
} from '../src/index.js'
import { deviceAddOp, GOV_GENESIS, govFixture, op, resolution } from '../src/testing.js'
import { expectValidation } from './fixtures.js'

const f = govFixture()
const add = deviceAddOp(f, { id: 'new-1', key: f.stranger, hub: 1, exp: 10 })
const plain = (b: Uint8Array): ReturnType<typeof verifyResolution> => verifyResolution(f.net.id, resolution(f, b, verifyOperation(f.net.id, b).id))
const approved = (b: Uint8Array): ReturnType<typeof verifyResolution> => verifyResolution(f.net.id, resolution(f, b, verifyOperation(f.net.id, b).id, f.hubs.slice(0, 3)))
const at = (e: number, s: EpochState = genesisState(f.net)): EpochState => { while (s.epoch < e) s = advanceEmpty(s); return s }

// The device's registration is decided in epoch 3, so it is registered from epoch 4.
const s3 = at(3)
const s4 = decideGovernance(s3, [plain(add)]).next
const spare = peerIdFromPublicKey(f.spareHubs[0].publicKey)
const hubAdd = op(f, { type: 'hub-add', exp: 10, hub: spare, operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] })
// The hub's addition is decided in epoch 3: it is a validator from epoch 5.
const s4h = decideGovernance(s3, [approved(hubAdd)]).next

function entryAt (epoch: number, hub: Signer, device: string, key: Signer): Uint8Array {
  const time = (GOV_GENESIS + epoch * 60 + 30) * 1000
  const r = signReport(key, { device, counter: 1, periodStart: GOV_GENESIS + epoch * 60 + 10, periodEnd: GOV_GENESIS + epoch * 60 + 20, energyMwh: 1, solarMwh: 1, litS: 1, batteryMv: 3700, soc: 50, tempDeciC: 200, faults: 0 })
  return signEntry(f.net, hub, { hub: peerIdFromPublicKey(hub.publicKey), seq: 1, prev: null, epoch: epochOf(f.net, time), time, reports: [r] })
}
const far = Number.MAX_SAFE_INTEGER

describe('log admission under governance (docs/governance.md §7)', () => {
  it('a report of a device registered from epoch 4, stamped 4: a hub that has decided epoch 3 takes it', () => {
    verifyEntry(f.net, entryAt(4, f.hubs[1], 'new-1', f.stranger), far, admissionLookup(s4))
  })

  it('…a hub that has not yet decided epoch 3 IGNOREs it (retry later), it does not REJECT', () => {
    expectValidation(() => verifyEntry(f.net, entryAt(4, f.hubs[1], 'new-1', f.stranger), far, admissionLookup(s3)), 'IGNORE', 'device-pending')
  })

  it('…stamped 3, before its registration: REJECT not-yet-registered by anyone who knows the device', () => {
    expectValidation(() => verifyEntry(f.net, entryAt(3, f.hubs[1], 'new-1', f.stranger), far, admissionLookup(s4)), 'REJECT', 'not-yet-registered')
    expectValidation(() => verifyEntry(f.net, entryAt(3, f.hubs[1], 'new-1', f.stranger), far, admissionLookup(at(9, s4))), 'REJECT', 'not-yet-registered')
  })

  it('a device nobody registered: REJECT once the registry of the stamp is known, IGNORE before', () => {
    expectValidation(() => verifyEntry(f.net, entryAt(3, f.hubs[1], 'nobody', f.capex2), far, admissionLookup(s3)), 'REJECT', 'unregistered-device')
    expectValidation(() => verifyEntry(f.net, entryAt(4, f.hubs[1], 'nobody', f.capex2), far, admissionLookup(s3)), 'IGNORE', 'device-pending')
  })

  it('which hub a device reports through is the tally\'s to judge: a report through another hub is logged', () => {
    const e = verifyEntry(f.net, entryAt(4, f.hubs[2], 'new-1', f.stranger), far, admissionLookup(s4))
    assert.equal(e.reports.length, 1)
    // The network file's rules (no governance) still refuse it at once.
    expectValidation(() => verifyEntry(f.net, entryAt(0, f.hubs[2], 'h1-d0', f.devices[1][0]), far), 'REJECT', 'wrong-hub')
  })

  it('a signature by another key than the registered one is still a REJECT', () => {
    expectValidation(() => verifyEntry(f.net, entryAt(4, f.hubs[1], 'new-1', f.capex), far, admissionLookup(s4)), 'REJECT', 'report-signature')
  })

  it('a hub added in epoch 3 logs from epoch 5: stamped 4 is REJECTed, stamped 5 is taken', () => {
    const s5 = advanceEmpty(s4h)
    expectValidation(() => verifyEntry(f.net, entryAt(4, f.spareHubs[0], 'h1-d0', f.devices[1][0]), far, admissionLookup(s5)), 'REJECT', 'hub-not-yet-validator')
    verifyEntry(f.net, entryAt(5, f.spareHubs[0], 'h1-d0', f.devices[1][0]), far, admissionLookup(s4h))
    // Before the decision is known: sets are known to epoch 4 at S(3); stamped 5 from an unknown hub is IGNOREd, stamped 4 REJECTed.
    expectValidation(() => verifyEntry(f.net, entryAt(5, f.spareHubs[0], 'h1-d0', f.devices[1][0]), far, admissionLookup(s3)), 'IGNORE', 'hub-pending')
    expectValidation(() => verifyEntry(f.net, entryAt(4, f.spareHubs[0], 'h1-d0', f.devices[1][0]), far, admissionLookup(s3)), 'REJECT', 'unknown-hub')
  })

  it('a removed hub\'s entries from its first epoch out are IGNOREd (in no cut; a peer may have forwarded them in good faith)', () => {
    let s = advanceEmpty(s4h) // S(5): five validators
    const rm = op(f, { type: 'hub-remove', exp: 12, hub: f.hubIds[3] }, {})
    s = decideGovernance(s, [verifyResolution(f.net.id, resolution(f, rm, verifyOperation(f.net.id, rm).id, f.hubs))]).next // decided in 5: gone from 7
    verifyEntry(f.net, entryAt(6, f.hubs[3], 'h3-d0', f.devices[3][0]), far, admissionLookup(s))
    expectValidation(() => verifyEntry(f.net, entryAt(7, f.hubs[3], 'h3-d0', f.devices[3][0]), far, admissionLookup(s)), 'IGNORE', 'hub-removed')
  })

  it('a device link: the hub takes a report only from a live device registered to it', () => {
    assert.equal(linkRefusal(s4, 'new-1', f.hubIds[1], 4), undefined)
    assert.equal(linkRefusal(s4, 'new-1', f.hubIds[1], 3), 'not-yet-registered')
    assert.equal(linkRefusal(s4, 'new-1', f.hubIds[0], 4), 'wrong-hub')
    assert.equal(linkRefusal(s4, 'nobody', f.hubIds[0], 4), 'unregistered-device')
    const rt = op(f, { type: 'device-retire', exp: 12, device: 'h0-d0', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex })
    const s5 = decideGovernance(s4, [plain(rt)]).next
    assert.equal(linkRefusal(s5, 'h0-d0', f.hubIds[0], 5), 'retired')
  })
})
