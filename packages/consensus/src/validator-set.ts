/**
 * The rules for changing the validator set between epochs (docs/governance.md §5). Pure: ids in,
 * a reason code or the next set out. They live with the state machine because they are what keeps
 * its assumptions true across changes; the governance state machine (@ecandle/protocol) and the
 * simulation (test/sim.ts) both apply them.
 */

/** Why a set change is refused. */
export type SetChangeCode =
  /** A hub added that is already in the set, removed that is not in it, or named twice. */
  | 'set-change-invalid'
  /** 3 · (added + removed) ≥ n: more than the set can absorb in one epoch. */
  | 'set-change-too-large'
  /** The set would drop below its floor (4, or the genesis size when genesis had fewer). */
  | 'set-too-small'
  /** The set would pass the most validators a network may have. */
  | 'set-too-large'

/** Most validators a set may hold (certificate signer indices, cut sizes and the network file agree on it). */
export const MAX_VALIDATORS = 256

/** The smallest a set may become: 4 (f ≥ 1 needs n ≥ 4), or the genesis size when genesis had fewer. */
export const minValidators = (genesisSize: number): number => Math.min(4, genesisSize)

/**
 * Checks that `current` may become `current − removed + added` in one step:
 * - less than a third changes (3·(a + r) < n), so the validators that stay are a quorum of the next
 *   set on their own (liveness never waits for a newcomer) and every quorum of the next set holds more
 *   than a third of the current one (a light peer that trusts the current set sees at least one of
 *   its honest validators in any later certificate);
 * - a set below 4 (no fault tolerance anyway) may still grow by one hub per epoch, or it could never grow;
 * - the set stays within [minValidators(genesisSize), MAX_VALIDATORS].
 * Returns undefined when the change is allowed (an empty change always is).
 */
export function checkSetChange (current: readonly string[], added: readonly string[], removed: readonly string[], genesisSize: number): SetChangeCode | undefined {
  const a = added.length
  const r = removed.length
  if (a + r === 0) return undefined
  const cur = new Set(current)
  const named = new Set<string>()
  for (const id of [...added, ...removed]) {
    if (named.has(id)) return 'set-change-invalid'
    named.add(id)
  }
  if (added.some((id) => cur.has(id)) || removed.some((id) => !cur.has(id))) return 'set-change-invalid'
  const n = current.length
  const growSmall = n < 4 && a === 1 && r === 0
  if (3 * (a + r) >= n && !growSmall) return 'set-change-too-large'
  const size = n + a - r
  if (size < minValidators(genesisSize)) return 'set-too-small'
  if (size > MAX_VALIDATORS) return 'set-too-large'
  return undefined
}

/** `current` without `removed`, in its order, then `added` in the order given: proposer rotation and cut order follow it. */
export function applySetChange (current: readonly string[], added: readonly string[], removed: readonly string[]): string[] {
  const gone = new Set(removed)
  return [...current.filter((id) => !gone.has(id)), ...added]
}
