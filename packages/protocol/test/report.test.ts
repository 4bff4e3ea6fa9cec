import assert from 'node:assert/strict'
import {
  decodeReport, Domain, encode, encodeReportPayload, implausibility, limits, signReport, verifyReport, ProtocolError
} from '../src/index.js'
import {
  DEV_A, DEV_B, GENESIS, HUB_A, HUB_B, cat, envelope, expectProtocolError, expectValidation, hex, net, rawBytes, rawMap,
  rawText, rawUint, report, signed, signers
} from './fixtures.js'

/** Report envelope around an arbitrary payload map, validly signed by device A. */
const signedMap = (m: Record<string, unknown>): Uint8Array => envelope(encode(m), signers.deviceA, Domain.report)
const wire = (over: Record<string, unknown> = {}): Record<string, unknown> => {
  const r = report()
  return { d: r.device, c: r.counter, t0: r.periodStart, t1: r.periodEnd, e: r.energyMwh, s: r.solarMwh, l: r.litS, mv: r.batteryMv, soc: r.soc, tmp: r.tempDeciC, f: r.faults, ...over }
}

describe('reports', () => {
  it('sign → decode → verify round trip; payload keys are the short wire names', () => {
    const bytes = signed()
    const d = verifyReport(net, bytes, HUB_A)
    assert.deepEqual(d.report, report())
    assert.equal(hex(encodeReportPayload(report())), hex(encode(wire())))
    assert.ok(bytes.byteLength < 200, `a report is ${bytes.byteLength} bytes`)
  })

  describe('verifyReport: encoding and shape → REJECT', () => {
    it('oversize', () => {
      expectValidation(() => verifyReport(net, new Uint8Array(limits.maxReportBytes + 1), HUB_A), 'REJECT', 'report-size')
    })
    it('non-CBOR and trailing bytes', () => {
      expectValidation(() => verifyReport(net, Uint8Array.of(0x1c), HUB_A), 'REJECT', 'report-encoding')
      expectValidation(() => verifyReport(net, cat(signed(), Uint8Array.of(0xf6)), HUB_A), 'REJECT', 'report-encoding')
    })
    it('non-canonical: unsorted payload keys, validly signed', () => {
      const w = wire()
      const keys = ['d', 'c', 'e', 'f', 'l', 's', 'mv', 't0', 't1', 'soc', 'tmp'] // d before c: unsorted
      const body = rawMap(keys.map(k => [rawText(k), encode(w[k])]))
      expectValidation(() => verifyReport(net, envelope(body, signers.deviceA, Domain.report), HUB_A), 'REJECT', 'report-non-canonical')
      const sortedBody = rawMap(['c', 'd', 'e', 'f', 'l', 's', 'mv', 't0', 't1', 'soc', 'tmp'].map(k => [rawText(k), encode(w[k])]))
      assert.equal(hex(sortedBody), hex(encodeReportPayload(report())))
      verifyReport(net, envelope(sortedBody, signers.deviceA, Domain.report), HUB_A)
    })
    it('non-canonical: non-minimal integer, validly signed', () => {
      const w = wire()
      const body = rawMap(['c', 'd', 'e', 'f', 'l', 's', 'mv', 't0', 't1', 'soc', 'tmp'].map(k => [rawText(k), k === 'e' ? rawUint(w.e as number, 8) : encode(w[k])]))
      expectValidation(() => verifyReport(net, envelope(body, signers.deviceA, Domain.report), HUB_A), 'REJECT', 'report-encoding')
    })
    it('non-canonical envelope: keys swapped', () => {
      const d = decodeReport(signed())
      expectValidation(() => verifyReport(net, rawMap([[rawText('s'), rawBytes(d.signature)], [rawText('p'), rawBytes(d.payload)]]), HUB_A), 'REJECT', 'report-non-canonical')
    })
    it('wrong shape: each field out of bounds or of the wrong type', () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [wire({ x: 1 }), 'unknown field(s) x'],
        [(({ f: _f, ...rest }) => rest)(wire()), 'missing field(s) f'],
        [wire({ d: '' }), 'report.device'],
        [wire({ d: 'has space' }), 'report.device'],
        [wire({ d: 'x'.repeat(65) }), 'report.device'],
        [wire({ d: 5 }), 'report.device'],
        [wire({ c: 0 }), 'report.counter'],
        [wire({ c: -1 }), 'report.counter'],
        [wire({ c: 1.5 }), 'report.counter'],
        [wire({ c: 2n ** 53n }), 'report.counter'],
        [wire({ t0: 2 ** 40 + 1 }), 'report.periodStart'],
        [wire({ t1: 'now' }), 'report.periodEnd'],
        [wire({ e: 2 ** 32 }), 'report.energyMwh'],
        [wire({ s: -5 }), 'report.solarMwh'],
        [wire({ l: null }), 'report.litS'],
        [wire({ mv: 100_001 }), 'report.batteryMv'],
        [wire({ soc: 101 }), 'report.soc'],
        [wire({ tmp: -1001 }), 'report.tempDeciC'],
        [wire({ tmp: 2001 }), 'report.tempDeciC'],
        [wire({ f: new Uint8Array(1) }), 'report.faults']
      ]
      for (const [m, field] of cases) expectValidation(() => verifyReport(net, signedMap(m), HUB_A), 'REJECT', 'report-shape', field)
      // bounds themselves are fine (signature valid, plausible)
      verifyReport(net, signedMap(wire({ mv: 100_000, soc: 100, tmp: -1000 })), HUB_A)
      verifyReport(net, signedMap(wire({ tmp: 2000, f: 2 ** 32 - 1 })), HUB_A)
    })
    it('wrong envelope shape', () => {
      const d = decodeReport(signed())
      expectValidation(() => verifyReport(net, encode({ p: d.payload, s: d.signature, t: 1 }), HUB_A), 'REJECT', 'report-shape')
      expectValidation(() => verifyReport(net, encode({ p: d.payload, s: d.signature.subarray(1) }), HUB_A), 'REJECT', 'report-shape', 'report.s')
      expectValidation(() => verifyReport(net, encode({ p: 1, s: d.signature }), HUB_A), 'REJECT', 'report-shape', 'report.p')
      expectValidation(() => verifyReport(net, encode(7), HUB_A), 'REJECT', 'report-shape')
    })
  })

  describe('verifyReport: registry and signature → REJECT', () => {
    it('unregistered device', () => {
      expectValidation(() => verifyReport(net, signed({ device: 'nobody' }, signers.stranger), HUB_A), 'REJECT', 'unregistered-device')
    })
    it('device registered to another hub', () => {
      expectValidation(() => verifyReport(net, signed({ device: DEV_A }), HUB_B), 'REJECT', 'wrong-hub')
      expectValidation(() => verifyReport(net, signed({ device: DEV_B }), HUB_A), 'REJECT', 'wrong-hub')
      expectValidation(() => verifyReport(net, signed({ device: DEV_A }), 'not-a-hub'), 'REJECT', 'wrong-hub')
    })
    it('bad signature: another key, bit flip, altered payload, wrong domain', () => {
      expectValidation(() => verifyReport(net, signed({}, signers.deviceB), HUB_A), 'REJECT', 'report-signature')
      const d = decodeReport(signed())
      const sig = d.signature.slice()
      sig[63] ^= 0x80
      expectValidation(() => verifyReport(net, encode({ p: d.payload, s: sig }), HUB_A), 'REJECT', 'report-signature')
      const other = encodeReportPayload(report({ energyMwh: 1235 }))
      expectValidation(() => verifyReport(net, encode({ p: other, s: d.signature }), HUB_A), 'REJECT', 'report-signature')
      expectValidation(() => verifyReport(net, envelope(d.payload, signers.deviceA, Domain.entry), HUB_A), 'REJECT', 'report-signature')
      expectValidation(() => verifyReport(net, envelope(d.payload, signers.deviceA, ''), HUB_A), 'REJECT', 'report-signature')
    })
    it('implausible report', () => {
      expectValidation(() => verifyReport(net, signed({ litS: 301 }), HUB_A), 'REJECT', 'implausible', 'lit 301 s')
      expectValidation(() => verifyReport(net, signed({ periodEnd: GENESIS + 60 }), HUB_A), 'REJECT', 'implausible')
    })
  })

  describe('implausibility', () => {
    const rated = 500 // Wh/day → max 2 × 500 000 mWh × period / 86 400
    it('period end not after start', () => {
      assert.match(implausibility(report({ periodStart: 100, periodEnd: 100, litS: 0, energyMwh: 0 }), rated) ?? '', /not after/)
      assert.match(implausibility(report({ periodStart: 101, periodEnd: 100, litS: 0, energyMwh: 0 }), rated) ?? '', /not after/)
    })
    it('period longer than a day (a day is fine)', () => {
      assert.equal(implausibility(report({ periodStart: 0, periodEnd: limits.maxReportPeriodS }), rated), undefined)
      assert.match(implausibility(report({ periodStart: 0, periodEnd: limits.maxReportPeriodS + 1 }), rated) ?? '', /longer than/)
    })
    it('lit longer than the period (equal is fine)', () => {
      assert.equal(implausibility(report({ periodStart: 0, periodEnd: 300, litS: 300 }), rated), undefined)
      assert.match(implausibility(report({ periodStart: 0, periodEnd: 300, litS: 301 }), rated) ?? '', /lit 301/)
    })
    it('energy above factor × rating pro rata, exactly at the bound is fine', () => {
      // 86 400 s at 500 Wh/day, factor 2 → 1 000 000 mWh
      assert.equal(implausibility(report({ periodStart: 0, periodEnd: 86_400, energyMwh: 1_000_000 }), rated), undefined)
      assert.match(implausibility(report({ periodStart: 0, periodEnd: 86_400, energyMwh: 1_000_001 }), rated) ?? '', /exceeds/)
      // 300 s → 3472.2 mWh: 3472 fine, 3473 not
      assert.equal(implausibility(report({ periodStart: 0, periodEnd: 300, energyMwh: 3472 }), rated), undefined)
      assert.match(implausibility(report({ periodStart: 0, periodEnd: 300, energyMwh: 3473 }), rated) ?? '', /exceeds/)
      // no float trouble at the top of the range
      assert.match(implausibility(report({ periodStart: 0, periodEnd: 1, litS: 0, energyMwh: 2 ** 32 - 1 }), 10_000_000) ?? '', /exceeds/)
      assert.equal(implausibility(report({ periodStart: 0, periodEnd: 86_400, litS: 0, energyMwh: 2 ** 32 - 1 }), 10_000_000), undefined)
    })
    it('through verifyReport with the registry rating', () => {
      verifyReport(net, signed({ energyMwh: 3472 }), HUB_A)
      expectValidation(() => verifyReport(net, signed({ energyMwh: 3473 }), HUB_A), 'REJECT', 'implausible', 'exceeds')
      // device B is rated 250 Wh/day: 1736 mWh over 300 s
      verifyReport(net, signed({ device: DEV_B, energyMwh: 1736 }), HUB_B)
      expectValidation(() => verifyReport(net, signed({ device: DEV_B, energyMwh: 1737 }), HUB_B), 'REJECT', 'implausible')
    })
  })

  it('decodeReport throws plain ProtocolErrors (not ValidationErrors) with codes', () => {
    const e = expectProtocolError(() => decodeReport(Uint8Array.of(0xff)), 'encoding')
    assert.equal(e.constructor, ProtocolError)
    expectProtocolError(() => decodeReport(new Uint8Array(300)), 'size')
    expectProtocolError(() => decodeReport(signedMap(wire({ c: 0 }))), 'shape', 'report.counter')
    assert.equal(decodeReport(signReport(signers.deviceA, report())).report.device, DEV_A)
  })
})
