import assert from 'node:assert/strict'
import { advanceEmpty, decideGovernance, encodeResolution, genesisState, signApproval, toHex, ValidationError, verifyOperation, verifyResolution } from '@ecandle/protocol'
import { deviceAddOp, govFixture, op, resolution } from '@ecandle/protocol/testing'
import { GovPool, verifyGovMessage } from '../src/governance/pool.js'
import { Governance, type GovernanceComponents } from '../src/governance/service.js'

describe('governance pool (docs/governance.md §11)', () => {
  const f = govFixture({ hubs: 4 })
  const id = f.net.id
  const s0 = genesisState(f.net)
  const add = (i: number, exp = 10): Uint8Array => deviceAddOp(f, { id: `pool-${i}`, key: f.spareHubs[i % 8], hub: i % 4, exp, maker: f.maker })
  const code = (fn: () => unknown): string => {
    try { fn() } catch (err) { if (err instanceof ValidationError) return `${err.action} ${err.code}`; throw err }
    return 'ok'
  }

  it('tells operations, approvals and resolutions apart; REJECTs garbage and forgeries', () => {
    const b = add(0)
    assert.equal(verifyGovMessage(id, b).kind, 'operation')
    const opId = verifyOperation(id, b).id
    const hubRemove = op(f, { type: 'hub-remove', exp: 10, hub: f.hubIds[3] }, {})
    const a = signApproval(id, f.hubs[0], { op: verifyOperation(id, hubRemove).id, as: 'validator', yes: true })
    assert.equal(verifyGovMessage(id, a).kind, 'approval')
    assert.equal(verifyGovMessage(id, encodeResolution(b, [], id)).kind, 'resolution')
    assert.equal(code(() => verifyGovMessage(id, new Uint8Array([0xff, 0x00]))), 'REJECT gov-encoding')
    assert.equal(code(() => verifyGovMessage(id, new Uint8Array([0x01]))), 'REJECT gov-shape')
    const bad = new Uint8Array(b)
    bad[bad.length - 3] ^= 1
    assert.match(code(() => verifyGovMessage(id, bad)), /^REJECT /)
    assert.equal(code(() => verifyGovMessage('00'.repeat(16), b)), 'REJECT op-signature', 'another network\'s domain')
    void opId
  })

  it('IGNOREs duplicates, stale operations, unusable approvals; assembles what is ready, byte for byte as encodeResolution', () => {
    const pool = new GovPool(id, 1 << 20)
    const b = add(1)
    pool.add(verifyGovMessage(id, b), s0)
    assert.equal(code(() => pool.add(verifyGovMessage(id, b), s0)), 'IGNORE duplicate')
    assert.equal(code(() => pool.add(verifyGovMessage(id, encodeResolution(b, [], id)), s0)), 'IGNORE duplicate', 'a bare resolution of a held operation')
    // Expired at the state's epoch, or rules the state refuses (a device id that exists).
    let s = s0
    for (let i = 0; i < 3; i++) s = advanceEmpty(s)
    assert.equal(code(() => pool.add(verifyGovMessage(id, add(2, 1)), s)), 'IGNORE op-expired')
    assert.equal(code(() => pool.add(verifyGovMessage(id, deviceAddOp(f, { id: 'h0-d0', key: f.stranger, hub: 0, exp: 10, maker: f.maker })), s0)), 'IGNORE device-exists')
    // Approvals: of a stranger (IGNORE), of a validator (kept), for a hub-remove that needs 3 of 4.
    const hr = op(f, { type: 'hub-remove', exp: 10, hub: f.hubIds[3] }, {})
    const hrId = verifyOperation(id, hr).id
    assert.equal(code(() => pool.add(verifyGovMessage(id, signApproval(id, f.stranger, { op: hrId, as: 'validator', yes: true })), s0)), 'IGNORE approval-not-validator')
    pool.add(verifyGovMessage(id, signApproval(id, f.hubs[0], { op: hrId, as: 'validator', yes: true })), s0) // before its operation: kept aside
    pool.add(verifyGovMessage(id, hr), s0)
    assert.deepEqual(pool.candidates(s0).map(r => r.op.op.type), ['device-add'], 'one approval of 3 needed: not ready')
    for (const h of [1, 2]) pool.add(verifyGovMessage(id, signApproval(id, f.hubs[h], { op: hrId, as: 'validator', yes: true })), s0)
    const ready = pool.candidates(s0)
    assert.deepEqual(ready.map(r => r.op.op.type).sort(), ['device-add', 'hub-remove'])
    for (const r of ready) {
      const again = encodeResolution(r.op.bytes, r.approvals.map(a => a.bytes), id)
      assert.deepEqual(Buffer.from(r.bytes), Buffer.from(again))
      assert.equal(verifyResolution(id, again).id, r.id)
      assert.equal(pool.resolution(r.id)?.id, r.id, 'served by id')
    }
    // Once decided (in `recent`) or expired, pruned.
    let later = s0
    for (let i = 0; i < 11; i++) later = advanceEmpty(later)
    assert.equal(pool.prune(later).length, 5, 'two operations and three approvals')
    assert.equal(pool.size, 0)
  })

  it('is bounded by bytes: what expires first goes first, and a newcomer expiring first is refused', () => {
    const one = add(3, 12).byteLength
    const pool = new GovPool(id, one * 2 + 10)
    pool.add(verifyGovMessage(id, add(4, 12)), s0)
    pool.add(verifyGovMessage(id, add(5, 14)), s0)
    assert.equal(code(() => pool.add(verifyGovMessage(id, add(6, 11)), s0)), 'IGNORE pool-full')
    const evicted = pool.add(verifyGovMessage(id, add(7, 16)), s0)
    assert.equal(evicted.length, 1)
    assert.deepEqual(pool.entries().map(e => e.exp).sort(), [14, 16])
    assert.ok(pool.heldBytes <= pool.maxBytes)
  })

  it('a params value that leaves out a builder vote this hub holds gets a nil prevote', () => {
    const gov = new Governance({ net: f.net } as unknown as GovernanceComponents)
    const params = op(f, { type: 'params', exp: 10, set: { capexBps: 6500 } }, {})
    const pid = verifyOperation(id, params).id
    const w = new Map([[toHex(f.capex.publicKey), 50n], [toHex(f.opex.publicKey), 50n]])
    const weights = { weightOf: (k: string) => w.get(k) ?? 0n, total: 100n }
    const withCapexOnly = verifyResolution(id, resolution(f, params, pid, f.hubs.slice(0, 3), [[f.capex, true]]))
    const d = decideGovernance(s0, [withCapexOnly], { weights })
    gov.pool.add(verifyGovMessage(id, params), s0)
    assert.equal(gov.lackingBuilderVotes(d, weights), undefined, 'no vote held that it lacks')
    gov.pool.add(verifyGovMessage(id, signApproval(id, f.capex, { op: pid, as: 'builder', yes: true })), s0)
    assert.equal(gov.lackingBuilderVotes(d, weights), undefined, 'a vote it carries')
    gov.pool.add(verifyGovMessage(id, signApproval(id, f.stranger, { op: pid, as: 'builder', yes: false })), s0)
    assert.equal(gov.lackingBuilderVotes(d, weights), undefined, 'a vote without weight does not count')
    gov.pool.add(verifyGovMessage(id, signApproval(id, f.opex, { op: pid, as: 'builder', yes: false })), s0)
    assert.match(gov.lackingBuilderVotes(d, weights) ?? '', /leaves out 1 builder vote/)
  })
})
