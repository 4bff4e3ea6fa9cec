import assert from 'node:assert/strict'
import fc from 'fast-check'
import { FrameDecoder, MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES, encodeFrame, parseFrameBody } from '../src/frame.js'

type Item = { kind: 'frame', payload: Uint8Array } | { kind: 'junk', bytes: Uint8Array }

const payload = fc.uint8Array({ minLength: 0, maxLength: MAX_PAYLOAD_BYTES })
const item: fc.Arbitrary<Item> = fc.oneof(
  payload.map(p => ({ kind: 'frame' as const, payload: p })),
  // random garbage (may hold '$', '*', '\n')
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map(b => ({ kind: 'junk' as const, bytes: b })),
  // a frame cut short
  fc.tuple(payload, fc.nat()).map(([p, n]) => { const f = encodeFrame(p); return { kind: 'junk' as const, bytes: f.subarray(0, n % (f.byteLength - 1)) } }),
  // an oversize frame: valid base64 and a good CRC, but too long
  fc.uint8Array({ minLength: MAX_PAYLOAD_BYTES + 1, maxLength: 700 }).map(p => {
    const text = `$${Buffer.from(p).toString('base64')}*00000000\n`
    return { kind: 'junk' as const, bytes: Buffer.from(text, 'latin1') }
  }),
  // a frame with one bit flipped
  fc.tuple(payload, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([p, i, bit]) => {
    const f = Buffer.from(encodeFrame(p))
    const at = 1 + (i % (f.byteLength - 2))
    f[at] ^= 1 << bit
    return { kind: 'junk' as const, bytes: f }
  })
)

describe('frame', () => {
  it('round-trips and has the documented shape', () => {
    const f = encodeFrame(new Uint8Array([1, 2, 3]))
    assert.equal(Buffer.from(f).toString('latin1'), '$AQID*55bc801d\n')
    const got: Uint8Array[] = []
    new FrameDecoder(p => got.push(p)).push(f)
    assert.deepEqual(got, [new Uint8Array([1, 2, 3])])
    assert.ok(encodeFrame(new Uint8Array(MAX_PAYLOAD_BYTES)).byteLength <= MAX_FRAME_BYTES)
    assert.throws(() => encodeFrame(new Uint8Array(MAX_PAYLOAD_BYTES + 1)))
  })

  it('accepts CRLF; rejects upper-case hex (one frame, one spelling) and non-canonical base64', () => {
    assert.deepEqual(parseFrameBody(Buffer.from('AQID*55bc801d\r')), new Uint8Array([1, 2, 3]))
    assert.equal(typeof parseFrameBody(Buffer.from('AQID*55BC801D')), 'string')
    assert.equal(typeof parseFrameBody(Buffer.from('AQI*55bc801d')), 'string')
    assert.equal(typeof parseFrameBody(Buffer.from('AAAAAAAAAAC=*6522df69')), 'string')
    assert.equal(typeof parseFrameBody(Buffer.from('AQID*55bc801e')), 'string')
    assert.equal(typeof parseFrameBody(Buffer.from('AQID')), 'string')
  })

  it('garbage, truncated, oversize and corrupt frames interleaved with valid ones: every valid frame decoded exactly once, never throws, bounded buffer', () => {
    fc.assert(fc.property(fc.array(item, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }), (items, cuts) => {
      const parts: Uint8Array[] = []
      const want: Uint8Array[] = []
      for (const it of items) {
        if (it.kind === 'frame') { parts.push(encodeFrame(it.payload)); want.push(it.payload) } else parts.push(it.bytes)
      }
      const stream = Buffer.concat(parts)
      const got: Uint8Array[] = []
      const dec = new FrameDecoder(p => got.push(p))
      // feed in chunks of varying sizes
      let at = 0
      for (let i = 0; at < stream.byteLength; i++) {
        const n = cuts[i % cuts.length]
        dec.push(stream.subarray(at, at + n))
        at += n
        assert.ok(dec.buffered <= MAX_FRAME_BYTES)
      }
      assert.deepEqual(got.map(b => Buffer.from(b).toString('hex')), want.map(b => Buffer.from(b).toString('hex')))
      assert.equal(dec.stats.frames, want.length)
    }), { numRuns: 300 })
  })

  it('never throws on arbitrary bytes and never holds more than a frame', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4000 }), bytes => {
      const dec = new FrameDecoder(() => { throw new Error('consumer bug') })
      dec.push(bytes)
      assert.ok(dec.buffered <= MAX_FRAME_BYTES)
    }), { numRuns: 500 })
  })

  it('counts bad frames', () => {
    const dec = new FrameDecoder(() => {})
    dec.push(Buffer.from('$AQID*00000000\n$AQ$AQID*55bc801d\nnoise\n$' + 'A'.repeat(600) + '\n'))
    assert.deepEqual(dec.stats, { frames: 1, bad: 3, garbageBytes: 6 + (600 - 511) + 1 })
  })
})
