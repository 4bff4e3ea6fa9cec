import assert from 'node:assert/strict'
import { decodeCanonical, encode, expectBytes, expectInt, expectMap, expectString, expectUint } from '../src/index.js'
import { cat, expectProtocolError, head, rawMap, rawText, rawUint, unhex } from './fixtures.js'

describe('canonical CBOR', () => {
  const one = rawMap([[rawText('a'), rawUint(1)], [rawText('bb'), rawUint(2)]])

  it('decodes canonical bytes', () => {
    assert.deepEqual(decodeCanonical(one, 'x'), { a: 1, bb: 2 })
    assert.deepEqual(Buffer.from(encode({ bb: 2, a: 1 })), Buffer.from(one))
  })

  it('refuses other byte forms of the same value', () => {
    // keys: length first, then bytewise ("bb" after "a", "b" before "aa")
    expectProtocolError(() => decodeCanonical(rawMap([[rawText('bb'), rawUint(2)], [rawText('a'), rawUint(1)]]), 'x'), 'non-canonical')
    expectProtocolError(() => decodeCanonical(rawMap([[rawText('aa'), rawUint(2)], [rawText('b'), rawUint(1)]]), 'x'), 'non-canonical')
    // non-minimal integer and length heads
    expectProtocolError(() => decodeCanonical(rawMap([[rawText('a'), rawUint(1, 1)], [rawText('bb'), rawUint(2)]]), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(cat(head(3, 1, 1), Uint8Array.of(0x61)), 'x'), 'encoding')
    // indefinite-length string, duplicate keys, 16- and 32-bit floats, a float that is an integer
    expectProtocolError(() => decodeCanonical(unhex('7f6161ff'), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(rawMap([[rawText('a'), rawUint(1)], [rawText('a'), rawUint(1)]]), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(unhex('f93c00'), 'x'), 'non-canonical')
    expectProtocolError(() => decodeCanonical(unhex('fa3fc00000'), 'x'), 'non-canonical')
    expectProtocolError(() => decodeCanonical(unhex('fb3ff0000000000000'), 'x'), 'non-canonical')
    assert.equal(decodeCanonical(unhex('fb3ff8000000000000'), 'x'), 1.5)
  })

  it('refuses non-CBOR, trailing bytes, undefined, NaN, deep nesting', () => {
    expectProtocolError(() => decodeCanonical(new Uint8Array(0), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(cat(one, Uint8Array.of(0)), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(unhex('f7'), 'x'), 'non-canonical')
    expectProtocolError(() => decodeCanonical(unhex('fb7ff8000000000000'), 'x'), 'encoding')
    expectProtocolError(() => decodeCanonical(new Uint8Array(100_000).fill(0x81), 'x'), 'encoding')
  })

  it('shape helpers name the field', () => {
    expectProtocolError(() => expectMap([], 'm', ['a']), 'shape', 'm: expected a map')
    expectProtocolError(() => expectMap({ a: 1, z: 2 }, 'm', ['a']), 'shape', 'unknown field(s) z')
    expectProtocolError(() => expectMap({}, 'm', ['a']), 'shape', 'missing field(s) a')
    expectProtocolError(() => expectUint(-1, 'u'), 'shape', 'u:')
    expectProtocolError(() => expectUint(11, 'u', 10), 'shape', 'u:')
    expectProtocolError(() => expectInt(-3, 'i', -2, 2), 'shape', 'i:')
    expectProtocolError(() => expectBytes(new Uint8Array(5), 'b', 4), 'size', 'b:')
    expectProtocolError(() => expectBytes(new Uint8Array(3), 'b', 4, 4), 'shape', 'b:')
    expectProtocolError(() => expectString('', 's', 4), 'shape', 's:')
    expectProtocolError(() => expectString('abc', 's', 4, /^a+$/), 'shape', 's:')
  })
})
