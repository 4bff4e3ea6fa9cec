import assert from 'node:assert/strict'
import { decodeCanonical, encodeEvidence, parseNetwork, signEntry, signerFromSeed, signReport, ValidationError, type UsageReport } from '@ecandle/protocol'
import { GENESIS } from '@ecandle/protocol/testing'
import { decodeCertificateMessage, decodeEntryMessage, decodeEvidenceMessage, verifyEpochSummary, verifyRewardProof } from '../src/index.js'
import { ACCOUNT, certify, decidedEpoch, f, flip, log, net, rawCertificate } from './fixtures.js'

function expectCode (fn: () => unknown, code: string | RegExp, action: 'REJECT' | 'IGNORE' = 'REJECT'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`)
    if (typeof code === 'string') assert.equal(err.code, code)
    else assert.match(err.code, code)
    assert.equal(err.action, action)
    return true
  })
}

const report = (over: Partial<UsageReport> = {}): UsageReport => ({
  device: 'h0-d0', counter: 1, periodStart: GENESIS + 90, periodEnd: GENESIS + 100, energyMwh: 10, solarMwh: 20, litS: 5, batteryMv: 3700, soc: 80, tempDeciC: 250, faults: 0, ...over
})
/** The signatures of an encoded certificate, read back with the protocol's CBOR decoder. */
const sigsOf = (cert: Uint8Array): Array<[number, Uint8Array]> => (decodeCanonical(cert, 'certificate') as { sigs: Array<[number, Uint8Array]> }).sigs
const TIME = (GENESIS + 101) * 1000
/** An entry of hub `h` (seq 1) holding exactly these report bytes, validly signed by `signer`. */
const entryWith = (reports: Uint8Array[], h = 0, signer = f.hubs[h]): Uint8Array =>
  signEntry(net, signer, { hub: f.hubIds[h], seq: 1, prev: null, epoch: 1, time: TIME, reports })

describe('decodeEntryMessage', () => {
  const [e1, e2] = log(0, 2)

  it('returns a plain JSON object of a fully verified entry', () => {
    const m = decodeEntryMessage(net, e2.bytes)
    assert.equal(m.id, e2.id.toString())
    assert.equal(m.hub, f.hubIds[0])
    assert.equal(m.seq, 2)
    assert.equal(m.prev, e1.id.toString())
    assert.equal(m.epoch, e2.payload.epoch)
    assert.equal(m.time, e2.payload.time)
    assert.equal(m.reports.length, 2)
    assert.deepEqual(m.reports.map(r => [r.device, r.counter, r.energyMwh, r.solarMwh, r.litS]), [['h0-d0', 2, 10, 20, 5], ['h0-d1', 2, 10, 20, 5]])
    for (const r of m.reports) assert.match(r.id, /^[0-9a-f]{64}$/)
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m, 'JSON-friendly: survives a JSON round trip unchanged')
    assert.equal(decodeEntryMessage(net, e1.bytes).prev, null)
  })

  it('rejects a bad hub signature, and a signature made for another network', () => {
    expectCode(() => decodeEntryMessage(net, flip(e1.bytes, -1)), 'entry-signature')
    const other = parseNetwork({ ...net.def, name: 'another network' })
    expectCode(() => decodeEntryMessage(other, e1.bytes), 'entry-signature')
  })

  it('rejects a report whose device signature is bad even though the hub signed the entry', () => {
    const r = signReport(f.devices[0][0], report())
    expectCode(() => decodeEntryMessage(net, entryWith([flip(r, -1)])), 'report-signature')
  })

  it('rejects unregistered devices, devices of another hub, and hubs that are not validators', () => {
    const stranger = signerFromSeed(new Uint8Array(32).fill(77))
    expectCode(() => decodeEntryMessage(net, entryWith([signReport(stranger, report({ device: 'nobody' }))])), 'unregistered-device')
    expectCode(() => decodeEntryMessage(net, entryWith([signReport(f.devices[1][0], report({ device: 'h1-d0' }))])), 'wrong-hub')
    const foreign = signEntry(net, stranger, { hub: '12D3KooWJiPrf98f4Sxbz5BiFdc5Ce2NgpzLJsHWxKFfAK31kdgJ', seq: 1, prev: null, epoch: 1, time: TIME, reports: [signReport(f.devices[0][0], report())] })
    expectCode(() => decodeEntryMessage(net, foreign), 'unknown-hub')
  })

  it('rejects implausible reports and garbage; IGNOREs an entry from the future', () => {
    expectCode(() => decodeEntryMessage(net, entryWith([signReport(f.devices[0][0], report({ energyMwh: 10_000_000 }))])), 'implausible')
    expectCode(() => decodeEntryMessage(net, new Uint8Array([1, 2, 3])), /^entry-/)
    expectCode(() => decodeEntryMessage(net, 'not bytes' as unknown as Uint8Array), 'entry-encoding')
    expectCode(() => decodeEntryMessage(net, e1.bytes, { nowMs: e1.payload.time - 60_000 }), 'future', 'IGNORE')
  })
})

describe('decodeCertificateMessage', () => {
  const d = decidedEpoch()

  it('returns the certified value with ids as strings', () => {
    const c = decodeCertificateMessage(net, d.certificate)
    assert.deepEqual(c, {
      epoch: 0, valueId: d.summary.valueId, root: d.value.root, prev: null, round: 0, signers: f.hubIds,
      cut: d.logs.map((l, h) => ({ hub: f.hubIds[h], seq: 2, id: l[1].id.toString() }))
    })
    assert.deepEqual(JSON.parse(JSON.stringify(c)), c)
  })

  it('rejects a bad signature, a changed value, too few and duplicate signers', () => {
    expectCode(() => decodeCertificateMessage(net, flip(d.certificate, -1)), 'certificate-signature')
    const forged = certify({ ...d.value, root: '00'.repeat(32) })
    // The forged value's signatures spliced onto the real value: they do not sign it.
    expectCode(() => decodeCertificateMessage(net, rawCertificate(d.value, sigsOf(forged))), 'certificate-signature')
    const sigs = sigsOf(d.certificate)
    expectCode(() => decodeCertificateMessage(net, rawCertificate(d.value, [sigs[0]])), 'too-few-signers')
    expectCode(() => decodeCertificateMessage(net, rawCertificate(d.value, [sigs[0], sigs[0]])), 'duplicate-signer')
    expectCode(() => decodeCertificateMessage(net, new Uint8Array([0xa0])), /./)
  })

  it('verifyEpochSummary checks the API fields against the certificate', () => {
    assert.equal(verifyEpochSummary(net, d.summary).valueId, d.summary.valueId)
    expectCode(() => verifyEpochSummary(net, { ...d.summary, root: 'ff'.repeat(32) }), 'summary-mismatch')
    expectCode(() => verifyEpochSummary(net, { ...d.summary, cut: d.summary.cut.map(c => ({ ...c, seq: c.seq + 1 })) }), 'summary-mismatch')
    expectCode(() => verifyEpochSummary(net, { ...d.summary, certificate: Buffer.from(flip(d.certificate, -1)).toString('base64') }), 'certificate-signature')
  })
})

describe('decodeEvidenceMessage', () => {
  const a = entry1(1)
  const b = entry1(2)

  function entry1 (counter: number): Uint8Array {
    return entryWith([signReport(f.devices[0][0], report({ counter }))])
  }

  it('accepts two different entries of one hub at one seq', () => {
    const ev = decodeEvidenceMessage(net, encodeEvidence('entry', a, b))
    assert.equal(ev.kind, 'entry')
    assert.equal(ev.offender, f.hubIds[0])
    assert.equal(ev.slot, 1)
    assert.match(ev.id, /^[0-9a-f]{64}$/)
  })

  it('accepts two different reports of one device with one counter', () => {
    const ev = decodeEvidenceMessage(net, encodeEvidence('report', signReport(f.devices[0][1], report({ device: 'h0-d1', counter: 5 })), signReport(f.devices[0][1], report({ device: 'h0-d1', counter: 5, energyMwh: 11 }))))
    assert.deepEqual([ev.kind, ev.offender, ev.slot], ['report', 'h0-d1', 5])
  })

  it('rejects identical halves, different slots and a forged half', () => {
    expectCode(() => decodeEvidenceMessage(net, encodeEvidence('entry', a, a)), 'evidence-order')
    const seq2 = log(0, 2)[1].bytes
    expectCode(() => decodeEvidenceMessage(net, encodeEvidence('entry', a, seq2)), 'evidence-slot')
    expectCode(() => decodeEvidenceMessage(net, encodeEvidence('entry', a, flip(b, -1))), 'entry-signature')
  })
})

describe('verifyRewardProof', () => {
  const d = decidedEpoch()

  it('returns the proven account leaf with bigint amounts', () => {
    const r = verifyRewardProof(d.proof, d.value.root)
    assert.ok(r !== undefined)
    assert.equal(r.account, ACCOUNT)
    assert.equal(r.epoch, 0)
    assert.equal(typeof r.amount, 'bigint')
    assert.equal(String(r.amount), d.rewards.epochAmount)
    assert.equal(String(r.cumulative), d.rewards.cumulative)
    assert.ok(r.amount > 0n)
  })

  it('checks against the root given, never proof.root', () => {
    assert.equal(verifyRewardProof({ ...d.proof, root: 'ab'.repeat(32) }, d.value.root)?.account, ACCOUNT)
    assert.equal(verifyRewardProof(d.proof, 'ab'.repeat(32)), undefined)
  })

  it('fails on a tampered leaf, sibling hash or side, and on malformed input (without throwing)', () => {
    // The amount is a decimal string in the leaf: change its last digit.
    const amount = Buffer.from(String(verifyRewardProof(d.proof, d.value.root)!.amount)).toString('hex')
    const i = d.proof.leaf.indexOf(amount)
    assert.ok(i > 0)
    const digit = d.proof.leaf.slice(i + amount.length - 2, i + amount.length)
    const other = digit === '31' ? '32' : '31'
    const leaf = d.proof.leaf.slice(0, i + amount.length - 2) + other + d.proof.leaf.slice(i + amount.length)
    assert.equal(verifyRewardProof({ ...d.proof, leaf }, d.value.root), undefined)
    assert.ok(d.proof.path.length > 0)
    const path = d.proof.path.map((s, k) => k === 0 ? { ...s, hash: (s.hash[0] === '0' ? '1' : '0') + s.hash.slice(1) } : s)
    assert.equal(verifyRewardProof({ ...d.proof, path }, d.value.root), undefined)
    const sides = d.proof.path.map((s, k) => k === 0 ? { ...s, side: s.side === 'left' ? 'right' as const : 'left' as const } : s)
    assert.equal(verifyRewardProof({ ...d.proof, path: sides }, d.value.root), undefined)
    assert.equal(verifyRewardProof({ ...d.proof, leaf: 'zz' }, d.value.root), undefined)
    assert.equal(verifyRewardProof({ ...d.proof, path: 'x' as any }, d.value.root), undefined)
    assert.equal(verifyRewardProof(null as any, d.value.root), undefined)
  })
})
