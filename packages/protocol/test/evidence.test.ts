import assert from 'node:assert/strict'
import { decodeEntry, encode, encodeEvidence, limits, verifyEvidence } from '../src/index.js'
import {
  DEV_A, DEV_B, GENESIS, HUB_A, HUB_B, entry, expectValidation, hex, net, rawBytes, rawMap, rawText, signed, signers
} from './fixtures.js'

const T = (GENESIS + 400) * 1000
const sorted = (x: Uint8Array, y: Uint8Array): [Uint8Array, Uint8Array] => Buffer.compare(x, y) <= 0 ? [x, y] : [y, x]

describe('verifyEvidence', () => {
  const e1 = entry({ seq: 1, time: T, reports: [signed({ counter: 1 })] })
  const e1x = entry({ seq: 1, time: T, reports: [signed({ counter: 1, energyMwh: 99 })] })
  const id1 = decodeEntry(e1).id
  const r5 = signed({ device: DEV_B, counter: 5 })
  const r5x = signed({ device: DEV_B, counter: 5, energyMwh: 1 })

  it('accepts entry equivocation: offender hub, slot seq, id = sha256 of the bytes', () => {
    const bytes = encodeEvidence('entry', e1x, e1)
    const ev = verifyEvidence(net, bytes)
    assert.equal(ev.kind, 'entry')
    assert.equal(ev.offender, HUB_A)
    assert.equal(ev.slot, 1)
    assert.equal(hex(bytes), hex(encodeEvidence('entry', e1, e1x)), 'one encoding per pair')
    assert.equal(ev.id.length, 64)
  })

  it('accepts report equivocation: offender device, slot counter', () => {
    const ev = verifyEvidence(net, encodeEvidence('report', r5, r5x))
    assert.equal(ev.offender, DEV_B)
    assert.equal(ev.slot, 5)
  })

  it('old equivocations stay provable (entries far in the past are not time-checked)', () => {
    const a = entry({ seq: 3, prev: id1, time: (GENESIS + 10) * 1000, reports: [signed({ counter: 1, periodStart: GENESIS, periodEnd: GENESIS + 10, litS: 10, energyMwh: 10 })] })
    const b = entry({ seq: 3, prev: id1, time: (GENESIS + 11) * 1000, reports: [signed({ counter: 1, periodStart: GENESIS, periodEnd: GENESIS + 10, litS: 10, energyMwh: 10 })] })
    assert.equal(verifyEvidence(net, encodeEvidence('entry', a, b)).slot, 3)
  })

  describe('→ REJECT', () => {
    it('oversize, non-CBOR, non-canonical, wrong shape', () => {
      expectValidation(() => verifyEvidence(net, new Uint8Array(limits.maxEvidenceBytes + 1)), 'REJECT', 'size')
      expectValidation(() => verifyEvidence(net, Uint8Array.of(0x5f)), 'REJECT', 'encoding')
      const [a, b] = sorted(e1, e1x)
      const unsorted = rawMap([[rawText('k'), rawText('entry')], [rawText('a'), rawBytes(a)], [rawText('b'), rawBytes(b)]])
      expectValidation(() => verifyEvidence(net, unsorted), 'REJECT', 'non-canonical')
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a, b, x: 1 })), 'REJECT', 'shape', 'unknown field(s) x')
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a })), 'REJECT', 'shape', 'missing field(s) b')
      expectValidation(() => verifyEvidence(net, encode({ k: 1, a, b })), 'REJECT', 'shape', 'evidence.k')
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a: 'x', b })), 'REJECT', 'shape', 'evidence.a')
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a, b: new Uint8Array(limits.maxEntryBytes + 1) })), 'REJECT', 'size', 'evidence.b')
    })

    it('halves out of order or equal', () => {
      const [a, b] = sorted(e1, e1x)
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a: b, b: a })), 'REJECT', 'evidence-order')
      expectValidation(() => verifyEvidence(net, encode({ k: 'entry', a, b: a })), 'REJECT', 'evidence-order')
      const [ra, rb] = sorted(r5, r5x)
      expectValidation(() => verifyEvidence(net, encode({ k: 'report', a: rb, b: ra })), 'REJECT', 'evidence-order')
    })

    it('unknown kind', () => {
      const [a, b] = sorted(e1, e1x)
      expectValidation(() => verifyEvidence(net, encode({ k: 'certificate', a, b })), 'REJECT', 'evidence-kind')
      expectValidation(() => verifyEvidence(net, encode({ k: 'Entry', a, b })), 'REJECT', 'evidence-kind')
    })

    it('entries not of one slot: other seq, other hub', () => {
      const e2 = entry({ seq: 2, prev: id1, time: T + 1, reports: [signed({ counter: 2 })] })
      expectValidation(() => verifyEvidence(net, encodeEvidence('entry', e1, e2)), 'REJECT', 'evidence-slot')
      const b1 = entry({ hub: HUB_B, seq: 1, time: T, reports: [signed({ device: DEV_B })] })
      expectValidation(() => verifyEvidence(net, encodeEvidence('entry', e1, b1)), 'REJECT', 'evidence-slot')
    })

    it('reports not of one slot: other counter, other device', () => {
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', r5, signed({ device: DEV_B, counter: 6 }))), 'REJECT', 'evidence-slot')
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', r5, signed({ device: DEV_A, counter: 5 }))), 'REJECT', 'evidence-slot')
    })

    it('a half that is not validly signed (cannot frame an honest hub or device)', () => {
      const forged = entry({ seq: 1, time: T, reports: [signed({ counter: 1, energyMwh: 5 })], signer: signers.hubB })
      expectValidation(() => verifyEvidence(net, encodeEvidence('entry', e1, forged)), 'REJECT', 'entry-signature')
      const forgedR = signed({ device: DEV_B, counter: 5, energyMwh: 2 }, signers.deviceA)
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', r5, forgedR)), 'REJECT', 'report-signature')
    })

    it('kind mismatch: reports given as entries and entries given as reports', () => {
      expectValidation(() => verifyEvidence(net, encodeEvidence('entry', r5, r5x)), 'REJECT', 'entry-shape')
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', e1, e1x)), 'REJECT', 'shape')
    })

    it('reports of an unregistered device, or malformed report halves', () => {
      const s1 = signed({ device: 'ghost', counter: 1 }, signers.stranger)
      const s2 = signed({ device: 'ghost', counter: 1, energyMwh: 3 }, signers.stranger)
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', s1, s2)), 'REJECT', 'unregistered-device')
      expectValidation(() => verifyEvidence(net, encodeEvidence('report', r5, Uint8Array.of(0xff))), 'REJECT', 'encoding')
    })
  })
})
