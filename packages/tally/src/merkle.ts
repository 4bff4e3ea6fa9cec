/**
 * Generic binary Merkle tree over byte-string leaves.
 *
 *   leaf hash  = sha256(0x00 || leafBytes)
 *   node hash  = sha256(0x01 || left || right)
 *   odd node   = promoted unchanged to the next level (never duplicated)
 *   empty tree = sha256("") (the hash of zero bytes), i.e.
 *                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
 *
 * Leaves are used in the order given; callers that need an order-independent
 * root sort them first (see `sortLeaves`). All hashes in the public API are
 * lowercase hex strings.
 */
import { compareBytes as seamCompare, hexToBytes, sha256, toHex as seamToHex } from '@ecandle/crypto'
import type { ProofStep } from './types.js'

const LEAF_PREFIX = Uint8Array.of(0x00)
const NODE_PREFIX = Uint8Array.of(0x01)

export const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

export const toHex: (bytes: Uint8Array) => string = seamToHex

const HEX32 = /^[0-9a-f]{64}$/

/** Parses a 32-byte lowercase/uppercase hex hash; undefined when malformed. */
export function parseHash (hex: unknown): Uint8Array | undefined {
  if (typeof hex !== 'string') return undefined
  const h = hex.toLowerCase()
  if (!HEX32.test(h)) return undefined
  return hexToBytes(h)
}

export function leafHash (leaf: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, leaf)
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right)
}

/** Lexicographic byte comparison (a proper prefix sorts first). */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return seamCompare(a, b)
}

/** Returns a new array of the leaves sorted by their bytes. */
export function sortLeaves (leaves: readonly Uint8Array[]): Uint8Array[] {
  return leaves.slice().sort(compareBytes)
}

export class MerkleTree {
  /** levels[0] = leaf hashes, last level = [root] (empty when there are no leaves). */
  private readonly levels: Uint8Array[][]
  readonly leaves: readonly Uint8Array[]

  constructor (leaves: readonly Uint8Array[]) {
    this.leaves = leaves.slice()
    const levels: Uint8Array[][] = []
    let level = this.leaves.map(leafHash)
    levels.push(level)
    while (level.length > 1) {
      const up: Uint8Array[] = []
      for (let i = 0; i < level.length; i += 2) {
        up.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i])
      }
      levels.push(up)
      level = up
    }
    this.levels = levels
  }

  get size (): number {
    return this.leaves.length
  }

  /** Root as lowercase hex (EMPTY_ROOT for no leaves). */
  get root (): string {
    if (this.leaves.length === 0) return EMPTY_ROOT
    return toHex(this.levels[this.levels.length - 1][0])
  }

  /** Sibling path for the leaf at `index`, bottom-up. Promoted levels contribute no step. */
  proof (index: number): ProofStep[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.leaves.length) {
      throw new RangeError(`leaf index ${index} out of range 0..${this.leaves.length - 1}`)
    }
    const path: ProofStep[] = []
    let i = index
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l]
      const sib = i ^ 1
      if (sib < level.length) {
        path.push({ side: sib < i ? 'left' : 'right', hash: toHex(level[sib]) })
      }
      i >>= 1
    }
    return path
  }
}

export function merkleRoot (leaves: readonly Uint8Array[]): string {
  return new MerkleTree(leaves).root
}

export function merkleProof (leaves: readonly Uint8Array[], index: number): ProofStep[] {
  return new MerkleTree(leaves).proof(index)
}

/** Recomputes the root from a leaf and its path; undefined when the path is malformed. */
export function rootFromPath (leaf: Uint8Array, path: readonly ProofStep[]): string | undefined {
  if (!(leaf instanceof Uint8Array) || !Array.isArray(path)) return undefined
  let h = leafHash(leaf)
  for (const step of path) {
    if (step === null || typeof step !== 'object') return undefined
    const sib = parseHash(step.hash)
    if (sib === undefined) return undefined
    if (step.side === 'left') h = nodeHash(sib, h)
    else if (step.side === 'right') h = nodeHash(h, sib)
    else return undefined
  }
  return toHex(h)
}

/** True iff `leaf` with `path` hashes up to `root`. Never throws on malformed input. */
export function verifyPath (leaf: Uint8Array, path: readonly ProofStep[], root: string): boolean {
  const r = parseHash(root)
  if (r === undefined) return false
  const computed = rootFromPath(leaf, path)
  return computed !== undefined && computed === toHex(r)
}
