import assert from 'node:assert/strict'
import {
  advanceEmpty, decideGovernance, encodeResolution, followValue, genesisState, governanceFields, peerIdFromPublicKey, RULE_CODES,
  selectResolutions, signApproval, signMakerCert, toHex, VALUE_GOV_CODES, verifyOperation, verifyResolution,
  type BuilderWeights, type EpochState, type Operation, type Signer, type VerifiedResolution
} from '../src/index.js'
import { deviceAddOp, govFixture, op, resolution, type GovFixture } from '../src/testing.js'
import { expectValidation } from './fixtures.js'

const f = govFixture()
const g0 = genesisState(f.net)
const idOf = (b: Uint8Array): string => verifyOperation(f.net.id, b).id
const res = (b: Uint8Array): VerifiedResolution => verifyResolution(f.net.id, b)
const plain = (opBytes: Uint8Array): VerifiedResolution => res(resolution(f, opBytes, idOf(opBytes)))
const approved = (opBytes: Uint8Array, validators: readonly Signer[] = f.hubs.slice(0, 3), builders: ReadonlyArray<[Signer, boolean]> = []): VerifiedResolution =>
  res(resolution(f, opBytes, idOf(opBytes), validators, builders))
/** S(epoch) with nothing decided before it. */
function at (epoch: number, s: EpochState = g0): EpochState {
  while (s.epoch < epoch) s = advanceEmpty(s)
  return s
}
const spareId = (i: number): string => peerIdFromPublicKey(f.spareHubs[i].publicKey)
const hubAdd = (i: number, exp = 12, fx: GovFixture = f): Uint8Array =>
  op(fx, { type: 'hub-add', exp, hub: peerIdFromPublicKey(fx.spareHubs[i].publicKey), operator: fx.spareOperators[i].publicKey }, { hub: fx.spareHubs[i], operator: fx.spareOperators[i] })
const hubRemove = (hub: string, exp = 12): Uint8Array => op(f, { type: 'hub-remove', exp, hub }, {})
const weights = (m: Record<string, bigint>): BuilderWeights => ({ weightOf: (a) => m[a] ?? 0n, total: Object.values(m).reduce((x, y) => x + y, 0n) })

describe('network state: genesis and timing', () => {
  it('S(0) is the network file: validators of epochs 0 and 1, devices registered from 0, parameters', () => {
    assert.equal(g0.epoch, 0)
    assert.deepEqual(g0.validators.ids, f.hubIds)
    assert.equal(g0.next.hash, g0.validators.hash)
    assert.equal(g0.registry.devices.size, 8)
    const d = g0.registry.devices.get('h1-d0')!
    assert.deepEqual([d.hub, d.since, d.from, d.retired], [f.hubIds[1], 0, 0, null])
    assert.equal(g0.params.emissionPerEpoch, 1_000_000n)
    assert.deepEqual(g0.params.makers, [toHex(f.maker.publicKey)])
    assert.equal(g0.params.builderQuorumBps, 2000)
    assert.match(g0.hash, /^[0-9a-f]{64}$/)
  })

  it('an epoch that decides nothing leaves the state hash as it is (the hash does not name the epoch)', () => {
    const s5 = at(5)
    assert.equal(s5.epoch, 5)
    assert.equal(s5.hash, g0.hash)
  })

  it('a device added in the value of epoch E is registered from E+1', () => {
    const s3 = at(3)
    const add = deviceAddOp(f, { id: 'new-1', key: f.stranger, hub: 1, exp: 10 })
    const { next: s4 } = decideGovernance(s3, [plain(add)])
    assert.equal(s3.registry.devices.has('new-1'), false)
    const d = s4.registry.devices.get('new-1')!
    assert.deepEqual([d.hub, d.since, d.from, d.retired, d.publicKey], [f.hubIds[1], 4, 4, null, toHex(f.stranger.publicKey)])
    assert.equal(s4.registry.keys.get(toHex(f.stranger.publicKey)), 'new-1')
    assert.notEqual(s4.hash, s3.hash)
    assert.equal(s4.validators.hash, s3.validators.hash)
  })

  it('a hub added in the value of epoch E votes from E+2; a hub removed stops at E+2', () => {
    const s2 = at(2)
    const { next: s3 } = decideGovernance(s2, [approved(hubAdd(0))])
    assert.deepEqual(s3.validators.ids, f.hubIds)
    assert.deepEqual(s3.next.ids, [...f.hubIds, spareId(0)])
    assert.deepEqual(s3.hubs.get(spareId(0)), { peerId: spareId(0), operator: toHex(f.spareOperators[0].publicKey), from: 4, until: null })
    const s4 = advanceEmpty(s3)
    assert.deepEqual(s4.validators.ids, [...f.hubIds, spareId(0)])
    // Five validators now; approvals are counted against the five, quorum 4.
    const rm = hubRemove(f.hubIds[2])
    expectValidation(() => decideGovernance(s4, [approved(rm, f.hubs.slice(0, 3))]), 'REJECT', 'approvals-too-few', '3 of 5')
    const { next: s5 } = decideGovernance(s4, [approved(rm, [...f.hubs.slice(0, 3), f.spareHubs[0]])])
    assert.equal(s5.validators.ids.length, 5)
    assert.deepEqual(s5.next.ids, [f.hubIds[0], f.hubIds[1], f.hubIds[3], spareId(0)])
    assert.equal(s5.hubs.get(f.hubIds[2])!.until, 6)
  })

  it('parameters decided in E are in force from E+1', () => {
    const s1 = at(1)
    const p = op(f, { type: 'params', exp: 5, set: { emissionPerEpoch: 42n, gracePeriodS: 30 } }, {})
    const { next: s2 } = decideGovernance(s1, [approved(p)], { weights: weights({}) })
    assert.equal(s1.params.emissionPerEpoch, 1_000_000n)
    assert.equal(s2.params.emissionPerEpoch, 42n)
    assert.equal(s2.params.gracePeriodS, 30)
    assert.equal(s2.params.capexBps, 5000)
  })
})

describe('network state: the rules of each operation', () => {
  const s = at(2)
  const dec = (r: VerifiedResolution[], w?: BuilderWeights): unknown => decideGovernance(s, r, w === undefined ? {} : { weights: w })

  it('device-add: id or key taken, a hub that is no validator, the wrong operator', () => {
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'h0-d0', key: f.stranger, hub: 0, exp: 5 }))]), 'REJECT', 'device-exists')
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'x', key: f.devices[0][0], hub: 0, exp: 5 }))]), 'REJECT', 'device-key-exists', 'h0-d0')
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'x', key: f.stranger, hub: 4, exp: 5 }))]), 'REJECT', 'hub-not-validator')
    const wrongOp: Operation = { type: 'device-add', exp: 5, device: 'x', key: f.stranger.publicKey, hub: f.hubIds[0], capex: f.capex.publicKey, opex: f.opex.publicKey, ratedWhPerDay: 10, operator: f.operators[1].publicKey, maker: signMakerCert(f.maker, f.stranger.publicKey) }
    expectValidation(() => dec([plain(op(f, wrongOp, { device: f.stranger, operator: f.operators[1], capex: f.capex }))]), 'REJECT', 'operator-mismatch')
  })

  it('device-add where the network names makers: no maker signature, or one of a maker it does not name', () => {
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'x', key: f.stranger, hub: 0, exp: 5, maker: null }))]), 'REJECT', 'maker-missing')
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'x', key: f.stranger, hub: 0, exp: 5, maker: f.capex2 }))]), 'REJECT', 'unknown-maker')
    // A network without makers takes a software key.
    const nf = govFixture({ makers: false })
    const ns = genesisState(nf.net)
    const b = deviceAddOp(nf, { id: 'x', key: nf.stranger, hub: 0, exp: 5, maker: null })
    assert.ok(decideGovernance(ns, [verifyResolution(nf.net.id, resolution(nf, b, verifyOperation(nf.net.id, b).id))]).next.registry.devices.has('x'))
  })

  it('device-add: the registry is bounded', () => {
    const full = { ...s, maxDevices: 8 }
    expectValidation(() => decideGovernance(full, [plain(deviceAddOp(f, { id: 'x', key: f.stranger, hub: 0, exp: 5 }))]), 'REJECT', 'registry-full')
  })

  it('device-transfer: only the current holder gives a role away', () => {
    const t = (from: Signer, to: Signer, device = 'h0-d0'): Uint8Array => op(f, { type: 'device-transfer', exp: 5, device, role: 'capex', from: from.publicKey, to: to.publicKey }, { from, to })
    expectValidation(() => dec([plain(t(f.capex2, f.stranger))]), 'REJECT', 'holder-mismatch')
    expectValidation(() => dec([plain(t(f.capex, f.stranger, 'nope'))]), 'REJECT', 'unknown-device')
    const { next } = decideGovernance(s, [plain(t(f.capex, f.capex2))])
    assert.equal(next.registry.devices.get('h0-d0')!.capex, toHex(f.capex2.publicKey))
    assert.equal(next.registry.devices.get('h0-d0')!.opex, toHex(f.opex.publicKey))
  })

  it('device-move: from its hub, signed by its opex builder and both operators; a departed hub does not sign', () => {
    const mv = (x: { from?: number, to?: number, opex?: Signer, fromOp?: Signer | null }): Uint8Array => {
      const from = x.from ?? 0
      const to = x.to ?? 1
      const fromOp = x.fromOp === undefined ? f.operators[from] : x.fromOp
      const o: Operation = { type: 'device-move', exp: 12, device: 'h0-d0', from: f.hubIds[from], to: f.hubIds[to], opex: (x.opex ?? f.opex).publicKey, fromOperator: fromOp?.publicKey ?? null, toOperator: f.operators[to].publicKey }
      return op(f, o, { opex: x.opex ?? f.opex, ...(fromOp === null ? {} : { fromOperator: fromOp }), toOperator: f.operators[to] })
    }
    expectValidation(() => dec([plain(mv({ from: 2 }))]), 'REJECT', 'hub-mismatch')
    expectValidation(() => dec([plain(mv({ opex: f.capex }))]), 'REJECT', 'holder-mismatch')
    expectValidation(() => dec([plain(mv({ fromOp: null }))]), 'REJECT', 'operator-mismatch', 'operator of hub')
    const { next } = decideGovernance(s, [plain(mv({}))])
    const d = next.registry.devices.get('h0-d0')!
    assert.deepEqual([d.hub, d.from, d.since], [f.hubIds[1], 3, 0])
    // Hub 0 leaves the set; its devices move without its operator.
    const five = decideGovernance(s, [approved(hubAdd(0))]).next
    const s4 = advanceEmpty(five)
    const gone = advanceEmpty(decideGovernance(s4, [approved(hubRemove(f.hubIds[0]), [...f.hubs.slice(1), f.spareHubs[0]])]).next)
    assert.equal(gone.next.byId.has(f.hubIds[0]), false)
    expectValidation(() => decideGovernance(gone, [plain(mv({}))]), 'REJECT', 'operator-mismatch', 'no longer a validator')
    assert.equal(decideGovernance(gone, [plain(mv({ fromOp: null }))]).next.registry.devices.get('h0-d0')!.hub, f.hubIds[1])
  })

  it('device-retire: by both builders; a retired device takes no further operation', () => {
    const rt = (capex: Signer): Uint8Array => op(f, { type: 'device-retire', exp: 9, device: 'h1-d1', capex: capex.publicKey, opex: f.opex.publicKey }, { capex, opex: f.opex })
    expectValidation(() => dec([plain(rt(f.capex2))]), 'REJECT', 'holder-mismatch')
    const { next } = decideGovernance(s, [plain(rt(f.capex))])
    assert.equal(next.registry.devices.get('h1-d1')!.retired, 3)
    const t = op(f, { type: 'device-transfer', exp: 9, device: 'h1-d1', role: 'opex', from: f.opex.publicKey, to: f.opex2.publicKey }, { from: f.opex, to: f.opex2 })
    expectValidation(() => decideGovernance(next, [plain(t)]), 'REJECT', 'device-retired')
    // Its id and key stay taken.
    expectValidation(() => decideGovernance(next, [plain(deviceAddOp(f, { id: 'h1-d1', key: f.stranger, hub: 0, exp: 9 }))]), 'REJECT', 'device-exists')
  })

  it('hub-add / hub-remove: approvals by more than 2/3 of the current validators, from validators only', () => {
    expectValidation(() => dec([approved(hubAdd(0), f.hubs.slice(0, 2))]), 'REJECT', 'approvals-too-few', '2 of 4')
    expectValidation(() => dec([approved(hubAdd(0), [...f.hubs.slice(0, 3), f.spareHubs[1]])]), 'REJECT', 'approval-not-validator')
    expectValidation(() => dec([approved(hubAdd(0), [])]), 'REJECT', 'approvals-too-few')
    // A validator's "no" is no approval.
    const no = res(encodeResolution(hubAdd(0), [...f.hubs.slice(0, 2).map(h => signApproval(f.net.id, h, { op: idOf(hubAdd(0)), as: 'validator', yes: true })), signApproval(f.net.id, f.hubs[2], { op: idOf(hubAdd(0)), as: 'validator', yes: false })], f.net.id))
    expectValidation(() => dec([no]), 'REJECT', 'approvals-too-few')
  })

  it('hub-add of a validator, or of a peer id that was one before; hub-remove of a non-validator', () => {
    const selfAdd = op(f, { type: 'hub-add', exp: 9, hub: f.hubIds[0], operator: f.operators[0].publicKey }, { hub: f.hubs[0], operator: f.operators[0] })
    expectValidation(() => dec([approved(selfAdd)]), 'REJECT', 'hub-exists')
    expectValidation(() => dec([approved(hubRemove(spareId(3)))]), 'REJECT', 'hub-not-validator')
    // Add spare 0, remove it again, then try to add it back.
    let x = advanceEmpty(decideGovernance(s, [approved(hubAdd(0))]).next)
    x = advanceEmpty(decideGovernance(x, [approved(hubRemove(spareId(0), 15), [...f.hubs.slice(0, 3), f.spareHubs[0]])]).next)
    expectValidation(() => decideGovernance(x, [approved(hubAdd(0, 15), f.hubs.slice(0, 3))]), 'REJECT', 'hub-reused')
  })

  it('params: more than 2/3 of validators and the builders: a quorum of weight voting, more than half yes', () => {
    const p = op(f, { type: 'params', exp: 9, set: { capexBps: 6000 } }, {})
    const w = weights({ [toHex(f.capex.publicKey)]: 600n, [toHex(f.opex.publicKey)]: 300n, [toHex(f.capex2.publicKey)]: 100n })
    expectValidation(() => dec([approved(p, f.hubs.slice(0, 2), [[f.capex, true]])], w), 'REJECT', 'approvals-too-few')
    // 100 of 1000 voted: below the 20 % quorum.
    expectValidation(() => dec([approved(p, f.hubs.slice(0, 3), [[f.capex2, true]])], w), 'REJECT', 'builder-quorum')
    // 300 yes, 600 no.
    expectValidation(() => dec([approved(p, f.hubs.slice(0, 3), [[f.opex, true], [f.capex, false]])], w), 'REJECT', 'builder-majority')
    // 300 yes, 300 no is not more than half.
    const tie = weights({ [toHex(f.capex.publicKey)]: 300n, [toHex(f.opex.publicKey)]: 300n })
    expectValidation(() => dec([approved(p, f.hubs.slice(0, 3), [[f.opex, true], [f.capex, false]])], tie), 'REJECT', 'builder-majority')
    // An account that never earned has no voice.
    expectValidation(() => dec([approved(p, f.hubs.slice(0, 3), [[f.capex, true], [f.stranger, true]])], w), 'REJECT', 'approval-no-weight')
    // 600 yes, 100 no: passes.
    const ok = decideGovernance(s, [approved(p, f.hubs.slice(0, 3), [[f.capex, true], [f.capex2, false]])], { weights: w })
    assert.deepEqual(ok.checked[0].builders, { yes: 600n, no: 100n, total: 1000n })
    assert.equal(ok.next.params.capexBps, 6000)
    // Nothing earned anywhere yet: there is no builders' voice to ask.
    assert.equal(decideGovernance(s, [approved(p)], { weights: weights({}) }).next.params.capexBps, 6000)
    // A light peer without weights does not check builders (it relies on the certificate).
    assert.equal(decideGovernance(s, [approved(p)]).checked[0].builders, undefined)
  })

  it('replay: decided once, never again; expired; too far ahead', () => {
    const add = plain(deviceAddOp(f, { id: 'once', key: f.stranger, hub: 0, exp: 6 }))
    const s3 = decideGovernance(s, [add]).next
    // Even if the device were gone, the same operation could not act again while it lives:
    const t = op(f, { type: 'device-transfer', exp: 6, device: 'h0-d0', role: 'capex', from: f.capex.publicKey, to: f.capex2.publicKey }, { from: f.capex, to: f.capex2 })
    const back = op(f, { type: 'device-transfer', exp: 6, device: 'h0-d0', role: 'capex', from: f.capex2.publicKey, to: f.capex.publicKey }, { from: f.capex2, to: f.capex })
    let x = decideGovernance(s3, [plain(t)]).next
    x = decideGovernance(x, [plain(back)]).next
    expectValidation(() => decideGovernance(x, [plain(t)]), 'REJECT', 'op-already-decided')
    expectValidation(() => decideGovernance(at(7), [plain(t)]), 'REJECT', 'op-expired')
    // Past exp the id is forgotten: the state stays bounded.
    const later = at(7, x)
    assert.equal(later.recent.has(idOf(t)), false)
    assert.equal(x.recent.has(idOf(t)), true)
    expectValidation(() => dec([plain(deviceAddOp(f, { id: 'far', key: f.stranger, hub: 0, exp: 2 + 17 }))]), 'REJECT', 'op-exp-too-far')
  })

  it('codes are declared', () => {
    for (const c of ['op-already-decided', 'maker-missing', 'builder-quorum', 'approvals-too-few']) assert.ok((RULE_CODES as readonly string[]).includes(c))
    for (const c of ['op-conflict', 'set-change-too-large', 'set-too-small', 'next-mismatch']) assert.ok((VALUE_GOV_CODES as readonly string[]).includes(c))
  })
})

describe('network state: a value as a whole', () => {
  const s = at(2)

  it('operations that conflict in one value are refused', () => {
    const t1 = op(f, { type: 'device-transfer', exp: 5, device: 'h0-d0', role: 'capex', from: f.capex.publicKey, to: f.capex2.publicKey }, { from: f.capex, to: f.capex2 })
    const rt = op(f, { type: 'device-retire', exp: 5, device: 'h0-d0', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex })
    expectValidation(() => decideGovernance(s, [plain(t1), plain(rt)]), 'REJECT', 'op-conflict', 'device:h0-d0')
    const a1 = deviceAddOp(f, { id: 'k1', key: f.stranger, hub: 0, exp: 5 })
    const a2 = deviceAddOp(f, { id: 'k2', key: f.stranger, hub: 1, exp: 5 })
    expectValidation(() => decideGovernance(s, [plain(a1), plain(a2)]), 'REJECT', 'op-conflict', 'key:')
    const p1 = op(f, { type: 'params', exp: 5, set: { capexBps: 1 } }, {})
    const p2 = op(f, { type: 'params', exp: 5, set: { gracePeriodS: 1 } }, {})
    expectValidation(() => decideGovernance(s, [approved(p1), approved(p2)]), 'REJECT', 'op-conflict', 'params')
    // One operation in two resolutions (different approvals).
    const h = hubAdd(0)
    expectValidation(() => decideGovernance(s, [approved(h, f.hubs.slice(0, 3)), approved(h, f.hubs.slice(1, 4))]), 'REJECT', 'op-conflict', 'op:')
  })

  it('the validator set changes by less than 1/3 per epoch and never drops below 4', () => {
    expectValidation(() => decideGovernance(s, [approved(hubAdd(0)), approved(hubAdd(1))]), 'REJECT', 'set-change-too-large')
    expectValidation(() => decideGovernance(s, [approved(hubRemove(f.hubIds[0]))]), 'REJECT', 'set-too-small')
    // Seven validators: two changes at once are allowed (3·2 < 7), three are not.
    const f7 = govFixture({ hubs: 7 })
    const s7 = genesisState(f7.net)
    const ap = (b: Uint8Array): VerifiedResolution => verifyResolution(f7.net.id, resolution(f7, b, verifyOperation(f7.net.id, b).id, f7.hubs.slice(0, 5)))
    assert.equal(decideGovernance(s7, [ap(hubAdd(0, 12, f7)), ap(hubAdd(1, 12, f7))]).next.next.ids.length, 9)
    // Hubs added together join in resolution id order, whatever order they are given in: one next state.
    const two = [ap(hubAdd(0, 12, f7)), ap(hubAdd(1, 12, f7))]
    const [x, y] = [decideGovernance(s7, two).next, decideGovernance(s7, [...two].reverse()).next]
    assert.equal(x.hash, y.hash)
    assert.deepEqual(x.next.ids, y.next.ids)
    const byId = [...two].sort((a, b) => a.id < b.id ? -1 : 1).map(r => (r.op.op as Extract<Operation, { type: 'hub-add' }>).hub)
    assert.deepEqual(x.next.ids.slice(7), byId)
    expectValidation(() => decideGovernance(s7, [ap(hubAdd(0, 12, f7)), ap(hubAdd(1, 12, f7)), ap(hubAdd(2, 12, f7))]), 'REJECT', 'set-change-too-large')
  })

  it('a small genesis (fewer than 4) may grow by one a epoch and never shrink below its size', () => {
    const f2 = govFixture({ hubs: 2 })
    const s2 = genesisState(f2.net)
    const ap = (b: Uint8Array, by: Signer[]): VerifiedResolution => verifyResolution(f2.net.id, resolution(f2, b, verifyOperation(f2.net.id, b).id, by))
    const grown = decideGovernance(s2, [ap(hubAdd(0, 12, f2), f2.hubs)]).next
    assert.equal(grown.next.ids.length, 3)
    expectValidation(() => decideGovernance(s2, [ap(hubAdd(0, 12, f2), f2.hubs), ap(hubAdd(1, 12, f2), f2.hubs)]), 'REJECT', 'set-change-too-large')
    const rm = op(f2, { type: 'hub-remove', exp: 9, hub: f2.hubIds[0] }, {})
    expectValidation(() => decideGovernance(s2, [ap(rm, f2.hubs)]), 'REJECT', 'set-change-too-large')
  })

  it('followValue: state and next hashes, the resolutions named, nothing else', () => {
    const add = deviceAddOp(f, { id: 'fv', key: f.stranger, hub: 0, exp: 5 })
    const r = plain(add)
    const fields = governanceFields(s, [r])
    const value = { epoch: 2, prev: null, cut: [], root: '00'.repeat(32), ...fields }
    const d = followValue(s, value, [r.bytes])
    assert.equal(d.next.hash, value.next)
    expectValidation(() => followValue(at(3), value, [r.bytes]), 'REJECT', 'epoch-mismatch')
    expectValidation(() => followValue(s, { ...value, state: '11'.repeat(32) }, [r.bytes]), 'REJECT', 'state-mismatch')
    expectValidation(() => followValue(s, { ...value, next: s.hash }, [r.bytes]), 'REJECT', 'next-mismatch')
    expectValidation(() => followValue(s, value, []), 'REJECT', 'resolution-missing')
    const other = plain(deviceAddOp(f, { id: 'fv2', key: f.capex2, hub: 0, exp: 5 }))
    expectValidation(() => followValue(s, value, [r.bytes, other.bytes]), 'REJECT', 'resolution-missing', 'does not name')
    // An empty value: next = state.
    const empty = { epoch: 2, prev: null, cut: [], root: '00'.repeat(32), ...governanceFields(s, []) }
    assert.equal(empty.next, empty.state)
    assert.equal(followValue(s, empty, []).next.epoch, 3)
  })

  it('selectResolutions takes what passes, in id order, skipping conflicts and set changes past the bound; the pool order does not matter', () => {
    const pool = [
      plain(deviceAddOp(f, { id: 'p1', key: f.stranger, hub: 0, exp: 5 })),
      plain(deviceAddOp(f, { id: 'p2', key: f.stranger, hub: 1, exp: 5 })), // same key: only one of the two
      plain(deviceAddOp(f, { id: 'h0-d0', key: f.capex2, hub: 1, exp: 5 })), // id taken: never
      approved(hubAdd(0)), approved(hubAdd(1)), // only one hub change for four validators
      approved(hubAdd(2), f.hubs.slice(0, 1)) // too few approvals: never
    ]
    const a = selectResolutions(s, pool)
    const b = selectResolutions(s, [...pool].reverse())
    assert.deepEqual(a.map(r => r.id), b.map(r => r.id))
    assert.equal(a.length, 2)
    assert.equal(a.filter(r => r.op.op.type === 'hub-add').length, 1)
    assert.equal(a.filter(r => r.op.op.type === 'device-add').length, 1)
    assert.deepEqual(a.map(r => r.id), [...a.map(r => r.id)].sort())
    // What it selects is a valid value.
    decideGovernance(s, a)
  })
})
