import assert from 'node:assert/strict'
import { CID, encode, limits, ProtocolError } from '@ecandle/protocol'
import {
  certificatesProtocol, entriesProtocol, governanceProtocol, headsProtocol, tallyProtocol, wireProtocols, CERTIFICATES_PER_REQUEST, LEAVES_PER_FRAME, MAX_LEAF_FRAMES
} from '../src/index.js'

const id = CID.parse('bafyreigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

describe('wire protocols: names, codecs, limits', () => {
  it('names carry the network id (docs/protocol.md §8)', () => {
    assert.deepEqual(Object.values(wireProtocols).map(p => p.name('n1')), ['/ecandle/n1/sync/heads/1', '/ecandle/n1/sync/entries/1', '/ecandle/n1/sync/certificates/2', '/ecandle/n1/sync/tally/1', '/ecandle/n1/sync/governance/1'])
    assert.equal(governanceProtocol.name('n1'), '/ecandle/n1/sync/governance/1')
  })

  it('governance (docs/governance.md §9): an epoch or ids, never both or neither, at most 128 ids of lowercase hex', () => {
    const g = governanceProtocol
    const a = 'ab'.repeat(32)
    assert.deepEqual(g.decodeRequest(g.encodeRequest({ epoch: 7, ids: [] })), { epoch: 7, ids: [] })
    assert.deepEqual(g.decodeRequest(g.encodeRequest({ epoch: null, ids: [a] })), { epoch: null, ids: [a] })
    assert.deepEqual(g.encodeRequest({ epoch: 7, ids: [] }), encode({ epoch: 7, ids: [] }))
    assert.throws(() => g.decodeRequest(encode({ epoch: 7, ids: [a] })), /not both or neither/)
    assert.throws(() => g.decodeRequest(encode({ epoch: null, ids: [] })), /not both or neither/)
    assert.throws(() => g.decodeRequest(encode({ epoch: null, ids: [a.toUpperCase()] })), ProtocolError)
    assert.throws(() => g.decodeRequest(encode({ epoch: null, ids: Array.from({ length: 129 }, () => a) })), /at most 128/)
    assert.throws(() => g.decodeRequest(encode({ epoch: 1, ids: [], x: 1 })), /unknown field/)
    assert.equal(g.maxRequestBytes, g.encodeRequest({ epoch: null, ids: Array.from({ length: 128 }, () => 'f'.repeat(64)) }).byteLength)
    assert.equal(g.maxFrames({ epoch: 1, ids: [] }), 128)
  })

  it('requests are the documented DAG-CBOR maps, byte for byte', () => {
    assert.deepEqual(headsProtocol.encodeRequest({}), encode({}))
    assert.deepEqual(entriesProtocol.encodeRequest({ hub: 'h', from: 2, limit: 3 }), encode({ hub: 'h', from: 2, limit: 3 }))
    assert.deepEqual(certificatesProtocol.encodeRequest({ from: 5, limit: 64 }), encode({ from: 5, limit: 64 }))
    assert.deepEqual(tallyProtocol.encodeRequest({ epoch: 7, account: null }), encode({ epoch: 7, account: null }))
    assert.deepEqual(headsProtocol.encodeFrame([{ hub: 'h', seq: 4, id }]), encode({ heads: [{ hub: 'h', seq: 4, id }] }))
  })

  it('decoding is strict and caps what a request may ask for', () => {
    assert.deepEqual(entriesProtocol.decodeRequest(encode({ hub: 'h', from: 1, limit: 1_000_000 })), { hub: 'h', from: 1, limit: limits.maxEntriesPerRequest })
    assert.deepEqual(certificatesProtocol.decodeRequest(encode({ from: 1, limit: 1_000_000 })), { from: 1, limit: CERTIFICATES_PER_REQUEST })
    for (const [p, bad] of [
      [headsProtocol, encode({ x: 1 })],
      [entriesProtocol, encode({ hub: 42, from: -1, limit: 'all' })],
      [certificatesProtocol, encode({ from: 1 })],
      [tallyProtocol, encode({ epoch: 1, account: 'XYZ' })],
      [certificatesProtocol, Uint8Array.of(0xff)]
    ] as const) assert.throws(() => (p.decodeRequest as (b: Uint8Array) => unknown)(bad), ProtocolError, `${p.id}: ${Buffer.from(bad).toString('hex')}`)
    assert.throws(() => headsProtocol.decodeFrame(encode({ heads: [{ hub: 'h', seq: 1, id: 'not a cid' }] }), {}), /expected a CID/)
    assert.deepEqual(headsProtocol.decodeFrame(encode({ heads: [{ hub: 'h', seq: 4, id }] }), {}), [{ hub: 'h', seq: 4, id }])
  })

  it('frames per request: one heads frame, a page of entries or certificates, one proof or the leaf pages', () => {
    assert.equal(headsProtocol.maxFrames({}), 1)
    assert.equal(entriesProtocol.maxFrames({ hub: 'h', from: 1, limit: 10 }), 10)
    assert.equal(certificatesProtocol.maxFrames({ from: 0, limit: 1000 }), CERTIFICATES_PER_REQUEST)
    assert.equal(tallyProtocol.maxFrames({ epoch: 1, account: 'a'.repeat(64) }), 1)
    assert.equal(tallyProtocol.maxFrames({ epoch: 1, account: null }), MAX_LEAF_FRAMES)
    const leaves = Array.from({ length: LEAVES_PER_FRAME }, () => new Uint8Array(200))
    assert.ok(tallyProtocol.encodeFrame({ leaves }).byteLength <= tallyProtocol.maxFrameBytes)
    assert.deepEqual(tallyProtocol.decodeFrame(tallyProtocol.encodeFrame({ leaves }), { epoch: 1, account: null }), { leaves })
    const proof = { leaf: Uint8Array.of(1), path: [{ side: 'left' as const, hash: 'ab'.repeat(32) }] }
    assert.deepEqual(tallyProtocol.decodeFrame(tallyProtocol.encodeFrame({ proof }), { epoch: 1, account: 'a'.repeat(64) }), { proof })
  })
})
