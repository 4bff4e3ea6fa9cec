import assert from 'node:assert/strict'
import {
  addOperationSignature, APPROVAL_CODES, decodeOperation, encode, encodeOperation, encodeOperationPayload, encodeResolution, governanceLimits,
  govDomain, operationIdOf, OPERATION_CODES, RESOLUTION_CODES, sha256, signApproval, signMakerCert, signOperation, toHex,
  peerIdFromPublicKey, verifyApproval, verifyOperation, verifyResolution, type Operation
} from '../src/index.js'
import { deviceAddOp, govFixture, op, resolution } from '../src/testing.js'
import { expectValidation } from './fixtures.js'

const f = govFixture()
const id = f.net.id
const newDev = f.stranger

/** One valid operation of every type, with the signers it needs. */
function everyType (): Array<[Operation, Uint8Array]> {
  const ops: Array<[Operation, Parameters<typeof op>[2]]> = [
    [{ type: 'device-add', exp: 10, device: 'new-1', key: newDev.publicKey, hub: f.hubIds[0], capex: f.capex.publicKey, opex: f.opex.publicKey, ratedWhPerDay: 500, operator: f.operators[0].publicKey, maker: signMakerCert(f.maker, newDev.publicKey) },
      { device: newDev, operator: f.operators[0], capex: f.capex }],
    [{ type: 'device-transfer', exp: 10, device: 'h0-d0', role: 'capex', from: f.capex.publicKey, to: f.capex2.publicKey }, { from: f.capex, to: f.capex2 }],
    [{ type: 'device-move', exp: 10, device: 'h0-d0', from: f.hubIds[0], to: f.hubIds[1], opex: f.opex.publicKey, fromOperator: f.operators[0].publicKey, toOperator: f.operators[1].publicKey },
      { opex: f.opex, fromOperator: f.operators[0], toOperator: f.operators[1] }],
    [{ type: 'device-retire', exp: 10, device: 'h0-d1', capex: f.capex.publicKey, opex: f.opex.publicKey }, { capex: f.capex, opex: f.opex }],
    [{ type: 'hub-add', exp: 10, hub: peerIdFromPublicKey(f.spareHubs[0].publicKey), operator: f.spareOperators[0].publicKey }, { hub: f.spareHubs[0], operator: f.spareOperators[0] }],
    [{ type: 'hub-remove', exp: 10, hub: f.hubIds[3] }, {}],
    [{ type: 'params', exp: 10, set: { emissionPerEpoch: 5n, capexBps: 7000, deviceCapMwhPerEpoch: 123n, gracePeriodS: 9, makers: [toHex(f.maker.publicKey), toHex(f.stranger.publicKey)].sort(), builderQuorumBps: 1 } }, {}]
  ]
  return ops.map(([o, s]) => [o, op(f, o, s)])
}

describe('governance operations', () => {
  it('every type signs, verifies and decodes back to itself; the id is the sha256 of the payload', () => {
    for (const [o, bytes] of everyType()) {
      const v = verifyOperation(id, bytes)
      assert.deepEqual(v.op, o, o.type)
      assert.equal(v.id, toHex(sha256(encodeOperationPayload(o))))
      assert.equal(v.id, operationIdOf(v.payload))
      assert.ok(bytes.byteLength <= governanceLimits.maxOperationBytes)
    }
  })

  it('one operation has one id however it is signed, and signatures can be added one at a time', () => {
    const [o] = everyType()[0]
    const payload = encodeOperationPayload(o)
    let partial = encodeOperation(payload, {})
    expectValidation(() => verifyOperation(id, partial), 'REJECT', 'op-signers', 'missing signature of device, operator, capex')
    partial = addOperationSignature(id, partial, 'device', newDev)
    partial = addOperationSignature(id, partial, 'operator', f.operators[0])
    expectValidation(() => verifyOperation(id, partial), 'REJECT', 'op-signers', 'capex')
    partial = addOperationSignature(id, partial, 'capex', f.capex)
    assert.equal(verifyOperation(id, partial).id, decodeOperation(partial).id)
    assert.equal(decodeOperation(partial).id, operationIdOf(payload))
  })

  describe('stateless rules → REJECT', () => {
    const [add, addBytes] = everyType()[0]
    it('a signature by the wrong key', () => {
      const bad = op(f, add, { device: newDev, operator: f.operators[1], capex: f.capex })
      expectValidation(() => verifyOperation(id, bad), 'REJECT', 'op-signature', 'operator')
    })
    it('a signature made for another network (replay across networks)', () => {
      const other = signOperation('ffffffffffffffffffffffffffffffff', add, { device: newDev, operator: f.operators[0], capex: f.capex })
      expectValidation(() => verifyOperation(id, other), 'REJECT', 'op-signature')
      // …and the one made here does not verify there.
      expectValidation(() => verifyOperation('ffffffffffffffffffffffffffffffff', addBytes), 'REJECT', 'op-signature')
    })
    it('a missing device signature (no proof of possession)', () => {
      expectValidation(() => verifyOperation(id, op(f, add, { operator: f.operators[0], capex: f.capex })), 'REJECT', 'op-signers', 'device')
    })
    it('an extra signature nobody asked for', () => {
      const d = decodeOperation(addBytes)
      const extra = encodeOperation(d.payload, { ...d.signatures, opex: f.opex.sign(govDomain(id), d.payload) })
      expectValidation(() => verifyOperation(id, extra), 'REJECT', 'op-signers', 'unexpected signature of opex')
    })
    it('a maker signature over another key', () => {
      const forged = { ...add, maker: signMakerCert(f.maker, f.capex.publicKey) } as Operation
      expectValidation(() => verifyOperation(id, op(f, forged, { device: newDev, operator: f.operators[0], capex: f.capex })), 'REJECT', 'maker-signature')
    })
    it('a transfer to the same holder, a move to the same hub', () => {
      const t: Operation = { type: 'device-transfer', exp: 1, device: 'h0-d0', role: 'opex', from: f.opex.publicKey, to: f.opex.publicKey }
      expectValidation(() => verifyOperation(id, op(f, t, { from: f.opex, to: f.opex })), 'REJECT', 'op-noop')
      const m: Operation = { type: 'device-move', exp: 1, device: 'h0-d0', from: f.hubIds[0], to: f.hubIds[0], opex: f.opex.publicKey, fromOperator: null, toOperator: f.operators[0].publicKey }
      expectValidation(() => verifyOperation(id, op(f, m, { opex: f.opex, toOperator: f.operators[0] })), 'REJECT', 'op-noop')
    })
    it('size, encoding, shape, type', () => {
      expectValidation(() => verifyOperation(id, new Uint8Array(governanceLimits.maxOperationBytes + 1)), 'REJECT', 'op-size')
      expectValidation(() => verifyOperation(id, Uint8Array.from([0xff])), 'REJECT', 'op-encoding')
      // A map with keys out of canonical order: { s, p } written as p after s.
      const d = decodeOperation(addBytes)
      const good = encode({ p: d.payload, s: d.signatures })
      assert.deepEqual(good, addBytes)
      const swapped = Uint8Array.from([0xa2, 0x61, 0x73, ...encode(d.signatures), 0x61, 0x70, ...encode(d.payload)])
      expectValidation(() => verifyOperation(id, swapped), 'REJECT', 'op-non-canonical')
      const unknownType = encodeOperation(encode({ t: 'device-steal', exp: 1 }), {})
      expectValidation(() => verifyOperation(id, unknownType), 'REJECT', 'op-type')
      const extraField = encodeOperation(encode({ t: 'hub-remove', exp: 1, hub: f.hubIds[0], why: 'x' }), {})
      expectValidation(() => verifyOperation(id, extraField), 'REJECT', 'op-shape', 'unknown field')
      const badPeer = encodeOperation(encode({ t: 'hub-remove', exp: 1, hub: 'not-a-peer' }), {})
      expectValidation(() => verifyOperation(id, badPeer), 'REJECT', 'op-shape')
      const noParams = encodeOperation(encode({ t: 'params', exp: 1, set: {} }), {})
      expectValidation(() => verifyOperation(id, noParams), 'REJECT', 'op-shape', 'sets nothing')
      const unsortedMakers = encodeOperation(encode({ t: 'params', exp: 1, set: { makers: [f.stranger.publicKey, f.maker.publicKey].sort((a, b) => Buffer.compare(b, a)) } }), {})
      expectValidation(() => verifyOperation(id, unsortedMakers), 'REJECT', 'op-shape', 'sorted')
      const zeroRated = op(f, { ...add, ratedWhPerDay: 0 } as Operation, {})
      expectValidation(() => verifyOperation(id, zeroRated), 'REJECT', 'op-shape', 'rated')
    })
    it('codes are declared', () => {
      for (const c of ['op-signature', 'op-signers', 'maker-signature', 'op-noop', 'op-shape']) assert.ok((OPERATION_CODES as readonly string[]).includes(c))
    })
  })
})

describe('approvals and resolutions', () => {
  const [, removeBytes] = everyType()[5]
  const remove = verifyOperation(id, removeBytes)

  it('an approval verifies, names its op and signer, and has an id', () => {
    const a = verifyApproval(id, signApproval(id, f.hubs[0], { op: remove.id, as: 'validator', yes: true }))
    assert.equal(a.op, remove.id)
    assert.deepEqual(a.by, f.hubs[0].publicKey)
    assert.equal(a.as, 'validator')
    assert.equal(a.yes, true)
    assert.equal(a.id, toHex(sha256(a.payload)))
    assert.ok(a.bytes.byteLength <= governanceLimits.maxApprovalBytes)
  })

  it('an approval with a bad signature, or made for another network → REJECT approval-signature', () => {
    const good = signApproval(id, f.hubs[0], { op: remove.id, as: 'validator', yes: true })
    const other = signApproval('ffffffffffffffffffffffffffffffff', f.hubs[0], { op: remove.id, as: 'validator', yes: true })
    expectValidation(() => verifyApproval(id, other), 'REJECT', 'approval-signature')
    const tampered = Uint8Array.from(good)
    tampered[tampered.length - 1] ^= 1
    expectValidation(() => verifyApproval(id, tampered), 'REJECT', 'approval-signature')
    expectValidation(() => verifyApproval(id, new Uint8Array(300)), 'REJECT', 'approval-size')
    expectValidation(() => verifyApproval(id, encode({ p: encode({ op: new Uint8Array(32), by: f.hubs[0].publicKey, as: 'x', yes: true }), s: new Uint8Array(64) })), 'REJECT', 'approval-shape')
    assert.ok((APPROVAL_CODES as readonly string[]).includes('approval-signature'))
  })

  it('a resolution verifies with sorted approvals, and its id is the hash of its bytes', () => {
    const bytes = resolution(f, removeBytes, remove.id, f.hubs.slice(0, 3))
    const r = verifyResolution(id, bytes)
    assert.equal(r.op.id, remove.id)
    assert.equal(r.approvals.length, 3)
    assert.deepEqual(r.approvals.map(a => a.id), [...r.approvals.map(a => a.id)].sort())
    assert.equal(r.id, toHex(sha256(bytes)))
    // The same approvals in another order make the same bytes.
    const again = encodeResolution(removeBytes, [...r.approvals].reverse().map(a => a.bytes), id)
    assert.deepEqual(again, bytes)
  })

  it('a resolution with an approval of another operation, out of order, twice from one key, or of an unexpected kind → REJECT', () => {
    const a = (s: typeof f.hubs[0], o: string, yes = true, as: 'validator' | 'builder' = 'validator'): Uint8Array => signApproval(id, s, { op: o, as, yes })
    expectValidation(() => verifyResolution(id, encode({ op: removeBytes, approvals: [a(f.hubs[0], '00'.repeat(32))] })), 'REJECT', 'approval-other-op')
    const two = [a(f.hubs[0], remove.id), a(f.hubs[1], remove.id)].map(b => ({ b, id: verifyApproval(id, b).id })).sort((x, y) => x.id < y.id ? 1 : -1)
    expectValidation(() => verifyResolution(id, encode({ op: removeBytes, approvals: two.map(x => x.b) })), 'REJECT', 'approval-order')
    expectValidation(() => verifyResolution(id, encodeResolution(removeBytes, [a(f.hubs[0], remove.id, true), a(f.hubs[0], remove.id, false)], id)), 'REJECT', 'approval-conflict')
    // A hub-remove takes no builder votes; a device-add no approvals at all.
    expectValidation(() => verifyResolution(id, encodeResolution(removeBytes, [a(f.capex, remove.id, true, 'builder')], id)), 'REJECT', 'approval-unexpected')
    const addBytes = deviceAddOp(f, { id: 'new-2', key: f.stranger, hub: 0, exp: 5 })
    const addId = verifyOperation(id, addBytes).id
    expectValidation(() => verifyResolution(id, encodeResolution(addBytes, [a(f.hubs[0], addId)], id)), 'REJECT', 'approval-unexpected')
    // A bad operation inside: its own code.
    expectValidation(() => verifyResolution(id, encode({ op: new Uint8Array([0xff]), approvals: [] })), 'REJECT', 'op-encoding')
    expectValidation(() => verifyResolution(id, new Uint8Array(governanceLimits.maxResolutionBytes + 1)), 'REJECT', 'resolution-size')
    assert.ok((RESOLUTION_CODES as readonly string[]).includes('approval-conflict'))
  })
})
