import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { EMPTY_ROOT, MerkleTree, leafHash, merkleProof, merkleRoot, nodeHash, toHex, verifyPath } from '../src/index.js'

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
const b = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('merkle', () => {
  it('empty tree root is sha256 of no bytes', () => {
    assert.equal(merkleRoot([]), EMPTY_ROOT)
    assert.equal(EMPTY_ROOT, toHex(sha()))
    assert.throws(() => merkleProof([], 0), RangeError)
  })

  it('one leaf: root = sha256(0x00 || leaf), empty path', () => {
    assert.equal(merkleRoot([b('x')]), toHex(sha(Uint8Array.of(0), b('x'))))
    assert.deepEqual(merkleProof([b('x')], 0), [])
  })

  it('three leaves: odd node promoted unchanged, not duplicated', () => {
    const [x, y, z] = [b('x'), b('y'), b('z')]
    const hx = sha(Uint8Array.of(0), x)
    const hy = sha(Uint8Array.of(0), y)
    const hz = sha(Uint8Array.of(0), z)
    const expected = sha(Uint8Array.of(1), sha(Uint8Array.of(1), hx, hy), hz)
    assert.equal(merkleRoot([x, y, z]), toHex(expected))
    assert.deepEqual(merkleProof([x, y, z], 2), [{ side: 'left', hash: toHex(sha(Uint8Array.of(1), hx, hy)) }])
    assert.deepEqual(merkleProof([x, y, z], 0), [
      { side: 'right', hash: toHex(hy) },
      { side: 'right', hash: toHex(hz) }
    ])
  })

  it('leaf and node hashes are domain-separated', () => {
    const l = b('ab')
    assert.notEqual(toHex(leafHash(l)), toHex(sha(Uint8Array.of(1), l)))
    assert.equal(toHex(nodeHash(b('a'), b('b'))), toHex(sha(Uint8Array.of(1), b('ab'))))
  })

  it('property: every proof verifies, and fails against another root or for another leaf', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 40, comparator: (a, c) => Buffer.compare(a, c) === 0 }), (leaves) => {
        const tree = new MerkleTree(leaves)
        assert.equal(tree.root, merkleRoot(leaves))
        for (let i = 0; i < leaves.length; i++) {
          const path = tree.proof(i)
          assert.ok(path.length <= Math.ceil(Math.log2(leaves.length)))
          assert.equal(verifyPath(leaves[i], path, tree.root), true)
          assert.equal(verifyPath(leaves[(i + 1) % leaves.length], path, tree.root), leaves.length === 1)
          assert.equal(verifyPath(leaves[i], path, EMPTY_ROOT), false)
        }
      }),
      { numRuns: 300 }
    )
  })

  it('verifyPath never throws on garbage', () => {
    assert.equal(verifyPath(b('x'), [{ side: 'up' as 'left', hash: '00'.repeat(32) }], merkleRoot([b('x')])), false)
    assert.equal(verifyPath(b('x'), [{ side: 'left', hash: 'zz' }], merkleRoot([b('x')])), false)
    assert.equal(verifyPath(b('x'), [], 'not hex'), false)
    assert.equal(verifyPath(b('x'), null as never, merkleRoot([b('x')])), false)
    assert.equal(verifyPath(b('x'), [], merkleRoot([b('x')]).toUpperCase()), true)
  })
})
