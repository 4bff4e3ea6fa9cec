import assert from 'node:assert/strict'
import {
  decodeEntry, Domain, encode, entryDomain, epochOf, limits, peerIdFromPublicKey, signEntry, verifyEntry, CID, ValidationError
} from '../src/index.js'
import {
  DEV_A, DEV_A2, DEV_B, GENESIS, chainNet, HUB_A, HUB_B, NOW_MS, cat, entry, entryPayload, envelope, expectValidation, head, hex, net,
  rawBytes, rawMap, rawText, rawUint, report, signed, signers
} from './fixtures.js'

const T = (GENESIS + 400) * 1000
const sign = (body: Uint8Array): Uint8Array => envelope(body, signers.hubA, entryDomain(net.id))
/** A payload map the real encoder would refuse or reorder, signed validly by hub A. */
const signedPayload = (payload: Record<string, unknown>): Uint8Array => sign(encode(payload))

describe('verifyEntry', () => {
  it('accepts a valid entry and returns its decoded reports', () => {
    const bytes = entry({ time: T, reports: [signed({ counter: 1 }), signed({ counter: 2, periodStart: GENESIS + 360, periodEnd: GENESIS + 400, litS: 40, energyMwh: 400 })] })
    const e = verifyEntry(net, bytes, NOW_MS)
    assert.equal(e.payload.hub, HUB_A)
    assert.equal(e.payload.seq, 1)
    assert.equal(e.payload.prev, null)
    assert.deepEqual(e.reports.map(r => r.report.counter), [1, 2])
    assert.equal(e.bytes, bytes)
    // seq 2 with a link
    const e2 = verifyEntry(net, entry({ seq: 2, prev: e.id, time: T + 5000, reports: [signed({ counter: 3 })] }), NOW_MS)
    assert.ok(e2.payload.prev?.equals(e.id))
    // hub B with its own device
    verifyEntry(net, entry({ hub: HUB_B, time: T, reports: [signed({ device: DEV_B, energyMwh: 1700 })] }), NOW_MS)
  })

  describe('size, encoding, shape → REJECT', () => {
    it('oversize entry (one byte over the limit, checked before decoding)', () => {
      expectValidation(() => verifyEntry(net, new Uint8Array(limits.maxEntryBytes + 1), NOW_MS), 'REJECT', 'entry-size')
      // a well-formed envelope that is too big
      const big = encode({ p: new Uint8Array(limits.maxEntryBytes), s: new Uint8Array(64) })
      expectValidation(() => verifyEntry(net, big, NOW_MS), 'REJECT', 'entry-size')
    })

    it('report bytes over the report limit inside an entry', () => {
      const bytes = signedPayload({ ...entryPayload({ time: T }), reports: [new Uint8Array(limits.maxReportBytes + 1)] })
      expectValidation(() => verifyEntry(net, bytes, NOW_MS), 'REJECT', 'entry-size')
    })

    it('non-CBOR bytes, empty input, trailing bytes', () => {
      expectValidation(() => verifyEntry(net, Uint8Array.of(0xff, 0x00, 0x13), NOW_MS), 'REJECT', 'entry-encoding')
      expectValidation(() => verifyEntry(net, new Uint8Array(0), NOW_MS), 'REJECT', 'entry-encoding')
      expectValidation(() => verifyEntry(net, cat(entry({ time: T }), Uint8Array.of(0)), NOW_MS), 'REJECT', 'entry-encoding')
      // payload bytes that are not CBOR, validly signed
      expectValidation(() => verifyEntry(net, sign(Uint8Array.of(0xa1, 0x61)), NOW_MS), 'REJECT', 'entry-encoding')
      // truncated
      const ok = entry({ time: T })
      expectValidation(() => verifyEntry(net, ok.subarray(0, ok.byteLength - 1), NOW_MS), 'REJECT', 'entry-encoding')
    })

    it('non-canonical envelope: keys in the wrong order', () => {
      const ok = decodeEntry(entry({ time: T }))
      const swapped = rawMap([[rawText('s'), rawBytes(ok.signature)], [rawText('p'), rawBytes(ok.body)]])
      expectValidation(() => verifyEntry(net, swapped, NOW_MS), 'REJECT', 'entry-non-canonical')
    })

    it('non-canonical envelope: byte-string length not minimal', () => {
      const ok = decodeEntry(entry({ time: T }))
      const sig = cat(head(2, 64, 2), ok.signature) // 0x59 0x00 0x40 instead of 0x58 0x40
      const bytes = rawMap([[rawText('p'), rawBytes(ok.body)], [rawText('s'), sig]])
      expectValidation(() => verifyEntry(net, bytes, NOW_MS), 'REJECT', 'entry-encoding')
    })

    it('non-canonical payload, validly signed: unsorted keys and non-minimal integer', () => {
      const p = entryPayload({ time: T })
      const enc = (k: string): Uint8Array => encode((p as any)[k])
      const sorted = ['hub', 'seq', 'prev', 'time', 'epoch', 'reports']
      const canonical = rawMap(sorted.map(k => [rawText(k), enc(k)]))
      assert.equal(hex(canonical), hex(encode(p)), 'the raw writer reproduces the canonical form')
      verifyEntry(net, sign(canonical), NOW_MS)
      const unsorted = rawMap(['seq', 'hub', 'prev', 'time', 'epoch', 'reports'].map(k => [rawText(k), enc(k)]))
      expectValidation(() => verifyEntry(net, sign(unsorted), NOW_MS), 'REJECT', 'entry-non-canonical')
      const wideSeq = rawMap(sorted.map(k => [rawText(k), k === 'seq' ? rawUint(1, 4) : enc(k)]))
      expectValidation(() => verifyEntry(net, sign(wideSeq), NOW_MS), 'REJECT', 'entry-encoding')
    })

    it('wrong envelope shape: extra field, missing field, wrong types, short signature', () => {
      const ok = decodeEntry(entry({ time: T }))
      expectValidation(() => verifyEntry(net, encode({ p: ok.body, s: ok.signature, x: 1 }), NOW_MS), 'REJECT', 'entry-shape', 'unknown field(s) x')
      expectValidation(() => verifyEntry(net, encode({ p: ok.body }), NOW_MS), 'REJECT', 'entry-shape', 'missing field(s) s')
      expectValidation(() => verifyEntry(net, encode([ok.body, ok.signature]), NOW_MS), 'REJECT', 'entry-shape', 'expected a map')
      expectValidation(() => verifyEntry(net, encode({ p: 'text', s: ok.signature }), NOW_MS), 'REJECT', 'entry-shape', 'entry.p')
      expectValidation(() => verifyEntry(net, encode({ p: ok.body, s: ok.signature.subarray(0, 63) }), NOW_MS), 'REJECT', 'entry-shape', 'entry.s')
    })

    it('wrong payload shape: extra field, missing field, wrong field types, validly signed', () => {
      const p = entryPayload({ time: T }) as any
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...p, extra: 1 }, 'unknown field(s) extra'],
        [{ ...p, time: undefined }, 'missing field(s) time'],
        [{ ...p, seq: 0 }, 'entry.seq'],
        [{ ...p, seq: -1 }, 'entry.seq'],
        [{ ...p, seq: '1' }, 'entry.seq'],
        [{ ...p, seq: 2 ** 53 }, 'entry.seq'],
        [{ ...p, prev: CID.parse(decodeEntry(entry({ time: T })).id.toString()) }, 'entry.prev'], // seq 1 with a link
        [{ ...p, seq: 2, prev: null }, 'entry.prev'],
        [{ ...p, seq: 2, prev: new Uint8Array(36) }, 'entry.prev'],
        [{ ...p, seq: 2, prev: 'bafy' }, 'entry.prev'],
        [{ ...p, hub: 7 }, 'entry.hub'],
        [{ ...p, hub: '' }, 'entry.hub'],
        [{ ...p, hub: 'x'.repeat(129) }, 'entry.hub'],
        [{ ...p, epoch: -1 }, 'entry.epoch'],
        [{ ...p, time: 1.5 }, 'entry.time'],
        [{ ...p, reports: 'r' }, 'entry.reports'],
        [{ ...p, reports: ['not bytes'] }, 'entry.reports[0]']
      ]
      for (const [payload, field] of cases) {
        if (payload.time === undefined) delete payload.time
        expectValidation(() => verifyEntry(net, signedPayload(payload), NOW_MS), 'REJECT', 'entry-shape', field)
      }
    })

    it('empty reports', () => {
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [] }), NOW_MS), 'REJECT', 'entry-shape', 'entry.reports')
    })

    it('more than 256 reports (256 is fine)', () => {
      const reports = Array.from({ length: limits.maxReportsPerEntry }, (_, i) => signed({ counter: i + 1 }))
      verifyEntry(net, entry({ time: T, reports }), NOW_MS)
      const tooMany = [...reports, signed({ counter: 257 })]
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: tooMany }), NOW_MS), 'REJECT', 'entry-shape', 'entry.reports')
    })
  })

  describe('hub and signature → REJECT', () => {
    it('unknown hub (a stranger signing its own entry)', () => {
      const stranger = peerIdFromPublicKey(signers.stranger.publicKey)
      expectValidation(() => verifyEntry(net, entry({ hub: stranger, time: T, signer: signers.stranger }), NOW_MS), 'REJECT', 'unknown-hub')
    })

    it('bad hub signature: bit flip, another hub key, another domain', () => {
      const ok = decodeEntry(entry({ time: T }))
      const flipped = ok.signature.slice()
      flipped[10] ^= 0x01
      expectValidation(() => verifyEntry(net, encode({ p: ok.body, s: flipped }), NOW_MS), 'REJECT', 'entry-signature')
      expectValidation(() => verifyEntry(net, entry({ time: T, signer: signers.hubB }), NOW_MS), 'REJECT', 'entry-signature')
      expectValidation(() => verifyEntry(net, envelope(ok.body, signers.hubA, Domain.entry), NOW_MS), 'REJECT', 'entry-signature')
      expectValidation(() => verifyEntry(net, envelope(ok.body, signers.hubA, Domain.report), NOW_MS), 'REJECT', 'entry-signature')
      // signature of one payload on another
      const other = decodeEntry(entry({ time: T + 1 }))
      expectValidation(() => verifyEntry(net, encode({ p: other.body, s: ok.signature }), NOW_MS), 'REJECT', 'entry-signature')
    })

    it('signature made for another network id (domain separation)', () => {
      const ok = decodeEntry(entry({ time: T }))
      const otherNetId = net.id.replace(/^./, c => c === '0' ? '1' : '0')
      const bytes = envelope(ok.body, signers.hubA, entryDomain(otherNetId))
      expectValidation(() => verifyEntry(net, bytes, NOW_MS), 'REJECT', 'entry-signature')
      // the very same bytes signed for this network are fine
      verifyEntry(net, envelope(ok.body, signers.hubA, entryDomain(net.id)), NOW_MS)
    })
  })

  describe('time', () => {
    it('epoch not matching time → REJECT', () => {
      const t = (GENESIS + 3600) * 1000 // first ms of epoch 1
      assert.equal(epochOf(net, t), 1)
      verifyEntry(net, entry({ time: t, epoch: 1 }), NOW_MS)
      expectValidation(() => verifyEntry(net, entry({ time: t, epoch: 0 }), NOW_MS), 'REJECT', 'entry-epoch')
      expectValidation(() => verifyEntry(net, entry({ time: t - 1, epoch: 1 }), NOW_MS), 'REJECT', 'entry-epoch')
      expectValidation(() => verifyEntry(net, entry({ time: t, epoch: 2 }), NOW_MS), 'REJECT', 'entry-epoch')
      // before genesis there is no epoch at all
      expectValidation(() => verifyEntry(net, entry({ time: GENESIS * 1000 - 1, epoch: 0, reports: [signed({ periodStart: GENESIS - 400, periodEnd: GENESIS - 100 })] }), NOW_MS), 'REJECT', 'entry-epoch')
    })

    it('entry from the future → IGNORE (boundary: exactly the allowed skew is fine)', () => {
      const now = T
      verifyEntry(net, entry({ time: now + limits.maxClockSkewMs }), now)
      const e = expectValidation(() => verifyEntry(net, entry({ time: now + limits.maxClockSkewMs + 1 }), now), 'IGNORE', 'future')
      assert.ok(e instanceof ValidationError)
    })
  })

  describe('reports inside the entry → REJECT', () => {
    it('unregistered device', () => {
      const r = signed({ device: 'candle-zz' }, signers.stranger)
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [r] }), NOW_MS), 'REJECT', 'unregistered-device')
    })

    it('device of another hub', () => {
      expectValidation(() => verifyEntry(net, entry({ hub: HUB_B, time: T, reports: [signed({ device: DEV_A })] }), NOW_MS), 'REJECT', 'wrong-hub')
      expectValidation(() => verifyEntry(net, entry({ hub: HUB_A, time: T, reports: [signed({ device: DEV_B })] }), NOW_MS), 'REJECT', 'wrong-hub')
    })

    it('bad report signature (a valid report first, the bad one second)', () => {
      const bad = signed({ counter: 2 }, signers.deviceB)
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [signed({ counter: 1 }), bad] }), NOW_MS), 'REJECT', 'report-signature')
    })

    it('malformed report bytes', () => {
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [Uint8Array.of(0xff)] }), NOW_MS), 'REJECT', 'report-encoding')
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [encode({ p: new Uint8Array(3), s: new Uint8Array(64), x: 0 })] }), NOW_MS), 'REJECT', 'report-shape')
    })

    it('implausible energy', () => {
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [signed({ energyMwh: 1_000_000 })] }), NOW_MS), 'REJECT', 'implausible')
    })

    it('report ending after the entry (boundary: the allowed device-clock slack is fine)', () => {
      const t = (GENESIS + 1000) * 1000
      const endOk = GENESIS + 1000 + limits.maxReportSkewS
      verifyEntry(net, entry({ time: t, reports: [signed({ periodStart: endOk - 300, periodEnd: endOk })] }), NOW_MS)
      expectValidation(() => verifyEntry(net, entry({ time: t, reports: [signed({ periodStart: endOk - 299, periodEnd: endOk + 1 })] }), NOW_MS), 'REJECT', 'report-future')
      // to the millisecond: an entry 1 ms earlier makes the same report end 120.001 s after it
      expectValidation(() => verifyEntry(net, entry({ time: t - 1, reports: [signed({ periodStart: endOk - 300, periodEnd: endOk })] }), NOW_MS), 'REJECT', 'report-future')
    })

    it('counters must rise per device within the entry', () => {
      const r1 = signed({ counter: 1 })
      const r2 = signed({ counter: 2 })
      verifyEntry(net, entry({ time: T, reports: [r1, r2] }), NOW_MS)
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [r2, r1] }), NOW_MS), 'REJECT', 'counter-order')
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [r1, r1] }), NOW_MS), 'REJECT', 'counter-order')
      // same counter, different content (equivocation inside one entry)
      expectValidation(() => verifyEntry(net, entry({ time: T, reports: [r1, signed({ counter: 1, energyMwh: 1 })] }), NOW_MS), 'REJECT', 'counter-order')
    })

    it('counters of different devices are independent', () => {
      // chainNet has two devices on hub A
      const reports = [signed({ counter: 5 }), signed({ device: DEV_A2, counter: 1 }), signed({ counter: 6 }), signed({ device: DEV_A2, counter: 2 })]
      assert.equal(verifyEntry(chainNet, entry({ network: chainNet, time: T, reports }), NOW_MS).reports.length, 4)
      const bad = [signed({ counter: 5 }), signed({ device: DEV_A2, counter: 9 }), signed({ counter: 6 }), signed({ device: DEV_A2, counter: 9 })]
      expectValidation(() => verifyEntry(chainNet, entry({ network: chainNet, time: T, reports: bad }), NOW_MS), 'REJECT', 'counter-order', DEV_A2)
    })
  })

  it('signEntry refuses nothing but the result always decodes with the same id', () => {
    const p = entryPayload({ time: T })
    const a = signEntry(net, signers.hubA, p)
    const b = signEntry(net, signers.hubA, { ...p })
    assert.deepEqual(a, b, 'deterministic')
    assert.ok(decodeEntry(a).id.equals(decodeEntry(b).id))
    assert.equal(report().device, DEV_A)
  })
})
