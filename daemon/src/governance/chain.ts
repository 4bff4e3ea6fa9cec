import { followValue, genesisState, validatorsAt, type Decided, type EpochState, type EpochValue, type Network, type ValidatorSet } from '@ecandle/protocol'

/** States kept in memory besides the latest (a query of an older epoch replays from genesis). */
const KEEP_STATES = 64

/** What the chain is rebuilt from at start: each decided value with the resolutions it names. */
export interface DecidedSource {
  decided: () => AsyncIterable<{ value: EpochValue, resolutions: readonly Uint8Array[] }>
}

/**
 * The network state of every epoch as this hub decided it (docs/governance.md §5): S(0) from the
 * network file, S(E+1) from S(E) and the resolutions decided in E. `latest` is S(N), N the next epoch
 * to decide: it holds the validators of N and N+1, the registry and parameters of N. Rebuilt from the
 * stored decided values and resolutions at start (cheap: an epoch that decided nothing is < 1 ms).
 */
export class GovChain {
  private s: EpochState
  private readonly states = new Map<number, EpochState>()
  /** Where the validator set changed: V(e) = the last change point ≤ e (ascending). */
  private readonly sets: Array<{ from: number, set: ValidatorSet }> = []

  /** Told of every new latest state: each decision, and each epoch replayed by `load`. */
  onAdvance?: (s: EpochState) => void

  constructor (readonly net: Network) {
    this.s = genesisState(net)
    this.keep(this.s)
  }

  /** Replays every decided epoch in order. A stored chain that does not follow is corruption: it throws. */
  async load (src: DecidedSource): Promise<void> {
    for await (const d of src.decided()) {
      if (d.value.epoch !== this.s.epoch) throw new Error(`governance chain: stored epoch ${d.value.epoch} follows epoch ${this.s.epoch - 1}`)
      this.advance(followValue(this.s, d.value, d.resolutions).next)
    }
  }

  /** S(N), N the next epoch to decide. */
  get latest (): EpochState { return this.s }

  /** S(E+1) of a decision of E = latest.epoch. */
  advance (next: EpochState): void {
    if (next.epoch !== this.s.epoch + 1) throw new Error(`governance chain: state of epoch ${next.epoch} after epoch ${this.s.epoch}`)
    this.s = next
    this.keep(next)
    this.onAdvance?.(next)
  }

  /**
   * V(E) ∪ V(E+1) of the latest state: the validators this hub lets in and never prunes for a
   * stranger, keeps connected and asks for its own log (one list for all three). A hub added by vote
   * is in it from when it is in V(E+1); one removed, until its last epoch is decided.
   */
  get liveValidators (): string[] { return [...new Set([...this.s.validators.ids, ...this.s.next.ids])] }

  /** S(e) if kept in memory (the latest 64). */
  kept (epoch: number): EpochState | undefined { return this.states.get(epoch) }

  /** The validators of `epoch`: any decided epoch, the next one and the one after; undefined beyond. */
  validatorsAt = (epoch: number): ValidatorSet | undefined => {
    if (epoch >= this.s.epoch) return validatorsAt(this.s, epoch)
    let found: ValidatorSet | undefined
    for (const p of this.sets) {
      if (p.from > epoch) break
      found = p.set
    }
    return found
  }

  /** Whether `hub` is a validator of `epoch` (as far as known). */
  isValidator (hub: string, epoch: number): boolean {
    return this.validatorsAt(epoch)?.byId.has(hub) === true
  }

  private keep (s: EpochState): void {
    this.states.set(s.epoch, s)
    this.states.delete(s.epoch - KEEP_STATES)
    const last = this.sets[this.sets.length - 1]
    if (last === undefined || last.set.hash !== s.validators.hash) this.sets.push({ from: s.epoch, set: s.validators })
  }
}

/** Replays `d` on a copy: the state of `epoch` from genesis (for queries beyond what is kept). */
export async function stateAt (net: Network, epoch: number, src: DecidedSource): Promise<EpochState | undefined> {
  let s = genesisState(net)
  if (epoch === 0) return s
  for await (const d of src.decided()) {
    s = followValue(s, d.value, d.resolutions).next
    if (s.epoch === epoch) return s
  }
  return undefined
}

export type { Decided }
