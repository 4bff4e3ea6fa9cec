import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { encode, parseCid, ProtocolError, toHex } from '@ecandle/protocol'
import {
  decodeEntriesRequest, decodeHeadsResponse, decodeLeavesFrame, decodeProofResponse, decodeTallyRequest, encodeEntriesRequest,
  encodeLeavesFrame, encodeProofResponse, encodeTallyRequest, headsProtocol, LEAVES_PER_FRAME, MAX_LEAF_BYTES, MAX_TALLY_FRAME_BYTES,
  wireProtocols
} from '../src/index.js'

/**
 * The sync frames of the protocol vectors (packages/protocol/vectors/protocol-v1.json, section
 * `sync`): the codecs here must produce and read exactly those bytes, and their limits are the
 * committed ones.
 */
const V = JSON.parse(readFileSync(new URL('../../../protocol/vectors/protocol-v1.json', import.meta.url), 'utf8'))
const S = V.sync
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

describe('protocol vectors: sync frames and limits', () => {
  it('heads: the request is {}, anything else is refused; the response is sorted by hub', () => {
    headsProtocol.decodeRequest(unhex(S.heads.request.bytesHex))
    assert.equal(toHex(headsProtocol.encodeRequest({})), S.heads.request.bytesHex)
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'heads')) {
      const bytes = unhex(r.requestHex)
      // Over the request limit: refused by the framing before any decoding.
      if (bytes.byteLength > headsProtocol.maxRequestBytes) continue
      assert.throws(() => { headsProtocol.decodeRequest(bytes) }, ProtocolError, r.name)
    }
    const value = S.heads.response.value.heads
    // Insertion order is not the wire order: the encoder sorts.
    const heads = [...value].reverse().map((h: any) => ({ hub: h.hub, seq: h.seq, id: parseCid(h.id) }))
    assert.equal(toHex(headsProtocol.encodeFrame(heads)), S.heads.response.bytesHex)
    assert.deepEqual(decodeHeadsResponse(unhex(S.heads.response.bytesHex)).map(h => ({ hub: h.hub, seq: h.seq, id: h.id.toString() })), value)
  })

  it('entries: requests encode and decode as committed (limit capped at 64); malformed ones are refused', () => {
    for (const x of S.entries.exchanges) {
      assert.equal(toHex(encodeEntriesRequest(x.request)), x.requestHex, x.name)
      assert.deepEqual(decodeEntriesRequest(unhex(x.requestHex)), { ...x.request, limit: Math.min(x.request.limit, S.limits.entries.maxFrames) })
    }
    assert.equal(decodeEntriesRequest(encode({ hub: 'h', from: 1, limit: 1000 })).limit, 64)
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'entries')) {
      assert.throws(() => decodeEntriesRequest(unhex(r.requestHex)), ProtocolError, r.name)
    }
  })

  it('certificates: requests encode and decode as committed; malformed ones are refused', () => {
    for (const x of S.certificates.exchanges) {
      assert.equal(toHex(wireProtocols.certificates.encodeRequest(x.request)), x.requestHex, x.name)
      assert.deepEqual(wireProtocols.certificates.decodeRequest(unhex(x.requestHex)), x.request)
    }
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'certificates')) {
      assert.throws(() => wireProtocols.certificates.decodeRequest(unhex(r.requestHex)), ProtocolError, r.name)
    }
  })

  it('tally: requests, proof and leaves frames encode and decode as committed', () => {
    const [proof, none, all] = S.tally.exchanges
    for (const x of S.tally.exchanges) {
      assert.equal(toHex(encodeTallyRequest(x.request)), x.requestHex, x.name)
      assert.deepEqual(decodeTallyRequest(unhex(x.requestHex)), x.request)
    }
    for (const bytes of [proof.responseHex[0], none.responseHex[0]]) assert.equal(toHex(encodeProofResponse(decodeProofResponse(unhex(bytes)))), bytes)
    const i = V.tally.leaves.findIndex((l: any) => l.leaf.account === proof.request.account)
    assert.deepEqual(decodeProofResponse(unhex(proof.responseHex[0])).path, V.tally.proofs[i].path)
    assert.deepEqual(decodeProofResponse(unhex(none.responseHex[0])), { leaf: null, path: [] })
    const leaves = decodeLeavesFrame(unhex(all.responseHex[0]))
    assert.equal(toHex(encodeLeavesFrame(leaves)), all.responseHex[0])
    assert.deepEqual(leaves.map(toHex), V.tally.leaves.map((l: any) => l.bytesHex))
    for (const r of S.invalidRequests.filter((x: any) => x.protocol === 'tally')) {
      assert.throws(() => decodeTallyRequest(unhex(r.requestHex)), ProtocolError, r.name)
    }
  })

  it('every protocol\'s name and limits are the committed ones', () => {
    const id = V.network.id
    for (const [name, p] of Object.entries(wireProtocols)) {
      // The governance protocol's bounds are governance-v1.json's (its own test checks them).
      if (name === 'governance') continue
      const l = S.limits[name]
      assert.equal(p.id, name)
      assert.equal(p.name(id), S[name].protocol, `${name}: protocol name`)
      assert.equal(p.maxRequestBytes, l.maxRequestBytes, `${name}: maxRequestBytes`)
      assert.equal(p.maxFrameBytes, l.maxResponseBytes, `${name}: maxResponseBytes`)
      assert.equal(p.timeoutMs, l.timeoutMs, `${name}: timeoutMs`)
      assert.equal(p.maxInboundStreams, l.maxInboundStreams, `${name}: maxInboundStreams`)
    }
    assert.equal(wireProtocols.heads.maxFrames({}), S.limits.heads.maxFrames)
    assert.equal(wireProtocols.entries.maxFrames({ hub: 'h', from: 1, limit: 1_000_000 }), S.limits.entries.maxFrames)
    assert.equal(wireProtocols.certificates.maxFrames({ from: 0, limit: 1_000_000 }), S.limits.certificates.maxFrames)
    assert.equal(S.limits.tally.leavesPerFrame, LEAVES_PER_FRAME)
    assert.equal(S.limits.tally.maxLeafBytes, MAX_LEAF_BYTES)
    assert.equal(S.limits.tally.maxResponseBytes, MAX_TALLY_FRAME_BYTES)
  })
})
