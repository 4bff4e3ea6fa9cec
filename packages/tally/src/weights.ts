import type { TallyState } from './types.js'

/**
 * The builders' voice on a `params` change (docs/governance.md §4): each account weighs what it has
 * earned in total, `state.cumulative` after the epoch before the one deciding. Structurally the
 * `BuilderWeights` that @ecandle/protocol's governance rules take.
 */
export function builderWeights (state: TallyState): { weightOf: (account: string) => bigint, readonly total: bigint } {
  let total = 0n
  for (const v of state.cumulative.values()) total += v
  return { weightOf: (account) => state.cumulative.get(account) ?? 0n, total }
}
