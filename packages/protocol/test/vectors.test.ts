import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  BUNDLE_CODES, CID, decodeBundle, decodeCanonical, decodeEntry, decodeReport, decodeValue, Domain, encode, encodeBundle, encodeCertificate, encodeConsensusPayload,
  encodeEvidence, encodeReportPayload, encodeValue, entryDomain, limits, MAX_BUNDLE_BYTES, MAX_BUNDLE_MESSAGES, MAX_CERTIFICATE_BYTES,
  MAX_CONSENSUS_BYTES, parseCid, parseNetwork, peerIdFromPublicKey, protocols, quorumOf, sha256, signConsensus, signEntry, signerFromSeed,
  signingBytes, signReport, toHex, topics, valueIdOf, verifyBundle, verifyCertificate, verifyConsensus, verifyEntry, verifyEvidence,
  verifyReport, voteDomain, ProtocolError, type ConsensusPayload, type EpochValue, type Network, type UsageReport
} from '../src/index.js'
import { expectProtocolError, expectValidation, floatsIn, unhex } from './fixtures.js'
import { buildVectors, VECTORS_FILE } from './vectors-lib.js'

const V = JSON.parse(readFileSync(new URL(`../../vectors/${VECTORS_FILE}`, import.meta.url), 'utf8'))
const seedOfKey = (pred: (k: any) => boolean): Uint8Array => unhex(Object.values<any>(V.keys).find(pred).seedHex)
const sha = (hex: string): string => toHex(sha256(unhex(hex)))

/** An EpochValue from its JSON form in the vectors (cut ids are CID strings there). */
function valueOf (j: any): EpochValue {
  return { epoch: j.epoch, prev: j.prev, cut: j.cut.map((c: any) => ({ hub: c.hub, seq: c.seq, id: c.id === null ? null : parseCid(c.id) })), root: j.root, gov: j.gov, state: j.state, next: j.next }
}

/** A consensus payload from its JSON form (wire keys t, e, r, from, v, val, vr). */
function payloadOf (j: any): ConsensusPayload {
  const p: ConsensusPayload = { type: j.t, epoch: j.e, round: j.r, from: j.from, valueId: j.v }
  if (j.t === 'proposal') { p.value = valueOf(j.val); p.validRound = j.vr - 1 }
  return p
}

describe('test vectors (vectors/protocol-v1.json)', () => {
  let net: Network
  before(() => { net = parseNetwork(V.network.definition) })

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

  describe('network', () => {
    it('definition → canonical id input → id', () => {
      assert.equal(net.id, V.network.id)
      assert.equal(V.network.idCheck, V.network.id)
      const { bootstrap: _b, ...rules } = V.network.definition
      assert.equal(toHex(encode(rules)), V.network.idInputCborHex)
      assert.equal(toHex(sha256(unhex(V.network.idInputCborHex)).subarray(0, 16)), V.network.id)
      assert.equal(V.network.id, 'd9e3f9fbf1390871916c61203f8c4409', 'network id of the vector definition')
      // bootstrap is not part of the id
      assert.equal(parseNetwork({ ...V.network.definition, bootstrap: [] }).id, V.network.id)
    })

    it('the id input holds no float: the location is integer micro-degrees', () => {
      assert.deepEqual(V.network.definition.validators[0].location, { latE6: 52_520_000, lonE6: 13_405_000 })
      assert.equal(floatsIn(decodeCanonical(unhex(V.network.idInputCborHex), 'id input')), 0)
      // No CBOR float head (0xf9, 0xfa, 0xfb) where the location is encoded.
      const loc = toHex(encode(V.network.definition.validators[0].location))
      assert.equal(loc, 'a2656c617445361a03216440656c6f6e45361a00cc8b48')
      assert.ok(V.network.idInputCborHex.includes(loc))
    })

    it('every invalid location is refused with the committed one-line error', () => {
      assert.ok(V.network.invalidLocations.length >= 4)
      for (const v of V.network.invalidLocations) {
        const d = JSON.parse(JSON.stringify(V.network.definition))
        d.validators[0].location = v.location
        const e = expectProtocolError(() => parseNetwork(JSON.stringify(d)), v.code)
        assert.equal(e.message, v.error, v.name)
        assert.ok(e.message.includes(v.path) && !e.message.includes('\n'), v.name)
      }
      assert.match(V.network.invalidLocations[0].error, /validators\[0\]\.location: .* "latE6": 52520000, "lonE6": 13405000/)
    })
  })

  it('names and domains: templates, this network\'s names, the code\'s names', () => {
    const id = V.network.id
    const fill = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, t]) => [k, t.replace('<network-id>', id)]))
    assert.deepEqual(fill(V.names.templates.topics), V.names.topics)
    const { dhtPrefix, ...named } = V.names.protocols
    assert.deepEqual(fill(V.names.templates.protocols), named)
    assert.deepEqual(V.names.topics, { entries: topics.entries(id), evidence: topics.evidence(id), consensus: topics.consensus(id), certificates: topics.certificates(id), governance: topics.governance(id) })
    assert.deepEqual(named, { heads: protocols.heads(id), entries: protocols.entries(id), certificates: protocols.certificates(id), governance: protocols.governance(id), tally: protocols.tally(id), dht: `${protocols.dhtPrefix(id)}/kad/1.0.0` })
    assert.equal(dhtPrefix, protocols.dhtPrefix(id))
    // Version 2: values carry governance (docs/governance.md §6).
    assert.equal(V.names.topics.consensus, `/ecandle/${id}/consensus/2`)
    assert.equal(V.names.topics.certificates, `/ecandle/${id}/certificates/2`)
    assert.equal(V.names.topics.governance, `/ecandle/${id}/governance/1`)
    assert.equal(V.names.protocols.governance, `/ecandle/${id}/sync/governance/1`)
    assert.equal(V.names.topics.entries, `/ecandle/${id}/entries/1`)
    assert.equal(V.names.protocols.tally, `/ecandle/${id}/sync/tally/1`)
    // One vote domain, with the network id, everywhere; no evidence domain (evidence is not signed).
    assert.deepEqual(V.domains, {
      report: 'ecandle/report/1', entry: 'ecandle/entry/1/<network-id>', vote: 'ecandle/vote/1/<network-id>',
      entryForThisNetwork: `ecandle/entry/1/${id}`, voteForThisNetwork: `ecandle/vote/1/${id}`
    })
    assert.equal(voteDomain(id), V.domains.voteForThisNetwork)
    assert.equal(entryDomain(id), V.domains.entryForThisNetwork)
    assert.equal(Domain.report, V.domains.report)
    assert.ok(!('evidence' in Domain))
    assert.deepEqual(V.limits, { ...limits })
  })

  it('gossip: message id = the raw sha256 of the data', () => {
    for (const m of V.gossip.messageIds) {
      assert.equal(m.messageIdHex, sha(m.dataHex), m.name)
      assert.equal(m.messageIdHex.length, 64)
    }
    assert.match(V.gossip.signaturePolicy, /^StrictNoSign/)
  })

  it('reports: exact payload, signing input, signature, signed bytes and id', () => {
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
      assert.equal(sha(v.signedHex), v.id, v.name)
      assert.ok(unhex(v.signedHex).byteLength <= limits.maxReportBytes)
    }
    // One fixed value, so that a regenerated file cannot silently agree with changed code.
    assert.equal(V.reports[0].signedHex.length / 2, 139)
  })

  it('entries: exact body, signing input, signature, signed bytes and CID; seq 2 links to seq 1', () => {
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
      const rebuilt = signEntry(net, signerFromSeed(seedOfKey(k => k.peerId === v.payload.hub)), {
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
      assert.equal(toHex(cid.multihash.digest), sha(v.signedHex))
    }
    const [e1, e2] = V.entries
    assert.equal(e1.payload.seq, 1)
    assert.equal(e1.payload.prev, null)
    assert.equal(e2.payload.seq, 2)
    assert.equal(e2.payload.prev, e1.cid)
    assert.equal(decodeEntry(unhex(e2.signedHex)).payload.prev?.toString(), e1.cid)
    // prev is a tag-42 link: d8 2a, then the CID bytes with the 0x00 multibase prefix of DAG-CBOR.
    assert.ok(e2.bodyHex.includes('d82a582500' + toHex(parseCid(e1.cid).bytes)))
  })

  it('evidence: exact bytes and id, offender and slot, for entries, reports and votes', () => {
    assert.deepEqual(V.evidence.map((v: any) => v.kind), ['entry', 'report', 'vote'])
    for (const v of V.evidence) {
      const ev = verifyEvidence(net, unhex(v.bytesHex))
      assert.equal(ev.id, v.id, v.name)
      assert.equal(sha(v.bytesHex), v.id)
      assert.equal(ev.kind, v.kind)
      assert.equal(ev.offender, v.offender)
      assert.equal(ev.slot, v.slot)
      // order of the halves does not matter to the encoder
      assert.equal(toHex(encodeEvidence(v.kind, ev.b, ev.a)), v.bytesHex)
      assert.equal(toHex(encodeEvidence(v.kind, ev.a, ev.b)), v.bytesHex)
      assert.ok(unhex(v.bytesHex).byteLength <= limits.maxEvidenceBytes)
    }
    const twins = V.reports.filter((r: any) => r.report.device === 'candle-b1')
    assert.equal(toHex(encodeEvidence('report', unhex(twins[0].signedHex), unhex(twins[1].signedHex))), V.evidence[1].bytesHex)
    const msg = (name: string): Uint8Array => unhex(V.consensus.messages.find((m: any) => m.name.startsWith(name)).signedHex)
    assert.equal(toHex(encodeEvidence('vote', msg('prevote, hub A'), msg('nil prevote, hub A'))), V.evidence[2].bytesHex)
  })

  it('invalid entries and evidence fail with the documented action and code', () => {
    assert.ok(V.invalidEntries.length >= 10)
    for (const v of V.invalidEntries) expectValidation(() => verifyEntry(net, unhex(v.signedHex), v.verifyAtMs), v.action, v.code)
    assert.ok(V.invalidEvidence.length >= 6)
    for (const v of V.invalidEvidence) expectValidation(() => verifyEvidence(net, unhex(v.signedHex)), v.action, v.code)
    // and decodeReport still decodes the valid ones
    assert.equal(decodeReport(unhex(V.reports[0].signedHex)).report.counter, 1)
  })

  describe('consensus', () => {
    it('limits and quorum', () => {
      assert.deepEqual(V.consensus.limits, { maxConsensusBytes: MAX_CONSENSUS_BYTES, maxBundleBytes: MAX_BUNDLE_BYTES, maxBundleMessages: MAX_BUNDLE_MESSAGES, maxCertificateBytes: MAX_CERTIFICATE_BYTES })
      for (const [n, q] of Object.entries<number>(V.consensus.quorum)) assert.equal(quorumOf(Number(n)), q, `n = ${n}`)
      assert.deepEqual(V.consensus.quorum, { 1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5, 10: 7, 100: 67, 256: 171 })
    })

    it('values: cut ids are tag-42 links, root and prev are hex text; id = sha256 of the bytes', () => {
      for (const v of V.consensus.values) {
        const value = valueOf(v.value)
        assert.equal(toHex(encodeValue(value)), v.bytesHex, v.name)
        assert.equal(valueIdOf(value), v.id, v.name)
        assert.equal(sha(v.bytesHex), v.id, v.name)
        assert.deepEqual(decodeValue(decodeCanonical(unhex(v.bytesHex), 'value'), net), value, v.name)
      }
      const [decided, next] = V.consensus.values
      assert.equal(next.value.prev, decided.id)
      // Keys in DAG-CBOR order (length, then bytes): cut, gov, next, prev, root, epoch, state.
      assert.ok(decided.bytesHex.startsWith('a7' + '63637574'))
      assert.deepEqual(Object.keys(decodeCanonical<any>(unhex(decided.bytesHex), 'value')).sort(), ['cut', 'epoch', 'gov', 'next', 'prev', 'root', 'state'])
      // Nothing decided on this network: no resolutions, the genesis state hash before and after.
      assert.deepEqual(decided.value.gov, [])
      assert.equal(decided.value.state, decided.value.next)
      const map = decodeCanonical<any>(unhex(decided.bytesHex), 'value')
      assert.ok(CID.asCID(map.cut[0].id) !== null, 'cut[0].id decodes as a CID')
      assert.equal(typeof map.root, 'string')
      assert.match(map.root, /^[0-9a-f]{64}$/)
    })

    it('messages: payload from the documented fields, signing input, deterministic signature, envelope', () => {
      for (const v of V.consensus.messages) {
        const p = payloadOf(v.payload)
        assert.equal(toHex(encodeConsensusPayload(p)), v.payloadHex, v.name)
        assert.equal(v.signingDomain, V.domains.voteForThisNetwork)
        assert.equal(toHex(signingBytes(voteDomain(net.id), unhex(v.payloadHex))), v.signingBytesHex, v.name)
        assert.equal(toHex(signConsensus(net, signerFromSeed(seedOfKey(k => k.peerId === p.from)), p)), v.signedHex, v.name)
        const m = verifyConsensus(net, unhex(v.signedHex))
        assert.deepEqual(m.payload, p, v.name)
        assert.equal(toHex(m.signature), v.signatureHex, v.name)
        assert.deepEqual(decodeCanonical<any>(unhex(v.signedHex), 'env'), { p: unhex(v.payloadHex), s: unhex(v.signatureHex) })
      }
      // A proposal carries validRound + 1 (so "none", -1, stays an unsigned integer).
      assert.equal(V.consensus.messages[0].payload.vr, 0)
      assert.equal(V.consensus.messages.find((m: any) => m.payload.r === 1).payload.vr, 1)
    })

    it('invalid messages are REJECTed with their codes', () => {
      assert.ok(V.consensus.invalidMessages.length >= 6)
      for (const v of V.consensus.invalidMessages) expectValidation(() => verifyConsensus(net, unhex(v.signedHex)), v.action, v.code)
    })

    it('bundles: msgs are byte strings of signed messages; invalid ones REJECTed', () => {
      const byName = new Map<string, string>(V.consensus.messages.map((m: any) => [m.name, m.signedHex]))
      for (const v of V.consensus.bundles) {
        const b = verifyBundle(net, unhex(v.bytesHex))
        assert.equal(b.at, v.at)
        if (v.validMsgs === undefined) {
          assert.equal(toHex(encodeBundle({ at: v.at, msgs: v.msgs.map((n: string) => unhex(byName.get(n)!)) })), v.bytesHex, v.name)
          assert.deepEqual(b.valid.map(m => toHex(m.bytes)), v.msgs.map((n: string) => byName.get(n)), v.name)
          assert.equal(b.invalid.length, 0)
        } else {
          assert.equal(b.valid.length, v.validMsgs, v.name)
          assert.equal(b.invalid.length, decodeBundle(unhex(v.bytesHex)).msgs.length - v.validMsgs)
        }
      }
      for (const v of V.consensus.invalidBundles) expectValidation(() => verifyBundle(net, unhex(v.bytesHex)), v.action, v.code)
      // One list of bundle codes: the vectors use only its codes, and docs/consensus.md names exactly them.
      for (const v of V.consensus.invalidBundles) assert.ok((BUNDLE_CODES as readonly string[]).includes(v.code), v.code)
      const doc = readFileSync(new URL('../../../../docs/consensus.md', import.meta.url), 'utf8')
      const para = doc.slice(doc.indexOf('A bundle is REJECTed'), doc.indexOf('A bundle is REJECTed') + 400)
      assert.deepEqual([...para.matchAll(/`((?:bundle-[a-z-]+)|no-valid-message)`/g)].map(m => m[1]).sort(), [...BUNDLE_CODES].sort())
      // A hub never sends what its peers would REJECT.
      assert.throws(() => encodeBundle({ at: 1, msgs: [] }), ProtocolError)
      assert.throws(() => encodeBundle({ at: 1, msgs: Array.from({ length: MAX_BUNDLE_MESSAGES + 1 }, () => new Uint8Array(1)) }), ProtocolError)
    })

    it('certificates: canonical bytes from the precommits, verified; variants accepted or REJECTed', () => {
      const [c] = V.consensus.certificates
      const value = valueOf(c.value)
      const sigs: Array<[number, Uint8Array]> = c.sigs.map(([i, s]: [number, string]) => [i, unhex(s)])
      assert.equal(toHex(encodeCertificate(net, { value, round: c.round, signatures: [...sigs].reverse() })), c.bytesHex)
      const vc = verifyCertificate(net, unhex(c.bytesHex))
      assert.equal(vc.valueId, c.valueId)
      assert.deepEqual(vc.signers, c.signers)
      assert.deepEqual(c.sigs.map(([i]: [number]) => i), [0, 1], 'ascending validator index')
      // Each signature is that validator's precommit signature for (epoch, round, value id).
      for (const [i, s] of c.sigs) {
        const pc = V.consensus.messages.find((m: any) => m.payload.t === 'precommit' && m.payload.from === V.network.definition.validators[i].peerId)
        assert.equal(pc.signatureHex, s)
        assert.deepEqual(payloadOf(pc.payload), { type: 'precommit', epoch: value.epoch, round: c.round, from: V.network.definition.validators[i].peerId, valueId: c.valueId })
      }
      assert.equal(c.valueId, V.consensus.values[0].id)
      for (const v of V.consensus.acceptedNonCanonicalCertificates) {
        const x = verifyCertificate(net, unhex(v.bytesHex))
        assert.equal(x.valueId, c.valueId)
        assert.equal(toHex(encodeCertificate(net, x)), v.canonicalHex, v.name)
      }
      assert.ok(V.consensus.invalidCertificates.length >= 6)
      for (const v of V.consensus.invalidCertificates) expectValidation(() => verifyCertificate(net, unhex(v.bytesHex)), v.action, v.code)
    })
  })

  describe('tally (the leaf code is checked in packages/tally)', () => {
    it('the leaves hash, level by level, to the root the certificate certifies', () => {
      const T = V.tally
      assert.equal(T.root, V.consensus.certificates[0].value.root)
      const h = (prefix: string, ...hex: string[]): string => sha(prefix + hex.join(''))
      assert.deepEqual(T.levels[0], T.leaves.map((l: any) => h(T.merkle.leafPrefixHex, l.bytesHex)))
      assert.deepEqual(T.leaves.map((l: any) => l.hashHex), T.levels[0])
      for (let k = 1; k < T.levels.length; k++) {
        const below = T.levels[k - 1]
        const expect = []
        for (let i = 0; i < below.length; i += 2) expect.push(i + 1 < below.length ? h(T.merkle.nodePrefixHex, below[i], below[i + 1]) : below[i])
        assert.deepEqual(T.levels[k], expect)
      }
      assert.deepEqual(T.levels[T.levels.length - 1], [T.root])
      assert.equal(T.merkle.emptyRootHex, toHex(sha256()))
      const sorted = [...T.leaves].map((l: any) => l.bytesHex).sort((a: string, b: string) => Buffer.compare(unhex(a), unhex(b)))
      assert.deepEqual(sorted, T.leaves.map((l: any) => l.bytesHex), 'leaves in byte order')
    })

    it('every proof walks its leaf up to the root; the invalid ones do not', () => {
      const walk = (leafHex: string, path: Array<{ side: string, hash: string }>): string => path.reduce(
        (acc, s) => sha('01' + (s.side === 'left' ? s.hash + acc : acc + s.hash)), sha('00' + leafHex))
      for (const p of V.tally.proofs) assert.equal(walk(V.tally.leaves[p.leafIndex].bytesHex, p.path), V.tally.root)
      for (const p of V.tally.invalidProofs) assert.notEqual(walk(p.leafHex, p.path), p.root, p.name)
    })
  })

  describe('sync frames (the codecs are checked in packages/sync)', () => {
    it('framing: unsigned varint length, then the bytes', () => {
      for (const f of V.sync.framing.examples) {
        const n = unhex(f.bytesHex).byteLength
        const prefix = n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]
        assert.equal(f.frameHex, toHex(Uint8Array.from(prefix)) + f.bytesHex, f.name)
      }
    })

    it('heads: the request is the empty map; the response lists tag-42 ids, sorted by hub', () => {
      assert.equal(V.sync.heads.request.bytesHex, 'a0')
      const r = decodeCanonical<any>(unhex(V.sync.heads.response.bytesHex), 'heads')
      const hubs = r.heads.map((h: any) => h.hub)
      assert.deepEqual(hubs, [...hubs].sort((a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
      for (const h of r.heads) {
        assert.ok(CID.asCID(h.id) !== null)
        const e = V.entries.find((x: any) => x.payload.hub === h.hub && x.payload.seq === h.seq && !x.name.includes('twin'))
        assert.equal(h.id.toString(), e.cid)
      }
      assert.deepEqual({ heads: r.heads.map((h: any) => ({ hub: h.hub, seq: h.seq, id: h.id.toString() })) }, V.sync.heads.response.value)
    })

    it('entries, certificates and tally: requests are the documented maps; responses are the committed objects', () => {
      for (const proto of ['entries', 'certificates', 'tally']) {
        for (const x of V.sync[proto].exchanges) assert.equal(toHex(encode(x.request)), x.requestHex, `${proto}: ${x.name}`)
      }
      const entry = (name: string): string => V.entries.find((e: any) => e.name === name).signedHex
      assert.deepEqual(V.sync.entries.exchanges[0].responseHex, [entry('hub A #1'), entry('hub A #2')])
      assert.deepEqual(V.sync.certificates.exchanges[0].responseHex, [V.consensus.certificates[0].bytesHex])
      assert.equal(V.sync.certificates.gossip.dataHex, V.consensus.certificates[0].bytesHex)
      const [proof, none, all] = V.sync.tally.exchanges
      const p = decodeCanonical<any>(unhex(proof.responseHex[0]), 'proof')
      const i = V.tally.leaves.findIndex((l: any) => l.leaf.account === proof.request.account)
      assert.equal(toHex(p.leaf), V.tally.leaves[i].bytesHex)
      assert.deepEqual(p.path.map(([side, hash]: [number, Uint8Array]) => ({ side: side === 0 ? 'left' : 'right', hash: toHex(hash) })), V.tally.proofs[i].path)
      assert.deepEqual(decodeCanonical(unhex(none.responseHex[0]), 'proof'), { leaf: null, path: [] })
      assert.deepEqual(decodeCanonical<any>(unhex(all.responseHex[0]), 'leaves').leaves.map(toHex), V.tally.leaves.map((l: any) => l.bytesHex))
      assert.equal(V.sync.limits.heads.maxRequestBytes, limits.maxRequestBytes)
      assert.equal(V.sync.limits.entries.maxFrames, limits.maxEntriesPerRequest)
    })
  })
})
