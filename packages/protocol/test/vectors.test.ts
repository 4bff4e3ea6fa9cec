import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  decodeEntry, decodeReport, Domain, encode, encodeEvidence, encodeReportPayload, entryDomain, parseCid, parseNetwork,
  peerIdFromPublicKey, protocols, sha256, signEntry, signerFromSeed, signingBytes, signReport, toHex, topics, verifyEntry,
  verifyEvidence, verifyReport, limits, type UsageReport
} from '../src/index.js'
import { expectValidation, unhex } from './fixtures.js'
import { buildVectors, VECTORS_FILE } from './vectors-lib.js'

const V = JSON.parse(readFileSync(new URL(`../../vectors/${VECTORS_FILE}`, import.meta.url), 'utf8'))

describe('test vectors (vectors/protocol-v1.json)', () => {
  it('the code regenerates the committed file exactly', () => {
    // Any change of encoding, key derivation, signing input, ids or names shows up here.
    assert.deepEqual(JSON.parse(JSON.stringify(buildVectors())), V)
  })

  it('keys: seeds give the committed public keys and peer ids', () => {
    for (const [name, k] of Object.entries<any>(V.keys)) {
      const s = signerFromSeed(unhex(k.seedHex))
      assert.equal(toHex(s.publicKey), k.publicKeyHex, name)
      if (k.peerId !== undefined) assert.equal(peerIdFromPublicKey(s.publicKey), k.peerId, name)
    }
    assert.match(V.keys.hubA.peerId, /^12D3KooW/)
  })

  it('network: definition → canonical id input → id', () => {
    const net = parseNetwork(JSON.stringify(V.network.definition))
    assert.equal(net.id, V.network.id)
    assert.equal(V.network.idCheck, V.network.id)
    const { bootstrap: _b, ...rules } = V.network.definition
    assert.equal(toHex(encode(rules)), V.network.idInputCborHex)
    assert.equal(toHex(sha256(unhex(V.network.idInputCborHex)).subarray(0, 16)), V.network.id)
    assert.equal(V.network.id, '44ed695f10849480650381945b0d6397', 'network id of the vector definition')
    // bootstrap is not part of the id
    assert.equal(parseNetwork({ ...V.network.definition, bootstrap: [] }).id, V.network.id)
  })

  it('names: topics, sync protocols and signing domains', () => {
    const id = V.network.id
    assert.deepEqual(V.names.topics, { entries: topics.entries(id), evidence: topics.evidence(id), consensus: topics.consensus(id), certificates: topics.certificates(id) })
    assert.deepEqual(V.names.protocols, { heads: protocols.heads(id), entries: protocols.entries(id), certificates: protocols.certificates(id), dhtPrefix: protocols.dhtPrefix(id) })
    assert.equal(V.names.topics.entries, `/ecandle/${id}/entries/1`)
    assert.equal(V.names.topics.evidence, `/ecandle/${id}/evidence/1`)
    assert.equal(V.names.protocols.heads, `/ecandle/${id}/sync/heads/1`)
    assert.equal(V.domains.entryForThisNetwork, `ecandle/entry/1/${id}`)
    assert.equal(V.domains.report, Domain.report)
    assert.deepEqual(V.limits, { ...limits })
  })

  it('reports: exact payload, signing input, signature, signed bytes and id', () => {
    const net = parseNetwork(V.network.definition)
    assert.equal(V.reports.length, 5)
    for (const v of V.reports) {
      const r: UsageReport = v.report
      const dev = net.devices.get(r.device)!
      const seedHex = Object.values<any>(V.keys).find(k => k.publicKeyHex === dev.info.publicKey).seedHex
      assert.equal(toHex(encodeReportPayload(r)), v.payloadHex, v.name)
      assert.equal(toHex(signingBytes(Domain.report, unhex(v.payloadHex))), v.signingBytesHex, v.name)
      assert.equal(toHex(signReport(signerFromSeed(unhex(seedHex)), r)), v.signedHex, v.name)
      const d = verifyReport(net, unhex(v.signedHex), dev.info.hub)
      assert.deepEqual(d.report, r, v.name)
      assert.equal(toHex(d.signature), v.signatureHex, v.name)
      assert.equal(d.id, v.id, v.name)
      assert.equal(toHex(sha256(unhex(v.signedHex))), v.id, v.name)
      assert.ok(unhex(v.signedHex).byteLength <= limits.maxReportBytes)
    }
    // One fixed value, so that a regenerated file cannot silently agree with changed code.
    assert.equal(V.reports[0].signedHex.length / 2, 139)
  })

  it('entries: exact body, signing input, signature, signed bytes and CID; seq 2 links to seq 1', () => {
    const net = parseNetwork(V.network.definition)
    const reportsById = new Map<string, string>(V.reports.map((r: any) => [r.id, r.signedHex]))
    for (const v of V.entries) {
      const e = verifyEntry(net, unhex(v.signedHex), v.verifyAtMs)
      assert.equal(toHex(e.body), v.bodyHex, v.name)
      assert.equal(toHex(e.signature), v.signatureHex, v.name)
      assert.equal(e.id.toString(), v.cid, v.name)
      assert.equal(toHex(signingBytes(entryDomain(net.id), e.body)), v.signingBytesHex, v.name)
      assert.equal(v.signingDomain, `ecandle/entry/1/${net.id}`)
      assert.deepEqual(e.reports.map(r => r.id), v.payload.reportIds, v.name)
      // Rebuild from the documented fields alone and sign again: same bytes.
      const hubSeed = Object.values<any>(V.keys).find(k => k.peerId === v.payload.hub).seedHex
      const rebuilt = signEntry(net, signerFromSeed(unhex(hubSeed)), {
        hub: v.payload.hub,
        seq: v.payload.seq,
        prev: v.payload.prev === null ? null : parseCid(v.payload.prev),
        epoch: v.payload.epoch,
        time: v.payload.time,
        reports: v.payload.reportIds.map((id: string) => unhex(reportsById.get(id)!))
      })
      assert.equal(toHex(rebuilt), v.signedHex, v.name)
      // CID = CIDv1 dag-cbor sha2-256 of the signed bytes
      const cid = parseCid(v.cid)
      assert.equal(cid.version, 1)
      assert.equal(cid.code, 0x71)
      assert.equal(cid.multihash.code, 0x12)
      assert.equal(toHex(cid.multihash.digest), toHex(sha256(unhex(v.signedHex))))
    }
    const [e1, e2] = V.entries
    assert.equal(e1.payload.seq, 1)
    assert.equal(e1.payload.prev, null)
    assert.equal(e2.payload.seq, 2)
    assert.equal(e2.payload.prev, e1.cid)
    assert.equal(decodeEntry(unhex(e2.signedHex)).payload.prev?.toString(), e1.cid)
  })

  it('evidence: exact bytes and id, offender and slot', () => {
    const net = parseNetwork(V.network.definition)
    for (const v of V.evidence) {
      const ev = verifyEvidence(net, unhex(v.bytesHex))
      assert.equal(ev.id, v.id, v.name)
      assert.equal(toHex(sha256(unhex(v.bytesHex))), v.id)
      assert.equal(ev.kind, v.kind)
      assert.equal(ev.offender, v.offender)
      assert.equal(ev.slot, v.slot)
      // order of the halves does not matter to the encoder
      assert.equal(toHex(encodeEvidence(v.kind, ev.b, ev.a)), v.bytesHex)
      assert.equal(toHex(encodeEvidence(v.kind, ev.a, ev.b)), v.bytesHex)
    }
    const twins = V.reports.filter((r: any) => r.report.device === 'candle-b1')
    assert.equal(toHex(encodeEvidence('report', unhex(twins[0].signedHex), unhex(twins[1].signedHex))), V.evidence[1].bytesHex)
  })

  it('invalid entries fail with the documented action and code', () => {
    const net = parseNetwork(V.network.definition)
    assert.ok(V.invalidEntries.length >= 10)
    for (const v of V.invalidEntries) {
      expectValidation(() => verifyEntry(net, unhex(v.signedHex), v.verifyAtMs), v.action, v.code)
    }
    for (const v of V.invalidEvidence) {
      expectValidation(() => verifyEvidence(net, unhex(v.signedHex)), v.action, v.code)
    }
    // and decodeReport still decodes the valid ones
    assert.equal(decodeReport(unhex(V.reports[0].signedHex)).report.counter, 1)
  })
})
