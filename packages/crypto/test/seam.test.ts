import assert from 'node:assert/strict'
import * as browser from '../src/browser.js'
import * as node from '../src/node.js'
import type { CryptoApi } from '../src/api.js'

/**
 * The two sides of the seam must agree on every input: ids, roots and signature checks are
 * consensus-critical. (The browser file runs in Node here with Node's WebCrypto; the Chromium test
 * runs it in a real browser on the protocol vectors.)
 */
const sides: Array<[string, CryptoApi]> = [['node', node.api], ['browser', browser.api]]
const L = 2n ** 252n + 27742317777372353535851937790883648493n

function leBytes (x: bigint, n = 32): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) { out[i] = Number(x & 0xffn); x >>= 8n }
  return out
}

describe('crypto seam: node:crypto and browser implementations agree', () => {
  const seed = node.randomBytes(32)
  const msgs = [new Uint8Array(0), node.utf8('ecandle'), node.randomBytes(1000), node.randomBytes(70_000)]

  it('sha256 of one part and of many parts', () => {
    for (const m of msgs) {
      assert.equal(browser.toHex(browser.sha256(m)), node.toHex(node.sha256(m)))
      assert.equal(browser.toHex(browser.sha256(m.subarray(0, 3), m.subarray(3))), node.toHex(node.sha256(m)))
    }
    assert.equal(node.toHex(node.sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    assert.equal(browser.toHex(browser.sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('Ed25519: same public key, same (deterministic) signatures, both verify them', () => {
    const a = node.ed25519Signer(seed)
    const b = browser.ed25519Signer(seed)
    assert.deepEqual(b.publicKey, a.publicKey)
    for (const m of msgs) {
      const sig = a.sign(m)
      assert.deepEqual(b.sign(m), sig)
      for (const [name, c] of sides) assert.equal(c.ed25519Verify(a.publicKey, m, sig), true, name)
    }
  })

  it('Ed25519: both refuse the same bad signatures (bit flips, S ≥ L, non-canonical R, bad lengths, bad keys)', async () => {
    const s = node.ed25519Signer(seed)
    const m = node.utf8('report')
    const sig = s.sign(m)
    const bad: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = []
    for (const i of [0, 17, 31, 32, 50, 63]) {
      const x = sig.slice(); x[i] ^= 1
      bad.push([`sig bit ${i}`, s.publicKey, m, x])
    }
    const mm = m.slice(); mm[0] ^= 1
    bad.push(['message', s.publicKey, mm, sig])
    // S + L: the same point equation, but S is not reduced (malleability): both must refuse it.
    const sBig = sig.subarray(32).reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n)
    bad.push(['S + L', s.publicKey, m, Uint8Array.from([...sig.subarray(0, 32), ...leBytes(sBig + L)])])
    // R = 2^255 − 1 … (y ≥ p): not the canonical encoding of any point.
    bad.push(['R non-canonical', s.publicKey, m, Uint8Array.from([...new Uint8Array(32).fill(0xff).map((v, i) => i === 31 ? 0x7f : v), ...sig.subarray(32)])])
    bad.push(['short sig', s.publicKey, m, sig.subarray(0, 63)])
    bad.push(['short key', s.publicKey.subarray(0, 31), m, sig])
    bad.push(['other key', node.ed25519Signer(node.randomBytes(32)).publicKey, m, sig])
    bad.push(['key off the curve', Uint8Array.from(s.publicKey.map((v, i) => i === 0 ? v ^ 2 : v)), m, sig])
    for (const [what, k, msg, x] of bad) {
      const want = node.ed25519Verify(k, msg, x)
      assert.equal(want, false, `node refuses ${what}`)
      assert.equal(browser.nobleVerify(k, msg, x), want, `noble: ${what}`)
      assert.deepEqual(await browser.ed25519VerifyBatch([[k, msg, x]]), [want], `webcrypto: ${what}`)
    }
  })

  it('withBatchVerify gives the answers of a direct check, good and bad mixed', async () => {
    const s = node.ed25519Signer(seed)
    const items = msgs.map(m => [s.publicKey, m, s.sign(m)] as const)
    const broken = items[1][2].slice(); broken[5] ^= 1
    const run = (c: CryptoApi) => async () => await c.withBatchVerify(() => [...items.map(([k, m, x]) => c.ed25519Verify(k, m, x)), c.ed25519Verify(s.publicKey, items[1][1], broken)])
    for (const [name, c] of sides) assert.deepEqual(await run(c)(), [true, true, true, true, false], name)
    assert.equal(browser.backend(), 'webcrypto', 'Node 22 has WebCrypto Ed25519: the browser file used it')
    // A function that throws throws from withBatchVerify too.
    await assert.rejects(browser.withBatchVerify(() => { throw new RangeError('x') }), RangeError)
  })

  it('hex, base64, byte order, utf8', () => {
    for (const m of [...msgs.slice(0, 3), Uint8Array.from([0, 255, 16, 1])]) {
      assert.equal(browser.toHex(m), node.toHex(m))
      assert.deepEqual(browser.hexToBytes(node.toHex(m)), m)
      assert.deepEqual(browser.hexToBytes(node.toHex(m).toUpperCase()), node.hexToBytes(node.toHex(m).toUpperCase()))
      assert.equal(browser.toBase64(m), node.toBase64(m))
      assert.deepEqual(browser.fromBase64(node.toBase64(m)), m)
    }
    for (const s of ['0g', 'abz0', 'abc', '']) assert.deepEqual(browser.hexToBytes(s), node.hexToBytes(s), s)
    for (const s of ['YWJj', 'YWJjZA==', 'YWJjZA', 'YW Jj\n']) assert.deepEqual(browser.fromBase64(s), node.fromBase64(s), s)
    const pairs: Array<[number[], number[]]> = [[[], [0]], [[1, 2], [1, 2]], [[1, 2], [1, 3]], [[2], [1, 9]], [[1, 2, 3], [1, 2]]]
    for (const [a, b] of pairs) assert.equal(browser.compareBytes(Uint8Array.from(a), Uint8Array.from(b)), node.compareBytes(Uint8Array.from(a), Uint8Array.from(b)))
    assert.deepEqual(browser.utf8('ökö €'), node.utf8('ökö €'))
  })
})
