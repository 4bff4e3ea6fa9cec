/** Inclusion proofs for tally results. */
import { decodeLeaf } from './leaf.js'
import { verifyPath } from './merkle.js'
import { buildTree, leafIndex } from './tally.js'
import type { AccountLeaf, DeviceLeaf, LeafProof, SummaryLeaf, TreeParts } from './types.js'

function prove (result: TreeParts, kind: 'a' | 'd' | 's', id: string): LeafProof {
  const i = leafIndex(result, kind, id)
  if (i === undefined) throw new RangeError(kind === 'a' ? `no account leaf for ${id}` : `no device leaf for ${id} (nothing counted)`)
  const tree = buildTree(result)
  return { leaf: tree.leaves[i].slice(), path: tree.proof(i), root: tree.root }
}

/** Proof of an account's leaf {k:'a', account, epoch, amount, cumulative}. Throws RangeError if the account has no leaf. */
export function proveAccount (result: TreeParts, account: string): LeafProof {
  return prove(result, 'a', account)
}

/** Proof of a device's leaf {k:'d', ...}. Only devices with counted energy have one. */
export function proveDevice (result: TreeParts, device: string): LeafProof {
  return prove(result, 'd', device)
}

/** Proof of the summary leaf {k:'s', epoch, mwh, paid, dust, emission}. */
export function proveSummary (result: TreeParts): LeafProof {
  return prove(result, 's', '')
}

/**
 * True iff proof.leaf with proof.path hashes up to `root` (the root you trust,
 * e.g. the one the hubs signed; proof.root is ignored). Never throws.
 */
export function verifyProof (proof: LeafProof, root: string): boolean {
  if (proof === null || typeof proof !== 'object') return false
  return verifyPath(proof.leaf, proof.path, root)
}

/** Decodes the leaf of a proof (throws TypeError if not a canonical leaf). */
export function proofLeaf (proof: LeafProof): AccountLeaf | DeviceLeaf | SummaryLeaf {
  return decodeLeaf(proof.leaf)
}

/** Verifies the proof against `root` and decodes its account leaf; undefined if invalid or not an account leaf. */
export function verifyAccountProof (proof: LeafProof, root: string): AccountLeaf | undefined {
  if (!verifyProof(proof, root)) return undefined
  try {
    const leaf = decodeLeaf(proof.leaf)
    return leaf.k === 'a' ? leaf : undefined
  } catch {
    return undefined
  }
}
