/**
 * Rebuilding tally state from the leaves of a decided epoch. A light peer that trusts only a
 * certificate's root can take every leaf of that epoch from any hub, check that they hash to the
 * root, and carry the state (cumulative totals, dust) into recomputing the next epoch itself.
 */
import { decodeLeaf } from './leaf.js'
import { compareBytes, merkleRoot } from './merkle.js'
import type { AccountLeaf, DeviceLeaf, Leaf, SummaryLeaf, TallyState } from './types.js'

export interface RestoredEpoch {
  state: TallyState
  accounts: AccountLeaf[]
  devices: DeviceLeaf[]
  summary: SummaryLeaf
}

/**
 * Checks `leaves` against a trusted `root` of `epoch` and returns the state they imply.
 * Throws a RangeError naming the first fault: unsorted or repeated leaves, a leaf of another epoch,
 * a non-canonical leaf, no or two summary leaves, a root mismatch.
 */
export function restoreFromLeaves (epoch: number, leaves: readonly Uint8Array[], root: string): RestoredEpoch {
  const accounts: AccountLeaf[] = []
  const devices: DeviceLeaf[] = []
  let summary: SummaryLeaf | undefined
  for (let i = 0; i < leaves.length; i++) {
    // Leaves are sorted by their bytes, each once: the tree is a function of the tally alone.
    if (i > 0 && compareBytes(leaves[i - 1], leaves[i]) >= 0) throw new RangeError(`leaf #${i} is out of order or repeated`)
    let leaf: Leaf
    try {
      leaf = decodeLeaf(leaves[i])
    } catch (err) {
      throw new RangeError(`leaf #${i}: ${(err as Error).message}`)
    }
    if (leaf.epoch !== epoch) throw new RangeError(`leaf #${i} is of epoch ${leaf.epoch}, not ${epoch}`)
    if (leaf.k === 'a') accounts.push(leaf)
    else if (leaf.k === 'd') devices.push(leaf)
    else if (summary !== undefined) throw new RangeError(`leaf #${i}: a second summary leaf`)
    else summary = leaf
  }
  if (summary === undefined) throw new RangeError('no summary leaf')
  const computed = merkleRoot(leaves)
  if (computed !== root) throw new RangeError(`the ${leaves.length} leaves hash to ${computed}, not to the certified root ${root}`)
  return {
    state: { epoch, dust: summary.dust, cumulative: new Map(accounts.map((a) => [a.account, a.cumulative])) },
    accounts,
    devices,
    summary
  }
}

/** One leaf that differs between two leaf sets of the same epoch. */
export interface LeafDifference {
  /** 'account <id>', 'device <id>' or 'summary'. */
  leaf: string
  /** Field values as `ours` has them, or null when `ours` lacks the leaf. */
  ours: Record<string, string> | null
  theirs: Record<string, string> | null
}

function identity (l: Leaf): string {
  return l.k === 'a' ? `account ${l.account}` : l.k === 'd' ? `device ${l.device}` : 'summary'
}

function fields (l: Leaf): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(l)) if (k !== 'k' && k !== 'account' && k !== 'device') out[k] = String(v)
  return out
}

/** Names every leaf that differs between `ours` and `theirs` (both canonical leaf bytes). */
export function diffLeaves (ours: readonly Uint8Array[], theirs: readonly Uint8Array[]): LeafDifference[] {
  const index = (ls: readonly Uint8Array[]): Map<string, Leaf> => new Map(ls.map((b) => decodeLeaf(b)).map((l) => [identity(l), l]))
  const a = index(ours)
  const b = index(theirs)
  const out: LeafDifference[] = []
  for (const id of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(id)
    const y = b.get(id)
    const fx = x === undefined ? null : fields(x)
    const fy = y === undefined ? null : fields(y)
    if (JSON.stringify(fx) !== JSON.stringify(fy)) out.push({ leaf: id, ours: fx, theirs: fy })
  }
  return out
}
