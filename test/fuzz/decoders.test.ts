import assert from 'node:assert/strict'
import fc from 'fast-check'
import { buildHistory } from '@ecandle/audit/testing'
import { decodeCertificateMessage, decodeEntryMessage, decodeEvidenceMessage } from '@ecandle/client'
import { decodeMessage, encodeFrame, encodeMessage, FrameDecoder, FrameError, parseFrameBody } from '@ecandle/hardware-bridge'
import {
  decodeEntry, encodeBundle, encodeEvidence, parseNetwork, ProtocolError, signApproval, signConsensus, signEntry, signerFromSeed, verifyApproval, verifyBundle,
  verifyCertificate, verifyConsensus, verifyEntry, verifyEvidence, verifyOperation, verifyReport, verifyResolution
} from '@ecandle/protocol'
import { deviceAddOp, fixture, GENESIS, govFixture, resolution } from '@ecandle/protocol/testing'
import { certificatesProtocol, entriesProtocol, governanceProtocol, headsProtocol, tallyProtocol, wireProtocols, type WireProtocol } from '@ecandle/wire'
import { fuzzBytes, neverCrashes, RUNS } from './inputs.js'

/**
 * Every decoder of bytes a peer, a device or a file can hand a hub, fuzzed with fast-check (RUNS
 * inputs each: 10⁴ in npm test, 10⁵ in npm run fuzz): each must return or throw its own typed error
 * (ProtocolError and its ValidationError), never anything else and never hang.
 */
describe(`fuzz: decoders (${RUNS} inputs each)`, function () {
  this.timeout(0)
  const f = fixture()
  const net = f.net
  const history = buildHistory({ net, hubs: f.hubs, devices: f.devices }, { epochs: 3, reportsPerHub: [3, 5, 2] })
  const entries = [...history.logs.values()].flat()
  const reports = entries.flatMap(e => decodeEntry(e).payload.reports)
  const first = decodeEntry(entries[0]).payload
  const other = signEntry(net, f.hubs[0], { ...first, reports: first.reports.slice(0, 1) })
  const evidence = [encodeEvidence('entry', entries[0], other), encodeEvidence('report', reports[0], reports[1])]
  const vote = signConsensus(net, f.hubs[0], { type: 'prevote', epoch: 1, round: 0, from: f.hubIds[0], valueId: 'ab'.repeat(32) })
  const bundles = [encodeBundle({ at: 1, msgs: [vote] }), encodeBundle({ at: 2, msgs: [vote, signConsensus(net, f.hubs[1], { type: 'precommit', epoch: 1, round: 0, from: f.hubIds[1], valueId: null })] })]
  const now = (GENESIS + 10_000) * 1000
  const protocolErrors = [ProtocolError]

  it('entries (verifyEntry; the SDK\'s decodeEntryMessage)', () => {
    neverCrashes(fuzzBytes(entries), b => verifyEntry(net, b, now), protocolErrors)
    neverCrashes(fuzzBytes(entries), b => decodeEntryMessage(net, b, { nowMs: now }), protocolErrors)
  })

  it('reports (verifyReport)', () => {
    neverCrashes(fuzzBytes(reports, 512), b => verifyReport(net, b, f.hubIds[0]), protocolErrors)
  })

  it('evidence (verifyEvidence; the SDK\'s decodeEvidenceMessage)', () => {
    neverCrashes(fuzzBytes(evidence), b => verifyEvidence(net, b), protocolErrors)
    neverCrashes(fuzzBytes(evidence), b => decodeEvidenceMessage(net, b), protocolErrors)
  })

  it('consensus bundles and messages (verifyBundle, verifyConsensus)', () => {
    neverCrashes(fuzzBytes(bundles), b => verifyBundle(net, b), protocolErrors)
    neverCrashes(fuzzBytes([vote]), b => verifyConsensus(net, b), protocolErrors)
  })

  it('certificates (verifyCertificate; the SDK\'s decodeCertificateMessage)', () => {
    neverCrashes(fuzzBytes(history.certs), b => verifyCertificate(net, b), protocolErrors)
    neverCrashes(fuzzBytes(history.certs), b => decodeCertificateMessage(net, b), protocolErrors)
  })

  // Governance objects: a maker-signed device-add, an approval of it, a resolution carrying both.
  const gf = govFixture()
  const addBytes = deviceAddOp(gf, { id: 'fz-d1', key: signerFromSeed(new Uint8Array(32).fill(0x61)), hub: 0, exp: 50 })
  const addId = verifyOperation(gf.net.id, addBytes).id
  const approval = signApproval(gf.net.id, gf.hubs[0], { op: addId, as: 'validator', yes: true })
  const resolved = resolution(gf, addBytes, addId, gf.hubs.slice(0, 3))

  it('governance operations, approvals and resolutions (verifyOperation, verifyApproval, verifyResolution)', () => {
    neverCrashes(fuzzBytes([addBytes]), b => verifyOperation(gf.net.id, b), protocolErrors)
    neverCrashes(fuzzBytes([approval], 512), b => verifyApproval(gf.net.id, b), protocolErrors)
    neverCrashes(fuzzBytes([resolved]), b => verifyResolution(gf.net.id, b), protocolErrors)
  })

  it('request/response protocols: every request and response frame (heads, entries, certificates, tally, governance)', () => {
    const heads = [{ hub: f.hubIds[0], seq: 3, id: decodeEntry(entries[0]).id }, { hub: f.hubIds[1], seq: 1, id: decodeEntry(entries[1]).id }]
    // Valid requests, and a valid response frame to each.
    const cases: Array<{ proto: WireProtocol<any, any>, reqs: unknown[], frames: unknown[] }> = [
      { proto: headsProtocol, reqs: [{}], frames: [heads] },
      { proto: entriesProtocol, reqs: [{ hub: f.hubIds[0], from: 1, limit: 64 }], frames: entries.slice(0, 3) },
      { proto: certificatesProtocol, reqs: [{ from: 0, limit: 64 }], frames: history.certs },
      { proto: governanceProtocol, reqs: [{ epoch: 3, ids: [] }, { epoch: null, ids: [addId] }], frames: [resolved] },
      { proto: tallyProtocol, reqs: [{ epoch: 1, account: 'ab'.repeat(32) }, { epoch: 0, account: null }], frames: [{ proof: { leaf: new Uint8Array(40), path: [{ side: 'left', hash: 'cd'.repeat(32) }] } }, { leaves: [new Uint8Array(40), new Uint8Array(50)] }] }
    ]
    assert.deepEqual(cases.map(c => c.proto.id).sort(), Object.keys(wireProtocols).sort(), 'every protocol of @ecandle/wire is fuzzed')
    for (const c of cases) {
      neverCrashes(fuzzBytes(c.reqs.map(r => c.proto.encodeRequest(r)), 512), b => c.proto.decodeRequest(b), protocolErrors)
      const req = c.reqs.at(-1)
      neverCrashes(fuzzBytes(c.frames.map(x => c.proto.encodeFrame(x))), b => c.proto.decodeFrame(b, req), protocolErrors)
    }
  })

  it('device link frames and messages (FrameDecoder, parseFrameBody, decodeMessage)', () => {
    const msgs = [
      encodeMessage({ type: 'hello', device: 'h0-d0', firmware: 'fw/1', clock: 1 }),
      encodeMessage({ type: 'report', report: reports[0] }),
      encodeMessage({ type: 'ack', device: 'h0-d0', counter: 3, status: 'refused', reason: 'clock' }),
      encodeMessage({ type: 'time', ms: 5, device: 'h0-d1' }),
      encodeMessage({ type: 'error', code: 'x', message: 'y' })
    ]
    neverCrashes(fuzzBytes(msgs, 512), b => decodeMessage(b), protocolErrors)
    const frames = msgs.map(m => encodeFrame(m))
    neverCrashes(fuzzBytes(frames, 1024), b => parseFrameBody(b.subarray(1)), [FrameError])
    // The streaming decoder takes any chunks, never throws and never holds more than one frame.
    neverCrashes(fc.array(fuzzBytes(frames, 1024), { maxLength: 6 }), chunks => {
      const d = new FrameDecoder(() => {})
      for (const c of chunks) d.push(c)
      if (d.buffered > 512) throw new Error(`decoder holds ${d.buffered} bytes`)
    }, [])
  })

  it('network files (parseNetwork)', () => {
    const text = new TextEncoder().encode(JSON.stringify(net.def))
    neverCrashes(fuzzBytes([text], 8192), b => parseNetwork(new TextDecoder().decode(b)), protocolErrors)
  })
})
